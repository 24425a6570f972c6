"""ISO 15118-20 Plug & Charge sessions on the virtual clock, with a real -20 test PKI.

Our EVCC (:class:`EvccPnc` without a contract) against our SECC (:class:`SeccPnc` on the
test PKI: MO roots, OEM roots, :class:`LocalContractBackend20` with the CPS chains and MO
sub-CAs): CertificateInstallation, then a signed PnC AuthorizationReq, then the whole
session, for every energy service x control mode x ECDHCurve. Every assertion is on the
payloads that went over the wire (decoded again by their V2GTP payload type, signatures
checked with certificates read from the PKI's files, the contract key decrypted again) or
on how the sessions ended. Each refusal gets its code; the Ongoing answers and their limits
run on the virtual clock. No crypto is mocked.
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
from cryptography.hazmat.primitives.asymmetric import ec, ed448
from cryptography.x509 import ocsp
from session_harness import simulate

from iso15118 import codec, xmldsig
from iso15118.messages import iso20_common as common
from iso15118.pki import (
    ProtocolVersion,
    Role,
    create_test_pki,
    decrypt_contract_key_iso20_ed448,
    decrypt_contract_key_iso20_secp521,
    emaid_from_certificate,
    generate_ed448_contract_key,
    load_certificate,
    load_private_key,
    validate_chain,
)
from iso15118.pki.testpki import TEST_PCID
from iso15118.session import (
    EnergyMode,
    EvccConfig,
    EVSEState,
    EVState,
    Outcome,
    Payment,
    SeccConfig,
    SeccSession,
)
from iso15118.session.events import (
    AuthorizationRequested,
    CertificateInstallationRequested,
    Event,
    MessageSent,
    TimerExpired,
)
from iso15118.session.pnc import EvccPnc, SeccPnc
from iso15118.session.pnc_backend_iso20 import LocalContractBackend20, dh_key
from iso15118.session.simulation import ChargerBehaviour
from iso15118.session.values import ControlMode, EnergyService
from iso15118.v2gtp import PAYLOAD_TYPE_PROTOCOLS

CURVES = ("SECP521", "X448")
SERVICES = {
    EnergyService.DC: (EnergyMode.DC_extended, False),
    EnergyService.AC: (EnergyMode.AC_three_phase_core, False),
    EnergyService.DC_BPT: (EnergyMode.DC_extended, True),
    EnergyService.AC_BPT: (EnergyMode.AC_three_phase_core, True),
}
START = ["SessionSetupReq", "SessionSetupRes", "AuthorizationSetupReq", "AuthorizationSetupRes",
         "CertificateInstallationReq", "CertificateInstallationRes", "AuthorizationReq",
         "AuthorizationRes", "ServiceDiscoveryReq"]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("pki20")
    create_test_pki(directory, 20)
    return directory


def der(pki: Path, name: str) -> bytes:
    index = json.loads((pki / "index.json").read_text())
    return (pki / index["certificates"][name]["der"]).read_bytes()


def key(pki: Path, name: str) -> Any:
    index = json.loads((pki / "index.json").read_text())
    return load_private_key((pki / index["certificates"][name]["key"]).read_bytes())


def vehicle(pki: Path, tmp_path: Path, curve: str = "SECP521", *, contract: bool = False,
            cls: type[EvccPnc] = EvccPnc) -> EvccPnc:
    """A vehicle with its own copy of the PKI directory (installing writes to it)."""
    own = tmp_path / f"vehicle-{curve}"
    if not own.exists():
        shutil.copytree(pki, own)
    made = EvccPnc.from_test_pki(own, contract=contract, curve=curve)
    if cls is not EvccPnc:
        made = cls(**{f: getattr(made, f) for f in made.__dataclass_fields__})
    return made


@dataclass
class Wire:
    secc: SeccSession
    evcc: Any
    sent: list[tuple[str, Any]]  # (sender, message decoded from its payload)
    secc_events: list[Event]
    evcc_events: list[Event]

    def names(self) -> list[str]:
        return [type(m).__name__.removesuffix("Type") for _, m in self.sent]

    def all(self, name: str) -> list[Any]:
        return [m for _, m in self.sent if type(m).__name__ == name + "Type"]

    def one(self, name: str, nth: int = 0) -> Any:
        return self.all(name)[nth]

    def secc_failed_with(self, code: str) -> bool:
        ended = self.secc.ended
        return ended is not None and ended.outcome is Outcome.FAILED and \
            ended.response_code == code


def pnc20(charger: SeccPnc, car: EvccPnc, *, service: EnergyService = EnergyService.DC,
          control: ControlMode = ControlMode.SCHEDULED, tls: bool = True,
          secc_config: dict[str, Any] | None = None, authorization_delay_s: float = 0.0,
          on_secc: Callable[[SeccSession, Event, float], None] | None = None,
          request_hook: Callable[[str, Any], Any] | None = None,
          response_hook: Callable[[str, Any, Any], Any] | None = None,
          lose: str | None = None) -> Wire:
    """One session; ``lose`` names a response whose first copy the wire loses."""
    mode, bidirectional = SERVICES[service]
    ev = EVState(energy_mode=mode, control_mode=control, bidirectional=bidirectional,
                 payment=Payment.PNC, soc=60)
    if not mode.is_dc:
        ev.max_current, ev.max_voltage, ev.max_power = 32.0, 400.0, 22_000.0
    evse = EVSEState(energy_modes=(EnergyMode.DC_extended, EnergyMode.AC_three_phase_core),
                     bidirectional=bidirectional, payment_options=(Payment.EIM, Payment.PNC))
    payloads: list[tuple[str, int, bytes]] = []

    def record(side: str, out: Any) -> bool:
        if lose is not None and type(out.message).__name__ == lose + "Type" \
                and lose not in lost:
            lost.append(lose)
            return True
        payloads.append((side, out.payload_type, out.payload))
        return False

    lost: list[str] = []

    run = simulate("iso20", mode, ev=ev, evse=evse, tls=tls, drop=record, on_secc=on_secc,
                   behaviour=ChargerBehaviour(cable_check_s=0.3,
                                              authorization_delay_s=authorization_delay_s),
                   secc_config=SeccConfig(protocols=("iso20",), pnc=charger,
                                          response_hook=response_hook,
                                          **(secc_config or {})),
                   evcc_config=EvccConfig(protocols=("iso20",), loops=3, loop_interval=0.1,
                                          pnc=car, request_hook=request_hook))
    sent = [(side, codec.decode(payload, PAYLOAD_TYPE_PROTOCOLS[kind]))
            for side, kind, payload in payloads if PAYLOAD_TYPE_PROTOCOLS[kind].startswith("iso20")]
    return Wire(run.secc, run.evcc, sent, run.result.secc_events, run.result.evcc_events)


def completed(wire: Wire) -> bool:
    return all(s.ended is not None and s.ended.outcome is Outcome.COMPLETED
               for s in (wire.secc, wire.evcc))


# ------------------------------------------------------------------ whole sessions


@pytest.mark.parametrize("curve", CURVES)
@pytest.mark.parametrize("control", list(ControlMode))
@pytest.mark.parametrize("service", list(SERVICES))
def test_every_service_and_control_mode_with_pnc_and_certificate_installation(
        pki: Path, tmp_path: Path, service: EnergyService, control: ControlMode,
        curve: str) -> None:
    car = vehicle(pki, tmp_path, curve)
    wire = pnc20(SeccPnc.from_test_pki(pki), car, service=service, control=control)
    assert completed(wire), (wire.secc.ended, wire.evcc.ended)
    assert wire.names()[:len(START)] == START
    setup = wire.one("AuthorizationSetupRes")
    assert [s.value for s in setup.authorization_services] == ["EIM", "PnC"]
    assert setup.certificate_installation_service is True
    challenge = setup.pnc_as_res_authorization_mode.gen_challenge
    # the request: signed by the OEM provisioning key over OEMProvisioningCertificateChain
    req = wire.one("CertificateInstallationReq")
    oem_name = "oem_leaf" if curve == "SECP521" else "oem_leaf_ed448"
    oem = load_certificate(der(pki, oem_name))
    assert req.oem_provisioning_certificate_chain.certificate == der(pki, oem_name)
    assert xmldsig.verify(req, oem).covers("OEMProvisioningCertificateChain")
    # the response: the CPS chain to a V2G root, its signature over SignedInstallationData
    res = wire.one("CertificateInstallationRes")
    assert res.response_code is common.ResponseCodeType.OK
    cps = load_certificate(res.cps_certificate_chain.certificate)
    cps_subs = [load_certificate(c) for c in res.cps_certificate_chain.sub_certificates.certificate]
    roots = [load_certificate(der(pki, n)) for n in ("v2g_root", "v2g_root_ed448")]
    assert validate_chain(cps, cps_subs, roots, role=Role.CPS,
                          version=ProtocolVersion.ISO15118_20).valid
    assert xmldsig.verify(res, cps).covers("SignedInstallationData")
    data = res.signed_installation_data
    assert data.ecdh_curve.value == curve
    leaf = load_certificate(data.contract_certificate_chain.certificate)
    mo_roots = [load_certificate(der(pki, n)) for n in ("mo_root", "mo_root_ed448")]
    assert validate_chain(leaf, [load_certificate(c) for c in
                                 data.contract_certificate_chain.sub_certificates.certificate],
                          mo_roots, role=Role.CONTRACT, version=ProtocolVersion.ISO15118_20).valid
    # the key the EV took is the one in the response, decrypted here again
    if curve == "SECP521":
        assert isinstance(leaf.public_key(), ec.EllipticCurvePublicKey)
        again: Any = decrypt_contract_key_iso20_secp521(
            data.secp521_encrypted_private_key, data.dh_public_key, key(pki, oem_name),
            TEST_PCID, leaf)
        assert again.private_numbers() == car.contract_key.private_numbers()  # type: ignore[union-attr]
    else:
        assert isinstance(leaf.public_key(), ed448.Ed448PublicKey)
        again = decrypt_contract_key_iso20_ed448(
            data.x448_encrypted_private_key, dh_key("X448", data.dh_public_key),
            key(pki, oem_name), TEST_PCID, leaf)
        assert again.sign(b"x") == car.contract_key.sign(b"x")  # type: ignore[union-attr]
    # Authorization: the new contract, the challenge, signed with the new contract key
    auth = wire.one("AuthorizationReq")
    mode = auth.pnc_a_req_authorization_mode
    assert auth.selected_authorization_service is common.AuthorizationType.PnC
    assert mode.gen_challenge == challenge
    assert mode.contract_certificate_chain.certificate == \
        data.contract_certificate_chain.certificate
    verified = xmldsig.verify(auth, leaf)
    assert verified.covers("PnC_AReqAuthorizationMode")
    method = "ecdsa-sha512" if curve == "SECP521" else "eddsa-ed448"
    assert verified.signature_method.endswith(method)
    assert wire.one("AuthorizationRes").response_code is common.ResponseCodeType.OK
    asked = [e for e in wire.secc_events if isinstance(e, AuthorizationRequested)]
    assert asked[0].payment is Payment.PNC
    assert asked[0].emaid == emaid_from_certificate(leaf).normalized
    # the contract is the vehicle's now, on disk too
    stored = tmp_path / f"vehicle-{curve}" / "ev_contract"
    assert load_certificate((stored / "chain.pem").read_bytes()) == leaf
    assert car.contract_chain[0] == data.contract_certificate_chain.certificate


@pytest.mark.parametrize("curve", CURVES)
def test_a_vehicle_with_a_contract_authorizes_without_installing(
        pki: Path, tmp_path: Path, curve: str) -> None:
    car = vehicle(pki, tmp_path, curve, contract=True)
    wire = pnc20(SeccPnc.from_test_pki(pki), car)
    assert completed(wire)
    assert "CertificateInstallationReq" not in wire.names()
    contract = "contract_leaf" if curve == "SECP521" else "contract_leaf_ed448"
    auth = wire.one("AuthorizationReq")
    assert xmldsig.verify(auth, load_certificate(der(pki, contract))).covers(
        "PnC_AReqAuthorizationMode")


def test_the_installed_contract_serves_the_next_session(pki: Path, tmp_path: Path) -> None:
    first = pnc20(SeccPnc.from_test_pki(pki), vehicle(pki, tmp_path))
    assert completed(first)
    again = pnc20(SeccPnc.from_test_pki(pki), vehicle(pki, tmp_path, contract=True))
    assert completed(again) and "CertificateInstallationReq" not in again.names()
    installed = first.one("CertificateInstallationRes").signed_installation_data
    assert again.one("AuthorizationReq").pnc_a_req_authorization_mode \
        .contract_certificate_chain.certificate == installed.contract_certificate_chain.certificate


# ------------------------------------------------------------------ PnC needs TLS


def test_pnc_is_not_offered_over_plain_tcp(pki: Path, tmp_path: Path) -> None:
    """ISO 15118-20 7.7: PnC's identities are those of TLS; over TCP only EIM is offered
    and the vehicle authorizes with EIM."""
    wire = pnc20(SeccPnc.from_test_pki(pki), vehicle(pki, tmp_path, contract=True), tls=False)
    setup = wire.one("AuthorizationSetupRes")
    assert [s.value for s in setup.authorization_services] == ["EIM"]
    assert setup.certificate_installation_service is False
    assert setup.pnc_as_res_authorization_mode is None
    assert wire.one("AuthorizationReq").selected_authorization_service.value == "EIM"
    assert completed(wire)


def test_a_pnc_authorization_over_plain_tcp_is_refused(pki: Path, tmp_path: Path) -> None:
    car = vehicle(pki, tmp_path, contract=True)

    def pnc_anyway(step: str, body: Any) -> Any:
        if step != "Authorization":
            return body
        return common.AuthorizationReqType(
            header=body.header, selected_authorization_service=common.AuthorizationType.PnC,
            pnc_a_req_authorization_mode=common.PnC_AReqAuthorizationModeType(
                id="id1", gen_challenge=bytes(16), contract_certificate_chain=
                common.ContractCertificateChainType(
                    certificate=car.contract_chain[0], sub_certificates=
                    common.SubCertificatesType(certificate=list(car.contract_chain[1:])))))

    wire = pnc20(SeccPnc.from_test_pki(pki), car, tls=False, request_hook=pnc_anyway)
    code = "WARNING_AuthorizationSelectionInvalid"
    assert wire.one("AuthorizationRes").response_code.value == code
    assert wire.secc_failed_with("FAILED_AuthorizationSelectionInvalid")
    assert wire.evcc.ended.outcome is Outcome.FAILED and wire.evcc.ended.response_code == code


# ------------------------------------------------------------------ refusals (SECC)


class WrongChallenge(EvccPnc):
    """A vehicle that signs, correctly, a challenge that is not the EVSE's."""

    def request(self, evcc: Any, name: str) -> tuple[Any, Any]:
        if name == "Authorization":
            evcc.evse.gen_challenge = bytes(16)
        return super().request(evcc, name)


