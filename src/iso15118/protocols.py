"""The protocols this library speaks and the XSD each one's EXI grammar is built from.

One grammar per protocol, as ISO 15118 and DIN 70121 prescribe and the reference
codecs do: the -20 namespaces each have their own (with CommonTypes and xmldsig), and
signatures' ``SignedInfo`` uses the xmldsig schema alone.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

XMLDSIG_NS = "http://www.w3.org/2000/09/xmldsig#"


@dataclass(frozen=True)
class Protocol:
    name: str  # CLI name, e.g. "iso2"
    xsd: str  # path relative to the schema directory
    namespace: str  # the namespace announced in supportedAppProtocol
    module: str  # generated model module in iso15118.messages
    root: str  # qualified name of the document element (messages)
    needs_xmldsig_location: bool = False


PROTOCOLS: dict[str, Protocol] = {
    p.name: p
    for p in (
        Protocol("apphand", "V2G_CI_AppProtocol.xsd", "urn:iso:15118:2:2010:AppProtocol",
                 "apphand", ""),
        Protocol("din", "din_spec/V2G_CI_MsgDef.xsd", "urn:din:70121:2012:MsgDef", "din",
                 "{urn:din:70121:2012:MsgDef}V2G_Message", True),
        Protocol("iso2", "iso15118_2/V2G_CI_MsgDef.xsd", "urn:iso:15118:2:2013:MsgDef", "iso2",
                 "{urn:iso:15118:2:2013:MsgDef}V2G_Message"),
        Protocol("iso20-common", "iso15118_20/V2G_CI_CommonMessages.xsd",
                 "urn:iso:std:iso:15118:-20:CommonMessages", "iso20_common", "", True),
        Protocol("iso20-ac", "iso15118_20/V2G_CI_AC.xsd", "urn:iso:std:iso:15118:-20:AC",
                 "iso20_ac", "", True),
        Protocol("iso20-dc", "iso15118_20/V2G_CI_DC.xsd", "urn:iso:std:iso:15118:-20:DC",
                 "iso20_dc", "", True),
        Protocol("iso20-wpt", "iso15118_20/V2G_CI_WPT.xsd", "urn:iso:std:iso:15118:-20:WPT",
                 "iso20_wpt", "", True),
        Protocol("iso20-acdp", "iso15118_20/V2G_CI_ACDP.xsd", "urn:iso:std:iso:15118:-20:ACDP",
                 "iso20_acdp", "", True),
        Protocol("xmldsig", "xmldsig-core-schema.xsd", XMLDSIG_NS, "xmldsig", ""),
    )
}

ALIASES = {"apphandshake": "apphand", "sap": "apphand", "iso-2": "iso2", "iso15118-2": "iso2",
           "din70121": "din"}


def get(name: str) -> Protocol:
    key = name.lower()
    key = ALIASES.get(key, key)
    try:
        return PROTOCOLS[key]
    except KeyError:
        from iso15118.errors import Iso15118Error

        raise Iso15118Error(
            f"unknown protocol {name!r}; one of {', '.join(PROTOCOLS)}") from None


def schema_dir() -> Path:
    """Where the XSDs are: beside the installed package, or the repository's schemas/."""
    env = os.environ.get("ISO15118_SCHEMAS")
    if env:
        return Path(env)
    here = Path(__file__).resolve().parent
    for cand in (here / "_schemas", here.parent.parent / "schemas"):
        if (cand / "V2G_CI_AppProtocol.xsd").exists():
            return cand
    raise FileNotFoundError("the ISO 15118 XSDs were not found (set ISO15118_SCHEMAS)")


def xsd_locations(p: Protocol) -> list[tuple[str, str]]:
    """Offline locations for imports the shipped XSDs leave unresolved (oracle quirk 8)."""
    if not p.needs_xmldsig_location:
        return []
    return [(XMLDSIG_NS, str(schema_dir() / "xmldsig-core-schema.xsd"))]
