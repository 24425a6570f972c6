"""The schemas are the documented ones: the README's tables are generated from
``iso15118.export.schema``, the Arrow schemas carry the version, and the column order is
pinned (columns are only ever appended: a change here is a breaking change for users)."""

from __future__ import annotations

from support.oracle import repo_root

from iso15118.export.schema import (
    MESSAGE_COLUMNS,
    PHYSICAL_FIELDS,
    SESSION_COLUMNS,
    TEXT_FIELDS,
    markdown_table,
)
from iso15118.export.tables import MESSAGES_SCHEMA, SESSIONS_SCHEMA

MESSAGES_V1 = (
    "source reader session seq frame offset time time_s session_time_s direction kind protocol "
    "payload_type message error note response_code session_id evccid evse_id evse_processing "
    "ev_ready ev_error_code evse_status_code evse_isolation_status charge_progress "
    "energy_transfer_mode payment_option soc_percent ev_target_voltage_v ev_target_current_a "
    "ev_target_power_w ev_present_voltage_v ev_present_power_w evse_present_voltage_v "
    "evse_present_current_a evse_present_power_w evse_target_power_w ev_maximum_voltage_v "
    "ev_maximum_current_a ev_maximum_power_w evse_maximum_voltage_v evse_maximum_current_a "
    "evse_maximum_power_w ev_energy_request_wh remaining_time_to_full_soc_s payload "
    "message_json").split()
SESSIONS_V1 = (
    "session source reader messages sdp_messages undecodable evccid evse_id session_id "
    "protocols_offered protocol_agreed protocol start end start_s duration_s "
    "energy_transfer_mode payment_option outcome first_failed_code first_failed_message "
    "last_message cable_check_s precharge_s charge_loop_s charge_loop_messages "
    "soc_start_percent soc_end_percent ev_target_current_max_a ev_target_voltage_max_v "
    "evse_present_current_max_a evse_present_voltage_max_v evse_present_voltage_min_v "
    "evse_maximum_power_w").split()


def test_column_order_is_pinned() -> None:
    assert MESSAGES_SCHEMA.names[: len(MESSAGES_V1)] == MESSAGES_V1
    assert SESSIONS_SCHEMA.names[: len(SESSIONS_V1)] == SESSIONS_V1
    assert MESSAGES_SCHEMA.metadata[b"iso15118.schema"] == b"1"


def test_units_are_in_the_names_of_the_physical_columns() -> None:
    units = ("_v", "_a", "_w", "_wh", "_s", "_percent")
    for c in MESSAGE_COLUMNS + SESSION_COLUMNS:
        if c.type == "float64":
            assert c.name.endswith(units), c.name
    # an XSD name feeds one column only
    assert not set(PHYSICAL_FIELDS) & set(TEXT_FIELDS)


def test_readme_shows_the_generated_tables() -> None:
    readme = (repo_root() / "README.md").read_text()
    assert markdown_table(MESSAGE_COLUMNS) in readme
    assert markdown_table(SESSION_COLUMNS) in readme
