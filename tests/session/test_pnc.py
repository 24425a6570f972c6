"""Plug & Charge (ISO 15118-2) sessions on the virtual clock, with a real test PKI.

An SECC with :class:`SeccPnc` (the test PKI's MO root, CPS chain and MO sub-CA) runs
against an EVCC with :class:`EvccPnc` through ``run_pair``; every assertion is on what went
over the wire (the payloads each side sent, decoded again, signatures checked with the
certificates from the PKI's files) or on how the session ended. No crypto is mocked.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from iso15118 import codec, xmldsig
from iso15118.messages import iso2
from iso15118.pki import (
    Role,
    decrypt_contract_key_iso2,
    load_certificate,
    load_private_key,
    validate_chain,
)
from iso15118.session import (
    EvccConfig,
    EvccSession,
    EVSEState,
    EVState,
    Outcome,
    Payment,
    SeccConfig,
    SeccSession,
)
from iso15118.session.events import (
    CertificateInstallationRequested,
    MessageReceived,
    MessageSent,
    MeteringReceiptReceived,
    TimerExpired,
)
from iso15118.session.pair import PairResult, run_pair
from iso15118.session.pnc import EvccPnc, SeccPnc, response_parts
from iso15118.session.simulation import ChargerBehaviour, SimulatedCharger, SimulatedVehicle

#: the SECC's wall clock, pinned (EVSETimeStamp and certificate checks read it)
NOW = float(int(time.time()))
ISO2_NAMESPACE = "urn:iso:15118:2:2013:MsgDef"


def der(pki: Path, name: str) -> bytes:
    index = json.loads((pki / "index.json").read_text())
    return (pki / index["certificates"][name]["der"]).read_bytes()


def key(pki: Path, name: str) -> Any:
    index = json.loads((pki / "index.json").read_text())
    return load_private_key((pki / index["certificates"][name]["key"]).read_bytes())


def copy_of(pki: Path, tmp_path: Path) -> Path:
    """A vehicle's own copy of the PKI directory (installing a contract writes to it)."""
    return Path(shutil.copytree(pki, tmp_path / "vehicle"))


@dataclass
class Wire:
    """What both sides sent, as decoded from the payloads that went over the wire."""

    result: PairResult
    secc: SeccSession
    evcc: EvccSession
    sent: list[tuple[str, Any]]  # (sender, decoded iso2 V2G_Message), in sending order

    def names(self) -> list[str]:
        return [_name(m) for _, m in self.sent]

    def message(self, name: str, nth: int = 0) -> Any:
        return [m for _, m in self.sent if _name(m) == name][nth]

    def body(self, name: str, nth: int = 0) -> Any:
        return self.message(name, nth).body.body_element

    def all(self, name: str) -> list[Any]:
        return [m for _, m in self.sent if _name(m) == name]

    def time(self, side: str, kind: type, name: str) -> float:
        events = self.result.secc_events if side == "secc" else self.result.evcc_events
        return next(e.time for e in events if isinstance(e, kind) and e.name == name)


def _name(message: Any) -> str:
    return type(message.body.body_element).__name__.removesuffix("Type")


def pnc_session(secc_pnc: SeccPnc, evcc_pnc: EvccPnc, *, tls: bool = True,
                evse: EVSEState | None = None,
                response_hook: Callable[[str, Any, Any], Any] | None = None,
                request_hook: Callable[[str, Any], Any] | None = None,
                secc_class: Callable[..., SeccSession] = SeccSession) -> Wire:
    """A DC session of a PnC vehicle at a charger offering EIM and PnC."""
    evse = evse or EVSEState(payment_options=(Payment.EIM, Payment.PNC))
    charger = SimulatedCharger(evse, ChargerBehaviour(cable_check_s=0.5))
    config = charger.behaviour.session_config(SeccConfig(pnc=secc_pnc,
                                                         response_hook=response_hook))
    secc = secc_class(evse, config, tls=tls)
    charger.attach(secc)
    ev = EVState(payment=Payment.PNC)
    vehicle = SimulatedVehicle(ev)
    evcc = EvccSession(ev, EvccConfig(protocols=("iso2",), loops=3, pnc=evcc_pnc,
                                      request_hook=request_hook), tls=tls)
    vehicle.attach(evcc)
    payloads: list[tuple[str, bytes]] = []

    def record(side: str, out: Any) -> bool:
        payloads.append((side, out.payload))
        return False

    result = run_pair(secc, evcc, on_secc=charger.on_event, on_evcc=vehicle.on_event,
                      drop=record)
    sent, first = [], {"secc", "evcc"}
    for side, payload in payloads:
        if side in first:  # each side's first message is supportedAppProtocol
            first.discard(side)
            continue
        sent.append((side, codec.decode(payload, "iso2")))
    return Wire(result, secc, evcc, sent)


