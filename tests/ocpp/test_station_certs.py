"""A02/A03 and M03-M05: the SECC's own certificate and the station's roots through OCPP,
with the test PKI as the CSMS's CA and real TLS handshakes on loopback for the hot swap."""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
from collections.abc import Callable
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448

from iso15118.ocpp import (
    OcppConversionError,
    OcppPayloadError,
    TrustStore,
    certificate_signed,
    load_secc_certificate,
    sign_certificate_request,
)
from iso15118.pki.testpki import TestPki
from iso15118.transport.tls import iso2_server_context

VERSIONS = ["2.0.1", "2.1"]
Valid = Callable[[str, Any, str], None]


def pem(*certs: x509.Certificate) -> str:
    return "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in certs)


def issue_for_csr(pki: TestPki, csr_pem: str, *, issuer: str = "cpo_sub_ca2",
                  days: int = 365) -> x509.Certificate:
    """What a CSMS's CA does with the CSR: the SECC leaf profile of the test PKI (its
    extensions), the CSR's subject and key, signed by the CPO sub-CA 2."""
    csr = x509.load_pem_x509_csr(csr_pem.encode())
    model, ca = pki.cert("secc_leaf"), pki.cert(issuer)
    now = dt.datetime.now(dt.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(csr.subject).issuer_name(ca.subject)
               .public_key(csr.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=5))
               .not_valid_after(now + dt.timedelta(days=days)))
    for ext in model.extensions:
        if isinstance(ext.value, x509.SubjectKeyIdentifier):
            builder = builder.add_extension(
                x509.SubjectKeyIdentifier.from_public_key(csr.public_key()),  # type: ignore[arg-type]
                ext.critical)
        else:
            builder = builder.add_extension(ext.value, ext.critical)
    key = pki.key(issuer)
    algorithm = None if isinstance(key, ed448.Ed448PrivateKey) else (
        hashes.SHA512() if key.curve.key_size > 384 else hashes.SHA256())  # type: ignore[union-attr]
    return builder.sign(key, algorithm)  # type: ignore[arg-type]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("curve", ["p256", "p521", "ed448"])
def test_csr(valid: Valid, version: str, curve: str) -> None:
    key: Any = (ed448.Ed448PrivateKey.generate() if curve == "ed448" else
                ec.generate_private_key(ec.SECP256R1() if curve == "p256" else ec.SECP521R1()))
    iso20 = curve != "p256"
    request = sign_certificate_request(key, version, common_name="DE*ABC*E1",
                                       organization="ACME CPO", country="DE", iso20=iso20)
    valid("SignCertificateRequest", request, version)
    csr = x509.load_pem_x509_csr(request["csr"].encode())
    assert csr.is_signature_valid
    names = {a.oid._name: a.value for a in csr.subject}
    assert names == {"commonName": "DE*ABC*E1", "organizationName": "ACME CPO",
                     "countryName": "DE", "domainComponent": "CPO"}
    assert request["certificateType"] == (
        "V2G20Certificate" if iso20 and version == "2.1" else "V2GCertificate")


@pytest.mark.parametrize("version", VERSIONS)
def test_certificate_signed_accepts_our_chain(pki2: TestPki, valid: Valid,
                                              version: str) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = sign_certificate_request(key, version, common_name="DE*ABC*E1", organization="ACME",
                                   country="DE")["csr"]
    leaf = issue_for_csr(pki2, csr)
    payload = {"certificateChain": pem(leaf, pki2.cert("cpo_sub_ca2"), pki2.cert("cpo_sub_ca1")),
               "certificateType": "V2GCertificate"}
    valid("CertificateSignedRequest", payload, version)
    result = certificate_signed(payload, version, key=key, v2g_roots=[pki2.cert("v2g_root")])
    valid("CertificateSignedResponse", result.response, version)
    assert result.response == {"status": "Accepted"}
    assert result.chain is not None and result.chain[0] == leaf.public_bytes(
        serialization.Encoding.DER) and len(result.chain) == 3


