"""End to end on loopback: a vehicle (EVCC over TLS 1.2), this library's charger with the
OCPP station adapter, and a small CSMS built on the ``ocpp`` package over a real WebSocket.

(a) a vehicle without a contract installs one through CertificateInstallation ->
Get15118EVCertificate (the CSMS answers with the exiResponse of the test PKI's provisioning
service), then authorizes with PnC (Authorize with hash data, Accepted) and charges;
(b) while it charges the CSMS sets a lower limit and the vehicle's renegotiated schedule
respects it; (c) NotifyEVChargingNeeds carries the vehicle's values; (d) a contract the
CSMS reports revoked is refused (FAILED in -2's AuthorizationRes). The same flows for
ISO 15118-20: ``test_station_e2e_iso20.py``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import importlib
import json
import shutil
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

pytest.importorskip("ocpp")
websockets = pytest.importorskip("websockets")

from ocpp.routing import on  # noqa: E402

from iso15118 import codec  # noqa: E402
from iso15118.ocpp.errors import OcppError  # noqa: E402
from iso15118.ocpp.station import ChargingStation, StationEvse  # noqa: E402
from iso15118.pki import create_test_pki, load_certificate, secc_tls_files  # noqa: E402
from iso15118.session import (  # noqa: E402
    EvccConfig,
    EvccSession,
    EVSEState,
    EVState,
    Outcome,
    Payment,
    SeccConfig,
)
from iso15118.session.events import MessageSent  # noqa: E402
from iso15118.session.pnc import EvccPnc, SeccPnc  # noqa: E402
from iso15118.session.runner import Charger, EVSEEndpoint, drive  # noqa: E402
from iso15118.session.secc import SeccSession  # noqa: E402
from iso15118.session.simulation import ChargerBehaviour, SimulatedCharger  # noqa: E402
from iso15118.session.values import ControlMode, EnergyMode  # noqa: E402
from iso15118.transport import (  # noqa: E402
    iso2_client_context,
    iso2_server_context,
    open_connection,
)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("pki")
    create_test_pki(directory, 2)
    return directory


def make_csms(version: str) -> Any:
    """The CSMS class for one OCPP version (the ``ocpp`` package has one module each)."""
    module = importlib.import_module("ocpp.v201" if version == "2.0.1" else "ocpp.v21")
    call_result = module.call_result

    class Csms(module.ChargePoint):  # type: ignore[misc,name-defined]
        """A CSMS: accepts the station, records what it is told, provisions contracts with the
        test PKI's CPS and MO sub-CA, and answers Authorize from its list of revoked serials."""

        def __init__(self, ident: str, connection: Any, backend: Any, revoked: set[str]) -> None:
            super().__init__(ident, connection)
            self.backend, self.revoked = backend, revoked
            self.seen: dict[str, list[dict[str, Any]]] = defaultdict(list)
            self.issued_serials: list[str] = []
            self.charging = asyncio.Event()

        @on("BootNotification")
        def boot(self, **kw: Any) -> Any:
            self.seen["BootNotification"].append(kw)
            return call_result.BootNotification(current_time=dt.datetime.now(
                dt.timezone.utc).isoformat(), interval=300, status="Accepted")

        @on("StatusNotification")
        def status(self, **kw: Any) -> Any:
            self.seen["StatusNotification"].append(kw)
            return call_result.StatusNotification()

        @on("TransactionEvent")
        def transaction(self, **kw: Any) -> Any:
            self.seen["TransactionEvent"].append(kw)
            if kw["transaction_info"].get("charging_state") == "Charging":
                self.charging.set()
            return call_result.TransactionEvent()

        @on("NotifyEVChargingNeeds")
        def needs(self, **kw: Any) -> Any:
            self.seen["NotifyEVChargingNeeds"].append(kw)
            return call_result.NotifyEVChargingNeeds(status="Accepted")

        @on("NotifyEVChargingSchedule")
        def ev_schedule(self, **kw: Any) -> Any:
            self.seen["NotifyEVChargingSchedule"].append(kw)
            return call_result.NotifyEVChargingSchedule(status="Accepted")

        @on("Get15118EVCertificate")
        def certificate(self, iso15118_schema_version: str, action: str, exi_request: str,
                        **kw: Any) -> Any:
            self.seen["Get15118EVCertificate"].append(
                {"schema": iso15118_schema_version, "action": action})
            exi = base64.b64decode(exi_request)
            made = self.backend(exi, codec.decode(exi, "iso2"))
            leaf = made.body.body_element.contract_signature_cert_chain.certificate
            self.issued_serials.append(format(load_certificate(leaf).serial_number, "x"))
            exi_response = base64.b64encode(codec.encode(made, "iso2")).decode()
            return call_result.Get15118EVCertificate(status="Accepted",
                                                     exi_response=exi_response)

        @on("SignCertificate")
        def sign_certificate(self, **kw: Any) -> Any:
            self.seen["SignCertificate"].append(kw)
            return call_result.SignCertificate(status="Accepted")

        @on("Authorize")
        def authorize(self, id_token: dict[str, Any], **kw: Any) -> Any:
            self.seen["Authorize"].append({"id_token": id_token, **kw})
            serials = {h["serial_number"] for h in kw.get("iso15118_certificate_hash_data", [])}
            if serials & self.revoked:
                return call_result.Authorize(id_token_info={"status": "Invalid"},
                                             certificate_status="CertificateRevoked")
            return call_result.Authorize(id_token_info={"status": "Accepted"},
                                         certificate_status="Accepted")

    return Csms


