"""Statistics of the recorded ISO 15118-20 sessions, for shaping the -20 session layer.

Run ``python tests/session/real_sessions_report_iso20.py [SHARED_DIR]`` (or the whole
report, ``real_sessions_report.py``, which ends with this part). Per session: the energy
service (ISO 15118-20 Table 204 ServiceIDs) and the parameter set chosen, the control
mode (scheduled or dynamic), the authorization, TLS version and whether the EV sent a
certificate (mutual TLS), the request sequence (repeats collapsed), the SessionIDs and
the header TimeStamps of both sides; then the Ongoing loops (EVSEProcessing and
EVProcessing), the charge loops, EVSE notifications, how each session stops, response
times and pauses against the timeouts, and what a -20 session layer must tolerate.

The timeouts are ISO 15118-20's as transcribed by Josev 0.31.2
(``iso15118/shared/messages/iso15118_20/timeouts.py``), not checked against the standard:
V2G_EVCC_Msg_Timeout 2 s (ServiceDetail and CertificateInstallation 5 s, AC/DC_ChargeLoop
0.5 s), V2G_SECC_Sequence_Timeout 60 s (0.5 s in the AC and DC charge loops: Josev's
``V2G_SECC_SEQUENCE_TIMEOUT_{AC,DC}_CL``, which Josev's own SECC never uses),
V2G_EVCC_Ongoing_Timeout 60 s, V2G_EVCC_CableCheck_Timeout 40 s,
V2G_EVCC_PreCharge_Timeout 10 s, V2G_EVCC_CommunicationSetup_Timeout 20 s. Josev's -20
table has none for supportedAppProtocolReq; the -2 value (2 s) is used.

Which side is which in these dSPACE captures is shown from the bytes (:func:`sides`):
the DS5366 is the charger, Josev the EV.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from statistics import median
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID
from real_sessions import ALL_PROTOCOLS, RealData, RecordedMessage, RecordedSession, load

MSG_TIMEOUT = {"supportedAppProtocolReq": 2.0, "ServiceDetailReq": 5.0,
               "CertificateInstallationReq": 5.0, "AC_ChargeLoopReq": 0.5,
               "DC_ChargeLoopReq": 0.5}
DEFAULT_MSG_TIMEOUT = 2.0
SECC_SEQUENCE_TIMEOUT = 60.0
SECC_SEQUENCE_TIMEOUT_CHARGE_LOOP = 0.5
ONGOING_TIMEOUT = {"DC_CableCheckReq": 40.0, "DC_PreChargeReq": 10.0}
DEFAULT_ONGOING_TIMEOUT = 60.0
COMMUNICATION_SETUP_TIMEOUT = 20.0
CHARGE_LOOPS = ("AC_ChargeLoopReq", "DC_ChargeLoopReq")

# ISO 15118-20 Table 204 (service IDs) and Tables 205-207 (parameter values), as Josev
# 0.31.2 transcribes them (shared/messages/enums.py).
SERVICES = {1: "AC", 2: "DC", 3: "WPT", 4: "DC_ACDP", 5: "AC_BPT", 6: "DC_BPT",
            7: "DC_ACDP_BPT", 65: "Internet", 66: "ParkingStatus"}
PARAMETER_VALUES = {"ControlMode": {1: "Scheduled", 2: "Dynamic"},
                    "MobilityNeedsMode": {1: "EVCC only", 2: "EVCC and SECC"},
                    "Pricing": {0: "none", 1: "absolute", 2: "levels"},
                    "BPTChannel": {1: "unified", 2: "separated"},
                    "GeneratorMode": {1: "grid following", 2: "grid forming"}}
CONNECTOR = {"AC": {1: "single phase", 2: "three phase"},
             "DC": {1: "core", 2: "extended", 3: "dual2", 4: "dual4"}}
# Josev 0.31.2's EV simulator: its hard-coded -20 EVCCID (evcc/controller/simulator.py),
# and its charger simulator's EVSEID for -2/-20 (secc/controller/simulator.py).
JOSEV_EVCCID = "WMIV1234567890ABCDEX"
JOSEV_EVSEID = "UK123E1234"


def short(source: str) -> str:
    return source.rsplit("/", 1)[-1]


def heading(text: str) -> None:
    print(f"\n## {text}")


def name_of(value: Any) -> str | None:
    return None if value is None else str(getattr(value, "name", value))


def number(value: Any) -> float | None:
    """A RationalNumberType as a float (Value x 10^Exponent)."""
    if value is None or getattr(value, "value", None) is None:
        return None
    return float(value.value) * 10.0 ** int(value.exponent or 0)


def collapse(names: list[str]) -> str:
    out: list[tuple[str, int]] = []
    for n in names:
        if out and out[-1][0] == n:
            out[-1] = (n, out[-1][1] + 1)
        else:
            out.append((n, 1))
    return " ".join(n.removesuffix("Req") + (f"*{c}" if c > 1 else "") for n, c in out)


def first(s: RecordedSession, name: str) -> RecordedMessage | None:
    return next((m for m in s.messages if m.name == name), None)


def control_mode_names(m: RecordedMessage | None) -> list[str]:
    """The names of the control-mode elements a message carries (its XSD choice)."""
    if m is None:
        return []
    found = []
    for attr, xml, *_ in m.body._exi_members:
        value = getattr(m.body, attr, None)
        if value is not None and ("ControlMode" in xml or "EnergyTransferMode" in xml):
            found.append(type(value).__name__.removesuffix("Type"))
    return found


# --------------------------------------------------------------------------- per session


def selected_service(s: RecordedSession) -> tuple[str, dict[str, str]]:
    """The energy service the EV selected and the parameters of the set it chose."""
    sel = first(s, "ServiceSelectionReq")
    if sel is None:
        return "-", {}
    chosen = sel.body.selected_energy_transfer_service
    service = SERVICES.get(chosen.service_id, str(chosen.service_id))
    params: dict[str, str] = {}
    for m in s.messages:
        if m.name != "ServiceDetailRes" or m.body.service_id != chosen.service_id:
            continue
        for pset in m.body.service_parameter_list.parameter_set:
            if pset.parameter_set_id != chosen.parameter_set_id:
                continue
            for p in pset.parameter:
                value: Any = next(v for v in (p.bool_value, p.byte_value, p.short_value,
                                         p.int_value, number(p.rational_number),
                                         p.finite_string) if v is not None)
                table = CONNECTOR[service[:2]] if p.name == "Connector" else (
                    PARAMETER_VALUES.get(p.name, {}))
                params[p.name] = table.get(value, str(value))
    return f"{service} (ParameterSetID {chosen.parameter_set_id})", params


def certificate_names(chain: tuple[bytes, ...]) -> str:
    """The subject CNs of a chain, leaf first."""
    names = []
    for der in chain:
        cn = x509.load_der_x509_certificate(der).subject.get_attributes_for_oid(
            NameOID.COMMON_NAME)
        names.append(str(cn[0].value) if cn else "?")
    return " <- ".join(names)


def header_clock(s: RecordedSession, side: str) -> tuple[str, float, float] | None:
    """Unit of a side's header TimeStamps (guessed from the size) and their smallest and
    largest offset from the capture clock in seconds."""
    offsets = []
    unit = "s"
    for m in s.messages[2:]:
        if m.direction != side or m.header_time is None or m.timestamp is None:
            continue
        value = float(m.header_time)
        unit, scale = ("us", 1e6) if value > 1e14 else ("ms", 1e3) if value > 1e11 else (
            "s", 1.0)
        offsets.append(value / scale - m.timestamp)
    return (unit, min(offsets), max(offsets)) if offsets else None


def clock_text(clock: tuple[str, float, float] | None) -> str:
    if clock is None:
        return "-"
    unit, low, high = clock
    return f"TimeStamp in {unit}, {low:+.1f} .. {high:+.1f} s from the capture clock"


def session_block(s: RecordedSession) -> None:
    messages = s.messages
    length = (messages[-1].timestamp or 0.0) - (messages[0].timestamp or 0.0)
    print(f"\n{short(s.source)}: {s.namespace}, {len(messages)} messages, {length:.2f} s, "
          f"{'complete' if s.complete else 'no SessionStopRes'}")
    discovery = first(s, "ServiceDiscoveryRes")
    offered = [SERVICES.get(x.service_id, str(x.service_id)) for x in (
        discovery.body.energy_transfer_service_list.service if discovery else [])]
    details = [SERVICES.get(m.body.service_id, "?") for m in messages
               if m.name == "ServiceDetailReq"]
    service, params = selected_service(s)
    print(f"  energy service: offered {', '.join(offered)}; details asked for "
          f"{', '.join(details) or '-'}; selected {service}")
    print("    parameters: " + ", ".join(f"{k}={v}" for k, v in params.items()))
    modes = [f"{n}: {', '.join(control_mode_names(first(s, n))) or '-'}" for n in (
        "ScheduleExchangeReq", "ScheduleExchangeRes", "AC_ChargeParameterDiscoveryReq",
        "DC_ChargeParameterDiscoveryReq", "AC_ChargeLoopReq", "DC_ChargeLoopReq")
        if first(s, n)]
    print("  control mode: " + "; ".join(modes))
    pd = [m for m in messages if m.name == "PowerDeliveryReq"]
    print("  PowerDelivery: " + ", ".join(
        f"{name_of(m.body.charge_progress)} (EVProcessing {name_of(m.body.ev_processing)}"
        + (f", {name_of(m.body.bpt_channel_selection)}" if m.body.bpt_channel_selection
           else "") + ")" for m in pd))
    setup = first(s, "AuthorizationSetupRes")
    auth = [name_of(m.body.selected_authorization_service) for m in messages
            if m.name == "AuthorizationReq"]
    if setup is not None:
        print(f"  authorization: offered {[name_of(x) for x in setup.body.authorization_services]}"
              f" (CertificateInstallationService {setup.body.certificate_installation_service}"
              f"); selected {auth}")
    if s.tls:
        client = (f"EV chain {certificate_names(s.tls_client_certificates)}"
                  if s.mutual_tls else "EV sent no certificate")
        print(f"  TLS: {s.tls_info}; {'mutual' if s.mutual_tls else 'server-only'}: charger "
              f"chain {certificate_names(s.tls_server_certificates)}; {client}")
    else:
        print("  TLS: none (plain TCP)")
    req = first(s, "SessionSetupReq")
    ids = Counter(m.session_id.hex() for m in messages[3:] if m.session_id is not None)
    print(f"  SessionID: EV sent {req.session_id.hex() if req and req.session_id else '-'}, "
          f"charger assigned {s.session_id.hex() if s.session_id else '-'}; later messages: "
          + ", ".join(f"{k} x{v}" for k, v in ids.items()))
    print(f"  header clocks: EV {clock_text(header_clock(s, 'ev'))}; charger "
          f"{clock_text(header_clock(s, 'evse'))}")
    stop = [f"{name_of(m.body.charging_session)}"
            + (f" ({name_of(m.body.ev_termination_code)})" if m.body.ev_termination_code
               else "") for m in messages if m.name == "SessionStopReq"]
    print(f"  SessionStop: {stop}")
    print(f"  requests: {collapse([m.name for m in s.requests])}")


def sides(data: RealData, every: RealData) -> None:
    heading("Which side is Josev (or RISE-V2G): the EV in every dSPACE capture that names "
            "it; the DS5366 is the charger")
    print("  addresses (EV -> charger) of all dSPACE sessions, DIN and -2 too; the DS5366-only "
          "captures show the DS5366's own MAC prefix (64:4d:70, in the EUI-64 addresses):")
    pairs: dict[tuple[str | None, str | None], list[str]] = {}
    for s in every.sessions:
        if "dsV2Gshark" in s.source:
            pairs.setdefault((s.ev_address, s.evse_address), []).append(
                short(s.source).split(".pcap")[0])
    for (ev, evse), files in sorted(pairs.items(), key=lambda kv: str(kv[0])):
        print(f"    {ev} -> {evse}: {', '.join(dict.fromkeys(files))}")
    for s in data.sessions:
        req, res = first(s, "SessionSetupReq"), first(s, "SessionSetupRes")
        evcc = req.body.evcc_id if req else None
        evse = res.body.evse_id if res else None
        schedule = first(s, "ScheduleExchangeRes")
        price_id = None
        if schedule is not None and schedule.body.scheduled_se_res_control_mode:
            for t in schedule.body.scheduled_se_res_control_mode.schedule_tuple:
                price = t.charging_schedule.absolute_price_schedule
                price_id = price_id or getattr(price, "id", None)
        ev_note = " = Josev's EV simulator" if evcc == JOSEV_EVCCID else ""
        evse_note = "" if evse == JOSEV_EVSEID else f" (Josev's charger says {JOSEV_EVSEID!r})"
        print(f"  {short(s.source)}: EVCCID {evcc!r}{ev_note}; EVSEID {evse!r}{evse_note}"
              + (f"; charger's price schedule Id {price_id!r}" if price_id else ""))
    print("  header TimeStamps: the EV's are seconds on the capture's clock (Josev writes "
          "time.time()), the charger's microseconds one hour ahead (see each session)")


# --------------------------------------------------------------------------- loops, timing


def _exchanges(s: RecordedSession) -> list[tuple[RecordedMessage, RecordedMessage]]:
    return [(x.request, x.response) for x in s.exchanges()
            if x.request is not None and x.response is not None]


def processing_runs(s: RecordedSession, side: str) -> Iterator[tuple[str, int, float, str]]:
    """(request, turns with Ongoing, seconds from the first request to the answer that
    ended the loop, how it ended): EVSEProcessing in responses (side "evse") or
    EVProcessing in requests (side "ev")."""
    attr = "evse_processing" if side == "evse" else "ev_processing"
    pairs = _exchanges(s)

    def state(i: int) -> str | None:
        return name_of(getattr(pairs[i][1 if side == "evse" else 0].body, attr, None))

    i = 0
    while i < len(pairs):
        req = pairs[i][0]
        if state(i) != "Ongoing":
            i += 1
            continue
        j = i
        while j < len(pairs) and pairs[j][0].name == req.name and state(j) == "Ongoing":
            j += 1
        if j < len(pairs) and pairs[j][0].name == req.name:
            end, how = pairs[j][1], str(state(j))
        else:
            end, how = pairs[j - 1][1], "left without Finished"
        yield req.name, j - i, (end.timestamp or 0.0) - (req.timestamp or 0.0), how
        i = j


def loops(data: RealData) -> None:
    heading("Ongoing loops (EVSEProcessing / EVProcessing): turns and duration, first "
            "request to the Finished answer")
    for s in data.sessions:
        for side, label in (("evse", "EVSEProcessing"), ("ev", "EVProcessing")):
            for name, n, dur, how in processing_runs(s, side):
                limit = ONGOING_TIMEOUT.get(name, DEFAULT_ONGOING_TIMEOUT)
                flag = f"  > {limit} s" if dur > limit else f" (limit {limit:g} s)"
                print(f"  {name:24} {label:14} {n:3} Ongoing, {dur:6.2f} s, then {how}{flag}"
                      f"  {short(s.source)}")
    heading("Charge loops: turns, duration, request interval, turns after ChargingComplete")
    for s in data.sessions:
        reqs = [m for m in s.requests if m.name in CHARGE_LOOPS]
        if not reqs:
            continue
        gaps = [(b.timestamp or 0.0) - (a.timestamp or 0.0) for a, b in pairwise(reqs)]
        complete = [m for m in reqs if m.body.display_parameters
                    and m.body.display_parameters.charging_complete]
        socs = [m.body.display_parameters.present_soc for m in reqs
                if m.body.display_parameters]
        print(f"  {short(s.source)}: {len(reqs)} {reqs[0].name}, "
              f"{(reqs[-1].timestamp or 0.0) - (reqs[0].timestamp or 0.0):.2f} s, interval "
              f"median {median(gaps):.3f} s (max {max(gaps):.3f}); SOC {socs[0]}..{socs[-1]}"
              f" %; ChargingComplete=true in {len(complete)} (the last: "
              f"{bool(complete) and complete[-1] is reqs[-1]}); MeterInfoRequested "
              f"{sorted({m.body.meter_info_requested for m in reqs})}")
    heading("EVSE notifications (EVSEStatus in any response)")
    found = [(short(s.source), m.name, name_of(m.body.evse_status.evse_notification),
              m.body.evse_status.notification_max_delay) for s in data.sessions
             for m in s.responses if getattr(m.body, "evse_status", None) is not None]
    for f in found:
        print(f"  {f}")
    if not found:
        print("  none: no response of the three sessions carries EVSEStatus")


def timing(data: RealData) -> None:
    heading("Response times (request -> response) against V2G_EVCC_Msg_Timeout")
    times: dict[str, list[float]] = {}
    for s in data.sessions:
        for req, res in _exchanges(s):
            dt = (res.timestamp or 0.0) - (req.timestamp or 0.0)
            times.setdefault(req.name, []).append(dt)
            limit = MSG_TIMEOUT.get(req.name, DEFAULT_MSG_TIMEOUT)
            if dt > limit:
                print(f"  LATE {req.name} {dt:.3f} s > {limit} s, frame {res.frame} "
                      f"{short(s.source)} (the EV went on)")
    every = [t for ts in times.values() for t in ts]
    print(f"  all {len(every)} exchanges: median {median(every) * 1000:.1f} ms, min "
          f"{min(every) * 1000:.1f} ms, max {max(every) * 1000:.1f} ms")
    for name, ts in sorted(times.items()):
        print(f"  {name:32} n={len(ts):3} max {max(ts) * 1000:7.1f} ms  (limit "
              f"{MSG_TIMEOUT.get(name, DEFAULT_MSG_TIMEOUT)} s)")
    heading("EV pauses (response -> next request) against V2G_SECC_Sequence_Timeout "
            f"({SECC_SEQUENCE_TIMEOUT:g} s; {SECC_SEQUENCE_TIMEOUT_CHARGE_LOOP} s in the "
            "charge loop per Josev's table)")
    for s in data.sessions:
        gaps = [((b.timestamp or 0.0) - (a.timestamp or 0.0), a, b)
                for a, b in pairwise(s.messages) if a.direction == "evse"
                and b.direction == "ev"]
        top = max(gaps, key=lambda g: g[0])
        loop = [g for g, a, b in gaps if a.name.removesuffix("Res") == b.name.removesuffix(
            "Req") and b.name in CHARGE_LOOPS]
        print(f"  {short(s.source)}: max {top[0]:.3f} s (after {top[1].name}, before "
              f"{top[2].name}); in the charge loop max {max(loop):.3f} s")
        sap, setup = s.messages[0], first(s, "SessionSetupRes")
        if setup is not None:
            print(f"      supportedAppProtocolReq -> SessionSetupRes "
                  f"{(setup.timestamp or 0.0) - (sap.timestamp or 0.0):.2f} s (limit "
                  f"{COMMUNICATION_SETUP_TIMEOUT:g} s counts from earlier, SDP or TCP)")


# --------------------------------------------------------------------------- oddities


def oddities(s: RecordedSession) -> Iterator[str]:
    """What a -20 session layer meets in these sessions that a textbook session lacks."""
    for m in s.messages:
        if m.name == "ServiceDetailRes":
            for pset in m.body.service_parameter_list.parameter_set:
                names = Counter(p.name for p in pset.parameter)
                twice = [n for n, c in names.items() if c > 1]
                if twice:
                    yield (f"ServiceDetailRes ParameterSet {pset.parameter_set_id} names "
                           f"{twice} twice (frame {m.frame})")
        if m.name == "ScheduleExchangeReq":
            mode = m.body.dynamic_se_req_control_mode or m.body.scheduled_se_req_control_mode
            low = number(getattr(mode, "ev_minimum_energy_request", None))
            if low is not None and low < 0:
                yield f"ScheduleExchangeReq EVMinimumEnergyRequest {low:g} Wh (negative)"
        for attr, *_ in getattr(m.body, "_exi_members", ()):
            inner = getattr(m.body, attr, None)
            negative = [x for a, x, *_ in getattr(inner, "_exi_members", ()) if "Discharge" in x
                        and (number(getattr(inner, a, None)) or 0.0) < 0]
            if negative and m.direction == "evse":
                yield (f"{m.name} {type(inner).__name__.removesuffix('Type')}: "
                       f"{', '.join(negative)} negative (assume no sign convention)")
    for (req, res), (nxt, _) in pairwise(_exchanges(s)):
        if req.name == "PowerDeliveryReq" and name_of(req.body.ev_processing) == "Ongoing":
            yield (f"PowerDeliveryReq {name_of(req.body.charge_progress)} with EVProcessing "
                   f"Ongoing (frame {req.frame}), answered {res.response_code}; next: "
                   f"{nxt.name} {name_of(getattr(nxt.body, 'charge_progress', None))} "
                   f"EVProcessing {name_of(getattr(nxt.body, 'ev_processing', None))}")
    for side, who in (("ev", "EV"), ("evse", "charger")):
        clock = header_clock(s, side)
        if clock is not None and (clock[0] != "s" or max(map(abs, clock[1:])) > 5.0):
            yield f"the {who}'s header {clock_text(clock)}"
    sap_req, sap_res = s.messages[0], s.messages[1]
    dt = (sap_res.timestamp or 0.0) - (sap_req.timestamp or 0.0)
    if dt > MSG_TIMEOUT["supportedAppProtocolReq"]:
        yield f"supportedAppProtocolRes {dt:.2f} s after the request (the EV waited)"
    loop_req = [m for m in s.requests if m.name in CHARGE_LOOPS]
    loop_res = [m for m in s.responses if m.name.replace("Res", "Req") in CHARGE_LOOPS]
    if loop_res:
        shown = {number(getattr(m.body, "evse_present_current", None)) for m in loop_res}
        shown |= {number(getattr(m.body.cl_res_control_mode, "evse_present_active_power",
                                 None)) for m in loop_res}
        if shown - {None} == {0.0}:
            yield ("the charger reports 0 A / 0 W in every charge loop response: no energy "
                   "flows (simulated charge)")
            if any(getattr(m.body, "evse_current_limit_achieved", False) for m in loop_res):
                yield "DC_ChargeLoopRes EVSECurrentLimitAchieved=true while presenting 0 A"
    done = [m for m in loop_req if m.body.display_parameters
            and m.body.display_parameters.charging_complete]
    if len(done) > 1:
        yield (f"{len(done)} charge loop requests with ChargingComplete=true before "
               "PowerDelivery Stop (the EV goes on after saying it is done)")
    cpd = first(s, "AC_ChargeParameterDiscoveryReq")
    for m in loop_req[:1]:
        mode = m.body.cl_req_control_mode
        present = number(getattr(mode, "ev_present_active_power", None))
        if cpd is not None and present is not None:
            transfer = next((getattr(cpd.body, a) for a, x, *_ in cpd.body._exi_members
                             if "EnergyTransferMode" in x), None)
            limit = number(getattr(transfer, "ev_maximum_charge_power", None))
            if limit is not None and present > limit:
                yield (f"AC_ChargeLoopReq EVPresentActivePower {present:g} W above the EV's "
                       f"own EVMaximumChargePower {limit:g} W")
        voltage = number(getattr(m.body, "ev_present_voltage", None))
        maximum = number(getattr(mode, "ev_maximum_voltage", None))
        if voltage is not None and maximum is not None and voltage > maximum:
            yield (f"DC_ChargeLoopReq EVPresentVoltage {voltage:g} V above its own "
                   f"EVMaximumVoltage {maximum:g} V")


def odd(data: RealData) -> None:
    heading("What a -20 session layer must tolerate (per session)")
    for s in data.sessions:
        print(f"  {short(s.source)}:")
        for text in dict.fromkeys(oddities(s)):
            print(f"    - {text}")


def vectors(data: RealData) -> None:
    heading("-20 unit-test vectors (EVerest libcbv2g, libiso15118): grouped by header "
            "SessionID, in header TimeStamp order (1 s resolution) - NOT a session")
    groups: dict[str, list[RecordedMessage]] = {}
    for v in data.vectors:
        if v.message.protocol.startswith("iso20") and v.message.session_id is not None:
            groups.setdefault(v.message.session_id.hex(), []).append(v.message)
    for sid, msgs in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        msgs.sort(key=lambda m: m.header_time or 0)
        t0 = msgs[0].header_time or 0
        print(f"  {sid}: {len(msgs)} streams: " + ", ".join(
            f"{m.name.removesuffix('Req').removesuffix('Res')}{m.name[-3:]}"
            f"@{(m.header_time or 0) - t0}" for m in msgs))


def report(data: RealData, every: RealData) -> None:
    """``data``: the -20 sessions; ``every``: all sessions (for the dSPACE addresses)."""
    heading("ISO 15118-20 sessions (captures, full wire order)")
    print(f"{len(data.sessions)} sessions, {sum(len(s.messages) for s in data.sessions)} "
          "messages; the -20 unit-test rows form none (test_real_sessions_iso20.py)")
    for s in data.sessions:
        session_block(s)
    sides(data, every)
    loops(data)
    timing(data)
    odd(data)
    vectors(data)


def main(argv: list[str]) -> int:
    shared = Path(argv[0]) if argv else Path(__file__).resolve().parents[3] / "shared"
    report(load(shared, ("iso20",)), load(shared, ALL_PROTOCOLS))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
