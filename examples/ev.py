"""A minimal ISO 15118-2 DC electric vehicle (EVCC): finds a charger, charges, stops.

Run beside ``evse.py`` (see README.md here). It shows the EVCC side of ISO 15118-2 as a
user of the library writes it: SDP discovery by IPv6 multicast (clause 7.10.1), TCP or
TLS 1.2 to the address the SECC announced (clause 7.7), the supportedAppProtocol handshake
offering ISO-2 and DIN (clause 8.2), then one DC session with external payment, read top
to bottom in :func:`charge`. Every response is checked for its type, its response code,
the session ID and the time it took.

Exit status 0 when the session ended with SessionStopRes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any, TypeVar

from v2g_common import (
    DIN_NAMESPACE,
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
from iso15118.transport import V2GConnection, connect, discover, iso2_client_context

EVCC_ID = bytes.fromhex("0A1B2C3D4E5F")  # by convention the MAC address of the EV's modem
TARGET_VOLTAGE = 400.0
TARGET_CURRENT = 100.0
MAX_REPEATS = 20  # of a request answered "Ongoing" or while pre-charging: then give up

#: V2G_EVCC_Msg_Timeout, ISO 15118-2 Table 109: how long the EV waits for each response.
TIMEOUTS = {iso2.PowerDeliveryReqType: 5.0, iso2.CurrentDemandReqType: 0.25}
DEFAULT_TIMEOUT = 2.0

V = iso2.UnitSymbolType.V
A = iso2.UnitSymbolType.A
W = iso2.UnitSymbolType.W
Res = TypeVar("Res")


class Session:
    """Sends requests in one V2G session and checks what comes back."""

    def __init__(self, channel: MessageChannel) -> None:
        self.channel = channel
        self.session_id = bytes(8)  # all zeros asks for a new session
        self.soc = 40  # state of charge in %, rising as we charge

    def status(self) -> iso2.DC_EVStatusType:
        return iso2.DC_EVStatusType(
            ev_ready=True, ev_error_code=iso2.DC_EVErrorCodeType.NO_ERROR, evress_soc=self.soc
        )

    async def request(self, req: Any, expected: type[Res]) -> Res:
        header = iso2.MessageHeaderType(session_id=self.session_id)
        await self.channel.send(
            iso2.V2G_Message(header=header, body=iso2.BodyType(body_element=req))
        )
        show("EV  ", "->", req)
        msg = await self.channel.receive(TIMEOUTS.get(type(req), DEFAULT_TIMEOUT))
        show("EV  ", "<-", msg)
        res = msg.body.body_element
        if not isinstance(res, expected):
            raise SessionError(f"expected {expected.__name__}, got {type(res).__name__}")
        code = getattr(res, "response_code", None)
        if code is None or not code.value.startswith("OK"):
            raise SessionError(f"{type(res).__name__}: {code and code.value}")
        if isinstance(res, iso2.SessionSetupResType):
            self.session_id = msg.header.session_id
        elif msg.header.session_id != self.session_id:
            raise SessionError(f"session ID changed to {msg.header.session_id.hex()}")
        return res


async def handshake(channel: MessageChannel) -> None:
    """supportedAppProtocol: offer ISO 15118-2 (preferred) and DIN 70121; require ISO-2."""
    offers = [
        apphand.AppProtocolType(
            protocol_namespace=ISO2_NAMESPACE,
            version_number_major=2,
            version_number_minor=0,
            schema_id=1,
            priority=1,
        ),
        apphand.AppProtocolType(
            protocol_namespace=DIN_NAMESPACE,
            version_number_major=2,
            version_number_minor=0,
            schema_id=2,
            priority=2,
        ),
    ]
    req = apphand.supportedAppProtocolReq(app_protocol=offers)
    await channel.send(req)
    show("EV  ", "->", req)
    res = await channel.receive(DEFAULT_TIMEOUT)
    show("EV  ", "<-", res)
    if not isinstance(res, apphand.supportedAppProtocolRes):
        raise SessionError(f"expected supportedAppProtocolRes, got {type(res).__name__}")
    if res.response_code is apphand.ResponseCodeType.Failed_NoNegotiation:
        raise SessionError("the EVSE accepted none of our protocols")
    if res.schema_id != 1:
        raise SessionError(f"the EVSE chose schema {res.schema_id}; this EV only speaks ISO-2")
    channel.protocol = "iso2"


async def charge(conn: V2GConnection, cycles: int) -> None:
    channel = MessageChannel(conn)
    await handshake(channel)
    s = Session(channel)
    await s.request(iso2.SessionSetupReqType(evcc_id=EVCC_ID), iso2.SessionSetupResType)

    services = await s.request(iso2.ServiceDiscoveryReqType(), iso2.ServiceDiscoveryResType)
    external = iso2.PaymentOptionType.ExternalPayment
    if services.payment_option_list is None or (
        external not in services.payment_option_list.payment_option
    ):
        raise SessionError("the EVSE does not offer external payment")
    charge_service = services.charge_service
    assert charge_service is not None  # mandatory in the schema, so the codec ensures it
    selected = iso2.SelectedServiceListType(
        selected_service=[iso2.SelectedServiceType(service_id=charge_service.service_id)]
    )
    await s.request(
        iso2.PaymentServiceSelectionReqType(
            selected_payment_option=external, selected_service_list=selected
        ),
        iso2.PaymentServiceSelectionResType,
    )

    finished = iso2.EVSEProcessingType.Finished
    for _ in range(MAX_REPEATS):
        auth = await s.request(iso2.AuthorizationReqType(), iso2.AuthorizationResType)
        if auth.evse_processing is finished:
            break
    else:
        raise SessionError("authorization did not finish")

    parameters = iso2.DC_EVChargeParameterType(
        dc_ev_status=s.status(),
        ev_maximum_current_limit=physical(125, A),
        ev_maximum_power_limit=physical(50000, W),
        ev_maximum_voltage_limit=physical(450, V),
    )
    for _ in range(MAX_REPEATS):
        discovery = await s.request(
            iso2.ChargeParameterDiscoveryReqType(
                requested_energy_transfer_mode=iso2.EnergyTransferModeType.DC_extended,
                ev_charge_parameter=parameters,
            ),
            iso2.ChargeParameterDiscoveryResType,
        )
        if discovery.evse_processing is finished:
            break
    else:
        raise SessionError("charge parameter discovery did not finish")
    schedules = discovery.sa_schedules
    if not isinstance(schedules, iso2.SAScheduleListType) or not schedules.sa_schedule_tuple:
        raise SessionError("the EVSE offered no schedule")
    schedule_id = schedules.sa_schedule_tuple[0].sa_schedule_tuple_id

    for _ in range(MAX_REPEATS):
        check = await s.request(
            iso2.CableCheckReqType(dc_ev_status=s.status()), iso2.CableCheckResType
        )
        if check.evse_processing is finished:
            break
    else:
        raise SessionError("cable check did not finish")

    # Pre-charge: the EVSE raises its output to our battery voltage before we close our
    # contactors.
    for _ in range(MAX_REPEATS):
        pre = await s.request(
            iso2.PreChargeReqType(
                dc_ev_status=s.status(),
                ev_target_voltage=physical(TARGET_VOLTAGE, V),
                ev_target_current=physical(2, A),
            ),
            iso2.PreChargeResType,
        )
        if abs(value_of(pre.evse_present_voltage) - TARGET_VOLTAGE) <= 10:
            break
    else:
        raise SessionError("pre-charge did not reach the target voltage")

    await power_delivery(s, iso2.ChargeProgressType.Start, schedule_id)
    for cycle in range(cycles):
        last = cycle == cycles - 1
        await s.request(
            iso2.CurrentDemandReqType(
                dc_ev_status=s.status(),
                ev_target_current=physical(TARGET_CURRENT, A),
                ev_target_voltage=physical(TARGET_VOLTAGE, V),
                charging_complete=last,
            ),
            iso2.CurrentDemandResType,
        )
        s.soc = min(100, s.soc + 1)
    await power_delivery(s, iso2.ChargeProgressType.Stop, schedule_id)

    await s.request(
        iso2.WeldingDetectionReqType(dc_ev_status=s.status()), iso2.WeldingDetectionResType
    )
    await s.request(
        iso2.SessionStopReqType(charging_session=iso2.ChargingSessionType.Terminate),
        iso2.SessionStopResType,
    )


async def power_delivery(s: Session, progress: iso2.ChargeProgressType, schedule_id: Any) -> None:
    await s.request(
        iso2.PowerDeliveryReqType(
            charge_progress=progress,
            sa_schedule_tuple_id=schedule_id,
            ev_power_delivery_parameter=iso2.DC_EVPowerDeliveryParameterType(
                dc_ev_status=s.status(),
                charging_complete=progress is iso2.ChargeProgressType.Stop,
            ),
        ),
        iso2.PowerDeliveryResType,
    )


async def main(args: argparse.Namespace) -> int:
    warm_up()
    try:
        found = await discover(args.interface, tls=args.tls)
        if not found:
            raise SessionError(f"no EVSE answered SDP on {args.interface}")
        evse = found[0]
        print(f"EV  : found EVSE at {evse.description}", flush=True)
        ssl_context = None
        if evse.tls:
            if args.trust is None:
                raise SessionError("the EVSE wants TLS: give its V2G root with --trust")
            ssl_context = iso2_client_context(cafile=args.trust)
        async with await connect(evse, ssl_context=ssl_context) as conn:
            tls = f"{conn.tls_version} {conn.cipher}" if conn.tls_version else "plain TCP"
            print(f"EV  : connected to [{conn.peer[0]}]:{conn.peer[1]} over {tls}", flush=True)
            await charge(conn, args.cycles)
    except (SessionError, Iso15118Error, TimeoutError, OSError) as exc:
        print(f"EV  : session failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print("EV  : session complete", flush=True)
    return 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--interface", required=True, help="the charging link, e.g. eth1")
    parser.add_argument(
        "--tls", action=argparse.BooleanOptionalAction, default=False, help="ask SDP for TLS"
    )
    parser.add_argument("--trust", type=Path, help="V2G root certificate(s) (PEM) for TLS")
    parser.add_argument("--cycles", type=int, default=3, help="CurrentDemand requests to send")
    args = parser.parse_args()
    if args.cycles < 1:
        parser.error("--cycles must be at least 1")
    return args


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main(parse_args())))
    except KeyboardInterrupt:
        sys.exit(130)
