"""A minimal ISO 15118-2 DC charger (SECC): answers SDP, serves one V2G session, exits.

Run beside ``ev.py`` (see README.md here). It shows the SECC side of ISO 15118-2 as a user
of the library writes it: SDP responder (clause 7.10.1), TCP or TLS 1.2 server (clause
7.7), the supportedAppProtocol handshake (clause 8.2) choosing ISO-2 over DIN, then one
DC session with external payment (clause 8.4), checked against a table of which request
may come next. The power electronics are a few numbers that follow what the EV asks for.

Exit status 0 when the session ended with SessionStop, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from v2g_common import (
    ISO2_NAMESPACE,
    SessionError,
    physical,
    show,
    value_of,
    warm_up,
)

from iso15118.errors import Iso15118Error
from iso15118.messages import apphand, iso2
from iso15118.messaging import MessageChannel
from iso15118.pki import create_test_pki
from iso15118.sdp import Security
from iso15118.transport import (
    V2GConnection,
    iso2_server_context,
    link_local_address,
    serve,
    serve_sdp,
)

EVSE_ID = "DE*V2G*E0001*1"
SERVICE_ID = 1  # the charge service's ID in ServiceDiscoveryRes
SCHEDULE_ID = 1
#: V2G_SECC_Sequence_Timeout, ISO 15118-2 Table 109: how long we wait for the next request.
SEQUENCE_TIMEOUT = 60.0
PRECHARGE_STEP = 150.0  # volts the simulated converter moves per PreChargeReq

V = iso2.UnitSymbolType.V
A = iso2.UnitSymbolType.A
W = iso2.UnitSymbolType.W
OK = iso2.ResponseCodeType.OK
FINISHED = iso2.EVSEProcessingType.Finished

#: After each request (left), the requests that may come next; anything else is a sequence
#: error, answered with FAILED_SequenceError and the end of the session. PowerDelivery
#: is split by its ChargeProgress: what may follow it depends on it.
NEXT_REQUESTS: dict[str, tuple[type, ...]] = {
    "start": (iso2.SessionSetupReqType,),
    "SessionSetupReq": (iso2.ServiceDiscoveryReqType,),
    "ServiceDiscoveryReq": (iso2.PaymentServiceSelectionReqType,),
    "PaymentServiceSelectionReq": (iso2.AuthorizationReqType,),
    "AuthorizationReq": (iso2.AuthorizationReqType, iso2.ChargeParameterDiscoveryReqType),
    "ChargeParameterDiscoveryReq": (
        iso2.ChargeParameterDiscoveryReqType,
        iso2.CableCheckReqType,
    ),
    "CableCheckReq": (iso2.CableCheckReqType, iso2.PreChargeReqType),
    "PreChargeReq": (iso2.PreChargeReqType, iso2.PowerDeliveryReqType),
    "PowerDeliveryReq(Start)": (iso2.CurrentDemandReqType,),
    "CurrentDemandReq": (iso2.CurrentDemandReqType, iso2.PowerDeliveryReqType),
    "PowerDeliveryReq(Stop)": (iso2.WeldingDetectionReqType, iso2.SessionStopReqType),
    "WeldingDetectionReq": (iso2.WeldingDetectionReqType, iso2.SessionStopReqType),
}


def state_after(req: Any) -> str:
    name: str = type(req).__name__.removesuffix("Type")
    if isinstance(req, iso2.PowerDeliveryReqType) and req.charge_progress is not None:
        name += f"({req.charge_progress.value})"
    return name


class Evse:
    """One session's state and the answer to each request."""

    def __init__(self) -> None:
        self.session_id = os.urandom(8)  # the SECC chooses it, the EV echoes it
        self.state = "start"
        self.voltage = 0.0  # what the simulated converter outputs
        self.current = 0.0

    def status(self) -> iso2.DC_EVSEStatusType:
        return iso2.DC_EVSEStatusType(
            notification_max_delay=0,
            evse_notification=iso2.EVSENotificationType.None_,
            evse_isolation_status=iso2.IsolationLevelType.Valid,
            evse_status_code=iso2.DC_EVSEStatusCodeType.EVSE_Ready,
        )

    def answer(self, req: Any) -> Any:
        """The response to ``req``; the sequence and session checks are the caller's."""
        handlers: dict[type, Callable[[Any], Any]] = {
            iso2.SessionSetupReqType: self.session_setup,
            iso2.ServiceDiscoveryReqType: self.service_discovery,
            iso2.PaymentServiceSelectionReqType: self.payment_service_selection,
            iso2.AuthorizationReqType: self.authorization,
            iso2.ChargeParameterDiscoveryReqType: self.charge_parameter_discovery,
            iso2.CableCheckReqType: self.cable_check,
            iso2.PreChargeReqType: self.pre_charge,
            iso2.PowerDeliveryReqType: self.power_delivery,
            iso2.CurrentDemandReqType: self.current_demand,
            iso2.WeldingDetectionReqType: self.welding_detection,
            iso2.SessionStopReqType: self.session_stop,
        }
        handler = handlers.get(type(req))
        if handler is None:
            raise SessionError(f"{type(req).__name__} is not part of this example's session")
        return handler(req)

    def session_setup(self, req: iso2.SessionSetupReqType) -> iso2.SessionSetupResType:
        return iso2.SessionSetupResType(
            response_code=iso2.ResponseCodeType.OK_NewSessionEstablished, evse_id=EVSE_ID
        )

    def service_discovery(self, req: iso2.ServiceDiscoveryReqType) -> iso2.ServiceDiscoveryResType:
        return iso2.ServiceDiscoveryResType(
            response_code=OK,
            payment_option_list=iso2.PaymentOptionListType(
                payment_option=[iso2.PaymentOptionType.ExternalPayment]
            ),
            charge_service=iso2.ChargeServiceType(
                service_id=SERVICE_ID,
                service_category=iso2.ServiceCategoryType.EVCharging,
                free_service=False,
                supported_energy_transfer_mode=iso2.SupportedEnergyTransferModeType(
                    energy_transfer_mode=[iso2.EnergyTransferModeType.DC_extended]
                ),
            ),
        )

    def payment_service_selection(
        self, req: iso2.PaymentServiceSelectionReqType
    ) -> iso2.PaymentServiceSelectionResType:
        code = OK
        if req.selected_payment_option is not iso2.PaymentOptionType.ExternalPayment:
            code = iso2.ResponseCodeType.FAILED_PaymentSelectionInvalid
        return iso2.PaymentServiceSelectionResType(response_code=code)

    def authorization(self, req: iso2.AuthorizationReqType) -> iso2.AuthorizationResType:
        # External payment: the RFID card or app has already said yes.
        return iso2.AuthorizationResType(response_code=OK, evse_processing=FINISHED)

    def charge_parameter_discovery(
        self, req: iso2.ChargeParameterDiscoveryReqType
    ) -> iso2.ChargeParameterDiscoveryResType:
        code = OK
        if req.requested_energy_transfer_mode is not iso2.EnergyTransferModeType.DC_extended:
            code = iso2.ResponseCodeType.FAILED_WrongEnergyTransferMode
        schedule = iso2.SAScheduleTupleType(
            sa_schedule_tuple_id=SCHEDULE_ID,
            p_max_schedule=iso2.PMaxScheduleType(
                p_max_schedule_entry=[
                    iso2.PMaxScheduleEntryType(
                        time_interval=iso2.RelativeTimeIntervalType(start=0, duration=86400),
                        p_max=physical(50000, W),
                    )
                ]
            ),
        )
        return iso2.ChargeParameterDiscoveryResType(
            response_code=code,
            evse_processing=FINISHED,
            sa_schedules=iso2.SAScheduleListType(sa_schedule_tuple=[schedule]),
            evse_charge_parameter=iso2.DC_EVSEChargeParameterType(
                dc_evse_status=self.status(),
                evse_maximum_current_limit=physical(125, A),
                evse_maximum_power_limit=physical(50000, W),
                evse_maximum_voltage_limit=physical(500, V),
                evse_minimum_current_limit=physical(0, A),
                evse_minimum_voltage_limit=physical(150, V),
                evse_peak_current_ripple=physical(2, A),
            ),
        )

    def cable_check(self, req: iso2.CableCheckReqType) -> iso2.CableCheckResType:
        return iso2.CableCheckResType(
            response_code=OK, dc_evse_status=self.status(), evse_processing=FINISHED
        )

    def pre_charge(self, req: iso2.PreChargeReqType) -> iso2.PreChargeResType:
        target = value_of(req.ev_target_voltage)
        step = max(-PRECHARGE_STEP, min(PRECHARGE_STEP, target - self.voltage))
        self.voltage += step
        return iso2.PreChargeResType(
            response_code=OK,
            dc_evse_status=self.status(),
            evse_present_voltage=physical(self.voltage, V),
        )

    def power_delivery(self, req: iso2.PowerDeliveryReqType) -> iso2.PowerDeliveryResType:
        if req.charge_progress is not iso2.ChargeProgressType.Start:
            self.current = 0.0
            self.voltage = 0.0  # contactors open, output discharged
        return iso2.PowerDeliveryResType(response_code=OK, evse_status=self.status())

    def current_demand(self, req: iso2.CurrentDemandReqType) -> iso2.CurrentDemandResType:
        self.voltage = value_of(req.ev_target_voltage)
        self.current = min(value_of(req.ev_target_current), 125.0)
        return iso2.CurrentDemandResType(
            response_code=OK,
            dc_evse_status=self.status(),
            evse_present_voltage=physical(self.voltage, V),
            evse_present_current=physical(self.current, A),
            evse_current_limit_achieved=self.current < value_of(req.ev_target_current),
            evse_voltage_limit_achieved=False,
            evse_power_limit_achieved=False,
            evse_id=EVSE_ID,
            sa_schedule_tuple_id=SCHEDULE_ID,
        )

    def welding_detection(self, req: iso2.WeldingDetectionReqType) -> iso2.WeldingDetectionResType:
        return iso2.WeldingDetectionResType(
            response_code=OK,
            dc_evse_status=self.status(),
            evse_present_voltage=physical(self.voltage, V),
        )

    def session_stop(self, req: iso2.SessionStopReqType) -> iso2.SessionStopResType:
        return iso2.SessionStopResType(response_code=OK)


