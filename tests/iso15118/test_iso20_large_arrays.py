"""ISO 15118-20 arrays at the schema's own limits, not the caps some C codecs set.

libcbv2g caps PowerScheduleEntry lists and parameter sets below what the schema
allows; ours follow the schema: 1,024 schedule entries encode, decode and match the
reference byte for byte, and one entry more is refused with the field path.
"""

from __future__ import annotations

from typing import Any

import pytest

from iso15118 import codec
from iso15118.errors import Iso15118Error
from iso15118.messages import iso20_common as c20

PROTOCOL = "iso20-common"


def schedule_res(entries: int) -> c20.ScheduleExchangeResType:
    power = [c20.PowerScheduleEntryType(duration=60 + i,
                                        power=c20.RationalNumberType(exponent=3, value=i % 3000))
             for i in range(entries)]
    schedule = c20.PowerScheduleType(
        time_anchor=1_700_000_000,
        power_schedule_entries=c20.PowerScheduleEntryListType(power_schedule_entry=power))
    return c20.ScheduleExchangeResType(
        header=c20.MessageHeaderType(session_id=bytes(range(8)), time_stamp=1_700_000_000),
        response_code=c20.ResponseCodeType.OK,
        evse_processing=c20.ProcessingType.Finished,
        scheduled_se_res_control_mode=c20.Scheduled_SEResControlModeType(schedule_tuple=[
            c20.ScheduleTupleType(schedule_tuple_id=1, charging_schedule=c20.ChargingScheduleType(
                power_schedule=schedule))]))


def test_1024_power_schedule_entries_round_trip() -> None:
    msg = schedule_res(1024)
    data = codec.encode(msg, PROTOCOL)
    assert codec.decode(data, PROTOCOL, strict=True) == msg


def test_more_entries_than_the_schema_allows_are_refused_with_the_path() -> None:
    with pytest.raises(Iso15118Error) as info:
        codec.encode(schedule_res(1025), PROTOCOL)
    assert "PowerScheduleEntry[1024]" in str(info.value)


@pytest.mark.oracle
def test_1024_entries_match_the_reference(oracle: Any) -> None:
    msg = schedule_res(1024)
    xml = codec.to_xml(msg, PROTOCOL)
    want = oracle.encode_xml("iso20-common", xml)
    assert codec.encode(msg, PROTOCOL) == want
    assert codec.decode(want, PROTOCOL) == msg
