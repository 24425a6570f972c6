"""Run Josev (EcoG-io/iso15118 0.31.2, PyPI ``iso15118``) as the peer of a session test.

Josev is the reference peer our SECC and EVCC are tested against in CI, in both directions,
each a full V2G communication session (SDP, TCP or TLS 1.2, supportedAppProtocol, DIN SPEC
70121 or ISO 15118-2) between two network namespaces. Its import name clashes with ours, so
it always runs in its own venv (``bash ../shared/tools/exi-oracle/setup.sh`` makes it) and
its own process, started through ``run_josev.py``. What each knob makes Josev do, and what
Josev cannot do, is in ``README.md`` next to this file.

Typical use (``josev`` is :func:`josev_fixture`; it skips with the reason when Josev's venv,
Java, root or ``ip netns`` are missing)::

    def test_our_ev_against_josev_charger(josev: JosevRunner) -> None:
        secc = josev.start_secc(JosevConfig(protocols=("ISO-2",), energy="DC"))
        ...  # run our EVCC with in_netns(josev.netns.evcc_ns, ...) on josev.netns.evcc_if
        end = secc.wait_session_end(timeout=60)
        assert end.ok, secc.failure_report()
        assert secc.received_names()[:2] == ["supportedAppProtocolReq", "SessionSetupReq"]
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import pytest
from support.netns import NetnsPair, in_netns, netns_pair, netns_unavailable_reason

from .pki import JosevPki, PkiVersion, make_josev_pki

__all__ = [
    "JOSEV_VERSION",
    "JosevConfig",
    "JosevError",
    "JosevPki",
    "JosevProcess",
    "JosevRunner",
    "LoggedMessage",
    "SessionEnd",
    "josev_fixture",
    "josev_python",
    "josev_runner",
    "josev_unavailable_reason",
    "make_josev_pki",
    "parse_josev_log",
    "require_josev",
]

JOSEV_VERSION = "0.31.2"
HERE = Path(__file__).resolve().parent
LAUNCHER = HERE / "run_josev.py"
MARK = "@@josev-harness "
#: Josev's EVCC imports aiofile but does not declare it (0.31.2).
AIOFILE_REQUIREMENT = "aiofile>=3.8,<4"

Role = Literal["secc", "evcc"]
#: ISO-2/DIN: AC or DC. ISO 15118-20: the energy transfer service (AC=1, DC=2, AC_BPT=5,
#: DC_BPT=6; bidirectional power transfer, BPT, only in -20).
Energy = Literal["AC", "DC", "AC_BPT", "DC_BPT"]
Auth = Literal["EIM", "PnC"]
#: ISO 15118-20 control mode (ServiceDetailRes parameter ControlMode 1 / 2).
ControlMode = Literal["scheduled", "dynamic"]

#: Our protocol names -> Josev's Protocol enum names.
PROTOCOLS = {
    "DIN": "DIN_SPEC_70121",
    "ISO-2": "ISO_15118_2",
    "ISO-20-AC": "ISO_15118_20_AC",
    "ISO-20-DC": "ISO_15118_20_DC",
}
#: The energy transfer mode each side uses unless ``energy_mode`` says otherwise.
DEFAULT_ENERGY_MODE = {
    "AC": "AC_three_phase_core", "DC": "DC_extended",
    "AC_BPT": "AC_three_phase_core", "DC_BPT": "DC_extended",
}  # fmt: skip
#: Josev's settings (.env); stripped from the inherited environment so the .env decides.
_JOSEV_ENV = (
    "NETWORK_INTERFACE LOG_LEVEL PROTOCOLS AUTH_MODES SECC_ENFORCE_TLS FREE_CHARGING_SERVICE "
    "FREE_CERT_INSTALL_SERVICE ALLOW_CERT_INSTALL_SERVICE USE_CPO_BACKEND STANDBY_ALLOWED "
    "PKI_PATH MESSAGE_LOG_JSON MESSAGE_LOG_EXI ENABLE_TLS_1_3 EVCC_CONFIG_PATH"
).split()


class JosevError(AssertionError):
    """Josev did not do what the test waited for; the message carries its log tail."""


# ---------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JosevConfig:
    """One side's scenario. Knobs marked SECC or EVCC are ignored on the other side."""

    #: Offered (SECC, in priority order) or proposed (EVCC): "DIN", "ISO-2", "ISO-20-AC",
    #: "ISO-20-DC" (-20: the namespace decides AC or DC; ``energy`` must match it).
    protocols: tuple[str, ...] = ("ISO-2",)
    #: EVCC: requested energy (-20: the only energy service it accepts); SECC: the only mode
    #: (-20: the only energy service) offered. Josev's own SECC offers DC_extended and
    #: AC_three_phase_core in -2, and DC+DC_BPT or AC+AC_BPT in -20.
    energy: Energy = "DC"
    #: Exact EnergyTransferMode (e.g. "AC_single_phase_core"); default from ``energy``.
    energy_mode: str | None = None
    #: SECC: payment options offered (Josev offers PnC only over TLS). EVCC: the ones it
    #: may choose (Josev's EV otherwise takes PnC whenever it is offered over TLS).
    auth_modes: tuple[Auth, ...] = ("EIM",)
    #: EVCC: ask for TLS 1.2 in SDP and insist on it. SECC: always serve TLS 1.2
    #: (SECC_ENFORCE_TLS); when False, Josev serves whatever the EV's SDP request asks.
    tls: bool = False
    #: With ``tls``: TLS 1.3 as well (ENABLE_TLS_1_3). SECC: TLS 1.2 or 1.3, and it asks for
    #: the vehicle's certificate (oemCertChain.pem, checked against oemRootCACert.pem).
    #: EVCC: offers TLS 1.3 and 1.2, presents the OEM chain. Set it on both sides.
    tls13: bool = False
    #: ISO 15118-20 control mode. SECC: offer only this one (Josev offers Scheduled first,
    #: then Dynamic twice, MobilityNeedsMode 2 and 1); EVCC: take the first parameter set
    #: with it (Josev's EV takes the first one offered). None: Josev's own behaviour.
    control_mode: ControlMode | None = None
    #: BPT (-20, AC_BPT/DC_BPT): discharge. EVCC: a negative EVPowerProfile (so
    #: BPT_ChannelSelection=Discharge in PowerDeliveryReq) and, Scheduled DC, a negative
    #: EVTargetCurrent in every DC_ChargeLoopReq; Scheduled AC, a negative
    #: EVPresentActivePower. SECC: Dynamic AC, a negative EVSETargetActivePower
    #: (Josev's own rule: no charge power in its session limits, only discharge power).
    bpt_discharge: bool = False
    #: The test PKI both Josev processes read (one per runner): 2 (secp256r1) or 20
    #: (secp521r1); None: ``default_pki`` of the first config started. Josev's -20 PnC
    #: signs the -2 way, and its TLS 1.2 takes only prime256v1: both need 2 (see pki.py).
    pki: PkiVersion | None = None
    # --- EVCC knobs
    #: ChargingStatus / CurrentDemand requests before the EV stops (chargeLoopCycle).
    charge_loops: int = 3
    #: PnC: CertificateInstallationReq before PaymentDetailsReq (isCertInstallNeeded).
    cert_install: bool = False
    #: Stop with SessionStopReq(ChargingSession=Pause) instead of Terminate (patched).
    pause: bool = False
    #: After a paused session: wait this long (s), then SDP again and resume (patched).
    resume_after: float | None = None
    #: Start by resuming this SessionID (hex) instead of SessionID 00 (patched).
    resume_session_id: str | None = None
    #: EV-initiated renegotiation: PowerDeliveryReq(Renegotiate) in place of the N-th
    #: ChargingStatusReq / CurrentDemandReq (patched; once). -20: service renegotiation,
    #: PowerDeliveryReq(Stop) after the N-th ChargeLoopRes, then
    #: SessionStopReq(ChargingSession=ServiceRenegotiation) and ServiceDiscoveryReq.
    ev_renegotiate_after: int | None = None
    #: -20: PowerDeliveryReq(ChargeProgress=Standby) after the N-th ChargeLoopRes, then the
    #: charge loop goes on (patched; Josev's EV never asks for Standby).
    ev_standby_after: int | None = None
    #: -20: PowerDeliveryReq with EVProcessing=Ongoing this many times before the one that
    #: starts (Josev's simulator tosses a coin for each; the harness makes it this count).
    power_delivery_ongoing: int = 0
    # --- SECC knobs
    #: ServiceDiscoveryRes FreeService for charging; also drops the SalesTariff.
    free_charging: bool = False
    #: Offer the certificate installation service (ALLOW_CERT_INSTALL_SERVICE; TLS only).
    cert_install_service: bool = True
    #: CableCheckRes EVSEProcessing=Ongoing for this long after the first CableCheckReq.
    cable_check_seconds: float = 0.0
    #: A DC charger an EV can believe: present voltage/current follow the EV's PreCharge
    #: and CurrentDemand targets and drop to 0 when it stops; limits 50-600 V, 0-300 A,
    #: 150 kW. Josev's simulator reports 1 V / 1 A always and offers 40 V / 40 A / 2.3 kW
    #: in ChargeParameterDiscoveryRes (10 kW in CurrentDemandRes).
    realistic_dc: bool = True
    #: AuthorizationRes (DIN: ContractAuthenticationRes) Ongoing for this long.
    authorization_seconds: float = 0.0
    #: EVSENotification=ReNegotiation in the N-th ChargingStatusRes/CurrentDemandRes;
    #: -20: EVSEStatus with EVSENotification=ServiceRenegotiation in the N-th ChargeLoopRes.
    evse_renegotiate_after: int | None = None
    #: EVSENotification=StopCharging in the N-th ChargingStatusRes/CurrentDemandRes;
    #: -20: EVSENotification=Terminate in the N-th ChargeLoopRes.
    evse_stop_after: int | None = None
    #: -20: ServiceDiscoveryRes ServiceRenegotiationSupported (Josev's simulator: false),
    #: so that the SECC accepts SessionStopReq(ServiceRenegotiation).
    service_renegotiation: bool = False
    #: -20: PowerDeliveryReq(ChargeProgress=Standby) accepted (STANDBY_ALLOWED).
    standby_allowed: bool = False
    # --- both
    #: Wait at least this long (s) for every response/request (patched). Josev's DIN EV
    #: waits only 250 ms for CurrentDemandRes, which Josev's own SECC often misses.
    min_response_timeout: float | None = None
    #: Seconds Josev lingers after the session's last message before it closes TCP
    #: (None: Josev's real 2 s + 3 s). Shorten only where the linger is not under test.
    stop_linger: float | None = None
    #: Extra options for the JVM of Josev's EXI codec. The default (C1 compiler only) makes
    #: Josev's EXI 2-3x faster on a 2-CPU runner (~40 instead of ~100 ms per message);
    #: () keeps Josev's stock JVM.
    jvm_options: tuple[str, ...] = ("-XX:TieredStopAtLevel=1",)
    #: Also log every message's EXI bytes (MESSAGE_LOG_EXI; needs LOG_LEVEL=DEBUG).
    log_exi: bool = False
    #: Further .env lines for Josev, e.g. (("ENABLE_TLS_1_3", "True"),).
    extra_env: tuple[tuple[str, str], ...] = ()

    @property
    def josev_protocols(self) -> list[str]:
        return [PROTOCOLS.get(p, p) for p in self.protocols]

    @property
    def josev_energy_mode(self) -> str:
        return self.energy_mode or DEFAULT_ENERGY_MODE[self.energy]

    @property
    def iso20(self) -> bool:
        """Whether an ISO 15118-20 protocol is offered or proposed."""
        return any(p.startswith("ISO-20") for p in self.protocols)

    @property
    def default_pki(self) -> PkiVersion:
        """20 for an ISO 15118-20 scenario Josev can run on secp521r1 (TCP, or TLS 1.3
        without PnC), else 2: in TLS 1.2 Josev's only group, prime256v1, also limits the
        certificates' curve, and Josev's -20 signatures need secp256r1 keys."""
        if self.iso20 and "PnC" not in self.auth_modes and (self.tls13 or not self.tls):
            return 20
        return 2


