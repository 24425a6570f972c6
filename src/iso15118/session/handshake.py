"""supportedAppProtocol (ISO 15118-2 8.2, DIN 70121 9.2): which protocol the session speaks.

The EVCC offers its protocols with a priority (1 = preferred) and a SchemaID; the SECC
picks, among those it speaks, the one the EV prefers, and answers with its SchemaID:
OK_SuccessfulNegotiation when the minor version matches,
OK_SuccessfulNegotiationWithMinorDeviation when only the major does, Failed_NoNegotiation
when nothing fits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from iso15118.errors import Iso15118Error
from iso15118.messages import apphand

__all__ = ["APP_PROTOCOLS", "AppProtocol", "choose", "offer", "protocol_of_response"]


@dataclass(frozen=True)
class AppProtocol:
    name: str
    namespace: str
    major: int
    minor: int


APP_PROTOCOLS: dict[str, AppProtocol] = {
    p.name: p for p in (
        AppProtocol("iso2", "urn:iso:15118:2:2013:MsgDef", 2, 0),
        AppProtocol("din", "urn:din:70121:2012:MsgDef", 2, 0),
        # ISO 15118-20 announces one namespace per kind of energy transfer
        AppProtocol("iso20-dc", "urn:iso:std:iso:15118:-20:DC", 1, 0),
        AppProtocol("iso20-ac", "urn:iso:std:iso:15118:-20:AC", 1, 0),
    )
}


def _expand(names: Sequence[str], dc: bool | None = None) -> list[str]:
    """"iso20" stands for the -20 namespace(s): both for a charger, the EV's own kind of
    energy transfer for a vehicle (``dc``)."""
    out: list[str] = []
    for name in names:
        if name == "iso20":
            kinds = ["iso20-dc", "iso20-ac"] if dc is None else \
                ["iso20-dc" if dc else "iso20-ac"]
            out.extend(kinds)
        else:
            out.append(name)
    return out


def session_protocol(name: str) -> str:
    """The session's protocol (its rules and dialect) of an announced one."""
    return "iso20" if name.startswith("iso20") else name

def usable(protocols: Sequence[str], *, tls: bool, tls_version: str | None,
           vehicle_certificate: bool = True) -> tuple[str, ...]:
    """``protocols`` without ISO 15118-20 when this connection cannot carry it: -20 over TLS
    is TLS 1.3 (ISO 15118-20 clause 7.7), so a TLS 1.2 link negotiates the next common
    protocol (-2, say) instead; so does a link without the vehicle's certificate when
    ``vehicle_certificate`` is False (an SECC that insists on mutual authentication passes
    whether the EV sent one; the dSPACE test system also runs -20 without it).
    ``tls_version`` as :mod:`ssl` names it ("TLSv1.3"); None when not known (a sans-IO
    caller) leaves the protocols alone. -20 over plain TCP (EIM) stays allowed, as the
    dSPACE test system and Josev do it."""
    if not tls or tls_version is None or (tls_version == "TLSv1.3" and vehicle_certificate):
        return tuple(protocols)
    return tuple(p for p in protocols if session_protocol(p) != "iso20")


def link(tls: bool, tls_version: str | None) -> str:
    """What carries a session, as :class:`~iso15118.session.events.ProtocolNegotiated` says."""
    return (tls_version or "TLS") if tls else "TCP"


_OK = apphand.ResponseCodeType.OK_SuccessfulNegotiation
_OK_MINOR = apphand.ResponseCodeType.OK_SuccessfulNegotiationWithMinorDeviation
_FAILED = apphand.ResponseCodeType.Failed_NoNegotiation


def offer(protocols: Sequence[str], dc: bool = True) -> apphand.supportedAppProtocolReq:
    """The EV's request: ``protocols`` in order of preference (SchemaID = priority)."""
    entries = []
    for i, name in enumerate(_expand(protocols, dc), start=1):
        p = APP_PROTOCOLS.get(name)
        if p is None:
            raise Iso15118Error(f"cannot offer {name!r}: one of {', '.join(APP_PROTOCOLS)}")
        entries.append(apphand.AppProtocolType(
            protocol_namespace=p.namespace, version_number_major=p.major,
            version_number_minor=p.minor, schema_id=i, priority=i))
    return apphand.supportedAppProtocolReq(app_protocol=entries)


def choose(request: apphand.supportedAppProtocolReq, supported: Sequence[str]
           ) -> tuple[apphand.supportedAppProtocolRes, str | None]:
    """The SECC's answer, and the protocol chosen (None: no negotiation)."""
    by_namespace = {APP_PROTOCOLS[n].namespace: APP_PROTOCOLS[n] for n in _expand(supported)}
    best: tuple[int, apphand.AppProtocolType, AppProtocol] | None = None
    for entry in request.app_protocol:
        ours = by_namespace.get(entry.protocol_namespace)
        if ours is None or entry.version_number_major != ours.major:
            continue
        if best is None or entry.priority < best[0]:
            best = (entry.priority, entry, ours)
    if best is None:
        return apphand.supportedAppProtocolRes(response_code=_FAILED), None
    _, entry, ours = best
    code = _OK if entry.version_number_minor == ours.minor else _OK_MINOR
    return apphand.supportedAppProtocolRes(response_code=code, schema_id=entry.schema_id), \
        ours.name


def protocol_of_response(request: apphand.supportedAppProtocolReq,
                         response: apphand.supportedAppProtocolRes) -> str | None:
    """The EV's reading of the answer: the protocol agreed, or None."""
    if response.response_code not in (_OK, _OK_MINOR):
        return None
    for entry in request.app_protocol:
        if entry.schema_id == response.schema_id:
            for p in APP_PROTOCOLS.values():
                if p.namespace == entry.protocol_namespace:
                    return p.name
    return None
