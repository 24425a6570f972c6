"""Plug & Charge of ISO 15118-20: what :class:`~.pnc.SeccPnc` and :class:`~.pnc.EvccPnc`
do differently when the session speaks -20.

-20 has no PaymentDetails: the contract chain and the GenChallenge of AuthorizationSetupRes
travel in AuthorizationReq's PnC_AReqAuthorizationMode, and the header Signature covers
that element (its EXI fragment, SHA-512 digests; ECDSA-SHA512 on secp521r1 or Ed448,
ISO 15118-20 7.9.2.4). CertificateInstallationReq carries the OEM provisioning chain
(signed: OEMProvisioningCertificateChain); the response's SignedInstallationData holds the
contract chain and the contract key encrypted for the ECDHCurve of the OEM key (SECP521 or
X448, 7.9.2.5.2), signed by the CPS. Chains are checked under the -20 certificate profile.

The SECC side returns neutral response codes (the -2 names :func:`.iso20_charger.code20`
spells in -20 words: FAILED_CertChainError becomes WARNING_CertificateValidationError,
FAILED_ChallengeInvalid WARNING_ChallengeInvalid, ...). Assumed, as for -2 (the standard
names the codes, not which check gives which): a chain that cannot be built, ends at an
unknown root or is badly signed, or whose leaf names no valid eMAID, is
WARNING_CertificateValidationError; then revoked, expired, not yet valid. The session ends
after any of them (a WARNING in AuthorizationRes leaves the EV nothing to do here).
Nothing raises on what a peer sent. The EVCC side returns None or why it refuses.
"""

from __future__ import annotations

import datetime as _dt
import hmac
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from cryptography import x509

from iso15118 import xmldsig
from iso15118.errors import Iso15118Error
from iso15118.messages import iso20_common as common
from iso15118.pki import (
    EmaidError,
    ProtocolVersion,
    Role,
    common_name,
    decrypt_contract_key_iso20_ed448,
    decrypt_contract_key_iso20_secp521,
    emaid_from_certificate,
    load_certificate,
    validate_chain,
)
from iso15118.session.events import CertificateInstallationRequested
from iso15118.session.pnc_backend_iso20 import (
    chain_der20,
    contract_chain20,
    curve_of_oem,
    dh_key,
    installation_response,
)

if TYPE_CHECKING:
    from iso15118.session.core import Step
    from iso15118.session.evcc import EvccSession
    from iso15118.session.pnc import EvccPnc, SeccPnc
    from iso15118.session.secc import SeccSession

__all__ = ["authorization_code", "certificate_installation", "evcc_request",
           "install_contract", "metering_code", "wants_installation"]

OK = "OK"
V20 = ProtocolVersion.ISO15118_20
_PEER_ERRORS = (Iso15118Error, ValueError, TypeError, AttributeError, KeyError)
NAMESPACE = "urn:iso:std:iso:15118:-20:CommonMessages"
_SIGNED_ID = "id1"  # the Id our EV gives the element it signs


def _at(clock: Any) -> _dt.datetime:
    return _dt.datetime.fromtimestamp(clock(), _dt.timezone.utc)


def _signature_code(message: Any, signer: bytes | None, element: str, failed: str) -> str:
    """OK when the header Signature verifies with ``signer``'s key and covers ``element``."""
    try:
        verified = xmldsig.verify(message, load_certificate(signer or b""))
    except _PEER_ERRORS:
        return failed
    return OK if verified.covers(element) else failed


# ---------------------------------------------------------------------------- SECC


def authorization_code(pnc: SeccPnc, secc: SeccSession, extras: dict[str, Any],
                       message: Any) -> str:
    """AuthorizationReq with PnC_AReqAuthorizationMode: the contract chain against the MO
    roots (-20 profile, OCSP through the same hook as -2), its leaf naming an eMAID, the
    signature over PnC_AReqAuthorizationMode with the contract key, the GenChallenge of
    AuthorizationSetupRes. Also fills ``secc.ev.emaid`` for the application."""
    chain = secc.ev.contract_chain
    code = pnc.check_contract(chain, None, version=V20)
    if code != OK:
        return code
    try:
        secc.ev.emaid = emaid_from_certificate(load_certificate(chain[0])).normalized
    except (EmaidError, *_PEER_ERRORS):
        return "FAILED_CertChainError"  # the contract names no (valid) eMAID
    code = _signature_code(message, chain[0], "PnC_AReqAuthorizationMode",
                           "FAILED_SignatureError")
    if code != OK:
        return code
    challenge, expected = extras.get("gen_challenge"), secc.gen_challenge
    if not isinstance(challenge, bytes) or expected is None \
            or not hmac.compare_digest(challenge, expected):
        return "FAILED_ChallengeInvalid"
    return OK


