"""A fuzzing campaign: cases in order, the oracle's verdicts, liveness, crashes and leaks,
deduplicated findings with their evidence, and the report.

One bug gives one finding: findings are keyed by (class, state, layer, mutation site);
a liveness finding by its service and a leak by its resource instead of the site. Each
new finding is minimised (:mod:`.minimise`, reruns of the case with fewer steps) and
followed by a liveness probe; when the target is down (crash, liveness) the campaign
restarts it through the ``restart`` hook if one was given (and waits until it answers
again), and stops otherwise. A finding that took the target down is minimised only when
it can be restarted: the target is brought back before each rerun, since a rerun against
a dead target would "reproduce" any crash.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iso15118.fuzzing import driver, resources
from iso15118.fuzzing.cases import CaseSource
from iso15118.fuzzing.driver import CaseRun, Target, run_case
from iso15118.fuzzing.evidence import write_finding
from iso15118.fuzzing.link import Transcript
from iso15118.fuzzing.minimise import ddmin
from iso15118.fuzzing.model import Case, Finding, FindingClass, FuzzError, Layer, Mutation
from iso15118.fuzzing.probes import probe, probe_service, wait_until_up

__all__ = ["Campaign", "Options", "Report", "replay"]

#: classes whose case can be rerun on a target that is still up
_RERUNNABLE = (FindingClass.RESET, FindingClass.HANG, FindingClass.VIOLATION)


@dataclass
class Options:
    """A campaign's settings (the CLI's options, plus hooks for library use)."""

    target: Target
    profiles: tuple[str, ...]
    states: tuple[str, ...] | None  # None: all
    cases: int
    seed: int
    out: Path
    target_pid: int | None = None
    probe_every: int = 50
    #: at most this many cases per second (a live device is not a load test)
    rate: float = 20.0
    minimise_budget: int = 8
    #: rerun a case whose reaction was judged a finding before reporting it
    confirm: bool = True
    leak_every: int = 10
    leak_warmup: int = 20
    leak_fd_growth: int = 32
    leak_rss_growth: int = 64 * 1024 * 1024
    keylog: Path | None = None
    #: library hook: bring a dead target back; returns its new pid (None: unchanged).
    #: It may raise FuzzError (or OSError) when it cannot: the campaign stops then.
    restart: Callable[[], Awaitable[int | None]] | None = None
    #: after a restart, how long the target may take to answer its services again
    restart_timeout: float = 60.0
    on_finding: Callable[[Finding], None] | None = None
    on_progress: Callable[[int, int, int], None] | None = None


@dataclass
class Report:
    seed: int
    cases_run: int = 0
    findings: list[Finding] = field(default_factory=list)
    not_reached: int = 0
    #: why cases did not reach their state (the first words of the reason)
    unreached: Counter[str] = field(default_factory=Counter)
    verdicts: Counter[str] = field(default_factory=Counter)
    elapsed: float = 0.0
    stopped: str | None = None
    profiles: tuple[str, ...] = ()
    #: cases the fuzzer could not run (its own failures, not the target's)
    errors: list[dict[str, Any]] = field(default_factory=list)
    #: verdicts that did not show again on a rerun of their case (not findings)
    unconfirmed: list[dict[str, Any]] = field(default_factory=list)
    #: how often the target was brought back by the restart hook
    restarts: int = 0
    #: what changed during the run that a reader of the verdicts should know
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"seed": self.seed, "cases_run": self.cases_run,
                "findings": [f.to_json() for f in self.findings],
                "not_reached": self.not_reached,
                "not_reached_because": dict(self.unreached.most_common(10)),
                "elapsed_s": round(self.elapsed, 3),
                "profiles": list(self.profiles), "stopped": self.stopped,
                "verdicts": dict(sorted(self.verdicts.items())),
                "fuzzer_errors": self.errors, "unconfirmed": self.unconfirmed,
                "restarts": self.restarts, "notes": self.notes}

    def summary(self) -> str:
        lines = [f"seed {self.seed}: {self.cases_run} cases in {self.elapsed:.1f} s, "
                 f"{len(self.findings)} finding(s), {self.not_reached} case(s) whose state "
                 f"was not reached"]
        if self.stopped:
            lines.append(f"stopped early: {self.stopped}")
        if self.restarts:
            lines.append(f"the target was restarted {self.restarts} time(s)")
        lines.extend(f"note: {note}" for note in self.notes)
        if self.unconfirmed:
            lines.append(f"{len(self.unconfirmed)} verdict(s) did not show again on a rerun "
                         "(not reported as findings; see report.json 'unconfirmed')")
        if self.errors:
            lines.append(f"{len(self.errors)} case(s) the fuzzer could not run, e.g. "
                         f"case {self.errors[0]['case']}: {self.errors[0]['error']}")
        for why, n in self.unreached.most_common(5):
            lines.append(f"  not reached ({n}x): {why}")
        by_class = Counter(f.cls.value for f in self.findings)
        if by_class:
            lines.append("by class: " + ", ".join(f"{k} {v}" for k, v in sorted(by_class.items())))
        for f in self.findings:
            extra = f" service={f.service}" if f.service else ""
            lines.append(f"  {f.id} {f.cls.value} state={f.state} layer={f.layer.value}"
                         f"{extra} case={f.case.number}: {f.reason}")
            steps = ", ".join(s.describe() for s in f.minimised_steps) or "no steps"
            lines.append(f"      minimised: {steps}; evidence in {f.dir}")
        lines.append("verdicts (rule: count): " + ", ".join(
            f"{k} {v}" for k, v in sorted(self.verdicts.items())))
        return "\n".join(lines) + "\n"


class Campaign:
    def __init__(self, options: Options) -> None:
        self.o = options
        self.report = Report(options.seed, profiles=options.profiles)
        self.keys: set[tuple[str, str, str, str]] = set()
        self.services: tuple[str, ...] = ()
        self.pid = options.target_pid
        self.leaks = self._leak_watch()
        self._server: Any = None
        self._sdp: Any = None
        #: the target is down (a crash or liveness finding) and not yet brought back
        self._down = False
        self._decoy: Any = None

    def _leak_watch(self) -> resources.LeakWatch | None:
        if self.pid is None:
            return None
        o = self.o
        return resources.LeakWatch(self.pid, o.leak_warmup, o.leak_fd_growth,
                                   o.leak_rss_growth)

    # ------------------------------------------------------------------ setup

    async def setup(self) -> None:
        """Find and check the target; FuzzError when it cannot be fuzzed (exit 2)."""
        t = self.o.target
        if self.pid is not None and not resources.alive(self.pid):
            raise FuzzError(f"--target-pid {self.pid} is not a running process")
        if t.role == "evse":
            if self.pid is not None:
                # read at each wait: a restart changes the pid
                t.alive = lambda: self.pid is None or resources.alive(self.pid)
            if t.interface is None and self.o.states is not None and "SDP" in self.o.states:
                raise FuzzError("SDP cases as the charger need --interface (the vehicle "
                                "discovers by multicast on the link)")
            await self._listen()
            return
        if t.host is None:
            from iso15118.transport import discover

            found = await discover(t.interface, tls=t.tls, timeout=5.0)
            if not found:
                raise FuzzError(f"no SECC answered SDP on {t.interface}")
            t.host, t.port = found[0].host, found[0].port
        transcript = Transcript()
        if not await probe_service(t, "tcp", self.o.profiles[0], transcript):
            raise FuzzError(f"cannot connect to [{t.host}]:{t.port}")
        for p in self.o.profiles:
            if await probe(t, ("session",), p, transcript) is not None:
                why = [r.text for r in transcript.records
                       if r.kind == "note" and "probe" in r.text][-1:]
                raise FuzzError(f"the target does not complete SessionSetup for {p}"
                                + (f" ({why[0]})" if why else ""))
        sdp = t.interface is not None or await probe_service(t, "sdp", "din", transcript)
        self.services = (("sdp",) if sdp else ()) + ("tcp", "sap", "session")

    async def _listen(self) -> None:
        t = self.o.target
        host = t.host or "::"
        self._server = await driver.accept_loop(t, host.split("%", 1)[0], t.port or 0)
        port = self._server.sockets[0].getsockname()[1]
        t.port = port
        if t.interface is not None:
            from iso15118.fuzzing.sdp_responder import Decoy, open_responder
            from iso15118.sdp import Security

            security = Security.TLS if t.tls else Security.NO_TLS
            # our own responder, not serve_sdp: an SDP case holds a request to answer
            # it damaged (the decoy is where those answers point)
            t.decoy = Decoy()
            await t.decoy.start()
            self._decoy = t.decoy
            t.responder = self._sdp = await open_responder(t.interface, {security: port},
                                                           t.sdp_port)
        self.services = ()

    async def close(self) -> None:
        for closer in (self._sdp, self._decoy, self._server):
            if closer is not None:
                closer.close()

    # ------------------------------------------------------------------ the loop

    async def run(self) -> Report:
        o = self.o
        started = time.monotonic()
        evse_sdp = o.target.role == "evse" and o.target.responder is not None
        source = CaseSource(o.seed, o.profiles, o.states,
                            sdp="sdp" in self.services or evse_sdp, role=o.target.role,
                            tls_checks=o.target.tls_checks())
        o.out.mkdir(parents=True, exist_ok=True)
        previous: CaseRun | None = None
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        try:
            for number in range(o.cases):
                await asyncio.sleep(max(0.0, next_at - loop.time()))
                next_at = loop.time() + 1.0 / o.rate
                case = source.case(number)
                try:
                    run = await run_case(o.target, case)
                except Exception as exc:  # noqa: BLE001 - the fuzzer's own bug, kept
                    # a case the fuzzer itself could not make or run: kept in the report
                    # (with the case, to replay), and the campaign goes on
                    self.report.errors.append({"case": number, "error": repr(exc)[:300]})
                    self.report.cases_run += 1
                    continue
                self.report.cases_run += 1
                if not await self._judge(run, previous, number):
                    break
                previous = run
                if o.on_progress is not None:
                    o.on_progress(number + 1, o.cases, len(self.report.findings))
            else:
                if previous is not None and self.pid is not None \
                        and await self._exited(previous):
                    # no next case will notice: the last one gets its grace period
                    self._down = True
                    await self._found(previous, FindingClass.CRASH, "crash",
                                      f"the target process {self.pid} exited", None)
        finally:
            self.report.elapsed = time.monotonic() - started
            await self.close()
            self.write_report()
        return self.report

    async def _judge(self, run: CaseRun, previous: CaseRun | None, number: int) -> bool:
        """Record what ``run`` showed; False when the campaign cannot go on."""
        o, case = self.o, run.case
        if run.verdict is not None:
            self.report.verdicts[run.verdict.rule] += 1
        if not run.reached:
            self.report.not_reached += 1
            self.report.unreached[(run.setup_error or "the session never passed "
                                   f"{case.state}")[:90]] += 1
            if o.target.role == "evse" and run.setup_error == driver.NO_VEHICLE and (
                    self.pid is None or resources.alive(self.pid)):
                # a watched vehicle process that is gone is a crash (below), not a
                # vehicle that stays away
                if number == 0 and previous is None:
                    raise FuzzError("no vehicle connected before the first case")
                asked = run.extra.get("asked", False)  # no SDP served: not asked
                if case.layer is Layer.SDP:
                    service = "sdp"  # an SDP case waits for a request, not a connection
                else:
                    service = "tcp" if asked else "sdp"
                return await self._dead(previous or run, service,
                                        "the vehicle did not come back")
        if self.pid is not None and not resources.alive(self.pid):
            # checked without waiting (a 0.3 s grace after every closed connection was
            # most of a campaign's time): a process that closes the connection and exits
            # a moment later fails the next case's connect, which blames this one's
            # predecessor
            culprit = run if run.reached or previous is None else previous
            self._down = True
            await self._found(culprit, FindingClass.CRASH, "crash",
                              f"the target process {self.pid} exited", None)
            return await self._back("the target process exited")
        if run.verdict is not None and run.verdict.cls is FindingClass.LIVENESS:
            # an SDP case as the charger: the vehicle stopped discovering after it
            return await self._dead(run, "sdp", run.verdict.reason)
        new = False
        if run.verdict is not None and run.verdict.cls is not None:
            new = await self._found(run, run.verdict.cls, run.verdict.rule,
                                    run.verdict.reason, None)
        if self.leaks is not None and (number + 1) % o.leak_every == 0:
            leak = self.leaks.sample(number + 1)
            if leak is not None:
                await self._found(run, FindingClass.LEAK, "resources", leak[1], leak[0],
                                  minimise=False)
        # after every new finding, after SDP cases and failed setups, and on a schedule
        due = new or case.layer is Layer.SDP or (not run.reached and run.setup_error) \
            or (o.probe_every and (number + 1) % o.probe_every == 0)
        if due and self.services:
            services = ("sdp",) if case.layer is Layer.SDP and run.reached else self.services
            dead = await probe(o.target, tuple(s for s in services if s in self.services),
                               case.profile, run.transcript)
            if dead is not None:
                # the case that preceded the silence: this one, unless it could not even
                # be set up (then the target died in the one before)
                culprit = run if run.reached or previous is None else previous
                return await self._dead(culprit, dead, f"{dead} stopped answering")
        return True

    async def _exited(self, run: CaseRun) -> bool:
        """Whether the target process is gone; a connection that closed on us gets a
        moment for the process to finish exiting (it closes its sockets first)."""
        assert self.pid is not None
        obs = run.observation
        window = 0.3 if obs is not None and obs.closed or not run.reached else 0.0
        loop = asyncio.get_running_loop()
        end = loop.time() + window
        while resources.alive(self.pid):
            if loop.time() >= end:
                return False
            await asyncio.sleep(0.02)
        return True

    async def _dead(self, culprit: CaseRun, service: str, reason: str) -> bool:
        self._down = True
        await self._found(culprit, FindingClass.LIVENESS, f"liveness-{service}", reason,
                          service)
        return await self._back(reason)

    async def _back(self, why: str) -> bool:
        """After a finding that took the target down: whether it is up again (it may
        have been restarted already, to minimise the finding), restarting it if not."""
        if not self._down:
            return True
        if self.report.stopped:
            return False
        return await self._revive(why)

    async def _revive(self, why: str) -> bool:
        """Bring the target back through the restart hook and wait until it answers;
        False (and the report says why) when there is no hook or it did not work."""
        if self.o.restart is None:
            self.report.stopped = why
            return False
        try:
            pid = await self.o.restart()
        except (FuzzError, OSError) as exc:
            self.report.stopped = f"{why}; the restart failed: {exc}"
            return False
        self.report.restarts += 1
        if pid is not None:
            self.pid = pid
            self.leaks = self._leak_watch()
        elif self.pid is not None and not resources.alive(self.pid):
            # without the new pid every later case would look like the same crash
            self.report.notes.append(
                f"the restart named no new pid and {self.pid} is gone: crashes and leaks "
                "are not watched from then on")
            self.pid, self.leaks = None, None
        if self.services:
            silent = await wait_until_up(self.o.target, self.services, self.o.profiles[0],
                                         Transcript(), self.o.restart_timeout)
            if silent is not None:
                self.report.stopped = (f"{why}; after the restart {silent} did not answer "
                                       f"within {self.o.restart_timeout:g} s")
                return False
        self._down = False
        return True

    # ------------------------------------------------------------------ findings

    async def _found(self, run: CaseRun, cls: FindingClass, rule: str, reason: str,
                     service: str | None, *, minimise: bool = True) -> bool:
        """Record a finding; False when it is one already known (deduplicated)."""
        case = run.case
        site = service or case.site
        if run.wire is not None and run.wire.field_site and cls in _RERUNNABLE:
            # a response judged wrong depends on the field hit; a process dying or
            # leaking is one fault whichever field set it off
            site = f"{site}:{run.wire.field_site}"
        key = (cls.value, case.state, case.layer.value, site)
        if cls is FindingClass.LEAK:
            key = (cls.value, "*", "*", site)
        if key in self.keys:
            return False
        self.keys.add(key)
        fid = f"F{len(self.report.findings) + 1:03d}"
        folder = self.o.out / "findings" / fid
        finding = Finding(fid, cls, case.state, case.layer, case, run.input_bytes.hex(),
                          run.input_bytes.hex(), str(folder), reason, rule, service,
                          case.steps)
        if cls is FindingClass.LEAK:
            finding.extra["resource"] = service
            finding.service = None
        if cls in _RERUNNABLE and self.o.confirm:
            # a verdict on a reaction must show twice: a target slowed down by the
            # machine's load, or a connection refused in a race, shows once
            again, _sent = await self._reproduce(case, finding)
            if not again:
                self.keys.discard(key)
                self.report.unconfirmed.append({"case": case.number, "class": cls.value,
                                                "state": case.state, "reason": reason})
                return False
        if minimise and len(case.steps) > 1:
            if cls in _RERUNNABLE:
                await self._minimise(finding, run)
            elif self.o.restart is not None and self._minimisable(cls) and (
                    not self._down
                    or await self._revive(f"{reason} (restarting to minimise {fid})")):
                # the target it took down is brought back first: each rerun must meet a
                # live one
                await self._minimise(finding, run)
        verdict = {"class": cls.value, "rule": rule, "reason": reason,
                   "observation": _observation(run)}
        write_finding(folder, finding, case, run.input_bytes, run.transcript, self.o.keylog,
                      verdict)
        self.report.findings.append(finding)
        if self.o.on_finding is not None:
            self.o.on_finding(finding)
        return True

    def _minimisable(self, cls: FindingClass) -> bool:
        """Whether reruns can tell a finding that took the target down: a vehicle's
        liveness is "it did not come back", which only a full ``accept_timeout`` (60 s)
        shows, per rerun; the probes of a charger's services do not apply to it."""
        return not (cls is FindingClass.LIVENESS and self.o.target.role == "evse")

    async def _minimise(self, finding: Finding, run: CaseRun) -> None:
        last: dict[str, bytes] = {}

        async def reproduces(steps: tuple[Mutation, ...]) -> bool:
            again = await self._reproduce(run.case.with_steps(steps), finding)
            if again[0]:
                last[repr(steps)] = again[1]
            return again[0]

        steps, spent = await ddmin(run.case.steps, reproduces, self.o.minimise_budget)
        finding.minimised_steps = steps
        finding.minimised_hex = last.get(repr(steps), run.input_bytes).hex()
        finding.extra["minimise_reruns"] = spent

    async def _reproduce(self, case: Case, finding: Finding) -> tuple[bool, bytes]:
        """Rerun ``case``: whether it shows ``finding`` again, and what it sent. A
        target that stays down (its restart failed) reproduces nothing more."""
        if self._down:
            return False, b""
        run = await run_case(self.o.target, case)
        ok = await self.shows(run, finding)
        if ok and finding.cls in (FindingClass.CRASH, FindingClass.LIVENESS):
            self._down = True
            await self._revive(f"restarting after a rerun of {finding.id}")
        return ok, run.input_bytes

    async def shows(self, run: CaseRun, finding: Finding) -> bool:
        cls = finding.cls
        if cls in _RERUNNABLE:
            return run.verdict is not None and run.verdict.cls is cls
        if cls is FindingClass.CRASH:
            return self.pid is not None and await self._exited(run)
        if cls is FindingClass.LIVENESS and self.o.target.role == "evse":
            if run.verdict is not None and run.verdict.cls is cls:
                return True  # an SDP case saw the vehicle stop discovering again
            return run.setup_error == driver.NO_VEHICLE
        if cls is FindingClass.LIVENESS and finding.service:
            dead = await probe(self.o.target, (finding.service,), run.case.profile,
                               run.transcript)
            return dead is not None
        return False

    def write_report(self) -> None:
        self.o.out.mkdir(parents=True, exist_ok=True)
        (self.o.out / "report.json").write_text(
            json.dumps(self.report.to_json(), indent=1) + "\n")
        (self.o.out / "summary.txt").write_text(self.report.summary())