def _revoked(pki: Path, name: str, issuer: str) -> bytes:
    """An OCSP response of the issuing sub-CA saying ``name`` is revoked."""
    at = dt.datetime.now(dt.timezone.utc)
    issuer_cert = load_certificate(der(pki, issuer))
    builder = ocsp.OCSPResponseBuilder().add_response(
        cert=load_certificate(der(pki, name)), issuer=issuer_cert, algorithm=hashes.SHA256(),
        cert_status=ocsp.OCSPCertStatus.REVOKED, this_update=at - dt.timedelta(minutes=1),
        next_update=at + dt.timedelta(days=1), revocation_time=at - dt.timedelta(hours=1),
        revocation_reason=x509.ReasonFlags.key_compromise,
    ).responder_id(ocsp.OCSPResponderEncoding.HASH, issuer_cert)
    signer = key(pki, issuer)
    algorithm = None if isinstance(signer, ed448.Ed448PrivateKey) else hashes.SHA512()
    return builder.sign(signer, algorithm).public_bytes(
        serialization.Encoding.DER)


def _not_an_emaid(pki: Path, car: EvccPnc, curve: str) -> None:
    """Give the vehicle a contract the MO signed properly whose subject names no eMAID."""
    charger = SeccPnc.from_test_pki(pki)
    backend = charger.certificate_backend
    issuer = backend.issuers[curve]  # type: ignore[union-attr]
    contract: Any = ec.generate_private_key(ec.SECP521R1()) if curve == "SECP521" \
        else generate_ed448_contract_key()
    leaf = backend.issue(issuer, "NOT-AN-EMAID", contract)  # type: ignore[union-attr]
    car.contract_chain, car.contract_key = (leaf, *issuer.mo_chain), contract


