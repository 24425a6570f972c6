"""The depot's fleet: which charger and which vehicle stand at each bay.

A fixed, seeded mix so that every run with the same ``--vehicles`` and ``--seed`` sees the
same depot: out of every ten bays three are ISO 15118-2 DC (50 kW), two ISO 15118-2 AC
(11 or 22 kW), two ISO 15118-20 DC scheduled (75 kW), one ISO 15118-20 AC dynamic (11 kW)
and two ISO 15118-20 DC bidirectional (DC_BPT, dynamic control, 50 kW both ways). The
vehicles differ in battery (40-100 kWh), state of charge (10-70 %) and departure time
(30 min to 10 h). -2 stations speak OCPP 2.0.1, -20 stations OCPP 2.1 (the -20 charging
needs and dynamic setpoints exist only there).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["Bay", "KINDS", "fleet"]

#: kind -> (protocol, DC?, control mode, bidirectional, station rating W)
KINDS: dict[str, tuple[str, bool, str | None, bool, float]] = {
    "iso2-dc": ("iso2", True, None, False, 50_000.0),
    "iso2-ac": ("iso2", False, None, False, 22_000.0),
    "iso20-dc": ("iso20", True, "Scheduled", False, 75_000.0),
    "iso20-ac-dynamic": ("iso20", False, "Dynamic", False, 11_000.0),
    "iso20-dc-bpt": ("iso20", True, "Dynamic", True, 50_000.0),
}
_PATTERN = ("iso2-dc", "iso20-dc-bpt", "iso2-ac", "iso20-dc", "iso2-dc", "iso20-ac-dynamic",
            "iso2-ac", "iso20-dc", "iso2-dc", "iso20-dc-bpt")


@dataclass(frozen=True)
class Bay:
    """One charging station with one EVSE, and the vehicle that arrives there."""

    index: int
    kind: str
    station_id: str
    rating_w: float
    capacity_wh: float
    soc: float
    departure_s: int
    #: AC stations: per-phase current (16 A: 11 kW, 32 A: 22 kW on three phases)
    ac_current: float = 32.0

    @property
    def protocol(self) -> str:
        return KINDS[self.kind][0]

    @property
    def dc(self) -> bool:
        return KINDS[self.kind][1]

    @property
    def control(self) -> str | None:
        return KINDS[self.kind][2]

    @property
    def bidirectional(self) -> bool:
        return KINDS[self.kind][3]

    @property
    def ocpp_version(self) -> str:
        return "2.1" if self.protocol == "iso20" else "2.0.1"


def fleet(n: int, seed: int = 15118) -> list[Bay]:
    """``n`` bays, the same for the same seed."""
    rng = random.Random(seed)
    bays = []
    for i in range(n):
        kind = _PATTERN[i % len(_PATTERN)]
        rating = KINDS[kind][4]
        ac_current = 32.0
        if kind == "iso2-ac" and rng.random() < 0.5:
            ac_current, rating = 16.0, 11_000.0
        if kind == "iso20-ac-dynamic":
            ac_current = 16.0
        bays.append(Bay(
            index=i, kind=kind, station_id=f"DEPOT-CS{i + 1:03d}", rating_w=rating,
            capacity_wh=rng.choice((40_000.0, 60_000.0, 77_000.0, 100_000.0)),
            soc=round(rng.uniform(10, 70), 1),
            departure_s=rng.randrange(1800, 36_000, 300), ac_current=ac_current))
    return bays
