"""Random, schema-valid XML instances generated from an ``xmlschema.XMLSchema``.

Why this exists: a schema-informed EXI codec has to handle every path through the grammars that
the XSDs define (each optional element, each choice branch, each substitution-group member, every
facet boundary). Hand-written samples cover a few of those paths. This module walks the schema
components that ``xmlschema`` has already resolved (particles, substitution groups, facets) and
builds random documents from them. Tests feed those documents to the reference encoder and to our
codec and compare the two.

The generator is generic: it knows nothing about ISO 15118 or DIN 70121. Protocol tests steer it
with ``force={head: member}`` (for example "a ``V2G_Message`` whose ``BodyElement`` is a
``CurrentDemandReq``").

Design notes:

* The minimum subtree height of every element declaration is computed once per schema as a fixed
  point. It is used to (a) reject content that cannot be instantiated, such as required wildcards
  when ``wildcards=False`` or elements of an abstract type with no substitutes, and (b) choose the
  shallowest branch once ``max_depth`` is reached, so that recursive schemas terminate.
* Goals (forced substitution-group members, and an ``xs:ID`` when the document needs a target for
  an ``xs:IDREF``) are reached by steering: optional particles that can reach an open goal are
  included, and choice branches or substitution members that reach it are preferred.
* Documents are first built as light ``_Node`` trees and converted to lxml at the end. At that
  point the namespaces in use are known, so one ``nsmap`` with readable prefixes goes on the root,
  and ``xs:IDREF`` placeholders can be resolved against the IDs that were actually generated.
"""

from __future__ import annotations

import base64
import math
import random
import weakref
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import xmlschema
from lxml import etree
from xmlschema.names import (
    XML_NAMESPACE,
    XSD_FRACTION_DIGITS,
    XSD_MAX_EXCLUSIVE,
    XSD_MAX_INCLUSIVE,
    XSD_MIN_EXCLUSIVE,
    XSD_MIN_INCLUSIVE,
    XSD_NAMESPACE,
    XSD_TOTAL_DIGITS,
    XSI_NAMESPACE,
)
from xmlschema.validators import (
    XsdAnyElement,
    XsdAtomicBuiltin,
    XsdAttribute,
    XsdComplexType,
    XsdElement,
    XsdGroup,
    XsdList,
    XsdSimpleType,
    XsdUnion,
)

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

__all__ = [
    "InstanceGenerator",
    "UngeneratableError",
    "instances",
    "iter_global_elements",
    "substitution_members",
]

INF = math.inf

_BUILTIN_PREFIX = "{" + XSD_NAMESPACE + "}"
_WILDCARD_NS = "urn:x-exi-codec:generated-wildcard"

# Value ranges of the built-in integer types. xs:integer and the four sign-restricted types are
# unbounded on at least one side; those sides get the occasional value beyond 64 bits.
_INT_RANGES: dict[str, tuple[int | None, int | None]] = {
    "integer": (None, None),
    "nonNegativeInteger": (0, None),
    "positiveInteger": (1, None),
    "nonPositiveInteger": (None, 0),
    "negativeInteger": (None, -1),
    "long": (-(2**63), 2**63 - 1),
    "int": (-(2**31), 2**31 - 1),
    "short": (-(2**15), 2**15 - 1),
    "byte": (-(2**7), 2**7 - 1),
    "unsignedLong": (0, 2**64 - 1),
    "unsignedInt": (0, 2**32 - 1),
    "unsignedShort": (0, 2**16 - 1),
    "unsignedByte": (0, 2**8 - 1),
}

_ANY_SIMPLE = {_BUILTIN_PREFIX + "anySimpleType", _BUILTIN_PREFIX + "anyAtomicType"}
_NAME_TYPES = {"Name", "NCName", "NMTOKEN", "ENTITY", "QName", "NOTATION"}
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_DIGITS = "0123456789"
# No whitespace (spaces are inserted separately, never first or last, never doubled), no control
# characters: both would be normalised or dropped somewhere in an XML round trip.
_ASCII_TEXT = _LETTERS + _DIGITS + "-_.:,;!?()[]{}/+*=#%@$&<>'\"~^|"
# Latin-1, BMP symbols/CJK and one astral character: length facets count code points, and a
# codec that counts UTF-16 units or bytes gets these wrong.
_NON_ASCII_TEXT = "äöüÄÖÜßé€中😀"


class UngeneratableError(ValueError):
    """No valid instance can be built for the request under the current settings.

    Raised, for example, for an element whose content needs a wildcard child while
    ``wildcards=False``, or for a document that needs an ``xs:IDREF`` but cannot contain an
    ``xs:ID``. A ValueError subclass because the request, not the generator, is at fault.
    """


# ---------------------------------------------------------------------------------------------
# light document model


@dataclass
class _IdRef:
    """Placeholder for an ``xs:IDREF`` value, resolved once every ID in the document is known."""

    required: bool


_Value = str | _IdRef


@dataclass
class _Node:
    tag: str
    attrib: dict[str, _Value] = field(default_factory=dict)
    text: _Value | None = None
    tail: str | None = None
    children: list[_Node] = field(default_factory=list)


def _namespace_of(name: str) -> str:
    return name[1:].split("}", 1)[0] if name.startswith("{") else ""


# ---------------------------------------------------------------------------------------------
# schema analysis (cached per schema object)


def _decl_of(particle: XsdElement) -> XsdElement:
    """The declaration whose type and substitution group apply: the referenced global for refs."""
    ref = particle.ref
    return ref if isinstance(ref, XsdElement) else particle


def _is_instantiable(decl: XsdElement) -> bool:
    """Can this declaration appear with its own name, without xsi:type?"""
    if decl.abstract:
        return False
    xtype = decl.type
    return not (isinstance(xtype, XsdComplexType) and xtype.abstract)


def _type_has_id_attribute(xtype: Any) -> bool:
    if not isinstance(xtype, XsdComplexType):
        return False
    for attr in xtype.attributes.values():
        if isinstance(attr, XsdAttribute) and attr.use != "prohibited":
            if _builtin_name(attr.type) == "ID":
                return True
    return False


