"""Schema-valid messages of every protocol, as typed objects, from the XSDs alone.

:class:`exi_codec.instances.InstanceGenerator` knows XML Schema but not ISO 15118; this
module supplies the protocol knowledge it lacks (which XSD, which elements are messages,
that DIN and ISO 15118-2 carry every message as a ``BodyElement`` substitute inside one
``V2G_Message``) and turns its XML into the model objects :mod:`iso15118.codec` encodes.

It also closes three gaps of the generic generator that matter for test coverage:

* bounds of repeated particles above 64 (ISO 15118-2 ``SalesTariffEntry`` and
  ``PMaxScheduleEntry`` up to 1024, ISO 15118-20 ``EVPowerProfileEntry`` up to 2048) are
  never reached by the generic generator; the ``boundary`` profile reaches them;
* integers land on their facet bounds only about 4% of the time; in the ``boundary``
  profile half of the bounded integers sit on a bound;
* whether optional content appears is one probability per generator; the profiles
  ``minimal`` (nothing optional) and ``full`` (everything optional) pin it.

Everything is reproducible: the same protocol, job, profile and seed give the same message.
No hypothesis import here, so the CLI can use it where hypothesis is not installed.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from typing import Any, Final

from exi_codec import load_xmlschema
from exi_codec.instances import (
    InstanceGenerator,
    UngeneratableError,
    iter_global_elements,
    substitution_members,
)
from iso15118 import codec, protocols
from iso15118.errors import Iso15118Error

__all__ = [
    "BODY_HEADS",
    "PROFILES",
    "Document",
    "Job",
    "MessageGenerator",
    "UngeneratableError",
    "generator_for",
]

#: protocol -> (document element, substitution-group head of the message body)
BODY_HEADS: Final[dict[str, tuple[str, str]]] = {
    "din": ("{urn:din:70121:2012:MsgDef}V2G_Message", "{urn:din:70121:2012:MsgDef}BodyElement"),
    "iso2": ("{urn:iso:15118:2:2013:MsgDef}V2G_Message",
             "{urn:iso:15118:2:2013:MsgBody}BodyElement"),
}

#: Generator settings per profile (see the module docstring). ``boundary_max_occurs``
#: caps how far a repeated particle may go when it goes to its bound, so that a profile
#: cannot build a 2048-entry list inside a 1024-entry list.
PROFILES: Final[dict[str, dict[str, Any]]] = {
    "typical": {},
    "boundary": {"boundary_probability": 0.5, "integer_bound_probability": 0.5,
                 "boundary_max_occurs": 2048},
    "minimal": {"optional_probability": 0.0, "boundary_probability": 0.0},
    "full": {"optional_probability": 1.0, "max_list": 2, "max_depth": 8},
}


@dataclass(frozen=True)
class Job:
    """What to generate: a global element, and for DIN/ISO-2 which body member to force."""

    element: str  # Clark name of the document element
    body: str | None = None  # Clark name of the forced BodyElement member

    @property
    def name(self) -> str:
        """The local name people use: the body member's for V2G_Message jobs."""
        return (self.body or self.element).rsplit("}", 1)[-1]


@dataclass(frozen=True)
class Document:
    """One generated message: its protocol, document element and typed value."""

    protocol: str
    element: str
    value: Any
    seed: int
    profile: str

    def to_bytes(self) -> bytes:
        """The EXI stream the safe encoder writes for it."""
        return codec.encode(self.value, self.protocol, element=self.element)


class _BoundaryGenerator(InstanceGenerator):
    """The generic generator, plus integer bounds and repeat counts beyond 64 (see above).

    It overrides two decision points of :class:`InstanceGenerator`; everything that makes
    the result valid (goals, heights, ID/IDREF, facet checks) stays in the base class.
    """

    def __init__(self, schema: Any, *, integer_bound_probability: float = 0.0,
                 boundary_max_occurs: int = 64, **kwargs: Any) -> None:
        super().__init__(schema, **kwargs)
        self.integer_bound_probability = integer_bound_probability
        self.boundary_max_occurs = boundary_max_occurs
        # xmlschema's is_valid costs ~0.2 ms; schema types live as long as the generator
        self._bounds: dict[int, list[int]] = {}

    def _count(self, particle: Any, doc: Any, depth: int) -> int:
        n = super()._count(particle, doc, depth)
        hi: int | None = particle.max_occurs
        # Only where the base class chose at least one occurrence: there it has checked
        # that an occurrence can be built and that no goal forbids more of them. One such
        # list per document: three 1024-entry schedules in one message prove nothing more
        # than one does, and cost a third of a second each.
        if (n >= 1 and hi is not None and 64 < hi <= self.boundary_max_occurs
                and depth < self.max_depth and not getattr(doc, "long_list_done", False)
                and doc.rng.random() < self.boundary_probability / 4):
            doc.long_list_done = True
            return hi
        return n

    def _integer(self, xtype: Any, builtin: str, rng: random.Random) -> int:
        value: int = super()._integer(xtype, builtin, rng)
        if self.integer_bound_probability and rng.random() < self.integer_bound_probability:
            bounds = self._bounds.get(id(xtype))
            if bounds is None:
                bounds = self._bounds[id(xtype)] = [
                    b for b in (getattr(xtype, "min_value", None),
                                getattr(xtype, "max_value", None))
                    if isinstance(b, int) and xtype.is_valid(str(b))]
            if bounds:
                return int(rng.choice(bounds))
        return value


