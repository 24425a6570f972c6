"""mypy sees what the schema requires: a user file that leaves out a required field, or
takes no branch (or two) of a choice, fails type checking; the complete message passes.

This is the point of generating required keyword arguments and choice overloads, so it
is checked with mypy itself on a file an integrator could have written.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

USER_FILE = '''
from iso15118.messages import iso2, iso20_common, iso20_types

status = iso2.DC_EVStatusType(ev_ready=True, ev_error_code=iso2.DC_EVErrorCodeType.NO_ERROR,
                              evress_soc=50)
amps = iso2.PhysicalValueType.from_number(125, "A")
volts = iso2.PhysicalValueType.from_number(400, "V")

complete = iso2.CurrentDemandReqType(dc_ev_status=status, ev_target_current=amps,
                                     ev_target_voltage=volts, charging_complete=False)
incomplete = iso2.CurrentDemandReqType(ev_target_current=amps,  # mypy: missing dc_ev_status
                                       ev_target_voltage=volts, charging_complete=False)
wrong_type = iso2.CurrentDemandReqType(dc_ev_status=status, ev_target_current=50,  # mypy: an int
                                       ev_target_voltage=volts, charging_complete=False)

header = iso20_types.MessageHeaderType(session_id=bytes(8), time_stamp=0)
eim = iso20_common.AuthorizationReqType(
    header=header, selected_authorization_service=iso20_common.AuthorizationType.EIM,
    eim_a_req_authorization_mode=iso20_common.EIM_AReqAuthorizationModeType())
no_branch = iso20_common.AuthorizationReqType(  # mypy: no branch of the choice
    header=header, selected_authorization_service=iso20_common.AuthorizationType.EIM)
soc: int = complete.dc_ev_status.evress_soc
maybe: iso2.PhysicalValueType = complete.ev_maximum_power_limit  # mypy: it is Optional
'''


def test_mypy_reports_missing_required_fields_and_choices(tmp_path: Path) -> None:
    pytest.importorskip("mypy", reason="mypy is in the test extra")
    user = tmp_path / "charger.py"
    user.write_text(USER_FILE.lstrip("\n"))
    src = Path(__file__).resolve().parents[2] / "src"
    env = dict(os.environ, MYPYPATH=str(src))
    out = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", "--follow-imports=silent",
         "--cache-dir", str(tmp_path / "cache"), str(user)],
        capture_output=True, text=True, env=env, timeout=600)
    lines = [ln for ln in out.stdout.splitlines() if ": error:" in ln]
    by_line: dict[int, list[str]] = {}
    for ln in lines:
        by_line.setdefault(int(ln.split(":")[1]), []).append(ln)
    assert 'Missing named argument "dc_ev_status"' in " ".join(by_line.get(10, [])), out.stdout
    assert "ev_target_current" in " ".join(by_line.get(12, [])), out.stdout
    assert "No overload variant" in " ".join(by_line.get(19, [])), out.stdout
    assert "PhysicalValueType | None" in " ".join(by_line.get(22, [])), out.stdout
    assert set(by_line) == {10, 12, 19, 22}, out.stdout
