"""Python attribute names for the XSD element and attribute names of ISO 15118 / DIN 70121.

The rule, applied by :mod:`iso15118.codegen` and by the codec's compiled tables alike
(so classes and tables cannot disagree):

1. A few words of the standards are written in mixed case or run together in the XSDs;
   they are first rewritten to one capitalised word each, so the split below keeps them
   whole: ``SoC``/``SOC`` -> ``soc``, ``IDs`` -> ``ids``, ``eMAID``/``EMAIDs`` ->
   ``emaid``/``emaids``, ``PnC`` -> ``pnc``, ``V2X`` -> ``v2x``, ``VARh`` -> ``varh``;
   identifiers that end in ``ID`` glued to an acronym are split at the ``ID``:
   ``EVCCID`` -> ``evcc_id``, ``EVSEID`` -> ``evse_id``; ``DHpublickey`` ->
   ``dh_public_key``.
2. Then the usual CamelCase split: a run of capitals is one word (``DC_EVStatus`` ->
   ``dc_ev_status``, ``SAScheduleList`` -> ``sa_schedule_list``), ``_`` separates words,
   everything is lower case.
3. Python keywords get a trailing underscore; builtins such as ``id`` and ``type`` are
   fine as attribute names and stay as they are.

The XSD names themselves stay in each class's ``_exi_members`` for XML and JSON.
"""

from __future__ import annotations

import keyword
import re

from exi_codec.grammar import snake_words

# (pattern, replacement) on the XSD name, before the CamelCase split. A pattern only
# matches a whole word: the next character is a capital, a digit, "_" or the end.
_WORDS: tuple[tuple[str, str], ...] = (
    ("EVCCID", "EVCC_Id"),
    ("EVSEID", "EVSE_Id"),
    ("DHpublickey", "DH_PublicKey"),
    ("EMAIDs", "Emaids"),
    ("eMAID", "Emaid"),
    ("SoC", "Soc"),
    ("SOC", "Soc"),
    ("IDs", "Ids"),
    ("PnC", "Pnc"),
    ("V2X", "V2x"),
    ("VARh", "Varh"),
)
_WORD_RES = tuple((re.compile(re.escape(w) + r"(?=[A-Z0-9_]|$)"), r) for w, r in _WORDS)


def field_name(xsd_name: str) -> str:
    """The attribute name of an element or attribute called ``xsd_name`` in the XSD."""
    s = xsd_name
    for pattern, replacement in _WORD_RES:
        s = pattern.sub(replacement, s)
    s = snake_words(s)
    if keyword.iskeyword(s) or s in ("none", "true", "false"):
        s += "_"
    return s
