"""A CSMS as its own process, for the CLI tests: ``python csms_process.py VERSION``.

Listens on 127.0.0.1 (a free port, printed to stderr as ``listening PORT``), accepts one
station, answers what a station sends with Accepted, and prints one JSON line per call it
receives (``{"action": ..., "payload": {...}}``, keys as the ``ocpp`` package hands them
over) to stdout. Exits after a TransactionEvent Ended, or after 60 s."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sys
from typing import Any

import websockets
from ocpp.routing import on


def main(version: str) -> None:
    module = __import__("ocpp.v201" if version == "2.0.1" else "ocpp.v21",
                        fromlist=["ChargePoint", "call_result"])
    result = module.call_result
    finished = asyncio.Event()

    def record(action: str, payload: dict[str, Any]) -> None:
        print(json.dumps({"action": action, "payload": payload}), flush=True)

    class Csms(module.ChargePoint):  # type: ignore[misc,name-defined]
        @on("BootNotification")
        def boot(self, **kw: Any) -> Any:
            record("BootNotification", kw)
            return result.BootNotification(
                current_time=dt.datetime.now(dt.timezone.utc).isoformat(), interval=300,
                status="Accepted")

        @on("StatusNotification")
        def status(self, **kw: Any) -> Any:
            record("StatusNotification", kw)
            return result.StatusNotification()

        @on("TransactionEvent")
        def transaction(self, **kw: Any) -> Any:
            record("TransactionEvent", kw)
            if kw["event_type"] == "Ended":
                finished.set()
            return result.TransactionEvent()

        @on("NotifyEVChargingNeeds")
        def needs(self, **kw: Any) -> Any:
            record("NotifyEVChargingNeeds", kw)
            return result.NotifyEVChargingNeeds(status="Accepted")

        @on("NotifyEVChargingSchedule")
        def schedule(self, **kw: Any) -> Any:
            record("NotifyEVChargingSchedule", kw)
            return result.NotifyEVChargingSchedule(status="Accepted")

        @on("Authorize")
        def authorize(self, **kw: Any) -> Any:
            record("Authorize", kw)
            return result.Authorize(id_token_info={"status": "Accepted"},
                                    certificate_status="Accepted")

    async def serve() -> None:
        async def on_connect(ws: Any) -> None:
            record("connect", {"path": ws.request.path})
            await Csms(ws.request.path.strip("/"), ws).start()

        server = await websockets.serve(on_connect, "127.0.0.1", 0,
                                        subprotocols=[f"ocpp{version}"])  # type: ignore[list-item]
        print(f"listening {server.sockets[0].getsockname()[1]}", file=sys.stderr, flush=True)
        try:
            await asyncio.wait_for(finished.wait(), 60)
            await asyncio.sleep(0.2)  # the station's last StatusNotification
        finally:
            server.close()

    asyncio.run(serve())


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "2.0.1")