def _dotenv(role: Role, config: JosevConfig, iface: str, pki: Path, workdir: Path) -> str:
    settings: dict[str, str] = {
        "NETWORK_INTERFACE": iface,
        "LOG_LEVEL": "DEBUG" if config.log_exi else "INFO",
        "PKI_PATH": f"{pki}/",
        "MESSAGE_LOG_JSON": "True",
        "MESSAGE_LOG_EXI": str(config.log_exi),
        "ENABLE_TLS_1_3": str(config.tls13),
    }
    if role == "secc":
        settings |= {
            "PROTOCOLS": ",".join(config.josev_protocols),
            "AUTH_MODES": ",".join("PNC" if a == "PnC" else a for a in config.auth_modes),
            "SECC_ENFORCE_TLS": str(config.tls),
            "FREE_CHARGING_SERVICE": str(config.free_charging),
            "FREE_CERT_INSTALL_SERVICE": "True",
            "ALLOW_CERT_INSTALL_SERVICE": str(config.cert_install_service),
            "USE_CPO_BACKEND": "False",
            "STANDBY_ALLOWED": str(config.standby_allowed),
        }
    else:
        settings["EVCC_CONFIG_PATH"] = str(workdir / "evcc_config.json")
    settings |= dict(config.extra_env)
    return "".join(f"{key}={value}\n" for key, value in settings.items())


