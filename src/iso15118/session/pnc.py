"""Plug & Charge (ISO 15118-2) for the session cores: contracts, signatures, certificates.

The SECC and EVCC cores call these objects for the PnC steps and keep the session's course
themselves (:mod:`.secc`, :mod:`.evcc`, the table in :mod:`.rules_iso2`):

* :class:`SeccPnc` (``SeccConfig.pnc``): PaymentDetails (8.4.3.6: the contract chain
  against the MO root(s), OCSP via a hook, GenChallenge and EVSETimeStamp), Authorization
  (8.4.3.7: the header signature over AuthorizationReq with the contract key, the
  challenge), MeteringReceipt (8.4.3.10: signed with the contract key),
  CertificateInstallation and CertificateUpdate (8.4.3.13, 8.4.3.12: the request's
  signature, then a pluggable ``certificate_backend`` that makes the signed response or
  defers it to the application, which answers through ``SeccSession.complete``).
* :class:`EvccPnc` (``EvccConfig.pnc``): which PnC step comes first, the signed requests,
  and the installation of a new contract (CPS chain to a V2G root, the CPS signature over
  the four fragments, the contract key decrypted and checked, 7.9.2.4.3).

Signatures follow 7.9.2.4.2 through :mod:`iso15118.xmldsig` (EXI fragments, ECDSA P-256
with SHA-256, raw r||s); chains are checked with :func:`iso15118.pki.validate_chain` under
the -2 certificate profile. Nothing here raises on what a peer sent: every bad certificate
or signature becomes a FAILED response code (SECC) or a reason string (EVCC). The only
wall-clock reads are the ``clock`` callables, so tests pin them.
"""

from __future__ import annotations

import datetime as _dt
import hmac
import json
import secrets
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448

from iso15118 import xmldsig
from iso15118.errors import Iso15118Error
from iso15118.messages import iso2
from iso15118.pki import (
    ChainVerdict,
    EmaidError,
    ProtocolVersion,
    Role,
    Rule,
    contract_update_due,
    decrypt_contract_key_iso2,
    emaid_from_certificate,
    load_certificate,
    load_certificates,
    load_private_key,
    parse_emaid,
    validate_chain,
)
from iso15118.pki.emaid import DEFAULT_EXPIRY_WARNING_DAYS
from iso15118.session import pnc_iso20
from iso15118.session.events import CertificateInstallationRequested
from iso15118.session.handshake import APP_PROTOCOLS
from iso15118.session.pnc_backend import (
    LocalContractBackend,
    chain_der,
    chain_type,
    response_parts,
    signature_for,
)
from iso15118.session.secc import DEFER

if TYPE_CHECKING:
    from iso15118.session.core import Step
    from iso15118.session.evcc import EvccSession
    from iso15118.session.secc import SeccSession

__all__ = ["CertificateBackend", "EvccPnc", "LocalContractBackend", "OcspHook", "SeccPnc",
           "response_parts"]

#: (request EXI without the V2GTP header, decoded request message) -> the signed
#: CertificateInstallationRes/UpdateRes as an ``iso2.V2G_Message`` or its EXI, or None to
#: defer: the application then answers through ``SeccSession.complete`` (see
#: :func:`response_parts`) before the SECC's performance time runs out. For a -20 request
#: (an ``iso20_common.CertificateInstallationReqType``) the answer is the signed -20
#: CertificateInstallationResType or its EXI; None answers the EV Ongoing until the
#: application calls ``complete`` (within the SECC's ongoing limit).
CertificateBackend = Callable[[bytes, Any], Any]
#: the contract chain (DER, leaf first) -> DER OCSP responses for it (cached or stapled;
#: the hook runs inside the SECC's 4.5 s answer, so it should not go to the network)
OcspHook = Callable[[tuple[bytes, ...]], Iterable[bytes]]

OK = "OK"
CHAIN_ERROR = "FAILED_CertChainError"
SIGNATURE_ERROR = "FAILED_SignatureError"
NO_CERTIFICATE = "FAILED_NoCertificateAvailable"
_PEER_ERRORS = (Iso15118Error, ValueError, TypeError, AttributeError)
#: failures that mean "not a chain of the MO at all", reported before expiry/revocation
_STRUCTURAL = frozenset({Rule.CHAIN_BUILT, Rule.TRUST_ANCHOR, Rule.SIGNATURE})
#: the four fragments CertificateInstallationRes/UpdateRes sign (8.4.3.12.3, 8.4.3.13.3)
_SIGNED_RESPONSE_PARTS = ("ContractSignatureCertChain", "ContractSignatureEncryptedPrivateKey",
                          "DHpublickey", "eMAID")