async def handshake(channel: MessageChannel) -> None:
    """supportedAppProtocol: take ISO 15118-2 (major version 2) if offered, else fail."""
    req = await channel.receive(SEQUENCE_TIMEOUT)
    show("EVSE", "<-", req)
    if not isinstance(req, apphand.supportedAppProtocolReq):
        raise SessionError(f"expected supportedAppProtocolReq, got {type(req).__name__}")
    offers = [
        p
        for p in req.app_protocol
        if p.protocol_namespace == ISO2_NAMESPACE and p.version_number_major == 2
    ]
    res = apphand.supportedAppProtocolRes(
        response_code=apphand.ResponseCodeType.Failed_NoNegotiation
    )
    if offers:
        res.response_code = apphand.ResponseCodeType.OK_SuccessfulNegotiation
        res.schema_id = offers[0].schema_id
    await channel.send(res)
    show("EVSE", "->", res)
    if not offers:
        raise SessionError("the EV does not offer ISO 15118-2")
    channel.protocol = "iso2"


async def run_session(conn: V2GConnection) -> None:
    channel = MessageChannel(conn)
    await handshake(channel)
    evse = Evse()
    while True:
        msg = await channel.receive(SEQUENCE_TIMEOUT)
        show("EVSE", "<-", msg)
        req = msg.body.body_element
        res = evse.answer(req)
        failure = None
        if not isinstance(req, NEXT_REQUESTS[evse.state]):
            failure = iso2.ResponseCodeType.FAILED_SequenceError
        elif evse.state != "start" and msg.header.session_id != evse.session_id:
            failure = iso2.ResponseCodeType.FAILED_UnknownSession
        if failure is not None:
            res.response_code = failure  # answer with the failure, then end the session
        header = iso2.MessageHeaderType(session_id=evse.session_id)
        reply = iso2.V2G_Message(header=header, body=iso2.BodyType(body_element=res))
        await channel.send(reply)
        show("EVSE", "->", reply)
        if failure is not None:
            raise SessionError(f"{state_after(req)} after {evse.state}: {failure.value}")
        evse.state = state_after(req)
        if isinstance(req, iso2.SessionStopReqType):
            return


