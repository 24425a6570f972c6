"""atheris harness: certificate loading and chain validation (:mod:`iso15118.pki`).

Input: one selector byte, then certificates, either a PEM bundle or DER certificates back
to back (leaf first, then sub-CAs in any order), as an EVSE gets them in a
``ContractSignatureCertChain``. The selector's low two bits pick the role (SECC,
contract, OEM, CPS), bit 2 the generation (-2 or -20). The trust roots are those of the
test PKI of that generation; the validation time is fixed so that runs are reproducible.

Contract: loading raises :class:`iso15118.pki.CertificateLoadError` (an Iso15118Error)
for what is not a certificate, and ``validate_chain`` turns everything else into a
verdict; nothing else may escape.

The findings of this harness (cryptography's exceptions leaking from ``load_certificate``
and, through lazily parsed fields, from ``validate_chain``) are fixed and kept as
regression tests in tests/fuzz/test_fuzz_findings.py; nothing is tolerated here.

    python fuzz/fuzz_pki.py fuzz/corpus/pki -max_total_time=60
"""

from __future__ import annotations

import warnings

import _harness

ROLES = ("secc", "contract", "oem", "cps")


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
        if not certs:
            return
        verdict = validate_chain(certs[0], certs[1:], roots[version], role=role,
                                 version=version, at=pkis[version].generated_at)
        assert verdict.checks, "a verdict without checks"
        str(verdict)

    _harness.fuzz(args, argv, test_one_input)


if __name__ == "__main__":
    main()
