"""Load: one SECC process serving concurrent DC sessions from vehicles in another process.

Issue 13 asks to show, for 50 vehicles charging at once with a CurrentDemand every 100 ms
for 60 s: the SECC's response time (p50, p99; ISO 15118-2 and DIN 70121 give
CurrentDemandRes a V2G_SECC_Msg_Performance_Time of 25 ms), no failed session, and the
SECC's memory before and after.

Three processes. This one starts the charger (``--role secc``: one
:class:`~iso15118.session.runner.Charger` with one EVSE endpoint per vehicle, fixed
addressing (no SDP), a :class:`SimulatedCharger` behind each) and reads its ports from
the JSON line it prints; then it runs the vehicles (``--role evcc``: one asyncio task per
vehicle, each an :class:`EvccSession` with a :class:`SimulatedVehicle` driven over its
own TCP connection by :func:`~iso15118.session.runner.drive`); when they are done it asks
the charger for its figures (a line on the charger's stdin) and prints both.

What each figure is (times from the event loop's clock, ``time.monotonic``):

- SECC response time: in the charger's process, from the moment its read of the
  connection returned the request's V2GTP frame to the moment its response was written
  (``V2GConnection.send`` returned: the bytes are in the socket's send buffer). It is
  split into *queued* (frame read until ``drive`` hands it to the session: other
  sessions' work ahead of it in the event loop), *handling* (``SeccSession.receive``:
  decode, rules, the simulator, encode) and *writing*. Not in it: how long the bytes sat
  in the socket before the event loop read them; the *event-loop lag* (how late a 10 ms
  timer fires in the charger) shows how long that can be.
  A response over 25 ms is shown with the CPU time the charger used meanwhile: little
  CPU means it was waiting for a processor (another process had it), not working.
- EV round trip: in the vehicles' process, from a request written to its response frame
  read (both processes' scheduling and the loopback included); and the responses read
  after the EV's own V2G_EVCC_Msg_Timeout (counted from when the request was composed).
- RSS: VmRSS of the charger from /proc/self/status once it listens (codecs loaded), before
  any vehicle connects, and after every session has ended; peak is VmHWM (the highest
  RSS since the process started). ``--rounds N`` runs the vehicles N times against the
  same charger and reads its RSS after each round.
- CPU: user + system time (getrusage) of each process from ready to done; the charger's
  CPU per message subtracts what it uses idle (measured for a second before the vehicles
  start: mostly the lag probe).

    python benchmarks/bench_session_load.py [--vehicles 50] [--duration 60]
        [--protocol iso2|din|iso20] [--stagger S] [--rounds N] [--host ::1] [--json out.json]
    python benchmarks/bench_session_load.py --quick    # 5 vehicles for 5 s

Exit status 0 only when every session completed (ended by SessionStop) on both sides.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import os
import platform
import resource
import subprocess
import sys
import time
from array import array
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any, cast

from iso15118.sdp import Security
from iso15118.session import (
    EvccConfig,
    EvccSession,
    EVSEState,
    EVState,
    SeccConfig,
    SeccSession,
)
from iso15118.session.events import Event, MessageReceived, MessageSent, Outcome, SessionEnded
from iso15118.session.runner import Charger, EVSEEndpoint, drive
from iso15118.session.simulation import ChargerBehaviour, SimulatedCharger, SimulatedVehicle
from iso15118.transport import V2GConnection, open_connection
from iso15118.v2gtp import Frame

LOOP_INTERVAL = 0.1  # s between a CurrentDemandRes and the next CurrentDemandReq
CABLE_CHECK_S = 0.2  # the simulated isolation test: short, the charge loop is what counts
PERFORMANCE_TIME_MS = 25.0  # V2G_SECC_Msg_Performance_Time of CurrentDemandRes (-2, DIN)
LAG_PERIOD = 0.01  # s: the charger's event-loop lag probe
IDLE_S = 1.0  # s the charger runs without vehicles first: its idle CPU, to subtract
#: the charge loop's response per protocol (``main`` picks it from ``--protocol``)
CHARGE_LOOP_RESPONSES = {"iso2": "CurrentDemandRes", "din": "CurrentDemandRes",
                         "iso20": "DC_ChargeLoopRes"}
CHARGE_LOOP_RES = CHARGE_LOOP_RESPONSES["iso2"]
#: messages per session besides the charge loop (handshake to SessionStop, with the
#: Ongoing repeats of CableCheck, PreCharge and WeldingDetection), to size the arrays
OTHER_MESSAGES = 60


# --------------------------------------------------------------------------- figures


class Samples:
    """Durations (seconds) in an array allocated up front, so that measuring does not
    grow the charger's RSS by a Python float per message."""

    def __init__(self, capacity: int) -> None:
        self._values = array("d", bytes(8 * max(1, capacity)))
        self.count = 0

    def add(self, seconds: float) -> None:
        if self.count == len(self._values):
            self._values.extend(array("d", bytes(8 * len(self._values))))
        self._values[self.count] = seconds
        self.count += 1

    def summary(self) -> dict[str, float | int]:
        """Count, p50, p99, max and mean in milliseconds (nearest-rank percentiles)."""
        values = sorted(self._values[: self.count])
        if not values:
            return {"n": 0}

        def rank(q: float) -> float:
            return values[max(0, math.ceil(q * len(values)) - 1)] * 1e3

        return {"n": len(values), "p50_ms": rank(0.50), "p99_ms": rank(0.99),
                "max_ms": values[-1] * 1e3, "mean_ms": sum(values) / len(values) * 1e3}