def _needs_idref(xtype: Any) -> bool:
    """Does an element of this type always carry an xs:IDREF (required attribute or content)?"""
    if _builtin_name(xtype) == "IDREF":
        return True
    if not isinstance(xtype, XsdComplexType):
        return False
    if xtype.has_simple_content() and _builtin_name(xtype.content) == "IDREF":
        return True
    return any(
        isinstance(attr, XsdAttribute)
        and attr.use == "required"
        and _builtin_name(attr.type) == "IDREF"
        for attr in xtype.attributes.values()
    )


def _builtin_name(xtype: Any) -> str | None:
    """Local name of the nearest built-in ancestor of an atomic simple type (None otherwise)."""
    seen = 0
    while xtype is not None and seen < 64:
        if isinstance(xtype, XsdAtomicBuiltin):
            name: str = xtype.name or ""
            return name[len(_BUILTIN_PREFIX) :] if name.startswith(_BUILTIN_PREFIX) else name
        if isinstance(xtype, (XsdList, XsdUnion)):
            return None
        xtype = getattr(xtype, "base_type", None)
        seen += 1
    return None


class _Analysis:
    """Per-schema facts that do not depend on the random stream.

    Computed once and shared by every generator on the same schema (and wildcard setting), so
    that cheap per-seed generators, as used by the hypothesis strategy, stay cheap.
    """

    def __init__(self, schema: xmlschema.XMLSchema, wildcards: bool) -> None:
        self.schema = schema
        self.wildcards = wildcards
        self._members: dict[int, list[XsdElement]] = {}
        self._closure: dict[int, frozenset[int]] = {}
        self.decls: dict[int, XsdElement] = {}
        self.height: dict[int, float] = {}
        self._edges: dict[int, list[XsdElement]] = {}
        self._reach: dict[int, frozenset[int]] = {}
        self._strict: dict[int, list[XsdElement]] = {}
        # (declaration id, goal) -> whether the goal is reachable; filled by the generators
        self.goal_memo: dict[tuple[int, Any], bool] = {}
        self._collect()
        self._fixpoint()

    # -- substitution groups ---------------------------------------------------------------
    def closure(self, head: XsdElement) -> frozenset[int]:
        """ids of all transitive substitution-group members of a global head (not the head)."""
        key = id(head)
        cached = self._closure.get(key)
        if cached is not None:
            return cached
        result: set[int] = set()
        block = head.block or ""
        if "substitution" not in block:
            stack = [head]
            while stack:
                cur = stack.pop()
                for member in self.schema.maps.substitution_groups.get(cur.name, ()):
                    if id(member) not in result and member is not head:
                        result.add(id(member))
                        self.decls.setdefault(id(member), member)
                        stack.append(member)
        frozen = frozenset(result)
        self._closure[key] = frozen
        return frozen

    def candidates(self, particle: XsdElement) -> list[XsdElement]:
        """Declarations that may stand where the particle is: head (if instantiable) + members."""
        decl = _decl_of(particle)
        key = id(decl)
        cached = self._members.get(key)
        if cached is not None:
            return cached
        result: list[XsdElement] = []
        if _is_instantiable(decl):
            result.append(decl)
        if decl.is_global():
            members = [self.decls[i] for i in self.closure(decl)]
            members.sort(key=lambda e: e.name)
            result.extend(m for m in members if _is_instantiable(m))
        self._members[key] = result
        return result

    # -- graph of declarations ----------------------------------------------------------------
    def _collect(self) -> None:
        stack: list[XsdElement] = list(self.schema.maps.elements.values())
        for xtype in self.schema.maps.types.values():
            if isinstance(xtype, XsdComplexType):
                stack.extend(self._child_particles(xtype))
        while stack:
            decl = _decl_of(stack.pop())
            if id(decl) in self.decls and id(decl) in self._edges:
                continue
            self.decls[id(decl)] = decl
            children: list[XsdElement] = []
            for particle in self._child_particles(decl.type):
                children.extend(self.candidates(particle))
                children.append(_decl_of(particle))
            self._edges[id(decl)] = children
            stack.extend(c for c in children if id(c) not in self._edges)

    @staticmethod
    def _child_particles(xtype: Any) -> Iterator[XsdElement]:
        if not isinstance(xtype, XsdComplexType) or not isinstance(xtype.content, XsdGroup):
            return
        stack: list[Any] = [xtype.content]
        while stack:
            item = stack.pop()
            if isinstance(item, XsdGroup):
                stack.extend(item)
            elif isinstance(item, XsdElement):
                yield item

    # -- minimal heights ----------------------------------------------------------------------
    def _fixpoint(self) -> None:
        self.height = {key: INF for key in self.decls}
        for _ in range(len(self.decls) + 1):
            changed = False
            for key, decl in self.decls.items():
                new = 1 + self.type_height(decl.type)
                if new < self.height[key]:
                    self.height[key] = new
                    changed = True
            if not changed:
                break

    def type_height(self, xtype: Any) -> float:
        if not isinstance(xtype, XsdComplexType):
            return 0
        content = xtype.content
        if not isinstance(content, XsdGroup):
            return 0
        return self.particle_height(content)

    def group_height(self, group: XsdGroup) -> float:
        heights = [self.particle_height(p) for p in group]
        if group.model == "choice":
            return min(heights, default=0 if group.min_occurs == 0 else INF)
        return max(heights, default=0)

    def particle_height(self, particle: Any) -> float:
        """Height of the cheapest valid expansion of one particle (0 when it may be omitted)."""
        if particle.min_occurs == 0:
            return 0
        return self.raw_height(particle)

    def raw_height(self, particle: Any) -> float:
        """Height of one occurrence of the particle, ignoring minOccurs."""
        if isinstance(particle, XsdElement):
            cands = self.candidates(particle)
            return min((self.height.get(id(c), INF) for c in cands), default=INF)
        if isinstance(particle, XsdAnyElement):
            if not self.wildcards:
                return INF
            if particle.process_contents != "strict":
                return 1
            options = self.strict_options(particle)
            return min((self.height.get(id(e), INF) for e in options), default=INF)
        if isinstance(particle, XsdGroup):
            return self.group_height(particle)
        return INF

    def strict_options(self, wildcard: XsdAnyElement) -> list[XsdElement]:
        """Global elements a strict wildcard may hold: the schema's own vocabularies only.

        The XSD meta-schema is loaded too (its elements match ``##other``), but a
        ``<xs:element>`` inside a signature is no useful test input, and the meta-schema's
        identity constraints would make validity hard to guarantee.
        """
        key = id(wildcard)
        cached = self._strict.get(key)
        if cached is None:
            namespaces = _imported_namespaces(self.schema)
            cached = [
                e
                for name, e in self.schema.maps.elements.items()
                if _namespace_of(name) in namespaces
                and wildcard.is_matching(name)
                and _is_instantiable(e)
            ]
            self._strict[key] = cached
        return cached

    # -- reachability (for goals) -------------------------------------------------------------
    def reachable(self, decl: XsdElement) -> frozenset[int]:
        """ids of every declaration that can occur below (or as) ``decl``."""
        key = id(decl)
        cached = self._reach.get(key)
        if cached is not None:
            return cached
        seen = {key}
        stack = [decl]
        while stack:
            cur = stack.pop()
            for child in self._edges.get(id(cur), ()):
                if id(child) not in seen:
                    seen.add(id(child))
                    stack.append(child)
        frozen = frozenset(seen)
        self._reach[key] = frozen
        return frozen


