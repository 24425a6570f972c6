"""Test and fuzzing tools for ISO 15118 / DIN 70121 implementations (yours and ours).

Kept apart from the safe API on purpose: nothing here is needed to talk to a charger,
and some of it (:mod:`~iso15118.testing.lenient`) writes messages a charger must never
send. The parts:

* :mod:`~iso15118.testing.generate`: schema-valid messages of every protocol as typed
  objects, reproducible from a seed (no hypothesis needed);
* :mod:`~iso15118.testing.strategies`: hypothesis strategies over those (needs
  ``hypothesis``; imported on first use);
* :mod:`~iso15118.testing.lenient`: an encoder that writes facet violations, and the list
  of violations a message admits;
* :mod:`~iso15118.testing.mutate`: byte-level damage (truncation, bit flips, claimed
  lengths) of valid streams;
* :mod:`~iso15118.testing.outputs`: every output path of a decoded value, for totality
  checks (``fuzz/outputs.py`` and the tests).

``iso15118 fuzz`` (:mod:`iso15118.cli_fuzz`) prints the same as hex lines for a device
under test; ``fuzz/`` in the repository holds the atheris harnesses of the decoders.
"""

from __future__ import annotations

import importlib
from typing import Any

from iso15118.testing import lenient, mutate
from iso15118.testing.generate import Document, Job, MessageGenerator, generator_for

__all__ = [
    "Document", "Job", "MessageGenerator", "generator_for", "lenient", "mutate", "strategies",
]


def __getattr__(name: str) -> Any:
    # hypothesis is an optional dependency: only ``strategies`` needs it
    if name == "strategies":
        return importlib.import_module("iso15118.testing.strategies")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
