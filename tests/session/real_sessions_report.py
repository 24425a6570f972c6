"""Statistics of the recorded sessions, for shaping the session layer: what real devices do.

Run ``python tests/session/real_sessions_report.py [SHARED_DIR]``. It prints counts per
protocol and provenance, the distinct request sequences (loops collapsed), the message
types, and the features a session layer must tolerate, each with the file it comes from:
where SessionStop comes, SessionID sizes, repeated requests, non-OK response codes,
Ongoing loops and their length, pause/resume, renegotiation, PnC messages, and response
times and pauses measured against the timeouts.

The timeouts are those of DIN SPEC 70121 Table 75/77 and ISO 15118-2 Table 109/110 as
transcribed by Josev (iso15118/shared/messages/{din_spec,iso15118_2}/timeouts.py):
V2G_EVCC_Msg_Timeout 2 s (CurrentDemand 0.25 s; -2 ServiceDetail, PaymentDetails,
CertificateInstallation/Update and PowerDelivery 5 s), V2G_SECC_Sequence_Timeout 60 s,
V2G_EVCC_Ongoing_Timeout 60 s, V2G_EVCC_CableCheck_Timeout 40 s,
V2G_EVCC_PreCharge_Timeout 7 s. Check them against the standards before relying on them.

The ISO 15118-20 sessions follow at the end (``real_sessions_report_iso20.py``, with the
-20 timeouts it uses).

Sessions come from captures (full wire order); traces (jsonl-only logs) hold each
distinct frame once, so for them only first-occurrence facts are reported: which
messages and codes occur, and loop lengths from a loop's first request to its first
Finished response (both first occurrences, so exact).
"""

from __future__ import annotations

import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any

import real_sessions_report_iso20
from real_sessions import (
    ALL_PROTOCOLS,
    DistinctFrameTrace,
    RealData,
    RecordedMessage,
    RecordedSession,
    load,
)

EVCC_MSG_TIMEOUT = {"CurrentDemandReq": 0.25, "ServiceDetailReq": 5.0, "PaymentDetailsReq": 5.0,
                    "CertificateInstallationReq": 5.0, "CertificateUpdateReq": 5.0}
EVCC_MSG_TIMEOUT_ISO2 = {"PowerDeliveryReq": 5.0}
DEFAULT_MSG_TIMEOUT = 2.0
SECC_SEQUENCE_TIMEOUT = 60.0
ONGOING_TIMEOUT = {"CableCheckReq": 40.0}
DEFAULT_ONGOING_TIMEOUT = 60.0
PRECHARGE_TIMEOUT = 7.0
# Request types that loop by design, so a repeat is no anomaly.
LOOPS = {"CurrentDemandReq", "ChargingStatusReq", "PreChargeReq", "CableCheckReq",
         "WeldingDetectionReq"}


def short(source: str) -> str:
    """The file name (and stream) without folder or jsonl name: enough to find it."""
    return source.rsplit("/", 1)[-1].rsplit(".jsonl:", 1)[-1]


def _name(value: Any) -> str | None:
    return None if value is None else str(getattr(value, "name", value))


def processing(m: RecordedMessage) -> str | None:
    return _name(getattr(m.body, "evse_processing", None))


def field(m: RecordedMessage, *path: str) -> Any:
    value: Any = m.body
    for p in path:
        value = getattr(value, p, None)
    return value


def msg_timeout(protocol: str, request: str) -> float:
    if protocol == "iso2" and request in EVCC_MSG_TIMEOUT_ISO2:
        return EVCC_MSG_TIMEOUT_ISO2[request]
    return EVCC_MSG_TIMEOUT.get(request, DEFAULT_MSG_TIMEOUT)


def collapse(names: Iterable[str]) -> str:
    out: list[str] = []
    counts: list[int] = []
    for n in names:
        if out and out[-1] == n:
            counts[-1] += 1
        else:
            out.append(n)
            counts.append(1)
    return " ".join(n.removesuffix("Req") + ("*" if c > 1 else "")
                    for n, c in zip(out, counts, strict=True))


def heading(text: str) -> None:
    print(f"\n## {text}")