@pytest.mark.parametrize("case, code", [
    ("signature", "FAILED_SignatureError"),
    ("challenge", "WARNING_ChallengeInvalid"),
    ("expired", "WARNING_CertificateExpired"),
    ("not yet valid", "WARNING_CertificateNotYetValid"),
    ("revoked", "WARNING_CertificateRevoked"),
    ("unknown root", "WARNING_CertificateValidationError"),
    ("no eMAID", "WARNING_CertificateValidationError"),
])
@pytest.mark.parametrize("curve", CURVES)
def test_each_bad_pnc_authorization_gets_its_code(pki: Path, tmp_path: Path, case: str,
                                                  code: str, curve: str) -> None:
    cls = WrongChallenge if case == "challenge" else EvccPnc
    car = vehicle(pki, tmp_path, curve, contract=True, cls=cls)
    charger = SeccPnc.from_test_pki(pki)
    hook = None
    year = 365 * 86400.0
    if case == "signature":  # changed after it was signed
        def hook(step: str, body: Any) -> Any:
            if step == "Authorization":
                body.pnc_a_req_authorization_mode.gen_challenge = bytes(16)
            return body
    elif case == "expired":  # three years on: the two-year contract (and its CAs) are over
        charger = SeccPnc.from_test_pki(pki, clock=lambda: time.time() + 3 * year)
    elif case == "not yet valid":  # the charger's clock a week behind the PKI
        charger = SeccPnc.from_test_pki(pki, clock=lambda: time.time() - 7 * 86400)
    elif case == "revoked":
        contract = "contract_leaf" if curve == "SECP521" else "contract_leaf_ed448"
        sub = "mo_sub_ca2" if curve == "SECP521" else "mo_sub_ca2_ed448"
        revoked = _revoked(pki, contract, sub)
        charger.ocsp = lambda chain: [revoked]
    elif case == "unknown root":  # a charger that trusts another MO only
        charger.contract_roots = (load_certificate(der(pki, "v2g_root")),)
    elif case == "no eMAID":
        _not_an_emaid(pki, car, curve)
    wire = pnc20(charger, car, request_hook=hook)
    assert wire.one("AuthorizationRes").response_code.value == code
    assert wire.names()[-1] == "AuthorizationRes"
    neutral = {"FAILED_SignatureError": "FAILED_SignatureError",
               "WARNING_ChallengeInvalid": "FAILED_ChallengeInvalid",
               "WARNING_CertificateExpired": "FAILED_CertificateExpired",
               "WARNING_CertificateNotYetValid": "FAILED_CertificateNotYetValid",
               "WARNING_CertificateRevoked": "FAILED_CertificateRevoked",
               "WARNING_CertificateValidationError": "FAILED_CertChainError"}[code]
    assert wire.secc_failed_with(neutral)
    assert wire.evcc.ended.outcome is Outcome.FAILED and wire.evcc.ended.response_code == code
    assert not [e for e in wire.secc_events if isinstance(e, AuthorizationRequested)]


