"""The model API (0.2): required fields, choices, one class per XSD type, names, comfort.

What an integrator relies on when writing charger or vehicle code against the generated
classes, checked on the classes themselves and through the codec (and, where a reference
exists, against EXIficient's bytes).
"""

from __future__ import annotations

import copy
import pickle
from typing import Any

import pytest

from iso15118 import codec, protocols
from iso15118.errors import MessageDecodeError, MessageEncodeError
from iso15118.messages import (
    din,
    iso2,
    iso20_ac,
    iso20_acdp,
    iso20_common,
    iso20_dc,
    iso20_types,
    iso20_wpt,
    xmldsig,
)
from iso15118.testing.generate import generator_for

ISO20 = {"iso20-common": iso20_common, "iso20-ac": iso20_ac, "iso20-dc": iso20_dc,
         "iso20-wpt": iso20_wpt, "iso20-acdp": iso20_acdp}


def _iso2_message(body: Any) -> iso2.V2G_Message:
    return iso2.V2G_Message(header=iso2.MessageHeaderType(session_id=bytes(8)),
                            body=iso2.BodyType(body_element=body))


def _dc_status() -> iso2.DC_EVStatusType:
    return iso2.DC_EVStatusType(ev_ready=True, ev_error_code=iso2.DC_EVErrorCodeType.NO_ERROR,
                                evress_soc=50)


# ------------------------------------------------------------------ required is required


def test_a_required_field_is_a_required_keyword_argument() -> None:
    with pytest.raises(TypeError, match="dc_ev_status"):
        iso2.CurrentDemandReqType(  # type: ignore[call-arg]
            ev_target_current=iso2.PhysicalValueType.from_number(10, "A"),
            ev_target_voltage=iso2.PhysicalValueType.from_number(400, "V"))
    assert iso2.CurrentDemandReqType._exi_required == (
        "dc_ev_status", "ev_target_current", "charging_complete", "ev_target_voltage")


def test_optional_fields_default_to_none_and_lists_to_empty() -> None:
    res = iso2.SessionSetupResType(response_code=iso2.ResponseCodeType.OK,
                                   evse_id="DE*ABC*E1")
    assert res.evse_time_stamp is None
    options = iso2.PaymentOptionListType(payment_option=[iso2.PaymentOptionType.ExternalPayment])
    assert options.payment_option == [iso2.PaymentOptionType.ExternalPayment]
    assert xmldsig.SignedInfoType(
        canonicalization_method=xmldsig.CanonicalizationMethodType(algorithm="urn:x"),
        signature_method=xmldsig.SignatureMethodType(algorithm="urn:y"),
        reference=[]).reference == []


def test_a_stream_without_a_required_field_decodes_non_strict_and_refuses_to_encode() -> None:
    # Scheduled_DC_CLReqControlMode with none of its required children
    element, value = codec.decode_element(bytes.fromhex("809600"), "iso20-dc")
    assert isinstance(value, iso20_dc.Scheduled_DC_CLReqControlModeType)
    assert value.ev_target_current is None  # typed without None: what non-strict means
    with pytest.raises(MessageDecodeError):
        codec.decode_element(bytes.fromhex("809600"), "iso20-dc", strict=True)
    with pytest.raises(MessageEncodeError, match="missing"):
        codec.encode(value, "iso20-dc", element=element)


def test_construct_skips_the_required_check_and_encoding_names_the_missing_field() -> None:
    req = iso2.CurrentDemandReqType.construct(dc_ev_status=_dc_status())
    assert req.ev_target_current is None and req.ev_maximum_power_limit is None
    with pytest.raises(MessageEncodeError) as e:
        codec.encode(_iso2_message(req), "iso2")
    assert "EVTargetCurrent" in str(e.value) and "CurrentDemandReq" in (e.value.path or "")
    with pytest.raises(TypeError, match="no field"):
        iso2.CurrentDemandReqType.construct(nonsense=1)


# ------------------------------------------------------------------ choices


def _header20() -> iso20_types.MessageHeaderType:
    return iso20_types.MessageHeaderType(session_id=bytes.fromhex("0102030405060708"),
                                         time_stamp=1_700_000_000)