_ANALYSES: weakref.WeakKeyDictionary[xmlschema.XMLSchema, dict[bool, _Analysis]] = (
    weakref.WeakKeyDictionary()
)


def _analysis(schema: xmlschema.XMLSchema, wildcards: bool) -> _Analysis:
    per_schema = _ANALYSES.setdefault(schema, {})
    if wildcards not in per_schema:
        per_schema[wildcards] = _Analysis(schema, wildcards)
    return per_schema[wildcards]


# ---------------------------------------------------------------------------------------------
# public helpers


def _imported_namespaces(schema: xmlschema.XMLSchema) -> set[str]:
    """Target namespace plus the namespaces reached through ``xs:import``/``xs:include``.

    ``schema.imports`` is not enough on its own: xmlschema also lists namespaces that were
    only loaded because of the ``locations=`` argument, and those are not part of the
    schema's vocabulary (the EXI grammar built from the same XSD would not know them).
    """
    import_tag = f"{{{XSD_NAMESPACE}}}import"
    seen: set[int] = set()
    namespaces: set[str] = set()
    stack: list[Any] = [schema]
    while stack:
        cur = stack.pop()
        if id(cur) in seen:
            continue
        seen.add(id(cur))
        namespaces.add(cur.target_namespace)
        declared = {imp.get("namespace", "") for imp in cur.root.iter(import_tag)}
        stack.extend(
            s for s in cur.imports.values() if s is not None and s.target_namespace in declared
        )
        stack.extend(s for s in cur.includes.values() if s is not None)
    return namespaces - {XSD_NAMESPACE, XML_NAMESPACE, XSI_NAMESPACE}


def iter_global_elements(
    schema: xmlschema.XMLSchema,
    *,
    include_imported: bool = False,
    include_abstract: bool = False,
) -> Iterator[str]:
    """Clark names of global element declarations, in schema order.

    By default only the target namespace of ``schema`` is listed, and only declarations that can
    appear under their own name (neither abstract nor of an abstract type). With
    ``include_imported`` the namespaces the schema imports, transitively, are listed too. A
    namespace that was only loaded through ``locations=`` but never imported is left out.
    """
    namespaces = (
        _imported_namespaces(schema) if include_imported else {schema.target_namespace or ""}
    )
    for name, decl in schema.maps.elements.items():
        if _namespace_of(name) not in namespaces:
            continue
        if include_abstract or _is_instantiable(decl):
            yield name


def substitution_members(
    schema: xmlschema.XMLSchema, head_qname: str, *, include_head: bool = False
) -> list[str]:
    """Instantiable members of a substitution group, transitively, sorted by Clark name.

    With ``include_head`` the head is listed first if it can be instantiated.
    """
    head = _resolve_global(schema, head_qname)
    analysis = _analysis(schema, False)
    names = sorted(analysis.decls[i].name for i in analysis.closure(head))
    members = [n for n in names if _is_instantiable(schema.maps.elements[n])]
    if include_head and _is_instantiable(head):
        members.insert(0, head.name)
    return members


def _resolve_global(schema: xmlschema.XMLSchema, qname: str) -> XsdElement:
    """Find a global element by Clark name, ``prefix:local`` or bare local name."""
    maps = schema.maps.elements
    if qname.startswith("{"):
        decl = maps.get(qname)
    elif ":" in qname:
        prefix, local = qname.split(":", 1)
        uri = schema.namespaces.get(prefix)
        decl = maps.get(f"{{{uri}}}{local}") if uri is not None else None
    else:
        tns = schema.target_namespace
        decl = maps.get(f"{{{tns}}}{qname}" if tns else qname)
        if decl is None:
            matches = [e for n, e in maps.items() if n.rsplit("}", 1)[-1] == qname]
            decl = matches[0] if len(matches) == 1 else None
    if decl is None:
        raise KeyError(f"no global element {qname!r} in schema {schema.name!r}")
    return decl


# ---------------------------------------------------------------------------------------------
# the generator


@dataclass
class _Doc:
    """State of one document being generated."""

    rng: random.Random
    force: dict[int, XsdElement]  # head id -> forced member
    pending: set[Any]  # open goals: head ids, and "id" when an xs:ID is needed
    avoid: frozenset[Any] = frozenset()  # goals to stay away from ("idref") where optional
    ids: list[str] = field(default_factory=list)
    idrefs: list[tuple[_Node, str | None]] = field(default_factory=list)