@pytest.mark.parametrize("case, code", [
    ("signature", "FAILED_SignatureError"),
    ("OEM chain to an unknown root", "WARNING_CertificateValidationError"),
    ("no issuer for the vehicle's curve", "WARNING_NoCertificateAvailable"),
])
def test_each_bad_installation_request_gets_its_code(pki: Path, tmp_path: Path, case: str,
                                                     code: str) -> None:
    charger = SeccPnc.from_test_pki(pki)
    hook = None
    if case == "signature":  # the OEM chain without its sub-CAs: not what was signed
        def hook(step: str, body: Any) -> Any:
            if step == "CertificateInstallation":
                body.oem_provisioning_certificate_chain.sub_certificates = None
            return body
    elif case == "OEM chain to an unknown root":
        charger.oem_roots = (load_certificate(der(pki, "mo_root")),)
    else:
        charger.certificate_backend = LocalContractBackend20({})  # raises: no issuer
    wire = pnc20(charger, vehicle(pki, tmp_path), request_hook=hook)
    assert wire.names()[-1] == "CertificateInstallationRes"
    assert wire.one("CertificateInstallationRes").response_code.value == code
    assert wire.secc.ended.outcome is Outcome.FAILED
    assert wire.evcc.ended.outcome is Outcome.FAILED and wire.evcc.ended.response_code == code


