"""ISO 15118-2 session rules: the next-request graph and every timer, as data.

Message clauses are ISO 15118-2:2014's (8.4.3 common messages, 8.4.4 AC, 8.4.5 DC); the
sequence follows its message sequence diagrams for AC and DC (EIM and PnC), including
renegotiation (ChargeProgress=Renegotiate) and pause (ChargingSession=Pause, resumed by
SessionSetup with the old SessionID). Time limits are given by their parameter names from
the standard's timing tables (V2G_EVCC_Msg_Timeout, V2G_SECC_Msg_Performance_Time and the
sequence timers); the values agree with Josev 0.31.2 and hupe1980/iso15118.
"""

from __future__ import annotations

from iso15118.messages import iso2
from iso15118.session.rules import Exchange, ProtocolRules, TimerRule, Transition

_T = "ISO 15118-2 timing table, V2G_EVCC_Msg_Timeout / V2G_SECC_Msg_Performance_Time"

EXCHANGES = (
    Exchange("SessionSetup", iso2.SessionSetupReqType, iso2.SessionSetupResType,
             2.0, 1.5, f"8.4.3.2; {_T}"),
    Exchange("ServiceDiscovery", iso2.ServiceDiscoveryReqType, iso2.ServiceDiscoveryResType,
             2.0, 1.5, f"8.4.3.3; {_T}"),
    Exchange("ServiceDetail", iso2.ServiceDetailReqType, iso2.ServiceDetailResType,
             5.0, 4.5, f"8.4.3.4; {_T}"),
    Exchange("PaymentServiceSelection", iso2.PaymentServiceSelectionReqType,
             iso2.PaymentServiceSelectionResType, 2.0, 1.5, f"8.4.3.5; {_T}"),
    Exchange("PaymentDetails", iso2.PaymentDetailsReqType, iso2.PaymentDetailsResType,
             5.0, 4.5, f"8.4.3.6; {_T}"),
    Exchange("Authorization", iso2.AuthorizationReqType, iso2.AuthorizationResType,
             2.0, 1.5, f"8.4.3.7; {_T}"),
    Exchange("ChargeParameterDiscovery", iso2.ChargeParameterDiscoveryReqType,
             iso2.ChargeParameterDiscoveryResType, 2.0, 1.5, f"8.4.3.8; {_T}"),
    Exchange("PowerDelivery", iso2.PowerDeliveryReqType, iso2.PowerDeliveryResType,
             5.0, 4.5, f"8.4.3.9; {_T}"),
    Exchange("MeteringReceipt", iso2.MeteringReceiptReqType, iso2.MeteringReceiptResType,
             2.0, 1.5, f"8.4.3.10; {_T}"),
    Exchange("SessionStop", iso2.SessionStopReqType, iso2.SessionStopResType,
             2.0, 1.5, f"8.4.3.11; {_T}"),
    Exchange("CertificateUpdate", iso2.CertificateUpdateReqType, iso2.CertificateUpdateResType,
             5.0, 4.5, f"8.4.3.12; {_T}"),
    Exchange("CertificateInstallation", iso2.CertificateInstallationReqType,
             iso2.CertificateInstallationResType, 5.0, 4.5, f"8.4.3.13; {_T}"),
    Exchange("ChargingStatus", iso2.ChargingStatusReqType, iso2.ChargingStatusResType,
             2.0, 1.5, f"8.4.4.2; {_T}"),
    Exchange("CableCheck", iso2.CableCheckReqType, iso2.CableCheckResType,
             2.0, 1.5, f"8.4.5.2; {_T}"),
    Exchange("PreCharge", iso2.PreChargeReqType, iso2.PreChargeResType,
             2.0, 1.5, f"8.4.5.3; {_T}"),
    Exchange("CurrentDemand", iso2.CurrentDemandReqType, iso2.CurrentDemandResType,
             0.25, 0.025, f"8.4.5.4; {_T}"),
    Exchange("WeldingDetection", iso2.WeldingDetectionReqType, iso2.WeldingDetectionResType,
             2.0, 1.5, f"8.4.5.5; {_T}"),
)

_SEQ = "message sequence diagrams (AC: EIM/PnC; DC: EIM/PnC)"