def metering_code(chain: Sequence[bytes], message: Any) -> str:
    """MeteringConfirmationReq in PnC: the header Signature over SignedMeteringData with the
    contract key of the session's authorization (8.3.5.x MeteringConfirmation; the -2
    MeteringReceipt rule, whose code -20 keeps)."""
    return _signature_code(message, chain[0] if chain else None, "SignedMeteringData",
                           "FAILED_MeteringSignatureNotValid")


def certificate_installation(pnc: SeccPnc, secc: SeccSession, extras: dict[str, Any],
                             message: Any, step: Step, now: float) -> str:
    """CertificateInstallationReq: on the first request the OEM provisioning chain's
    signature (and, with ``pnc.oem_roots``, the chain) is checked and the backend asked;
    until it answers (here or later through ``SeccSession.complete``) the EV is answered
    Ongoing, within the SECC's ongoing limit."""
    if "CertificateInstallation" not in secc._asked:
        secc._asked.add("CertificateInstallation")
        code = _check_installation_request(pnc, message)
        if code != OK:
            return code
        exi = secc.received_exi(message, "iso20-common")
        if exi is None:
            return "FAILED"
        # the namespace OCPP's Get15118EVCertificate names as iso15118SchemaVersion
        step.events.append(CertificateInstallationRequested(now, "Install", exi, NAMESPACE))
        if pnc.certificate_backend is None:
            return "FAILED_NoCertificateAvailable"
        try:
            made = pnc.certificate_backend(exi, message)
        except _PEER_ERRORS:
            return "FAILED_NoCertificateAvailable"
        if made is not None:
            secc.certificate_answer = (None, made, None)
    answer = secc.certificate_answer
    processing = secc._decided("CertificateInstallation", answer is not None, now)
    if processing is None:  # the backend did not answer within the ongoing limit
        return "FAILED_NoCertificateAvailable"
    extras["processing"] = processing
    if answer is None:
        return OK
    secc.certificate_answer = None
    late_code, made, signature = answer
    if made is None:
        return late_code or "FAILED_NoCertificateAvailable"
    try:
        response = installation_response(made)
    except _PEER_ERRORS:
        return "FAILED_NoCertificateAvailable"
    extras["response"] = response
    extras["signature"] = signature or response.header.signature
    return late_code or str(getattr(response.response_code, "value", "FAILED"))


def _check_installation_request(pnc: SeccPnc, message: Any) -> str:
    chain = chain_der20(getattr(message, "oem_provisioning_certificate_chain", None))
    if not chain:
        return "FAILED_CertChainError"
    code = _signature_code(message, chain[0], "OEMProvisioningCertificateChain",
                           "FAILED_SignatureError")
    if code != OK or not pnc.oem_roots:
        return code
    try:
        certs = [load_certificate(c) for c in chain]
        verdict = validate_chain(certs[0], certs[1:], pnc.oem_roots, role=Role.OEM,
                                 version=V20, at=_at(pnc.clock))
    except _PEER_ERRORS:
        return "FAILED_CertChainError"
    from iso15118.session.pnc import _verdict_code

    return _verdict_code(verdict, V20)


# ---------------------------------------------------------------------------- EVCC


def wants_installation(pnc: EvccPnc, evcc: EvccSession) -> bool:
    """After AuthorizationSetup: install first when the EV has no contract valid now and
    can ask for one (an OEM provisioning key, and the EVSE offers the service)."""
    try:
        leaf = load_certificate(pnc.contract_chain[0]) if pnc.contract_key else None
    except _PEER_ERRORS:
        leaf = None
    at = _at(pnc.clock)
    usable = leaf is not None and leaf.not_valid_before_utc <= at <= leaf.not_valid_after_utc
    return not usable and pnc.oem_key is not None and bool(evcc.evse.certificate_installation)


