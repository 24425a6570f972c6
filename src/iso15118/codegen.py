"""Generates the typed message models in ``iso15118/messages/`` from the XSDs.

``python -m iso15118.codegen`` rewrites them; ``--check`` fails when they differ from
what the XSDs give (CI runs it), so the models can never drift from the schemas.

What the generated code looks like, and why:

* **One class per XSD type**, not per grammar: a type lives in the module of its
  namespace's home (:data:`SHARED_HOMES`): the xmldsig types in ``xmldsig`` (DIN, -2 and
  -20 all import the same ``xmldsig-core-schema.xsd``), the -20 CommonTypes in
  ``iso20_types``; every other type in its protocol's module. Protocol modules import
  and re-export the shared classes, so ``iso20_dc.MessageHeaderType is
  iso20_ac.MessageHeaderType`` and one header object encodes in every -20 namespace.
  A shared type must compile to the same members in every grammar that has it;
  generation fails otherwise.
* **Required is required**: a member with minOccurs >= 1 (outside a choice) is a
  keyword argument without a default and typed without ``None``; optional members
  default to ``None``, lists to ``[]``. The branches of an ``xs:choice`` of single
  elements get one ``typing.overload`` of ``__init__`` each, so mypy accepts exactly
  one branch (or none, for an optional choice), and ``__init__`` checks the same at
  run time. The class's ``_exi_required`` names the required members.
* **Names** follow :mod:`iso15118.naming` (acronyms kept whole: ``evcc_id``, ``soc``);
  the XSD names stay in ``_exi_members`` for XML and JSON.
* ``PhysicalValueType`` (DIN, -2) and ``RationalNumberType`` (-20) also derive from
  :class:`iso15118.quantities.ScaledNumber`, with the ranges of their XSD facets.
* Each protocol module's ``CLASSES`` / ``ENUMS`` map (namespace, XSD name) to the class
  or Enum; the codec binds its compiled types by those keys and checks every class's
  members against the grammar, so stale generated code fails loudly.
"""

from __future__ import annotations

import argparse
import hashlib
import keyword
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from exi_codec import datatypes as D
from exi_codec.grammar import (
    M_ATTRIBUTE,
    M_CHILDREN,
    M_ELEMENT,
    M_VALUE,
    CompiledSchema,
    model_spec,
)
from iso15118 import protocols
from iso15118.grammar_cache import compile_protocol

MESSAGES_DIR = Path(__file__).resolve().parent / "messages"

ISO20_TYPES_NS = "urn:iso:std:iso:15118:-20:CommonTypes"
# namespace -> the module that holds its types for every grammar that includes them
SHARED_HOMES = {protocols.XMLDSIG_NS: "xmldsig", ISO20_TYPES_NS: "iso20_types",
                D.XSD_NS: "xsd"}
SHARED_SOURCES = {"xmldsig": "xmldsig-core-schema.xsd",
                  "iso20_types": "iso15118_20/V2G_CI_CommonTypes.xsd",
                  "xsd": ""}  # xs:anyType, built into XML Schema
# complex types that are numbers: (namespace, name) -> the member holding the scale
SCALED_NUMBERS = {
    ("urn:din:70121:2012:MsgDataTypes", "PhysicalValueType"): "multiplier",
    ("urn:iso:15118:2:2013:MsgDataTypes", "PhysicalValueType"): "multiplier",
    (ISO20_TYPES_NS, "RationalNumberType"): "exponent",
}

_SCALAR = {
    D.DT_STRING: "str", D.DT_BOOLEAN: "bool", D.DT_NBIT: "int", D.DT_UNSIGNED: "int",
    D.DT_INTEGER: "int", D.DT_BINARY_HEX: "bytes", D.DT_BINARY_BASE64: "bytes",
    D.DT_DECIMAL: "Decimal", D.DT_FLOAT: "float", D.DT_DATETIME: "str",
}