def test_a_choice_takes_exactly_one_branch() -> None:
    auth = iso20_common.AuthorizationType.EIM
    with pytest.raises(TypeError, match="exactly one of eim_a_req_authorization_mode"):
        iso20_common.AuthorizationReqType(header=_header20(),  # type: ignore[call-overload]
                                          selected_authorization_service=auth)
    with pytest.raises(TypeError, match="exactly one"):
        iso20_common.AuthorizationReqType(  # type: ignore[call-overload]
            header=_header20(), selected_authorization_service=auth,
            eim_a_req_authorization_mode=iso20_common.EIM_AReqAuthorizationModeType(),
            pnc_a_req_authorization_mode=iso20_common.PnC_AReqAuthorizationModeType(
                id="a", gen_challenge=bytes(16),
                contract_certificate_chain=iso20_common.ContractCertificateChainType(
                    certificate=b"x", sub_certificates=iso20_common.SubCertificatesType(
                        certificate=[b"y"]))))
    req = iso20_common.AuthorizationReqType(
        header=_header20(), selected_authorization_service=auth,
        eim_a_req_authorization_mode=iso20_common.EIM_AReqAuthorizationModeType())
    data = codec.encode(req, "iso20-common")
    assert codec.decode(data, "iso20-common") == req


def test_an_optional_choice_takes_at_most_one_branch() -> None:
    # ChargingScheduleType: AbsolutePriceSchedule | PriceLevelSchedule, both optional
    assert "power_schedule" in iso20_common.ChargingScheduleType.__slots__
    with pytest.raises(TypeError, match="at most one"):
        iso20_common.ChargingScheduleType(  # type: ignore[call-overload]
            power_schedule=iso20_common.PowerScheduleType(
                time_anchor=0, power_schedule_entries=iso20_common.PowerScheduleEntryListType(
                    power_schedule_entry=[])),
            absolute_price_schedule=iso20_common.AbsolutePriceScheduleType.construct(),
            price_level_schedule=iso20_common.PriceLevelScheduleType.construct())


# ------------------------------------------------------------------ one class per XSD type


def test_the_minus_20_common_types_are_one_class_in_every_namespace() -> None:
    for module in ISO20.values():
        assert module.MessageHeaderType is iso20_types.MessageHeaderType
        assert module.RationalNumberType is iso20_types.RationalNumberType
        assert module.ResponseCodeType is iso20_types.ResponseCodeType
        assert module.SignatureType is xmldsig.SignatureType
    assert iso20_dc.MessageHeaderType is iso20_ac.MessageHeaderType


def test_the_xmldsig_types_are_one_class_in_din_iso2_and_minus_20() -> None:
    for module in (din, iso2, iso20_common, iso20_dc):
        assert module.SignatureType is xmldsig.SignatureType
        assert module.SignedInfoType is xmldsig.SignedInfoType


def _message_with_header(protocol: str) -> tuple[str, Any]:
    gen = generator_for(protocol)
    for job in gen.jobs:
        doc = gen.generate(job, seed=7, profile="minimal")
        if hasattr(doc.value, "header"):
            return doc.element, doc.value
    raise AssertionError(f"no message with a header in {protocol}")


@pytest.mark.oracle
def test_one_header_object_encodes_in_all_five_namespaces_as_the_reference(oracle: Any) -> None:
    header = _header20()
    for protocol in ISO20:
        element, msg = _message_with_header(protocol)
        msg.header = header
        ours = codec.encode(msg, protocol, element=element)
        ref = oracle.encode_xml(protocol, codec.to_xml(msg, protocol, element=element))
        assert ours == ref, protocol
        assert codec.decode(ours, protocol).header == header


def test_the_codec_refuses_a_class_of_another_schema() -> None:
    # an ISO-2 PhysicalValue where DIN wants its own (a different XSD type)
    din_status = din.DC_EVStatusType(ev_ready=True, ev_error_code=din.DC_EVErrorCodeType.NO_ERROR,
                                     evress_soc=50)
    req = din.CurrentDemandReqType(
        dc_ev_status=din_status, ev_target_current=iso2.PhysicalValueType.from_number(10, "A"),
        ev_target_voltage=din.PhysicalValueType.from_number(400, "V"),
        charging_complete=False)
    msg = din.V2G_Message(header=din.MessageHeaderType(session_id=bytes(8)),
                          body=din.BodyType(body_element=req))
    with pytest.raises(MessageEncodeError, match="PhysicalValueType is not a PhysicalValueType"):
        codec.encode(msg, "din")


