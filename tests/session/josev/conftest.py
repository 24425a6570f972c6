"""The ``josev`` fixture: a namespace pair, a test PKI and Josev processes, all cleaned up."""

from .harness import josev_fixture  # noqa: F401  (a fixture, found by pytest under "josev")
