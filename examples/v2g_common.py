"""The little the example charger (``evse.py``) and vehicle (``ev.py``) share: one log
line per message, so their logs can be read side by side.

Not part of the library: the examples import it from beside themselves.
"""

from __future__ import annotations

from typing import Any

from iso15118.session.events import MessageReceived, MessageSent
from iso15118.summary import key_values


def show(side: str, event: Any) -> None:
    """``EVSE <- CurrentDemandReq EVTargetCurrent=100 A ...`` for a message event."""
    if isinstance(event, (MessageSent, MessageReceived)):
        arrow = "->" if isinstance(event, MessageSent) else "<-"
        values = " ".join(f"{k}={v}" for k, v in key_values(event.message))
        print(f"{side:4} {arrow} {event.name} {values}".rstrip(), flush=True)