def _at(clock: Callable[[], float]) -> _dt.datetime:
    return _dt.datetime.fromtimestamp(clock(), _dt.timezone.utc)


def _verdict_code(verdict: ChainVerdict,
                  version: ProtocolVersion = ProtocolVersion.ISO15118_2) -> str:
    """The response code for a contract chain's verdict.

    Assumed mapping (the standard names the codes, not which rule gives which):
    untrusted, unbuildable or badly signed chains are FAILED_CertChainError first; then a
    revoked certificate FAILED_CertificateRevoked, an expired one FAILED_CertificateExpired,
    under -20 one not yet valid FAILED_CertificateNotYetValid (-20 has a code for it, which
    :func:`.iso20_charger.code20` spells WARNING_...); every other profile rule
    FAILED_CertChainError."""
    if verdict.valid:
        return OK
    rules = {c.rule for c in verdict.failures}
    if rules & _STRUCTURAL:
        return CHAIN_ERROR
    if Rule.REVOCATION in rules:
        return "FAILED_CertificateRevoked"
    if Rule.VALIDITY_NOT_AFTER in rules:
        return "FAILED_CertificateExpired"
    if Rule.VALIDITY_NOT_BEFORE in rules and version is ProtocolVersion.ISO15118_20:
        return "FAILED_CertificateNotYetValid"
    return CHAIN_ERROR


def _same_emaid(text: str | None, cert: x509.Certificate) -> bool:
    """The eMAID of a message names the contract certificate's (hyphens and a check
    digit present on one side only are ignored)."""
    try:
        said, own = parse_emaid(text or ""), emaid_from_certificate(cert)
    except EmaidError:
        return False
    digits = {said.check_digit, own.check_digit} - {None}
    return said.body == own.body and len(digits) <= 1


def _signature_code(message: Any, signer: bytes | None, element: str, failed: str) -> str:
    """OK when the header signature verifies with ``signer``'s key and covers ``element``.

    Coverage is asked of the signed element itself: its fragment holds everything inside
    it, so an optional ``Id`` nested in it (a CertificateUpdateReq's ContractSignature-
    CertChain) needs no reference of its own."""
    try:
        verified = xmldsig.verify(message, load_certificate(signer or b""), protocol="iso2",
                                  require_all_ids=False)
    except _PEER_ERRORS:
        return failed
    return OK if verified.covers(element) else failed


# ---------------------------------------------------------------------------- SECC


