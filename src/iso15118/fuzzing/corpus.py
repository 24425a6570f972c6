"""The built-in corpus: one case for each vulnerability shape that reached a CVE in the
open V2G stacks (research notes of issue 20), so every campaign tries each at least once.

Each entry is a :class:`~iso15118.fuzzing.model.Case` template (the state it needs and its
mutation steps); :func:`corpus_case` stamps it with the seed and case number it runs as.
Where the shape needs a protocol (the -20 control mode), the entry says so, and the
campaign runs it only when that protocol is among ``--protocol``.
"""

from __future__ import annotations

from dataclasses import dataclass

from iso15118.fuzzing.model import Case, Layer, Mutation

__all__ = ["CORPUS", "TLS_CHECKS", "CorpusEntry", "corpus_case"]


@dataclass(frozen=True)
class CorpusEntry:
    name: str
    what: str
    state: str
    layer: Layer
    steps: tuple[Mutation, ...]
    #: profile prefixes the entry applies to (empty: any)
    profiles: tuple[str, ...] = ()


CORPUS: tuple[CorpusEntry, ...] = (
    CorpusEntry("CVE-2024-37310", "V2GTP payload length near 0xFFFFFFFF on TCP",
                "SessionSetup", Layer.V2GTP,
                (Mutation(Layer.V2GTP, "set", "length", (0xFFFF_FFFF,)),)),
    CorpusEntry("CVE-2025-68137", "SDP payload length 0xFFFFFFFF", "SDP", Layer.SDP,
                (Mutation(Layer.SDP, "set", "length", (0xFFFF_FFFF,)),)),
    CorpusEntry("CVE-2025-68134", "an empty control-mode choice (the substitution group's "
                "head) in the -20 charge loop", "ChargeLoop", Layer.EXI,
                (Mutation(Layer.EXI, "shape", "structure", (0.0,)),), ("iso20",)),
    CorpusEntry("CVE-2025-68141", "an optional array emptied or at its bound",
                "ChargeParameterDiscovery", Layer.EXI,
                (Mutation(Layer.EXI, "shape", "structure", (0.999,)),)),
    CorpusEntry("CVE-2025-68140", "an all-zero SessionID after SessionSetup",
                "ChargeParameterDiscovery", Layer.SESSION,
                (Mutation(Layer.SESSION, "sid-zero", "SessionID", ()),)),
    CorpusEntry("CVE-2026-24003", "a request the sequence does not allow yet "
                "(sequence-state bypass)", "ServiceDiscovery", Layer.SESSION,
                (Mutation(Layer.SESSION, "out-of-order", "sequence", (0.5,)),)),
    CorpusEntry("CVE-2025-68136", "repeated SDP requests (descriptor exhaustion)", "SDP",
                Layer.SDP, (Mutation(Layer.SDP, "flood", "requests", (200,)),)),
    CorpusEntry("CVE-2025-68135", "a malformed SDP datagram that kills the responder",
                "SDP", Layer.SDP, (Mutation(Layer.SDP, "payload", "length", (1000,)),)),
)

#: ISO 15118-20 7.7's TLS rules, run as the EV when -20 goes over TLS (not CVE shapes: a
#: charger agreeing on -20 over a link weaker than mutually authenticated TLS 1.3). The
#: "damage" is the link: the case connects with it (``site``: which one, see
#: :data:`iso15118.fuzzing.driver.TLS_LINKS`) and offers -20 alone.
TLS_CHECKS: tuple[CorpusEntry, ...] = tuple(
    CorpusEntry(f"ISO15118-20-7.7-{link}", f"-20 offered over {what}", "supportedAppProtocol",
                Layer.SESSION, (Mutation(Layer.SESSION, "tls-link", link, ()),), ("iso20",))
    for link, what in (("tls12", "TLS 1.2"),
                       ("no-certificate", "TLS 1.3 without the vehicle certificate")))


def corpus_case(entry: CorpusEntry, seed: int, number: int, profile: str) -> Case:
    return Case(seed, number, profile, entry.state, entry.layer, entry.steps, entry.name)
