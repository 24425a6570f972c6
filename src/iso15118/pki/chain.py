"""Validation of ISO 15118-2 / -20 certificate chains against their profiles.

One call answers "is this leaf good for this purpose?":

    verdict = validate_chain(leaf, intermediates, trust_roots, role=Role.SECC,
                             version=ProtocolVersion.ISO15118_2)

The path is built from the leaf upwards by issuer/subject name (intermediates may come in any
order, as they do in a ``SubCertificates`` element), ends at a self-signed root of the given
trust store, and every certificate on it is checked against RFC 5280 path validation
(signatures, validity, basicConstraints, pathLenConstraint, keyUsage) and against the
generation's profile (algorithms, curve, depth, DER size, the leaf's keyUsage and subject
domainComponent for its role). See :mod:`iso15118.pki.profiles` for the rule sources.

Revocation is checked only against OCSP responses the caller passes in (this module does
no I/O); a certificate without one is reported as "not checked", never as valid or invalid.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Sequence
from typing import Protocol

from cryptography import x509
from cryptography.x509 import ocsp

from iso15118.pki import ocsp as _ocsp
from iso15118.pki.certs import (
    curve_of,
    der_of,
    describe_key,
    domain_components,
    fingerprint_sha256,
    is_self_signed,
    load_certificate,
    signature_is_valid,
)
from iso15118.pki.profiles import (
    PROFILES,
    KeyUsageBit,
    ProtocolVersion,
    Role,
    VersionProfile,
    key_usage_bits,
)
from iso15118.pki.verdict import CertificateSummary, ChainVerdict, Check, Outcome, Rule

CertLike = x509.Certificate | bytes


class _Adder(Protocol):
    def __call__(self, rule: Rule, index: int, ok: bool | None, detail: str = "") -> None: ...


#: Guard against loops in maliciously crafted intermediate sets.
_MAX_PATH = 16


def _as_cert(value: CertLike) -> x509.Certificate:
    return value if isinstance(value, x509.Certificate) else load_certificate(value)


def _same(a: x509.Certificate, b: x509.Certificate) -> bool:
    return der_of(a) == der_of(b)


def build_path(
    leaf: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    trust_roots: Sequence[x509.Certificate],
) -> tuple[list[x509.Certificate], bool]:
    """The path from ``leaf`` upwards, and whether it ends at a trust root.

    At each step a trust root that verifies the current certificate wins; otherwise an
    intermediate with the issuer's name is taken, preferring one whose key verifies (so a
    certificate with a bad signature still gets its issuer, and the verdict names the bad
    signature rather than a missing issuer).
    """
    path = [leaf]
    current = leaf
    while len(path) < _MAX_PATH:
        if len(path) > 1 and is_self_signed(current):
            return path, any(_same(current, r) for r in trust_roots)
        anchor = next(
            (
                r
                for r in trust_roots
                if r.subject == current.issuer and signature_is_valid(current, r.public_key())
            ),
            None,
        )
        if anchor is not None:
            if not _same(anchor, current):
                path.append(anchor)
            return path, True
        named = [
            c
            for c in intermediates
            if c.subject == current.issuer and not any(_same(c, p) for p in path)
        ]
        if not named:
            by_name = next((r for r in trust_roots if r.subject == current.issuer), None)
            if by_name is not None and not _same(by_name, current):
                path.append(by_name)
                return path, True
            return path, False
        verified = [c for c in named if signature_is_valid(current, c.public_key())]
        current = (verified or named)[0]
        path.append(current)
    return path, False


def validate_chain(
    leaf: CertLike,
    intermediates: Iterable[CertLike] = (),
    trust_roots: Iterable[CertLike] = (),
    *,
    role: Role | str,
    version: ProtocolVersion | int | str = ProtocolVersion.ISO15118_2,
    at: _dt.datetime | None = None,
    ocsp_responses: Iterable[bytes | ocsp.OCSPResponse] = (),
    profile: VersionProfile | None = None,
) -> ChainVerdict:
    """Validate ``leaf`` for ``role`` under ``version``'s profile at time ``at`` (default now).

    ``intermediates`` are the sub-CA certificates as received (any order); ``trust_roots``
    the self-signed roots this side trusts for the role (V2G root for SECC/CPS, MO or V2G
    root for contract, OEM root for OEM provisioning certificates). ``ocsp_responses`` are
    DER OCSP responses; each certificate below the root that none of them covers is
    reported as revocation ``NOT_CHECKED``. ``profile`` overrides the generation's table.
    """
    role_ = role if isinstance(role, Role) else Role(role)
    version_ = ProtocolVersion.parse(version)
    prof = profile if profile is not None else PROFILES[version_]
    now = at if at is not None else _dt.datetime.now(_dt.timezone.utc)
    if now.tzinfo is None:
        now = now.replace(tzinfo=_dt.timezone.utc)

    leaf_cert = _as_cert(leaf)
    pool = [_as_cert(c) for c in intermediates]
    roots = [_as_cert(c) for c in trust_roots]
    responses = list(ocsp_responses)
    path, anchored = build_path(leaf_cert, pool, roots)

    checks: list[Check] = []

    def add(rule: Rule, index: int, ok: bool | None, detail: str = "") -> None:
        outcome = Outcome.NOT_CHECKED if ok is None else (Outcome.PASSED if ok else Outcome.FAILED)
        checks.append(Check(rule, index, outcome, detail))

    top = len(path) - 1
    top_cert = path[top]
    top_self_signed = top > 0 and is_self_signed(top_cert)

    # Chain construction and trust anchor.
    if anchored:
        add(Rule.CHAIN_BUILT, top, True, "path reaches a trust root")
        if is_self_signed(top_cert):
            add(Rule.TRUST_ANCHOR, top, True, "self-signed root in the trust store")
        else:
            add(Rule.TRUST_ANCHOR, top, False, "trust store entry is not a self-signed root")
    elif top_self_signed:
        add(Rule.CHAIN_BUILT, top, True, "path reaches a self-signed root")
        add(Rule.TRUST_ANCHOR, top, False, "self-signed root is not in the trust store")
    else:
        add(
            Rule.CHAIN_BUILT,
            top,
            False,
            f"issuer {top_cert.issuer.rfc4514_string()!r} not among intermediates or roots",
        )
        add(Rule.TRUST_ANCHOR, top, None, "chain does not reach any root")

    # Depth: certificates strictly between the leaf and the root.
    has_root = anchored or top_self_signed
    sub_cas = max(0, len(path) - (2 if has_root else 1))
    if sub_cas > prof.max_sub_cas:
        add(
            Rule.CHAIN_DEPTH,
            prof.max_sub_cas + 1,
            False,
            f"{sub_cas} sub-CAs; at most {prof.max_sub_cas} allowed",
        )
    else:
        add(Rule.CHAIN_DEPTH, 0, True, f"{sub_cas} sub-CAs")

    for index, cert in enumerate(path):
        _check_certificate(add, prof, role_, path, index, cert, now, has_root)
        if index < top:
            _check_revocation(add, responses, cert, path[index + 1], index, now)
        elif not has_root:
            add(Rule.REVOCATION, index, None, "issuer not available")

    summaries = tuple(
        CertificateSummary(
            index=i,
            subject=c.subject.rfc4514_string(),
            issuer=c.issuer.rfc4514_string(),
            serial_number=c.serial_number,
            fingerprint_sha256=fingerprint_sha256(c),
        )
        for i, c in enumerate(path)
    )
    return ChainVerdict(
        role=role_.value,
        version=version_.value,
        at=now.isoformat(),
        certificates=summaries,
        checks=tuple(checks),
    )


def _check_certificate(
    add: _Adder,
    prof: VersionProfile,
    role: Role,
    path: list[x509.Certificate],
    index: int,
    cert: x509.Certificate,
    now: _dt.datetime,
    has_root: bool,
) -> None:
    is_leaf = index == 0
    is_root = has_root and index == len(path) - 1 and index > 0

    # Size: the schema of -2 carries certificates of at most 800 bytes.
    if prof.max_der_size is not None:
        size = len(der_of(cert))
        add(Rule.CERTIFICATE_SIZE, index, size <= prof.max_der_size, f"{size} bytes")

    oid = cert.signature_algorithm_oid
    add(
        Rule.SIGNATURE_ALGORITHM,
        index,
        oid in prof.signature_algorithms,
        getattr(oid, "_name", oid.dotted_string),
    )
    key = cert.public_key()
    curve = curve_of(key)
    add(Rule.PUBLIC_KEY, index, curve is not None and curve in prof.curves, describe_key(key))

    not_before = cert.not_valid_before_utc
    not_after = cert.not_valid_after_utc
    add(Rule.VALIDITY_NOT_BEFORE, index, not_before <= now, f"notBefore {not_before.isoformat()}")
    add(Rule.VALIDITY_NOT_AFTER, index, now <= not_after, f"notAfter {not_after.isoformat()}")

    # Signature of this certificate by the next one up (the root by itself).
    if index + 1 < len(path):
        ok = signature_is_valid(cert, path[index + 1].public_key())
        add(Rule.SIGNATURE, index, ok, f"signed by certificate {index + 1}")
    elif is_root:
        add(Rule.SIGNATURE, index, signature_is_valid(cert, key), "self-signature")
    else:
        add(Rule.SIGNATURE, index, None, "issuer not available")

    # basicConstraints: present and critical everywhere; cA only on CAs.
    try:
        bc_ext = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound:
        add(Rule.BASIC_CONSTRAINTS, index, False, "basicConstraints missing")
        bc = None
    else:
        bc = bc_ext.value
        add(
            Rule.BASIC_CONSTRAINTS,
            index,
            bc_ext.critical,
            "critical" if bc_ext.critical else "basicConstraints not critical",
        )
    if bc is not None:
        if is_leaf:
            add(Rule.CA_FLAG, index, not bc.ca, "leaf must have cA=FALSE")
        else:
            add(Rule.CA_FLAG, index, bc.ca, "issuer must have cA=TRUE")
            if bc.ca and bc.path_length is not None:
                below = index - 1  # intermediates between this CA and the leaf
                add(
                    Rule.PATH_LENGTH,
                    index,
                    below <= bc.path_length,
                    f"pathLenConstraint {bc.path_length}, {below} sub-CA(s) below",
                )
    elif not is_leaf:
        add(Rule.CA_FLAG, index, False, "issuer without basicConstraints")

    # keyUsage: present, critical, with the bits of the position/role.
    required = prof.leaves[role].key_usage if is_leaf else prof.ca_key_usage
    try:
        ku_ext = cert.extensions.get_extension_for_class(x509.KeyUsage)
    except x509.ExtensionNotFound:
        add(Rule.KEY_USAGE, index, False, "keyUsage missing")
    else:
        have = key_usage_bits(ku_ext.value)
        missing = sorted(b.value for b in required - have)
        if not ku_ext.critical:
            add(Rule.KEY_USAGE, index, False, "keyUsage not critical")
        elif missing:
            add(Rule.KEY_USAGE, index, False, "missing " + ", ".join(missing))
        else:
            add(Rule.KEY_USAGE, index, True, ", ".join(sorted(b.value for b in have)))
        if is_leaf and KeyUsageBit.KEY_CERT_SIGN in have:
            add(Rule.CA_FLAG, index, False, "leaf has keyCertSign")

    if is_leaf:
        leaf_profile = prof.leaves[role]
        dcs = domain_components(cert.subject)
        expected = leaf_profile.domain_component
        if expected in dcs and len(set(dcs)) == 1:
            add(Rule.DOMAIN_COMPONENT, index, True, f"DC={expected}")
        elif not dcs and not leaf_profile.domain_component_required:
            add(Rule.DOMAIN_COMPONENT, index, True, f"no DC (optional for {role.value})")
        else:
            found = ",".join(dcs) or "none"
            add(Rule.DOMAIN_COMPONENT, index, False, f"DC={found}, expected DC={expected}")


def _check_revocation(
    add: _Adder,
    responses: list[bytes | ocsp.OCSPResponse],
    cert: x509.Certificate,
    issuer: x509.Certificate,
    index: int,
    now: _dt.datetime,
) -> None:
    if not responses:
        add(Rule.REVOCATION, index, None, "no OCSP response supplied")
        return
    result = _ocsp.find_and_check(responses, cert, issuer, now)
    if result is None:
        add(Rule.REVOCATION, index, None, "no supplied OCSP response covers this certificate")
    elif isinstance(result, Exception):
        add(Rule.REVOCATION, index, None, f"OCSP response rejected: {result}")
    elif result.status is _ocsp.CertStatus.GOOD:
        add(Rule.REVOCATION, index, True, "OCSP: good")
    elif result.status is _ocsp.CertStatus.REVOKED:
        reason = f" ({result.revocation_reason})" if result.revocation_reason else ""
        add(Rule.REVOCATION, index, False, f"OCSP: revoked{reason}")
    else:
        add(Rule.REVOCATION, index, None, "OCSP: responder does not know the certificate")
