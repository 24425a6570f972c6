"""The captures in ``../shared/vectors/interop``, read in place: Josev against this library.

``tls13-hrr``: Josev's EV offers an x25519 key share, our -20 SECC wants secp521r1, so
the server answers with a HelloRetryRequest (frame 8) and a compatibility
ChangeCipherSpec before the real ServerHello (frame 11). The 11 V2GTP messages must all
come out, with nothing left encrypted.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from support.oracle import shared_dir

from iso15118.capture import KeyLog, read_capture

_SHARED = shared_dir()
HRR = _SHARED / "vectors" / "interop" / "tls13-hrr" if _SHARED else None
PCAP = HRR / "iso20-dc-tls13-hrr.pcap" if HRR else None
KEYS = HRR / "iso20-dc-tls13-hrr.keys.txt" if HRR else None
pytestmark = pytest.mark.skipif(PCAP is None or not PCAP.is_file(),
                                reason="../shared/vectors/interop/tls13-hrr not present")

MESSAGES = [
    ("EV->EVSE", "apphand", "supportedAppProtocolReq"),
    ("EVSE->EV", "apphand", "supportedAppProtocolRes"),
    ("EV->EVSE", "iso20-common", "SessionSetupReq"),
    ("EVSE->EV", "iso20-common", "SessionSetupRes"),
    ("EV->EVSE", "iso20-common", "AuthorizationSetupReq"),
    ("EVSE->EV", "iso20-common", "AuthorizationSetupRes"),
    ("EV->EVSE", "iso20-common", "AuthorizationReq"),
    ("EVSE->EV", "iso20-common", "AuthorizationRes"),
    ("EV->EVSE", "iso20-common", "ServiceDiscoveryReq"),
    ("EVSE->EV", "iso20-common", "ServiceDiscoveryRes"),
    ("EV->EVSE", "iso20-common", "ServiceDetailReq"),
]


def test_josev_session_after_a_hello_retry_request_decodes_all_11_messages() -> None:
    assert PCAP is not None and KEYS is not None
    result = read_capture(PCAP.read_bytes(), KeyLog.parse(KEYS.read_text()))
    assert [(m.direction, m.protocol, m.name) for m in result.messages] == MESSAGES
    assert result.problems == []
    [conn] = result.connections
    assert conn.tls == "TLS 1.3 TLS_AES_256_GCM_SHA384 (after HelloRetryRequest), decrypted"
    assert conn.undecrypted_records == 0 and conn.protocol == "iso20-dc"
    notices = {e.number: e.name for e in result.entries if e.kind == "notice"}
    assert notices[8] == ("TLS 1.3 HelloRetryRequest: the server asks for a secp521r1 key "
                          "share (offered: x25519)")
    assert notices[11] == "TLS 1.3 TLS_AES_256_GCM_SHA384, decrypted"


def test_pcap_command_on_the_capture_prints_the_timeline_and_no_problems() -> None:
    r = subprocess.run([sys.executable, "-m", "iso15118", "pcap", str(PCAP), "-k", str(KEYS)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    head = r.stdout.splitlines()[:2]
    assert head[0].endswith("2 SDP, 11 V2GTP messages, 0 undecodable")
    assert "TLS 1.3 TLS_AES_256_GCM_SHA384 (after HelloRetryRequest), decrypted" in head[1]
    assert "not supported" not in r.stdout and "stay encrypted" not in r.stdout
    r = subprocess.run([sys.executable, "-m", "iso15118", "pcap", "--problems", str(PCAP),
                        "-k", str(KEYS)], capture_output=True, text=True, timeout=60)
    assert [x for x in r.stdout.splitlines() if not x.startswith("#")] == []