def _memory_kb() -> dict[str, int]:
    """VmRSS and VmHWM of this process (kB), from /proc (Linux)."""
    out: dict[str, int] = {}
    try:
        with open("/proc/self/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    out[key] = int(value.split()[0])
    except OSError:  # not Linux: the peak is all getrusage knows
        out["VmHWM"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return out


def _cpu() -> dict[str, float]:
    """CPU seconds (user, system) and context switches (voluntary: the process waited
    for I/O; involuntary: the kernel gave its CPU to another process) so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"user_s": usage.ru_utime, "system_s": usage.ru_stime,
            "voluntary_switches": usage.ru_nvcsw, "involuntary_switches": usage.ru_nivcsw}


def _since(start: dict[str, float]) -> dict[str, float]:
    now = _cpu()
    return {key: now[key] - start[key] for key in now}


# --------------------------------------------------------------------------- charger


class _ChargerClock:
    """One EVSE's exchange in progress: when its request was read and its response
    written, in loop time and in the process's CPU time (set by
    :class:`_TimedConnection`), filed under the response's name when the session reports
    MessageSent (``drive`` sends a step's messages before it hands over its events, and
    an SECC step sends at most one response)."""

    def __init__(self, stats: _ChargerStats) -> None:
        self.stats = stats
        self.session: SeccSession | None = None
        self.read_at = self.read_cpu = 0.0
        self.written_at = self.written_cpu = 0.0

    def on_event(self, event: Event, now: float) -> None:
        if isinstance(event, MessageSent):
            # event.time: when drive() called SeccSession.receive; now: when it returned
            limit = _limit(self.session, event.name, secc=True)
            self.stats.record(event.name, self.read_at, event.time, now, self.written_at,
                              self.written_cpu - self.read_cpu, limit)


def _limit(session: SeccSession | EvccSession | None, response: str, *, secc: bool
           ) -> float | None:
    """The table's V2G_SECC_Msg_Performance_Time (``secc``) or V2G_EVCC_Msg_Timeout of
    the exchange a response belongs to (None for the handshake: not in the table)."""
    dialect = session.dialect if session is not None else None
    step = response.removesuffix("Res")
    if dialect is None or not dialect.rules.has_step(step):
        return None
    exchange = dialect.rules.exchange(step)
    return exchange.secc_performance if secc else exchange.ev_timeout


class _ChargerStats:
    def __init__(self, capacity: int) -> None:
        self.total = Samples(capacity)
        self.queued = Samples(capacity)
        self.handling = Samples(capacity)
        self.writing = Samples(capacity)
        self.charge_loop = Samples(capacity)
        self.by_name: dict[str, list[float]] = {}  # name -> [count, sum, max]
        self.over_own_limit = 0  # responses later than their performance time
        #: CurrentDemandRes over the performance time: (response time, CPU time the
        #: process used meanwhile); the CPU time tells work from waiting for a CPU
        self.late: list[tuple[float, float]] = []

    def record(self, name: str, read_at: float, handled_from: float, handled_to: float,
               written_at: float, cpu: float, limit: float | None) -> None:
        total = written_at - read_at
        if limit is not None and total > limit:
            self.over_own_limit += 1
        self.total.add(total)
        self.queued.add(handled_from - read_at)
        self.handling.add(handled_to - handled_from)
        self.writing.add(written_at - handled_to)
        if name == CHARGE_LOOP_RES:
            self.charge_loop.add(total)
            if total * 1e3 > PERFORMANCE_TIME_MS:
                self.late.append((total, cpu))
        entry = self.by_name.setdefault(name, [0, 0.0, 0.0])
        entry[0] += 1
        entry[1] += total
        entry[2] = max(entry[2], total)


class _TimedConnection:
    """The connection ``drive`` sees: the charger's own, noting when a frame was read
    and when a response was written."""

    def __init__(self, conn: V2GConnection, clock: _ChargerClock) -> None:
        self._conn = conn
        self._clock = clock
        self._loop = asyncio.get_running_loop()

    async def receive(self, timeout: float | None = None) -> Frame:
        frame = await self._conn.receive(timeout)
        self._clock.read_at, self._clock.read_cpu = self._loop.time(), time.process_time()
        return frame

    async def send(self, payload_type: int, payload: bytes) -> None:
        await self._conn.send(payload_type, payload)
        self._clock.written_at, self._clock.written_cpu = self._loop.time(), time.process_time()

    async def close(self) -> None:
        await self._conn.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


class _TimedCharger(Charger):
    """A :class:`Charger` whose connections are :class:`_TimedConnection`s: the handler
    Charger makes for each EVSE is the one place a connection passes through."""

    def __init__(self, endpoints: list[EVSEEndpoint], clocks: dict[int, _ChargerClock],
                 **kwargs: Any) -> None:
        super().__init__(endpoints, **kwargs)
        self.clocks = clocks

    def _handler(self, ep: EVSEEndpoint, tls: bool
                 ) -> Callable[[V2GConnection], Awaitable[None]]:
        handle = super()._handler(ep, tls)
        clock = self.clocks[id(ep)]

        async def timed(conn: V2GConnection) -> None:
            await handle(cast(V2GConnection, _TimedConnection(conn, clock)))
        return timed


def _endpoint(protocol: str, host: str, clock: _ChargerClock) -> EVSEEndpoint:
    evse = EVSEState()
    behaviour = ChargerBehaviour(cable_check_s=CABLE_CHECK_S)
    sim = SimulatedCharger(evse, behaviour)
    config = behaviour.session_config(SeccConfig(protocols=(protocol,)))

    def application(session: SeccSession) -> Callable[[Event, float], None]:
        sim.attach(session)
        clock.session = session

        def on_event(event: Event, now: float) -> None:
            sim.on_event(event, now)
            clock.on_event(event, now)
        return on_event

    return EVSEEndpoint(None, evse, config, host=host, application=application)


class _LoopWatch:
    """The charger's event loop: how late a 10 ms timer fires (a request's bytes wait
    about that long in the socket before the loop reads them), whether the process ran
    or waited for a CPU during the longer delays, and the garbage collector's pauses."""

    STALL = 0.010  # s of lateness counted as a stall

    def __init__(self, capacity: int) -> None:
        self.lag = Samples(capacity)
        self.stalls = 0
        self.stalls_waiting = 0  # the process got less than half a CPU during the stall
        self.gc: dict[int, list[float]] = {}  # generation -> [count, total s, max s]
        self._gc_started = 0.0

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started, cpu = loop.time(), time.process_time()
            await asyncio.sleep(LAG_PERIOD)
            now = loop.time()
            late = now - started - LAG_PERIOD
            self.lag.add(late)
            if late > self.STALL:
                self.stalls += 1
                if time.process_time() - cpu < 0.5 * (now - started):
                    self.stalls_waiting += 1

    def on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
            return
        pause = time.perf_counter() - self._gc_started
        entry = self.gc.setdefault(info["generation"], [0, 0.0, 0.0])
        entry[0] += 1
        entry[1] += pause
        entry[2] = max(entry[2], pause)

    def reset(self) -> None:
        self.lag.count = self.stalls = self.stalls_waiting = 0
        self.gc.clear()

    def summary(self) -> dict[str, Any]:
        return {"lag": self.lag.summary(), "stalls_over_10ms": self.stalls,
                "stalls_waiting_for_cpu": self.stalls_waiting,
                "gc": {str(gen): {"n": int(n), "total_ms": t * 1e3, "max_ms": m * 1e3}
                       for gen, (n, t, m) in sorted(self.gc.items())}}