class InstanceGenerator:
    """Random XML instances that are valid against an ``xmlschema.XMLSchema``.

    ``max_list`` bounds repeated particles and list lengths in the usual case. With probability
    ``boundary_probability`` a repeated particle goes to its real ``maxOccurs`` when that is at
    most 64, and a length-restricted value goes to its facet bound, so limits are exercised too.
    ``optional_probability`` is the chance that an optional particle or attribute is present.
    Beyond ``max_depth`` nested elements, optional content is dropped and the shallowest choice
    branch wins. ``wildcards=True`` enables children for ``xs:any`` and text in mixed content.
    With the default False, content that *requires* a wildcard child raises UngeneratableError.
    """

    def __init__(
        self,
        schema: xmlschema.XMLSchema,
        *,
        seed: int | None = None,
        max_list: int = 3,
        optional_probability: float = 0.5,
        max_depth: int = 12,
        wildcards: bool = False,
        boundary_probability: float = 0.05,
        non_ascii_probability: float = 0.1,
        big_integer_probability: float = 0.05,
    ) -> None:
        self.schema = schema
        self.max_list = max(1, max_list)
        self.optional_probability = optional_probability
        self.max_depth = max_depth
        self.wildcards = wildcards
        self.boundary_probability = boundary_probability
        self.non_ascii_probability = non_ascii_probability
        self.big_integer_probability = big_integer_probability
        self.rng = random.Random(seed)
        self._analysis = _analysis(schema, wildcards)
        self._prefixes = self._collect_prefixes()

    # -- public API --------------------------------------------------------------------------
    def seed(self, seed: int | None) -> None:
        """Restart the random stream (same seed and calls give the same documents)."""
        self.rng = random.Random(seed)

    def can_generate(self, element_qname: str) -> bool:
        """Whether a valid instance can exist under the current settings (ignoring xs:IDREF)."""
        decl = _resolve_global(self.schema, element_qname)
        return _is_instantiable(decl) and self._analysis.height.get(id(decl), INF) < INF

    def generate(
        self,
        element_qname: str,
        *,
        force: Mapping[str, str] | None = None,
        seed: int | None = None,
    ) -> etree._Element:
        """A random instance of the global element ``element_qname``.

        ``force`` maps substitution-group heads to the member to use wherever the head (or a
        group that contains the head transitively) occurs. Optional content and choice branches
        that lead there are taken, so each forced member appears at least once. ``seed`` makes
        this one call reproducible without touching the generator's own stream.
        """
        rng = random.Random(seed) if seed is not None else self.rng
        root_decl = _resolve_global(self.schema, element_qname)
        if not _is_instantiable(root_decl):
            raise UngeneratableError(f"{root_decl.name} is abstract or has an abstract type")
        if self._analysis.height.get(id(root_decl), INF) == INF:
            raise UngeneratableError(
                f"{root_decl.name} has no finite valid instance"
                + ("" if self.wildcards else " without wildcard content (wildcards=False)")
            )
        forced = self._resolve_force(force or {})
        state_seed = rng.getrandbits(64)
        # A required xs:IDREF is only valid if the document has an xs:ID. Try the plain
        # document first, then steer towards an ID, then away from optional content that
        # carries required IDREFs. The same seed is used each time, so only steering differs.
        for mode in ("plain", "want_id", "avoid_idref"):
            doc = _Doc(
                rng=random.Random(state_seed),
                force=forced,
                pending=set(forced) | ({"id"} if mode == "want_id" else set()),
                avoid=frozenset({"idref"}) if mode == "avoid_idref" else frozenset(),
            )
            node = self._element(root_decl, doc, 0)
            missing = [self._analysis.decls[h].name for h in doc.pending if h != "id"]
            if missing:
                raise UngeneratableError(
                    f"could not place forced member(s) for {missing} below {root_decl.name}"
                )
            if self._resolve_idrefs(doc):
                return self._to_lxml(node)
        raise UngeneratableError(
            f"{root_decl.name}: a required xs:IDREF needs an xs:ID in the document, "
            "and none can be generated"
        )

    def generate_string(
        self,
        element_qname: str,
        *,
        force: Mapping[str, str] | None = None,
        seed: int | None = None,
        pretty: bool = False,
    ) -> str:
        """Like generate(), serialised as a unicode string without an XML declaration."""
        root = self.generate(element_qname, force=force, seed=seed)
        text: str = etree.tostring(root, encoding="unicode", pretty_print=pretty)
        return text

    # -- force / goals ----------------------------------------------------------------------
    def _resolve_force(self, force: Mapping[str, str]) -> dict[int, XsdElement]:
        result: dict[int, XsdElement] = {}
        for head_name, member_name in force.items():
            head = _resolve_global(self.schema, head_name)
            member = _resolve_global(self.schema, member_name)
            if member is not head and id(member) not in self._analysis.closure(head):
                raise ValueError(f"{member.name} is not in the substitution group of {head.name}")
            if not _is_instantiable(member):
                raise ValueError(f"{member.name} is abstract or has an abstract type")
            result[id(head)] = member
        return result

    def _hits(self, decl: XsdElement, goal: Any) -> bool:
        """Does an element particle declared as ``decl`` satisfy ``goal`` by itself?"""
        if goal == "id":
            return _type_has_id_attribute(decl.type) or _builtin_name(decl.type) == "ID"
        if goal == "idref":
            return _needs_idref(decl.type)
        if id(decl) == goal:
            return True
        return decl.is_global() and goal in self._analysis.closure(decl)

    def _particle_reaches(self, particle: Any, goals: Iterable[Any]) -> bool:
        """Can this particle lead to any of the goals?"""
        goals = tuple(goals)
        if not goals:
            return False
        if isinstance(particle, XsdElement):
            return self._decl_reaches(_decl_of(particle), goals) or any(
                self._decl_reaches(c, goals) for c in self._analysis.candidates(particle)
            )
        if isinstance(particle, XsdGroup):
            return any(self._particle_reaches(p, goals) for p in particle)
        return False

    def _decl_reaches(self, decl: XsdElement, goals: Iterable[Any]) -> bool:
        """Can an element declared as ``decl`` contain (or be) a match for one of the goals?"""
        memo = self._analysis.goal_memo
        for goal in goals:
            key = (id(decl), goal)
            hit = memo.get(key)
            if hit is None:
                hit = any(
                    self._hits(self._analysis.decls[k], goal)
                    for k in self._analysis.reachable(decl)
                )
                memo[key] = hit
            if hit:
                return True
        return False

    # -- structure ---------------------------------------------------------------------------
    def _count(self, particle: Any, doc: _Doc, depth: int) -> int:
        """How many times a particle occurs: usually short, sometimes its real maximum."""
        lo: int = particle.min_occurs
        hi: int | None = particle.max_occurs
        if hi is not None and hi <= lo:
            n = lo
        elif depth >= self.max_depth:
            n = lo
        else:
            rng = doc.rng
            if hi is not None and hi <= 64 and rng.random() < self.boundary_probability:
                n = hi if rng.random() < 0.5 else rng.randint(lo, hi)
            else:
                upper = max(lo, self.max_list)
                if hi is not None:
                    upper = min(upper, hi)
                if lo == 0:
                    n = (
                        rng.randint(1, max(1, upper))
                        if rng.random() < self.optional_probability
                        else 0
                    )
                else:
                    n = rng.randint(lo, upper)
        if n == 0 and self._particle_reaches(particle, doc.pending):
            n = 1
        elif n > lo and self._particle_reaches(particle, doc.avoid):
            if not self._particle_reaches(particle, doc.pending):
                n = lo
        if n > lo and self._analysis.raw_height(particle) == INF:
            n = lo
        return n

    def _element(self, decl: XsdElement, doc: _Doc, depth: int) -> _Node:
        node = _Node(decl.name)
        xtype = decl.type
        if isinstance(xtype, XsdComplexType):
            self._attributes(xtype, node, doc)
            if xtype.has_simple_content():
                node.text = self._fixed_or(decl, xtype.content, doc, node, None)
            elif isinstance(xtype.content, XsdGroup):
                node.children = self._group(xtype.content, doc, depth + 1)
                if self.wildcards and xtype.mixed:
                    self._mixed_text(node, doc)
        else:
            node.text = self._fixed_or(decl, xtype, doc, node, None)
        return node

    def _fixed_or(self, decl: Any, simple: Any, doc: _Doc, node: _Node, attr: str | None) -> _Value:
        fixed = getattr(decl, "fixed", None)
        if fixed is not None:
            return str(fixed)
        return self._simple(simple, doc, node, attr)

    def _attributes(self, xtype: XsdComplexType, node: _Node, doc: _Doc) -> None:
        for attr in xtype.attributes.values():
            if not isinstance(attr, XsdAttribute) or attr.use == "prohibited":
                continue
            is_id = _builtin_name(attr.type) == "ID"
            present = attr.use == "required" or doc.rng.random() < self.optional_probability
            if is_id and "id" in doc.pending:
                present = True
            if not present:
                continue
            value = self._fixed_or(attr, attr.type, doc, node, attr.name)
            node.attrib[attr.name] = value
            if isinstance(value, _IdRef):
                value.required = attr.use == "required"

    def _group(
        self, group: XsdGroup, doc: _Doc, depth: int, count: int | None = None
    ) -> list[_Node]:
        """Expand a model group ``count`` times (or a random number of times)."""
        n = self._count(group, doc, depth) if count is None else count
        out: list[_Node] = []
        for _ in range(n):
            if group.model == "choice":
                branch = self._choose_branch(group, doc, depth)
                if branch is not None:
                    out.extend(self._particle(branch, doc, depth))
            else:
                items = list(group)
                if group.model == "all":
                    doc.rng.shuffle(items)
                for item in items:
                    out.extend(self._particle(item, doc, depth))
        return out

    def _choose_branch(self, group: XsdGroup, doc: _Doc, depth: int) -> Any:
        feasible = [p for p in group if self._analysis.particle_height(p) < INF]
        if not feasible:
            raise UngeneratableError(f"no feasible branch in choice {group!r}")
        steering = [p for p in feasible if self._particle_reaches(p, doc.pending)]
        if steering:
            return doc.rng.choice(steering)
        if doc.avoid:
            feasible = [p for p in feasible if not self._particle_reaches(p, doc.avoid)] or feasible
        if depth >= self.max_depth:
            return min(feasible, key=self._analysis.particle_height)
        return doc.rng.choice(feasible)

    def _particle(self, particle: Any, doc: _Doc, depth: int) -> list[_Node]:
        if isinstance(particle, XsdGroup):
            return self._group(particle, doc, depth)
        n = self._count(particle, doc, depth)
        out: list[_Node] = []
        for _ in range(n):
            if isinstance(particle, XsdElement):
                out.append(self._element(self._pick_decl(particle, doc, depth), doc, depth))
            elif isinstance(particle, XsdAnyElement):
                out.append(self._wildcard(particle, doc, depth))
        return out

    def _pick_decl(self, particle: XsdElement, doc: _Doc, depth: int) -> XsdElement:
        """Which declaration fills an element particle (substitution groups, force, goals)."""
        head = _decl_of(particle)
        if doc.force:
            forced = doc.force.get(id(head))
            if forced is None and head.is_global():
                closure = self._analysis.closure(head)
                for key, member in doc.force.items():
                    if key in closure:
                        forced = member
                        break
            if forced is not None:
                doc.pending.difference_update(
                    k for k, m in doc.force.items() if m is forced and k in doc.pending
                )
                return forced
        cands = [
            c for c in self._analysis.candidates(particle) if self._analysis.height[id(c)] < INF
        ]
        if not cands:
            raise UngeneratableError(f"no instantiable declaration for {head.name}")
        steering = [c for c in cands if self._decl_reaches(c, doc.pending)]
        if steering:
            return doc.rng.choice(steering)
        if doc.avoid:
            cands = [c for c in cands if not self._decl_reaches(c, doc.avoid)] or cands
        if depth >= self.max_depth:
            return min(cands, key=lambda c: self._analysis.height[id(c)])
        return doc.rng.choice(cands)

    def _wildcard(self, wildcard: XsdAnyElement, doc: _Doc, depth: int) -> _Node:
        """A child for xs:any: a declared global for 'strict', else a foreign element."""
        rng = doc.rng
        if wildcard.process_contents == "strict":
            options = [
                e
                for e in self._analysis.strict_options(wildcard)
                if self._analysis.height.get(id(e), INF) < INF
            ]
            if not options:
                raise UngeneratableError(f"no global element matches strict wildcard {wildcard!r}")
            return self._element(rng.choice(options), doc, depth)
        for ns in (_WILDCARD_NS, "", self.schema.target_namespace or ""):
            if wildcard.is_namespace_allowed(ns):
                break
        else:
            allowed = [n for n in wildcard.namespace if not n.startswith("##")]
            if not allowed:
                raise UngeneratableError(f"cannot find a namespace for wildcard {wildcard!r}")
            ns = rng.choice(allowed)
        local = f"any{rng.randint(0, 999)}"
        node = _Node(f"{{{ns}}}{local}" if ns else local)
        node.text = self._text(rng, rng.randint(1, 12), allow_space=True)
        return node

    def _mixed_text(self, node: _Node, doc: _Doc) -> None:
        rng = doc.rng
        if rng.random() < 0.5:
            node.text = self._text(rng, rng.randint(1, 8), allow_space=True)
        for child in node.children:
            if rng.random() < 0.3:
                child.tail = self._text(rng, rng.randint(1, 8), allow_space=True)

    # -- simple values -------------------------------------------------------------------
    def _simple(self, xtype: Any, doc: _Doc, node: _Node, attr: str | None) -> _Value:
        """A lexical value for a simple type; xs:IDREF yields a placeholder."""
        if isinstance(xtype, XsdList):
            return self._list_value(xtype, doc, node, attr)
        if isinstance(xtype, XsdUnion):
            members = list(xtype.member_types)
            doc.rng.shuffle(members)
            last: Exception | None = None
            for member in members:
                try:
                    return self._simple(member, doc, node, attr)
                except UngeneratableError as exc:
                    last = exc
            raise UngeneratableError(f"no member of union {xtype!r} can be generated: {last}")
        builtin = _builtin_name(xtype)
        if builtin in ("IDREF", "IDREFS"):
            ref = _IdRef(required=True)
            doc.idrefs.append((node, attr))
            return ref
        if builtin == "ID":
            value = self._new_id(doc)
            return value
        for _ in range(50):
            value = self._atomic(xtype, builtin, doc.rng)
            if not isinstance(xtype, XsdSimpleType) or xtype.is_valid(value):
                return value
        raise UngeneratableError(f"could not find a valid value for {xtype!r} (patterns?)")

    def _list_value(self, xtype: XsdList, doc: _Doc, node: _Node, attr: str | None) -> str:
        lo = xtype.min_length or 0
        hi = xtype.max_length
        n = self._length(doc.rng, lo, hi, typical=self.max_list)
        item = xtype.item_type
        builtin = _builtin_name(item)
        if builtin in ("IDREF", "ID"):
            raise UngeneratableError("lists of xs:ID/xs:IDREF are not supported")
        parts = []
        for _ in range(50):
            parts = [self._atomic(item, builtin, doc.rng, allow_space=False) for _ in range(n)]
            value = " ".join(parts)
            if xtype.is_valid(value):
                return value
        raise UngeneratableError(f"could not find a valid value for list {xtype!r}")

    def _new_id(self, doc: _Doc) -> str:
        value = f"ID{len(doc.ids) + 1}{''.join(doc.rng.choices(_LETTERS, k=3))}"
        doc.ids.append(value)
        doc.pending.discard("id")
        return value

    def _length(self, rng: random.Random, lo: int, hi: int | None, typical: int = 16) -> int:
        """A length between the facets: usually short, sometimes exactly a bound."""
        if hi is not None and hi <= lo:
            return lo
        if rng.random() < self.boundary_probability:
            if hi is not None and hi <= 1 << 16 and rng.random() < 0.5:
                return hi
            return lo
        upper = lo + typical
        if hi is not None:
            upper = min(upper, hi)
        return rng.randint(max(lo, 1) if upper >= 1 else lo, max(upper, lo))

    def _atomic(
        self, xtype: Any, builtin: str | None, rng: random.Random, allow_space: bool = True
    ) -> str:
        enumeration = getattr(xtype, "enumeration", None)
        if enumeration:
            value = rng.choice(list(enumeration))
            return _lexical(value)
        if builtin is None:
            if getattr(xtype, "name", None) in _ANY_SIMPLE:
                # untyped attributes/elements: any text is valid
                return self._text(rng, self._length(rng, 1, None), allow_space=allow_space)
            raise UngeneratableError(f"unsupported simple type {xtype!r}")
        if builtin in _INT_RANGES:
            return str(self._integer(xtype, builtin, rng))
        if builtin == "boolean":
            return rng.choice(("true", "false"))
        if builtin in ("string", "normalizedString", "token"):
            n = self._length(rng, xtype.min_length or 0, xtype.max_length)
            return self._text(rng, n, allow_space=allow_space)
        if builtin in ("hexBinary", "base64Binary"):
            n = self._length(rng, xtype.min_length or 0, xtype.max_length)
            data = rng.randbytes(n)
            if builtin == "hexBinary":
                return data.hex().upper()
            return base64.b64encode(data).decode("ascii")
        if builtin == "anyURI":
            return self._uri(rng, xtype.min_length or 0, xtype.max_length)
        if builtin in _NAME_TYPES:
            n = self._length(rng, max(1, xtype.min_length or 0), xtype.max_length, typical=8)
            return rng.choice(_LETTERS) + "".join(rng.choices(_LETTERS + _DIGITS + "_-.", k=n - 1))
        if builtin == "language":
            return rng.choice(("en", "de", "fr-FR", "de-DE", "zh-Hans"))
        if builtin == "decimal":
            return self._decimal(xtype, rng)
        if builtin in ("float", "double"):
            return self._float(xtype, rng)
        return self._temporal(builtin, rng)

    def _integer(self, xtype: Any, builtin: str, rng: random.Random) -> int:
        lo, hi = _INT_RANGES[builtin]
        lo, hi = _tighten_range(xtype, lo, hi)
        if lo is not None and hi is not None and lo > hi:
            raise UngeneratableError(f"empty value range for {xtype!r}")
        total = _facet_value(xtype, XSD_TOTAL_DIGITS)
        if total is not None:
            bound = 10 ** int(total) - 1
            lo = max(lo, -bound) if lo is not None else -bound
            hi = min(hi, bound) if hi is not None else bound
        r = rng.random()
        if r < 0.15:
            specials = [v for v in (lo, hi, 0, 1, -1) if v is not None]
            if lo is not None:
                specials.append(lo + 1)
            if hi is not None:
                specials.append(hi - 1)
            valid = [v for v in specials if (lo is None or v >= lo) and (hi is None or v <= hi)]
            if valid:
                return rng.choice(valid)
        if (lo is None or hi is None) and r < 0.15 + self.big_integer_probability:
            # beyond 64 bits: EXI unsigned/integer encodings have no upper limit
            magnitude = rng.randint(65, 128)
            big = rng.getrandbits(magnitude) | (1 << (magnitude - 1))
            options = []
            if hi is None:
                options.append(big if lo is None else lo + big)
            if lo is None:
                options.append(-big if hi is None else hi - big)
            return rng.choice(options)
        span_lo = lo if lo is not None else (hi - 4096 if hi is not None else -100000)
        span_hi = hi if hi is not None else (lo + 100000 if lo is not None else 100000)
        if rng.random() < 0.5:
            # small values dominate real traffic and exercise the short encodings
            small_lo, small_hi = max(span_lo, -300), min(span_hi, 300)
            if small_lo <= small_hi:
                return rng.randint(small_lo, small_hi)
        return rng.randint(span_lo, span_hi)

    def _decimal(self, xtype: Any, rng: random.Random) -> str:
        lo, hi = _tighten_range(xtype, None, None)
        fraction = _facet_value(xtype, XSD_FRACTION_DIGITS)
        digits = rng.randint(0, 3 if fraction is None else int(fraction))
        for _ in range(20):
            whole = rng.randint(-1000, 1000)
            if lo is not None and hi is not None:
                whole = rng.randint(math.ceil(lo), math.floor(hi)) if math.ceil(lo) <= hi else 0
            frac = rng.randint(0, 10**digits - 1) if digits else 0
            text = f"{whole}.{frac:0{digits}d}" if digits else str(whole)
            value = Decimal(text)
            if (lo is None or value >= lo) and (hi is None or value <= hi):
                return text
        return str(lo if lo is not None else hi if hi is not None else 0)

    def _float(self, xtype: Any, rng: random.Random) -> str:
        lo, hi = _tighten_range(xtype, None, None)
        for _ in range(20):
            mantissa = rng.randint(-99999, 99999)
            exponent = rng.randint(-5, 5)
            text = f"{mantissa}E{exponent}"
            value = Decimal(text)
            if (lo is None or value >= Decimal(str(lo))) and (
                hi is None or value <= Decimal(str(hi))
            ):
                return text
        raise UngeneratableError(f"could not find a float within {xtype!r}")

    @staticmethod
    def _temporal(builtin: str, rng: random.Random) -> str:
        year, month, day = rng.randint(1970, 2099), rng.randint(1, 12), rng.randint(1, 28)
        hour, minute, second = rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59)
        tz = rng.choice(("", "Z", "+01:00", "-05:30"))
        date = f"{year:04d}-{month:02d}-{day:02d}"
        clock = f"{hour:02d}:{minute:02d}:{second:02d}"
        formats: dict[str, str] = {
            "dateTime": f"{date}T{clock}{tz}",
            "date": f"{date}{tz}",
            "time": f"{clock}{tz}",
            "gYear": f"{year:04d}{tz}",
            "gYearMonth": f"{year:04d}-{month:02d}{tz}",
            "gMonth": f"--{month:02d}{tz}",
            "gMonthDay": f"--{month:02d}-{day:02d}{tz}",
            "gDay": f"---{day:02d}{tz}",
            "duration": f"P{rng.randint(0, 9)}DT{hour}H{minute}M",
            "dayTimeDuration": f"P{rng.randint(0, 9)}DT{hour}H",
            "yearMonthDuration": f"P{rng.randint(0, 9)}Y{month}M",
        }
        if builtin not in formats:
            raise UngeneratableError(f"unsupported built-in type xs:{builtin}")
        return formats[builtin]

    def _text(self, rng: random.Random, n: int, *, allow_space: bool) -> str:
        """n code points, no leading/trailing/double whitespace, sometimes non-ASCII."""
        if n <= 0:
            return ""
        non_ascii = rng.random() < self.non_ascii_probability
        chars = []
        for i in range(n):
            if non_ascii and rng.random() < 0.4:
                chars.append(rng.choice(_NON_ASCII_TEXT))
            elif allow_space and 0 < i < n - 1 and chars[-1] != " " and rng.random() < 0.08:
                chars.append(" ")
            else:
                chars.append(rng.choice(_ASCII_TEXT))
        return "".join(chars)

    def _uri(self, rng: random.Random, lo: int, hi: int | None) -> str:
        n = self._length(rng, lo, hi, typical=24)
        if n == 0:
            return ""
        prefixes = ("urn:x:", "http://example.com/", "https://v2g.example/p/", "")
        prefix = rng.choice([p for p in prefixes if len(p) < n] or [""])
        body_chars = _LETTERS + _DIGITS + "-._~"
        return prefix + "".join(rng.choices(body_chars, k=n - len(prefix)))

    # -- ID/IDREF ---------------------------------------------------------------------------
    def _resolve_idrefs(self, doc: _Doc) -> bool:
        """Point every IDREF at a generated ID; False when a required one cannot be resolved."""
        for node, attr in doc.idrefs:
            value = node.attrib.get(attr) if attr is not None else node.text
            if not isinstance(value, _IdRef):
                continue
            if doc.ids:
                resolved = doc.rng.choice(doc.ids)
                if attr is None:
                    node.text = resolved
                else:
                    node.attrib[attr] = resolved
            elif attr is not None and not value.required:
                del node.attrib[attr]
            else:
                return False
        return True

    # -- lxml --------------------------------------------------------------------------------
    def _collect_prefixes(self) -> dict[str, str]:
        """Readable prefixes taken from the schema documents' own declarations."""
        result: dict[str, str] = {}
        used: set[str] = set()
        for sch in self.schema.maps.iter_schemas():
            for prefix, uri in sch.namespaces.items():
                if not prefix or prefix in ("xml", "xs", "xsd", "xsi") or uri in result:
                    continue
                if prefix in used or not uri:
                    continue
                result[uri] = prefix
                used.add(prefix)
        return result

    def _to_lxml(self, root: _Node) -> etree._Element:
        element_ns: set[str] = set()
        all_ns: set[str] = set()

        def scan(node: _Node) -> None:
            ns = _namespace_of(node.tag)
            element_ns.add(ns)
            all_ns.add(ns)
            for name in node.attrib:
                all_ns.add(_namespace_of(name))
            for child in node.children:
                scan(child)

        scan(root)
        all_ns.discard("")
        all_ns.discard(XML_NAMESPACE)
        nsmap: dict[str | None, str] = {}
        counter = 0
        for uri in sorted(all_ns):
            prefix = self._prefixes.get(uri)
            if prefix is None or prefix in nsmap:
                while f"ns{counter}" in nsmap:
                    counter += 1
                prefix = f"ns{counter}"
            nsmap[prefix] = uri
        root_ns = _namespace_of(root.tag)
        if root_ns and "" not in element_ns:
            # Readability: the root's namespace becomes the default namespace. Only safe when no
            # element is unqualified. Attributes are unaffected: an unprefixed attribute is never
            # in the default namespace, and qualified attributes still get their prefix because
            # the default-namespace prefix remains declared if an attribute needs it.
            attr_ns: set[str] = set()

            def scan_attrs(node: _Node) -> None:
                attr_ns.update(_namespace_of(n) for n in node.attrib)
                for child in node.children:
                    scan_attrs(child)

            scan_attrs(root)
            if root_ns not in attr_ns:
                nsmap = {k: v for k, v in nsmap.items() if v != root_ns}
            nsmap[None] = root_ns

        def build(node: _Node, parent: etree._Element | None) -> etree._Element:
            attrib = {k: v for k, v in node.attrib.items() if isinstance(v, str)}
            if parent is None:
                elem = etree.Element(node.tag, attrib, nsmap=nsmap)
            else:
                elem = etree.SubElement(parent, node.tag, attrib)
            if isinstance(node.text, str) and node.text:
                elem.text = node.text
            if node.tail:
                elem.tail = node.tail
            for child in node.children:
                build(child, elem)
            return elem

        return build(root, None)


