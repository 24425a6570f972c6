"""The messages ISO 15118-2 and -20 sign, as the XML signature tests build them.

The messages are the ones ISO 15118-2 and -20 carry signatures in, built from XML so
that they read like the standards' examples, with the test PKI's certificates inside
(so that "the signer's certificate travels in the message" is real, not mocked).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from iso15118 import codec
from iso15118.pki.testpki import TestPki

VECTORS = Path(__file__).resolve().parents[1] / "vectors"

ISO2_NS = (
    'xmlns:v2g="urn:iso:15118:2:2013:MsgDef" xmlns:h="urn:iso:15118:2:2013:MsgHeader" '
    'xmlns:b="urn:iso:15118:2:2013:MsgBody" xmlns:t="urn:iso:15118:2:2013:MsgDataTypes" '
    'xmlns:ds="http://www.w3.org/2000/09/xmldsig#"'
)
ISO20_NS = (
    'xmlns:cm="urn:iso:std:iso:15118:-20:CommonMessages" '
    'xmlns:ct="urn:iso:std:iso:15118:-20:CommonTypes" '
    'xmlns:ds="http://www.w3.org/2000/09/xmldsig#"'
)
SESSION = "3C8A2F51D09E47B6"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def der(pki: TestPki, name: str) -> str:
    """Base64 DER of a test PKI certificate, as it appears in a message."""
    return b64(pki.cert(name).public_bytes(serialization.Encoding.DER))


def _chain(pki: TestPki, leaf: str, subs: tuple[str, ...], ns: str) -> str:
    sub = "".join(f"<{ns}:Certificate>{der(pki, s)}</{ns}:Certificate>" for s in subs)
    return (f"<{ns}:Certificate>{der(pki, leaf)}</{ns}:Certificate>"
            f"<{ns}:SubCertificates>{sub}</{ns}:SubCertificates>")


def _root_ids(pki: TestPki, ns: str) -> str:
    root = pki.cert("v2g_root") if "v2g_root" in pki.certificates else next(
        c.certificate for c in pki.certificates.values())
    return (f"<{ns}:ListOfRootCertificateIDs><{ns}:RootCertificateID>"
            f"<ds:X509IssuerName>{root.issuer.rfc4514_string()}</ds:X509IssuerName>"
            f"<ds:X509SerialNumber>{root.serial_number}</ds:X509SerialNumber>"
            f"</{ns}:RootCertificateID></{ns}:ListOfRootCertificateIDs>")


def iso2_message(body: str) -> Any:
    xml = (f"<v2g:V2G_Message {ISO2_NS}><v2g:Header><h:SessionID>{SESSION}</h:SessionID>"
           f"</v2g:Header><v2g:Body>{body}</v2g:Body></v2g:V2G_Message>")
    return codec.from_xml(xml, "iso2")[1]


# Who signs each -2 message (the name of a test PKI leaf) and the message body.
ISO2_SIGNED: dict[str, tuple[str, Callable[[TestPki], str]]] = {
    "AuthorizationReq": ("contract_leaf", lambda p: (
        '<b:AuthorizationReq b:Id="ID1"><b:GenChallenge>h6htNzAK4paaaRXXt1rbvw==</b:GenChallenge>'
        "</b:AuthorizationReq>")),
    "CertificateInstallationReq": ("oem_leaf", lambda p: (
        f'<b:CertificateInstallationReq b:Id="ID1"><b:OEMProvisioningCert>{der(p, "oem_leaf")}'
        f"</b:OEMProvisioningCert>{_root_ids(p, 'b')}</b:CertificateInstallationReq>"
    ).replace("<b:RootCertificateID>", "<t:RootCertificateID>").replace(
        "</b:RootCertificateID>", "</t:RootCertificateID>")),
    "CertificateUpdateReq": ("contract_leaf", lambda p: (
        '<b:CertificateUpdateReq b:Id="ID1"><b:ContractSignatureCertChain>'
        + _chain(p, "contract_leaf", ("mo_sub_ca2", "mo_sub_ca1"), "t")
        + "</b:ContractSignatureCertChain><b:eMAID>DE8AA1A2B3C4D5</b:eMAID>"
        + _root_ids(p, "b").replace("<b:RootCertificateID>", "<t:RootCertificateID>").replace(
            "</b:RootCertificateID>", "</t:RootCertificateID>")
        + "</b:CertificateUpdateReq>")),
    "MeteringReceiptReq": ("contract_leaf", lambda p: (
        f'<b:MeteringReceiptReq b:Id="ID1"><b:SessionID>{SESSION}</b:SessionID>'
        "<b:SAScheduleTupleID>1</b:SAScheduleTupleID><b:MeterInfo><t:MeterID>METER-1</t:MeterID>"
        "<t:MeterReading>12345</t:MeterReading><t:TMeter>1700000000</t:TMeter></b:MeterInfo>"
        "</b:MeteringReceiptReq>")),
    "ChargeParameterDiscoveryRes": ("mo_sub_ca2", lambda p: (
        "<b:ChargeParameterDiscoveryRes><b:ResponseCode>OK</b:ResponseCode>"
        "<b:EVSEProcessing>Finished</b:EVSEProcessing><t:SAScheduleList><t:SAScheduleTuple>"
        "<t:SAScheduleTupleID>1</t:SAScheduleTupleID><t:PMaxSchedule><t:PMaxScheduleEntry>"
        "<t:RelativeTimeInterval><t:start>0</t:start><t:duration>7200</t:duration>"
        "</t:RelativeTimeInterval><t:PMax><t:Multiplier>3</t:Multiplier><t:Unit>W</t:Unit>"
        "<t:Value>11</t:Value></t:PMax></t:PMaxScheduleEntry></t:PMaxSchedule>"
        '<t:SalesTariff t:Id="ST1"><t:SalesTariffID>1</t:SalesTariffID><t:SalesTariffEntry>'
        "<t:RelativeTimeInterval><t:start>0</t:start></t:RelativeTimeInterval>"
        "<t:EPriceLevel>1</t:EPriceLevel></t:SalesTariffEntry></t:SalesTariff>"
        "</t:SAScheduleTuple></t:SAScheduleList><t:AC_EVSEChargeParameter><t:AC_EVSEStatus>"
        "<t:NotificationMaxDelay>0</t:NotificationMaxDelay>"
        "<t:EVSENotification>None</t:EVSENotification><t:RCD>false</t:RCD></t:AC_EVSEStatus>"
        "<t:EVSENominalVoltage><t:Multiplier>0</t:Multiplier><t:Unit>V</t:Unit>"
        "<t:Value>230</t:Value></t:EVSENominalVoltage><t:EVSEMaxCurrent><t:Multiplier>0"
        "</t:Multiplier><t:Unit>A</t:Unit><t:Value>32</t:Value></t:EVSEMaxCurrent>"
        "</t:AC_EVSEChargeParameter></b:ChargeParameterDiscoveryRes>")),
    "CertificateInstallationRes": ("cps_leaf", lambda p: (
        "<b:CertificateInstallationRes><b:ResponseCode>OK</b:ResponseCode>"
        "<b:SAProvisioningCertificateChain>"
        + _chain(p, "cps_leaf", ("cps_sub_ca2", "cps_sub_ca1"), "t")
        + '</b:SAProvisioningCertificateChain><b:ContractSignatureCertChain t:Id="ID1">'
        + _chain(p, "contract_leaf", ("mo_sub_ca2", "mo_sub_ca1"), "t")
        + '</b:ContractSignatureCertChain><b:ContractSignatureEncryptedPrivateKey t:Id="ID2">'
        + b64(bytes(range(48)))
        + '</b:ContractSignatureEncryptedPrivateKey><b:DHpublickey t:Id="ID3">'
        + b64(b"\x04" + bytes(range(64)))
        + '</b:DHpublickey><b:eMAID t:Id="ID4">DE8AA1A2B3C4D5</b:eMAID>'
        "</b:CertificateInstallationRes>")),
}


def iso20_message(xml: str) -> Any:
    return codec.from_xml(xml, "iso20-common")[1]


def _header20() -> str:
    return (f"<ct:Header><ct:SessionID>{SESSION}</ct:SessionID>"
            "<ct:TimeStamp>1700000000</ct:TimeStamp></ct:Header>")


# Who signs each -20 message (leaf name without the _ed448 suffix) and the message.
ISO20_SIGNED: dict[str, tuple[str, Callable[[TestPki, str], str]]] = {
    "AuthorizationReq": ("contract_leaf", lambda p, s: (
        f"<cm:AuthorizationReq {ISO20_NS}>{_header20()}"
        "<cm:SelectedAuthorizationService>PnC</cm:SelectedAuthorizationService>"
        '<cm:PnC_AReqAuthorizationMode cm:Id="ID1"><cm:GenChallenge>h6htNzAK4paaaRXXt1rbvw=='
        "</cm:GenChallenge><cm:ContractCertificateChain>"
        + _chain(p, "contract_leaf" + s, ("mo_sub_ca2" + s, "mo_sub_ca1" + s), "cm")
        + "</cm:ContractCertificateChain></cm:PnC_AReqAuthorizationMode></cm:AuthorizationReq>")),
    "CertificateInstallationReq": ("oem_leaf", lambda p, s: (
        f"<cm:CertificateInstallationReq {ISO20_NS}>{_header20()}"
        '<cm:OEMProvisioningCertificateChain cm:Id="ID1">'
        + _chain(p, "oem_leaf" + s, ("oem_sub_ca2" + s, "oem_sub_ca1" + s), "cm")
        + "</cm:OEMProvisioningCertificateChain>"
        + _root_ids(p, "cm").replace("<cm:RootCertificateID>", "<ct:RootCertificateID>")
        .replace("</cm:RootCertificateID>", "</ct:RootCertificateID>")
        + "<cm:MaximumContractCertificateChains>1</cm:MaximumContractCertificateChains>"
        "</cm:CertificateInstallationReq>")),
    "CertificateInstallationRes": ("cps_leaf", lambda p, s: (
        f"<cm:CertificateInstallationRes {ISO20_NS}>{_header20()}"
        "<ct:ResponseCode>OK</ct:ResponseCode><cm:EVSEProcessing>Finished</cm:EVSEProcessing>"
        "<cm:CPSCertificateChain>"
        + _chain(p, "cps_leaf" + s, ("cps_sub_ca2" + s, "cps_sub_ca1" + s), "cm")
        + '</cm:CPSCertificateChain><cm:SignedInstallationData cm:Id="ID1">'
        "<cm:ContractCertificateChain>"
        + _chain(p, "contract_leaf" + s, ("mo_sub_ca2" + s, "mo_sub_ca1" + s), "cm")
        + "</cm:ContractCertificateChain><cm:ECDHCurve>SECP521</cm:ECDHCurve>"
        f"<cm:DHPublicKey>{b64(bytes(133))}</cm:DHPublicKey>"
        f"<cm:SECP521_EncryptedPrivateKey>{b64(bytes(range(94)))}"
        "</cm:SECP521_EncryptedPrivateKey></cm:SignedInstallationData>"
        "<cm:RemainingContractCertificateChains>0</cm:RemainingContractCertificateChains>"
        "</cm:CertificateInstallationRes>")),
    "MeteringConfirmationReq": ("contract_leaf", lambda p, s: (
        f"<cm:MeteringConfirmationReq {ISO20_NS}>{_header20()}"
        f'<cm:SignedMeteringData cm:Id="ID1"><cm:SessionID>{SESSION}</cm:SessionID>'
        "<cm:MeterInfo><ct:MeterID>METER-1</ct:MeterID>"
        "<ct:ChargedEnergyReadingWh>12345</ct:ChargedEnergyReadingWh></cm:MeterInfo>"
        "<cm:Scheduled_SMDTControlMode><cm:SelectedScheduleTupleID>1"
        "</cm:SelectedScheduleTupleID></cm:Scheduled_SMDTControlMode></cm:SignedMeteringData>"
        "</cm:MeteringConfirmationReq>")),
    "ScheduleExchangeRes": ("secc_leaf", lambda p, s: (
        VECTORS / "oracle_samples" / "iso20-common" / "ScheduleExchangeRes_Scheduled.xml"
    ).read_text()),
}
