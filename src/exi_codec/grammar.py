"""Compiler from XML Schema (via ``xmlschema``) to EXI 1.0 schema-informed grammars.

Implements EXI 1.0 section 8.5 ("Schema-informed Grammars") for non-strict streams:

* content models become deterministic automata over their particles (8.5.4.1.5-8):
  bounded ``maxOccurs`` is unrolled so that after the last allowed occurrence the
  element's production disappears, which is what the reference does and what the
  event code widths depend on;
* every state's productions are ordered as in 8.5.4.3 (event code assignment):
  AT(qname) sorted by local name then URI, AT(uri:*), AT(*), SE(qname) in schema
  order (substitution-group members sorted by local name then URI, abstract heads
  included, as the reference does), SE(uri:*), SE(*), EE, CH;
* type grammars put the attribute uses in front of the content (8.5.4.1.3); the
  states are tagged first-start-tag, start-tag or element-content because the
  non-strict second-level productions (8.5.4.4.1) differ between the three;
* document and fragment grammars (8.5.1, 8.5.2) and the pre-populated string tables
  (appendix D) complete a :class:`CompiledSchema`.

The result is plain data (lists of ints and strings) that :mod:`exi_codec.tables`
freezes and the compiled core walks. Nothing here knows about ISO 15118.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from exi_codec.datatypes import XSD_NS, Datatype, DatatypeFactory
from exi_codec.errors import SchemaError

XML_NS = "http://www.w3.org/XML/1998/namespace"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
META_NAMESPACES = (XSD_NS, XML_NS, XSI_NS)

# Event types. The numbers are the reference's sort ranks, so sorting by them gives
# the event code order of 8.5.4.3 directly.
EV_AT = 3
EV_AT_NS = 4
EV_AT_ANY = 5
EV_SE = 9
EV_SE_NS = 10
EV_SE_ANY = 11
EV_EE = 13
EV_CH = 15
EV_CH_ANY = 16
EV_ED = 18

EVENT_NAMES = {
    EV_AT: "AT", EV_AT_NS: "AT(uri:*)", EV_AT_ANY: "AT(*)", EV_SE: "SE",
    EV_SE_NS: "SE(uri:*)", EV_SE_ANY: "SE(*)", EV_EE: "EE", EV_CH: "CH",
    EV_CH_ANY: "CH(untyped)", EV_ED: "ED",
}

# State kinds: they decide the second-level (undeclared) productions in non-strict mode.
KIND_FIRST_START_TAG = 0
KIND_START_TAG = 1
KIND_ELEMENT = 2
KIND_DOC_CONTENT = 3
KIND_DOC_END = 4
KIND_FRAGMENT_CONTENT = 5

# Member kinds of a type's model descriptor.
M_ATTRIBUTE = 0
M_ELEMENT = 1
M_VALUE = 2
M_CHILDREN = 3

XSD_BUILTIN_TYPE_NAMES = (
    "ENTITIES", "ENTITY", "ID", "IDREF", "IDREFS", "NCName", "NMTOKEN", "NMTOKENS",
    "NOTATION", "Name", "QName", "anySimpleType", "anyType", "anyURI", "base64Binary",
    "boolean", "byte", "date", "dateTime", "decimal", "double", "duration", "float",
    "gDay", "gMonth", "gMonthDay", "gYear", "gYearMonth", "hexBinary", "int", "integer",
    "language", "long", "negativeInteger", "nonNegativeInteger", "nonPositiveInteger",
    "normalizedString", "positiveInteger", "short", "string", "time", "token",
    "unsignedByte", "unsignedInt", "unsignedLong", "unsignedShort",
)

MAX_POSITIONS = 200_000


@dataclass
class Production:
    event: int
    qname: int = -1  # qname id (AT/SE) or URI id (AT_NS/SE_NS)
    target: int = -1  # next state (-1: the element ends)
    child: int = -1  # SE: type id of the element's grammar; AT/CH: datatype id
    member: int = -1  # index of the model member this event fills (-1: none)
    key: tuple[str, str] = ("", "")  # AT: (local name, URI) for the 8.5.4.3 order


@dataclass
class State:
    kind: int
    owner: int  # type id whose grammar this state belongs to (-1: document level)
    prods: list[Production] = field(default_factory=list)

    def add(self, prod: Production) -> None:
        """Insert keeping 8.5.4.3 order; SE(qname) keep insertion (schema) order."""
        for p in self.prods:
            if p.event == prod.event and p.qname == prod.qname:
                if prod.event in (EV_SE_ANY, EV_AT_ANY, EV_EE, EV_CH_ANY, EV_ED):
                    return
                if p.target != prod.target or p.child != prod.child:
                    raise SchemaError(
                        f"non-deterministic content model: {EVENT_NAMES[prod.event]} twice"
                    )
                return
        self.prods.append(prod)
        self.prods.sort(key=_prod_sort_key)


def _prod_sort_key(p: Production) -> tuple[int, tuple[str, str]]:
    # AT sorted by (local name, URI), AT(uri:*) by URI; SE keep insertion order
    # (the sort is stable), which is schema order.
    return (p.event, p.key)


@dataclass
class Member:
    """One field of a complex type's model: an attribute, child element(s) or value."""

    name: str  # Python attribute name (snake_case)
    xml_name: str  # local name in the schema (for XML/JSON)
    kind: int
    qnames: list[int] = field(default_factory=list)
    child_types: list[int] = field(default_factory=list)  # parallel to qnames
    is_list: bool = False
    optional: bool = True
    max_occurs: int | None = 1  # None: unbounded
    min_occurs: int = 0
    datatype: int = -1  # attributes and simple content
    namespace: str = ""
    # Branches of one xs:choice of single elements share a choice number (-1: none);
    # exactly one of them is set in a valid value, at most one if choice_optional.
    choice: int = -1
    choice_optional: bool = False


