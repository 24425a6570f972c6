"""What a correct session looks like per ``--protocol``: the states a case can target, the
EV and EVSE our side plays, and how state names match messages.

State names are message names without Req/Res (``CurrentDemand``, ``DC_ChargeLoop``) or
the session tables' neutral step names (``ChargeLoop`` for -20's AC_/DC_ChargeLoop,
``PaymentServiceSelection`` for DIN's ServicePaymentSelection); ``supportedAppProtocol``
is the handshake and ``SDP`` the discovery layer.
"""

from __future__ import annotations

from iso15118.fuzzing.model import PROFILES, FuzzError, Profile
from iso15118.session.ev_state import EVState
from iso15118.session.evcc import EvccConfig
from iso15118.session.evse_state import EVSEState
from iso15118.session.values import EnergyMode

__all__ = ["ALL_STATES", "evse_for", "matches", "profile", "vehicle_for"]

_COMMON = ("supportedAppProtocol", "SessionSetup", "ServiceDiscovery")
#: the states ``--state all`` draws from, per profile: a default session passes each
ALL_STATES: dict[str, tuple[str, ...]] = {
    "din": (*_COMMON, "ServicePaymentSelection", "ContractAuthentication",
            "ChargeParameterDiscovery", "CableCheck", "PreCharge", "PowerDelivery",
            "CurrentDemand", "WeldingDetection", "SessionStop"),
    "iso2-dc": (*_COMMON, "PaymentServiceSelection", "Authorization",
                "ChargeParameterDiscovery", "CableCheck", "PreCharge", "PowerDelivery",
                "CurrentDemand", "WeldingDetection", "SessionStop"),
    "iso2-ac": (*_COMMON, "PaymentServiceSelection", "Authorization",
                "ChargeParameterDiscovery", "PowerDelivery", "ChargingStatus", "SessionStop"),
    "iso20-dc": ("supportedAppProtocol", "SessionSetup", "AuthorizationSetup",
                 "Authorization", "ServiceDiscovery", "ServiceDetail", "ServiceSelection",
                 "ChargeParameterDiscovery", "ScheduleExchange", "CableCheck", "PreCharge",
                 "PowerDelivery", "ChargeLoop", "SessionStop"),
    "iso20-ac": ("supportedAppProtocol", "SessionSetup", "AuthorizationSetup",
                 "Authorization", "ServiceDiscovery", "ServiceDetail", "ServiceSelection",
                 "ChargeParameterDiscovery", "ScheduleExchange", "PowerDelivery", "ChargeLoop",
                 "SessionStop"),
}
ALL_STATES["iso20-dc-bpt"] = ALL_STATES["iso20-dc"]


def profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise FuzzError(f"unknown protocol {name!r}: one of {', '.join(PROFILES)}") from None


def matches(state: str, element: str, step: str | None) -> bool:
    """Whether the message ``element`` (e.g. ``CurrentDemandReq``) of neutral ``step`` is
    the one a case for ``state`` damages."""
    bare = element[:-3] if element.endswith(("Req", "Res")) else element
    return state == bare or (step is not None and state == step)


def vehicle_for(p: Profile) -> tuple[EVState, EvccConfig]:
    """The vehicle our side plays to drive a charger through a whole session quickly."""
    ev = EVState(energy_mode=EnergyMode.DC_extended if p.dc else EnergyMode.AC_three_phase_core,
                 bidirectional=p.bidirectional)
    if not p.dc:
        ev.max_current, ev.max_voltage, ev.min_current, ev.max_power = 32.0, 400.0, 6.0, 22e3
    # a generous timeout_scale: the fuzzer judges the target's timing with its own
    # deadline, and a slow target must not end the *driving* session early
    config = EvccConfig(protocols=(p.protocol,), loops=2, loop_interval=0.0,
                        ongoing_interval=0.05, timeout_scale=4.0)
    return ev, config


def evse_for(p: Profile) -> EVSEState:
    modes = (EnergyMode.DC_extended, EnergyMode.DC_core) if p.dc else (
        EnergyMode.AC_three_phase_core, EnergyMode.AC_single_phase_core)
    return EVSEState(energy_modes=modes, bidirectional=p.bidirectional)