@pytest.mark.parametrize(("case", "code"), [
    ("other key", "InvalidCertificate"),
    ("wrong root", "InvalidCertChain"),
    ("missing sub-CA", "InvalidCertChain"),
    ("no PEM", "InvalidCertificate"),
])
def test_certificate_signed_rejects(pki2: TestPki, valid: Valid, case: str, code: str) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    other = ec.generate_private_key(ec.SECP256R1())
    csr = sign_certificate_request(other if case == "other key" else key, "2.0.1",
                                   common_name="DE*ABC*E1", organization="ACME",
                                   country="DE")["csr"]
    leaf = issue_for_csr(pki2, csr)
    chain = [leaf, pki2.cert("cpo_sub_ca2"), pki2.cert("cpo_sub_ca1")]
    roots = [pki2.cert("oem_root") if case == "wrong root" else pki2.cert("v2g_root")]
    if case == "missing sub-CA":
        chain = chain[:2]
    text = "garbage" if case == "no PEM" else pem(*chain)
    result = certificate_signed({"certificateChain": text}, "2.0.1", key=key, v2g_roots=roots)
    valid("CertificateSignedResponse", result.response, "2.0.1")
    assert result.response["status"] == "Rejected" and result.chain is None
    assert result.response["statusInfo"]["reasonCode"] == code


def test_certificate_signed_for_the_ocpp_client_is_not_ours(pki2: TestPki,
                                                            schemas_available: None) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(OcppConversionError, match="ChargingStationCertificate"):
        certificate_signed({"certificateChain": "x", "certificateType":
                            "ChargingStationCertificate"}, "2.0.1", key=key, v2g_roots=[])
    with pytest.raises(OcppPayloadError) as info:
        certificate_signed({}, "2.0.1", key=key, v2g_roots=[])
    assert info.value.field == "certificateChain"


async def _peer_leaf(port: int) -> x509.Certificate:
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.check_hostname = False
    client.verify_mode = ssl.CERT_NONE
    _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client)
    der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    writer.close()
    await writer.wait_closed()
    return x509.load_der_x509_certificate(der)


