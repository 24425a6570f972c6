"""DIN SPEC 70121 session rules: the next-request graph and every timer, as data.

DIN 70121 is DC only with external identification (EIM): its schema has PaymentDetails,
certificate messages and ChargingStatus, but the specification's DC sequence uses none of
them, so neither do these rules. Its ServicePaymentSelection and ContractAuthentication
play ISO 15118-2's PaymentServiceSelection and Authorization (the neutral step names used
here). PowerDeliveryReq carries ReadyToChargeState (true: start, false: stop); there is no
pause and no renegotiation. Clause numbers are DIN SPEC 70121:2014-12's message clauses
(9.4); time limits are given by their parameter names from its timing tables; the values
agree with Josev 0.31.2.
"""

from __future__ import annotations

from iso15118.messages import din
from iso15118.session.rules import Exchange, ProtocolRules, TimerRule, Transition

_T = "DIN 70121 timing table, V2G_EVCC_Msg_Timeout / V2G_SECC_Msg_Performance_Time"

EXCHANGES = (
    Exchange("SessionSetup", din.SessionSetupReqType, din.SessionSetupResType,
             2.0, 1.5, f"9.4.1.2 SessionSetup; {_T}"),
    Exchange("ServiceDiscovery", din.ServiceDiscoveryReqType, din.ServiceDiscoveryResType,
             2.0, 1.5, f"9.4.1.3 ServiceDiscovery; {_T}"),
    Exchange("PaymentServiceSelection", din.ServicePaymentSelectionReqType,
             din.ServicePaymentSelectionResType, 2.0, 1.5,
             f"9.4.1.4 ServicePaymentSelection; {_T}"),
    Exchange("Authorization", din.ContractAuthenticationReqType,
             din.ContractAuthenticationResType, 2.0, 1.5,
             f"9.4.1.5 ContractAuthentication; {_T}"),
    Exchange("ChargeParameterDiscovery", din.ChargeParameterDiscoveryReqType,
             din.ChargeParameterDiscoveryResType, 2.0, 1.5,
             f"9.4.1.6 ChargeParameterDiscovery; {_T}"),
    Exchange("PowerDelivery", din.PowerDeliveryReqType, din.PowerDeliveryResType,
             2.0, 1.5, f"9.4.1.7 PowerDelivery; {_T}"),
    Exchange("SessionStop", din.SessionStopType, din.SessionStopResType,
             2.0, 1.5, f"9.4.1.8 SessionStop; {_T}"),
    Exchange("CableCheck", din.CableCheckReqType, din.CableCheckResType,
             2.0, 1.5, f"9.4.2.2 CableCheck; {_T}"),
    Exchange("PreCharge", din.PreChargeReqType, din.PreChargeResType,
             2.0, 1.5, f"9.4.2.3 PreCharge; {_T}"),
    Exchange("CurrentDemand", din.CurrentDemandReqType, din.CurrentDemandResType,
             0.25, 0.025, f"9.4.2.4 CurrentDemand; {_T}"),
    Exchange("WeldingDetection", din.WeldingDetectionReqType, din.WeldingDetectionResType,
             2.0, 1.5, f"9.4.2.5 WeldingDetection; {_T}"),
)

_SEQ = "DC message sequence (EIM)"

GRAPH = (
    Transition("Idle", ("SessionSetup",), f"9.4.1.2; {_SEQ}: first after supportedAppProtocol"),
    Transition("SessionSetup", ("ServiceDiscovery",), f"9.4.1.3; {_SEQ}"),
    Transition("ServiceDiscovery", ("PaymentServiceSelection",), f"9.4.1.4; {_SEQ}"),
    Transition("PaymentServiceSelection.EIM", ("Authorization",), f"9.4.1.5; {_SEQ}"),
    Transition("Authorization.Ongoing", ("Authorization",),
               "9.4.1.5: ContractAuthentication repeated while EVSEProcessing=Ongoing"),
    Transition("Authorization.Finished", ("ChargeParameterDiscovery",), f"9.4.1.6; {_SEQ}"),
    Transition("ChargeParameterDiscovery.Ongoing", ("ChargeParameterDiscovery",),
               "9.4.1.6: repeated while EVSEProcessing=Ongoing"),
    Transition("ChargeParameterDiscovery.DC", ("CableCheck",), f"9.4.2.2; {_SEQ}"),
    Transition("CableCheck.Ongoing", ("CableCheck",),
               "9.4.2.2: repeated while Ongoing (V2G_EVCC_CableCheck_Timeout)"),
    Transition("CableCheck.Finished", ("PreCharge",), f"9.4.2.3; {_SEQ}"),
    Transition("PreCharge", ("PreCharge", "PowerDelivery"),
               "9.4.2.3: repeated until the voltages match (V2G_EVCC_PreCharge_Timeout)"),
    Transition("PowerDelivery.Start.DC", ("CurrentDemand",), f"9.4.2.4; {_SEQ}"),
    Transition("CurrentDemand", ("CurrentDemand", "PowerDelivery"),
               "9.4.2.4 charge loop; 9.4.1.7 ReadyToChargeState=false to stop"),
    Transition("PowerDelivery.Stop.DC", ("WeldingDetection", "SessionStop"),
               f"9.4.2.5 (optional), 9.4.1.8; {_SEQ}"),
    Transition("WeldingDetection", ("WeldingDetection", "SessionStop"),
               "9.4.2.5: repeated until the EV has checked its contactors; 9.4.1.8"),
)

_TT = "DIN 70121 timing table"

TIMERS = (
    TimerRule("secc_sequence", 60.0, f"V2G_SECC_Sequence_Timeout, {_TT}"),
    TimerRule("evcc_sequence_performance", 40.0,
              f"V2G_EVCC_Sequence_Performance_Time, {_TT}"),
    TimerRule("evcc_communication_setup", 20.0,
              f"V2G_EVCC_CommunicationSetup_Timeout (to SessionSetupRes), {_TT}"),
    TimerRule("evcc_ongoing", 60.0,
              "V2G_EVCC_Ongoing_Timeout as in ISO 15118-2 (DIN's ContractAuthentication and "
              "ChargeParameterDiscovery loops; value as Josev uses it)"),
    TimerRule("evcc_cable_check", 40.0, f"V2G_EVCC_CableCheck_Timeout, {_TT} (value as "
              "Josev 0.31.2 uses it)"),
    TimerRule("evcc_pre_charge", 7.0, f"V2G_EVCC_PreCharge_Timeout, {_TT}"),
    TimerRule("secc_ongoing", 55.0,
              "this library's policy, not a quoted value: the SECC decides (or fails) 5 s "
              "before the EV's ongoing timeout, so the EV learns why"),
)

RULES = ProtocolRules("din", EXCHANGES, GRAPH, TIMERS)