def _observation(run: CaseRun) -> dict[str, Any]:
    obs = run.observation
    if obs is None:
        return {"reached": run.reached, "setup_error": run.setup_error}
    return {"reached": run.reached, "frames": [f.encode().hex() for f in obs.frames],
            "closed": obs.closed, "reset": obs.reset, "silent": obs.silent,
            "broken": obs.broken, "elapsed_s": round(obs.elapsed, 4),
            "notes": run.wire.notes if run.wire else [], "sdp_answers": run.sdp_answered}


async def replay(target: Target, folder: Path, *, target_pid: int | None = None,
                 fd_growth: int = 32) -> tuple[bool, str]:
    """Rerun the finding in ``folder``: (reproduced, what happened)."""
    try:
        case = Case.from_json(json.loads((folder / "case.json").read_text()))
        data = json.loads((folder / "finding.json").read_text())
    except (OSError, ValueError, KeyError) as exc:
        raise FuzzError(f"{folder} is not a finding folder: {exc}") from None
    cls = FindingClass(data["class"])
    campaign = Campaign(Options(target, (case.profile,), (case.state,), 1, case.seed,
                                folder / "replay", target_pid=target_pid))
    await campaign.setup()
    finding = Finding(data["id"], cls, case.state, case.layer, case, "", "", str(folder),
                      data.get("reason", ""), data.get("rule", ""), data.get("service"))
    try:
        if cls is FindingClass.LEAK:
            if target_pid is None:
                raise FuzzError("replaying a leak needs --target-pid")
            before = resources.usage(target_pid)
            for _ in range(2 * fd_growth):
                await run_case(target, case)
            after = resources.usage(target_pid)
            grew = before is not None and after is not None and \
                after.fds - before.fds >= fd_growth
            return grew, f"fds {before.fds if before else '?'} -> {after.fds if after else '?'}"
        run = await run_case(target, case)
        if cls is FindingClass.CRASH and target_pid is None:
            dead = await probe(target, ("tcp",), case.profile, run.transcript)
            return dead is not None, "the target no longer accepts TCP" if dead else "alive"
        shown = await campaign.shows(run, finding)
        what = run.verdict.reason if run.verdict is not None else (run.setup_error or "")
        return shown, what
    finally:
        await campaign.close()