def model_spec(members: Sequence[Member]) -> tuple[tuple[str, str, int, bool, str], ...]:
    """A type's members as a model class's ``_exi_members``: (python name, XSD name, kind,
    is_list, namespace). Generated classes carry it; binding compares it to the grammar."""
    return tuple((m.name, m.xml_name, m.kind, m.is_list or m.kind == M_CHILDREN, m.namespace)
                 for m in members)


@dataclass
class TypeInfo:
    """A type grammar: where it starts, and how its values map to model objects."""

    id: int
    name: str  # local name of the type, or of the element for anonymous types
    namespace: str
    anonymous: bool
    start: int = -1
    simple: bool = False  # simple type: the element's value is a Python scalar
    datatype: int = -1  # simple types and simple content
    members: list[Member] = field(default_factory=list)
    ordered: bool = False  # content kept as an ordered list of (qname, value)
    mixed: bool = False
    abstract: bool = False
    base: int = -1  # base type id for complex derivations (-1 none)
    empty_start: int = -1  # TypeEmpty grammar (xsi:nil="true")


@dataclass
class ElementInfo:
    qname: int
    type_id: int
    is_global: bool
    abstract: bool = False
    nillable: bool = False


@dataclass
class CompiledSchema:
    """All grammars of one schema set, as plain data (see :mod:`exi_codec.tables`)."""

    uris: list[str]
    local_names: list[list[str]]  # per URI, pre-populated partition
    qnames: list[tuple[int, int]]  # qname id -> (uri id, local-name id)
    states: list[State]
    types: list[TypeInfo]
    datatypes: list[Datatype]
    global_elements: list[int]  # qname ids of DocContent's SE productions, in code order
    fragment_elements: list[int]  # qname ids of FragmentContent's SE productions
    element_types: dict[int, int]  # global element qname id -> type id
    fragment_types: dict[int, int]  # fragment element qname id -> type id (-1: ambiguous)
    doc_content: int
    doc_end: int
    fragment_content: int
    anytype: int  # type id of xs:anyType (wildcard content)
    nillable: list[int] = field(default_factory=list)  # qnames that may carry xsi:nil

    def qname_str(self, qid: int) -> str:
        u, ln = self.qnames[qid]
        uri = self.uris[u]
        local = self.local_names[u][ln]
        return f"{{{uri}}}{local}" if uri else local


def snake_words(name: str) -> str:
    """The CamelCase split alone: a run of capitals is one word, ``_``/``-``/``.``
    separate words, all lower case, ``f_`` before a leading digit (no keyword check)."""
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s)
    s = s.replace("-", "_").replace(".", "_")
    s = re.sub(r"_+", "_", s).lower().strip("_")
    if not s or s[0].isdigit():
        s = "f_" + s
    return s


def snake_case(name: str) -> str:
    """``EVTargetCurrent`` -> ``ev_target_current``; ``DC_EVStatus`` -> ``dc_ev_status``."""
    s = snake_words(name)
    if s in _PY_KEYWORDS:
        s += "_"
    return s


_PY_KEYWORDS = {
    "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del",
    "elif", "else", "except", "finally", "for", "from", "global", "if", "import", "in",
    "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield", "type", "id", "none", "true", "false",
}


def _split(qname: str) -> tuple[str, str]:
    if qname.startswith("{"):
        ns, local = qname[1:].split("}", 1)
        return ns, local
    return "", qname


def _is_element(p: Any) -> bool:
    return type(p).__name__ == "XsdElement"


def _is_any(p: Any) -> bool:
    return type(p).__name__ == "XsdAnyElement"


def _is_group(p: Any) -> bool:
    return type(p).__name__ == "XsdGroup"


def _decl(p: Any) -> Any:
    """The element declaration a particle stands for (a ref's global declaration)."""
    ref = getattr(p, "ref", None)
    return ref if ref is not None else p


# --------------------------------------------------------------------------- automata