def test_without_a_certificate_service_a_vehicle_without_contract_uses_eim(
        pki: Path, tmp_path: Path) -> None:
    charger = SeccPnc.from_test_pki(pki)
    charger.certificate_backend = None
    wire = pnc20(charger, vehicle(pki, tmp_path))
    assert wire.one("AuthorizationSetupRes").certificate_installation_service is False
    assert "CertificateInstallationReq" not in wire.names()
    assert wire.one("AuthorizationReq").selected_authorization_service.value == "EIM"
    assert completed(wire)


def test_the_application_refuses_the_contracts_emaid(pki: Path, tmp_path: Path) -> None:
    """The backend (OCPP Authorize with the eMAID and chain) does not know the eMSP: the
    application says so with a neutral FAILED_ code, which -20 spells WARNING_eMSPUnknown."""
    def backend(secc: SeccSession, event: Event, now: float) -> None:
        if isinstance(event, AuthorizationRequested):
            assert event.emaid and event.contract_chain
            secc.authorize(False, "FAILED_eMSPUnknown")

    wire = pnc20(SeccPnc.from_test_pki(pki), vehicle(pki, tmp_path, contract=True),
                 authorization_delay_s=1000.0, on_secc=backend)
    assert wire.one("AuthorizationRes", -1).response_code.value == "WARNING_eMSPUnknown"
    assert wire.secc_failed_with("FAILED_eMSPUnknown")
    assert wire.evcc.ended.response_code == "WARNING_eMSPUnknown"


