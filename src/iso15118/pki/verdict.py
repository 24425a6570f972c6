"""The result of validating a chain, as data.

A verdict keeps three things apart that a boolean would merge:

* rules that were checked and held (``PASSED``),
* rules that were checked and broken (``FAILED``: which rule, which certificate),
* rules that could not be checked, and why (``NOT_CHECKED``), e.g. revocation when no OCSP
  response was supplied, or a signature whose issuer is missing.

Certificate indices count from the leaf: 0 is the leaf, 1 its issuer, and so on up to the
trust anchor (the last index of :attr:`ChainVerdict.certificates`).
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any


class Rule(enum.Enum):
    """Every rule the validator can report, with the clause it comes from."""

    CHAIN_BUILT = "chain.issuer_found"
    CHAIN_DEPTH = "chain.depth"
    TRUST_ANCHOR = "chain.trust_anchor"
    SIGNATURE = "cert.signature"
    SIGNATURE_ALGORITHM = "cert.signature_algorithm"
    PUBLIC_KEY = "cert.public_key"
    VALIDITY_NOT_BEFORE = "cert.not_yet_valid"
    VALIDITY_NOT_AFTER = "cert.expired"
    BASIC_CONSTRAINTS = "cert.basic_constraints"
    CA_FLAG = "cert.ca_flag"
    PATH_LENGTH = "cert.path_length"
    KEY_USAGE = "cert.key_usage"
    DOMAIN_COMPONENT = "cert.domain_component"
    CERTIFICATE_SIZE = "cert.size"
    REVOCATION = "cert.revocation"

    @property
    def reference(self) -> str:
        """The clause/requirement the rule implements."""
        return _REFERENCES[self]


_REFERENCES: dict[Rule, str] = {
    Rule.CHAIN_BUILT: "RFC 5280 6.1 (name chaining); [V2G2-924]",
    Rule.CHAIN_DEPTH: "[V2G2-009] (at most 2 sub-CAs below the root)",
    Rule.TRUST_ANCHOR: "[V2G2-924], [V2G2-925] (chain must end at the root for its use)",
    Rule.SIGNATURE: "RFC 5280 6.1.3 (a)(1)",
    Rule.SIGNATURE_ALGORITHM: "-2: [V2G2-006] ecdsa-with-SHA256; -20: [V2G20-2674], [V2G20-2319]",
    Rule.PUBLIC_KEY: "-2: [V2G2-007] secp256r1; -20: [V2G20-2674] secp521r1, [V2G20-2319] Ed448",
    Rule.VALIDITY_NOT_BEFORE: "RFC 5280 6.1.3 (a)(2); Annex F validity",
    Rule.VALIDITY_NOT_AFTER: "RFC 5280 6.1.3 (a)(2); Annex F validity",
    Rule.BASIC_CONSTRAINTS: "Annex F (basicConstraints critical in every profile)",
    Rule.CA_FLAG: "Annex F (cA=TRUE only on CAs); RFC 5280 6.1.4 (k); [V2G2-867]",
    Rule.PATH_LENGTH: "RFC 5280 6.1.4 (m); Annex F pathLenConstraint",
    Rule.KEY_USAGE: "Annex F keyUsage per profile (critical); RFC 5280 6.1.4 (n)",
    Rule.DOMAIN_COMPONENT: "Annex F subject DC per profile; [V2G2-925]",
    Rule.CERTIFICATE_SIZE: "[V2G2-010] (at most 800 bytes DER)",
    Rule.REVOCATION: "RFC 6960 OCSP; Annex F authorityInfoAccess",
}


class Outcome(enum.Enum):
    """What became of one rule on one certificate."""

    PASSED = "passed"
    FAILED = "failed"
    NOT_CHECKED = "not_checked"


@dataclass(frozen=True)
class Check:
    """One rule applied to one certificate."""

    rule: Rule
    index: int
    outcome: Outcome
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly form."""
        return {
            "rule": self.rule.value,
            "certificate": self.index,
            "outcome": self.outcome.value,
            "detail": self.detail,
            "reference": self.rule.reference,
        }


@dataclass(frozen=True)
class CertificateSummary:
    """Enough about a certificate in the path for a reader of the verdict to find it."""

    index: int
    subject: str
    issuer: str
    serial_number: int
    fingerprint_sha256: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly form."""
        return {
            "index": self.index,
            "subject": self.subject,
            "issuer": self.issuer,
            "serial_number": format(self.serial_number, "x"),
            "fingerprint_sha256": self.fingerprint_sha256,
        }


@dataclass(frozen=True)
class ChainVerdict:
    """The outcome of :func:`iso15118.pki.validate_chain`."""

    role: str
    version: int
    at: str
    certificates: tuple[CertificateSummary, ...]
    checks: tuple[Check, ...] = field(default_factory=tuple)

    @property
    def valid(self) -> bool:
        """True when no rule failed. Rules that were not checked do not make it False."""
        return not any(c.outcome is Outcome.FAILED for c in self.checks)

    @property
    def failures(self) -> tuple[Check, ...]:
        """The broken rules, in the order they were found."""
        return tuple(c for c in self.checks if c.outcome is Outcome.FAILED)

    @property
    def not_checked(self) -> tuple[Check, ...]:
        """The rules that could not be evaluated, each with the reason."""
        return tuple(c for c in self.checks if c.outcome is Outcome.NOT_CHECKED)

    def failed(self, rule: Rule, index: int | None = None) -> bool:
        """Whether ``rule`` failed (on certificate ``index``, when given)."""
        return any(c.rule is rule and (index is None or c.index == index) for c in self.failures)

    def failure_keys(self) -> set[tuple[Rule, int]]:
        """``{(rule, index)}`` of all failures: what negative tests compare against."""
        return {(c.rule, c.index) for c in self.failures}

    def __iter__(self) -> Iterator[Check]:
        return iter(self.checks)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly form for the CLI and for logging."""
        return {
            "status": "valid" if self.valid else "invalid",
            "role": self.role,
            "version": self.version,
            "at": self.at,
            "certificates": [c.to_dict() for c in self.certificates],
            "failures": [c.to_dict() for c in self.failures],
            "not_checked": [c.to_dict() for c in self.not_checked],
            "passed": [c.to_dict() for c in self.checks if c.outcome is Outcome.PASSED],
        }
