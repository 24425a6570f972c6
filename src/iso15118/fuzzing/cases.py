"""Cases from (seed, case number), reproducibly, without the target.

The first case numbers of a campaign run the built-in corpus (:mod:`.corpus`) entries
that fit the chosen protocols and states, one each; every later case draws its profile,
state, layer and mutation steps from ``random.Random(f"{seed}:{number}")``, so case 4711
of seed 7 is the same case on any machine and in any order, alone or in a campaign.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from iso15118.fuzzing.corpus import CORPUS, TLS_CHECKS, CorpusEntry, corpus_case
from iso15118.fuzzing.model import Case, Layer
from iso15118.fuzzing.mutations import draw
from iso15118.fuzzing.profiles import ALL_STATES
from iso15118.fuzzing.sdp_answers import draw_sdp_answer
from iso15118.fuzzing.sdp_cases import draw_sdp

__all__ = ["CaseSource"]

#: how often each layer is drawn for a state of a session (SDP cases come from the
#: "SDP" state)
_LAYERS = ((Layer.EXI, 0.5), (Layer.V2GTP, 0.25), (Layer.SESSION, 0.25))


class CaseSource:
    """The cases of one campaign: ``profiles`` (``--protocol``) and ``states``
    (``--state``; None for all, SDP included when ``sdp`` is available); ``role`` is
    ours (``evse``: SDP cases damage the answers, ``ev``: the requests); ``tls_checks``
    adds the corpus's -20 TLS checks (the EV over TLS with their links at hand)."""

    def __init__(self, seed: int, profiles: Sequence[str], states: Sequence[str] | None,
                 *, sdp: bool, role: str = "ev", tls_checks: bool = False) -> None:
        self.seed = seed
        self.profiles = tuple(profiles)
        self.states = tuple(states) if states else None
        self.sdp = sdp
        self.role = role
        self.corpus: list[tuple[CorpusEntry, str]] = []
        # -20's TLS checks (when the campaign can open those links) after the CVE shapes
        for entry in CORPUS + (TLS_CHECKS if tls_checks else ()):
            if entry.state == "SDP" and role == "evse":
                continue  # the corpus's SDP entries damage requests, which we answer
            for p in self.profiles:
                if entry.profiles and not p.startswith(entry.profiles):
                    continue
                if entry.state in self.states_of(p):
                    self.corpus.append((entry, p))
                    break

    def states_of(self, profile_name: str) -> tuple[str, ...]:
        if self.states is not None:
            return tuple(s for s in self.states if s != "SDP" or self.sdp)
        states = ALL_STATES[profile_name]
        return (*states, "SDP") if self.sdp else states

    def case(self, number: int) -> Case:
        if number < len(self.corpus):
            entry, p = self.corpus[number]
            return corpus_case(entry, self.seed, number, p)
        rng = random.Random(f"{self.seed}:{number}")
        p = rng.choice(self.profiles)
        states = self.states_of(p) or ("SessionSetup",)
        state = rng.choice(states)
        if state == "SDP":
            # as the EV we damage requests to the charger; as the charger, answers
            steps = draw_sdp_answer(rng) if self.role == "evse" else draw_sdp(rng)
            return Case(self.seed, number, p, state, Layer.SDP, steps)
        roll, layer = rng.random(), Layer.EXI
        for candidate, weight in _LAYERS:
            if roll < weight:
                layer = candidate
                break
            roll -= weight
        return Case(self.seed, number, p, state, layer, draw(layer, rng))