# --------------------------------------------------------------------------- overview


def overview(data: RealData) -> None:
    heading("Sessions (captures, full wire order)")
    s = data.sessions
    print(f"{len(s)} sessions: " + ", ".join(f"{k} {v}" for k, v in
                                            sorted(Counter(x.protocol for x in s).items())))
    print("by provenance:")
    for (prov, proto), n in sorted(Counter((x.provenance, x.protocol) for x in s).items()):
        print(f"  {n:3} {proto:4} {prov}")
    print(f"complete (SessionStopRes): {sum(x.complete for x in s)}, partial: "
          f"{sum(not x.complete for x in s)}; over TLS: {sum(x.tls for x in s)} "
          f"({', '.join(short(x.source) for x in s if x.tls)})")
    print(f"messages: {sum(len(x.messages) for x in s)}")
    for side, attr in (("EV", "ev_commercial"), ("charger", "evse_commercial")):
        real = [x for x in s if getattr(x, attr)]
        print(f"commercial {side}: {len(real)} sessions, {sum(x.complete for x in real)} "
              f"complete: {', '.join(short(x.source) for x in real if x.complete)}")
    print("by device pair:")
    for dev, n in sorted(Counter(x.devices for x in s).items()):
        print(f"  {n:3} {dev}")
    heading("Skipped")
    for k in data.skipped:
        if "unit-test" not in k.reason:
            print(f"  {short(k.source)}: {k.reason}")
    units = [k for k in data.skipped if "unit-test" in k.reason]
    print(f"  and {len(units)} unit-test vector files (libcbv2g, libiso15118): not sessions")
    heading("Traces (jsonl-only logs: distinct frames at first occurrence, NOT wire order)")
    t = data.traces
    print(f"{len(t)} traces from {len({x.source for x in t})} logs")
    for (prov, dev), n in sorted(Counter((x.provenance, x.devices) for x in t).items()):
        print(f"  {n:3} {prov:28} {dev}")
    bad = sum(x.undecodable for x in {x.source: x for x in t}.values())
    print(f"rows our codec rejects (or cbv2g could not name) in those logs: {bad}")
    known = [x for x in t if _ordered_from_setup(x)]
    print(f"traces whose every frame from SessionSetupRes on occurs exactly once in the "
          f"source (order known from there, handshake and SessionSetupReq not placed): "
          f"{len(known)}")
    for x in known:
        print(f"  {short(x.source)}: {collapse(f.message.name for f in x.frames)}")


def _ordered_from_setup(t: DistinctFrameTrace) -> bool:
    names = [f.message.name for f in t.frames]
    if "SessionSetupRes" not in names:
        return False
    tail = t.frames[names.index("SessionSetupRes"):]
    return all(f.occurrences == 1 and not f.elsewhere for f in tail)


# --------------------------------------------------------------------------- sequences


def sequences(data: RealData) -> None:
    heading("Distinct EV request sequences (X* = X repeated), sessions")
    groups: dict[str, list[str]] = defaultdict(list)
    for s in data.sessions:
        groups[f"{s.protocol}: {collapse(m.name for m in s.requests)}"].append(short(s.source))
    for seq, files in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        print(f"{len(files):3}  {seq}\n       {', '.join(files)}")
    heading("Distinct request sequences of the traces (first occurrences only)")
    tgroups: dict[str, list[str]] = defaultdict(list)
    for t in data.traces:
        reqs = [f.message.name for f in t.frames if f.message.direction == "ev"]
        tgroups[collapse(reqs)].append(short(t.source))
    for seq, files in sorted(tgroups.items(), key=lambda kv: -len(kv[1])):
        print(f"{len(files):3}  {seq}\n       {', '.join(sorted(set(files)))}")


def message_types(data: RealData) -> None:
    heading("Message types (sessions: messages; traces: distinct frames)")
    for proto in ("din", "iso2"):
        c = Counter(m.name for s in data.sessions if s.protocol == proto for m in s.messages)
        print(f"{proto} sessions: " + ", ".join(f"{k} {v}" for k, v in sorted(c.items())))
    c = Counter(f.message.name for t in data.traces for f in t.frames)
    print("din traces: " + ", ".join(f"{k} {v}" for k, v in sorted(c.items())))


