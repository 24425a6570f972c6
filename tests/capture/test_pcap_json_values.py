"""``iso15118 pcap --format json`` keeps every value of a summary, repeated keys included.

A car that offers DIN and ISO-2 sends two AppProtocols; the JSON ``values`` object used to
keep only the last one. A repeated key now maps to the list of its values (keys that occur
once keep a plain string, so existing ``jq .values.X`` scripts are unaffected).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from support.oracle import shared_dir

from iso15118.cli_capture import values_object

_SHARED = shared_dir()
POLESTAR = (_SHARED / "vectors" / "real" / "pcap" / "pyPLC"
            / "2024-06-11_Griffigroen_polestar2_stop_in_precharge.pcapng") if _SHARED else None


def test_repeated_keys_become_lists_in_order_and_single_keys_stay_strings() -> None:
    pairs = [("AppProtocol", "a"), ("ResponseCode", "OK"), ("AppProtocol", "b"),
             ("AppProtocol", "c")]
    assert values_object(pairs) == {"AppProtocol": ["a", "b", "c"], "ResponseCode": "OK"}
    assert values_object([]) == {}


def test_a_real_car_offering_din_and_iso2_shows_both_in_json() -> None:
    if POLESTAR is None or not POLESTAR.exists():
        pytest.skip("../shared/vectors/real is not beside the checkout")
    out = subprocess.run([sys.executable, "-m", "iso15118", "pcap", "--format", "json",
                          str(POLESTAR)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    entries = [json.loads(line) for line in out.stdout.splitlines()]
    req = next(e for e in entries if e.get("message") == "supportedAppProtocolReq")
    offered = req["values"]["AppProtocol"]
    assert [o.split()[0] for o in offered] == ["urn:din:70121:2012:MsgDef",
                                              "urn:iso:15118:2:2013:MsgDef"]
    res = next(e for e in entries if e.get("message") == "supportedAppProtocolRes")
    assert isinstance(res["values"]["ResponseCode"], str)
