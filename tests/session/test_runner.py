"""The asyncio runners on real loopback sockets: ports, sessions, a backend's late answer.

SDP needs multicast between namespaces (``test_simulators_netns.py``); these tests use the
runner's fixed addressing (``interface=None``), which labs and load tests use too.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

from iso15118.pki import secc_tls_files, vehicle_tls_files
from iso15118.session import (
    EvccConfig,
    EvccSession,
    EVSEState,
    EVState,
    Outcome,
    Payment,
    SeccConfig,
)
from iso15118.session.events import (
    CertificateInstallationRequested,
    Event,
    MessageSent,
    SessionEnded,
)
from iso15118.session.pnc import EvccPnc, SeccPnc
from iso15118.session.pnc_backend import response_parts
from iso15118.session.runner import DYNAMIC_PORTS, Charger, EVSEEndpoint, drive
from iso15118.session.secc import SeccSession
from iso15118.session.simulation import ChargerBehaviour, SimulatedCharger
from iso15118.session.values import ControlMode
from iso15118.transport import (
    iso2_client_context,
    iso2_server_context,
    iso20_client_context,
    iso20_server_context,
    open_connection,
)


def _simulated(evse: EVSEState) -> Any:
    """The application factory of a simulated charger (power stage, isolation test)."""
    sim = SimulatedCharger(evse, ChargerBehaviour(cable_check_s=0.2))

    def application(session: SeccSession) -> Any:
        sim.attach(session)
        return sim.on_event
    return application


def test_ports_are_drawn_from_the_dynamic_range() -> None:
    async def main() -> list[int]:
        endpoints = [EVSEEndpoint(None, host="::1") for _ in range(30)]
        async with Charger(endpoints):
            return [port for ep in endpoints for port in ep.ports.values()]

    ports = asyncio.run(main())
    assert len(set(ports)) == 30
    assert all(p in DYNAMIC_PORTS for p in ports)


def test_a_session_over_loopback_tcp() -> None:
    async def main() -> tuple[SessionEnded, list[SessionEnded]]:
        evse = EVSEState()
        ep = EVSEEndpoint(None, evse, SeccConfig(), host="::1", application=_simulated(evse))
        async with Charger([ep]):
            conn = await open_connection("::1", ep.ports.popitem()[1])
            evcc = EvccSession(EVState(), EvccConfig(loops=3, protocols=("din",)))
            ended = await drive(conn, evcc)
            await conn.close()
            for _ in range(100):  # the charger's side ends when it has answered
                if ep.sessions:
                    break
                await asyncio.sleep(0.01)
            return ended, ep.sessions

    ended, charger_sessions = asyncio.run(main())
    assert ended.outcome is Outcome.COMPLETED
    assert [s.outcome for s in charger_sessions] == [Outcome.COMPLETED]


def test_a_backend_answer_that_comes_later_reaches_the_vehicle(pki: Path,
                                                                tmp_path: Path) -> None:
    """PnC over TLS 1.2: the charger hands CertificateInstallationReq to its application
    (as an OCPP bridge does), which answers 0.5 s later through ``session.complete``."""
    local = SeccPnc.from_test_pki(pki)
    backend = local.certificate_backend
    assert backend is not None
    local.certificate_backend = lambda exi, message: None  # defer to the application
    chain, key, _ = secc_tls_files(pki)
    vehicle_dir = Path(shutil.copytree(pki, tmp_path / "vehicle"))
    answered: list[float] = []

    evse = EVSEState(payment_options=(Payment.EIM, Payment.PNC))
    simulated = _simulated(evse)

    def application(session: SeccSession) -> Any:
        loop = asyncio.get_running_loop()
        hardware = simulated(session)

        def on_event(event: Event, now: float) -> None:
            hardware(event, now)
            if isinstance(event, CertificateInstallationRequested):
                def answer() -> None:
                    made = backend(event.exi, _decode(event.exi))
                    body, signature = response_parts(made)
                    answered.append(loop.time())
                    session.complete(loop.time(), "OK", body, signature=signature)
                loop.call_later(0.5, answer)
        return on_event

    async def main() -> tuple[SessionEnded, list[str]]:
        ep = EVSEEndpoint(None, evse, SeccConfig(pnc=local), tls="required",
                          ssl_context=iso2_server_context(chain, key), host="::1",
                          application=application)
        async with Charger([ep]):
            context = iso2_client_context(cafile=pki / "certs" / "v2g_root.pem")
            conn = await open_connection("::1", ep.ports.popitem()[1], ssl_context=context)
            evcc = EvccSession(EVState(payment=Payment.PNC),
                               EvccConfig(loops=2, protocols=("iso2",),
                                          pnc=EvccPnc.from_test_pki(vehicle_dir,
                                                                    contract=False)),
                               tls=True)
            sent: list[str] = []
            ended = await drive(conn, evcc, lambda e, now: sent.append(e.name)
                                if isinstance(e, MessageSent) else None)
            await conn.close()
            return ended, sent

    ended, sent = asyncio.run(main())
    assert ended.outcome is Outcome.COMPLETED, ended.reason
    assert answered, "the application never answered"
    assert sent[sent.index("CertificateInstallationReq") + 1] == "PaymentDetailsReq"
    assert (vehicle_dir / "ev_contract" / "chain.pem").exists()


def _decode(exi: bytes) -> Any:
    from iso15118 import codec

    return codec.decode(exi, "iso2")


def test_iso20_over_tls_13_and_the_vehicles_certificate(pki: Path) -> None:
    """A charger serving -2 and -20 on one TLS port (TLS 1.2 or 1.3, the vehicle's
    certificate optional): a -20 vehicle gets -20 over TLS 1.3, with its certificate or
    without (as on the dSPACE test system); when the charger requires the certificate, one
    without it (offering -2 too) gets -2, still over TLS 1.3, and one offering -20 alone gets
    no protocol. A TLS 1.2 vehicle gets -2 (the EVCC does not offer -20 over TLS 1.2)."""
    chain, key, v2g_root = secc_tls_files(pki)
    vehicle_chain, vehicle_key, oem_root = vehicle_tls_files(pki)

    async def session(certificate: bool, protocols: tuple[str, ...], *,
                      client_tls13: bool = True, require: bool = False
                      ) -> tuple[SessionEnded, str, str | None]:
        evse = EVSEState(control_modes=(ControlMode.SCHEDULED,))
        context = iso20_server_context(chain, key, cafile=oem_root, group=None, also_iso2=True)
        config = SeccConfig(protocols=("iso20", "iso2"), require_vehicle_certificate=require)
        ep = EVSEEndpoint(None, evse, config, tls="required", ssl_context=context, host="::1",
                          application=_simulated(evse))
        async with Charger([ep]):
            client = iso20_client_context(
                certfile=vehicle_chain if certificate else None,
                keyfile=vehicle_key if certificate else None, cafile=v2g_root, group=None) \
                if client_tls13 else iso2_client_context(cafile=v2g_root)
            conn = await open_connection("::1", ep.ports.popitem()[1], ssl_context=client)
            evcc = EvccSession(EVState(), EvccConfig(loops=2, protocols=protocols), tls=True,
                               tls_version=conn.tls_version)
            ended = await drive(conn, evcc)
            await conn.close()
            return ended, conn.tls_version or "", evcc.protocol

    def check(result: tuple[SessionEnded, str, str | None], version: str,
              protocol: str) -> None:
        assert result[0].outcome is Outcome.COMPLETED, result[0].reason
        assert result[1:3] == (version, protocol)

    check(asyncio.run(session(True, ("iso20", "iso2"))), "TLSv1.3", "iso20")
    check(asyncio.run(session(False, ("iso20", "iso2"))), "TLSv1.3", "iso20")
    check(asyncio.run(session(True, ("iso20", "iso2"), require=True)), "TLSv1.3", "iso20")
    check(asyncio.run(session(False, ("iso20", "iso2"), require=True)), "TLSv1.3", "iso2")
    alone = asyncio.run(session(False, ("iso20",), require=True))
    assert alone[0].outcome is Outcome.FAILED and "no common protocol" in alone[0].reason
    check(asyncio.run(session(False, ("iso20", "iso2"), client_tls13=False)), "TLSv1.2", "iso2")


def test_iso20_plug_and_charge_over_tls_13_with_certificate_installation(
        tmp_path: Path) -> None:
    """-20 PnC on real sockets: TLS 1.3 with the -20 test PKI (secp521r1 SECC chain, the
    vehicle presenting its OEM provisioning chain), CertificateInstallation answered by the
    charger's backend, the PnC AuthorizationReq signed with the new contract, a whole DC
    session. The charger learns the contract's eMAID."""
    from iso15118.pki import create_test_pki
    from iso15118.session.events import AuthorizationRequested, ProtocolNegotiated

    create_test_pki(tmp_path / "pki", 20)
    pki = tmp_path / "pki"
    vehicle_dir = Path(shutil.copytree(pki, tmp_path / "vehicle"))
    chain, key, v2g_root = secc_tls_files(pki)
    vehicle_chain, vehicle_key, oem_root = vehicle_tls_files(pki)
    evse = EVSEState(payment_options=(Payment.EIM, Payment.PNC))
    simulated = _simulated(evse)
    authorized: list[AuthorizationRequested] = []

    def application(session: SeccSession) -> Any:
        hardware = simulated(session)

        def on_event(event: Event, now: float) -> None:
            hardware(event, now)
            if isinstance(event, AuthorizationRequested):
                authorized.append(event)
        return on_event

    async def main() -> tuple[SessionEnded, list[str], list[Event], str | None]:
        context = iso20_server_context(chain, key, cafile=oem_root)
        config = SeccConfig(protocols=("iso20",), pnc=SeccPnc.from_test_pki(pki),
                            require_vehicle_certificate=True)
        ep = EVSEEndpoint(None, evse, config, tls="required", ssl_context=context,
                          host="::1", application=application)
        async with Charger([ep]):
            client = iso20_client_context(certfile=vehicle_chain, keyfile=vehicle_key,
                                          cafile=v2g_root)
            conn = await open_connection("::1", ep.ports.popitem()[1], ssl_context=client)
            evcc = EvccSession(EVState(payment=Payment.PNC),
                               EvccConfig(loops=2, protocols=("iso20",),
                                          pnc=EvccPnc.from_test_pki(vehicle_dir,
                                                                    contract=False)),
                               tls=True, tls_version=conn.tls_version)
            events: list[Event] = []
            ended = await drive(conn, evcc, lambda e, now: events.append(e))
            await conn.close()
            sent = [e.name for e in events if isinstance(e, MessageSent)]
            return ended, sent, events, conn.tls_version

    ended, sent, events, version = asyncio.run(main())
    assert ended.outcome is Outcome.COMPLETED, ended.reason
    assert version == "TLSv1.3"
    negotiated = next(e for e in events if isinstance(e, ProtocolNegotiated))
    assert (negotiated.protocol, negotiated.link) == ("iso20", "TLSv1.3")
    assert sent[sent.index("AuthorizationSetupReq") + 1] == "CertificateInstallationReq"
    assert sent[sent.index("CertificateInstallationReq") + 1] == "AuthorizationReq"
    assert (vehicle_dir / "ev_contract" / "chain.pem").exists()
    assert [a.payment for a in authorized] == [Payment.PNC] and authorized[0].emaid