async def _scenario(pki: Path, vehicle_dir: Path, *, install: bool, revoked: set[str],
                    lower_limit_w: float | None) -> dict[str, Any]:
    from ocpp.v201 import call
    local = SeccPnc.from_test_pki(pki)
    backend = local.certificate_backend
    local.certificate_backend = lambda exi, message: None  # the CSMS answers
    evse = EVSEState(payment_options=(Payment.EIM, Payment.PNC),
                     energy_modes=(EnergyMode.DC_extended,))
    chain, key, _ = secc_tls_files(pki)
    bay = _bay("2.0.1", "CS-1", StationEvse(1, evse, max_power=50_000),
               SeccConfig(pnc=local, auto_authorize=False, protocols=("iso2",)),
               csms={"backend": backend, "revoked": revoked}, pnc=local,
               endpoint={"tls": "required", "ssl_context": iso2_server_context(chain, key)})
    setter: asyncio.Future[None] | None = None
    async with bay as (station, csms, ep):
        setter = asyncio.ensure_future(_profile_when_charging(
            csms, call, 7, "Relative", {"limit": lower_limit_w})) if lower_limit_w else None
        context = iso2_client_context(cafile=pki / "certs" / "v2g_root.pem")
        conn = await open_connection("::1", ep.ports.popitem()[1], ssl_context=context)
        ev = EVState(payment=Payment.PNC, energy_mode=EnergyMode.DC_extended, soc=40)
        evcc = EvccSession(ev, EvccConfig(loops=40 if lower_limit_w else 4, loop_interval=0.05,
                                          protocols=("iso2",),
                                          pnc=EvccPnc.from_test_pki(vehicle_dir,
                                                                    contract=not install)),
                           tls=True)
        sent: list[str] = []
        ended = await drive(conn, evcc, lambda e, now: sent.append(e.name)
                            if isinstance(e, MessageSent) else None)
        await conn.close()
        for _ in range(200):  # the charger's side and the OCPP messages after it
            if ep.sessions and any(t["event_type"] == "Ended"
                                   for t in csms.seen["TransactionEvent"]):
                break
            await asyncio.sleep(0.02)
    if setter is not None:
        setter.cancel()
    return {"ended": ended, "sent": sent, "csms": csms, "evcc": evcc, "station": station,
            "ev": ev}


def _run(pki: Path, tmp_path: Path, **kw: Any) -> dict[str, Any]:
    vehicle_dir = Path(shutil.copytree(pki, tmp_path / "vehicle"))
    return asyncio.run(asyncio.wait_for(_scenario(pki, vehicle_dir, **kw), 60))


