"""Hypothesis strategies for every message of every protocol, derived from the XSDs.

For users' own test suites::

    from hypothesis import given
    from iso15118.testing import strategies as v2gst

    @given(v2gst.messages("iso2", element="CurrentDemandReq"))
    def test_my_evse_accepts(msg): ...

What hypothesis draws, and so what it shrinks: which message (``sampled_from`` the
protocol's jobs, so failures shrink towards the first message of the schema), which
profile (typical, boundary, minimal, full: see :mod:`iso15118.testing.generate`), and the
generator's seed. The seed is not shrinkable in any meaningful way: a smaller seed is not a
smaller message. A failure report shows the :class:`~iso15118.testing.generate.Document`
with its seed and profile, and ``generator_for(protocol).generate(job, seed=..., profile=...)``
reproduces it.

:func:`mutated` is different: its damage is drawn operation by operation (kind, offset,
bits), so hypothesis shrinks a failing mutation to the smallest offset and fewest bits.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st

from iso15118.testing import lenient, mutate
from iso15118.testing.generate import PROFILES, Document, Job, generator_for

__all__ = [
    "documents", "exi_streams", "messages", "mutated", "seeded_random", "violating_documents",
]

_SEEDS = st.integers(min_value=0, max_value=2**64 - 1)


def _jobs(protocol: str, element: str | Sequence[str] | None) -> list[Job]:
    gen = generator_for(protocol)
    if element is None:
        return list(gen.jobs)
    names = [element] if isinstance(element, str) else list(element)
    return [gen.find_job(n) for n in names]


def documents(protocol: str, *, element: str | Sequence[str] | None = None,
              profile: str | Sequence[str] | None = None) -> st.SearchStrategy[Document]:
    """Generated documents (element name + typed value + how to reproduce it).

    ``element`` restricts the messages (local names such as ``CurrentDemandReq`` work for
    DIN/ISO-2 body members too); ``profile`` restricts the generator profiles.
    """
    jobs = _jobs(protocol, element)
    profiles = list(PROFILES) if profile is None else (
        [profile] if isinstance(profile, str) else list(profile))
    gen = generator_for(protocol)

    @st.composite
    def build(draw: Any) -> Document:
        job = draw(st.sampled_from(jobs))
        prof = draw(st.sampled_from(profiles))
        seed = draw(_SEEDS)
        return gen.generate(job, seed=seed, profile=prof)

    return build()


def messages(protocol: str, *, element: str | Sequence[str] | None = None,
             profile: str | Sequence[str] | None = None) -> st.SearchStrategy[Any]:
    """Typed message objects, ready for :func:`iso15118.codec.encode`.

    For the -20 and appHandshake protocols, encode them with ``element=`` left out: the
    document element follows from the class. Simple-typed global elements (a few xmldsig
    ones) have no class of their own; use :func:`documents` for those.
    """
    return documents(protocol, element=element, profile=profile).map(lambda d: d.value)


def mutated(data: bytes, *, keep_header: bool = True) -> st.SearchStrategy[bytes]:
    """Damaged copies of one stream, drawn so that hypothesis can shrink the damage."""
    lo = 1 if keep_header and len(data) > 1 else 0

    @st.composite
    def build(draw: Any) -> bytes:
        if len(data) <= lo:
            return data + draw(st.binary(min_size=1, max_size=4))
        kind = draw(st.sampled_from(("flip", "truncate", "byte", "claim", "insert", "delete")))
        if kind == "truncate":
            return mutate.truncate(data, draw(st.integers(lo, len(data) - 1)))
        if kind == "flip":
            bits = draw(st.lists(st.integers(lo * 8, len(data) * 8 - 1), min_size=1,
                                 max_size=4, unique=True))
            out = data
            for b in bits:
                out = mutate.flip_bit(out, b)
            return out
        if kind == "byte":
            return mutate.set_byte(data, draw(st.integers(lo, len(data) - 1)),
                                   draw(st.integers(0, 255)))
        if kind == "claim":
            bit = draw(st.integers(lo * 8, len(data) * 8 - 1))
            value = draw(st.sampled_from((mutate.HUGE_LENGTH, 2**32 - 1, 2**40, 65537)))
            return mutate.claim_length(data, bit, value, replace=draw(st.booleans()))
        if kind == "insert":
            return mutate.insert(data, draw(st.integers(lo, len(data))),
                                 draw(st.binary(min_size=1, max_size=8)))
        start = draw(st.integers(lo, len(data) - 1))
        return mutate.delete(data, start, draw(st.integers(1, min(8, len(data) - start))))

    return build()


def violating_documents(protocol: str, *, element: str | Sequence[str] | None = None
                        ) -> st.SearchStrategy[tuple[Document, list[lenient.Violation]]]:
    """Documents with one facet broken (the value only :func:`lenient.encode` writes).

    Messages without any faceted field are passed through with an empty violation list.
    """
    @st.composite
    def build(draw: Any) -> tuple[Document, list[lenient.Violation]]:
        doc = draw(documents(protocol, element=element, profile="typical"))
        found = lenient.violations(doc.value, protocol, element=doc.element)
        if not found:
            return doc, []
        v = draw(st.sampled_from(found))
        value = lenient.apply(doc.value, v)
        return Document(doc.protocol, doc.element, value, doc.seed, "lenient"), [v]

    return build()


def exi_streams(protocol: str, *, mode: str = "valid",
                element: str | Sequence[str] | None = None) -> st.SearchStrategy[bytes]:
    """EXI bytes of the protocol: ``valid`` (safe encoder), ``mutated`` (valid, then
    damaged by :func:`mutated`) or ``lenient`` (one facet broken, lenient encoder)."""
    if mode == "valid":
        return documents(protocol, element=element).map(lambda d: d.to_bytes())
    if mode == "mutated":
        return documents(protocol, element=element).flatmap(lambda d: mutated(d.to_bytes()))
    if mode == "lenient":
        return violating_documents(protocol, element=element).map(
            lambda dv: lenient.encode(dv[0].value, protocol, element=dv[0].element))
    raise ValueError(f"mode must be valid, mutated or lenient, not {mode!r}")


def seeded_random() -> st.SearchStrategy[random.Random]:
    """A ``random.Random`` for the seed-driven helpers of :mod:`iso15118.testing.mutate`."""
    return _SEEDS.map(random.Random)