# ------------------------------------------------------------------ names


@pytest.mark.parametrize(("cls", "name"), [
    (iso2.SessionSetupReqType, "evcc_id"),
    (iso2.SessionSetupResType, "evse_id"),
    (din.SessionSetupResType, "evse_id"),
    (iso2.CurrentDemandReqType, "remaining_time_to_full_soc"),
    (iso2.CurrentDemandReqType, "remaining_time_to_bulk_soc"),
    (iso2.CurrentDemandReqType, "dc_ev_status"),
    (iso2.DC_EVStatusType, "evress_soc"),
    (iso2.SAScheduleListType, "sa_schedule_tuple"),
    (iso2.ChargeParameterDiscoveryResType, "sa_schedules"),
    (iso2.CertificateInstallationReqType, "list_of_root_certificate_ids"),
    (iso20_common.AuthorizationReqType, "pnc_a_req_authorization_mode"),
    (iso20_types.ListOfRootCertificateIDsType, "root_certificate_id"),
    (iso20_dc.DC_ChargeParameterDiscoveryReqType, "dc_cpd_req_energy_transfer_mode"),
    (iso2.EMAIDType, "id"),
    (xmldsig.ReferenceType, "type"),
])
def test_names_keep_acronyms_whole(cls: type, name: str) -> None:
    assert name in cls.__slots__


def test_xsd_names_stay_for_xml_and_json() -> None:
    msg = _iso2_message(iso2.SessionSetupReqType(evcc_id=bytes.fromhex("0A1B2C3D4E5F")))
    assert "<ns0:EVCCID>0A1B2C3D4E5F</ns0:EVCCID>" in codec.to_xml(msg, "iso2").replace(
        'xmlns:ns0="urn:iso:15118:2:2013:MsgBody" ', "")
    assert '"EVCCID": "0A1B2C3D4E5F"' in codec.to_json(msg, "iso2")


# ------------------------------------------------------------------ comfort


def test_repr_shows_only_the_set_fields() -> None:
    res = iso2.SessionSetupResType(response_code=iso2.ResponseCodeType.OK, evse_id="E1")
    assert repr(res) == ("SessionSetupResType(response_code=<ResponseCodeType.OK: 'OK'>, "
                         "evse_id='E1')")


def test_match_statements_work_on_fields_and_positions() -> None:
    pv = iso2.PhysicalValueType.from_number(400.5, "V")
    match pv:
        case iso2.PhysicalValueType(multiplier, iso2.UnitSymbolType.V, value):
            assert (multiplier, value) == (-1, 4005)
        case _:
            raise AssertionError("no match")
    match _iso2_message(iso2.SessionSetupReqType(evcc_id=b"\x01")).body.body_element:
        case iso2.SessionSetupReqType(evcc_id=ident):
            assert ident == b"\x01"
        case _:
            raise AssertionError("no match")


def test_replace_copies_with_changes_and_refuses_unknown_fields() -> None:
    res = iso2.SessionSetupResType(response_code=iso2.ResponseCodeType.OK, evse_id="E1")
    other = res.replace(evse_id="E2")
    assert other.evse_id == "E2" and res.evse_id == "E1"
    assert other.response_code is res.response_code
    # what copy.replace() calls on 3.13; called directly so the test runs on 3.10+
    assert res.__replace__(evse_id="E3").evse_id == "E3"
    if hasattr(copy, "replace"):
        assert copy.replace(res, evse_id="E4").evse_id == "E4"
    with pytest.raises(TypeError, match="no field"):
        res.replace(evseid="x")


@pytest.mark.parametrize("protocol", list(protocols.PROTOCOLS))
def test_every_message_pickles_and_compares_equal(protocol: str) -> None:
    gen = generator_for(protocol)
    count = 0
    for job in gen.jobs:
        doc = gen.generate(job, seed=3, profile="full")
        again = pickle.loads(pickle.dumps(doc.value))
        assert again == doc.value and type(again) is type(doc.value)
        assert codec.encode(again, protocol, element=doc.element) == codec.encode(
            doc.value, protocol, element=doc.element)
        count += 1
    assert count == len(gen.jobs)
