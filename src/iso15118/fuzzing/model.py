"""The fuzzer's vocabulary: profiles (what session to drive), mutations, cases, findings.

Everything here is plain data that round-trips through JSON, because a case must replay
from what a finding's folder holds: the seed and case number regenerate it, and the
stored case (its mutation steps) reruns it without regenerating anything.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from iso15118.errors import Iso15118Error

__all__ = [
    "PROFILES",
    "Case",
    "Finding",
    "FindingClass",
    "FuzzError",
    "Layer",
    "Mutation",
    "Profile",
]


class FuzzError(Iso15118Error):
    """A fuzzing campaign cannot run (bad options, unreachable target, bad finding dir)."""


class Layer(str, enum.Enum):
    """Where a case breaks the protocol (the report's ``layer``)."""

    V2GTP = "v2gtp"
    EXI = "exi"
    SDP = "sdp"
    SESSION = "session"


class FindingClass(str, enum.Enum):
    """What the oracle saw (the report's ``class``; see :mod:`.oracle`)."""

    RESET = "reset"  # closed or reset without a response, where one was due
    HANG = "hang"  # no response within the deadline, connection still open
    VIOLATION = "violation"  # a response (or reaction) that breaks the protocol
    LIVENESS = "liveness"  # afterwards the target stopped answering a service
    CRASH = "crash"  # the --target-pid process exited
    LEAK = "leak"  # fds or RSS of --target-pid grew over sessions


@dataclass(frozen=True)
class Profile:
    """One ``--protocol`` value: the session protocol and energy service to drive."""

    name: str
    protocol: str  # the session layer's protocol: din, iso2, iso20
    dc: bool
    bidirectional: bool = False


PROFILES: dict[str, Profile] = {p.name: p for p in (
    Profile("din", "din", True),
    Profile("iso2-dc", "iso2", True),
    Profile("iso2-ac", "iso2", False),
    Profile("iso20-dc", "iso20", True),
    Profile("iso20-ac", "iso20", False),
    Profile("iso20-dc-bpt", "iso20", True, True),
)}


@dataclass(frozen=True)
class Mutation:
    """One step of damage: ``op`` at ``site`` of ``layer``, with JSON-able ``args``.

    Positions inside a payload are fractions of its length (``args`` of the byte
    operators), so a step applies the same way to the payload of a later run whose
    SessionID or values differ in length by a byte or two.
    """

    layer: Layer
    op: str
    site: str
    args: tuple[Any, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"layer": self.layer.value, "op": self.op, "site": self.site,
                "args": list(self.args)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Mutation:
        return cls(Layer(data["layer"]), data["op"], data["site"], tuple(data["args"]))

    def describe(self) -> str:
        args = ",".join(str(a) for a in self.args)
        return f"{self.layer.value}:{self.op}@{self.site}({args})"


@dataclass(frozen=True)
class Case:
    """One fuzz case: drive ``profile`` to ``state``, then send the message damaged by
    ``steps`` (applied in order). ``corpus`` names the built-in case it came from."""

    seed: int
    number: int
    profile: str
    state: str
    layer: Layer
    steps: tuple[Mutation, ...]
    corpus: str | None = None

    @property
    def site(self) -> str:
        """The mutation site findings are deduplicated by: the first step's, which is
        the one the case was generated around (later steps add noise to it)."""
        first = self.steps[0] if self.steps else None
        return f"{first.op}@{first.site}" if first is not None else "none"

    def with_steps(self, steps: tuple[Mutation, ...]) -> Case:
        return Case(self.seed, self.number, self.profile, self.state, self.layer, steps,
                    self.corpus)

    def to_json(self) -> dict[str, Any]:
        return {"seed": self.seed, "number": self.number, "profile": self.profile,
                "state": self.state, "layer": self.layer.value, "corpus": self.corpus,
                "steps": [s.to_json() for s in self.steps]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Case:
        return cls(int(data["seed"]), int(data["number"]), data["profile"], data["state"],
                   Layer(data["layer"]), tuple(Mutation.from_json(s) for s in data["steps"]),
                   data.get("corpus"))


@dataclass
class Finding:
    """One deduplicated finding, as ``report.json`` lists it."""

    id: str
    cls: FindingClass
    state: str
    layer: Layer
    case: Case
    input_hex: str
    minimised_hex: str
    dir: str
    reason: str
    rule: str = ""
    service: str | None = None
    minimised_steps: tuple[Mutation, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id, "class": self.cls.value, "state": self.state,
            "layer": self.layer.value, "case": self.case.number,
            "input_hex": self.input_hex, "minimised_hex": self.minimised_hex,
            "dir": self.dir, "reason": self.reason, "rule": self.rule,
            "mutations": [s.describe() for s in self.case.steps],
            "minimised_mutations": [s.describe() for s in self.minimised_steps],
        }
        if self.service is not None:
            out["service"] = self.service
        out.update(self.extra)
        return out
