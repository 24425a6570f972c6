"""Small helpers shared by the bridge's modules: base64, times, numbers."""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import math
from typing import Any

from iso15118.ocpp.errors import OcppConversionError

__all__ = ["b64decode", "b64encode", "iso_time", "parse_time", "whole"]


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str, field: str) -> bytes:
    """Strict base64 (RFC 4648 alphabet, padding required): a CSMS that sends anything
    else is told which field was wrong rather than handed to the EV half-decoded."""
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise OcppConversionError(f"{field} is not base64") from None


def iso_time(at: _dt.datetime) -> str:
    """RFC 3339 UTC with a Z, seconds precision (what OCPP's date-time examples use)."""
    if at.tzinfo is None:
        raise OcppConversionError("times given to the OCPP bridge must be timezone-aware")
    return at.astimezone(_dt.timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str, field: str) -> _dt.datetime:
    """An OCPP date-time; one without a zone is refused (OCPP says UTC, but a station
    must not guess what a CSMS meant)."""
    try:
        parsed = _dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise OcppConversionError(f"{field}: {text!r} is not a date-time") from None
    if parsed.tzinfo is None:
        raise OcppConversionError(f"{field}: {text!r} has no time zone")
    return parsed


def whole(value: Any) -> int:
    """2.0.1's integer fields from a physical value: round half away from zero.

    Stated rule: values are rounded to the nearest integer, halves away from zero
    (Python's round() would send 12.5 A as 12); limits the EV stated are never
    widened by more than half a unit."""
    x = float(value)
    if not math.isfinite(x):
        raise OcppConversionError(f"{value!r} is not a finite number")
    return int(math.floor(abs(x) + 0.5)) * (1 if x >= 0 else -1)