def test_install_authorize_charge_and_a_lower_limit(pki: Path, tmp_path: Path) -> None:
    out = _run(pki, tmp_path, install=True, revoked=set(), lower_limit_w=9_000)
    ended, sent, csms, evcc = out["ended"], out["sent"], out["csms"], out["evcc"]
    assert ended.outcome is Outcome.COMPLETED, ended.reason
    assert out["station"].errors == []
    # (a) installation through the CSMS, then PnC with the new contract
    assert csms.seen["Get15118EVCertificate"] == [
        {"schema": "urn:iso:15118:2:2013:MsgDef", "action": "Install"}]
    assert sent.index("CertificateInstallationReq") < sent.index("PaymentDetailsReq")
    [auth] = csms.seen["Authorize"]
    assert auth["id_token"]["type"] == "eMAID"
    hashes = auth["iso15118_certificate_hash_data"]
    assert hashes[0]["serial_number"] == csms.issued_serials[0]  # the installed contract
    assert 1 <= len(hashes) <= 4
    assert "CurrentDemandReq" in sent
    [authorized] = [t for t in csms.seen["TransactionEvent"]
                    if t["trigger_reason"] == "Authorized"]
    assert authorized["id_token"] == auth["id_token"]  # whose transaction it is
    # (c) the vehicle's values in NotifyEVChargingNeeds
    needs = csms.seen["NotifyEVChargingNeeds"][0]["charging_needs"]
    dc = needs["dc_charging_parameters"]
    assert needs["requested_energy_transfer"] == "DC"
    assert dc["ev_max_current"] == int(out["ev"].max_current)
    assert dc["ev_max_voltage"] == int(out["ev"].max_voltage)
    assert dc["state_of_charge"] == 40
    # (b) the lower limit: a renegotiation, and the schedule the EV follows respects it
    assert csms.seen["SetChargingProfile"] == [{"status": "Accepted"}]
    assert sent.count("ChargeParameterDiscoveryReq") >= 2
    [schedule] = evcc.evse.schedules
    assert max(e.max_power for e in schedule.entries) <= 9_000
    # the station reported the session
    kinds = [t["event_type"] for t in csms.seen["TransactionEvent"]]
    assert kinds[0] == "Started" and kinds[-1] == "Ended"
    statuses = [s["connector_status"] for s in csms.seen["StatusNotification"]]
    assert statuses[0] == "Available" and "Occupied" in statuses


def test_a_revoked_contract_is_refused(pki: Path, tmp_path: Path) -> None:
    index = json.loads((pki / "index.json").read_text())
    contract = load_certificate((pki / index["certificates"]["contract_leaf"]["der"])
                                .read_bytes())
    out = _run(pki, tmp_path, install=False, revoked={format(contract.serial_number, "x")},
               lower_limit_w=None)
    ended = out["ended"]
    assert ended.outcome is Outcome.FAILED
    # -2's AuthorizationRes has no certificate codes (ISO 15118-2 table 112 as Josev quotes
    # it): FAILED; the reason stays with the station's decision
    assert ended.response_code == "FAILED", ended
    decision = out["station"].evses[1].authorization
    assert (decision.certificate_status, decision.token_status) == ("CertificateRevoked",
                                                                    "Invalid")
    assert "CurrentDemandReq" not in out["sent"]
    assert out["csms"].seen["Authorize"]


async def _serve_csms(version: str, *, csms_class: Any = None,
                      **kw: Any) -> tuple[Any, int, list[Any]]:
    Csms = csms_class or make_csms(version)
    box: list[Any] = []

    async def on_connect(ws: Any) -> None:
        cp = Csms(ws.request.path.strip("/"), ws, kw.get("backend"), kw.get("revoked", set()))
        box.append(cp)
        await cp.start()

    server = await websockets.serve(on_connect, "127.0.0.1", 0,
                                    subprotocols=[f"ocpp{version}"])
    return server, server.sockets[0].getsockname()[1], box