GRAPH = (
    Transition("Idle", ("SessionSetup",), f"8.4.3.2; {_SEQ}: first after supportedAppProtocol"),
    Transition("SessionSetup", ("ServiceDiscovery",), f"8.4.3.3; {_SEQ}"),
    Transition("ServiceDiscovery", ("ServiceDetail", "PaymentServiceSelection"),
               f"8.4.3.4 (optional ServiceDetail), 8.4.3.5; {_SEQ}"),
    Transition("ServiceDetail", ("ServiceDetail", "PaymentServiceSelection"),
               f"8.4.3.4: one ServiceDetailReq per service of interest; {_SEQ}"),
    Transition("PaymentServiceSelection.EIM", ("Authorization",),
               f"8.4.3.7: EIM goes straight to Authorization; {_SEQ}"),
    Transition("PaymentServiceSelection.PnC",
               ("CertificateInstallation", "CertificateUpdate", "PaymentDetails"),
               f"8.4.3.12, 8.4.3.13 (optional), 8.4.3.6; {_SEQ} (PnC)"),
    Transition("CertificateInstallation", ("PaymentDetails",), f"8.4.3.6; {_SEQ} (PnC)"),
    Transition("CertificateUpdate", ("PaymentDetails",), f"8.4.3.6; {_SEQ} (PnC)"),
    Transition("PaymentDetails", ("Authorization",), f"8.4.3.7 (signed, GenChallenge); {_SEQ}"),
    Transition("Authorization.Ongoing", ("Authorization",),
               "8.4.3.7: repeated while EVSEProcessing=Ongoing (V2G_EVCC_Ongoing_Timeout)"),
    Transition("Authorization.Finished", ("ChargeParameterDiscovery",), f"8.4.3.8; {_SEQ}"),
    Transition("ChargeParameterDiscovery.Ongoing", ("ChargeParameterDiscovery",),
               "8.4.3.8: repeated while EVSEProcessing=Ongoing (V2G_EVCC_Ongoing_Timeout)"),
    Transition("ChargeParameterDiscovery.AC", ("PowerDelivery",), f"8.4.3.9; {_SEQ} (AC)"),
    Transition("ChargeParameterDiscovery.DC", ("CableCheck",), f"8.4.5.2; {_SEQ} (DC)"),
    Transition("ChargeParameterDiscovery.Renegotiation.AC", ("PowerDelivery",),
               "8.4.3.9: after a renegotiation PowerDelivery(Start) follows directly"),
    Transition("ChargeParameterDiscovery.Renegotiation.DC", ("CableCheck", "PowerDelivery"),
               "DC sequence: ChargeParameterDiscovery is followed by CableCheck (8.4.5.2), "
               "after a renegotiation too, as the dSPACE test system (ISO-2_DC_Renegotiation "
               "in the shared captures) and Josev 0.31.2 do; PowerDelivery(Start) at once "
               "(8.4.3.9) is accepted as well"),
    Transition("CableCheck.Ongoing", ("CableCheck",),
               "8.4.5.2: repeated while Ongoing (V2G_EVCC_CableCheck_Timeout)"),
    Transition("CableCheck.Finished", ("PreCharge",), f"8.4.5.3; {_SEQ} (DC)"),
    Transition("PreCharge", ("PreCharge", "PowerDelivery"),
               "8.4.5.3: repeated until the voltages match (V2G_EVCC_PreCharge_Timeout)"),
    Transition("PowerDelivery.Start.AC", ("ChargingStatus",), f"8.4.4.2; {_SEQ} (AC)"),
    Transition("PowerDelivery.Start.DC", ("CurrentDemand",), f"8.4.5.4; {_SEQ} (DC)"),
    Transition("ChargingStatus", ("ChargingStatus", "MeteringReceipt", "PowerDelivery"),
               "8.4.4.2 charge loop; 8.4.3.10 on ReceiptRequired; 8.4.3.9 to stop/renegotiate"),
    Transition("CurrentDemand", ("CurrentDemand", "MeteringReceipt", "PowerDelivery"),
               "8.4.5.4 charge loop; 8.4.3.10 on ReceiptRequired; 8.4.3.9 to stop/renegotiate"),
    Transition("MeteringReceipt.AC", ("ChargingStatus", "PowerDelivery"),
               "8.4.3.10: back to the AC charge loop"),
    Transition("MeteringReceipt.DC", ("CurrentDemand", "PowerDelivery"),
               "8.4.3.10: back to the DC charge loop"),
    Transition("PowerDelivery.Renegotiate", ("ChargeParameterDiscovery",),
               "8.4.3.9 ChargeProgress=Renegotiate, then 8.4.3.8"),
    Transition("PowerDelivery.Stop.AC", ("SessionStop",), f"8.4.3.11; {_SEQ} (AC)"),
    Transition("PowerDelivery.Stop.DC", ("WeldingDetection", "SessionStop"),
               f"8.4.5.5 (optional), 8.4.3.11; {_SEQ} (DC)"),
    Transition("WeldingDetection", ("WeldingDetection", "SessionStop"),
               "8.4.5.5: repeated until the EV has checked its contactors; 8.4.3.11"),
)

_TT = "ISO 15118-2 timing table"

TIMERS = (
    TimerRule("secc_sequence", 60.0, f"V2G_SECC_Sequence_Timeout, {_TT}"),
    TimerRule("evcc_sequence_performance", 40.0,
              f"V2G_EVCC_Sequence_Performance_Time, {_TT}"),
    TimerRule("evcc_communication_setup", 20.0,
              f"V2G_EVCC_CommunicationSetup_Timeout (to SessionSetupRes), {_TT}"),
    TimerRule("evcc_ongoing", 60.0, f"V2G_EVCC_Ongoing_Timeout (Authorization, "
              f"ChargeParameterDiscovery), {_TT}"),
    TimerRule("evcc_cable_check", 40.0, f"V2G_EVCC_CableCheck_Timeout, {_TT}"),
    TimerRule("evcc_pre_charge", 7.0, f"V2G_EVCC_PreCharge_Timeout, {_TT}"),
    TimerRule("secc_ongoing", 55.0,
              "this library's policy, not a quoted value: the SECC decides (or fails) 5 s "
              "before the EV's V2G_EVCC_Ongoing_Timeout, so the EV learns why"),
)

RULES = ProtocolRules("iso2", EXCHANGES, GRAPH, TIMERS)