def test_new_secc_certificate_without_a_restart(tmp_path: Any, pki2: TestPki) -> None:
    """A real TLS 1.2 server: the handshake after load_secc_certificate presents the new
    certificate; the listening socket and the context object stay the same."""
    old = pki2.cert("secc_leaf")
    (tmp_path / "old.pem").write_text(pem(old, pki2.cert("cpo_sub_ca2")))
    (tmp_path / "old.key").write_bytes(pki2.key("secc_leaf").private_bytes(  # type: ignore[union-attr]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    context = iso2_server_context(tmp_path / "old.pem", tmp_path / "old.key")
    key = ec.generate_private_key(ec.SECP256R1())
    csr = sign_certificate_request(key, "2.0.1", common_name="DE*ABC*E2", organization="ACME",
                                   country="DE")["csr"]
    new = issue_for_csr(pki2, csr)
    result = certificate_signed(
        {"certificateChain": pem(new, pki2.cert("cpo_sub_ca2"), pki2.cert("cpo_sub_ca1"))},
        "2.0.1", key=key, v2g_roots=[pki2.cert("v2g_root")])
    assert result.chain is not None

    async def run() -> tuple[x509.Certificate, x509.Certificate]:
        server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0,
                                            ssl=context)
        port = server.sockets[0].getsockname()[1]
        try:
            before = await _peer_leaf(port)
            load_secc_certificate(context, result.chain or (), key)
            after = await _peer_leaf(port)
        finally:
            server.close()
            await server.wait_closed()
        return before, after

    before, after = asyncio.run(run())
    assert before == old and after == new


def test_load_refuses_a_key_that_does_not_match(pki2: TestPki) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    chain = (pki2.cert("secc_leaf").public_bytes(serialization.Encoding.DER),)
    with pytest.raises(OcppConversionError, match="refused"):
        load_secc_certificate(context, chain, ec.generate_private_key(ec.SECP256R1()))


# ------------------------------------------------------------------ the trust store


@pytest.mark.parametrize("version", VERSIONS)
def test_install_list_delete_roots(pki2: TestPki, valid: Valid, version: str) -> None:
    store = TrustStore()
    assert store.installed_ids({}, version) == {"status": "NotFound"}
    for kind, name in (("V2GRootCertificate", "v2g_root"), ("MORootCertificate", "mo_root")):
        request = {"certificateType": kind, "certificate": pem(pki2.cert(name))}
        valid("InstallCertificateRequest", request, version)
        response = store.install(request, version)
        valid("InstallCertificateResponse", response, version)
        assert response == {"status": "Accepted"}
        assert store.install(request, version) == {"status": "Accepted"}  # no duplicate
    assert store.contract_roots() == (pki2.cert("mo_root"), pki2.cert("v2g_root"))
    store.contracts_under_v2g_root = False
    assert store.contract_roots() == (pki2.cert("mo_root"),)

    store.secc_chain = (pki2.cert("secc_leaf"), pki2.cert("cpo_sub_ca2"),
                        pki2.cert("cpo_sub_ca1"))
    listed = store.installed_ids({}, version)
    valid("GetInstalledCertificateIdsResponse", listed, version)
    kinds = [c["certificateType"] for c in listed["certificateHashDataChain"]]
    assert kinds == ["V2GRootCertificate", "MORootCertificate", "V2GCertificateChain"]
    chain_entry = listed["certificateHashDataChain"][2]
    assert chain_entry["certificateHashData"]["serialNumber"] == format(
        pki2.cert("secc_leaf").serial_number, "x")
    assert len(chain_entry["childCertificateHashData"]) == 2
    only_mo = store.installed_ids({"certificateType": ["MORootCertificate"]}, version)
    [mo] = only_mo["certificateHashDataChain"]

    delete = {"certificateHashData": mo["certificateHashData"]}
    valid("DeleteCertificateRequest", delete, version)
    assert store.delete(delete, version) == {"status": "Accepted"}
    assert store.delete(delete, version) == {"status": "NotFound"}
    assert store.contract_roots() == ()
    own = {"certificateHashData": chain_entry["certificateHashData"]}
    assert store.delete(own, version) == {"status": "Failed"}


@pytest.mark.parametrize("what", ["leaf", "two", "garbage", "sub-CA"])
def test_install_rejects_what_is_not_one_root(pki2: TestPki, valid: Valid, what: str) -> None:
    text = {"leaf": pem(pki2.cert("secc_leaf")),
            "two": pem(pki2.cert("v2g_root"), pki2.cert("mo_root")),
            "garbage": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            "sub-CA": pem(pki2.cert("cpo_sub_ca1"))}[what]
    response = TrustStore().install({"certificateType": "V2GRootCertificate",
                                     "certificate": text}, "2.0.1")
    valid("InstallCertificateResponse", response, "2.0.1")
    assert response["status"] == "Rejected"


def test_installed_mo_root_is_trusted_by_the_secc(pki2: TestPki) -> None:
    """The store feeds SeccPnc: a contract is refused before the MO root is installed and
    accepted after, without a new SeccPnc."""
    from iso15118.session.pnc import SeccPnc

    store = TrustStore(contracts_under_v2g_root=False)
    pnc = SeccPnc(contract_roots=store.contract_roots())
    chain = tuple(c.public_bytes(serialization.Encoding.DER) for c in (
        pki2.cert("contract_leaf"), pki2.cert("mo_sub_ca2"), pki2.cert("mo_sub_ca1")))
    assert pnc.check_contract(chain, None) == "FAILED_CertChainError"
    store.install({"certificateType": "MORootCertificate", "certificate":
                   pem(pki2.cert("mo_root"))}, "2.0.1")
    pnc.contract_roots = store.contract_roots()
    assert pnc.check_contract(chain, None) == "OK"
