#!/usr/bin/env python3
"""Write generated instances with the reference EXI encoding, one JSON object per line.

Why: when the codec disagrees with EXIficient, a corpus of (XML, oracle hex) pairs can be
replayed without Java, bisected, and diffed. Each line is reproducible on its own: ``seed`` is
the per-document seed, so
``InstanceGenerator(schema).generate(element, force=force, seed=seed)`` rebuilds the XML.

    python tools/oracle_corpus.py --protocol iso2 --count 200 --seed 1 --out /tmp/iso2.jsonl

Lines: {"protocol", "element", "xml", "hex", "seed", "force"}. For din/iso2 the documents are
``V2G_Message``s that cycle through every body element (``force`` names it). For the other
protocols they cycle through the global elements. ``--element`` (and ``--force HEAD=MEMBER``)
pick one root instead.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

import xmlschema  # noqa: E402
from lxml import etree  # noqa: E402
from support.oracle import SCHEMA_FILES, XMLDSIG_NS, get_oracle, schemas_dir  # noqa: E402

from exi_codec.instances import (  # noqa: E402
    InstanceGenerator,
    UngeneratableError,
    iter_global_elements,
    substitution_members,
)

#: protocol -> (message root, body substitution-group head)
V2G_BODY: dict[str, tuple[str, str]] = {
    "din": ("{urn:din:70121:2012:MsgDef}V2G_Message", "{urn:din:70121:2012:MsgDef}BodyElement"),
    "iso2": (
        "{urn:iso:15118:2:2013:MsgDef}V2G_Message",
        "{urn:iso:15118:2:2013:MsgBody}BodyElement",
    ),
}


def load_schema(protocol: str) -> xmlschema.XMLSchema:
    """The repository XSD, with the xmldsig import resolved to the repository copy."""
    base = schemas_dir()
    dsig = str(base / "xmldsig-core-schema.xsd")
    return xmlschema.XMLSchema(str(base / SCHEMA_FILES[protocol]), locations=[(XMLDSIG_NS, dsig)])


def targets(
    protocol: str, schema: xmlschema.XMLSchema, element: str | None, force: dict[str, str]
) -> list[tuple[str, dict[str, str]]]:
    """(root element, force) pairs to cycle through."""
    if element is not None:
        return [(element, force)]
    if protocol in V2G_BODY:
        root, head = V2G_BODY[protocol]
        return [(root, {head: m}) for m in substitution_members(schema, head)]
    return [(name, {}) for name in iter_global_elements(schema)]


def generate(
    protocol: str,
    count: int,
    seed: int,
    element: str | None,
    force: dict[str, str],
    wildcards: bool,
) -> Iterator[dict[str, Any]]:
    """Yield corpus records without the oracle hex (XML, element, seed, force)."""
    schema = load_schema(protocol)
    generator = InstanceGenerator(schema, wildcards=wildcards)
    pairs = targets(protocol, schema, element, force)
    seeds = random.Random(seed)
    dead: set[int] = set()
    produced = 0
    index = 0
    while produced < count and len(dead) < len(pairs):
        slot = index % len(pairs)
        index += 1
        if slot in dead:
            continue
        root, forced = pairs[slot]
        doc_seed = seeds.getrandbits(63)
        try:
            xml = generator.generate_string(root, force=forced, seed=doc_seed)
        except UngeneratableError as exc:
            print(f"skipping {root} {forced or ''}: {exc}", file=sys.stderr)
            dead.add(slot)
            continue
        produced += 1
        tag = etree.fromstring(xml).tag  # Clark name, also when --element was a local name
        yield {"protocol": protocol, "element": tag, "xml": xml, "seed": doc_seed, "force": forced}


def parse_force(values: list[str]) -> dict[str, str]:
    result: dict[str, str] = {}
    for value in values:
        head, sep, member = value.partition("=")
        if not sep:
            raise SystemExit(f"--force expects HEAD=MEMBER, got {value!r}")
        result[head] = member
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--protocol", required=True, choices=[*SCHEMA_FILES, "all"])
    parser.add_argument("--count", type=int, default=100, help="documents per protocol")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True, help="JSON lines file ('-': stdout)")
    parser.add_argument("--element", help="root element (Clark name or local name)")
    parser.add_argument("--force", action="append", default=[], metavar="HEAD=MEMBER")
    parser.add_argument("--wildcards", action="store_true", help="fill xs:any and mixed text")
    args = parser.parse_args(argv)

    oracle, reason = get_oracle()
    if oracle is None:
        print(f"oracle unavailable: {reason}", file=sys.stderr)
        return 2
    protocols = list(SCHEMA_FILES) if args.protocol == "all" else [args.protocol]
    force = parse_force(args.force)
    out = sys.stdout if str(args.out) == "-" else args.out.open("w", encoding="utf-8")
    written = failed = 0
    try:
        for protocol in protocols:
            for record in generate(
                protocol, args.count, args.seed, args.element, force, args.wildcards
            ):
                line: dict[str, Any] = {
                    "protocol": protocol,
                    "element": record["element"],
                    "xml": record["xml"],
                    "hex": None,
                    "seed": record["seed"],
                    "force": record["force"],
                }
                try:
                    line["hex"] = oracle.encode_xml(protocol, record["xml"]).hex()
                except Exception as exc:  # noqa: BLE001 - keep the document for debugging
                    line["error"] = str(exc)
                    failed += 1
                out.write(json.dumps(line, ensure_ascii=False) + "\n")
                written += 1
    finally:
        if out is not sys.stdout:
            out.close()
    print(f"{written} documents written, {failed} rejected by the oracle", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