async def _stdin_line() -> None:
    """Until the parent writes a line (or goes away): no thread, so no extra stack."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()
    fd = sys.stdin.fileno()

    def readable() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(fd, readable)
    try:
        await ready
    finally:
        loop.remove_reader(fd)
    sys.stdin.readline()


async def _run_charger(args: argparse.Namespace) -> int:
    # sized for every round, so that the arrays do not grow between RSS readings
    stats = _ChargerStats(args.rounds * args.vehicles * (args.loops + OTHER_MESSAGES))
    watch = _LoopWatch(round(args.rounds * args.duration * 1.5 / LAG_PERIOD) + 1000)
    clocks: dict[int, _ChargerClock] = {}
    endpoints = []
    for _ in range(args.vehicles):
        clock = _ChargerClock(stats)
        ep = _endpoint(args.protocol, args.host, clock)
        clocks[id(ep)] = clock
        endpoints.append(ep)
    outcomes: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    window: list[float] = []  # first session start, last session end (loop time)
    loop = asyncio.get_running_loop()

    def on_event(_ep: EVSEEndpoint, event: Event, now: float) -> None:
        if not window and isinstance(event, MessageReceived):
            window.append(now)

    def on_end(_ep: EVSEEndpoint, ended: SessionEnded) -> None:
        outcomes[ended.outcome.value] += 1
        if ended.outcome is not Outcome.COMPLETED:
            reasons[ended.reason] += 1
        del window[1:]
        window.append(loop.time())

    charger = _TimedCharger(endpoints, clocks, on_event=on_event, on_session_end=on_end)
    async with charger:
        ports = [ep.ports[Security.NO_TLS] for ep in endpoints]
        gc.callbacks.append(watch.on_gc)
        watching = asyncio.ensure_future(watch.run())
        # what the charger costs with no vehicle (the lag probe, mostly): the baseline
        idle0 = _cpu()
        await asyncio.sleep(IDLE_S)
        idle = _since(idle0)
        watch.reset()
        before = _memory_kb()
        cpu0, wall0 = _cpu(), loop.time()
        print(json.dumps({"pid": os.getpid(), "ports": ports}), flush=True)
        await _stdin_line()
        cpu, wall = _since(cpu0), loop.time() - wall0
        after = _memory_kb()
        watching.cancel()
        gc.callbacks.remove(watch.on_gc)
    busy = window[-1] - window[0] if len(window) == 2 else wall
    report = {
        "sessions": {"completed": outcomes["completed"],
                     "failed": sum(outcomes.values()) - outcomes["completed"],
                     "reasons": dict(reasons.most_common(10))},
        "response": {"charge_loop": stats.charge_loop.summary(), "all": stats.total.summary(),
                     "queued": stats.queued.summary(), "handling": stats.handling.summary(),
                     "writing": stats.writing.summary(),
                     "over_performance_time": stats.over_own_limit,
                     "charge_loop_over_limit": {
                         "n": len(stats.late),
                         # the SECC ran for most of the response time: its own work (a
                         # burst of requests) rather than waiting for a CPU
                         "mostly_running": sum(1 for t, c in stats.late if c > t / 2),
                         "cpu_ms_max": max((c * 1e3 for _, c in stats.late), default=0.0)},
                     "by_name": {name: {"n": int(n), "mean_ms": s / n * 1e3, "max_ms": m * 1e3}
                                 for name, (n, s, m) in sorted(stats.by_name.items())}},
        "event_loop": watch.summary(),
        "rss_kb": {"before": before.get("VmRSS"), "after": after.get("VmRSS"),
                   "peak_before": before.get("VmHWM"), "peak": after.get("VmHWM")},
        "cpu": cpu, "wall_s": wall, "sessions_wall_s": busy,
        "idle_cpu_s_per_s": (idle["user_s"] + idle["system_s"]) / IDLE_S,
    }
    print(json.dumps(report), flush=True)
    return 0


# --------------------------------------------------------------------------- vehicles


class _VehicleClock:
    """Round trips of one vehicle: request written to response frame read, filed under
    the response's name when the session reports MessageReceived; and responses read
    after the EV's own V2G_EVCC_Msg_Timeout (counted from when the session composed the
    request, MessageSent's time, as its timer is)."""

    def __init__(self, charge_loop: Samples, total: Samples) -> None:
        self.charge_loop = charge_loop
        self.total = total
        self.session: EvccSession | None = None
        self.sent_at = self.composed_at = 0.0
        self.round_trip = self.since_composed = 0.0
        self.charge_loops = 0
        self.after_timeout: list[float] = []  # seconds since the request was composed

    def on_event(self, event: Event, _now: float) -> None:
        if isinstance(event, MessageSent):
            self.composed_at = event.time
        elif isinstance(event, MessageReceived):
            self.total.add(self.round_trip)
            if event.name == CHARGE_LOOP_RES:
                self.charge_loop.add(self.round_trip)
                self.charge_loops += 1
            limit = _limit(self.session, event.name, secc=False)
            if limit is not None and self.since_composed > limit:
                self.after_timeout.append(self.since_composed)


