"""Message rows of one session -> the session's row: who, which protocol, how it ended,
how long each phase took, the extremes of the main values.

Phases are runs of consecutive messages of the phase (first request to last response of
each run, summed over the runs), the same in every protocol: DIN/-2 CableCheck,
PreCharge and the charge loop (CurrentDemand for DC, ChargingStatus for AC); -20
DC_CableCheck, DC_PreCharge, DC_/AC_ChargeLoop.
A session ``failed`` when any response carries a FAILED code (ISO 15118-2 Table 105:
every FAILED code ends the session), ``stopped`` when SessionStop was answered without
one, else it is ``incomplete`` (the capture or log ends, or the connection dropped).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from iso15118 import protocols
from iso15118.export.records import MessageRecord

__all__ = ["session_rows"]

_PHASES: Final = {
    "cable_check_s": ("CableCheck", "DC_CableCheck"),
    "precharge_s": ("PreCharge", "DC_PreCharge"),
    "charge_loop_s": ("CurrentDemand", "ChargingStatus", "DC_ChargeLoop", "AC_ChargeLoop"),
}
_BY_NAMESPACE: Final = {p.namespace: p.name for p in protocols.PROTOCOLS.values()}
_PHASE_OF: Final = {f"{stem}{suffix}": phase for phase, stems in _PHASES.items()
                    for stem in stems for suffix in ("Req", "Res")}


def _max(rows: list[dict[str, Any]], column: str) -> float | None:
    values = [r[column] for r in rows if r.get(column) is not None]
    return max(values) if values else None


def _min(rows: list[dict[str, Any]], column: str) -> float | None:
    values = [r[column] for r in rows if r.get(column) is not None]
    return min(values) if values else None


def _first(rows: list[dict[str, Any]], column: str) -> Any:
    return next((r[column] for r in rows if r.get(column) is not None), None)


def _handshake(records: list[MessageRecord]) -> tuple[list[str], str | None]:
    offered: dict[int, str] = {}
    agreed: str | None = None
    for r in records:
        if r.protocol != "apphand" or r.value is None:
            continue
        if r.name == "supportedAppProtocolReq":
            offered = {ap.schema_id: ap.protocol_namespace
                       for ap in getattr(r.value, "app_protocol", None) or []}
        elif r.name == "supportedAppProtocolRes":
            sid = getattr(r.value, "schema_id", None)
            agreed = offered.get(sid) if isinstance(sid, int) else None
    return list(offered.values()), agreed


def _phase_seconds(rows: list[dict[str, Any]]) -> dict[str, float | None]:
    """Per phase, the summed span of its runs of consecutive messages: a charge loop
    interrupted by a renegotiation or a pause counts twice, not the time between."""
    total: dict[str, float | None] = dict.fromkeys(_PHASES)
    run: tuple[str, float, float] | None = None  # (phase, first time, last time)
    for row in [*rows, {"message": "", "time_s": None}]:
        phase = _PHASE_OF.get(row["message"])
        t = row["time_s"]
        if run is not None and (phase != run[0] or t is None):
            total[run[0]] = (total[run[0]] or 0.0) + run[2] - run[1]
            run = None
        if phase is not None and t is not None:
            run = (phase, run[1] if run else t, t)
    return total


def _one(key: str, records: list[MessageRecord], rows: list[dict[str, Any]]) -> dict[str, Any]:
    exi = [(rec, row) for rec, row in zip(records, rows, strict=True) if rec.kind == "exi"]
    exi_rows = [row for _, row in exi]
    times = [r["time_s"] for r in exi_rows if r["time_s"] is not None]
    offered, agreed = _handshake(records)
    protocol = next((r.protocol for r, _ in exi if r.protocol not in (None, "apphand")), None)
    failed = next((row for row in exi_rows
                   if str(row.get("response_code") or "").startswith("FAILED")), None)
    stopped = any(row["message"] == "SessionStopRes"
                  and str(row.get("response_code") or "").startswith("OK") for row in exi_rows)
    out: dict[str, Any] = {
        "session": key, "source": records[0].source, "reader": records[0].reader,
        "messages": len(exi), "sdp_messages": sum(1 for r in records if r.kind == "sdp"),
        "undecodable": sum(1 for r, _ in exi if r.error is not None),
        "evccid": _first(exi_rows, "evccid"), "evse_id": _first(exi_rows, "evse_id"),
        "session_id": next((row["session_id"] for row in exi_rows
                            if str(row.get("session_id") or "").strip("0")
                            and row["message"].endswith("Res")), None),
        "protocols_offered": offered, "protocol_agreed": agreed,
        "protocol": _BY_NAMESPACE.get(agreed or "", protocol),
        "start_s": min(times) if times else None,
        "duration_s": (max(times) - min(times)) if times else None,
        "energy_transfer_mode": _first(exi_rows, "energy_transfer_mode"),
        "payment_option": _first(exi_rows, "payment_option"),
        "outcome": "failed" if failed else "stopped" if stopped else "incomplete",
        "first_failed_code": failed["response_code"] if failed else None,
        "first_failed_message": failed["message"] if failed else None,
        "last_message": exi_rows[-1]["message"] if exi_rows else None,
        "charge_loop_messages": sum(1 for row in exi_rows
                                    if _PHASE_OF.get(row["message"]) == "charge_loop_s"
                                    and row["message"].endswith("Req")),
        "ev_target_current_max_a": _max(exi_rows, "ev_target_current_a"),
        "ev_target_voltage_max_v": _max(exi_rows, "ev_target_voltage_v"),
        "evse_present_current_max_a": _max(exi_rows, "evse_present_current_a"),
        "evse_present_voltage_max_v": _max(exi_rows, "evse_present_voltage_v"),
        "evse_present_voltage_min_v": _min(exi_rows, "evse_present_voltage_v"),
        "evse_maximum_power_w": _max(exi_rows, "evse_maximum_power_w"),
    }
    socs = [row["soc_percent"] for row in exi_rows if row.get("soc_percent") is not None]
    out["soc_start_percent"] = socs[0] if socs else None
    out["soc_end_percent"] = socs[-1] if socs else None
    for phase, seconds in _phase_seconds(exi_rows).items():
        out[phase] = seconds
    return out


def session_rows(records: Iterable[MessageRecord], rows: Iterable[dict[str, Any]]
                 ) -> list[dict[str, Any]]:
    """One row per session key among the records (records without a session give none),
    in order of first appearance. A session with SDP messages but no V2G message (the
    vehicle never connected) gets no row: it has no session of its own."""
    groups: dict[str, tuple[list[MessageRecord], list[dict[str, Any]]]] = {}
    for rec, row in zip(records, rows, strict=True):
        if rec.session is None:
            continue
        recs, rs = groups.setdefault(rec.session, ([], []))
        recs.append(rec)
        rs.append(row)
    return [_one(key, recs, rs) for key, (recs, rs) in groups.items()
            if any(r.kind == "exi" for r in recs)]