def completed(wire: Wire) -> bool:
    return (wire.secc.ended is not None and wire.secc.ended.outcome is Outcome.COMPLETED
            and wire.evcc.ended is not None and wire.evcc.ended.outcome is Outcome.COMPLETED)


def failed_with(wire: Wire, code: str) -> bool:
    return all(s.ended is not None and s.ended.outcome is Outcome.FAILED
               and s.ended.response_code == code for s in (wire.secc, wire.evcc))


def requests(wire: Wire) -> list[str]:
    return [n for n in wire.names() if n.endswith("Req")]


def secc_pnc(pki: Path, clock: float = NOW) -> SeccPnc:
    return SeccPnc.from_test_pki(pki, clock=lambda: clock)


# ------------------------------------------------------------------ whole sessions


def test_dc_session_with_a_contract_is_authorized_by_its_signed_challenge(pki: Path) -> None:
    wire = pnc_session(secc_pnc(pki), EvccPnc.from_test_pki(pki))
    assert completed(wire)
    assert requests(wire)[:6] == ["SessionSetupReq", "ServiceDiscoveryReq",
                                  "PaymentServiceSelectionReq", "PaymentDetailsReq",
                                  "AuthorizationReq", "ChargeParameterDiscoveryReq"]
    assert iso2.PaymentOptionType.Contract in \
        wire.body("ServiceDiscoveryRes").payment_option_list.payment_option
    assert wire.body("PaymentServiceSelectionReq").selected_payment_option is \
        iso2.PaymentOptionType.Contract
    details = wire.body("PaymentDetailsReq")
    leaf = der(pki, "contract_leaf")
    assert details.contract_signature_cert_chain.certificate == leaf
    assert details.contract_signature_cert_chain.sub_certificates.certificate == [
        der(pki, "mo_sub_ca2"), der(pki, "mo_sub_ca1")]
    assert details.emaid == load_certificate(leaf).subject.get_attributes_for_oid(
        x509.NameOID.COMMON_NAME)[0].value
    answer = wire.body("PaymentDetailsRes")
    assert answer.response_code is iso2.ResponseCodeType.OK
    assert len(answer.gen_challenge) == 16 and answer.evse_time_stamp == int(NOW)
    auth = wire.message("AuthorizationReq")
    assert auth.body.body_element.gen_challenge == answer.gen_challenge
    assert xmldsig.verify(auth, load_certificate(leaf)).covers("AuthorizationReq")
    assert wire.body("AuthorizationRes").response_code is iso2.ResponseCodeType.OK


