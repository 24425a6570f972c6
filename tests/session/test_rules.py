"""The rules tables themselves: complete, connected, cited; and the cores stay sans-IO."""

from __future__ import annotations

import subprocess
import sys

import pytest

from iso15118.session.rules import STEPS, ProtocolRules
from iso15118.session.rules_din import RULES as DIN
from iso15118.session.rules_iso2 import RULES as ISO2
from iso15118.session.rules_iso20 import RULES as ISO20

TABLES = {"din": DIN, "iso2": ISO2, "iso20": ISO20}


@pytest.mark.parametrize("protocol", list(TABLES))
def test_every_entry_cites_where_the_standard_says_it(protocol: str) -> None:
    rules = TABLES[protocol]
    assert all(e.clause for e in rules.exchanges)
    assert all(t.clause for t in rules.graph)
    assert all(t.clause and t.seconds > 0 for t in rules.timers)
    assert all(e.step in STEPS for e in rules.exchanges)
    # the SECC answers within its performance time, before the EV gives up
    assert all(0 < e.secc_performance < e.ev_timeout for e in rules.exchanges)


@pytest.mark.parametrize("protocol", list(TABLES))
def test_every_state_and_request_is_reachable_and_every_state_leads_on(protocol: str) -> None:
    rules: ProtocolRules = TABLES[protocol]
    allowed = {t.state: set(t.allowed) for t in rules.graph}
    used = set().union(*allowed.values())
    assert used == {e.step for e in rules.exchanges}  # no request the graph never allows
    assert "Idle" in allowed and all(allowed.values())  # every state allows something


def test_the_secc_ongoing_limit_comes_before_the_evs() -> None:
    for rules in TABLES.values():
        assert rules.timer("secc_ongoing") < rules.timer("evcc_ongoing")
        assert rules.timer("secc_sequence") > rules.timer("evcc_sequence_performance")


def test_the_session_cores_import_no_socket_layer() -> None:
    code = ("import sys, iso15118.session.secc, iso15118.session.evcc, iso15118.session.pair;"
            "print(sorted(m for m in sys.modules if m in ('asyncio', 'ssl', 'socket') "
            "or m.startswith('iso15118.transport')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"