def _evcc_config(config: JosevConfig) -> dict[str, Any]:
    """Josev's EVCC configuration file (aliases of its EVCCConfig model)."""
    return {
        "supportedProtocols": config.josev_protocols,
        "supportedEnergyServices": [config.energy],
        "energyTransferMode": config.josev_energy_mode,
        "isCertInstallNeeded": config.cert_install,
        "useTls": config.tls,
        "enforceTls": config.tls,
        "sdpRetryCycles": 1,
        "chargeLoopCycle": config.charge_loops,
        "chargeLoopDelay": 0,
    }


def _launcher_spec(role: Role, config: JosevConfig) -> dict[str, Any]:
    """The knobs Josev has no setting for; ``run_josev.py`` applies them."""
    spec: dict[str, Any] = {
        "role": role,
        "stop_linger": config.stop_linger,
        "min_response_timeout": config.min_response_timeout,
        "jvm_options": list(config.jvm_options),
        "energy": config.energy,
        "control_mode": config.control_mode,
        "bpt_discharge": config.bpt_discharge,
    }
    if role == "secc":
        spec |= {
            "energy_modes": [config.josev_energy_mode],
            "realistic_dc": config.realistic_dc,
            "cable_check_seconds": config.cable_check_seconds,
            "authorization_seconds": config.authorization_seconds,
            "renegotiate_after": config.evse_renegotiate_after,
            "stop_charging_after": config.evse_stop_after,
            "service_renegotiation": config.service_renegotiation,
        }
    else:
        only = config.auth_modes[0] if len(config.auth_modes) == 1 else None
        spec |= {
            "auth": only,
            "pause": config.pause,
            "resume_after": config.resume_after,
            "resume_session_id": config.resume_session_id,
            "renegotiate_after": config.ev_renegotiate_after,
            "standby_after": config.ev_standby_after,
            "power_delivery_ongoing": config.power_delivery_ongoing,
        }
    return spec