def test_certificate_installation_gives_the_contract_the_session_goes_on_with(
        pki: Path, tmp_path: Path) -> None:
    vehicle_dir = copy_of(pki, tmp_path)
    wire = pnc_session(secc_pnc(pki), EvccPnc.from_test_pki(vehicle_dir, contract=False))
    assert completed(wire)
    assert requests(wire)[2:6] == ["PaymentServiceSelectionReq", "CertificateInstallationReq",
                                   "PaymentDetailsReq", "AuthorizationReq"]
    # the request: the OEM provisioning certificate signs it, the V2G root is listed
    request = wire.message("CertificateInstallationReq")
    oem = der(pki, "oem_leaf")
    assert request.body.body_element.oem_provisioning_cert == oem
    assert xmldsig.verify(request, load_certificate(oem)).covers("CertificateInstallationReq")
    listed = request.body.body_element.list_of_root_certificate_ids.root_certificate_id
    assert [r.x509_serial_number for r in listed] == [
        load_certificate(der(pki, "v2g_root")).serial_number]
    # the response: the CPS chain, its signature over the four fragments, a contract for
    # this vehicle's OEM key under the MO root
    response = wire.message("CertificateInstallationRes")
    res = response.body.body_element
    assert res.response_code is iso2.ResponseCodeType.OK
    assert res.sa_provisioning_certificate_chain.certificate == der(pki, "cps_leaf")
    verified = xmldsig.verify(response, load_certificate(der(pki, "cps_leaf")))
    assert all(verified.covers(p) for p in ("ContractSignatureCertChain", "DHpublickey",
                                            "ContractSignatureEncryptedPrivateKey", "eMAID"))
    contract = load_certificate(res.contract_signature_cert_chain.certificate)
    subs = [load_certificate(c) for c in res.contract_signature_cert_chain.sub_certificates
            .certificate]
    roots = [load_certificate(der(pki, "mo_root"))]
    assert validate_chain(contract, subs, roots, role=Role.CONTRACT).valid
    decrypt_contract_key_iso2(res.contract_signature_encrypted_private_key.value,
                              res.dh_public_key.value, key(pki, "oem_leaf"), contract)
    # the session goes on with it: PaymentDetails shows it, Authorization is signed by it
    details = wire.body("PaymentDetailsReq")
    assert details.contract_signature_cert_chain.certificate == \
        res.contract_signature_cert_chain.certificate
    assert details.emaid == res.emaid.value
    assert xmldsig.verify(wire.message("AuthorizationReq"), contract).covers("AuthorizationReq")
    # the SECC handed the request to its application as a backend would get it
    asked = [e for e in wire.result.secc_events if isinstance(e, CertificateInstallationRequested)]
    assert [(e.action, e.namespace) for e in asked] == [("Install", ISO2_NAMESPACE)]
    relayed = codec.decode(asked[0].exi, "iso2").body.body_element
    assert relayed.oem_provisioning_cert == oem
    # and the vehicle kept it
    assert EvccPnc.from_test_pki(vehicle_dir).contract_chain[0] == contract.public_bytes(
        serialization.Encoding.DER)


def test_the_backend_gets_the_installation_request_as_the_vehicle_sent_it(
        pki: Path, tmp_path: Path) -> None:
    """OCPP's Get15118EVCertificate relays the vehicle's EXI (exiRequest): a vehicle whose
    encoder writes the same message in other bytes (here a trailing byte, which decoding
    tolerates) must reach the backend with those bytes, not with our re-encoding."""
    received: list[bytes] = []

    class Receiving(SeccSession):
        def receive(self, payload_type: int, payload: bytes, now: float) -> Any:
            try:
                body = codec.decode(payload, "iso2").body.body_element
            except Exception:  # noqa: BLE001 - the handshake, not an iso2 message
                body = None
            if type(body).__name__ == "CertificateInstallationReqType":
                payload += b"\x00"
                received.append(payload)
            return super().receive(payload_type, payload, now)

    wire = pnc_session(secc_pnc(pki), EvccPnc.from_test_pki(copy_of(pki, tmp_path),
                                                            contract=False),
                       secc_class=Receiving)
    assert completed(wire)
    [asked] = [e for e in wire.result.secc_events
               if isinstance(e, CertificateInstallationRequested)]
    assert len(received) == 1 and asked.exi == received[0]
    assert asked.exi != codec.encode(codec.decode(asked.exi, "iso2"), "iso2")


