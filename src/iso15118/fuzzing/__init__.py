"""A stateful fuzzer for live chargers and vehicles (``iso15118 fuzz-live``).

The fuzzer drives a correct session with our own sans-IO session layer to a chosen
state, then sends a damaged message there and judges the target's reaction:

* :mod:`.model`: profiles, mutations, cases and findings as JSON-able data;
* :mod:`.cases`, :mod:`.mutations`, :mod:`.shapes`, :mod:`.sdp_cases`, :mod:`.corpus`:
  cases from (seed, case number), damage at every layer (V2GTP, EXI bits, facet
  violations through :mod:`iso15118.testing.lenient`, structural shapes, session faults,
  SDP) and one built-in case per CVE shape;
* :mod:`.driver` and :mod:`.link`: one case on a live target, as the EV or the charger,
  over TCP or TLS, with a transcript of every byte;
* :mod:`.oracle`: the verdict, with the rule (and clause) that decided it;
* :mod:`.probes`, :mod:`.resources`: liveness (SDP, TCP, supportedAppProtocol,
  SessionSetup), crash and leak (``/proc``) detection;
* :mod:`.minimise`, :mod:`.evidence`, :mod:`.campaign`: delta debugging over the steps,
  the finding folders (input, transcript, pcap, key log) and the campaign with its report;
* :mod:`.restart`: a shell command as the campaign's hook that brings a dead target back.
"""

from iso15118.fuzzing.campaign import Campaign, Options, Report, replay
from iso15118.fuzzing.cases import CaseSource
from iso15118.fuzzing.driver import CaseRun, Target, run_case
from iso15118.fuzzing.model import (
    PROFILES,
    Case,
    Finding,
    FindingClass,
    FuzzError,
    Layer,
    Mutation,
)
from iso15118.fuzzing.restart import RestartCommand

__all__ = [
    "PROFILES",
    "Campaign",
    "Case",
    "CaseRun",
    "CaseSource",
    "Finding",
    "FindingClass",
    "FuzzError",
    "Layer",
    "Mutation",
    "Options",
    "Report",
    "RestartCommand",
    "Target",
    "replay",
    "run_case",
]
