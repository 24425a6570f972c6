"""The OCA JSON schemas of OCPP 2.0.1 and 2.1, and validation against them.

The schemas are the ones the ``ocpp`` package (mobilityhouse, 2.1.0) ships under
``ocpp/v201/schemas`` and ``ocpp/v21/schemas``; they are read as files, without importing
the package, and compiled once per message. The package itself needs Python >= 3.11 and
is the optional extra ``v2g-iso15118[ocpp]``: without it every conversion of this bridge
still works, only :func:`validate` (and so every function that consumes a payload)
raises :class:`OcppSchemasUnavailable` saying what to install.

Keys stay camelCase exactly as the schemas spell them (``maxChargePower_L2``,
``prioritizedEMAIDs``): the ``ocpp`` package's snake_case converters mangle 43 keys of
2.1, so this bridge never goes through them.
"""

from __future__ import annotations

import datetime as _dt
import importlib.util
import json
import re
import threading
from pathlib import Path
from typing import Any

from iso15118.ocpp.errors import OcppPayloadError, OcppSchemasUnavailable

__all__ = ["V201", "V21", "VERSIONS", "schema", "validate"]

V201 = "2.0.1"
V21 = "2.1"
#: OCPP version -> the ``ocpp`` package's directory of its schemas
VERSIONS = {V201: "v201", V21: "v21"}

_lock = threading.Lock()
_validators: dict[tuple[str, str], Any] = {}


def _schema_dir(version: str) -> Path:
    if version not in VERSIONS:
        raise ValueError(f"OCPP version {version!r} is not one of {', '.join(VERSIONS)}")
    spec = importlib.util.find_spec("ocpp")
    if spec is None or not spec.submodule_search_locations:
        raise OcppSchemasUnavailable(
            "the OCA JSON schemas come with the 'ocpp' package (Python >= 3.11): "
            "pip install 'v2g-iso15118[ocpp]'")
    return Path(next(iter(spec.submodule_search_locations))) / VERSIONS[version] / "schemas"


def schema(message: str, version: str) -> dict[str, Any]:
    """The JSON schema of ``message`` (``"AuthorizeRequest"``) in OCPP ``version``."""
    path = _schema_dir(version) / f"{message}.json"
    try:
        with open(path, encoding="utf-8") as f:
            loaded: dict[str, Any] = json.load(f)
    except FileNotFoundError:
        raise OcppSchemasUnavailable(f"no schema {message} in OCPP {version} ({path})") from None
    return loaded


_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")


def is_date_time(value: object) -> bool:
    """RFC 3339 date-time, as OCPP's ``format: date-time`` means: a zone is required (a
    station must not guess what a local time meant), and the fields must be a real date.
    Checked here rather than by jsonschema, whose checker is silently off unless an
    optional package is installed."""
    if not isinstance(value, str):
        return True  # not a string: "type" reports it
    if _RFC3339.fullmatch(value) is None:
        return False
    try:
        _dt.datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _validator(message: str, version: str) -> Any:
    key = (message, version)
    found = _validators.get(key)
    if found is not None:
        return found
    try:
        import jsonschema
    except ImportError:  # pragma: no cover - jsonschema comes with ocpp
        raise OcppSchemasUnavailable("validation needs jsonschema: "
                                     "pip install 'v2g-iso15118[ocpp]'") from None
    loaded = schema(message, version)
    cls = jsonschema.validators.validator_for(loaded)
    checker = jsonschema.FormatChecker(formats=())
    checker.checks("date-time")(is_date_time)
    made = cls(loaded, format_checker=checker)
    with _lock:
        _validators[key] = made
    return made


def _path(parts: Any) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def validate(message: str, payload: Any, version: str) -> None:
    """Check ``payload`` against the schema of ``message``; raise :class:`OcppPayloadError`
    naming the first offending field (errors ordered by path, so the name is stable)."""
    errors = sorted(_validator(message, version).iter_errors(payload),
                    key=lambda e: (len(e.absolute_path), _path(e.absolute_path), e.validator))
    if not errors:
        return
    err = errors[0]
    field = _path(err.absolute_path)
    if err.validator == "required" and isinstance(err.instance, dict):
        missing = [r for r in err.validator_value if r not in err.instance]
        if missing:
            field = f"{field}.{missing[0]}" if field else missing[0]
            raise OcppPayloadError(message, version, field, "required member is missing")
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        allowed = set(err.schema.get("properties", {}))
        extra = sorted(k for k in err.instance if k not in allowed)
        if extra:
            field = f"{field}.{extra[0]}" if field else extra[0]
            raise OcppPayloadError(message, version, field, "not a member of this type")
    raise OcppPayloadError(message, version, field, err.message)