def _ident(s: str) -> str:
    out = re.sub(r"\W", "_", s)
    if not out or out[0].isdigit():
        out = "_" + out
    if keyword.iskeyword(out):
        out += "_"
    return out


@dataclass
class _Enum:
    key: tuple[str, str]
    home: str
    dt: Any
    name: str = ""


@dataclass
class _Class:
    key: tuple[str, str]
    home: str
    proto: str  # the first protocol it was seen in
    cs: CompiledSchema
    t: Any
    name: str = ""
    signature: Any = None


@dataclass
class _Module:
    name: str
    proto: protocols.Protocol | None
    xsd: str
    sha: str
    enums: list[_Enum] = field(default_factory=list)
    classes: list[_Class] = field(default_factory=list)
    # the protocol's whole grammar (protocol modules only)
    all_classes: list[_Class] = field(default_factory=list)
    all_enums: list[_Enum] = field(default_factory=list)
    cs: CompiledSchema | None = None


class _Gen:
    def __init__(self) -> None:
        self.modules: dict[str, _Module] = {}
        self.classes: dict[tuple[str, str], _Class] = {}
        self.enums: dict[tuple[str, str], _Enum] = {}
        self.compiled: dict[str, CompiledSchema] = {}
        for proto in protocols.PROTOCOLS.values():
            cs = compile_protocol(proto)
            sha = hashlib.sha256((protocols.schema_dir() / proto.xsd).read_bytes()).hexdigest()
            self.compiled[proto.name] = cs
            mod = self.modules.setdefault(proto.module, _Module(proto.module, proto, proto.xsd,
                                                                sha))
            mod.proto, mod.xsd, mod.sha, mod.cs = proto, proto.xsd, sha, cs
            self._collect(proto, cs, mod)
        for home, xsd in SHARED_SOURCES.items():
            if home not in self.modules:
                sha = (hashlib.sha256((protocols.schema_dir() / xsd).read_bytes()).hexdigest()
                       if xsd else "")
                self.modules[home] = _Module(home, None, xsd, sha)
        for c in self.classes.values():
            self.modules[c.home].classes.append(c)
        for e in self.enums.values():
            self.modules[e.home].enums.append(e)
        self._name()
        for c in self.classes.values():  # hints need every name: compare them last
            c.signature = self._signature(c.cs, c.t)
        for proto in protocols.PROTOCOLS.values():
            cs = self.compiled[proto.name]
            for t in cs.types:
                if not t.simple:
                    c = self.classes[(t.namespace, t.name)]
                    if self._signature(cs, t) != c.signature:
                        raise SystemExit(
                            f"type {t.name} ({t.namespace}) compiles differently in "
                            f"{proto.name} and {c.proto}; it cannot be shared")

    def _home(self, proto: protocols.Protocol, namespace: str) -> str:
        return SHARED_HOMES.get(namespace, proto.module)

    def _collect(self, proto: protocols.Protocol, cs: CompiledSchema, mod: _Module) -> None:
        for dt in cs.datatypes:
            if dt.kind == D.DT_ENUM and dt.base_kind == D.DT_STRING:
                key = (dt.namespace, dt.name)
                e = self.enums.get(key)
                if e is None:
                    e = self.enums[key] = _Enum(key, self._home(proto, dt.namespace), dt)
                elif e.dt.values != dt.values:
                    raise SystemExit(f"enumeration {dt.name} differs between grammars")
                mod.all_enums.append(e)
        seen: set[tuple[str, str]] = set()
        for t in cs.types:
            if t.simple:
                continue
            key = (t.namespace, t.name)
            if key in seen:
                raise SystemExit(f"{proto.name}: two types named {t.name} in {t.namespace}")
            seen.add(key)
            c = self.classes.get(key)
            if c is None:
                c = self.classes[key] = _Class(key, self._home(proto, t.namespace), proto.name,
                                               cs, t)
            mod.all_classes.append(c)

    def _name(self) -> None:
        for mod in self.modules.values():
            used: set[str] = set()
            for e in mod.enums:
                name = _ident(e.dt.name[:1].upper() + e.dt.name[1:])
                while name in used:
                    name += "_"
                used.add(name)
                e.name = name
            for c in mod.classes:
                name = _ident(c.t.name)
                while name in used:
                    name += "_"
                used.add(name)
                c.name = name
        for mod in self.modules.values():  # an imported name must not shadow an own one
            own = {e.name for e in mod.enums} | {c.name for c in mod.classes}
            items: list[_Class | _Enum] = [*mod.all_classes, *mod.all_enums]
            for x in items:
                if x.home != mod.name and x.name in own:
                    raise SystemExit(f"{mod.name}: {x.name} is both its own and imported")

    # ------------------------------------------------------------------ hints

    def scalar(self, cs: CompiledSchema, dt_id: int) -> str:
        dt = cs.datatypes[dt_id]
        if dt.kind == D.DT_ENUM and dt.base_kind == D.DT_STRING:
            return self.enums[(dt.namespace, dt.name)].name
        if dt.kind == D.DT_ENUM:
            return _SCALAR.get(dt.base_kind, "str")
        if dt.kind == D.DT_LIST:
            return f"list[{self.scalar(cs, dt.item.id if dt.item else 0)}]"
        return _SCALAR[dt.kind]

    def type_hint(self, cs: CompiledSchema, tid: int) -> str:
        t = cs.types[tid]
        if t.simple:
            return self.scalar(cs, t.datatype)
        return self.classes[(t.namespace, t.name)].name

    def base_hint(self, cs: CompiledSchema, m: Any) -> str:
        if m.kind in (M_ATTRIBUTE, M_VALUE):
            return self.scalar(cs, m.datatype)
        if m.kind == M_CHILDREN:
            return "Any"
        hints: list[str] = []
        for ct in m.child_types:
            h = self.type_hint(cs, ct)
            if h not in hints:
                hints.append(h)
        return " | ".join(hints)

    def _signature(self, cs: CompiledSchema, t: Any) -> Any:
        return tuple((m.name, m.xml_name, m.kind, m.is_list, m.namespace, m.optional,
                      m.choice, m.choice_optional, self.base_hint(cs, m)) for m in t.members)

    # ------------------------------------------------------------------ rendering

    def render(self, mod: _Module) -> str:
        sources = mod.xsd or "the XML Schema built-ins"
        lines = [
            f"# Generated by `python -m iso15118.codegen` from {sources}"
            + (f" (sha256 {mod.sha[:16]})" if mod.sha else "") + ". Do not edit.",
        ]
        if mod.proto is not None:
            lines.append(f'"""Typed models of the {mod.proto.name} schema '
                         f'({mod.proto.namespace})."""')
        else:
            lines.append(f'"""Typed models of {sources}, shared by every grammar that '
                         'includes it."""')
        lines += [
            "",
            "from __future__ import annotations",
            "",
            "from decimal import Decimal  # noqa: F401",
            "from enum import Enum",
            "from typing import Any, overload  # noqa: F401",
            "",
            "from exi_codec.model import Model",
        ]
        if any(c.key in SCALED_NUMBERS for c in mod.classes):
            lines.append("from iso15118.quantities import ScaledNumber")
        imports: dict[str, set[str]] = {}
        for c in self._referenced(mod):
            if c.home != mod.name:
                imports.setdefault(c.home, set()).add(c.name)
        for home in sorted(imports):
            names = sorted(imports[home])
            lines.append(f"from iso15118.messages.{home} import (  # noqa: F401")
            for n in names:
                lines.append(f"    {n} as {n},")
            lines.append(")")
        lines += ["", f"XSD = {mod.xsd!r}", f"XSD_SHA256 = {mod.sha!r}", ""]
        for e in mod.enums:
            lines += self._render_enum(e)
        for c in mod.classes:
            lines += self._render_class(c)
        lines.append("")
        # a protocol module maps its whole grammar (shared types included), a shared
        # module its own types
        protocol = mod.proto is not None and mod.cs is not None
        if protocol:
            lines.append("# every complex type and string enumeration of this protocol's grammar,")
            lines.append("# by (namespace, XSD name): what the codec binds its compiled types to")
        lines.append("CLASSES: dict[tuple[str, str], type[Model]] = {")
        lines += [f"    {c.key!r}: {c.name}," for c in (mod.all_classes if protocol
                                                         else mod.classes)]
        lines.append("}")
        lines.append("ENUMS: dict[tuple[str, str], type[Enum]] = {")
        lines += [f"    {e.key!r}: {e.name}," for e in (mod.all_enums if protocol
                                                       else mod.enums)]
        lines.append("}")
        if protocol and mod.cs is not None:
            cs = mod.cs
            lines.append("GLOBAL_ELEMENTS: dict[str, type[Model]] = {")
            for q, tid in sorted(cs.element_types.items()):
                t = cs.types[tid]
                if not t.simple:
                    lines.append(f"    {cs.qname_str(q)!r}: "
                                 f"{self.classes[(t.namespace, t.name)].name},")
            lines.append("}")
        lines.append("")
        return "\n".join(lines)

    def _referenced(self, mod: _Module) -> list[Any]:
        """Classes and enums the module names: its grammar's, and those its hints use."""
        out: dict[str, _Class | _Enum] = {}
        items: list[_Class | _Enum] = [*mod.all_classes, *mod.all_enums]
        for x in items:
            out[x.name] = x
        every: list[_Class | _Enum] = [*self.classes.values(), *self.enums.values()]
        by_name = {x.name: x for x in every}
        for c in mod.classes:
            for m in c.t.members:
                for word in re.findall(r"\w+", self.base_hint(c.cs, m)):
                    if word in by_name:
                        out.setdefault(word, by_name[word])
        return list(out.values())

    def _render_enum(self, e: _Enum) -> list[str]:
        lines = ["", f"class {e.name}(str, Enum):", f'    """Values of {e.dt.name}."""', ""]
        seen: set[str] = set()
        for v in e.dt.values:
            member = _ident(str(v))
            while member in seen:
                member += "_"
            seen.add(member)
            lines.append(f"    {member} = {str(v)!r}")
        lines.append("")
        return lines

    def _render_class(self, c: _Class) -> list[str]:
        t, cs = c.t, c.cs
        members = t.members
        scaled = SCALED_NUMBERS.get(c.key)
        bases = "ScaledNumber, Model" if scaled else "Model"
        kind = "anonymous type of element" if t.anonymous else "complex type"
        names = tuple(m.name for m in members)
        required = tuple(m.name for m in members if self._required(m))
        lines = ["", f"class {c.name}({bases}):",
                 f'    """The {kind} {t.name} ({t.namespace or "no namespace"})."""', "",
                 f"    __slots__ = {names!r}",
                 f"    __match_args__ = {names!r}",
                 f"    _exi_name = {t.name!r}",
                 f"    _exi_namespace = {t.namespace!r}"]
        spec = model_spec(members)
        lines.append(f"    _exi_members = {spec!r}")
        lines.append(f"    _exi_required = {required!r}")
        if scaled:
            lines += self._scaled_attrs(c, scaled)
        for m in members:
            lines.append(f"    {m.name}: {self.field_hint(cs, m)}")
        if not members:
            lines.append("")
            return lines
        choices: dict[int, list[Any]] = {}
        for m in members:
            if m.choice >= 0:
                choices.setdefault(m.choice, []).append(m)
        if choices:
            for combo in self._choice_combos(list(choices.values())):
                args = ", ".join(self._arg(cs, m, combo) for m in members)
                lines += ["", "    @overload", f"    def __init__(self, *, {args}) -> None: ..."]
        args = ", ".join(self._arg(cs, m, None) for m in members)
        lines += ["", f"    def __init__(self, *, {args}) -> None:"]
        for branches in choices.values():
            given = " + ".join(f"({m.name} is not None)" for m in branches)
            names_txt = ", ".join(m.name for m in branches)
            if branches[0].choice_optional:
                cond, what = f"{given} > 1", "at most one"
            else:
                cond, what = f"{given} != 1", "exactly one"
            lines.append(f"        if {cond}:")
            message = f"{c.name}: give {what} of {names_txt}"
            lines.append(f"            raise TypeError({message!r})")
        for m in members:
            if self._is_list(m) and not self._required(m):
                lines.append(f"        self.{m.name} = [] if {m.name} is None else {m.name}")
            else:
                lines.append(f"        self.{m.name} = {m.name}")
        lines.append("")
        return lines

    def _scaled_attrs(self, c: _Class, scale_member: str) -> list[str]:
        cs = c.cs
        by_name = {m.name: m for m in c.t.members}

        def dt_of(m: Any) -> int:  # an element's value type is its child type's
            return int(m.datatype if m.kind != M_ELEMENT else cs.types[m.child_types[0]].datatype)

        scale_dt = cs.datatypes[dt_of(by_name[scale_member])]
        value_dt = cs.datatypes[dt_of(by_name["value"])]
        out = [f"    _scale_field = {scale_member!r}",
               f"    _scale_range = ({scale_dt.minimum}, {scale_dt.maximum})",
               f"    _value_range = ({value_dt.minimum}, {value_dt.maximum})"]
        if "unit" in by_name:
            out.append(f"    _unit_enum = {self.scalar(cs, dt_of(by_name['unit']))}")
        return out

    @staticmethod
    def _is_list(m: Any) -> bool:
        return bool(m.is_list or m.kind == M_CHILDREN)

    @staticmethod
    def _required(m: Any) -> bool:
        if m.kind == M_CHILDREN or m.choice >= 0:
            return False
        return not m.optional if m.kind in (M_ELEMENT, M_ATTRIBUTE) else m.kind == M_VALUE

    def field_hint(self, cs: CompiledSchema, m: Any) -> str:
        base = self.base_hint(cs, m)
        if self._is_list(m):
            return f"list[{base}]"
        return base if self._required(m) else f"{base} | None"

    def _arg(self, cs: CompiledSchema, m: Any, combo: dict[int, Any] | None) -> str:
        """One ``__init__`` parameter; in an overload (``combo``: the branch taken per
        choice) the other branches of each choice are ``None``."""
        hint = self.field_hint(cs, m)
        if combo is not None and m.choice >= 0:
            chosen = combo.get(m.choice)
            if chosen is not None and chosen.name == m.name:
                return f"{m.name}: {self.base_hint(cs, m)}"
            return f"{m.name}: None = None"
        if self._required(m):
            return f"{m.name}: {hint}"
        if self._is_list(m):
            return f"{m.name}: {hint} | None = None"
        return f"{m.name}: {hint} = None"

    @staticmethod
    def _choice_combos(groups: list[list[Any]]) -> list[dict[int, Any]]:
        combos: list[dict[int, Any]] = [{}]
        for branches in groups:
            options: list[Any] = list(branches)
            if branches[0].choice_optional:
                options.append(None)
            key = int(branches[0].choice)
            combos = [{**c, key: o} for c in combos for o in options]
        return combos


def generate_all() -> dict[str, str]:
    """module name -> generated source, for every module in ``iso15118.messages``."""
    gen = _Gen()
    return {name: gen.render(mod) for name, mod in gen.modules.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--check", action="store_true", help="fail if a generated file is stale")
    args = ap.parse_args(argv)
    stale = []
    for name, text in generate_all().items():
        path = MESSAGES_DIR / f"{name}.py"
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(path.name)
        else:
            path.write_text(text)
            print(f"wrote {path}")
    if stale:
        print("stale generated models: " + ", ".join(stale)
              + " (run: python -m iso15118.codegen)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
