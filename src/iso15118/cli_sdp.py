"""The ``sdp`` command of the ``iso15118`` CLI: find SECCs, or answer as one.

``iso15118 sdp discover [--interface IF] [--tls | --no-tls] [--timeout S]`` prints one
line per SECC that answers: ``address port security transport``.
``iso15118 sdp serve --interface IF --port N [--tls]`` answers SDP requests on UDP 15118
(announcing TCP/TLS port N) until interrupted, printing each request.

The main CLI calls :func:`add_subparser`; ``python -m iso15118.cli_sdp`` runs this command
on its own.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from iso15118.errors import Iso15118Error
from iso15118.sdp import (
    SDP_MAX_REQUESTS,
    SDP_PORT,
    SDP_RESPONSE_TIMEOUT,
    SDPRequest,
    Security,
    discover,
    name_of,
    serve_sdp,
)

__all__ = ["add_subparser", "main"]


def add_subparser(subparsers: Any) -> None:
    """Register ``sdp discover`` and ``sdp serve`` on the main CLI's subparsers."""
    sdp = subparsers.add_parser("sdp", help="SECC Discovery Protocol: find SECCs or answer as one")
    sdp.set_defaults(func=lambda args: _usage(sdp))
    commands = sdp.add_subparsers(dest="sdp_command", metavar="{discover,serve}")

    find = commands.add_parser(
        "discover",
        help="multicast SDP requests and print the SECCs that answer",
        description="Multicast SDP requests to ff02::1 port 15118 and print each SECC that "
        "answers: address, port, security, transport.",
    )
    find.add_argument("--interface", "-i", help="network interface (default: kernel's choice)")
    security = find.add_mutually_exclusive_group()
    security.add_argument(
        "--tls", dest="tls", action="store_true", default=True, help="request TLS (default)"
    )
    security.add_argument("--no-tls", dest="tls", action="store_false", help="request plain TCP")
    find.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="S",
        help=f"give up after S seconds (default: {SDP_MAX_REQUESTS} requests "
        f"x {SDP_RESPONSE_TIMEOUT * 1000:.0f} ms)",
    )
    find.add_argument(
        "--all", action="store_true", help="list every SECC that answers, not only the first"
    )
    find.add_argument("--sdp-port", type=int, default=SDP_PORT, help=argparse.SUPPRESS)
    find.set_defaults(func=_discover)

    answer = commands.add_parser(
        "serve",
        help="answer SDP requests until interrupted",
        description="Answer SDP requests on UDP port 15118, announcing PORT (TCP, or TLS "
        "with --tls) on the interface's link-local address; print each request.",
    )
    answer.add_argument("--interface", "-i", required=True, help="network interface")
    answer.add_argument(
        "--port", "-p", type=int, required=True, help="V2G TCP/TLS port to announce"
    )
    answer.add_argument("--tls", action="store_true", help="announce TLS instead of plain TCP")
    answer.add_argument("--address", help="address to announce (default: link-local of IF)")
    answer.add_argument("--sdp-port", type=int, default=SDP_PORT, help=argparse.SUPPRESS)
    answer.set_defaults(func=_serve)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _discover(args: argparse.Namespace) -> int:
    try:
        seccs = asyncio.run(
            discover(
                args.interface,
                tls=args.tls,
                timeout=args.timeout,
                collect=args.all,
                port=args.sdp_port,
            )
        )
    except Iso15118Error as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    if not seccs:
        print("no SECC answered", file=sys.stderr)
        return 1
    for secc in seccs:
        print(secc.description)
    return 0


def _describe(request: SDPRequest) -> str:
    return f"security={name_of(request.security)} transport={name_of(request.transport_protocol)}"


async def _serve_until_cancelled(args: argparse.Namespace) -> None:
    def on_request(request: SDPRequest, sender: Any, response: bytes | None) -> None:
        verdict = "answered" if response is not None else "not answered"
        print(
            f"request from [{sender[0]}]:{sender[1]} {_describe(request)} ({verdict})", flush=True
        )

    security = Security.TLS if args.tls else Security.NO_TLS
    handle = await serve_sdp(
        args.interface,
        endpoints={security: args.port},
        address=args.address,
        port=args.sdp_port,
        on_request=on_request,
    )
    print(
        f"answering SDP on UDP {args.sdp_port} of {args.interface}: "
        f"[{handle.server.address}]:{args.port} {security.name}",
        flush=True,
    )
    async with handle:
        await handle.serve_forever()


def _serve(args: argparse.Namespace) -> int:
    try:
        asyncio.run(_serve_until_cancelled(args))
    except Iso15118Error as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m iso15118.cli_sdp")
    add_subparser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["sdp", *(sys.argv[1:] if argv is None else argv)])
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