def test_certificate_update_replaces_a_contract_that_expires_soon(
        pki: Path, tmp_path: Path) -> None:
    vehicle = EvccPnc.from_test_pki(copy_of(pki, tmp_path))
    vehicle.update_within_days = 3 * 365  # the test contract lives two years
    wire = pnc_session(secc_pnc(pki), vehicle)
    assert completed(wire)
    assert requests(wire)[2:6] == ["PaymentServiceSelectionReq", "CertificateUpdateReq",
                                   "PaymentDetailsReq", "AuthorizationReq"]
    old = der(pki, "contract_leaf")
    request = wire.message("CertificateUpdateReq")
    assert request.body.body_element.contract_signature_cert_chain.certificate == old
    assert xmldsig.verify(request, load_certificate(old)).covers("CertificateUpdateReq")
    res = wire.body("CertificateUpdateRes")
    assert res.response_code is iso2.ResponseCodeType.OK
    new = load_certificate(res.contract_signature_cert_chain.certificate)
    assert res.contract_signature_cert_chain.certificate != old
    assert res.emaid.value == request.body.body_element.emaid  # same contract, new key
    # encrypted for the old contract key (an update), not the OEM key
    decrypt_contract_key_iso2(res.contract_signature_encrypted_private_key.value,
                              res.dh_public_key.value, key(pki, "contract_leaf"), new)
    assert wire.body("PaymentDetailsReq").contract_signature_cert_chain.certificate == \
        res.contract_signature_cert_chain.certificate
    assert xmldsig.verify(wire.message("AuthorizationReq"), new).covers("AuthorizationReq")


def test_metering_receipts_are_signed_with_the_contract_key(pki: Path) -> None:
    evse = EVSEState(payment_options=(Payment.EIM, Payment.PNC), receipt_required=True)
    wire = pnc_session(secc_pnc(pki), EvccPnc.from_test_pki(pki), evse=evse)
    assert completed(wire)
    demand = wire.body("CurrentDemandRes")
    assert demand.receipt_required is True and demand.meter_info.meter_id == "SIM-METER-1"
    receipts = wire.all("MeteringReceiptReq")
    assert len(receipts) == 3  # one per charge-loop turn
    leaf = load_certificate(der(pki, "contract_leaf"))
    for receipt in receipts:
        body = receipt.body.body_element
        assert body.session_id == receipt.header.session_id == wire.secc.session_id
        assert body.meter_info.meter_id == "SIM-METER-1"
        assert xmldsig.verify(receipt, leaf).covers("MeteringReceiptReq")
    assert {r.body.body_element.response_code for r in wire.all("MeteringReceiptRes")} == {
        iso2.ResponseCodeType.OK}
    assert [e.signed for e in wire.result.secc_events
            if isinstance(e, MeteringReceiptReceived)] == [True, True, True]


# ------------------------------------------------------------------ TLS only


def test_pnc_is_not_offered_without_tls(pki: Path) -> None:
    wire = pnc_session(secc_pnc(pki), EvccPnc.from_test_pki(pki), tls=False)
    assert wire.body("ServiceDiscoveryRes").payment_option_list.payment_option == [
        iso2.PaymentOptionType.ExternalPayment]
    assert wire.body("PaymentServiceSelectionReq").selected_payment_option is \
        iso2.PaymentOptionType.ExternalPayment
    assert "PaymentDetailsReq" not in wire.names()
    assert completed(wire)


def test_contract_payment_selected_over_plain_tcp_is_refused(pki: Path) -> None:
    def insist(name: str, body: Any) -> Any:
        if name == "PaymentServiceSelection":
            body.selected_payment_option = iso2.PaymentOptionType.Contract
        return body

    wire = pnc_session(secc_pnc(pki), EvccPnc.from_test_pki(pki), tls=False,
                       request_hook=insist)
    assert wire.body("PaymentServiceSelectionRes").response_code is \
        iso2.ResponseCodeType.FAILED_PaymentSelectionInvalid
    assert failed_with(wire, "FAILED_PaymentSelectionInvalid")


# ------------------------------------------------------------------ refusals


def _tamper_challenge(name: str, body: Any) -> Any:
    if name == "Authorization":
        body.gen_challenge = bytes(16)  # after the EVCC signed it
    return body


@pytest.mark.parametrize("case", ["key not the contract's", "request changed after signing",
                                  "installation not signed by the OEM key"])
