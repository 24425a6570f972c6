"""SECC side of the network-namespace test: SDP responder plus echo servers for plain TCP,
TLS 1.2 (ISO 15118-2) and TLS 1.3 (ISO 15118-20). Run inside a namespace by
test_transport_netns.py; prints READY once every socket listens, then serves until killed.
"""

from __future__ import annotations

import argparse
import asyncio
import signal

from iso15118.sdp import Security, serve_sdp
from iso15118.transport import V2GConnection, iso2_server_context, iso20_server_context, serve


async def echo(conn: V2GConnection) -> None:
    async for frame in conn:
        await conn.send(frame.payload_type, frame.payload[::-1])


async def main(args: argparse.Namespace) -> None:
    tls12 = iso2_server_context(args.p256_chain, args.p256_key)
    tls13 = iso20_server_context(args.p521_chain, args.p521_key, cafile=args.ev_root)
    servers = [
        await serve(echo, "::", args.tcp_port),
        await serve(echo, "::", args.tls12_port, ssl_context=tls12),
        await serve(echo, "::", args.tls13_port, ssl_context=tls13),
    ]
    sdp = await serve_sdp(
        args.interface,
        endpoints={Security.NO_TLS: args.tcp_port, Security.TLS: args.tls12_port},
        address=args.address,
        on_request=lambda request, sender, _: print("SDP", request, sender, flush=True),
    )
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("READY", flush=True)
    await stop.wait()
    sdp.close()
    for server in servers:
        server.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    for name in ("interface", "address", "p256_chain", "p256_key", "p521_chain", "p521_key"):
        parser.add_argument(f"--{name.replace('_', '-')}", required=True)
    parser.add_argument("--ev-root", required=True)
    for name in ("tcp_port", "tls12_port", "tls13_port"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, required=True)
    asyncio.run(main(parser.parse_args()))
