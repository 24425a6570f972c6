"""OCPP 2.0.1 / 2.1 bridge: pure functions between ISO 15118 messages and OCPP JSON.

Every function takes or returns OCPP payloads as plain dicts with the OCA schemas'
camelCase keys, and ISO 15118 data as this library's typed messages or session values;
none does I/O. Consumed payloads are validated against the OCA JSON schema of their
version first (:func:`validate`, which needs the optional ``ocpp`` package for the
schema files); produced ones are built to validate (the tests check each).

==================================  ======================================  ===========
ISO 15118 side                      OCPP message                            use case
==================================  ======================================  ===========
CertificateInstallationReq/UpdateReq Get15118EVCertificate                  M01/M02
contract chain                      Authorize (hash data / PEM), C07 table  C07
contract chain                      GetCertificateStatus                    M06
ChargeParameterDiscovery (+ -20)    NotifyEVChargingNeeds                   K15, K18/Q
SAScheduleList / ScheduleTuples     SetChargingProfile                      K15-K17, K18-K20, K28
-20 dynamic target power / limits   UpdateDynamicSchedule,                  K (2.1)
                                    PullDynamicScheduleUpdate
PowerDeliveryReq profile            NotifyEVChargingSchedule                K15/K17, K18
MeteringReceipt / -Confirmation     TransactionEvent meterValue             J
SECC certificate, V2G / MO roots    SignCertificate, CertificateSigned,     A02/A03,
                                    Install-/Delete-/GetInstalledCertificate M03-M05
==================================  ======================================  ===========
"""

from iso15118.ocpp.authorize import (
    C07_CERTIFICATE_STATUS,
    PENDING,
    AuthorizationDecision,
    authorization_decision,
    authorize_request,
    certificate_hash_data,
)
from iso15118.ocpp.certificates import (
    ISO2_SCHEMA_VERSION,
    ISO20_SCHEMA_VERSION,
    EVCertificateResponse,
    ev_certificate_response,
    get_15118_ev_certificate_request,
    get_certificate_status_request,
    ocsp_response_from,
)
from iso15118.ocpp.charging_needs import (
    charging_needs_din,
    charging_needs_iso2,
    charging_needs_iso20,
)
from iso15118.ocpp.dynamic_control import (
    DynamicTarget,
    apply_schedule_update,
    dynamic_target,
    pull_due,
    pull_dynamic_schedule_update_request,
    read_pull_dynamic_schedule_update_response,
    read_update_dynamic_schedule,
)
from iso15118.ocpp.errors import (
    OcppConversionError,
    OcppError,
    OcppPayloadError,
    OcppSchemasUnavailable,
)
from iso15118.ocpp.ev_schedule import ev_charging_schedule_iso2, ev_charging_schedule_iso20
from iso15118.ocpp.metering import (
    connected_ev_report,
    iso15118_ctrlr_report,
    meter_value_iso2,
    meter_value_iso20,
)
from iso15118.ocpp.prices import absolute_price_schedule_from, absolute_price_schedule_to_json
from iso15118.ocpp.schemas import V21, V201, validate
from iso15118.ocpp.smart_charging import (
    ElectricalBasis,
    dynamic_setpoint,
    schedules_from_profiles,
    schedules_from_set_charging_profile,
    tuple_ids,
)
from iso15118.ocpp.station_certs import (
    CertificateSigned,
    TrustStore,
    certificate_signed,
    load_secc_certificate,
    sign_certificate_request,
)

__all__ = [
    "C07_CERTIFICATE_STATUS",
    "ISO2_SCHEMA_VERSION",
    "ISO20_SCHEMA_VERSION",
    "PENDING",
    "V201",
    "V21",
    "AuthorizationDecision",
    "DynamicTarget",
    "CertificateSigned",
    "EVCertificateResponse",
    "ElectricalBasis",
    "OcppConversionError",
    "OcppError",
    "OcppPayloadError",
    "OcppSchemasUnavailable",
    "TrustStore",
    "absolute_price_schedule_from",
    "apply_schedule_update",
    "absolute_price_schedule_to_json",
    "authorization_decision",
    "authorize_request",
    "certificate_hash_data",
    "certificate_signed",
    "charging_needs_din",
    "charging_needs_iso2",
    "charging_needs_iso20",
    "connected_ev_report",
    "dynamic_setpoint",
    "dynamic_target",
    "ev_certificate_response",
    "ev_charging_schedule_iso2",
    "ev_charging_schedule_iso20",
    "get_15118_ev_certificate_request",
    "get_certificate_status_request",
    "iso15118_ctrlr_report",
    "load_secc_certificate",
    "meter_value_iso2",
    "meter_value_iso20",
    "ocsp_response_from",
    "pull_due",
    "pull_dynamic_schedule_update_request",
    "read_pull_dynamic_schedule_update_response",
    "read_update_dynamic_schedule",
    "schedules_from_profiles",
    "schedules_from_set_charging_profile",
    "sign_certificate_request",
    "tuple_ids",
    "validate",
]
