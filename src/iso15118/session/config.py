"""TOML configuration of the simulated charger and vehicle (``--config FILE``).

A file sets any field of the objects a simulator is made of, by their attribute names::

    # charger.toml                           # vehicle.toml
    [evse]                                   [vehicle]
    evse_id = "DE*V2G*E0001*1"                soc = 30
    energy_modes = ["DC_extended"]           target_soc = 80
    [evse.dc]                                max_current = 200
    max_current = 200                        battery_voltage = 380  # also from the SoC
    max_power = 150000                       [battery]
    [behaviour]                              empty_voltage = 330
    cable_check_s = 10                       full_voltage = 420
    authorization_delay_s = 2                [session]
    authorize = true                         loop_interval = 0.1
    [session]                                ongoing_interval = 0.5
    await_schedules = false
    [[schedules]]
    id = 1
    entries = [[0, 50000, 86400]]           # start s, max W, duration s

Sections: charger ``evse`` (:class:`EVSEState`, with ``dc``/``ac`` sub-tables),
``behaviour`` (:class:`ChargerBehaviour`), ``session`` (:class:`SeccConfig`),
``schedules``, ``services``; vehicle ``vehicle`` (:class:`EVState`), ``battery``
(:class:`VehicleBehaviour`), ``session`` (:class:`EvccConfig`). Unknown keys and values
of the wrong type are errors that name the key: a typo must not be silently ignored.
"""

from __future__ import annotations

import dataclasses
import enum
import sys
import types
import typing
from pathlib import Path
from typing import Any

from iso15118.errors import Iso15118Error
from iso15118.session.values import Schedule, ScheduleEntry, ValueAddedService

__all__ = ["ConfigError", "apply_table", "load_toml", "schedules_from", "services_from"]


class ConfigError(Iso15118Error):
    """A configuration file or value the simulators cannot use."""


def load_toml(path: str | Path) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        try:
            import tomli as tomllib
        except ImportError:
            raise ConfigError("config files need Python 3.11+ (or the tomli package)") from None
    try:
        with open(path, "rb") as f:
            data: dict[str, Any] = tomllib.load(f)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return data


def apply_table(obj: Any, table: dict[str, Any], where: str) -> None:
    """Set ``obj``'s dataclass fields from ``table`` (nested dataclasses from sub-tables)."""
    if not isinstance(table, dict):
        raise ConfigError(f"[{where}] must be a table")
    hints = typing.get_type_hints(type(obj))
    names = {f.name for f in dataclasses.fields(obj) if not f.name.startswith("_")}
    for key, value in table.items():
        if key not in names:
            raise ConfigError(f"[{where}] has no setting {key!r} "
                              f"(one of: {', '.join(sorted(names))})")
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current) and not isinstance(current, type):
            apply_table(current, value, f"{where}.{key}")
            continue
        setattr(obj, key, _convert(value, hints[key], f"{where}.{key}"))


def _convert(value: Any, hint: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(value, arg, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"{where}: bad value {value!r}")
    if origin is tuple:
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        item = args[0] if args else Any
        return tuple(_convert(v, item, where) for v in value)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        try:
            return hint(value)
        except ValueError:
            try:
                return hint[value]
            except KeyError:
                options = ", ".join(m.value for m in hint)
                raise ConfigError(f"{where}: {value!r} is not one of {options}") from None
    if hint is bytes:
        if isinstance(value, str):
            try:
                return bytes.fromhex(value.replace(":", ""))
            except ValueError:
                pass
        raise ConfigError(f"{where}: expected hex, got {value!r}")
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if hint is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    if hint is Any:
        return value
    raise ConfigError(f"{where}: cannot be set from a file")


def schedules_from(items: Any) -> list[Schedule]:
    """``[[schedules]]`` tables: ``id`` and ``entries`` = [[start, max W, duration]...]."""
    if not isinstance(items, list):
        raise ConfigError("schedules must be an array of tables ([[schedules]])")
    out = []
    for i, item in enumerate(items):
        try:
            entries = tuple(ScheduleEntry(int(e[0]), float(e[1]),
                                          int(e[2]) if len(e) > 2 else None)
                            for e in item["entries"])
            out.append(Schedule(int(item["id"]), entries))
        except (KeyError, TypeError, ValueError, IndexError):
            raise ConfigError(f"schedules[{i}]: needs id and entries = [[start, max_power, "
                              "duration], ...]") from None
    return out


def services_from(items: Any) -> list[ValueAddedService]:
    """``[[services]]`` tables: id, category, name, free, parameter_sets."""
    if not isinstance(items, list):
        raise ConfigError("services must be an array of tables ([[services]])")
    out = []
    for i, item in enumerate(items):
        try:
            sets = {int(k): dict(v) for k, v in item.get("parameter_sets", {}).items()}
            out.append(ValueAddedService(int(item["id"]), str(item.get("category", "OtherCustom")),
                                         item.get("name"), item.get("scope"),
                                         bool(item.get("free", True)), sets))
        except (KeyError, TypeError, ValueError):
            raise ConfigError(f"services[{i}]: needs id (and category, name, free, "
                              "parameter_sets)") from None
    return out
