"""Where signed content and signers sit in a message's model tree.

An ISO 15118 reference names its element by ``Id`` (``URI="#ID1"``), so verification has
to find that element among the typed model objects and know its element name, because
the EXI fragment that is hashed starts with the element's own start tag. The compiled
grammar tables of :mod:`iso15118.codec` say which member holds which element (including
substitution-group members such as the -2 ``BodyElement``); this module walks them.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from functools import cache
from types import ModuleType
from typing import Any

from cryptography import x509

from exi_codec.grammar import M_ATTRIBUTE, M_ELEMENT
from exi_codec.model import Model
from iso15118 import codec, protocols
from iso15118.pki.certs import load_certificate
from iso15118.pki.errors import CertificateLoadError
from iso15118.xmldsig.errors import NoSignatureError, ReferenceNotFoundError, SignatureError


def protocol_of(message: Any) -> str:
    """The protocol whose grammar encodes ``message``, from the module of its class."""
    module = type(message).__module__
    prefix = "iso15118.messages."
    if module.startswith(prefix):
        name = module[len(prefix):]
        for p in protocols.PROTOCOLS.values():
            if p.module == name:
                return p.name
    raise SignatureError(
        f"{type(message).__name__} is not a generated ISO 15118 model; pass protocol=")


def root_qname(protocol: str, message: Any) -> str:
    """The document element name of a message (-20 messages are their own roots)."""
    p = protocols.get(protocol)
    if p.root:
        return p.root
    c = codec.get_codec(protocol)
    tid = c.class_type_ids.get(type(message), -1)
    for q, t in c.xml.global_types.items():
        if t == tid:
            return str(q)
    raise SignatureError(f"{type(message).__name__} is not a message of {p.name}")


def _child(c: Any, member: dict[str, Any], item: Any) -> tuple[int, int]:
    """(qname id, type id) of one child: the member itself or a substitution-group member."""
    if len(member["qnames"]) == 1:
        return member["qnames"][0], member["child_types"][0]
    for q, ct in zip(member["qnames"], member["child_types"], strict=True):
        if c.classes[ct] is not None and type(item) is c.classes[ct]:
            return q, ct
    for q, ct in zip(member["qnames"], member["child_types"], strict=True):
        if c.tables["types"][ct]["simple"]:
            return q, ct
    raise SignatureError(f"{type(item).__name__} cannot stand for {member['xml_name']}")


def _walk(c: Any, qname: str, value: Any, tid: int) -> Iterator[tuple[str, Any, str | None]]:
    """Every element below and including ``value``: (Clark name, value, its Id or None)."""
    t = c.tables["types"][tid]
    if t["simple"] or not isinstance(value, Model):
        yield qname, value, None
        return
    ident = None
    for m in t["members"]:
        if m["kind"] == M_ATTRIBUTE and m["xml_name"] == "Id":
            ident = getattr(value, m["name"], None)
    yield qname, value, ident
    for m in t["members"]:
        if m["kind"] != M_ELEMENT:
            continue
        v = getattr(value, m["name"], None)
        if v is None:
            continue
        for item in v if m["is_list"] else (v,):
            q, ct = _child(c, m, item)
            yield from _walk(c, c.grammar.qname_of(q), item, ct)


def id_elements(message: Any, protocol: str | None = None) -> list[tuple[str, str, Any]]:
    """Every element of the message that carries an ``Id``: (Id, Clark name, value).

    The signature itself is skipped: its ``Id`` attributes name signature parts, never
    content that the standards sign.
    """
    protocol = protocol or protocol_of(message)
    c = codec.get_codec(protocol)
    out: list[tuple[str, str, Any]] = []
    tid = c.class_type_ids.get(type(message), -1)
    if tid < 0:
        raise SignatureError(f"{type(message).__name__} is not a model of {protocol}")
    for q, v, ident in _walk(c, root_qname(protocol, message), message, tid):
        if ident is not None and not q.startswith("{" + protocols.XMLDSIG_NS + "}"):
            out.append((ident, q, v))
    return out


def find_by_id(message: Any, ident: str, protocol: str | None = None) -> tuple[str, Any]:
    """The element whose ``Id`` is ``ident`` (a leading ``#`` is accepted): (name, value).

    Raises :class:`ReferenceNotFoundError` when no element or more than one carries it:
    XML IDs are unique, and resolving a duplicate would invite signature-wrapping attacks.
    """
    key = ident[1:] if ident.startswith("#") else ident
    hits = [(q, v) for i, q, v in id_elements(message, protocol) if i == key]
    if not hits:
        raise ReferenceNotFoundError(f"no element has Id {key!r}", reference="#" + key)
    if len(hits) > 1:
        raise ReferenceNotFoundError(f"{len(hits)} elements have Id {key!r}",
                                     reference="#" + key)
    return hits[0]


# ----------------------------------------------------------------------------- model modules


@cache
def _classes_by_name(module_name: str) -> dict[tuple[str, str], type[Model]]:
    module: ModuleType = importlib.import_module(f"iso15118.messages.{module_name}")
    return {(k._exi_namespace, k._exi_name): k for k in module.CLASSES.values()}


def convert(value: Any, module_name: str) -> Any:
    """The same xmldsig value with the classes of another protocol's model module.

    The xmldsig types are one set of classes shared by every protocol, so this is the
    identity for them; it stays for values built with the generic codec's classes.
    """
    if isinstance(value, Model):
        cls = type(value)
        target = _classes_by_name(module_name).get((cls._exi_namespace, cls._exi_name))
        if target is None:
            raise SignatureError(f"{cls._exi_name} has no counterpart in {module_name}")
        if target is cls:
            return value
        return target(**{m[0]: convert(getattr(value, m[0]), module_name)
                         for m in cls._exi_members})
    if isinstance(value, list):
        return [convert(v, module_name) for v in value]
    if isinstance(value, tuple):
        return tuple(convert(v, module_name) for v in value)
    return value


# ----------------------------------------------------------------------------- signers


_EMBEDDED_SIGNERS: dict[tuple[str, str], tuple[str, ...]] = {
    # ISO 15118-2: CertificateInstallationReq is signed with the key of the OEM provisioning
    # certificate it carries, CertificateUpdateReq with the contract key whose chain it
    # carries, the two responses with the key of the SA (CPS) provisioning certificate.
    ("iso2", "CertificateInstallationReqType"): ("oem_provisioning_cert",),
    ("iso2", "CertificateUpdateReqType"): ("contract_signature_cert_chain", "certificate"),
    ("iso2", "CertificateInstallationResType"): ("sa_provisioning_certificate_chain",
                                                 "certificate"),
    ("iso2", "CertificateUpdateResType"): ("sa_provisioning_certificate_chain", "certificate"),
    # ISO 15118-20: the request carries the OEM provisioning chain, the response the CPS chain.
    ("iso20-common", "CertificateInstallationReqType"): ("oem_provisioning_certificate_chain",
                                                         "certificate"),
    ("iso20-common", "CertificateInstallationResType"): ("cps_certificate_chain",
                                                         "certificate"),
}


def embedded_signer(message: Any, protocol: str | None = None) -> x509.Certificate | None:
    """The certificate of the signer when the message itself carries it, else None.

    Only the messages whose signer's leaf certificate travels in the same message
    qualify. The certificate is not validated here (see :mod:`iso15118.pki`).
    """
    protocol = protocol or protocol_of(message)
    body = message
    if protocol in ("iso2", "din"):
        body = getattr(getattr(message, "body", None), "body_element", None)
    path = _EMBEDDED_SIGNERS.get((protocol, type(body).__name__))
    if path is None:
        return None
    value: Any = body
    for attr in path:
        value = getattr(value, attr, None)
        if value is None:
            return None
    try:
        return load_certificate(bytes(value))
    except CertificateLoadError as e:
        raise SignatureError(f"the embedded signer certificate: {e}") from e


def message_header(message: Any) -> Any:
    """The header that holds the Signature (-2/DIN ``V2G_Message.Header``, -20 ``Header``)."""
    header = getattr(message, "header", None)
    if header is None or not hasattr(header, "signature"):
        raise NoSignatureError(f"{type(message).__name__} has no message header")
    return header