class MessageGenerator:
    """Random schema-valid documents of one protocol, as typed model objects.

    ``jobs`` lists every document element that can be generated and, for DIN and ISO
    15118-2, one job per message (``BodyElement`` member). The xmldsig vocabulary that
    the -2/-20 schemas import is left out of their jobs: it is its own protocol.
    """

    def __init__(self, protocol: str) -> None:
        self.protocol = protocols.get(protocol).name
        p = protocols.get(self.protocol)
        self.schema = load_xmlschema([protocols.schema_dir() / p.xsd], protocols.xsd_locations(p))
        self.codec = codec.get_codec(self.protocol)
        self._generators: dict[str, _BoundaryGenerator] = {}
        self.jobs: tuple[Job, ...] = tuple(self._find_jobs())

    def _generator(self, profile: str) -> _BoundaryGenerator:
        gen = self._generators.get(profile)
        if gen is None:
            try:
                settings = PROFILES[profile]
            except KeyError:
                raise Iso15118Error(
                    f"unknown profile {profile!r}; one of {', '.join(PROFILES)}") from None
            gen = self._generators[profile] = _BoundaryGenerator(self.schema, **settings)
        return gen

    def _find_jobs(self) -> list[Job]:
        gen = self._generator("typical")
        jobs: list[Job] = []
        if self.protocol in BODY_HEADS:
            root, head = BODY_HEADS[self.protocol]
            jobs.append(Job(root))
            jobs.extend(Job(root, m) for m in substitution_members(self.schema, head))
            return jobs
        for name in iter_global_elements(self.schema):
            if gen.can_generate(name):
                jobs.append(Job(name))
        return jobs

    def find_job(self, name: str) -> Job:
        """The job for a local or Clark name (``CurrentDemandReq``, ``{urn:...}Signature``)."""
        for job in self.jobs:
            if name in (job.name, job.body, job.element) and (job.body or name != job.element
                                                               or self.protocol not in BODY_HEADS):
                return job
        for job in self.jobs:
            if name == job.element.rsplit("}", 1)[-1] or name == job.element:
                return job
        known = ", ".join(sorted({j.name for j in self.jobs}))
        raise Iso15118Error(f"{name!r} is not a message of {self.protocol}; one of: {known}")

    def generate(self, job: Job | str | None = None, *, seed: int = 0,
                 profile: str = "typical") -> Document:
        """One document. Without ``job`` the seed also picks the job (round robin is the
        caller's business); a ``str`` job is looked up with :meth:`find_job`."""
        rng = random.Random(seed)
        if job is None:
            job = self.jobs[rng.randrange(len(self.jobs))]
        elif isinstance(job, str):
            job = self.find_job(job)
        gen = self._generator(profile)
        force = {BODY_HEADS[self.protocol][1]: job.body} if job.body else None
        last: Exception | None = None
        # A few jobs are only sometimes generatable (an IDREF that needs an ID the random
        # choices did not produce); the next derived seed usually succeeds.
        for attempt in range(8):
            sub_seed = rng.getrandbits(64) if attempt else seed
            try:
                root = gen.generate(job.element, force=force, seed=sub_seed)
            except UngeneratableError as e:
                last = e
                continue
            tag, value = self.codec.from_xml(root)
            return Document(self.protocol, tag, value, seed, profile)
        raise UngeneratableError(f"{job.name}: {last}")

    def generate_many(self, count: int, *, seed: int = 0, profile: str = "typical",
                      job: Job | str | None = None) -> list[Document]:
        """``count`` documents; jobs in round robin unless one is given (reproducible)."""
        rng = random.Random(seed)
        fixed = self.find_job(job) if isinstance(job, str) else job
        out: list[Document] = []
        i = 0
        while len(out) < count:
            j = fixed if fixed is not None else self.jobs[i % len(self.jobs)]
            i += 1
            try:
                out.append(self.generate(j, seed=rng.getrandbits(64), profile=profile))
            except UngeneratableError:
                if fixed is not None and i > 8 * count + 8:
                    raise
        return out


_lock = threading.Lock()
_cache: dict[str, MessageGenerator] = {}


def generator_for(protocol: str) -> MessageGenerator:
    """The shared generator of a protocol (loading the XSDs takes a second; do it once)."""
    name = protocols.get(protocol).name
    with _lock:
        gen = _cache.get(name)
        if gen is None:
            gen = _cache[name] = MessageGenerator(name)
        return gen