# ---------------------------------------------------------------------------------------------
# facet helpers


def _iter_restrictions(xtype: Any) -> Iterator[Any]:
    seen = 0
    while xtype is not None and seen < 64:
        yield xtype
        xtype = getattr(xtype, "base_type", None)
        seen += 1


def _facet_value(xtype: Any, facet_name: str) -> Any:
    """Value of the nearest facet of that kind along the derivation chain (None if absent)."""
    for t in _iter_restrictions(xtype):
        facets = getattr(t, "facets", None) or {}
        facet = facets.get(facet_name)
        if facet is not None and getattr(facet, "value", None) is not None:
            return facet.value
    return None


def _tighten_range(xtype: Any, lo: int | None, hi: int | None) -> tuple[Any, Any]:
    """Intersect a range with every min/max facet along the derivation chain (integers only
    are made inclusive; decimals keep exclusive bounds approximately via the is_valid retry)."""
    for t in _iter_restrictions(xtype):
        facets = getattr(t, "facets", None) or {}
        for name, fn in (
            (XSD_MIN_INCLUSIVE, lambda v: v),
            (XSD_MIN_EXCLUSIVE, _next_up),
            (XSD_MAX_INCLUSIVE, lambda v: v),
            (XSD_MAX_EXCLUSIVE, _next_down),
        ):
            facet = facets.get(name)
            if facet is None or facet.value is None:
                continue
            bound = fn(facet.value)
            if name in (XSD_MIN_INCLUSIVE, XSD_MIN_EXCLUSIVE):
                lo = bound if lo is None else max(lo, bound)
            else:
                hi = bound if hi is None else min(hi, bound)
    return lo, hi


def _next_up(value: Any) -> Any:
    return value + 1 if isinstance(value, int) else value


def _next_down(value: Any) -> Any:
    return value - 1 if isinstance(value, int) else value


def _lexical(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (bytes, bytearray)):
        return value.decode("ascii")
    return str(value)


# ---------------------------------------------------------------------------------------------
# hypothesis


def instances(
    schema: xmlschema.XMLSchema,
    element_qname: str,
    *,
    force: Mapping[str, str] | None = None,
    **kwargs: Any,
) -> SearchStrategy[etree._Element]:
    """Hypothesis strategy of generated instances; hypothesis draws the generator's seed.

    One generator (and its schema analysis) is shared by all draws. Shrinking is meaningless
    here: a smaller seed is not a smaller document. The failing seed is reported, and
    ``InstanceGenerator(schema, **kwargs).generate(element_qname, seed=...)`` reproduces the
    document.
    """
    from hypothesis import strategies as st

    generator = InstanceGenerator(schema, **kwargs)
    force_map = dict(force or {})

    def build(seed: int) -> etree._Element:
        return generator.generate(element_qname, force=force_map, seed=seed)

    return st.integers(min_value=0, max_value=2**64 - 1).map(build)