# ------------------------------------------------------------------ refusals (EVCC)


@pytest.mark.parametrize("case, reason", [
    ("changed after the CPS signed it", "CPS signature does not verify"),
    ("CPS chain under a root the EV does not trust", "CPS chain is not valid"),
    ("another eMAID than the EV asked for", "is not one we asked for"),
    ("contract key of another certificate", "rejected"),
])
@pytest.mark.parametrize("curve", CURVES)
def test_the_ev_installs_no_contract_from_a_response_it_cannot_trust(
        pki: Path, tmp_path: Path, case: str, reason: str, curve: str) -> None:
    car = vehicle(pki, tmp_path, curve)
    charger = SeccPnc.from_test_pki(pki)
    hook = None
    if case == "changed after the CPS signed it":
        def hook(step: str, request: Any, body: Any) -> Any:
            if step == "CertificateInstallation" and body.evse_processing.value == "Finished":
                body.signed_installation_data.contract_certificate_chain.certificate = \
                    der(pki, "contract_leaf")
            return body
    elif case == "CPS chain under a root the EV does not trust":
        car.v2g_roots = (load_certificate(der(pki, "mo_root")),)
    elif case == "another eMAID than the EV asked for":
        car.prioritized_emaids = ("DE8AA0000000019",)
        backend = charger.certificate_backend

        def ignoring_wishes(exi: bytes, message: Any) -> Any:
            message.prioritized_emaids = None
            return backend(exi, message)  # type: ignore[misc]
        charger.certificate_backend = ignoring_wishes
    else:  # a well-signed response whose key is not the contract certificate's
        backend = charger.certificate_backend
        cps_key = backend.issuers[curve].cps_key  # type: ignore[union-attr]

        def other_key(exi: bytes, message: Any) -> Any:
            first, second = backend(exi, message), backend(exi, message)  # type: ignore[misc]
            first.signed_installation_data.contract_certificate_chain = \
                second.signed_installation_data.contract_certificate_chain
            xmldsig.sign(first, cps_key, references=["id1"])  # the CPS signs it all the same
            return first
        charger.certificate_backend = other_key
    wire = pnc20(charger, car, response_hook=hook)
    assert wire.names()[-1] == "CertificateInstallationRes"
    assert wire.one("CertificateInstallationRes").response_code is common.ResponseCodeType.OK
    assert wire.evcc.ended.outcome is Outcome.FAILED and reason in wire.evcc.ended.reason
    assert car.contract_chain == ()
    assert not (tmp_path / f"vehicle-{curve}" / "ev_contract").exists()


# ------------------------------------------------------------------ Ongoing, on the clock