@dataclass
class SeccPnc:
    """The charger's PnC: trust in contracts, signature checks, certificate provisioning.

    ``contract_roots`` are the MO root(s) contracts must chain to (add the V2G root where
    contracts may be issued under it). ``certificate_backend`` answers installation and
    update requests (None: answered FAILED_NoCertificateAvailable); ``ocsp`` supplies OCSP
    responses for a contract chain (None: revocation not checked). ``oem_roots`` (-20,
    optional): the OEM roots a CertificateInstallationReq's OEM provisioning chain must
    reach (-2 sends the leaf alone, so only its signature can be checked). The same object
    serves -2 and -20 sessions; the -20 steps are :mod:`.pnc_iso20`'s."""

    contract_roots: tuple[x509.Certificate, ...] = ()
    certificate_backend: CertificateBackend | None = None
    ocsp: OcspHook | None = None
    clock: Callable[[], float] = time.time
    oem_roots: tuple[x509.Certificate, ...] = ()

    @classmethod
    def from_test_pki(cls, directory: str | Path, *,
                      clock: Callable[[], float] = time.time) -> SeccPnc:
        """Trust the MO root of a test PKI (``create_test_pki(dir, 2)``) and answer
        installations with its CPS chain and MO sub-CA (:class:`LocalContractBackend`).
        A -20 test PKI (``create_test_pki(dir, 20)``): both MO roots (secp521r1 and
        Ed448), its OEM roots, and :class:`~.pnc_backend_iso20.LocalContractBackend20`
        with both key families."""
        pki = _TestPkiFiles(Path(directory))
        if pki.version == 20:
            return cls._from_test_pki20(pki, clock)
        contract = pki.chains["contract"]
        cps = pki.chains["cps"]
        backend = LocalContractBackend(
            cps_chain=tuple(pki.der(n) for n in [cps["leaf"], *cps["intermediates"]]),
            cps_key=pki.key(cps["leaf"]),
            mo_chain=tuple(pki.der(n) for n in contract["intermediates"]),
            mo_key=pki.key(contract["intermediates"][0]), clock=clock)
        roots = tuple(load_certificate(pki.der(n)) for n in contract["trust_roots"])
        return cls(contract_roots=roots, certificate_backend=backend, clock=clock)

    @classmethod
    def _from_test_pki20(cls, pki: _TestPkiFiles, clock: Callable[[], float]) -> SeccPnc:
        from iso15118.session.pnc_backend_iso20 import ContractIssuer20, LocalContractBackend20

        issuers = {}
        for curve, suffix in (("SECP521", ""), ("X448", "_ed448")):
            cps, mo = pki.chains["cps" + suffix], pki.chains["contract" + suffix]
            issuers[curve] = ContractIssuer20(
                cps_chain=tuple(pki.der(n) for n in [cps["leaf"], *cps["intermediates"]]),
                cps_key=pki.key(cps["leaf"]),
                mo_chain=tuple(pki.der(n) for n in mo["intermediates"]),
                mo_key=pki.key(mo["intermediates"][0]))

        def roots(*chains: str) -> tuple[x509.Certificate, ...]:
            names = dict.fromkeys(n for c in chains for n in pki.chains[c]["trust_roots"])
            return tuple(load_certificate(pki.der(n)) for n in names)

        return cls(contract_roots=roots("contract", "contract_ed448"),
                   oem_roots=roots("oem", "oem_ed448"),
                   certificate_backend=LocalContractBackend20(issuers, clock=clock),
                   clock=clock)

    # ------------------------------------------------------------- called by the core

    def handle(self, secc: SeccSession, name: str, extras: dict[str, Any], message: Any,
               step: Step, now: float) -> str:
        """PaymentDetails, CertificateInstallation or CertificateUpdate: the response code
        (extras filled for the response), or DEFER."""
        if secc.protocol == "iso20":
            return pnc_iso20.certificate_installation(self, secc, extras, message, step, now)
        if name == "PaymentDetails":
            code = self.check_contract(secc.ev.contract_chain, secc.ev.emaid)
            if code == OK:
                secc.gen_challenge = secrets.token_bytes(16)
                extras["timestamp"] = int(self.clock())
            return code
        return self._certificate(secc, name, extras, message, step, now)

    def check_authorization(self, secc: SeccSession, extras: dict[str, Any],
                            message: Any) -> str:
        """AuthorizationReq (8.4.3.7): signed with the contract key of PaymentDetails,
        carrying the GenChallenge of PaymentDetailsRes (-20: :mod:`.pnc_iso20`)."""
        if secc.protocol == "iso20":
            return pnc_iso20.authorization_code(self, secc, extras, message)
        chain = secc.ev.contract_chain
        code = _signature_code(message, chain[0] if chain else None, "AuthorizationReq",
                               SIGNATURE_ERROR)
        if code != OK:
            return code
        challenge = extras.get("gen_challenge")
        expected = secc.gen_challenge
        if not isinstance(challenge, bytes) or expected is None \
                or not hmac.compare_digest(challenge, expected):
            return "FAILED_ChallengeInvalid"
        return OK

    def check_metering_receipt(self, secc: SeccSession, message: Any) -> str:
        """MeteringReceiptReq (8.4.3.10) or -20 MeteringConfirmationReq (its
        SignedMeteringData): signed with the contract key."""
        chain = secc.ev.contract_chain
        if secc.protocol == "iso20":
            return pnc_iso20.metering_code(chain, message)
        return _signature_code(message, chain[0] if chain else None, "MeteringReceiptReq",
                               "FAILED_MeteringSignatureNotValid")

    # ------------------------------------------------------------- the checks

    def check_contract(self, chain: Sequence[bytes], emaid: str | None,
                       version: ProtocolVersion = ProtocolVersion.ISO15118_2) -> str:
        """A contract chain (DER, leaf first) and the eMAID sent with it: OK or FAILED_*."""
        if not chain:
            return CHAIN_ERROR
        try:
            certs = [load_certificate(c) for c in chain]
        except _PEER_ERRORS:
            return CHAIN_ERROR
        responses: list[bytes] = []
        if self.ocsp is not None:
            try:
                responses = list(self.ocsp(tuple(chain)))
            except (Iso15118Error, OSError):
                responses = []  # the responder is away: revocation stays "not checked"
        try:
            verdict = validate_chain(certs[0], certs[1:], self.contract_roots,
                                     role=Role.CONTRACT, version=version,
                                     at=_at(self.clock), ocsp_responses=responses)
        except _PEER_ERRORS:
            return CHAIN_ERROR
        code = _verdict_code(verdict, version)
        # Assumed: the eMAID of the request must be the certificate's (the standard has
        # no code of its own for a mismatch; a chain that is not the contract named).
        if code == OK and emaid is not None and not _same_emaid(emaid, certs[0]):
            return CHAIN_ERROR
        return code

    def _certificate(self, secc: SeccSession, name: str, extras: dict[str, Any],
                     message: Any, step: Step, now: float) -> str:
        body = message.body.body_element
        if name == "CertificateInstallation":
            # -2 sends the OEM provisioning leaf alone: without its sub-CAs the chain
            # cannot be validated here, only the signature checked with its key
            signer = getattr(body, "oem_provisioning_cert", None)
            action, element = "Install", "CertificateInstallationReq"
        else:
            chain = chain_der(getattr(body, "contract_signature_cert_chain", None))
            code = self.check_contract(chain, getattr(body, "emaid", None))
            if code != OK:
                return code
            signer = chain[0]
            action, element = "Update", "CertificateUpdateReq"
        code = _signature_code(message, signer, element, SIGNATURE_ERROR)
        if code != OK:
            return code
        exi = secc.received_exi(message, "iso2")
        if exi is None:
            return "FAILED"
        namespace = APP_PROTOCOLS[secc.protocol or "iso2"].namespace
        step.events.append(CertificateInstallationRequested(now, action, exi, namespace))
        if self.certificate_backend is None:
            return NO_CERTIFICATE
        try:
            made = self.certificate_backend(exi, message)
            if made is None:
                return DEFER
            response, signature = response_parts(made)
        except _PEER_ERRORS:
            return NO_CERTIFICATE
        code = getattr(response.response_code, "value", "FAILED")
        extras["response"] = response
        extras["signature"] = signature
        return str(code)


