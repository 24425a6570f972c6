"""Simulated charger and vehicle joined on a virtual clock: what the session tests build on."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from iso15118.session import (
    EnergyMode,
    EvccConfig,
    EvccSession,
    EVSEState,
    EVState,
    PausedSessions,
    SeccConfig,
    SeccSession,
)
from iso15118.session.events import Event, MessageReceived, MessageSent
from iso15118.session.pair import PairResult, run_pair
from iso15118.session.simulation import (
    ChargerBehaviour,
    SimulatedCharger,
    SimulatedVehicle,
)

FIXED_ID = bytes.fromhex("1122334455667788")


@dataclass
class Run:
    secc: SeccSession
    evcc: EvccSession
    result: PairResult
    charger: SimulatedCharger
    vehicle: SimulatedVehicle

    def sent(self, side: str) -> list[Any]:
        """Bodies (or SAP messages) a side sent, decoded from the wire events."""
        events = self.result.secc_events if side == "secc" else self.result.evcc_events
        return [_body(e.message) for e in events if isinstance(e, MessageSent)]

    def names(self, side: str = "evcc") -> list[str]:
        return self.result.names(side)

    def events(self, side: str, kind: type) -> list[Any]:
        events = self.result.secc_events if side == "secc" else self.result.evcc_events
        return [e for e in events if isinstance(e, kind)]


def _body(message: Any) -> Any:
    return getattr(getattr(message, "body", None), "body_element", message)


def simulate(protocol: str = "iso2", mode: EnergyMode = EnergyMode.DC_extended, *,
             evse: EVSEState | None = None, ev: EVState | None = None,
             behaviour: ChargerBehaviour | None = None,
             secc_config: SeccConfig | None = None, evcc_config: EvccConfig | None = None,
             paused: PausedSessions | None = None, start: float = 0.0,
             on_secc: Callable[[SeccSession, Event, float], None] | None = None,
             on_evcc: Callable[[EvccSession, Event, float], None] | None = None,
             drop: Callable[[str, Any], bool] | None = None,
             rng: Callable[[int], bytes] | None = None, tls: bool = False,
             latency: float = 0.001, setup_started: float | None = None) -> Run:
    evse = evse or EVSEState(energy_modes=(EnergyMode.DC_extended, EnergyMode.DC_core,
                                           EnergyMode.AC_three_phase_core,
                                           EnergyMode.AC_single_phase_core))
    behaviour = behaviour or ChargerBehaviour(cable_check_s=0.5)
    charger = SimulatedCharger(evse, behaviour)
    config = behaviour.session_config(secc_config or SeccConfig())
    kwargs: dict[str, Any] = {"rng": rng} if rng is not None else {}
    secc = SeccSession(evse, config, tls=tls, paused=paused, **kwargs)
    charger.attach(secc)
    ev = ev or EVState(energy_mode=mode)
    if not mode.is_dc and ev.max_current > 63:
        ev.max_current, ev.max_voltage = 32.0, 400.0
    ev.energy_mode = mode
    vehicle = SimulatedVehicle(ev)
    cfg = evcc_config or EvccConfig(loops=5)
    cfg.protocols = (protocol,) if evcc_config is None else cfg.protocols
    evcc = EvccSession(ev, cfg, tls=tls)
    vehicle.attach(evcc)

    def secc_handler(event: Event, now: float) -> None:
        charger.on_event(event, now)
        if on_secc is not None:
            on_secc(secc, event, now)

    def evcc_handler(event: Event, now: float) -> None:
        vehicle.on_event(event, now)
        if on_evcc is not None:
            on_evcc(evcc, event, now)

    result = run_pair(secc, evcc, start=start, on_secc=secc_handler, on_evcc=evcc_handler,
                      drop=drop, latency=latency, setup_started=setup_started)
    return Run(secc, evcc, result, charger, vehicle)


def received_by(run: Run, side: str) -> list[MessageReceived]:
    events = run.result.secc_events if side == "secc" else run.result.evcc_events
    return [e for e in events if isinstance(e, MessageReceived)]


__all__ = ["FIXED_ID", "Run", "field", "received_by", "simulate"]