class _RoundTripConnection:
    """The vehicle's connection, noting when a request went out and its answer came."""

    def __init__(self, conn: V2GConnection, clock: _VehicleClock) -> None:
        self._conn = conn
        self._clock = clock
        self._loop = asyncio.get_running_loop()

    async def receive(self, timeout: float | None = None) -> Frame:
        frame = await self._conn.receive(timeout)
        # kept apart from sent_at: drive() may send the next request before the events
        now = self._loop.time()
        self._clock.round_trip = now - self._clock.sent_at
        self._clock.since_composed = now - self._clock.composed_at
        return frame

    async def send(self, payload_type: int, payload: bytes) -> None:
        await self._conn.send(payload_type, payload)
        self._clock.sent_at = self._loop.time()

    async def close(self) -> None:
        await self._conn.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


async def _vehicle(host: str, port: int, config: EvccConfig, clock: _VehicleClock,
                   delay: float) -> SessionEnded:
    await asyncio.sleep(delay)
    ev = EVState()
    car = SimulatedVehicle(ev)
    conn = await open_connection(host, port)
    session = EvccSession(ev, config)
    car.attach(session)
    clock.session = session

    def on_event(event: Event, now: float) -> None:
        car.on_event(event, now)
        clock.on_event(event, now)

    try:
        return await drive(cast(V2GConnection, _RoundTripConnection(conn, clock)), session,
                           on_event)
    finally:
        await conn.close()


