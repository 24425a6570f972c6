"""The depot's sharing policy: a site limit split across the vehicles charging now.

Pure and deterministic (no I/O, no clock), so it can be tested on its own and copied into
any CSMS. The CSMS calls :func:`allocate` when a load-shed event starts, with what OCPP told
it about each transaction (NotifyEVChargingNeeds: the vehicle's maximum and minimum power,
state of charge, departure time, whether it may discharge) and the station's rating.

The policy, in order:

1. **Enough for everyone?** If the vehicles' maxima fit under the limit, each gets its
   maximum: a limit is not a reason to slow anyone down.
2. **Discharge to make room.** Otherwise vehicles that may feed power back (ISO 15118-20
   BPT in dynamic mode), are not urgent (see 4) and hold at least ``discharge_soc`` percent
   discharge, together no more than the shortfall, each at most its own discharge limit,
   in equal shares. What they give back is added to the budget of the others.
3. **Minimums first.** A vehicle that cannot charge below a minimum (AC: the minimum
   current on every phase) gets it while the budget lasts, urgent vehicles first, then
   by earliest departure and lowest SoC; one whose minimum no longer fits gets 0 W
   (paused), never a power it cannot take.
4. **Equal share above the minimum, urgent ones weighted.** The rest of the budget is
   water-filled above the minimums: every vehicle gets the same increment, an urgent one
   (SoC under ``urgent_soc`` or departing within ``urgent_departure_s``) ``urgent_weight``
   times as much, none above its maximum; what a full vehicle cannot take goes to the
   others.

The sum of the allocations (discharges negative) is at most ``limit_w`` and every
allocation lies in ``[-max_discharge_w, max_w]``; the tests in
``tests/examples/test_depot.py`` check these properties and the orderings.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Need", "allocate", "is_urgent"]


@dataclass(frozen=True)
class Need:
    """What the CSMS knows about one active transaction (powers in W)."""

    key: str
    max_w: float
    min_w: float = 0.0
    soc: float | None = None  # percent; None: not reported (ISO 15118-20 does not)
    departure_s: float | None = None  # seconds from now; None: not reported
    #: > 0: the vehicle may discharge this much (ISO 15118-20 BPT, dynamic control)
    max_discharge_w: float = 0.0


def is_urgent(need: Need, *, urgent_soc: float = 30.0,
              urgent_departure_s: float = 2 * 3600.0) -> bool:
    """Low battery or leaving soon: these vehicles get the larger share."""
    return (need.soc is not None and need.soc < urgent_soc) or (
        need.departure_s is not None and need.departure_s < urgent_departure_s)


def _order(need: Need, urgent: bool) -> tuple[bool, float, float, str]:
    return (not urgent, need.departure_s if need.departure_s is not None else float("inf"),
            need.soc if need.soc is not None else 100.0, need.key)


def _water_fill(budget: float, room: dict[str, float], weight: dict[str, float]
                ) -> dict[str, float]:
    """Give ``budget`` away in increments proportional to ``weight``, none above its
    ``room``: the level rises until the budget is spent or every vehicle is full."""
    out = {k: 0.0 for k in room}
    open_keys = [k for k in room if room[k] > 0 and weight[k] > 0]
    while budget > 1e-9 and open_keys:
        total_weight = sum(weight[k] for k in open_keys)
        level = budget / total_weight
        # the vehicle that fills first at this level bounds the step
        step = min(level, min((room[k] - out[k]) / weight[k] for k in open_keys))
        for k in open_keys:
            out[k] += step * weight[k]
        budget -= step * total_weight
        open_keys = [k for k in open_keys if room[k] - out[k] > 1e-9]
    return out


def allocate(limit_w: float, needs: list[Need], *, urgent_soc: float = 30.0,
             urgent_departure_s: float = 2 * 3600.0, urgent_weight: float = 2.0,
             discharge_soc: float = 50.0) -> dict[str, float]:
    """Each vehicle's power (W; negative: discharge) so that the depot stays under
    ``limit_w``; see the module docstring for the rules."""
    if not needs:
        return {}
    if sum(n.max_w for n in needs) <= limit_w:
        return {n.key: n.max_w for n in needs}
    urgent = {n.key: is_urgent(n, urgent_soc=urgent_soc,
                               urgent_departure_s=urgent_departure_s) for n in needs}
    givers = [n for n in needs if n.max_discharge_w > 0 and not urgent[n.key]
              and n.soc is not None and n.soc >= discharge_soc]
    # -20 does not report the SoC: a BPT vehicle without one and with a late (or no)
    # departure is asked to give back too
    givers += [n for n in needs if n.max_discharge_w > 0 and not urgent[n.key]
               and n.soc is None]
    takers = [n for n in needs if n not in givers]
    shortfall = sum(n.max_w for n in takers) - limit_w
    out: dict[str, float] = {}
    given = _water_fill(max(0.0, shortfall), {n.key: n.max_discharge_w for n in givers},
                        {n.key: 1.0 for n in givers})
    for n in givers:
        out[n.key] = -given[n.key]
    budget = limit_w + sum(given.values())
    for n in sorted(takers, key=lambda n: _order(n, urgent[n.key])):
        if n.min_w <= budget:
            out[n.key] = n.min_w
            budget -= n.min_w
        else:
            out[n.key] = 0.0
    charging = [n for n in takers if out[n.key] > 0 or n.min_w == 0]
    extra = _water_fill(max(0.0, budget), {n.key: n.max_w - out[n.key] for n in charging},
                        {n.key: urgent_weight if urgent[n.key] else 1.0 for n in charging})
    for key, more in extra.items():
        out[key] += more
    return out