@contextlib.asynccontextmanager
async def _bay(version: str, station_id: str, bay: StationEvse, config: SeccConfig, *,
               csms: dict[str, Any] | None = None, pnc: Any = None,
               endpoint: dict[str, Any] | None = None,
               observe: Callable[[Any, float], None] | None = None
               ) -> AsyncIterator[tuple[ChargingStation, Any, EVSEEndpoint]]:
    """A CSMS on the ``ocpp`` package, our station connected to it and one charging bay
    (simulated power electronics, an SECC endpoint on ::1): (station, the CSMS's side of
    the connection, the endpoint). ``csms``: the CSMS's options (``csms_class``,
    ``backend``, ``revoked``); ``observe`` sees the charger's session events too.
    Everything is closed on the way out."""
    server, port, box = await _serve_csms(version, **(csms or {}))
    station = ChargingStation(station_id, [bay], version=version, pnc=pnc)
    try:
        await station.connect(f"ws://127.0.0.1:{port}")
        sim = SimulatedCharger(bay.evse, ChargerBehaviour(cable_check_s=0.2))

        def hardware(session: SeccSession) -> Any:
            sim.attach(session)
            if observe is None:
                return sim.on_event

            def on_event(event: Any, now: float) -> None:
                sim.on_event(event, now)
                observe(event, now)
            return on_event

        ep = EVSEEndpoint(None, bay.evse, config, host="::1",
                          application=station.application(bay.evse_id, hardware),
                          **(endpoint or {}))
        async with Charger([ep]):
            yield station, box[0], ep
    finally:
        await station.close()
        server.close()
        await server.wait_closed()


async def _profile_when_charging(csms: Any, call: Any, profile_id: int, kind: str,
                                 period: dict[str, float]) -> None:
    """Once the bay charges, the CSMS sends a TxProfile in W with one period from 0 s
    (``period``: limit, and setpoint for OCPP 2.1 Dynamic); the station's answer is
    recorded in ``csms.seen``."""
    await csms.charging.wait()
    answer = await csms.call(call.SetChargingProfile(evse_id=1, charging_profile={
        "id": profile_id, "stack_level": 0, "charging_profile_purpose": "TxProfile",
        "charging_profile_kind": kind, "charging_schedule": [{
            "id": 1, "charging_rate_unit": "W",
            "charging_schedule_period": [{"start_period": 0, **period}]}]}))
    csms.seen["SetChargingProfile"].append({"status": answer.status})


def test_iso20_scheduled_with_ocpp_2_1() -> None:
    """-20 DC scheduled (EIM) under OCPP 2.1: NotifyEVChargingNeeds as V2X parameters with the
    control mode, the EV's power profile as NotifyEVChargingSchedule, and a lower limit
    during the loop reaching the vehicle through -20's schedule renegotiation."""
    from ocpp.v21 import call

    async def main() -> dict[str, Any]:
        evse = EVSEState(energy_modes=(EnergyMode.DC_extended,))
        bay = _bay("2.1", "CS-20", StationEvse(1, evse, max_power=evse.dc.max_power),
                   SeccConfig(protocols=("iso20",)))
        async with bay as (station, csms, ep):
            setter = asyncio.ensure_future(_profile_when_charging(
                csms, call, 9, "Relative", {"limit": 9_000}))
            conn = await open_connection("::1", ep.ports.popitem()[1])
            ev = EVState(energy_mode=EnergyMode.DC_extended, control_mode=ControlMode.SCHEDULED,
                         soc=60)
            evcc = EvccSession(ev, EvccConfig(protocols=("iso20",), loops=40,
                                              loop_interval=0.05))
            sent: list[str] = []
            ended = await drive(conn, evcc, lambda e, now: sent.append(e.name)
                                if isinstance(e, MessageSent) else None)
            await conn.close()
            for _ in range(200):
                if any(t["event_type"] == "Ended" for t in csms.seen["TransactionEvent"]):
                    break
                await asyncio.sleep(0.02)
        setter.cancel()
        return {"ended": ended, "sent": sent, "csms": csms, "evcc": evcc, "ev": ev,
                "evse": evse, "station": station}

    out = asyncio.run(asyncio.wait_for(main(), 60))
    ended, csms, evcc = out["ended"], out["csms"], out["evcc"]
    assert ended.outcome is Outcome.COMPLETED, ended.reason
    assert out["station"].errors == []
    [needs] = csms.seen["NotifyEVChargingNeeds"][:1]
    cn = needs["charging_needs"]
    assert cn["requested_energy_transfer"] == "DC"
    assert cn["control_mode"] == "ScheduledControl"
    v2x = cn["v2x_charging_parameters"]
    assert v2x["max_charge_power"] == min(out["ev"].max_power, out["evse"].dc.max_power)
    assert v2x["max_voltage"] == min(out["ev"].max_voltage, out["evse"].dc.max_voltage)
    assert csms.seen["SetChargingProfile"] == [{"status": "Accepted"}]
    assert out["sent"].count("ScheduleExchangeReq") >= 2
    [schedule] = evcc.evse.schedules
    assert max(e.max_power for e in schedule.entries) <= 9_000
    assert csms.seen["NotifyEVChargingSchedule"], "the EV's power profile was not reported"