async def _run_vehicles(args: argparse.Namespace) -> int:
    ports = [int(p) for p in args.ports.split(",")]
    loop = asyncio.get_running_loop()
    config = EvccConfig(protocols=(args.protocol,), loop_interval=LOOP_INTERVAL,
                        loops=args.loops)
    charge_loop = Samples(len(ports) * args.loops)
    total = Samples(len(ports) * (args.loops + OTHER_MESSAGES))
    clocks = [_VehicleClock(charge_loop, total) for _ in ports]
    cpu0, wall0 = _cpu(), loop.time()
    starts = [args.stagger * i / len(ports) for i in range(len(ports))]
    results = await asyncio.gather(
        *(_vehicle(args.host, port, config, clock, delay)
          for port, clock, delay in zip(ports, clocks, starts, strict=True)),
        return_exceptions=True)
    cpu, wall = _since(cpu0), loop.time() - wall0
    reasons: Counter[str] = Counter()
    completed = 0
    for result in results:
        if isinstance(result, SessionEnded) and result.outcome is Outcome.COMPLETED:
            completed += 1
        elif isinstance(result, SessionEnded):
            reasons[f"{result.outcome.value}: {result.reason}"] += 1
        else:
            reasons[f"{type(result).__name__}: {result}"] += 1
    report = {
        "sessions": {"completed": completed, "failed": len(results) - completed,
                     "reasons": dict(reasons.most_common(10))},
        "charge_loops": {"done": sum(c.charge_loops for c in clocks),
                         "asked": len(ports) * args.loops},
        "round_trip": {"charge_loop": charge_loop.summary(), "all": total.summary()},
        # accepted all the same: the session core checks its timers in tick(), and drive()
        # hands over a frame that was read before it ticks
        "read_after_ev_timeout": sorted(t * 1e3 for c in clocks for t in c.after_timeout),
        "cpu": cpu, "wall_s": wall,
    }
    print(json.dumps(report), flush=True)
    return 0


