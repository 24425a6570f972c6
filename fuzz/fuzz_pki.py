"""atheris harness: certificate loading and chain validation (:mod:`iso15118.pki`).

Input: one selector byte, then certificates, either a PEM bundle or DER certificates back
to back (leaf first, then sub-CAs in any order), as an EVSE gets them in a
``ContractSignatureCertChain``. The selector's low two bits pick the role (SECC,
contract, OEM, CPS), bit 2 the generation (-2 or -20). The trust roots are those of the
test PKI of that generation; the validation time is fixed so that runs are reproducible.

Contract: loading raises :class:`iso15118.pki.CertificateLoadError` (an Iso15118Error)
for what is not a certificate, and ``validate_chain`` turns everything else into a
verdict; nothing else may escape.

Known findings (tests/fuzz/test_fuzz_findings.py). First, ``load_certificate`` maps
cryptography's ``ValueError`` to CertificateLoadError but not its ``InvalidVersion``
(an X.509 version field other than 0..2). Second, cryptography parses the subject,
issuer, extensions and public key of a certificate lazily, on first access, so a
certificate with a malformed or unsupported one of those loads fine and
``validate_chain`` then leaks cryptography's exception (``ValueError``, ``KeyError``,
``UnsupportedAlgorithm``) instead of a verdict or a CertificateLoadError. With
``--allow-known`` the harness skips inputs with a bad version, touches the lazy parts
itself first and skips certificates that fail there, so a campaign keeps looking for
anything *else* in the chain logic; without it the harness stops at the first one, as
it should for checking a fix.

    python fuzz/fuzz_pki.py fuzz/corpus/pki -max_total_time=60
"""

from __future__ import annotations

import warnings
from typing import Any

import _harness

ROLES = ("secc", "contract", "oem", "cps")


def lazily_parsed_parts_load(cert: Any) -> bool:
    """Whether every part cryptography parses on access can be parsed (the finding)."""
    try:
        cert.subject.rfc4514_string()
        cert.issuer.rfc4514_string()
        list(cert.extensions)
        cert.public_key()
        cert.signature_hash_algorithm  # noqa: B018 - accessed for its parse error
    except Exception:  # noqa: BLE001 - exactly what the finding is about
        return False
    return True


def split_der(data: bytes, limit: int = 8) -> list[bytes]:
    """DER SEQUENCEs back to back -> the encodings; a short or odd tail ends the list."""
    out: list[bytes] = []
    pos = 0
    while pos + 2 <= len(data) and len(out) < limit:
        if data[pos] != 0x30:
            break
        first = data[pos + 1]
        if first < 0x80:
            length, header = first, 2
        else:
            n = first & 0x7F
            if n == 0 or n > 4 or pos + 2 + n > len(data):
                break
            length, header = int.from_bytes(data[pos + 2:pos + 2 + n], "big"), 2 + n
        end = pos + header + length
        if end > len(data):
            break
        out.append(data[pos:end])
        pos = end
    return out or [data]


def main() -> None:
    args, argv = _harness.parse_args()
    from cryptography.x509 import InvalidVersion

    with _harness.instrumented(args):
        from iso15118.errors import Iso15118Error
        from iso15118.pki import build_test_pki, load_certificate, load_certificates
        from iso15118.pki.chain import validate_chain

    # cryptography warns about lax DER (negative serials) it still accepts: noise here
    warnings.simplefilter("ignore")
    pkis = {2: build_test_pki(2), 20: build_test_pki(20)}
    roots = {v: [p.cert(n) for n in ("v2g_root", "mo_root", "oem_root") if n in p.certificates]
             for v, p in pkis.items()}

    def test_one_input(data: bytes) -> None:
        if not data:
            return
        selector, body = data[0], data[1:]
        version = 20 if selector & 4 else 2
        role = ROLES[selector & 3]
        try:
            if b"-----BEGIN" in body:
                certs = load_certificates(body)
            else:
                certs = [load_certificate(der) for der in split_der(body)]
        except Iso15118Error:
            return
        except InvalidVersion:
            if _harness.known(args, "pki-invalid-version"):
                return
            raise
        if not certs:
            return
        if args.allow_known and not all(lazily_parsed_parts_load(c) for c in certs):
            _harness.known(args, "pki-lazy-parse")
            return
        verdict = validate_chain(certs[0], certs[1:], roots[version], role=role,
                                 version=version, at=pkis[version].generated_at)
        assert verdict.checks, "a verdict without checks"
        str(verdict)

    _harness.fuzz(args, argv, test_one_input)


if __name__ == "__main__":
    main()