def test_the_csms_side_of_the_station() -> None:
    """Two EVSEs on one connection; what the CSMS may ask: roots in and out (feeding the
    SECC's contract trust), an invalid payload answered FormatViolation with the field, an
    action the station does not implement answered NotImplemented."""
    from ocpp.exceptions import FormatViolationError, NotImplementedError
    from ocpp.v201 import call

    from iso15118.pki import build_test_pki

    pki = build_test_pki(2, broken=False)
    mo_root = pki.cert("mo_root").public_bytes(Encoding.PEM).decode()

    async def main() -> dict[str, Any]:
        server, port, box = await _serve_csms("2.0.1")
        pnc = SeccPnc()
        station = ChargingStation("CS-2", [StationEvse(1, EVSEState()),
                                           StationEvse(2, EVSEState())], pnc=pnc)
        await station.connect(f"ws://127.0.0.1:{port}")
        csms = box[0]
        results: dict[str, Any] = {}
        results["install"] = (await csms.call(call.InstallCertificate(
            certificate_type="MORootCertificate", certificate=mo_root))).status
        results["roots"] = pnc.contract_roots
        listed = await csms.call(call.GetInstalledCertificateIds(
            certificate_type=["MORootCertificate"]))
        results["listed"] = listed.certificate_hash_data_chain
        try:
            await csms.call(call.SetChargingProfile(evse_id=1, charging_profile={
                "id": 1, "stack_level": 0, "charging_profile_purpose": "TxProfile",
                "charging_profile_kind": "Absolute", "charging_schedule": [{
                    "id": 1, "charging_rate_unit": "kW",
                    "charging_schedule_period": [{"start_period": 0, "limit": 1}]}]}),
                suppress=False, skip_schema_validation=True)
        except FormatViolationError as exc:
            results["invalid"] = exc.description
        try:
            await csms.call(call.Reset(type="Immediate"), suppress=False)
        except NotImplementedError as exc:
            results["unknown"] = exc.description
        def prof(ident: int, purpose: str, limit: float) -> dict[str, Any]:
            return {"id": ident, "stack_level": 0, "charging_profile_purpose": purpose,
                    "charging_profile_kind": "Relative", "charging_schedule": [{
                        "id": 1, "charging_rate_unit": "W",
                        "charging_schedule_period": [{"start_period": 0, "limit": limit}]}]}

        results["max"] = (await csms.call(call.SetChargingProfile(
            evse_id=0, charging_profile=prof(1, "ChargingStationMaxProfile", 8_000)))).status
        results["default"] = (await csms.call(call.SetChargingProfile(
            evse_id=0, charging_profile=prof(2, "TxDefaultProfile", 11_000)))).status
        results["unknown_evse"] = (await csms.call(call.SetChargingProfile(
            evse_id=5, charging_profile=prof(3, "TxProfile", 11_000)))).status
        results["schedules"] = [[e.max_power for s in ev.evse.schedules for e in s.entries]
                                for ev in station.evses.values()]
        deleted = await csms.call(call.DeleteCertificate(
            certificate_hash_data=results["listed"][0]["certificate_hash_data"]))
        results["delete"] = deleted.status
        results["roots_after"] = pnc.contract_roots
        results["status"] = [(s["evse_id"], s["connector_status"])
                             for s in csms.seen["StatusNotification"]]
        results["boot"] = csms.seen["BootNotification"]
        await station.close()
        server.close()
        await server.wait_closed()
        return results

    out = asyncio.run(asyncio.wait_for(main(), 30))
    assert out["install"] == "Accepted" and out["roots"] == (pki.cert("mo_root"),)
    assert out["listed"][0]["certificate_type"] == "MORootCertificate"
    assert out["invalid"] == "chargingProfile.chargingSchedule[0].chargingRateUnit: " \
        "'kW' is not one of ['W', 'A']"
    assert "Reset" in out["unknown"]
    assert out["delete"] == "Accepted" and out["roots_after"] == ()
    assert out["status"] == [(1, "Available"), (2, "Available")]
    # a station-wide maximum caps the default profile sent to every EVSE (evseId 0)
    assert (out["max"], out["default"], out["unknown_evse"]) == (
        "Accepted", "Accepted", "Rejected")
    assert out["schedules"] == [[8_000.0], [8_000.0]]
    assert len(out["boot"]) == 1


