"""The shape of a protocol's session rules: which request may come next, and the timers.

Each protocol has one module of data in this shape (:mod:`.rules_din`,
:mod:`.rules_iso2`), every entry citing where the standard says it; the SECC and EVCC
cores read nothing else to decide what is allowed or how long to wait, and
``tests/session/test_sequence.py`` walks every (state, request) pair of every table.

States are named after the last exchange that completed, with what decides the way on:
``Authorization.Ongoing``, ``ChargeParameterDiscovery.DC``, ``PowerDelivery.Stop.AC``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Exchange", "ProtocolRules", "TimerRule", "Transition"]

#: Neutral names of the request/response pairs (ISO 15118-2's names; DIN's
#: ServicePaymentSelection and ContractAuthentication map onto two of them).
STEPS = (
    "SessionSetup", "ServiceDiscovery", "ServiceDetail", "PaymentServiceSelection",
    "PaymentDetails", "Authorization", "CertificateInstallation", "CertificateUpdate",
    "ChargeParameterDiscovery", "CableCheck", "PreCharge", "PowerDelivery", "CurrentDemand",
    "ChargingStatus", "MeteringReceipt", "WeldingDetection", "SessionStop",
    # ISO 15118-20's own
    "AuthorizationSetup", "ServiceSelection", "ScheduleExchange", "ChargeLoop",
    "MeteringConfirmation",
)


@dataclass(frozen=True)
class Exchange:
    """One request/response pair and its two time limits."""

    step: str
    #: the model class(es): -20 spells some exchanges once per namespace (AC_/DC_)
    request: type | tuple[type, ...]
    response: type | tuple[type, ...]
    #: V2G_EVCC_Msg_Timeout: how long the EVCC waits for the response
    ev_timeout: float
    #: V2G_SECC_Msg_Performance_Time: how soon the SECC must answer
    secc_performance: float
    clause: str


@dataclass(frozen=True)
class Transition:
    """After the exchange that left the session in ``state``, the requests allowed next."""

    state: str
    allowed: tuple[str, ...]
    clause: str


@dataclass(frozen=True)
class TimerRule:
    """A named timer of a sequence (not of one message)."""

    name: str
    seconds: float
    clause: str


class ProtocolRules:
    """A protocol's exchanges, next-request graph and sequence timers, indexed."""

    def __init__(self, protocol: str, exchanges: tuple[Exchange, ...],
                 graph: tuple[Transition, ...], timers: tuple[TimerRule, ...], *,
                 handshake_ev_timeout: float = 2.0,
                 handshake_secc_performance: float = 1.5) -> None:
        self.protocol = protocol
        self.exchanges = exchanges
        self.graph = graph
        self.timers = timers
        #: the SupportedAppProtocol exchange's limits
        self.handshake_ev_timeout = handshake_ev_timeout
        self.handshake_secc_performance = handshake_secc_performance
        self._by_step = {e.step: e for e in exchanges}
        self._by_request = {cls: e for e in exchanges for cls in _classes(e.request)}
        self._by_response = {cls: e for e in exchanges for cls in _classes(e.response)}
        self._states = {t.state: t for t in graph}
        self._timers = {t.name: t for t in timers}
        for t in graph:
            for step in t.allowed:
                if step not in self._by_step:
                    raise ValueError(f"{protocol}: {t.state} allows unknown {step}")

    def exchange(self, step: str) -> Exchange:
        return self._by_step[step]

    def has_step(self, step: str) -> bool:
        return step in self._by_step

    def exchange_of_request(self, body: object) -> Exchange | None:
        return self._by_request.get(type(body))

    def exchange_of_response(self, body: object) -> Exchange | None:
        return self._by_response.get(type(body))

    def allowed(self, state: str) -> tuple[str, ...]:
        return self._states[state].allowed

    def states(self) -> tuple[str, ...]:
        return tuple(t.state for t in self.graph)

    def timer(self, name: str) -> float:
        return self._timers[name].seconds

    def timer_or(self, name: str, default: float) -> float:
        """A timer this protocol may not have (the -20 charge loop's)."""
        rule = self._timers.get(name)
        return default if rule is None else rule.seconds


def _classes(spec: type | tuple[type, ...]) -> tuple[type, ...]:
    return spec if isinstance(spec, tuple) else (spec,)


def state_after(step: str, *, ongoing: bool = False, dc: bool = True, pnc: bool = False,
                progress: str | None = None, renegotiating: bool = False,
                protocol: str = "iso2", stop_kind: str | None = None) -> str:
    """The state name after ``step`` completed with the given outcome (see module doc)."""
    kind = "DC" if dc else "AC"
    if protocol == "iso20":
        return _state_after_iso20(step, ongoing, kind, progress, renegotiating, stop_kind)
    if step in ("Authorization", "CableCheck") or (
            step == "ChargeParameterDiscovery" and ongoing):
        if ongoing:
            return f"{step}.Ongoing"
        if step != "ChargeParameterDiscovery":
            return f"{step}.Finished"
    if step == "ChargeParameterDiscovery":
        return f"{step}.Renegotiation.{kind}" if renegotiating else f"{step}.{kind}"
    if step == "PaymentServiceSelection":
        return f"{step}.{'PnC' if pnc else 'EIM'}"
    if step == "PowerDelivery":
        if progress == "Renegotiate":
            return "PowerDelivery.Renegotiate"
        return f"PowerDelivery.{progress or 'Start'}.{kind}"
    if step == "MeteringReceipt":
        return f"MeteringReceipt.{kind}"
    return step


def _state_after_iso20(step: str, ongoing: bool, kind: str, progress: str | None,
                       renegotiating: bool, stop_kind: str | None) -> str:
    """ISO 15118-20's state names (the graph of :mod:`.rules_iso20`)."""
    if step in ("Authorization", "CableCheck", "CertificateInstallation", "ScheduleExchange"):
        if ongoing:
            return f"{step}.Ongoing"
        if step == "ScheduleExchange":
            return f"{step}.Renegotiation" if renegotiating else f"{step}.{kind}"
        return f"{step}.Finished"
    if step == "ChargeParameterDiscovery":
        return f"{step}.{kind}"
    if step == "PowerDelivery":
        if ongoing:
            return "PowerDelivery.Ongoing"  # EVProcessing=Ongoing: the EV asks again
        if progress == "Standby":
            return "PowerDelivery.Standby"
        if progress == "Renegotiate":
            return "PowerDelivery.ScheduleRenegotiation"
        return f"PowerDelivery.{progress or 'Start'}.{kind}"
    if step == "SessionStop" and stop_kind == "ServiceRenegotiation":
        return "SessionStop.ServiceRenegotiation"
    return step