# --------------------------------------------------------------------------- features


def _all_messages(data: RealData) -> list[tuple[str, str, Sequence[RecordedMessage]]]:
    """(kind, source, messages) for every session and trace."""
    out: list[tuple[str, str, Sequence[RecordedMessage]]] = [
        ("session", s.source, s.messages) for s in data.sessions]
    out += [("trace", t.source, [f.message for f in t.frames]) for t in data.traces]
    return out


def handshakes(data: RealData) -> None:
    heading("appHandshake: what the EV offered, what the charger chose")
    offers: dict[str, list[str]] = defaultdict(list)
    for kind, source, msgs in _all_messages(data):
        for i, m in enumerate(msgs):
            if m.name != "supportedAppProtocolReq":
                continue
            offered = " + ".join(f"{p.protocol_namespace}(id {p.schema_id}, prio {p.priority})"
                                 for p in m.message.app_protocol)
            res = next((r for r in msgs[i + 1:i + 2] if r.name == "supportedAppProtocolRes"),
                       None)
            chosen = ("?" if res is None else
                      f"{res.response_code} id {res.message.schema_id} res={res.payload.hex()}")
            offers[f"{offered} -> {chosen}"].append(f"{kind} {short(source)}")
    for k, files in sorted(offers.items(), key=lambda kv: -len(kv[1])):
        print(f"{len(files):3}  {k}\n       {', '.join(files[:6])}"
              + (f" (+{len(files) - 6})" if len(files) > 6 else ""))


def session_ids(data: RealData) -> None:
    heading("SessionIDs: EV's in SessionSetupReq, charger's in SessionSetupRes")
    ev: dict[str, list[str]] = defaultdict(list)
    evse: dict[str, list[str]] = defaultdict(list)
    for kind, source, msgs in _all_messages(data):
        for m in msgs:
            sid = m.session_id
            if sid is None:
                continue
            if m.name == "SessionSetupReq":
                evcc = field(m, "evcc_id") or b""
                ev[f"SessionID {sid.hex()} ({len(sid)} bytes), EVCCID {len(evcc)} bytes"].append(
                    f"{kind} {short(source)}")
            elif m.name == "SessionSetupRes":
                evse[f"{len(sid)} bytes"].append(f"{kind} {short(source)} {sid.hex()}")
    for k, items in sorted(ev.items()):
        print(f"EV side, {k}: {len(items)}: {', '.join(items)}")
    for k, items in sorted(evse.items()):
        print(f"charger side, {k}: {len(items)}")
        for it in items:
            print(f"    {it}")
    # Does any EV change SessionID within a session (besides the SessionSetupReq)?
    for s in data.sessions:
        ids = {m.session_id for m in s.messages[3:]}
        if len(ids) > 1:
            changed = sorted(i.hex() for i in ids if i)
            print(f"  SessionID changes inside {short(s.source)}: {changed}")


def response_codes(data: RealData) -> None:
    heading("Response codes other than OK (and appHandshake OK_*)")
    found: Counter[tuple[str, str, str, str]] = Counter()
    for kind, source, msgs in _all_messages(data):
        for m in msgs:
            code = m.response_code
            if code and not code.startswith("OK"):
                found[(kind, short(source), m.name, code)] += 1
    for (kind, source, name, code), n in sorted(found.items()):
        print(f"  {kind} {source}: {name} {code} x{n}")
    codes: Counter[str] = Counter()
    for _, _, msgs in _all_messages(data):
        codes.update(m.response_code for m in msgs if m.response_code)
    print("all response codes seen: " + ", ".join(f"{k} {v}" for k, v in codes.items()))


