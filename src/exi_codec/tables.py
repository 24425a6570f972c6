"""Frozen, plain-data form of compiled grammars: what the compiled core is built from.

Keeping the compiler's output as plain lists and dicts decouples the core from
``xmlschema`` (no schema objects at run time) and makes the tables easy to cache.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from exi_codec.grammar import CompiledSchema


def to_tables(cs: CompiledSchema) -> dict[str, Any]:
    """Turn a :class:`CompiledSchema` into the dict of lists that ``_core.Grammar`` takes."""
    # lists, not tuples, all the way down: the stored form (exi_codec.stored) is JSON
    states = [
        [st.kind, st.owner, [[p.event, p.qname, p.target, p.child, p.member] for p in st.prods]]
        for st in cs.states
    ]
    datatypes = []
    for d in cs.datatypes:
        dd = asdict(d)
        dd["item"] = d.item.id if d.item is not None else -1
        datatypes.append(dd)
    types = []
    for t in cs.types:
        types.append({
            "id": t.id, "name": t.name, "namespace": t.namespace, "anonymous": t.anonymous,
            "start": t.start, "empty_start": t.empty_start, "simple": t.simple,
            "datatype": t.datatype, "ordered": t.ordered, "mixed": t.mixed,
            "abstract": t.abstract, "base": t.base,
            "members": [asdict(m) for m in t.members],
        })
    return {
        "uris": list(cs.uris),
        "local_names": [list(x) for x in cs.local_names],
        "qnames": [tuple(q) for q in cs.qnames],
        "states": states,
        "datatypes": datatypes,
        "types": types,
        "doc_content": cs.doc_content,
        "fragment_content": cs.fragment_content,
        "element_types": dict(cs.element_types),
        "fragment_types": dict(cs.fragment_types),
        "global_elements": list(cs.global_elements),
        "fragment_elements": list(cs.fragment_elements),
        "anytype": cs.anytype,
        "nillable": list(cs.nillable),
    }