# ---------------------------------------------------------------------------------------
# Availability
# ---------------------------------------------------------------------------------------


def josev_python() -> Path:
    """The interpreter of Josev's venv: ``$JOSEV_PYTHON``, else ``$ORACLE_HOME/venv``."""
    explicit = os.environ.get("JOSEV_PYTHON")
    if explicit:
        return Path(explicit)
    home = Path(os.environ.get("ORACLE_HOME", Path.home() / ".cache" / "exi-oracle"))
    return home / "venv" / "bin" / "python"


@functools.lru_cache(maxsize=1)
def _josev_venv_reason() -> str | None:
    python = josev_python()
    if not python.exists() and "JOSEV_PYTHON" not in os.environ:
        # a fresh machine: the EXI oracle's one-off setup (setup.sh) makes Josev's venv
        from support.oracle import get_oracle

        get_oracle()
    if not python.exists():
        return (
            f"Josev's venv not found ({python}); run bash ../shared/tools/exi-oracle/setup.sh "
            "or set JOSEV_PYTHON"
        )
    probe = subprocess.run(
        [str(python), "-c", "import iso15118; print(iso15118.__version__)"],
        capture_output=True,
        text=True,
        timeout=60,
        # as for Josev itself (start_josev): a PYTHONPATH pointing at our src would make
        # the probe find our iso15118 and skip every Josev test
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    if probe.returncode != 0:
        return f"Josev (iso15118) does not import in {python}: {probe.stderr.strip()[-300:]}"
    if probe.stdout.strip() != JOSEV_VERSION:
        return f"Josev {JOSEV_VERSION} expected in {python}, found {probe.stdout.strip()}"
    has_aiofile = subprocess.run([str(python), "-c", "import aiofile"], capture_output=True)
    if has_aiofile.returncode != 0:
        install = subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             AIOFILE_REQUIREMENT],
            capture_output=True,
            text=True,
            timeout=300,
        )  # fmt: skip
        if install.returncode != 0:
            return f"cannot install {AIOFILE_REQUIREMENT} into {python}: {install.stderr[-300:]}"
    if subprocess.run(["java", "-version"], capture_output=True).returncode != 0:
        return "Josev's EXI codec needs Java (java not found)"
    return None