def stops(data: RealData) -> None:
    heading("Where SessionStop comes (the request before it) and PowerDelivery values")
    before: dict[str, list[str]] = defaultdict(list)
    for kind, source, msgs in _all_messages(data):
        reqs = [m for m in msgs if m.direction == "ev"]
        for i, m in enumerate(reqs):
            if m.name == "SessionStopReq":
                prev = reqs[i - 1] if i else None
                what = "nothing" if prev is None else _request_text(prev)
                stop = _name(field(m, "charging_session"))
                before[f"{what}{' -> ' + stop if stop else ''}"].append(
                    f"{kind} {short(source)}")
    for k, files in sorted(before.items(), key=lambda kv: -len(kv[1])):
        print(f"{len(files):3}  after {k}: {', '.join(files)}")
    heading("PowerDelivery requests (DIN ReadyToChargeState / -2 ChargeProgress) and what "
            "preceded the first")
    for kind, source, msgs in _all_messages(data):
        reqs = [m for m in msgs if m.direction == "ev"]
        pds = [(i, m) for i, m in enumerate(reqs) if m.name == "PowerDeliveryReq"]
        if not pds:
            continue
        first = pds[0][0]
        preceding = reqs[first - 1].name if first else "-"
        print(f"  {kind} {short(source)}: {[_request_text(m) for _, m in pds]}; "
              f"first after {preceding}")


def _request_text(m: RecordedMessage) -> str:
    if m.name == "PowerDeliveryReq":
        value = field(m, "ready_to_charge_state")
        if value is None:
            value = _name(field(m, "charge_progress"))
        return f"PowerDeliveryReq({value})"
    return m.name


def repeats(data: RealData) -> None:
    heading("Requests repeated outside a loop (same request again, previous answer not "
            "Ongoing), and request types that come back later")
    for kind, source, msgs in _all_messages(data):
        if kind == "trace":
            continue
        reqs: list[tuple[RecordedMessage, RecordedMessage | None]] = []
        for i, m in enumerate(msgs):
            if m.direction == "ev":
                nxt = msgs[i + 1] if i + 1 < len(msgs) else None
                reqs.append((m, nxt))
        for (a, ares), (b, _) in pairwise(reqs):
            if a.name == b.name and a.name not in LOOPS and (
                    ares is None or processing(ares) != "Ongoing"):
                print(f"  {short(source)}: {_request_text(a)} then {_request_text(b)} "
                      f"(frames {a.frame}, {b.frame}; answer {ares and ares.response_code})")
        runs = collapse(m.name for m, _ in reqs).split()
        names = [r.rstrip("*") for r in runs]
        again = {n for n in names if names.count(n) > 1} - {"PowerDelivery"}
        if again:
            print(f"  {short(source)}: comes back later: {sorted(again)}")
    identical: Counter[str] = Counter()
    for s in data.sessions:
        reqs2 = s.requests
        for a, b in pairwise(reqs2):
            if a.payload == b.payload:
                identical[a.name] += 1
    print("byte-identical consecutive requests (loops that do not change): "
          + ", ".join(f"{k} {v}" for k, v in identical.most_common()))


def _ongoing_runs(s: RecordedSession) -> list[tuple[str, int, float, str]]:
    """(request, Ongoing answers, seconds from the first request to the answer that ended
    the loop, how it ended) for each run of Ongoing answers."""
    pairs = [(x.request, x.response) for x in s.exchanges()
             if x.request is not None and x.response is not None]
    runs: list[tuple[str, int, float, str]] = []
    i = 0
    while i < len(pairs):
        req, res = pairs[i]
        if processing(res) != "Ongoing":
            i += 1
            continue
        j = i
        while j < len(pairs) and pairs[j][0].name == req.name and processing(
                pairs[j][1]) == "Ongoing":
            j += 1
        if j < len(pairs) and pairs[j][0].name == req.name:
            end, how = pairs[j][1], str(processing(pairs[j][1]))
        else:
            end, how = pairs[j - 1][1], "left without Finished"
        runs.append((req.name, j - i, (end.timestamp or 0.0) - (req.timestamp or 0.0), how))
        i = j
    return runs