def evcc_request(pnc: EvccPnc, evcc: EvccSession, name: str) -> tuple[Any, Any]:
    """The signed -20 request (body, header Signature) for Authorization,
    CertificateInstallation or (PnC) MeteringConfirmation."""
    header = common.MessageHeaderType(session_id=evcc.session_id, time_stamp=0)
    body: Any
    if name == "CertificateInstallation":
        oem = (pnc.oem_cert or b"", *pnc.oem_chain)
        subs = common.SubCertificatesType(certificate=list(oem[1:])) if len(oem) > 1 else None
        emaids = common.EMAIDListType(emaid=list(pnc.prioritized_emaids[:8])) \
            if pnc.prioritized_emaids else None
        body = common.CertificateInstallationReqType(
            header=header, oem_provisioning_certificate_chain=common.SignedCertificateChainType(
                id=_SIGNED_ID, certificate=oem[0], sub_certificates=subs),
            list_of_root_certificate_ids=_root_ids(pnc.v2g_roots),
            maximum_contract_certificate_chains=1, prioritized_emaids=emaids)
        key = pnc.oem_key
    elif name == "MeteringConfirmation":
        assert evcc.dialect is not None
        body = evcc.dialect.request(name, evcc)
        body.signed_metering_data.id = _SIGNED_ID
        key = pnc.contract_key
    elif name == "Authorization":
        body = common.AuthorizationReqType(
            header=header, selected_authorization_service=common.AuthorizationType.PnC,
            pnc_a_req_authorization_mode=common.PnC_AReqAuthorizationModeType(
                id=_SIGNED_ID, gen_challenge=evcc.evse.gen_challenge or bytes(16),
                contract_certificate_chain=contract_chain20(pnc.contract_chain or (b"",))))
        key = pnc.contract_key
    else:
        raise ValueError(f"{name} is not a -20 PnC request")
    assert key is not None, f"{name} needs a key the EvccPnc does not have"
    xmldsig.sign(body, key, references=[_SIGNED_ID])
    return body, body.header.signature


def install_contract(pnc: EvccPnc, message: Any) -> str | None:
    """Take the contract of a -20 CertificateInstallationRes: the CPS chain to a V2G root,
    the CPS signature over SignedInstallationData, the ECDHCurve of our OEM key, the
    contract key decrypted and matched to its certificate, the eMAID one we asked for (when
    we named any), the contract chain to an MO root (when we know any). None when
    installed, else why not."""
    try:
        cps = [load_certificate(c) for c in chain_der20(message.cps_certificate_chain)]
        if not cps:
            return "CertificateInstallationRes carries no CPS chain"
        at = _at(pnc.clock)
        verdict = validate_chain(cps[0], cps[1:], pnc.v2g_roots, role=Role.CPS, version=V20,
                                 at=at)
        if not verdict.valid:
            return "CertificateInstallationRes: the CPS chain is not valid " \
                f"({verdict.failures[0].rule.value})"
        if _signature_code(message, chain_der20(message.cps_certificate_chain)[0],
                           "SignedInstallationData", "refused") != OK:
            return "CertificateInstallationRes: the CPS signature does not verify over " \
                "SignedInstallationData"
        data = message.signed_installation_data
        chain = chain_der20(data.contract_certificate_chain)
        leaf = load_certificate(chain[0])
        oem = load_certificate(pnc.oem_cert or b"")
        curve = getattr(data.ecdh_curve, "value", data.ecdh_curve)
        if curve != curve_of_oem(oem.public_key()):
            return f"CertificateInstallationRes: ECDHCurve {curve} does not fit our OEM key"
        pcid = common_name(oem) or ""
        key: Any
        dh = dh_key(curve, data.dh_public_key)
        if curve == "SECP521":
            key = decrypt_contract_key_iso20_secp521(
                data.secp521_encrypted_private_key or b"", dh, pnc.oem_key,  # type: ignore[arg-type]
                pcid, leaf)
        else:
            key = decrypt_contract_key_iso20_ed448(
                data.x448_encrypted_private_key or b"", dh, pnc.oem_key,  # type: ignore[arg-type]
                pcid, leaf)
        emaid = emaid_from_certificate(leaf).normalized
        wished = {_normal(e) for e in pnc.prioritized_emaids}
        if wished and emaid not in wished:
            return f"CertificateInstallationRes: eMAID {emaid} is not one we asked for"
        if pnc.contract_roots:
            verdict = validate_chain(leaf, [load_certificate(c) for c in chain[1:]],
                                     pnc.contract_roots, role=Role.CONTRACT, version=V20, at=at)
            if not verdict.valid:
                return "CertificateInstallationRes: the contract chain is not valid " \
                    f"({verdict.failures[0].rule.value})"
    except (EmaidError, *_PEER_ERRORS) as exc:
        return f"CertificateInstallationRes rejected: {exc}"
    pnc.contract_chain, pnc.contract_key, pnc.emaid = chain, key, emaid
    if pnc.directory is not None:
        pnc._store(pnc.directory / "ev_contract")
    return None


def _normal(emaid: str) -> str:
    from iso15118.pki import parse_emaid

    try:
        return parse_emaid(emaid).normalized
    except EmaidError:
        return emaid


def _root_ids(roots: Sequence[x509.Certificate]) -> common.ListOfRootCertificateIDsType:
    # Assumed as for -2: the V2G roots (those the CPS chain must reach), the issuer as RFC
    # 4514 text
    return common.ListOfRootCertificateIDsType(root_certificate_id=[
        common.X509IssuerSerialType(x509_issuer_name=r.issuer.rfc4514_string(),
                                    x509_serial_number=r.serial_number)
        for r in roots[:20]])

