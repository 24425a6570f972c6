"""An SECC on :func:`iso15118.transport.serve` that shuts down while an EV is connected.

Run by test_transport_server.py as its own process, so everything asyncio and Python print
at shutdown (callback tracebacks, unretrieved task exceptions, unclosed transports under
``-X dev``) lands on stderr, where the test reads it. Prints ``PORT <n>`` once listening,
``IN HANDLER`` when the EV's first frame has been echoed, and after the shutdown
``TASKS <n>`` (tasks still alive besides main, where the event loop still runs) and
``HANDLER CLOSED <bool>``.

Shutdown ``--mode``: ``return`` (``server.close()`` and return at once, without waiting:
``asyncio.run`` cancels what is left),
``close`` (``async with server`` ends), ``taskgroup`` (``serve_forever`` in a TaskGroup
that a failing sibling ends), ``cancel`` (the task running ``serve_forever`` is cancelled).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from iso15118.transport import V2GConnection, iso2_server_context, serve

seen: list[V2GConnection] = []
in_handler = asyncio.Event()


async def echo(conn: V2GConnection) -> None:
    seen.append(conn)
    async for frame in conn:
        await conn.send(frame.payload_type, frame.payload)
        print("IN HANDLER", flush=True)
        in_handler.set()


class Stop(Exception):
    pass


async def main(args: argparse.Namespace) -> None:
    ctx = iso2_server_context(args.chain, args.key) if args.chain else None
    server = await serve(echo, "127.0.0.1", 0, ssl_context=ctx)
    print("PORT", server.sockets[0].getsockname()[1], flush=True)
    if args.mode == "return":
        await in_handler.wait()
        server.close()
        return  # the connection task is still running: asyncio.run finishes it
    if args.mode == "close":
        async with server:
            await in_handler.wait()
    elif args.mode == "taskgroup":
        async def fail_once_a_session_runs() -> None:
            await in_handler.wait()
            raise Stop("the charger is switched off")

        try:
            async with asyncio.TaskGroup() as tg:  # type: ignore[attr-defined]  # 3.11+
                tg.create_task(server.serve_forever())
                tg.create_task(fail_once_a_session_runs())
        except Exception as group:  # an ExceptionGroup (3.11+) of what failed
            if not all(isinstance(e, Stop) for e in group.exceptions):  # type: ignore[attr-defined]
                raise
    elif args.mode == "cancel":
        forever = asyncio.create_task(server.serve_forever())
        await in_handler.wait()
        forever.cancel()
        try:
            await forever
        except asyncio.CancelledError:
            pass
    others = asyncio.all_tasks() - {asyncio.current_task()}
    print("TASKS", len(others), flush=True)
    print("HANDLER CLOSED", all(c.closed for c in seen) and bool(seen), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=("return", "close", "taskgroup", "cancel"),
                        required=True)
    parser.add_argument("--chain")
    parser.add_argument("--key")
    logging.basicConfig(level=logging.DEBUG, stream=sys.stderr,
                        format="LOG %(levelname)s %(name)s: %(message)s")
    asyncio.run(main(parser.parse_args()))