def josev_unavailable_reason() -> str | None:
    """Why Josev cannot run here (venv, Java, root, ip netns), or None."""
    return netns_unavailable_reason() or _josev_venv_reason()


def require_josev() -> None:
    """``pytest.skip`` with the reason when Josev cannot run here."""
    reason = josev_unavailable_reason()
    if reason is not None:
        pytest.skip(f"Josev session test skipped: {reason}")


# ---------------------------------------------------------------------------------------
# Josev's log
# ---------------------------------------------------------------------------------------

#: Josev's log format: "%(levelname)s    %(asctime)s - %(name)s (%(lineno)d): %(message)s"
_LINE = re.compile(
    r"^(?P<level>[A-Z]+)\s+(?P<time>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) - "
    r"(?P<logger>[\w.]+) \(\d+\): (?P<text>.*)$"
)
_SENT = re.compile(r"^Sent (\w+)$")
_RECEIVED = re.compile(r"^(\w+) received$")
_ENCODE = re.compile(r"^Message to encode \(ns=(?:Namespace\.)?([^)]*)\): (\{.*\})$")
_DECODED = re.compile(r"^Decoded message \(ns=(?:Namespace\.)?([^)]*)\): (\{.*\})$")
_EXI_OUT = re.compile(r"^EXI-encoded message: ([0-9a-f]*)$")
_EXI_IN = re.compile(r"^EXI-encoded message \(ns=[^)]*\): ([0-9a-f]*)$")


@dataclass(frozen=True)
class LoggedMessage:
    """One V2G message Josev sent or received (supportedAppProtocol included, SDP not)."""

    direction: Literal["sent", "received"]
    name: str  # e.g. "SessionSetupReq", "supportedAppProtocolRes"
    time: datetime
    #: The message as Josev logged it (its JSON form), or None.
    content: dict[str, Any] | None = None
    #: EXI bytes, when the config had ``log_exi``.
    exi: bytes | None = None
    #: The schema Josev encoded or decoded it with (its Namespace enum name, e.g.
    #: "ISO_V20_DC"); for a received -20 message Josev picks it by the V2GTP payload type
    #: (0x8003 AC, 0x8004 DC, any other: CommonMessages).
    namespace: str | None = None

    @property
    def header(self) -> dict[str, Any]:
        """The message header: V2G_Message's (DIN, -2) or the message's own (-20)."""
        content = self.content or {}
        if "V2G_Message" in content:
            return dict(content["V2G_Message"].get("Header", {}))
        return dict(self.body.get("Header", {}))

    @property
    def body(self) -> dict[str, Any]:
        """The message's own element, e.g. {"ResponseCode": "OK", "EVSEProcessing": ...}."""
        content = self.content or {}
        if self.name in content:
            return dict(content[self.name])
        body = content.get("V2G_Message", {}).get("Body", {})
        return dict(body.get(self.name, {}))