def make_test_pki(directory: Path) -> tuple[Path, Path]:
    """Make a test PKI in ``directory``; returns (SECC chain PEM, key).

    The chain file holds the SECC certificate and its two sub-CAs, as TLS sends them; the
    EV needs the V2G root (printed) as its trust anchor.
    """
    index = json.loads(create_test_pki(directory, 2).read_text())
    chain, certs = index["chains"]["secc"], index["certificates"]
    chain_file = directory / "secc_chain.pem"
    chain_file.write_bytes(
        b"".join(
            (directory / certs[name]["pem"]).read_bytes()
            for name in [chain["leaf"], *chain["intermediates"]]
        )
    )
    root = directory / certs[chain["trust_roots"][0]]["pem"]
    print(f"EVSE: test PKI in {directory}; the EV trusts {root}", flush=True)
    return chain_file, directory / certs[chain["leaf"]]["key"]


async def main(args: argparse.Namespace) -> int:
    warm_up()
    ssl_context = None
    if args.tls:
        if args.cert is None:
            pki_dir = Path(args.pki_dir or tempfile.mkdtemp(prefix="v2g-test-pki-"))
            args.cert, args.key = make_test_pki(pki_dir)
        ssl_context = iso2_server_context(args.cert, args.key)

    outcome: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def on_connection(conn: V2GConnection) -> None:
        if outcome.done():
            return  # one session per run
        print(f"EVSE: EV connected from {conn.peer[0]} ({conn.tls_version or 'TCP'})", flush=True)
        failure: Exception | None = None
        try:
            await run_session(conn)
        except Exception as exc:  # every failure ends the run, with its reason
            failure = exc
        await conn.close()  # before we report, so the run ends with the connection closed
        if outcome.done():
            return
        if failure is None:
            outcome.set_result(None)
        else:
            outcome.set_exception(failure)

    address = args.address or link_local_address(args.interface)
    server = await serve(on_connection, "::", args.port, ssl_context=ssl_context)
    port = server.sockets[0].getsockname()[1]
    security = Security.TLS if args.tls else Security.NO_TLS
    async with server, await serve_sdp(args.interface, endpoints={security: port}, address=address):
        print(
            f"EVSE: ready, SDP on {args.interface}, V2G at [{address}]:{port} "
            f"({'TLS 1.2' if args.tls else 'TCP'})",
            flush=True,
        )
        try:
            await outcome
        except (SessionError, Iso15118Error, TimeoutError, OSError) as exc:
            print(f"EVSE: session failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
    print("EVSE: session complete", flush=True)
    return 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--interface", required=True, help="the charging link, e.g. eth1")
    parser.add_argument(
        "--address", help="IPv6 address to announce (default: the interface's link-local one)"
    )
    parser.add_argument("--port", type=int, default=0, help="V2G TCP port (0: any free one)")
    parser.add_argument("--tls", action=argparse.BooleanOptionalAction, default=False)
    parser.add_argument("--cert", type=Path, help="SECC certificate chain (PEM) for TLS")
    parser.add_argument("--key", type=Path, help="the SECC certificate's private key (PEM)")
    parser.add_argument(
        "--pki-dir", type=Path, help="where to make the test PKI when no --cert is given"
    )
    args = parser.parse_args()
    if (args.cert is None) != (args.key is None):
        parser.error("--cert and --key go together")
    return args


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main(parse_args())))
    except KeyboardInterrupt:
        sys.exit(130)