# --------------------------------------------------------------------------- parent


def _child(args: argparse.Namespace, role: str, *extra: str) -> list[str]:
    return [sys.executable, os.path.abspath(__file__), "--role", role,
            "--vehicles", str(args.vehicles), "--duration", str(args.duration),
            "--protocol", args.protocol, "--host", args.host, "--rounds", str(args.rounds),
            *extra]


def _json_line(stream: Any, who: str) -> dict[str, Any]:
    line = stream.readline()
    if not line:
        raise SystemExit(f"bench_session_load: the {who} process ended without its figures")
    return cast(dict[str, Any], json.loads(line))


def _rss_kb(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _vehicles_round(args: argparse.Namespace, ports: list[int]) -> dict[str, Any]:
    proc = subprocess.run(
        _child(args, "evcc", "--ports", ",".join(map(str, ports)), "--stagger",
               str(args.stagger)),
        stdout=subprocess.PIPE, text=True, timeout=3 * args.duration + 120)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"bench_session_load: the vehicles process failed "
                         f"(status {proc.returncode})")
    return cast(dict[str, Any], json.loads(lines[-1]))


def measure(args: argparse.Namespace) -> dict[str, Any]:
    load_before = os.getloadavg()
    secc = subprocess.Popen(_child(args, "secc"), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    rounds = []
    try:
        assert secc.stdin is not None and secc.stdout is not None
        ready = _json_line(secc.stdout, "charger")
        for _ in range(args.rounds):
            vehicles = _vehicles_round(args, ready["ports"])
            vehicles["secc_rss_kb_after"] = _rss_kb(ready["pid"])
            rounds.append(vehicles)
        secc.stdin.write("report\n")
        secc.stdin.flush()
        charger = _json_line(secc.stdout, "charger")
        secc.wait(timeout=30)
    finally:
        if secc.poll() is None:
            secc.kill()
            secc.wait()
    return {
        "setup": {"vehicles": args.vehicles, "duration_s": args.duration,
                  "loops_per_session": args.loops, "loop_interval_s": LOOP_INTERVAL,
                  "protocol": args.protocol, "energy": "DC", "auth": "EIM",
                  "host": args.host, "stagger_s": args.stagger, "rounds": args.rounds,
                  "cable_check_s": CABLE_CHECK_S},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform(), "loadavg_before": load_before,
                    "loadavg_after": os.getloadavg()},
        # the charger's figures cover every round; the vehicles' are per round
        "charger": charger, "vehicles": rounds,
    }