def _named(content: dict[str, Any] | None, name: str) -> bool:
    if content is None:
        return False
    return name in content or name in content.get("V2G_Message", {}).get("Body", {})


def parse_josev_log(lines: list[str]) -> list[LoggedMessage]:
    """The V2G messages in a Josev log, in order, with their logged content."""
    messages: list[LoggedMessage] = []
    encoded: dict[str, Any] | None = None
    decoded: dict[str, Any] | None = None
    encoded_ns: str | None = None
    decoded_ns: str | None = None
    exi_out: bytes | None = None
    exi_in: bytes | None = None
    for line in lines:
        match = _LINE.match(line)
        if match is None:
            continue
        text = match["text"]
        stamp = datetime.strptime(match["time"], "%Y-%m-%d %H:%M:%S,%f")
        if match["logger"] == "iso15118.shared.exi_codec":
            if found := _ENCODE.match(text):
                encoded, encoded_ns, exi_out = _json(found[2]), found[1], None
            elif found := _DECODED.match(text):
                decoded, decoded_ns = _json(found[2]), found[1]
            elif found := _EXI_OUT.match(text):
                exi_out = bytes.fromhex(found[1])
            elif found := _EXI_IN.match(text):
                exi_in, decoded = bytes.fromhex(found[1]), None
        elif match["logger"] == "iso15118.shared.comm_session":
            if found := _SENT.match(text):
                name = found[1]
                named = _named(encoded, name)
                content, ns = (encoded, encoded_ns) if named else (None, None)
                messages.append(LoggedMessage("sent", name, stamp, content, exi_out, ns))
                encoded = exi_out = encoded_ns = None
            elif found := _RECEIVED.match(text):
                name = found[1]
                named = _named(decoded, name)
                content, ns = (decoded, decoded_ns) if named else (None, None)
                messages.append(LoggedMessage("received", name, stamp, content, exi_in, ns))
                decoded = exi_in = decoded_ns = None
    return messages