def test_a_bad_signature_is_answered_failed_signature_error(pki: Path, case: str) -> None:
    vehicle = EvccPnc.from_test_pki(pki, contract=case != "installation not signed by the "
                                    "OEM key")
    hook = None
    response = "AuthorizationRes"
    if case == "key not the contract's":
        vehicle.contract_key = key(pki, "oem_leaf")
    elif case == "request changed after signing":
        hook = _tamper_challenge
    else:
        vehicle.oem_key = key(pki, "contract_leaf")
        response = "CertificateInstallationRes"
    wire = pnc_session(secc_pnc(pki), vehicle, request_hook=hook)
    assert wire.body(response).response_code is iso2.ResponseCodeType.FAILED_SignatureError
    assert wire.names()[-1] == response
    assert failed_with(wire, "FAILED_SignatureError")


def test_a_signed_but_wrong_challenge_is_answered_failed_challenge_invalid(pki: Path) -> None:
    def stale_challenge(step: str, request: Any, body: Any) -> Any:
        if step == "PaymentDetails":
            body.gen_challenge = bytes(16)  # not the challenge the SECC keeps
        return body

    wire = pnc_session(secc_pnc(pki), EvccPnc.from_test_pki(pki), response_hook=stale_challenge)
    auth = wire.message("AuthorizationReq")
    assert auth.body.body_element.gen_challenge == bytes(16)
    assert xmldsig.verify(auth, load_certificate(der(pki, "contract_leaf")))
    assert wire.body("AuthorizationRes").response_code is \
        iso2.ResponseCodeType.FAILED_ChallengeInvalid
    assert failed_with(wire, "FAILED_ChallengeInvalid")


def _revoked(pki: Path, name: str, issuer: str) -> bytes:
    """An OCSP response of the issuing sub-CA saying ``name`` is revoked."""
    at = dt.datetime.fromtimestamp(NOW, dt.timezone.utc)
    issuer_cert = load_certificate(der(pki, issuer))
    builder = ocsp.OCSPResponseBuilder().add_response(
        cert=load_certificate(der(pki, name)), issuer=issuer_cert, algorithm=hashes.SHA256(),
        cert_status=ocsp.OCSPCertStatus.REVOKED, this_update=at - dt.timedelta(minutes=1),
        next_update=at + dt.timedelta(days=1), revocation_time=at - dt.timedelta(hours=1),
        revocation_reason=x509.ReasonFlags.key_compromise,
    ).responder_id(ocsp.OCSPResponderEncoding.HASH, issuer_cert)
    return builder.sign(key(pki, issuer), hashes.SHA256()).public_bytes(
        serialization.Encoding.DER)


@pytest.mark.parametrize("case, code", [
    ("expired", "FAILED_CertificateExpired"),
    ("untrusted root", "FAILED_CertChainError"),
    ("revoked", "FAILED_CertificateRevoked"),
])
def test_a_contract_chain_that_is_not_good_is_refused_at_payment_details(
        pki: Path, case: str, code: str) -> None:
    charger = secc_pnc(pki)
    vehicle = EvccPnc.from_test_pki(pki)
    if case == "expired":  # the charger's clock three years on: the two-year contract is over
        charger = secc_pnc(pki, NOW + 3 * 365 * 86400)
    elif case == "untrusted root":  # broken/untrusted_root: a chain under a rogue root
        vehicle.contract_chain = tuple(der(pki, n) for n in (
            "rogue_leaf", "rogue_sub_ca2", "rogue_sub_ca1"))
        vehicle.contract_key = key(pki, "rogue_leaf")
    else:
        revoked = _revoked(pki, "contract_leaf", "mo_sub_ca2")
        charger.ocsp = lambda chain: [revoked]
    wire = pnc_session(charger, vehicle)
    assert wire.body("PaymentDetailsRes").response_code is iso2.ResponseCodeType(code)
    assert "AuthorizationReq" not in wire.names()
    assert failed_with(wire, code)