def ongoing(data: RealData) -> None:
    heading("Ongoing loops: length and duration (first request to the Finished response)")
    rows: list[tuple[str, str, int, float, str]] = []
    for session in data.sessions:
        rows += [(name, short(session.source), n, dur, how)
                 for name, n, dur, how in _ongoing_runs(session)]
    for name, source, n, dur, how in sorted(rows, key=lambda r: (r[0], -r[3])):
        limit = ONGOING_TIMEOUT.get(name, DEFAULT_ONGOING_TIMEOUT)
        flag = "  > limit" if dur > limit else ""
        print(f"  {name:28} {n:3} Ongoing, {dur:7.2f} s ({how}) {source}{flag}")
    heading("Ongoing loops in traces (first request -> first Finished, first occurrences)")
    for t in data.traces:
        msgs = [f.message for f in t.frames]
        for name in ("ContractAuthenticationReq", "ChargeParameterDiscoveryReq",
                     "CableCheckReq"):
            res_name = name[:-3] + "Res"
            req = next((m for m in msgs if m.name == name), None)
            res = [m for m in msgs if m.name == res_name]
            if req is None or not any(processing(r) == "Ongoing" for r in res):
                continue
            done = next((r for r in res if processing(r) == "Finished"), None)
            if done is None or req.timestamp is None or done.timestamp is None:
                codes = sorted({str(r.response_code) for r in res})
                print(f"  {name:28} never Finished (length unknown: repeats are not in "
                      f"the jsonl; codes {codes}) {short(t.source)}")
            else:
                dur = done.timestamp - req.timestamp
                limit = ONGOING_TIMEOUT.get(name, DEFAULT_ONGOING_TIMEOUT)
                flag = "  > limit" if dur > limit else ""
                print(f"  {name:28} {dur:7.2f} s to Finished {short(t.source)}{flag}")


def precharge(data: RealData) -> None:
    heading(f"PreCharge: first PreChargeReq to the next other request (limit "
            f"{PRECHARGE_TIMEOUT} s)")
    for s in data.sessions:
        reqs = s.requests
        idx = [i for i, m in enumerate(reqs) if m.name == "PreChargeReq"]
        if not idx:
            continue
        after = next((m for m in reqs[idx[0]:] if m.name != "PreChargeReq"), None)
        t0 = reqs[idx[0]].timestamp or 0.0
        t1 = (after.timestamp if after else s.messages[-1].timestamp) or 0.0
        flag = "  > limit" if t1 - t0 > PRECHARGE_TIMEOUT else ""
        print(f"  {len(idx):4} PreChargeReq, {t1 - t0:6.2f} s, then "
              f"{after.name if after else 'end of recording'}  {short(s.source)}{flag}")


def timing(data: RealData) -> None:
    heading("Response times (request -> response) against V2G_EVCC_Msg_Timeout")
    worst: dict[str, tuple[float, str]] = {}
    late: Counter[tuple[str, str]] = Counter()
    for s in data.sessions:
        for x in s.exchanges():
            if x.request is None or x.response is None:
                continue
            dt = (x.response.timestamp or 0.0) - (x.request.timestamp or 0.0)
            name = x.request.name
            if dt > worst.get(name, (-1.0, ""))[0]:
                worst[name] = (dt, short(s.source))
            if dt > msg_timeout(s.protocol, name):
                late[(name, short(s.source))] += 1
    for name, (dt, source) in sorted(worst.items()):
        print(f"  {name:32} max {dt * 1000:8.1f} ms  {source}")
    print("responses later than the EV's timeout:")
    for (name, source), n in sorted(late.items()):
        print(f"  {name:32} x{n:<4} {source}")
    heading("EV pauses (response -> next request) against V2G_SECC_Sequence_Timeout; "
            "pauses > 1 s listed")
    for s in data.sessions:
        msgs = s.messages
        gaps = [((b.timestamp or 0.0) - (a.timestamp or 0.0), a, b)
                for a, b in pairwise(msgs) if a.direction == "evse" and b.direction == "ev"]
        if not gaps:
            continue
        long = [(g, a, b) for g, a, b in gaps if g > 1.0]
        top = max(g for g, _, _ in gaps)
        print(f"  {short(s.source)}: max {top:.2f} s" + ("  > 60 s" if top > 60 else ""))
        for g, a, b in long[:8]:
            print(f"      {g:7.2f} s after {a.name} ({a.response_code}, "
                  f"{processing(a) or '-'}) before {b.name} (frame {b.frame})")
        if len(long) > 8:
            print(f"      ... {len(long) - 8} more")
        if s.messages[0].timestamp is not None and s.messages[-1].timestamp is not None:
            print(f"      session length {s.messages[-1].timestamp - s.messages[0].timestamp:.1f}"
                  f" s, {len(s.messages)} messages")


