"""EVCC side of the network-namespace test: discover the SECC over link-local multicast,
then talk to it over plain TCP, TLS 1.2 and TLS 1.3. Prints one JSON object with what
happened; test_transport_netns.py asserts on it.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import ssl
from typing import Any

from iso15118.sdp import SECCInfo, discover, name_of
from iso15118.transport import (
    connect,
    iso2_client_context,
    iso20_client_context,
    open_connection,
)
from iso15118.transport.connection import V2GConnection
from iso15118.v2gtp import PayloadType


async def echo_check(conn: V2GConnection) -> dict[str, Any]:
    async with conn:
        payload = b"V2G" * 1000
        await conn.send(PayloadType.SAP_ISO2_DIN, payload)
        frame = await conn.receive(timeout=5)
        return {
            "ok": frame.payload == payload[::-1],
            "tls_version": conn.tls_version,
            "cipher": conn.cipher,
            "peer": list(conn.peer[:2]),
        }


def describe(secc: SECCInfo) -> dict[str, Any]:
    info = dataclasses.asdict(secc)
    info.pop("response")
    info.update(address=str(secc.address), host=secc.host, security=name_of(secc.security))
    info["transport_protocol"] = name_of(secc.transport_protocol)
    return info


async def main(args: argparse.Namespace) -> dict[str, Any]:
    plain = await discover(args.interface, tls=False, timeout=15)
    secure = await discover(args.interface, tls=True, timeout=15)
    report: dict[str, Any] = {
        "discovered_no_tls": [describe(s) for s in plain],
        "discovered_tls": [describe(s) for s in secure],
    }
    tls12: ssl.SSLContext = iso2_client_context(cafile=args.p256_root)
    tls13 = iso20_client_context(certfile=args.ev_chain, keyfile=args.ev_key, cafile=args.p521_root)
    report["tcp"] = await echo_check(await connect(plain[0]))
    report["tls12"] = await echo_check(await connect(secure[0], ssl_context=tls12))
    # The SDP responder announces one TLS port; the -20 endpoint is on a port agreed out of
    # band, at the address discovery found.
    report["tls13"] = await echo_check(
        await open_connection(secure[0].host, args.tls13_port, ssl_context=tls13)
    )
    return report


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    for name in ("interface", "p256_root", "p521_root", "ev_chain", "ev_key"):
        parser.add_argument(f"--{name.replace('_', '-')}", required=True)
    parser.add_argument("--tls13-port", type=int, required=True)
    print(json.dumps(asyncio.run(main(parser.parse_args()))))
