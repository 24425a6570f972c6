"""The compiled EXI grammar of each shipped protocol, with this package's member names.

One function, used by the codec (to build its tables) and by :mod:`iso15118.codegen`
(to generate the model classes), so that the attribute names in the tables and in the
classes come from the same rule (:func:`iso15118.naming.field_name`).
"""

from __future__ import annotations

import hashlib

from exi_codec.grammar import CompiledSchema
from iso15118 import protocols
from iso15118.naming import field_name


def compile_protocol(proto: protocols.Protocol) -> tuple[CompiledSchema, str]:
    """The compiled schema of ``proto`` and the sha256 of its main XSD."""
    from exi_codec import load_xmlschema
    from exi_codec.grammar import compile_schema

    path = protocols.schema_dir() / proto.xsd
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    schema = load_xmlschema([path], protocols.xsd_locations(proto))
    return compile_schema(schema, naming=field_name), sha