# ---------------------------------------------------------------------------- EVCC


@dataclass
class EvccPnc:
    """The vehicle's PnC: its contract (if any), OEM provisioning identity and trust.

    ``contract_chain`` is DER, leaf first, with ``contract_key``; ``oem_cert`` and
    ``oem_key`` the OEM provisioning certificate (for CertificateInstallation; -20 also
    sends its sub-CAs, ``oem_chain``, and ``prioritized_emaids``, the eMAIDs it asks for);
    ``v2g_roots`` the roots the CPS chain must reach, also sent as
    ListOfRootCertificateIDs. ``contract_roots`` (optional) are MO roots an installed
    contract chain must reach. A new contract is kept in memory and, with ``directory``,
    written to ``directory/ev_contract/``."""

    v2g_roots: tuple[x509.Certificate, ...]
    contract_chain: tuple[bytes, ...] = ()
    #: secp256r1 (-2); secp521r1 or Ed448 (-20)
    contract_key: ec.EllipticCurvePrivateKey | ed448.Ed448PrivateKey | None = None
    emaid: str | None = None
    oem_cert: bytes | None = None
    oem_key: ec.EllipticCurvePrivateKey | ed448.Ed448PrivateKey | None = None
    contract_roots: tuple[x509.Certificate, ...] = ()
    #: Policy: CertificateUpdate once the contract expires within this many days (21, as
    #: RISE-V2G decides; ISO 15118-2 leaves the horizon to the EV).
    update_within_days: int = DEFAULT_EXPIRY_WARNING_DAYS
    directory: Path | None = None
    clock: Callable[[], float] = time.time
    oem_chain: tuple[bytes, ...] = ()
    prioritized_emaids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.v2g_roots:
            raise ValueError("EvccPnc needs the V2G root(s) (ListOfRootCertificateIDs)")
        if not (self.contract_chain and self.contract_key) \
                and not (self.oem_cert and self.oem_key):
            raise ValueError("EvccPnc needs a contract (chain and key) or an OEM "
                             "provisioning certificate and key to install one")
        if self.emaid is None and self.contract_chain:
            try:
                self.emaid = emaid_from_certificate(load_certificate(self.contract_chain[0])
                                                    ).normalized
            except _PEER_ERRORS:
                self.emaid = None

    @classmethod
    def from_test_pki(cls, directory: str | Path, *, contract: bool = True,
                      clock: Callable[[], float] = time.time,
                      curve: str = "SECP521") -> EvccPnc:
        """The vehicle of a test PKI: its OEM provisioning certificate, the V2G root, and
        the contract installed earlier (``ev_contract/``) or the test PKI's, when present
        and ``contract`` (False: none, so the session installs one first). Of a -20 test
        PKI, ``curve`` picks the vehicle's key family: "SECP521" (secp521r1 OEM key and
        contract) or "X448" (Ed448 ones); both V2G roots are trusted."""
        base = Path(directory)
        pki = _TestPkiFiles(base)
        suffix = "_ed448" if pki.version == 20 and curve == "X448" else ""
        oem, cps, mo = (pki.chains["oem" + suffix], pki.chains["cps"],
                        pki.chains["contract" + suffix])
        v2g_roots = list(cps["trust_roots"])
        if pki.version == 20:
            v2g_roots += [n for n in pki.chains["cps_ed448"]["trust_roots"]
                          if n not in v2g_roots]
        chain: tuple[bytes, ...] = ()
        key: Any = None
        installed = base / "ev_contract"
        if contract and (installed / "key.pem").exists():
            chain = tuple(c.public_bytes(serialization.Encoding.DER)
                          for c in load_certificates((installed / "chain.pem").read_bytes()))
            key = load_private_key((installed / "key.pem").read_bytes())
        elif contract and pki.has(mo["leaf"]):
            chain = tuple(pki.der(n) for n in [mo["leaf"], *mo["intermediates"]])
            key = pki.key(mo["leaf"])
        return cls(
            v2g_roots=tuple(load_certificate(pki.der(n)) for n in v2g_roots),
            contract_chain=chain, contract_key=key,
            oem_cert=pki.der(oem["leaf"]) if pki.has(oem["leaf"]) else None,
            oem_key=pki.key(oem["leaf"]) if pki.has(oem["leaf"]) else None,
            oem_chain=tuple(pki.der(n) for n in oem["intermediates"] if pki.has(n)),
            contract_roots=tuple(load_certificate(pki.der(n)) for n in mo["trust_roots"]),
            directory=base, clock=clock)

    # ------------------------------------------------------------- called by the core

    def first_step(self, evcc: EvccSession) -> str:
        """After PaymentServiceSelection(Contract): install without a usable contract,
        update one that expires within ``update_within_days``, else PaymentDetails.
        -20, after AuthorizationSetup: CertificateInstallation or Authorization."""
        if evcc.protocol == "iso20":
            return "CertificateInstallation" if pnc_iso20.wants_installation(self, evcc) \
                else "Authorization"
        try:
            leaf = load_certificate(self.contract_chain[0]) if self.contract_key else None
        except _PEER_ERRORS:
            leaf = None
        at = _at(self.clock)
        if leaf is None or not leaf.not_valid_before_utc <= at <= leaf.not_valid_after_utc:
            # without an OEM identity the EV can only show what it has (and be refused)
            return "CertificateInstallation" if self.oem_key else "PaymentDetails"
        if contract_update_due(leaf, at, self.update_within_days):
            return "CertificateUpdate"
        return "PaymentDetails"

    def request(self, evcc: EvccSession, name: str) -> tuple[Any, Any]:
        """The request body for a PnC step and its header Signature (or None)."""
        if evcc.protocol == "iso20":
            return pnc_iso20.evcc_request(self, evcc, name)
        sid = evcc.session_id
        if name == "PaymentDetails":
            return iso2.PaymentDetailsReqType(
                emaid=self.emaid or "", contract_signature_cert_chain=chain_type(
                    self.contract_chain)), None
        body: Any
        key = self.contract_key
        if name == "CertificateInstallation":
            body = iso2.CertificateInstallationReqType(
                id="id1", oem_provisioning_cert=self.oem_cert or b"",
                list_of_root_certificate_ids=self._root_ids())
            key = self.oem_key
        elif name == "CertificateUpdate":
            body = iso2.CertificateUpdateReqType(
                id="id1", contract_signature_cert_chain=chain_type(self.contract_chain),
                emaid=self.emaid or "", list_of_root_certificate_ids=self._root_ids())
        elif name == "Authorization":
            body = iso2.AuthorizationReqType(id="id1", gen_challenge=evcc.evse.gen_challenge)
        elif name == "MeteringReceipt":
            assert evcc.dialect is not None
            body = evcc.dialect.request("MeteringReceipt", evcc)
        else:
            raise ValueError(f"{name} is not a PnC request")
        assert isinstance(key, ec.EllipticCurvePrivateKey), \
            f"{name} needs a secp256r1 key the EvccPnc does not have"
        return body, signature_for(body, sid, key, [body.id])

    def install(self, evcc: EvccSession, done: str, message: Any) -> str | None:
        """Take the contract of a CertificateInstallationRes/UpdateRes; None when it is
        installed, else why not (the session then ends)."""
        if evcc.protocol == "iso20":
            return pnc_iso20.install_contract(self, message)
        body = message.body.body_element
        try:
            cps = [load_certificate(c) for c in chain_der(body.sa_provisioning_certificate_chain)]
            if not cps:
                return f"{done}Res carries no SAProvisioningCertificateChain"
            verdict = validate_chain(cps[0], cps[1:], self.v2g_roots, role=Role.CPS,
                                     version=ProtocolVersion.ISO15118_2, at=_at(self.clock))
            if not verdict.valid:
                return f"{done}Res: the CPS chain is not valid ({_reasons(verdict)})"
            verified = xmldsig.verify(message, cps[0], protocol="iso2",
                                      require_all_ids=False)
            missing = [p for p in _SIGNED_RESPONSE_PARTS if not verified.covers(p)]
            if missing:
                return f"{done}Res: the CPS signature does not cover {', '.join(missing)}"
            chain = chain_der(body.contract_signature_cert_chain)
            leaf = load_certificate(chain[0])
            receiver = self.oem_key if done == "CertificateInstallation" else self.contract_key
            if not isinstance(receiver, ec.EllipticCurvePrivateKey):
                return f"{done}Res: no key to decrypt the contract key with"
            # [V2G2-823]: the decrypted key must belong to the new contract certificate
            key = decrypt_contract_key_iso2(
                body.contract_signature_encrypted_private_key.value, body.dh_public_key.value,
                receiver, leaf)
            emaid = body.emaid.value
            if not _same_emaid(emaid, leaf):
                return f"{done}Res: eMAID {emaid!r} is not the contract certificate's"
            if self.contract_roots:
                verdict = validate_chain(leaf, [load_certificate(c) for c in chain[1:]],
                                         self.contract_roots, role=Role.CONTRACT,
                                         version=ProtocolVersion.ISO15118_2, at=_at(self.clock))
                if not verdict.valid:
                    return f"{done}Res: the contract chain is not valid ({_reasons(verdict)})"
        except _PEER_ERRORS as exc:
            return f"{done}Res rejected: {exc}"
        self.contract_chain, self.contract_key = chain, key
        self.emaid = parse_emaid(emaid).normalized
        if self.directory is not None:
            self._store(self.directory / "ev_contract")
        return None

    # ------------------------------------------------------------- helpers

    def _root_ids(self) -> iso2.ListOfRootCertificateIDsType:
        # Assumed: the V2G roots only (the roots the CPS chain must reach), and
        # X509IssuerName spelt as RFC 4514 text; neither was checked against the standard
        return iso2.ListOfRootCertificateIDsType(root_certificate_id=[
            iso2.X509IssuerSerialType(x509_issuer_name=r.issuer.rfc4514_string(),
                                      x509_serial_number=r.serial_number)
            for r in self.v2g_roots[:20]])

    def _store(self, where: Path) -> None:
        assert self.contract_key is not None
        where.mkdir(parents=True, exist_ok=True)
        pem = b"".join(load_certificate(c).public_bytes(serialization.Encoding.PEM)
                       for c in self.contract_chain)
        (where / "chain.pem").write_bytes(pem)
        key_path = where / "key.pem"
        key_path.touch(mode=0o600)
        key_path.write_bytes(self.contract_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))


def _reasons(verdict: ChainVerdict) -> str:
    return "; ".join(f"{c.rule.value} on certificate {c.index}" for c in verdict.failures)


class _TestPkiFiles:
    """The index.json of :func:`iso15118.pki.create_test_pki` and the files it names."""

    def __init__(self, base: Path) -> None:
        self.base = base
        index = json.loads((base / "index.json").read_text())
        self.version = int(index.get("version", 2))
        self.certificates: dict[str, Any] = index["certificates"]
        self.chains: dict[str, Any] = index["chains"]

    def has(self, name: str) -> bool:
        entry = self.certificates.get(name)
        return entry is not None and (self.base / entry["der"]).exists() \
            and (self.base / entry["key"]).exists()

    def der(self, name: str) -> bytes:
        return (self.base / self.certificates[name]["der"]).read_bytes()

    def key(self, name: str) -> Any:
        return load_private_key((self.base / self.certificates[name]["key"]).read_bytes())