def statuses(data: RealData) -> None:
    heading("EVSE and EV status values other than the normal case")
    found: dict[tuple[str, str], set[str]] = defaultdict(set)
    for kind, source, msgs in _all_messages(data):
        for m in msgs:
            if m.direction == "evse":
                for status in ("dc_evse_status", "ac_evse_status"):
                    st = field(m, status)
                    if st is None:
                        continue
                    for attr, normal in (("evse_status_code", "EVSE_Ready"),
                                         ("evse_notification", "None_"),
                                         ("evse_isolation_status", "Valid")):
                        v = _name(getattr(st, attr, None))
                        if v is not None and v != normal:
                            found[(f"{attr}={v}", m.name)].add(f"{kind} {short(source)}")
            else:
                st = field(m, "dc_ev_status")
                v = _name(getattr(st, "ev_error_code", None))
                if v is not None and v != "NO_ERROR":
                    found[(f"ev_error_code={v}", m.name)].add(f"{kind} {short(source)}")
                if m.name == "CurrentDemandReq" and getattr(st, "ev_ready", True) is False:
                    found[("ev_ready=False", m.name)].add(f"{kind} {short(source)}")
    for (what, name), files in sorted(found.items()):
        listed = sorted(files)
        print(f"  {what:44} in {name:28} {len(listed):3}: {', '.join(listed[:4])}"
              + (f" (+{len(listed) - 4})" if len(listed) > 4 else ""))


def special(data: RealData) -> None:
    heading("Pause/resume, renegotiation, PnC, ServiceDetail, MeteringReceipt, signatures")
    interesting = {"ServiceDetailReq", "PaymentDetailsReq", "CertificateInstallationReq",
                   "CertificateUpdateReq", "MeteringReceiptReq", "ChargingStatusReq"}
    for kind, source, msgs in _all_messages(data):
        names = Counter(m.name for m in msgs if m.name in interesting)
        signed = Counter(m.name for m in msgs
                         if getattr(getattr(m.message, "header", None), "signature", None))
        progress = Counter(_name(field(m, "charge_progress")) for m in msgs
                           if m.name == "PowerDeliveryReq" and field(m, "charge_progress"))
        joined = [m.response_code for m in msgs if m.name == "SessionSetupRes"
                  and m.response_code != "OK_NewSessionEstablished"]
        session_stop = [_name(field(m, "charging_session")) for m in msgs
                        if m.name == "SessionStopReq" and field(m, "charging_session")]
        auth = [m for m in msgs if m.name == "AuthorizationReq" and field(m, "gen_challenge")]
        parts = []
        if names:
            parts.append(", ".join(f"{k} {v}" for k, v in sorted(names.items())))
        if signed:
            parts.append("signed: " + ", ".join(f"{k} {v}" for k, v in sorted(signed.items())))
        if "Renegotiate" in progress:
            parts.append(f"ChargeProgress {dict(progress)}")
        if joined:
            parts.append(f"SessionSetupRes {joined}")
        if "Pause" in session_stop:
            parts.append(f"SessionStop {session_stop}")
        if auth:
            parts.append(f"AuthorizationReq with GenChallenge x{len(auth)}")
        if parts:
            print(f"  {kind} {short(source)}: " + "; ".join(parts))


def main(argv: list[str]) -> int:
    here = Path(__file__).resolve()
    shared = Path(argv[0]) if argv else here.parents[3] / "shared"
    data = load(shared)
    overview(data)
    sequences(data)
    message_types(data)
    handshakes(data)
    session_ids(data)
    response_codes(data)
    stops(data)
    repeats(data)
    ongoing(data)
    precharge(data)
    timing(data)
    statuses(data)
    special(data)
    real_sessions_report_iso20.report(load(shared, ("iso20",)), load(shared, ALL_PROTOCOLS))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