def test_an_installation_the_backend_answers_later_is_ongoing_until_then(
        pki: Path, tmp_path: Path) -> None:
    charger = SeccPnc.from_test_pki(pki)
    backend, charger.certificate_backend = charger.certificate_backend, \
        lambda exi, message: None  # the application asks its backend (OCPP) itself
    asked: list[tuple[float, bytes]] = []

    def application(secc: SeccSession, event: Event, now: float) -> None:
        if isinstance(event, CertificateInstallationRequested):
            asked.append((now, event.exi))
        elif isinstance(event, MessageSent) and event.name == "CertificateInstallationRes" \
                and asked and now - asked[0][0] >= 3.0 and secc.certificate_answer is None \
                and secc.state == "CertificateInstallation.Ongoing":
            exi = asked[0][1]
            made = backend(exi, codec.decode(exi, "iso20-common"))  # type: ignore[misc]
            # as OCPP's Get15118EVCertificate brings it: the response's EXI
            secc.complete(now, "OK", codec.encode(made, "iso20-common"))

    wire = pnc20(charger, vehicle(pki, tmp_path), on_secc=application)
    answers = wire.all("CertificateInstallationRes")
    assert [a.evse_processing.value for a in answers[:-1]] == ["Ongoing"] * (len(answers) - 1)
    assert answers[-1].evse_processing.value == "Finished" and len(answers) >= 12
    assert answers[-1].response_code is common.ResponseCodeType.OK
    assert xmldsig.verify(answers[-1]).covers("SignedInstallationData")  # CPS leaf inside
    assert asked[0][1] == codec.encode(wire.one("CertificateInstallationReq"), "iso20-common")
    assert completed(wire)


def test_an_installation_nobody_answers_fails_at_the_seccs_ongoing_limit(
        pki: Path, tmp_path: Path) -> None:
    charger = SeccPnc.from_test_pki(pki)
    charger.certificate_backend = lambda exi, message: None
    wire = pnc20(charger, vehicle(pki, tmp_path))
    answers = wire.all("CertificateInstallationRes")
    assert answers[-1].response_code.value == "WARNING_NoCertificateAvailable"
    first = next(e.time for e in wire.secc_events
                 if isinstance(e, CertificateInstallationRequested))
    assert wire.secc.ended.time - first == pytest.approx(55.0, abs=0.3)  # secc_ongoing
    assert wire.evcc.ended.outcome is Outcome.FAILED


def test_the_ev_gives_up_on_an_endless_ongoing_installation_after_60_s(
        pki: Path, tmp_path: Path) -> None:
    charger = SeccPnc.from_test_pki(pki)
    charger.certificate_backend = lambda exi, message: None
    wire = pnc20(charger, vehicle(pki, tmp_path), secc_config={"ongoing_limit": 600.0})
    expired = [e for e in wire.evcc_events if isinstance(e, TimerExpired)]
    assert [e.timer for e in expired] == ["evcc_ongoing"]
    first = next(e.time for e in wire.evcc_events
                 if isinstance(e, MessageSent) and e.name == "CertificateInstallationReq")
    assert expired[0].time - first == pytest.approx(60.0, abs=0.01)


def test_a_pnc_authorization_is_ongoing_until_the_application_decides(
        pki: Path, tmp_path: Path) -> None:
    wire = pnc20(SeccPnc.from_test_pki(pki), vehicle(pki, tmp_path, contract=True),
                 authorization_delay_s=4.0)  # the simulated backend decides after 4 s
    answers = wire.all("AuthorizationRes")
    assert {a.evse_processing.value for a in answers[:-1]} == {"Ongoing"} and len(answers) > 10
    assert answers[-1].evse_processing.value == "Finished"
    assert completed(wire)
    # checked once: the repeats are not verified again, the event came once
    assert len([e for e in wire.secc_events if isinstance(e, AuthorizationRequested)]) == 1


def test_a_pnc_authorization_nobody_decides_fails_at_the_ongoing_limit(
        pki: Path, tmp_path: Path) -> None:
    wire = pnc20(SeccPnc.from_test_pki(pki), vehicle(pki, tmp_path, contract=True),
                 authorization_delay_s=1000.0)
    first = next(e.time for e in wire.secc_events if isinstance(e, AuthorizationRequested))
    assert wire.secc.ended.time - first == pytest.approx(55.0, abs=0.3)
    assert wire.one("AuthorizationRes", -1).response_code.value == "FAILED"


@pytest.mark.parametrize("response, timeout", [("CertificateInstallationRes", 5.0),
                                               ("AuthorizationRes", 2.0)])