def _row(label: str, s: dict[str, Any]) -> str:
    if not s.get("n"):
        return f"  {label:28} {0:>7}"
    return (f"  {label:28} {s['n']:>7} {s['p50_ms']:8.2f} {s['p99_ms']:8.2f} "
            f"{s['max_ms']:8.2f}")


def _mb(kb: int | None) -> str:
    return "n/a" if kb is None else f"{kb / 1024:.1f} MB"


def _cpu_line(who: str, cpu: dict[str, float], wall: float) -> str:
    used = cpu["user_s"] + cpu["system_s"]
    return (f"  {who:10} {used:6.1f} s ({cpu['user_s']:.1f} user + {cpu['system_s']:.1f} "
            f"system) over {wall:.1f} s: {100 * used / max(wall, 1e-9):.0f} % of one core; "
            f"{cpu['involuntary_switches']:.0f} involuntary context switches")


def report(res: dict[str, Any]) -> str:
    setup, machine, c = res["setup"], res["machine"], res["charger"]
    r, rss, loop = c["response"], c["rss_kb"], c["event_loop"]
    late = r["charge_loop_over_limit"]
    used = c["cpu"]["user_s"] + c["cpu"]["system_s"]
    # the charger's own work per message, without what it costs idle (the lag probe)
    per_message = ((used - c["idle_cpu_s_per_s"] * c["wall_s"])
                   / max(r["all"].get("n", 0), 1) * 1e6)
    lines = [
        f"{setup['vehicles']} vehicles, {setup['protocol']} DC EIM, charge loop every "
        f"{setup['loop_interval_s'] * 1e3:.0f} ms x {setup['loops_per_session']}, "
        f"starts spread over {setup['stagger_s']} s, {setup['rounds']} round(s); "
        f"{machine['cpus']} CPUs, load average {machine['loadavg_before'][0]:.2f} before, "
        f"{machine['loadavg_after'][0]:.2f} after",
        f"sessions: charger {c['sessions']['completed']} completed, "
        f"{c['sessions']['failed']} failed",
    ]
    lines += [f"  {n} x {reason}" for reason, n in c["sessions"]["reasons"].items()]
    for i, v in enumerate(res["vehicles"], 1):
        lines.append(f"  round {i}: vehicles {v['sessions']['completed']} completed, "
                     f"{v['sessions']['failed']} failed; charge-loop exchanges "
                     f"{v['charge_loops']['done']} of {v['charge_loops']['asked']}")
        lines += [f"    {n} x {reason}" for reason, n in v["sessions"]["reasons"].items()]
    lines += [
        f"  {'ms':28} {'n':>7} {'p50':>8} {'p99':>8} {'max':>8}",
        "SECC response time (frame read -> response written)",
        _row(CHARGE_LOOP_RES, r["charge_loop"]),
        _row("all messages", r["all"]),
        _row("  of which queued", r["queued"]),
        _row("  of which handling", r["handling"]),
        _row("  of which writing", r["writing"]),
        f"  {CHARGE_LOOP_RES} over {PERFORMANCE_TIME_MS:.0f} ms: {late['n']} "
        f"({late['mostly_running']} with the SECC running for most of it; at most "
        f"{late['cpu_ms_max']:.1f} ms of CPU in one); any response over its own "
        f"performance time: {r['over_performance_time']}",
    ]
    for i, v in enumerate(res["vehicles"], 1):
        after = v["read_after_ev_timeout"]
        lines += [
            f"EV round trip (request written -> response read), round {i}",
            _row(CHARGE_LOOP_RES.removesuffix("Res") + "Req/Res",
                 v["round_trip"]["charge_loop"]),
            _row("all messages", v["round_trip"]["all"]),
            f"  read after the EV's own message timeout (and accepted): {len(after)}"
            + (f", at {', '.join(f'{t:.1f}' for t in after[-5:])} ms" if after else ""),
        ]
    lines += [
        "SECC event loop",
        _row(f"lag of a {LAG_PERIOD * 1e3:.0f} ms timer", loop["lag"]),
        f"  stalls over 10 ms: {loop['stalls_over_10ms']} ({loop['stalls_waiting_for_cpu']} "
        "with the process waiting for a CPU)",
        "  GC: " + ", ".join(f"gen {gen} {g['n']} x, max {g['max_ms']:.2f} ms"
                             for gen, g in loop["gc"].items()),
        f"SECC RSS: {_mb(rss['before'])} before, {_mb(rss['after'])} after, peak "
        f"{_mb(rss['peak'])} (peak before the vehicles {_mb(rss['peak_before'])}); after "
        "each round " + ", ".join(_mb(v["secc_rss_kb_after"]) for v in res["vehicles"]),
        "CPU",
        _cpu_line("SECC", c["cpu"], c["sessions_wall_s"]),
        f"  {'':10} {per_message:.0f} µs per message answered (idle it uses "
        f"{100 * c['idle_cpu_s_per_s']:.1f} % of one core: the lag probe)",
    ]
    lines += [_cpu_line(f"vehicles {i}", v["cpu"], v["wall_s"])
              for i, v in enumerate(res["vehicles"], 1)]
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--vehicles", type=int, default=50, help="concurrent sessions (50)")
    ap.add_argument("--duration", type=float, default=60.0,
                    help="seconds of charge loop per session (60)")
    ap.add_argument("--protocol", choices=tuple(CHARGE_LOOP_RESPONSES), default="iso2",
                    help="iso2, din or iso20 (-20: DC, the charger's first control mode, "
                         "Scheduled)")
    ap.add_argument("--host", default="::1", help="where the charger listens (::1)")
    ap.add_argument("--stagger", type=float, default=0.0, metavar="S",
                    help="spread the vehicles' starts over S seconds (0: all at once, their "
                         "charge loops in step: the charger's worst case)")
    ap.add_argument("--rounds", type=int, default=1, metavar="N",
                    help="run the vehicles N times against the same charger (RSS after "
                         "each round: a leak grows it round after round)")
    ap.add_argument("--quick", action="store_true",
                    help="5 vehicles for 5 s: a check that the benchmark works")
    ap.add_argument("--json", metavar="FILE", help="write the figures here too")
    ap.add_argument("--role", choices=("secc", "evcc"), help=argparse.SUPPRESS)
    ap.add_argument("--ports", help=argparse.SUPPRESS)
    return ap


def main(argv: list[str] | None = None) -> int:
    global CHARGE_LOOP_RES
    args = _parser().parse_args(argv)
    CHARGE_LOOP_RES = CHARGE_LOOP_RESPONSES[args.protocol]
    if args.quick:
        args.vehicles, args.duration = 5, 5.0
    args.loops = max(1, round(args.duration / LOOP_INTERVAL))
    if args.role == "secc":
        return asyncio.run(_run_charger(args))
    if args.role == "evcc":
        return asyncio.run(_run_vehicles(args))
    res = measure(args)
    print(report(res))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2)
    ok = res["charger"]["sessions"] == {"completed": args.rounds * args.vehicles,
                                        "failed": 0, "reasons": {}}
    ok = ok and all(r["sessions"]["completed"] == args.vehicles and not r["sessions"]["failed"]
                    for r in res["vehicles"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
