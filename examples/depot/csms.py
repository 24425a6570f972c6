"""The depot's CSMS: OCPP 2.0.1 / 2.1 server for the stations, and the OpenADR VEN.

Built on the ``ocpp`` package (one ``ChargePoint`` object per station connection, the
version chosen by the WebSocket subprotocol the station asks for). It keeps, per station,
the transaction and the vehicle's charging needs as NotifyEVChargingNeeds reported them;
when the utility's load-shed event (OpenADR ``LOAD_DISPATCH`` setpoint, kW) becomes active
it turns them into :class:`policy.Need`, splits the limit with :func:`policy.allocate` and
sends each station a SetChargingProfile: a TxProfile with a W limit for ISO 15118-2 and
ISO 15118-20 scheduled sessions (the station renegotiates the schedule with the vehicle),
an OCPP 2.1 ``Dynamic`` profile with a setpoint for ISO 15118-20 dynamic sessions (negative:
discharge). It records when each step happened, for the time-to-comply breakdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import websockets
from ocpp.routing import on
from policy import Need, allocate

__all__ = ["DepotCsms", "StationView"]

logger = logging.getLogger("depot.csms")


@dataclass
class StationView:
    """What the CSMS knows about one station (one EVSE each in this depot)."""

    station_id: str
    version: str
    rating_w: float
    cp: Any = None
    transaction_id: str | None = None
    charging: bool = False
    ended: bool = False
    needs: dict[str, Any] = field(default_factory=dict)
    needs_at: dt.datetime | None = None
    #: the last SetChargingProfile: the power asked for, when sent and when answered
    allocation_w: float | None = None
    sent_at: float | None = None
    answered_at: float | None = None
    answer: str | None = None


def _csms_class(version: str) -> Any:
    module = importlib.import_module("ocpp.v201" if version == "2.0.1" else "ocpp.v21")
    result = module.call_result

    class Csms(module.ChargePoint):  # type: ignore[name-defined]
        """One station's connection: accepts it and records what it reports."""

        def __init__(self, ident: str, connection: Any, view: StationView) -> None:
            super().__init__(ident, connection)
            self.view = view

        @on("BootNotification")
        def boot(self, **kw: Any) -> Any:
            return result.BootNotification(current_time=dt.datetime.now(
                dt.timezone.utc).isoformat(), interval=300, status="Accepted")

        @on("StatusNotification")
        def status(self, **kw: Any) -> Any:
            return result.StatusNotification()

        @on("TransactionEvent")
        def transaction(self, event_type: str, transaction_info: dict[str, Any],
                        **kw: Any) -> Any:
            view = self.view
            view.transaction_id = transaction_info["transaction_id"]
            view.charging = transaction_info.get("charging_state") == "Charging"
            if event_type == "Started":
                view.ended, view.needs = False, {}
            elif event_type == "Ended":
                view.ended, view.charging = True, False
            return result.TransactionEvent()

        @on("NotifyEVChargingNeeds")
        def needs(self, charging_needs: dict[str, Any], **kw: Any) -> Any:
            self.view.needs = charging_needs
            self.view.needs_at = dt.datetime.now(dt.timezone.utc)
            return result.NotifyEVChargingNeeds(status="Accepted")

        @on("NotifyEVChargingSchedule")
        def ev_schedule(self, **kw: Any) -> Any:
            return result.NotifyEVChargingSchedule(status="Accepted")

    return Csms


def need_of(view: StationView, now: dt.datetime) -> Need:
    """A station's transaction as the policy sees it, from the vehicle's charging needs
    (OCPP 2.0.1 dc/acChargingParameters, 2.1 v2xChargingParameters) and the rating."""
    needs, rating = view.needs, view.rating_w
    soc = None
    max_w, min_w, discharge = rating, 0.0, 0.0
    if "v2x_charging_parameters" in needs:
        v2x = needs["v2x_charging_parameters"]
        max_w = min(rating, v2x.get("max_charge_power", rating))
        min_w = v2x.get("min_charge_power", 0.0)
        if needs.get("control_mode") == "DynamicControl":
            discharge = min(rating, v2x.get("max_discharge_power", 0.0))
    elif "dc_charging_parameters" in needs:
        p = needs["dc_charging_parameters"]
        ev_max = p.get("ev_max_power", p["ev_max_current"] * p["ev_max_voltage"])
        max_w, soc = min(rating, ev_max), p.get("state_of_charge")
    elif "ac_charging_parameters" in needs:
        p = needs["ac_charging_parameters"]
        # three phases at the nominal 230 V: what this depot's AC stations supply
        max_w = min(rating, 3 * 230.0 * p["ev_max_current"])
        min_w = 3 * 230.0 * p["ev_min_current"]
    departure = None
    if "departure_time" in needs:
        leave = dt.datetime.fromisoformat(needs["departure_time"].replace("Z", "+00:00"))
        departure = max(0.0, (leave - now).total_seconds())
    return Need(view.station_id, max_w=max_w, min_w=min_w, soc=soc, departure_s=departure,
                max_discharge_w=discharge)


