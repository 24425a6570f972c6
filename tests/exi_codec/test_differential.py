"""Differential test against EXIficient (the reference): random valid messages, byte for byte.

For each protocol, messages generated from the XSDs (every global element, and for DIN
and ISO-2 every Body member in turn) are encoded by the reference and by us; the bytes
must be identical. In the other direction our decoder reads the reference's bytes and
must give the same message as parsing the XML does, and re-encode to the same bytes.
Every tenth message is also compared as an EXI fragment (the signature digest input).

``V2G_DIFF_COUNT`` sets the messages per protocol (default 1000, as CI runs it).
"""

from __future__ import annotations

import os
import zlib
from typing import Any

import pytest

from exi_codec.instances import (
    InstanceGenerator,
    UngeneratableError,
    iter_global_elements,
    substitution_members,
)
from iso15118 import codec as v2g
from iso15118 import protocols

COUNT = int(os.environ.get("V2G_DIFF_COUNT", "1000"))

# our protocol name -> the oracle's schema name
ORACLE_NAMES = {
    "apphand": "appHand", "din": "din", "iso2": "iso2", "iso20-common": "iso20-common",
    "iso20-ac": "iso20-ac", "iso20-dc": "iso20-dc", "iso20-wpt": "iso20-wpt",
    "iso20-acdp": "iso20-acdp", "xmldsig": "xmldsig",
}
BODY_HEADS = {
    "din": ("{urn:din:70121:2012:MsgDef}V2G_Message", "{urn:din:70121:2012:MsgDef}BodyElement"),
    "iso2": ("{urn:iso:15118:2:2013:MsgDef}V2G_Message",
             "{urn:iso:15118:2:2013:MsgBody}BodyElement"),
}


def _schema(protocol: str) -> Any:
    from exi_codec import load_xmlschema

    p = protocols.get(protocol)
    return load_xmlschema([protocols.schema_dir() / p.xsd], protocols.xsd_locations(p))


def _jobs(protocol: str, schema: Any, gen: InstanceGenerator) -> list[tuple[str, dict[str, str]]]:
    """What to generate, round robin: each global element, and each Body member."""
    jobs: list[tuple[str, dict[str, str]]] = []
    for name in iter_global_elements(schema):
        if gen.can_generate(name):
            jobs.append((name, {}))
    if protocol in BODY_HEADS:
        root, head = BODY_HEADS[protocol]
        for member in substitution_members(schema, head):
            jobs.append((root, {head: member}))
    return jobs


@pytest.mark.oracle
@pytest.mark.parametrize("protocol", list(ORACLE_NAMES))
def test_random_messages_match_the_reference(protocol: str, oracle: Any) -> None:
    schema = _schema(protocol)
    gen = InstanceGenerator(schema, seed=zlib.crc32(protocol.encode()))
    jobs = _jobs(protocol, schema, gen)
    assert jobs
    c = v2g.get_codec(protocol)
    oname = ORACLE_NAMES[protocol]
    mismatches: list[str] = []
    done = 0
    i = 0
    while done < COUNT and i < COUNT * 3:
        name, force = jobs[i % len(jobs)]
        i += 1
        try:
            xml = gen.generate_string(name, force=force or None, seed=i)
        except UngeneratableError:
            continue
        fragment = i % 10 == 0
        want = oracle.encode_xml(oname, xml, fragment=fragment)
        got = c.encode(xml.encode("utf-8"), fragment=fragment)
        done += 1
        if got != want:
            mismatches.append(f"encode {name} fragment={fragment}\n  ref  {want.hex()}\n"
                              f"  ours {got.hex()}\n  xml  {xml[:3000]}")
            continue
        if fragment:
            (q, value), = c.decode_fragment(want)
            _, expected = c.from_xml(xml.encode("utf-8"), fragment=True)
        else:
            q, value = c.decode_value(want)
            _, expected = c.from_xml(xml.encode("utf-8"))
        if value != expected:
            mismatches.append(f"decode {name}: {value!r} != {expected!r}")
        elif c.encode_value(q, value, fragment=fragment) != want:
            mismatches.append(f"re-encode {name} differs")
        if len(mismatches) > 5:
            break
    assert done >= min(COUNT, 50), f"only {done} messages could be generated"
    assert not mismatches, f"{len(mismatches)} mismatches in {done}:\n" + "\n".join(mismatches)
