"""Reading the shared real vectors for the OCPP bridge tests (imported by the tests; the
directory is deliberately not a package: ``tests/ocpp`` must never shadow the ``ocpp``
package whose schemas the bridge reads)."""

from __future__ import annotations

from typing import Any

from iso15118 import codec

#: the codec's name for each protocol of the vector files
PROTO = {"iso20-common": "iso20-common", "iso20-dc": "iso20-dc", "iso20-ac": "iso20-ac",
         "iso2": "iso2", "din": "din", "appHand": "apphand"}


def rows_named(rows: list[dict[str, Any]], message: str,
               protocol: str | None = None) -> list[dict[str, Any]]:
    return [r for r in rows if r.get("message") == message
            and (protocol is None or r["protocol"] == protocol)]


def decoded(row: dict[str, Any]) -> Any:
    """The row's message: the V2G_Message body element, or the -20 / appHand document."""
    data = bytes.fromhex(row["hex"])
    protocol = PROTO[row["protocol"]]
    if protocol in ("iso2", "din"):
        return codec.decode(data, protocol).body.body_element
    return codec.decode_element(data, protocol)[1]