def test_a_lost_pnc_response_ends_the_session_at_the_evs_message_timeout(
        pki: Path, tmp_path: Path, response: str, timeout: float) -> None:
    wire = pnc20(SeccPnc.from_test_pki(pki), vehicle(pki, tmp_path), lose=response)
    expired = [e for e in wire.evcc_events if isinstance(e, TimerExpired)]
    step = response.removesuffix("Res")
    assert [(e.timer, e.seconds) for e in expired] == [(f"ev_message:{step}", timeout)]
    sent = [e.time for e in wire.evcc_events if isinstance(e, MessageSent)
            and e.name == step + "Req"]
    assert expired[0].time == pytest.approx(sent[-1] + timeout)
    assert wire.evcc.ended.outcome is Outcome.FAILED


def test_a_repeated_pnc_authorization_must_not_change(pki: Path, tmp_path: Path) -> None:
    """While the SECC answers Ongoing the EV repeats the same AuthorizationReq (-20: only
    its header may change); one that brings another contract chain is refused, so the
    application never authorizes a chain that was not checked."""
    other = der(pki, "contract_leaf_ed448")
    seen: list[int] = []

    def swap(step: str, body: Any) -> Any:
        if step == "Authorization":
            seen.append(1)
            if len(seen) == 3:
                body.pnc_a_req_authorization_mode.contract_certificate_chain.certificate = other
        return body

    wire = pnc20(SeccPnc.from_test_pki(pki), vehicle(pki, tmp_path, contract=True),
                 authorization_delay_s=4.0, request_hook=swap)
    answers = wire.all("AuthorizationRes")
    assert [a.evse_processing.value for a in answers[:2]] == ["Ongoing", "Ongoing"]
    assert answers[2].response_code.value == "FAILED"
    assert wire.secc_failed_with("FAILED")


# ------------------------------------------------------------------ metering confirmation


def _ask_metering(secc: SeccSession, event: Event, now: float) -> None:
    from iso15118.session import Notification
    from iso15118.session.events import ChargeLoop

    if isinstance(event, ChargeLoop) and not getattr(secc, "_asked_meter", False):
        secc._asked_meter = True  # type: ignore[attr-defined]
        secc.notification = Notification.METERING_CONFIRMATION


@pytest.mark.parametrize("curve", CURVES)
def test_pnc_metering_confirmation_is_signed_with_the_contract_key(
        pki: Path, tmp_path: Path, curve: str) -> None:
    from iso15118.session.events import MeteringReceiptReceived

    car = vehicle(pki, tmp_path, curve, contract=True)
    wire = pnc20(SeccPnc.from_test_pki(pki), car, on_secc=_ask_metering)
    assert completed(wire), (wire.secc.ended, wire.evcc.ended)
    req = wire.one("MeteringConfirmationReq")
    contract = "contract_leaf" if curve == "SECP521" else "contract_leaf_ed448"
    assert xmldsig.verify(req, load_certificate(der(pki, contract))).covers(
        "SignedMeteringData")
    assert req.signed_metering_data.session_id == wire.evcc.session_id
    assert wire.one("MeteringConfirmationRes").response_code is common.ResponseCodeType.OK
    got = [e for e in wire.secc_events if isinstance(e, MeteringReceiptReceived)]
    info = req.signed_metering_data.meter_info
    assert [(e.meter_id, e.energy_wh, e.signed) for e in got] == \
        [(info.meter_id, info.charged_energy_reading_wh, True)]


class MetersWithAnotherKey(EvccPnc):
    """A vehicle that signs its MeteringConfirmationReq, correctly, with a key that is not
    its contract's."""

    def request(self, evcc: Any, name: str) -> tuple[Any, Any]:
        if name != "MeteringConfirmation":
            return super().request(evcc, name)
        own, self.contract_key = self.contract_key, ec.generate_private_key(ec.SECP521R1())
        try:
            return super().request(evcc, name)
        finally:
            self.contract_key = own


def test_a_metering_confirmation_signed_by_another_key_is_refused(
        pki: Path, tmp_path: Path) -> None:
    car = vehicle(pki, tmp_path, contract=True, cls=MetersWithAnotherKey)
    wire = pnc20(SeccPnc.from_test_pki(pki), car, on_secc=_ask_metering)
    assert wire.one("MeteringConfirmationRes").response_code is \
        common.ResponseCodeType.FAILED_MeteringSignatureNotValid
    assert wire.secc_failed_with("FAILED_MeteringSignatureNotValid")
