"""eMAID: the contract identifier in a contract certificate's subject CN.

Syntax (ISO 15118-2 Annex H, the eMI3/DIN SPEC 91286 "EMA-ID"): ::

    <country 2 letters> [-] <provider 3 alphanumerics> [-] <instance 9 alphanumerics>
    [ [-] <check digit 1 alphanumeric> ]

i.e. 14 characters without, 15 with the check digit, plus three optional hyphens
(``DE8AA1A2B3C4D5`` ... ``DE-8AA-1A2B3C4D5-X``). Matching is case-insensitive; the
normalised form is upper case. The message schema's eMAIDType (14..15 characters) carries the
form without separators.

Check digit: the algorithm of the eMI3 paper "Check Digit Calculation for Contract-IDs"
(referenced by DIN SPEC 91286). Each of the 14 characters is mapped to a 2x2 matrix whose
first row is over Z/2 and second row over Z/3; with P1 = [[0,1],[1,1]] (mod 2) and
P2 = [[0,1],[1,2]] (mod 3) the check digit's rows are

    t1 = sum_i row1(q_i) . P1^i            (mod 2)
    t2 = sum_i row2(q_i) . P2^i . (-P2^-15) (mod 3)        (i = 1..14)

and the character whose matrix is [[t1],[t2]] is the check digit. The character <-> matrix
mapping used here: for a character of value v (0-9 -> 0-9, A-Z -> 10-35), row 1 is the two
bits of v // 9 and row 2 the two base-3 digits of v mod 9. This reproduces the published
examples of the paper (see the tests).

The expiry rule: an EVCC should renew its contract certificate (CertificateUpdateReq) when it
expires soon. ISO 15118-2 leaves the horizon to the implementation via the
``OK_CertificateExpiresSoon`` response code; :data:`DEFAULT_EXPIRY_WARNING_DAYS` follows the
21 days RISE-V2G uses for that decision (not a number verified in the standard).
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass

from cryptography import x509

from iso15118.pki.certs import common_name
from iso15118.pki.errors import EmaidError

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}

#: Days before notAfter from which a contract certificate counts as "expires soon".
DEFAULT_EXPIRY_WARNING_DAYS = 21

_EMAID = re.compile(
    r"^(?P<country>[A-Z]{2})(?P<s1>-?)(?P<provider>[A-Z0-9]{3})(?P<s2>-?)"
    r"(?P<instance>[A-Z0-9]{9})(?:(?P<s3>-?)(?P<check>[A-Z0-9]))?$"
)

Matrix = tuple[tuple[int, int], tuple[int, int]]


def _mul(a: Matrix, b: Matrix, mod: int) -> Matrix:
    def cell(i: int, j: int) -> int:
        return (a[i][0] * b[0][j] + a[i][1] * b[1][j]) % mod

    return ((cell(0, 0), cell(0, 1)), (cell(1, 0), cell(1, 1)))


def _powers(p: Matrix, count: int, mod: int) -> list[Matrix]:
    out = [p]
    while len(out) < count:
        out.append(_mul(out[-1], p, mod))
    return out


def _vec_mul(v: tuple[int, int], m: Matrix, mod: int) -> tuple[int, int]:
    return ((v[0] * m[0][0] + v[1] * m[1][0]) % mod, (v[0] * m[0][1] + v[1] * m[1][1]) % mod)


_P1: Matrix = ((0, 1), (1, 1))
_P2: Matrix = ((0, 1), (1, 2))
_P1_POWERS = _powers(_P1, 15, 2)
_P2_POWERS = _powers(_P2, 15, 3)


def _inverse_mod3(m: Matrix) -> Matrix:
    det = (m[0][0] * m[1][1] - m[0][1] * m[1][0]) % 3
    inv_det = 1 if det == 1 else 2  # 2 * 2 = 4 = 1 (mod 3)
    return (
        ((m[1][1] * inv_det) % 3, (-m[0][1] * inv_det) % 3),
        ((-m[1][0] * inv_det) % 3, (m[0][0] * inv_det) % 3),
    )


_P2_INV15 = _inverse_mod3(_P2_POWERS[14])
_NEG_P2_INV15: Matrix = tuple(  # type: ignore[assignment]
    tuple((-x) % 3 for x in row) for row in _P2_INV15
)
# -P1^-15 = P1^-15 (mod 2), and P1 has order 3, so P1^15 = I: row 1 needs no correction.
assert _P1_POWERS[14] == ((1, 0), (0, 1))


def _rows(ch: str) -> tuple[tuple[int, int], tuple[int, int]]:
    v = _VALUE[ch]
    hi, lo = divmod(v, 9)
    return (hi >> 1, hi & 1), (lo // 3, lo % 3)


def _char(row1: tuple[int, int], row2: tuple[int, int]) -> str:
    return ALPHABET[9 * (2 * row1[0] + row1[1]) + 3 * row2[0] + row2[1]]


def compute_check_digit(emaid: str) -> str:
    """The check digit of the 14-character eMAID ``emaid`` (hyphens allowed, any case)."""
    body = emaid.replace("-", "").upper()
    if len(body) != 14 or any(ch not in _VALUE for ch in body):
        raise EmaidError(f"need 14 alphanumeric characters to compute a check digit: {emaid!r}")
    t1 = (0, 0)
    t2 = (0, 0)
    for i, ch in enumerate(body):
        r1, r2 = _rows(ch)
        a = _vec_mul(r1, _P1_POWERS[i], 2)
        b = _vec_mul(r2, _P2_POWERS[i], 3)
        t1 = ((t1[0] + a[0]) % 2, (t1[1] + a[1]) % 2)
        t2 = ((t2[0] + b[0]) % 3, (t2[1] + b[1]) % 3)
    return _char(t1, _vec_mul(t2, _NEG_P2_INV15, 3))


@dataclass(frozen=True)
class Emaid:
    """A parsed eMAID."""

    country: str
    provider: str
    instance: str
    check_digit: str | None

    @property
    def body(self) -> str:
        """The 14 characters without separators and check digit."""
        return self.country + self.provider + self.instance

    @property
    def expected_check_digit(self) -> str:
        """The check digit the body calls for."""
        return compute_check_digit(self.body)

    @property
    def check_digit_valid(self) -> bool | None:
        """True/False for an eMAID that carries a check digit, None for one that does not."""
        if self.check_digit is None:
            return None
        return self.check_digit == self.expected_check_digit

    @property
    def normalized(self) -> str:
        """Upper case, no separators, with the check digit it carries (if any)."""
        return self.body + (self.check_digit or "")

    def hyphenated(self) -> str:
        """``CC-PPP-IIIIIIIII[-D]``."""
        tail = f"-{self.check_digit}" if self.check_digit else ""
        return f"{self.country}-{self.provider}-{self.instance}{tail}"

    def __str__(self) -> str:
        return self.hyphenated()

    def to_dict(self) -> dict[str, object]:
        """A JSON-friendly form."""
        return {
            "emaid": self.normalized,
            "hyphenated": self.hyphenated(),
            "country": self.country,
            "provider": self.provider,
            "instance": self.instance,
            "check_digit": self.check_digit,
            "expected_check_digit": self.expected_check_digit,
            "check_digit_valid": self.check_digit_valid,
        }


def parse_emaid(text: str) -> Emaid:
    """Parse ``text`` as an eMAID (see the module docstring for the accepted forms).

    Separators must be used all or not at all. The check digit is parsed, not verified:
    read :attr:`Emaid.check_digit_valid` for that.
    """
    match = _EMAID.match(text.strip().upper())
    if match is None:
        raise EmaidError(f"not an eMAID (CC[-]PPP[-]IIIIIIIII[[-]D]): {text!r}")
    seps = {match["s1"], match["s2"]} | ({match["s3"]} if match["check"] else set())
    if len(seps) != 1:
        raise EmaidError(f"use hyphens between all parts or none: {text!r}")
    return Emaid(match["country"], match["provider"], match["instance"], match["check"])


def emaid_from_certificate(cert: x509.Certificate) -> Emaid:
    """The eMAID in the subject CN of a contract certificate."""
    cn = common_name(cert)
    if cn is None:
        raise EmaidError("contract certificate has no subject CN")
    return parse_emaid(cn)


def days_until_expiry(cert: x509.Certificate, at: _dt.datetime | None = None) -> float:
    """Days from ``at`` (default now) to notAfter; negative once expired."""
    now = at if at is not None else _dt.datetime.now(_dt.timezone.utc)
    return (cert.not_valid_after_utc - now).total_seconds() / 86400.0


def contract_update_due(
    cert: x509.Certificate,
    at: _dt.datetime | None = None,
    warning_days: int = DEFAULT_EXPIRY_WARNING_DAYS,
) -> bool:
    """Whether an EVCC should request CertificateUpdate for this contract certificate.

    True while the certificate is still valid but expires within ``warning_days``; an
    expired certificate cannot be updated (it needs a new installation) and gives False.
    """
    left = days_until_expiry(cert, at)
    return 0 <= left <= warning_days