def _json(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


# ---------------------------------------------------------------------------------------
# A running Josev
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionEnd:
    """Josev's verdict on one communication session (from its stop hook)."""

    ok: bool  # stopped by SessionStop as planned (Josev's StopNotification.successful)
    reason: str  # Josev's stop reason, e.g. "EV requested to terminate the ..."
    state: str  # Josev's state when it stopped, e.g. "SessionStop"
    session_id: str
    protocol: str  # e.g. "ISO_15118_2", "DIN_SPEC_70121", "UNKNOWN" (before SAP)
    paused: bool  # ended by SessionStop(ChargingSession=Pause)


@dataclass
class JosevProcess:
    """Josev's SECC or EVCC running in a namespace; collects its log as it runs."""

    role: Role
    config: JosevConfig
    process: subprocess.Popen[str]
    workdir: Path
    _lines: list[str] = field(default_factory=list)
    _events: list[dict[str, Any]] = field(default_factory=list)
    _changed: threading.Condition = field(default_factory=threading.Condition)
    _reader: threading.Thread | None = None

    def __post_init__(self) -> None:
        self._reader = threading.Thread(target=self._read, name=f"josev-{self.role}", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        with open(self.workdir / f"josev-{self.role}.log", "w") as log:
            for raw in self.process.stdout:
                line = raw.rstrip("\n")
                log.write(raw)
                log.flush()
                event = None
                if line.startswith(MARK):
                    with contextlib.suppress(ValueError):
                        event = json.loads(line[len(MARK) :])
                with self._changed:
                    self._lines.append(line)
                    if isinstance(event, dict):
                        self._events.append(event)
                    self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    # --- what it said
    @property
    def lines(self) -> list[str]:
        """Every line Josev printed so far (stdout and stderr)."""
        with self._changed:
            return list(self._lines)

    @property
    def log(self) -> str:
        return "\n".join(self.lines)

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        """The launcher's progress events (``ready``, ``session_end``, ...)."""
        with self._changed:
            return [e for e in self._events if kind is None or e.get("event") == kind]

    @property
    def session_ends(self) -> list[SessionEnd]:
        return [
            SessionEnd(**{k: e[k] for k in SessionEnd.__dataclass_fields__})
            for e in self.events("session_end")
        ]

    def messages(self) -> list[LoggedMessage]:
        """Every V2G message sent or received so far, in order."""
        return parse_josev_log(self.lines)

    def sent_names(self) -> list[str]:
        return [m.name for m in self.messages() if m.direction == "sent"]

    def received_names(self) -> list[str]:
        return [m.name for m in self.messages() if m.direction == "received"]

    def errors(self) -> list[str]:
        """Josev's ERROR/CRITICAL log lines and tracebacks."""
        return [line for line in self.lines if line.startswith(("ERROR", "CRITICAL", "Traceback"))]

    def failure_report(self, tail: int = 60) -> str:
        """A readable summary for assertion messages: exit code, events, log tail."""
        lines = [line for line in self.lines if not line.startswith(MARK)]
        return (
            f"Josev {self.role} (pid {self.process.pid}, exit {self.process.poll()}), "
            f"log {self.workdir / f'josev-{self.role}.log'}\n"
            f"events: {self.events()}\n--- last {tail} lines ---\n"
            + "\n".join(line[:400] for line in lines[-tail:])
        )

    # --- waiting
    def wait_for_event(self, kind: str, timeout: float, count: int = 1) -> dict[str, Any]:
        """The ``count``-th event ``kind``; JosevError if it does not come in time."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [e for e in self._events if e.get("event") == kind]
                if len(found) >= count:
                    return found[count - 1]
                remaining = deadline - time.monotonic()
                alive = self._reader is not None and self._reader.is_alive()
                if remaining <= 0 or not alive:
                    why = "timed out" if alive else "process ended"
                    raise JosevError(
                        f"{why} waiting for {kind!r} #{count} after {timeout} s\n"
                        + self.failure_report()
                    )
                self._changed.wait(min(remaining, 0.5))

    def wait_ready(self, timeout: float = 30) -> None:
        """Until Josev listens (SECC: UDP server up) or is about to send SDP (EVCC)."""
        self.wait_for_event("ready", timeout)

    def wait_session_end(self, timeout: float = 60, count: int = 1) -> SessionEnd:
        """Josev's verdict on its ``count``-th communication session."""
        self.wait_for_event("session_end", timeout, count)
        return self.session_ends[count - 1]

    def wait_exit(self, timeout: float = 30) -> int:
        """Josev's EVCC exits by itself after a successful session; the SECC never does."""
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired as exc:
            raise JosevError(f"still running after {timeout} s\n{self.failure_report()}") from exc

    # --- ending
    def stop(self) -> None:
        """End Josev and its Java child (their own process group)."""
        if self.process.poll() is None:
            for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, sig)
                try:
                    self.process.wait(grace)
                    break
                except subprocess.TimeoutExpired:
                    continue
        else:  # the Java gateway may outlive an exited Josev for a moment
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        if self._reader is not None:
            self._reader.join(timeout=5)


def start_josev(
    role: Role, config: JosevConfig, *, netns: NetnsPair, workdir: Path, pki: JosevPki
) -> JosevProcess:
    """Start Josev's ``role`` in its namespace of ``netns``, configured by ``config``.

    ``workdir`` receives Josev's ``.env`` (and ``evcc_config.json``), the launcher's
    ``harness.json`` and ``josev-<role>.log``; rerun by hand with
    ``cd workdir && ip netns exec NS $JOSEV_PYTHON .../run_josev.py harness.json``.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    ns, iface = (netns.secc_ns, netns.secc_if) if role == "secc" else (netns.evcc_ns, netns.evcc_if)
    (workdir / ".env").write_text(_dotenv(role, config, iface, pki.path, workdir))
    if role == "evcc":
        (workdir / "evcc_config.json").write_text(json.dumps(_evcc_config(config), indent=2))
    spec = _launcher_spec(role, config) | {"config": asdict(config)}
    (workdir / "harness.json").write_text(json.dumps(spec, indent=2))
    env = {k: v for k, v in os.environ.items() if k not in _JOSEV_ENV}
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("PYTHONPATH", None)  # our iso15118 must not shadow Josev's
    process = subprocess.Popen(
        in_netns(ns, str(josev_python()), str(LAUNCHER), "harness.json"),
        cwd=workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        start_new_session=True,
    )
    return JosevProcess(role, config, process, workdir)


class JosevRunner:
    """A namespace pair, a test PKI and the Josev processes of one test; ends them all."""

    def __init__(self, netns: NetnsPair, workdir: Path) -> None:
        self.netns = netns
        self.workdir = workdir
        self._pki: JosevPki | None = None
        self.processes: list[JosevProcess] = []

    @property
    def pki(self) -> JosevPki:
        """The test PKI every Josev process of this runner reads, made on first use: the
        ISO 15118-2 one unless :meth:`use_pki` or the first config started chose another."""
        return self._pki or self.use_pki(2)

    def use_pki(self, version: PkiVersion, *, ed448: bool = False) -> JosevPki:
        """Make the runner's PKI of ``version`` (call before starting Josev when our side
        needs the PKI first); JosevError if the runner already has another one."""
        if self._pki is None:
            self._pki = make_josev_pki(self.workdir / "pki", version, ed448=ed448)
        elif (self._pki.version, self._pki.ed448) != (version, ed448):
            raise JosevError(
                f"this runner already has the ISO 15118-{self._pki.version} test PKI "
                f"(ed448={self._pki.ed448}); one PKI per runner"
            )
        return self._pki

    def start(self, role: Role, config: JosevConfig, *, wait_ready: bool = True) -> JosevProcess:
        n = sum(1 for p in self.processes if p.role == role)
        workdir = self.workdir / (role if n == 0 else f"{role}{n + 1}")
        if config.pki is not None:
            pki = self.use_pki(config.pki)
        else:
            pki = self._pki or self.use_pki(config.default_pki)
        proc = start_josev(role, config, netns=self.netns, workdir=workdir, pki=pki)
        self.processes.append(proc)
        if wait_ready:
            proc.wait_ready()
        return proc

    def start_secc(self, config: JosevConfig, *, wait_ready: bool = True) -> JosevProcess:
        """Josev's charger on ``netns.secc_if``; by default returns once it listens."""
        return self.start("secc", config, wait_ready=wait_ready)

    def start_evcc(self, config: JosevConfig, *, wait_ready: bool = True) -> JosevProcess:
        """Josev's vehicle on ``netns.evcc_if``; it starts SDP (50 tries, 250 ms apart)."""
        return self.start("evcc", config, wait_ready=wait_ready)

    def close(self) -> None:
        for proc in self.processes:
            proc.stop()


@contextlib.contextmanager
def josev_runner(workdir: Path) -> Iterator[JosevRunner]:
    """A :class:`JosevRunner` on a fresh namespace pair (call :func:`require_josev` first)."""
    with netns_pair() as pair:
        runner = JosevRunner(pair, workdir)
        try:
            yield runner
        finally:
            runner.close()


@pytest.fixture(name="josev")
def josev_fixture(tmp_path: Path) -> Iterator[JosevRunner]:
    """The ``josev`` fixture; skips (with the reason) without Josev's venv, Java, root or
    ``ip netns``. Elsewhere: ``from josev.harness import josev_fixture  # noqa: F401``."""
    require_josev()
    with josev_runner(tmp_path) as runner:
        yield runner