def test_a_new_secc_certificate_from_the_csms(tmp_path: Path) -> None:
    """A02/A03 through the station: SignCertificate with a CSR for a new key, the CSMS's CA
    signs it, CertificateSigned is checked against the installed V2G root and loaded into
    the SECC's live TLS context; the next handshake presents it."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from ocpp.v201 import call
    from test_station_certs import _peer_leaf, issue_for_csr, pem

    from iso15118.pki import build_test_pki

    pki = build_test_pki(2, broken=False)
    (tmp_path / "old.pem").write_text(pem(pki.cert("secc_leaf"), pki.cert("cpo_sub_ca2")))
    (tmp_path / "old.key").write_bytes(pki.key("secc_leaf").private_bytes(  # type: ignore[union-attr]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    context = iso2_server_context(tmp_path / "old.pem", tmp_path / "old.key")
    key = ec.generate_private_key(ec.SECP256R1())

    async def main() -> dict[str, Any]:
        server, port, box = await _serve_csms("2.0.1")
        tls = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0, ssl=context)
        tls_port = tls.sockets[0].getsockname()[1]
        station = ChargingStation("CS-3", [StationEvse(1, EVSEState())], secc_context=context)
        await station.connect(f"ws://127.0.0.1:{port}")
        csms = box[0]
        out: dict[str, Any] = {"before": await _peer_leaf(tls_port)}
        out["install"] = (await csms.call(call.InstallCertificate(
            certificate_type="V2GRootCertificate", certificate=pem(pki.cert("v2g_root"))))).status
        out["sign"] = await station.request_secc_certificate(
            key, common_name="DE*ABC*E9", organization="ACME", country="DE")
        leaf = issue_for_csr(pki, csms.seen["SignCertificate"][0]["csr"])
        chain = pem(leaf, pki.cert("cpo_sub_ca2"), pki.cert("cpo_sub_ca1"))
        out["signed"] = (await csms.call(call.CertificateSigned(
            certificate_chain=chain, certificate_type="V2GCertificate"))).status
        out["after"] = await _peer_leaf(tls_port)
        out["leaf"] = leaf
        out["again"] = (await csms.call(call.CertificateSigned(
            certificate_chain=chain, certificate_type="V2GCertificate"))).status
        listed = await csms.call(call.GetInstalledCertificateIds(
            certificate_type=["V2GCertificateChain"]))
        out["listed"] = listed.certificate_hash_data_chain
        await station.close()
        tls.close()
        server.close()
        await server.wait_closed()
        return out

    out = asyncio.run(asyncio.wait_for(main(), 30))
    assert out["before"] == pki.cert("secc_leaf")
    assert out["install"] == "Accepted" and out["sign"] == {"status": "Accepted"}
    assert out["signed"] == "Accepted" and out["after"] == out["leaf"]
    assert out["again"] == "Rejected"  # no CSR outstanding any more
    [entry] = out["listed"]
    assert entry["certificate_hash_data"]["serial_number"] == format(
        out["leaf"].serial_number, "x")


def test_iso20_dynamic_setpoint_with_ocpp_2_1() -> None:
    """-20 AC dynamic under OCPP 2.1: a SetChargingProfile with a 2.1 setpoint becomes the
    EVSE's target power, which the vehicle sees in the next AC_ChargeLoopRes."""
    from ocpp.v21 import call

    from iso15118.ocpp.smart_charging import ElectricalBasis
    from iso15118.session.events import ChargeLoopStatus

    async def main() -> dict[str, Any]:
        evse = EVSEState(energy_modes=(EnergyMode.AC_three_phase_core,))
        bay = _bay("2.1", "CS-21", StationEvse(1, evse, max_power=evse.ac.max_power,
                                               basis=ElectricalBasis(dc=False)),
                   SeccConfig(protocols=("iso20",)))
        powers: list[float | None] = []
        async with bay as (station, csms, ep):
            setter = asyncio.ensure_future(_profile_when_charging(
                csms, call, 11, "Dynamic", {"limit": 11_000, "setpoint": 5_000}))
            conn = await open_connection("::1", ep.ports.popitem()[1])
            ev = EVState(energy_mode=EnergyMode.AC_three_phase_core,
                         control_mode=ControlMode.DYNAMIC, soc=50)
            ev.max_current, ev.max_voltage, ev.max_power = 32.0, 400.0, 22_000.0
            evcc = EvccSession(ev, EvccConfig(protocols=("iso20",), loops=40,
                                              loop_interval=0.05))
            ended = await drive(conn, evcc, lambda e, now: powers.append(e.power)
                                if isinstance(e, ChargeLoopStatus) else None)
            await conn.close()
        setter.cancel()
        return {"ended": ended, "powers": powers, "csms": csms, "station": station}

    out = asyncio.run(asyncio.wait_for(main(), 60))
    assert out["ended"].outcome is Outcome.COMPLETED, out["ended"].reason
    assert out["csms"].seen["SetChargingProfile"] == [{"status": "Accepted"}]
    powers = out["powers"]
    assert powers[0] != 5_000 and powers[-1] == 5_000, powers
    assert out["station"].errors == []


