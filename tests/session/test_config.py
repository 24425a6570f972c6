"""The simulators' TOML configuration: every setting lands where it should, and a typo or
a wrong type is an error that names the key (never silently ignored)."""

from __future__ import annotations

from pathlib import Path

import pytest

from iso15118.session import EnergyMode, EVSEState, EVState, SeccConfig
from iso15118.session.config import (
    ConfigError,
    apply_table,
    load_toml,
    schedules_from,
    services_from,
)
from iso15118.session.simulation import ChargerBehaviour


def test_a_charger_file_sets_state_behaviour_session_and_schedules(tmp_path: Path) -> None:
    path = tmp_path / "charger.toml"
    path.write_text("""
[evse]
evse_id = "DE*ABC*E42*1"
energy_modes = ["DC_extended", "AC_three_phase_core"]
[evse.dc]
max_current = 200
max_power = 150000
[behaviour]
cable_check_s = 10
authorize = false
[session]
await_schedules = true
session_id_length = 4
[[schedules]]
id = 7
entries = [[0, 50000, 3600], [3600, 11000]]
[[services]]
id = 3
category = "Internet"
parameter_sets = { 1 = { Protocol = "https", Port = 443 } }
""")
    data = load_toml(path)
    evse, behaviour, config = EVSEState(), ChargerBehaviour(), SeccConfig()
    apply_table(evse, data["evse"], "evse")
    apply_table(behaviour, data["behaviour"], "behaviour")
    apply_table(config, data["session"], "session")
    assert evse.evse_id == "DE*ABC*E42*1"
    assert evse.energy_modes == (EnergyMode.DC_extended, EnergyMode.AC_three_phase_core)
    assert evse.dc.max_current == 200.0 and evse.dc.max_power == 150_000.0
    assert behaviour.cable_check_s == 10.0 and behaviour.authorize is False
    assert config.await_schedules is True and config.session_id_length == 4
    (schedule,) = schedules_from(data["schedules"])
    assert schedule.schedule_id == 7 and schedule.max_power_at(4000) == 11_000.0
    (service,) = services_from(data["services"])
    assert service.parameter_sets == {1: {"Protocol": "https", "Port": 443}}


@pytest.mark.parametrize(("table", "message"), [
    ({"socc": 30}, "[vehicle] has no setting 'socc'"),
    ({"soc": "full"}, "vehicle.soc: expected a number"),
    ({"energy_mode": "DC_fast"}, "vehicle.energy_mode: 'DC_fast' is not one of"),
    ({"evcc_id": "not hex"}, "vehicle.evcc_id: expected hex"),
    ({"ready": 1}, "vehicle.ready: expected true or false"),
])
def test_typos_and_wrong_types_are_errors_naming_the_key(table: dict[str, object],
                                                         message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        apply_table(EVState(), table, "vehicle")


def test_a_broken_file_is_an_error_with_its_name(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[vehicle\nsoc = 3")
    with pytest.raises(ConfigError, match="bad.toml"):
        load_toml(path)
    with pytest.raises(ConfigError, match="cannot read"):
        load_toml(tmp_path / "missing.toml")