class _Pos:
    __slots__ = ("idx", "sym", "term")

    def __init__(self, idx: int, sym: int, term: Any) -> None:
        self.idx = idx
        self.sym = sym
        self.term = term


class _Glushkov:
    """Position automaton of one content model, then subset construction."""

    def __init__(self) -> None:
        self.positions: list[_Pos] = []
        self.sym_order: dict[int, int] = {}
        self.sym_term: dict[int, Any] = {}
        self.follow: list[set[int]] = []

    def _new_pos(self, term: Any) -> int:
        if len(self.positions) >= MAX_POSITIONS:
            raise SchemaError("content model too large once maxOccurs is unrolled")
        key = id(_decl(term)) if _is_element(term) else id(term)
        if key not in self.sym_order:
            self.sym_order[key] = len(self.sym_order)
            self.sym_term[key] = _decl(term) if _is_element(term) else term
        p = _Pos(len(self.positions), key, term)
        self.positions.append(p)
        self.follow.append(set())
        return p.idx

    # Each builder returns (nullable, first, last).
    def particle(self, p: Any) -> tuple[bool, set[int], set[int]]:
        lo = int(p.min_occurs)
        hi = p.max_occurs  # None = unbounded
        if hi is not None and hi == 0:
            return True, set(), set()
        parts: list[tuple[bool, set[int], set[int]]] = [self.term(p) for _ in range(lo)]
        if hi is None:
            star = self.term(p)
            self._connect(star, star)
            parts.append((True, star[1], star[2]))
        else:
            opt = self._optional_chain(p, int(hi) - lo)
            if opt is not None:
                parts.append(opt)
        if not parts:
            return True, set(), set()
        return self._seq(parts)

    def _optional_chain(self, p: Any, n: int) -> tuple[bool, set[int], set[int]] | None:
        # x? nested: (x (x (x)?)?)? so that the k-th copy only follows the (k-1)-th
        if n <= 0:
            return None
        copies = [self.term(p) for _ in range(n)]
        inner: tuple[bool, set[int], set[int]] | None = None
        for c in reversed(copies):
            if inner is None:
                inner = (True, c[1], c[2])
            else:
                self._connect(c, inner)
                last = c[2] | inner[2] if inner[0] else c[2] | inner[2]
                inner = (True, c[1] | (inner[1] if c[0] else set()), last)
        return inner

    def term(self, p: Any) -> tuple[bool, set[int], set[int]]:
        if _is_element(p) or _is_any(p):
            i = self._new_pos(p)
            return False, {i}, {i}
        if _is_group(p):
            items = [self.particle(c) for c in p]
            if p.model == "choice":
                if not items:
                    return True, set(), set()
                nullable = any(it[0] for it in items)
                first: set[int] = set().union(*(it[1] for it in items))
                last: set[int] = set().union(*(it[2] for it in items))
                return nullable, first, last
            if p.model == "sequence":
                if not items:
                    return True, set(), set()
                return self._seq(items)
            raise SchemaError(f"unsupported model group {p.model!r} in a nested position")
        raise SchemaError(f"unsupported particle {p!r}")

    def _connect(self, a: tuple[bool, set[int], set[int]],
                 b: tuple[bool, set[int], set[int]]) -> None:
        for i in a[2]:
            self.follow[i] |= b[1]

    def _seq(self, items: Sequence[tuple[bool, set[int], set[int]]]) -> tuple[
            bool, set[int], set[int]]:
        nullable, first, last = items[0][0], set(items[0][1]), set(items[0][2])
        for it in items[1:]:
            for i in last:
                self.follow[i] |= it[1]
            if nullable:
                first |= it[1]
            last = (last | it[2]) if it[0] else set(it[2])
            nullable = nullable and it[0]
        return nullable, first, last


# --------------------------------------------------------------------------- builder