def test_the_identity_is_the_urls_last_path_segment_percent_encoded() -> None:
    """OCPP-J: the station connects to CSMS_URL/identity; an identity with characters a
    path cannot hold arrives percent-encoded, and decodes back to itself."""
    import urllib.parse

    paths: list[str] = []

    async def scenario() -> None:
        async def on_connect(ws: Any) -> None:
            paths.append(ws.request.path)
            await ws.close()

        server = await websockets.serve(on_connect, "127.0.0.1", 0,
                                        subprotocols=["ocpp2.0.1"])
        port = server.sockets[0].getsockname()[1]
        station = ChargingStation("CS 1/A", [StationEvse(1, EVSEState(), max_power=11_000)])
        # this CSMS closes before answering BootNotification: a typed error, nothing left
        with pytest.raises(OcppError, match="did not take the station's boot"):
            await asyncio.wait_for(station.connect(f"ws://127.0.0.1:{port}/ocpp/"), 10)
        assert station._reader is not None and station._reader.done()
        server.close()
        await server.wait_closed()

    asyncio.run(scenario())
    assert paths == ["/ocpp/CS%201%2FA"]
    assert urllib.parse.unquote(paths[0].rsplit("/", 1)[1]) == "CS 1/A"


def test_no_csms_at_the_address_is_a_typed_error() -> None:
    async def scenario() -> None:
        server = await websockets.serve(lambda ws: ws.close(), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        server.close()
        await server.wait_closed()  # the port is free again: nobody listens
        station = ChargingStation("CS-1", [StationEvse(1, EVSEState(), max_power=11_000)])
        with pytest.raises(OcppError, match="cannot connect to the CSMS"):
            await asyncio.wait_for(station.connect(f"ws://127.0.0.1:{port}"), 10)

    asyncio.run(scenario())