class DepotCsms:
    """The OCPP server for every station, and the VEN that hears the utility."""

    def __init__(self, ratings: dict[str, tuple[str, float]],
                 clock: Callable[[], float],
                 note: Callable[[str], None] = lambda text: None,
                 safety: float = 0.02) -> None:
        self.views = {sid: StationView(sid, version, rating)
                      for sid, (version, rating) in ratings.items()}
        self.clock, self.note = clock, note
        #: the share of the limit kept free for rounding and measurement
        self.safety = safety
        self.server: Any = None
        self.port = 0
        self.shed: dict[str, float] = {}
        self.allocations: dict[str, float] = {}
        self.errors: list[str] = []
        self.restoring = False
        self._tasks: set[asyncio.Task[Any]] = set()

    async def start(self, host: str = "127.0.0.1") -> int:
        async def on_connect(ws: Any) -> None:
            sid = ws.request.path.strip("/").split("/")[-1]
            view = self.views.get(sid)
            if view is None:
                await ws.close(1008, "unknown station")
                return
            view.cp = _csms_class(view.version)(sid, ws, view)
            with contextlib.suppress(websockets.ConnectionClosed):
                await view.cp.start()

        self.server = await websockets.serve(on_connect, host, 0,
                                             subprotocols=[websockets.Subprotocol("ocpp2.1"),
                                                           websockets.Subprotocol("ocpp2.0.1")])
        self.port = self.server.sockets[0].getsockname()[1]
        return self.port

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    # ------------------------------------------------------------------ the VEN side

    async def on_openadr_event(self, event: dict[str, Any]) -> str:
        """openleadr's ``on_event`` handler: opt in, and act when the event is active."""
        received = self.clock()
        signal = event["event_signals"][0]
        interval = signal["intervals"][0]
        limit_kw = float(interval["signal_payload"])
        start = event["active_period"]["dtstart"]
        wait = max(0.0, (start - dt.datetime.now(dt.timezone.utc)).total_seconds())
        self.shed.update(received=received, limit_w=limit_kw * 1000.0)
        self.note(f"VEN: {signal['signal_name']} {limit_kw:g} kW event received "
                  f"(active in {wait:.1f} s)")
        length = interval["duration"].total_seconds()
        self._later(self._apply_later(wait, limit_kw * 1000.0))
        self._later(self._restore_later(wait + length))
        return "optIn"

    def _later(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _restore_later(self, wait: float) -> None:
        await asyncio.sleep(wait)
        active = [v for v in self.views.values()
                  if v.transaction_id and not v.ended and v.cp is not None]
        self.note(f"CSMS: event over, {len(active)} stations back to their rating")
        self.restoring = True
        await asyncio.gather(*(self._send(v, self._profile(v, v.rating_w, restore=True))
                               for v in active))

    async def _apply_later(self, wait: float, limit_w: float) -> None:
        if wait > 0:
            await asyncio.sleep(wait)
        await self.apply_limit(limit_w)

    async def apply_limit(self, limit_w: float) -> dict[str, float]:
        """Split ``limit_w`` over the active transactions and send every profile."""
        began = self.clock()
        self.shed["decision_started"] = began
        now = dt.datetime.now(dt.timezone.utc)
        active = [v for v in self.views.values()
                  if v.transaction_id and not v.ended and v.needs and v.cp is not None]
        needs = [need_of(v, now) for v in active]
        budget = limit_w * (1.0 - self.safety)
        self.allocations = allocate(budget, needs)
        profiles = {v.station_id: self._profile(v, self.allocations[v.station_id])
                    for v in active}
        self.shed["decided"] = self.clock()
        self.note(f"CSMS: {len(active)} transactions, {sum(n.max_w for n in needs) / 1e3:.0f} "
                  f"kW wanted, {budget / 1e3:.0f} kW shared "
                  f"({sum(1 for a in self.allocations.values() if a < 0)} discharging)")
        await asyncio.gather(*(self._send(v, profiles[v.station_id]) for v in active))
        self.shed["answered"] = self.clock()
        return self.allocations

    def _profile(self, view: StationView, power_w: float, restore: bool = False
                 ) -> dict[str, Any]:
        if not restore:
            view.allocation_w = power_w
        dynamic = view.needs.get("control_mode") == "DynamicControl"
        period: dict[str, Any] = {"start_period": 0}
        if dynamic:
            # OCPP 2.1 K28: the EVSE asks the vehicle for the setpoint
            period.update(setpoint=round(power_w, 1), limit=view.rating_w)
            if power_w < 0:
                period["discharge_limit"] = -view.rating_w
        else:
            period["limit"] = round(max(0.0, power_w), 1)
        return {"id": 100, "stack_level": 1, "charging_profile_purpose": "TxProfile",
                "charging_profile_kind": "Dynamic" if dynamic else "Relative",
                "transaction_id": view.transaction_id,
                "charging_schedule": [{"id": 1, "charging_rate_unit": "W",
                                       "charging_schedule_period": [period]}]}

    async def _send(self, view: StationView, profile: dict[str, Any]) -> None:
        module = importlib.import_module("ocpp.v201" if view.version == "2.0.1"
                                         else "ocpp.v21")
        if self.restoring:
            # the event is over: the measurements stay those of the event
            try:
                answer = await view.cp.call(module.call.SetChargingProfile(
                    evse_id=1, charging_profile=profile))
                status = answer.status
            except Exception as exc:  # reported, not fatal
                status = f"error: {exc}"
            if status != "Accepted":
                self.errors.append(f"{view.station_id}: restoring {status}")
            return
        view.sent_at = self.clock()
        try:
            answer = await view.cp.call(module.call.SetChargingProfile(
                evse_id=1, charging_profile=profile))
            view.answer = answer.status
        except Exception as exc:  # an unanswered station is reported, not fatal
            view.answer = f"error: {exc}"
            self.errors.append(f"{view.station_id}: {exc}")
        view.answered_at = self.clock()
        if view.answer != "Accepted":
            self.errors.append(f"{view.station_id}: SetChargingProfile {view.answer}")