@pytest.mark.parametrize("case, reason", [
    ("changed after the CPS signed it", "does not match"),
    ("CPS chain under a root the EV does not trust", "CPS chain is not valid"),
])
def test_the_ev_installs_no_contract_from_a_response_it_cannot_trust(
        pki: Path, tmp_path: Path, case: str, reason: str) -> None:
    vehicle = EvccPnc.from_test_pki(copy_of(pki, tmp_path), contract=False)
    hook = None
    if case == "changed after the CPS signed it":
        def hook(step: str, request: Any, body: Any) -> Any:
            if step == "CertificateInstallation":
                body.emaid.value = "DE8AA000000000"
            return body
    else:
        vehicle.v2g_roots = (load_certificate(der(pki, "mo_root")),)
    wire = pnc_session(secc_pnc(pki), vehicle, response_hook=hook)
    assert wire.names()[-1] == "CertificateInstallationRes"
    assert wire.body("CertificateInstallationRes").response_code is iso2.ResponseCodeType.OK
    assert wire.evcc.ended is not None and wire.evcc.ended.outcome is Outcome.FAILED
    assert reason in wire.evcc.ended.reason
    assert vehicle.contract_chain == () and not (tmp_path / "vehicle" / "ev_contract").exists()


# ------------------------------------------------------------------ deferred backend


class AnsweringLater(SeccSession):
    """A charger application with a backend round trip (OCPP's Get15118EVCertificate):
    it hands the request EXI of CertificateInstallationRequested to ``backend`` and answers
    through ``complete()`` ``delay`` seconds later."""

    backend: Callable[[bytes, Any], Any]
    delay = 1.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.asked: tuple[float, bytes] | None = None

    @property
    def deadline(self) -> float | None:
        due = super().deadline
        if self.asked is not None and self.ended is None:
            due = self.asked[0] if due is None else min(due, self.asked[0])
        return due

    def receive(self, payload_type: int, payload: bytes, now: float) -> Any:
        step = super().receive(payload_type, payload, now)
        for event in step.events:
            if isinstance(event, CertificateInstallationRequested):
                self.asked = (now + self.delay, event.exi)
        step.deadline = self.deadline
        return step

    def tick(self, now: float) -> Any:
        if self.asked is not None and now >= self.asked[0]:
            exi, self.asked = self.asked[1], None
            body, signature = response_parts(self.backend(exi, codec.decode(exi, "iso2")))
            return self.complete(now, "OK", body, signature=signature)
        return super().tick(now)


def test_a_deferred_installation_is_answered_when_the_backend_is(
        pki: Path, tmp_path: Path) -> None:
    charger = secc_pnc(pki)
    AnsweringLater.backend = charger.certificate_backend  # type: ignore[assignment]
    charger.certificate_backend = lambda exi, message: None  # defer to the application
    wire = pnc_session(charger, EvccPnc.from_test_pki(copy_of(pki, tmp_path), contract=False),
                       secc_class=AnsweringLater)
    asked = wire.time("secc", MessageReceived, "CertificateInstallationReq")
    answered = wire.time("secc", MessageSent, "CertificateInstallationRes")
    assert answered - asked == pytest.approx(AnsweringLater.delay)
    res = wire.message("CertificateInstallationRes")
    assert res.body.body_element.response_code is iso2.ResponseCodeType.OK
    assert res.header.session_id == wire.secc.session_id
    assert xmldsig.verify(res, load_certificate(der(pki, "cps_leaf")))
    assert completed(wire)


def test_a_deferred_installation_nobody_answers_fails_at_the_performance_time(
        pki: Path, tmp_path: Path) -> None:
    charger = secc_pnc(pki)
    charger.certificate_backend = lambda exi, message: None
    wire = pnc_session(charger, EvccPnc.from_test_pki(copy_of(pki, tmp_path), contract=False))
    asked = wire.time("secc", MessageReceived, "CertificateInstallationReq")
    answered = wire.time("secc", MessageSent, "CertificateInstallationRes")
    assert answered - asked == pytest.approx(4.5)  # V2G_SECC_Msg_Performance_Time
    assert any(isinstance(e, TimerExpired) and e.timer == "secc_performance:"
               "CertificateInstallation" for e in wire.result.secc_events)
    assert wire.body("CertificateInstallationRes").response_code is \
        iso2.ResponseCodeType.FAILED_NoCertificateAvailable
    assert failed_with(wire, "FAILED_NoCertificateAvailable")