class GrammarBuilder:
    """Builds a :class:`CompiledSchema` from an ``xmlschema.XMLSchema``."""

    def __init__(self, schema: Any, naming: Callable[[str], str] | None = None) -> None:
        self.schema = schema
        self.naming = naming or snake_case
        self.maps = schema.maps
        self.dtf = DatatypeFactory()
        self.states: list[State] = []
        self.types: list[TypeInfo] = []
        self._type_objs: dict[int, Any] = {}
        self._nillable: set[int] = set()  # qnames of elements declared nillable
        self._type_ids: dict[int, int] = {}
        self._keep: list[Any] = []
        self._qname_ids: dict[tuple[str, str], int] = {}
        self.qnames: list[tuple[int, int]] = []
        self._build_string_tables()

    # ---------------------------------------------------------------- string tables

    def _components(self, kind: str) -> Iterable[Any]:
        comp = getattr(self.maps, kind)
        for qn, c in comp.items():
            ns, _ = _split(qn)
            if ns in META_NAMESPACES:
                continue
            yield c

    def _build_string_tables(self) -> None:
        entries: dict[str, set[str]] = {"": set(), XML_NS: {"base", "id", "lang", "space"},
                                        XSI_NS: {"nil", "type"},
                                        XSD_NS: set(XSD_BUILTIN_TYPE_NAMES)}
        seen_types: set[int] = set()

        def add(qname: str | None) -> None:
            if qname is None:
                return
            ns, local = _split(qname)
            entries.setdefault(ns, set()).add(local)

        def walk_type(t: Any) -> None:
            if id(t) in seen_types:
                return
            seen_types.add(id(t))
            if getattr(t, "name", None):
                add(t.name)
            if t.is_complex():
                for a in t.attributes.values():
                    if getattr(a, "name", None):
                        add(a.name)
                    wc_ns = getattr(a, "namespace", None)
                    if _is_any(a) or type(a).__name__ == "XsdAnyAttribute":
                        for ns in wc_ns or ():
                            if not ns.startswith("##"):
                                entries.setdefault(ns, set())
                content = t.content
                if _is_group(content):
                    walk_group(content)
                elif content is not None and not content.is_complex():
                    walk_type(content)

        def walk_group(g: Any) -> None:
            for p in g:
                if _is_element(p):
                    walk_element(_decl(p))
                    if p is not _decl(p):
                        walk_element(p)
                elif _is_group(p):
                    walk_group(p)
                elif _is_any(p):
                    for ns in p.namespace or ():
                        if not ns.startswith("##"):
                            entries.setdefault(ns, set())

        seen_el: set[int] = set()

        def walk_element(e: Any) -> None:
            if id(e) in seen_el:
                return
            seen_el.add(id(e))
            add(e.name)
            walk_type(e.type)
            for m in self._substitutes(e):
                walk_element(m)

        for ns in self.maps.namespaces:
            entries.setdefault(ns, set())
        for t in self._components("types"):
            if not t.is_complex():
                walk_type(t)
        for t in self._components("types"):
            if t.is_complex():
                walk_type(t)
        for e in self._components("elements"):
            walk_element(e)
        for a in self._components("attributes"):
            add(a.name)

        def uri_key(u: str) -> tuple[int, str]:
            fixed = {"": 0, XML_NS: 1, XSI_NS: 2, XSD_NS: 3}
            return (fixed.get(u, 4), u)

        self.uris = sorted(entries, key=uri_key)
        self.local_names = [sorted(entries[u]) for u in self.uris]
        self._uri_id = {u: i for i, u in enumerate(self.uris)}
        self._local_id = [{n: i for i, n in enumerate(ln)} for ln in self.local_names]

    def qname_id(self, qname: str) -> int:
        ns, local = _split(qname)
        key = (ns, local)
        qid = self._qname_ids.get(key)
        if qid is None:
            u = self._uri_id.get(ns)
            if u is None or local not in self._local_id[u]:
                raise SchemaError(f"{qname} is missing from the string tables")
            qid = len(self.qnames)
            self.qnames.append((u, self._local_id[u][local]))
            self._qname_ids[key] = qid
        return qid

    @staticmethod
    def _attr_key(a: Any) -> tuple[str, str]:
        ns, local = _split(a.name)
        return (local, ns)

    def _qname_sort_key(self, qid: int) -> tuple[str, str]:
        u, ln = self.qnames[qid]
        return (self.local_names[u][ln], self.uris[u])

    def uri_id(self, ns: str) -> int:
        u = self._uri_id.get(ns)
        if u is None:
            raise SchemaError(f"namespace {ns!r} is missing from the string tables")
        return u

    # ---------------------------------------------------------------- states

    def _new_state(self, kind: int, owner: int) -> int:
        self.states.append(State(kind, owner))
        return len(self.states) - 1

    def _copy_state(self, src: int, kind: int) -> int:
        s = self._new_state(kind, self.states[src].owner)
        for p in self.states[src].prods:
            self.states[s].add(Production(p.event, p.qname, p.target, p.child, p.member,
                                          p.key))
        return s

    # ---------------------------------------------------------------- substitution

    def _substitutes(self, head: Any) -> list[Any]:
        """Members that may stand for ``head`` (transitively), without ``head``."""
        out: list[Any] = []
        seen: set[int] = set()
        stack = [head]
        groups = self.maps.substitution_groups
        while stack:
            h = stack.pop()
            for m in groups.get(h.name, ()):
                if id(m) not in seen:
                    seen.add(id(m))
                    out.append(m)
                    stack.append(m)
        return out

    def _element_events(self, decl: Any) -> list[tuple[int, Any]]:
        """SE events for a particle's element: itself plus substitutes, sorted."""
        elems = [decl] + self._substitutes(decl)
        elems.sort(key=lambda e: (_split(e.name)[1], _split(e.name)[0]))
        return [(self.qname_id(e.name), e) for e in elems]

    # ---------------------------------------------------------------- types

    def type_id(self, t: Any, name_hint: str = "", ns_hint: str = "") -> int:
        tid = self._type_ids.get(id(t))
        if tid is not None:
            return tid
        tid = len(self.types)
        anonymous = not getattr(t, "name", None)
        if anonymous:
            name, ns = name_hint, ns_hint
        else:
            ns, name = _split(t.name)
        info = TypeInfo(tid, name, ns, anonymous)
        info.abstract = bool(getattr(t, "abstract", False))
        self.types.append(info)
        self._type_objs[tid] = t
        self._type_ids[id(t)] = tid
        self._keep.append(t)
        if t.is_complex():
            self._complex_type(info, t)
        else:
            self._simple_type(info, t)
        return tid

    def _simple_type(self, info: TypeInfo, t: Any) -> None:
        dt = self.dtf.for_type(t)
        info.simple = True
        info.datatype = dt.id
        # Type_i,0: CH[dt] -> Type_i,1 ; Type_i,1: EE
        end = self._new_state(KIND_ELEMENT, info.id)
        self.states[end].add(Production(EV_EE))
        start = self._new_state(KIND_FIRST_START_TAG, info.id)
        self.states[start].add(Production(EV_CH, -1, end, dt.id, -1))
        info.start = start
        empty = self._new_state(KIND_FIRST_START_TAG, info.id)
        self.states[empty].add(Production(EV_EE))
        info.empty_start = empty

    def _complex_type(self, info: TypeInfo, t: Any) -> None:
        if t.name == "{" + XSD_NS + "}anyType":
            self._anytype(info)
            return
        info.mixed = bool(getattr(t, "mixed", False))
        members: list[Member] = []
        # attributes, sorted by local name then URI (8.5.4.1.3.1)
        attr_uses = []
        attr_wildcard = None
        for key, a in t.attributes.items():
            if type(a).__name__ == "XsdAnyAttribute":
                attr_wildcard = a
                continue
            if key is None:
                continue
            if getattr(a, "use", "optional") == "prohibited":
                continue
            attr_uses.append(a)
        attr_uses.sort(key=lambda a: (_split(a.name)[1], _split(a.name)[0]))
        attr_members: list[tuple[Any, int]] = []
        for a in attr_uses:
            dt = self.dtf.for_type(a.type)
            ns, local = _split(a.name)
            m = Member(self.naming(local), local, M_ATTRIBUTE, [self.qname_id(a.name)],
                       [-1], optional=a.use != "required", datatype=dt.id, namespace=ns)
            m.min_occurs = 0 if m.optional else 1
            attr_members.append((a, len(members)))
            members.append(m)
        content = t.content
        ordered = False
        if t.has_simple_content():
            st = content if not _is_group(content) else None
            if st is None:
                raise SchemaError(f"type {t.name}: simple content without a simple type")
            dt = self.dtf.for_type(st)
            info.datatype = dt.id
            vm = len(members)
            members.append(Member("value", "#text", M_VALUE, [], [], optional=False,
                                  datatype=dt.id))
            end = self._new_state(KIND_ELEMENT, info.id)
            self.states[end].add(Production(EV_EE))
            c0 = self._new_state(KIND_ELEMENT, info.id)
            self.states[c0].add(Production(EV_CH, -1, end, dt.id, vm))
        elif t.is_empty() or content is None or (_is_group(content) and len(content) == 0
                                                 and not info.mixed):
            c0 = self._new_state(KIND_ELEMENT, info.id)
            self.states[c0].add(Production(EV_EE))
        else:
            ordered = self._needs_ordered(content) or info.mixed
            if ordered:
                members.append(Member("children", "#children", M_CHILDREN, [], [],
                                      is_list=True, max_occurs=None))
            else:
                self._element_members(content, members)
            c0 = self._content_model(info, content, members, ordered)
        info.ordered = ordered
        info.members = members
        # The attribute chain (as in the reference's handleAttributes): the state after
        # the last attribute is a start-tag copy of the content's first state.
        rule_start = self._copy_state(c0, KIND_START_TAG)
        if attr_wildcard is not None:
            self._attr_wildcard(rule_start, attr_wildcard)
        for a, mi in reversed(attr_members):
            cur = self._new_state(KIND_START_TAG, info.id)
            dt_id = members[mi].datatype
            self.states[cur].add(Production(EV_AT, members[mi].qnames[0], rule_start,
                                            dt_id, mi, self._attr_key(a)))
            if attr_wildcard is not None:
                self._attr_wildcard(cur, attr_wildcard)
            if a.use != "required":
                for p in self.states[rule_start].prods:
                    if p.event in (EV_AT_ANY, EV_AT_NS):
                        continue
                    self.states[cur].add(Production(p.event, p.qname, p.target, p.child,
                                                    p.member, p.key))
            rule_start = cur
        info.start = self._copy_state(rule_start, KIND_FIRST_START_TAG)
        # TypeEmpty (xsi:nil="true"): the same attributes, then EE.
        empty_rule = self._new_state(KIND_START_TAG, info.id)
        self.states[empty_rule].add(Production(EV_EE))
        for a, mi in reversed(attr_members):
            cur = self._new_state(KIND_START_TAG, info.id)
            self.states[cur].add(Production(EV_AT, members[mi].qnames[0], empty_rule,
                                            members[mi].datatype, mi, self._attr_key(a)))
            if a.use != "required":
                for p in self.states[empty_rule].prods:
                    self.states[cur].add(Production(p.event, p.qname, p.target, p.child,
                                                    p.member, p.key))
            empty_rule = cur
        info.empty_start = self._copy_state(empty_rule, KIND_FIRST_START_TAG)

    def _attr_wildcard(self, state: int, wc: Any) -> None:
        nss = [n for n in (wc.namespace or ()) if not n.startswith("##")]
        if not nss or "##any" in (wc.namespace or ()) or "##other" in (wc.namespace or ()):
            self.states[state].add(Production(EV_AT_ANY, -1, state))
        else:
            for ns in nss:
                self.states[state].add(Production(EV_AT_NS, self.uri_id(ns), state,
                                                  key=(ns, "")))

    def _anytype(self, info: TypeInfo) -> None:
        # 8.5.4.1.3.3 complex ur-type: Type_0: AT(*) Type_0 | SE(*) Type_1 | EE | CH Type_1
        # Type_1: SE(*) Type_1 | EE | CH Type_1. Content is kept in order.
        info.ordered = True
        info.mixed = True
        info.members = [Member("children", "#children", M_CHILDREN, [], [], is_list=True,
                               max_occurs=None)]
        t1 = self._new_state(KIND_ELEMENT, info.id)
        self.states[t1].add(Production(EV_SE_ANY, -1, t1, -1, 0))
        self.states[t1].add(Production(EV_EE))
        self.states[t1].add(Production(EV_CH_ANY, -1, t1, self.dtf.string.id, 0))
        t0 = self._new_state(KIND_FIRST_START_TAG, info.id)
        self.states[t0].add(Production(EV_AT_ANY, -1, t0, -1, 0))
        self.states[t0].add(Production(EV_SE_ANY, -1, t1, -1, 0))
        self.states[t0].add(Production(EV_EE))
        self.states[t0].add(Production(EV_CH_ANY, -1, t1, self.dtf.string.id, 0))
        info.start = t0
        info.empty_start = t0

    def _needs_ordered(self, group: Any) -> bool:
        """Content that fields cannot represent: repeated groups, repeated names, wildcards."""
        names: set[str] = set()

        def walk(g: Any, repeated: bool) -> bool:
            rep = repeated or g.max_occurs is None or g.max_occurs > 1
            for p in g:
                if _is_group(p):
                    if p.model == "all":
                        return True
                    if walk(p, rep):
                        return True
                elif _is_any(p):
                    return True
                elif _is_element(p):
                    if rep and _is_group(g) and len(g) > 1:
                        return True
                    if p.name in names:
                        return True
                    names.add(p.name)
            return False

        if content_all := (_is_group(group) and group.model == "all"):
            return content_all
        return walk(group, False) if _is_group(group) else False

    def _element_members(self, group: Any, members: list[Member]) -> None:
        choices = 0

        def walk(g: Any, opt: bool, mult: int | None) -> None:
            nonlocal choices
            choice = -1
            if (g.model == "choice" and g.max_occurs == 1 and mult == 1 and len(g) > 1
                    and all(_is_element(p) and p.max_occurs == 1 and p.min_occurs == 1
                            for p in g)):
                choice = choices
                choices += 1
            first = len(members)
            for p in g:
                g_opt = opt or g.model == "choice"
                if _is_group(p):
                    m = None if (mult is None or p.max_occurs is None) else mult * p.max_occurs
                    walk(p, g_opt or p.min_occurs == 0, m)
                    continue
                decl = _decl(p)
                ns, local = _split(decl.name)
                hi = None if (mult is None or p.max_occurs is None) else mult * p.max_occurs
                qids: list[int] = []
                tids: list[int] = []
                for qid, e in self._element_events(decl):
                    qids.append(qid)
                    tids.append(self.type_id(e.type, _split(e.name)[1], _split(e.name)[0]))
                used = {m.name for m in members}
                pyname = self.naming(local)
                while pyname in used:
                    pyname += "_"
                optional = g_opt or p.min_occurs == 0
                members.append(Member(
                    pyname, local, M_ELEMENT, qids, tids, is_list=hi is None or hi > 1,
                    optional=optional, max_occurs=hi,
                    min_occurs=0 if optional else int(p.min_occurs), namespace=ns))
            if choice >= 0:
                for m in members[first:]:
                    m.choice = choice
                    m.choice_optional = opt or g.min_occurs == 0

        walk(group, group.min_occurs == 0, group.max_occurs)

    def _content_model(self, info: TypeInfo, group: Any, members: list[Member],
                       ordered: bool) -> int:
        member_of: dict[int, int] = {}
        children = next((i for i, m in enumerate(members) if m.kind == M_CHILDREN), -1)
        if not ordered:
            for i, m in enumerate(members):
                for q in m.qnames:
                    if m.kind == M_ELEMENT:
                        member_of[q] = i
        if group.model == "all":
            # 8.5.4.1.8.3 as the reference implements it: one looping state.
            s = self._new_state(KIND_ELEMENT, info.id)
            self.states[s].add(Production(EV_EE))
            for p in group:
                for qid, e in self._element_events(_decl(p)):
                    tid = self.type_id(e.type, _split(e.name)[1], _split(e.name)[0])
                    self.states[s].add(Production(EV_SE, qid, s, tid,
                                                  children if ordered else member_of.get(qid, -1)))
            return s
        g = _Glushkov()
        nullable, first, _last = g.particle(group)
        # subset construction; accepting: end position reachable
        final_marker = -1
        last_sets = _last
        for i in last_sets:
            g.follow[i].add(final_marker)
        start_set = frozenset(first | ({final_marker} if nullable else set()))
        dfa: dict[frozenset[int], int] = {}
        todo: list[frozenset[int]] = []

        def state_for(ps: frozenset[int]) -> int:
            s = dfa.get(ps)
            if s is None:
                s = self._new_state(KIND_ELEMENT, info.id)
                dfa[ps] = s
                todo.append(ps)
            return s

        start = state_for(start_set)
        while todo:
            ps = todo.pop()
            s = dfa[ps]
            by_sym: dict[int, set[int]] = {}
            for i in ps:
                if i == final_marker:
                    continue
                by_sym.setdefault(g.positions[i].sym, set()).update(g.follow[i])
            for sym in sorted(by_sym, key=lambda k: g.sym_order[k]):
                nxt = state_for(frozenset(by_sym[sym]))
                term = g.sym_term[sym]
                if _is_any(term):
                    nss = list(term.namespace or ())
                    if not nss or any(n in ("##any", "##other") for n in nss) or getattr(
                            term, "not_namespace", None):
                        self.states[s].add(Production(EV_SE_ANY, -1, nxt, -1, children))
                    else:
                        for ns in nss:
                            uri = "" if ns == "##local" else (
                                info.namespace if ns == "##targetNamespace" else ns)
                            self.states[s].add(Production(EV_SE_NS, self.uri_id(uri), nxt,
                                                          -1, children, (uri, "")))
                    continue
                for qid, e in self._element_events(term):
                    tid = self.type_id(e.type, _split(e.name)[1], _split(e.name)[0])
                    self.states[s].add(Production(
                        EV_SE, qid, nxt, tid, children if ordered else member_of.get(qid, -1)))
                    if ordered and qid not in members[children].qnames:
                        # ordered content still needs its element -> type table
                        members[children].qnames.append(qid)
                        members[children].child_types.append(tid)
            if final_marker in ps:
                self.states[s].add(Production(EV_EE))
            if info.mixed:
                self.states[s].add(Production(EV_CH_ANY, -1, s, self.dtf.string.id,
                                              children))
        return start

    # ---------------------------------------------------------------- top level

    def build(self) -> CompiledSchema:
        element_types: dict[int, int] = {}
        globals_: list[tuple[str, str, int]] = []
        for e in self._components("elements"):
            ns, local = _split(e.name)
            qid = self.qname_id(e.name)
            element_types[qid] = self.type_id(e.type, local, ns)
            globals_.append((local, ns, qid))
        globals_.sort()
        anytype = self.type_id(self.maps.types["{" + XSD_NS + "}anyType"])
        # every named type gets a grammar (xsi:type may name any of them)
        for t in self._components("types"):
            self.type_id(t)
        # fragment elements: all declarations, unique by qname (8.5.2)
        decls: dict[int, set[int]] = {}
        self._collect_declarations(decls)
        frag = sorted(decls, key=self._qname_sort_key)
        fragment_types = {q: (next(iter(decls[q])) if len(decls[q]) == 1 else -1)
                          for q in frag}
        if -1 in fragment_types.values():
            ef = self._element_fragment_type(frag, fragment_types)
            fragment_types = {q: (ef if t == -1 else t) for q, t in fragment_types.items()}
        # derivation (xsi:type may only name a type derived from the declared one)
        for info in self.types:
            base = getattr(self._type_objs.get(info.id), "base_type", None)
            info.base = self._type_ids.get(id(base), -1) if base is not None else -1
        doc_content = self._new_state(KIND_DOC_CONTENT, -1)
        doc_end = self._new_state(KIND_DOC_END, -1)
        self.states[doc_end].add(Production(EV_ED))
        for _, _, qid in globals_:
            self.states[doc_content].add(Production(EV_SE, qid, doc_end,
                                                    element_types[qid], -1))
        self.states[doc_content].add(Production(EV_SE_ANY, -1, doc_end, -1, -1))
        frag_content = self._new_state(KIND_FRAGMENT_CONTENT, -1)
        for qid in frag:
            self.states[frag_content].add(Production(EV_SE, qid, frag_content,
                                                     fragment_types[qid], -1))
        self.states[frag_content].add(Production(EV_SE_ANY, -1, frag_content, -1, -1))
        self.states[frag_content].add(Production(EV_ED))
        return CompiledSchema(
            uris=self.uris, local_names=self.local_names, qnames=self.qnames,
            states=self.states, types=self.types, datatypes=self.dtf.datatypes,
            global_elements=[q for _, _, q in globals_], fragment_elements=frag,
            element_types=element_types, fragment_types=fragment_types,
            doc_content=doc_content, doc_end=doc_end, fragment_content=frag_content,
            anytype=anytype, nillable=sorted(self._nillable),
        )

    def _element_fragment_type(self, frag: list[int], fragment_types: dict[int, int]) -> int:
        """The relaxed grammar of elements declared with several types (EXI 1.0, 8.5.3).

        A fragment has no parent to tell the declarations apart, so such an element's
        content is coded over the whole schema: every attribute qname (typed when all
        its declarations agree, else untyped), AT(*), every fragment element qname,
        SE(*), EE and untyped CH, in that order. Its model is ordered content plus
        one field per attribute.
        """
        tid = len(self.types)
        info = TypeInfo(tid, "ElementFragment", "", True, ordered=True, mixed=True)
        self.types.append(info)
        attr_types: dict[int, set[int]] = {}
        for t in self.types:
            for m in t.members:
                if m.kind == M_ATTRIBUTE:
                    attr_types.setdefault(m.qnames[0], set()).add(m.datatype)
        attrs = sorted(attr_types, key=self._qname_sort_key)
        members: list[Member] = []
        names: set[str] = set()
        for q in attrs:
            local, ns = self._qname_sort_key(q)
            name = self.naming(local)
            if name in names:  # Id in several namespaces: id, id_msg_body, ...
                name = f"{name.rstrip('_')}_{self.naming(re.split('[:/]', ns)[-1])}"
            while name in names or name == "children":
                name += "_"
            names.add(name)
            dts = attr_types[q]
            dt = next(iter(dts)) if len(dts) == 1 else self.dtf.string.id
            members.append(Member(name, local, M_ATTRIBUTE, [q], [-1], datatype=dt,
                                  namespace=ns))
        children = len(members)
        members.append(Member("children", "#children", M_CHILDREN, list(frag),
                              [fragment_types[q] if fragment_types[q] >= 0 else tid
                               for q in frag], is_list=True, max_occurs=None))
        info.members = members
        content = self._new_state(KIND_ELEMENT, tid)
        start = self._new_state(KIND_FIRST_START_TAG, tid)
        for mi, q in enumerate(attrs):
            local, ns = self._qname_sort_key(q)
            self.states[start].add(Production(EV_AT, q, start, members[mi].datatype, mi,
                                              (local, ns)))
        self.states[start].add(Production(EV_AT_ANY, -1, start, -1, -1))
        for st in (start, content):
            for q, ct in zip(frag, members[children].child_types, strict=True):
                self.states[st].add(Production(EV_SE, q, content, ct, children))
            self.states[st].add(Production(EV_SE_ANY, -1, content, -1, children))
            self.states[st].add(Production(EV_EE))
            self.states[st].add(Production(EV_CH_ANY, -1, content, self.dtf.string.id,
                                           children))
        info.start = start
        info.empty_start = start
        return tid

    def _collect_declarations(self, out: dict[int, set[int]]) -> None:
        seen: set[int] = set()

        def el(e: Any) -> None:
            if id(e) in seen:
                return
            seen.add(id(e))
            ns, local = _split(e.name)
            out.setdefault(self.qname_id(e.name), set()).add(self.type_id(e.type, local, ns))
            if getattr(e, "nillable", False):
                self._nillable.add(self.qname_id(e.name))
            ty(e.type)

        seen_t: set[int] = set()

        def ty(t: Any) -> None:
            if id(t) in seen_t or not t.is_complex():
                return
            seen_t.add(id(t))
            if _is_group(t.content):
                grp(t.content)

        def grp(g: Any) -> None:
            for p in g:
                if _is_group(p):
                    grp(p)
                elif _is_element(p):
                    el(_decl(p))

        for e in self._components("elements"):
            el(e)
        for t in self._components("types"):
            ty(t)


def compile_schema(schema: Any, *,
                   naming: Callable[[str], str] | None = None) -> CompiledSchema:
    """Compile an ``xmlschema.XMLSchema`` (with its imports) into EXI grammars.

    ``naming`` turns an XSD local name into the model's attribute name (default
    :func:`snake_case`); an application with its own vocabulary (acronyms that must
    stay whole) passes its rule here, so the compiled tables and the classes agree.
    """
    return GrammarBuilder(schema, naming).build()
