"""Plug & Charge PKI for ISO 15118-2 and ISO 15118-20 (no EXI needed).

High level, one call each:

* :func:`validate_chain` - is this leaf good for this role (SECC, contract, OEM
  provisioning, CPS) under the -2 or -20 certificate profile? Returns a
  :class:`ChainVerdict` that keeps passed, failed and not-checked rules apart.
* :func:`ocsp_request_data` / :func:`check_ocsp_response` - revocation via OCSP, including
  OCPP 2.0.1's OCSPRequestData.
* :func:`parse_emaid` / :func:`emaid_from_certificate` / :func:`compute_check_digit`.
* :func:`decrypt_contract_key_iso2` and friends - the contract key transport of
  CertificateInstallationRes/CertificateUpdateRes, both directions.
* :func:`create_test_pki` - a complete test PKI with broken variants.

Primitive steps (signature check with a certificate's key, loading, names) live in
:mod:`iso15118.pki.certs` for the XML signature layer to reuse.
"""

from iso15118.pki.certs import (
    common_name,
    load_certificate,
    load_certificate_files,
    load_certificates,
    load_private_key,
    signature_is_valid,
)
from iso15118.pki.chain import build_path, validate_chain
from iso15118.pki.emaid import (
    DEFAULT_EXPIRY_WARNING_DAYS,
    Emaid,
    compute_check_digit,
    contract_update_due,
    days_until_expiry,
    emaid_from_certificate,
    parse_emaid,
)
from iso15118.pki.errors import (
    CertificateLoadError,
    EmaidError,
    KeyInstallationError,
    OcspError,
    PkiError,
)
from iso15118.pki.keyinstall import (
    EncryptedContractKey,
    EncryptedContractKey20,
    decrypt_contract_key_iso2,
    decrypt_contract_key_iso20_ed448,
    decrypt_contract_key_iso20_secp521,
    decrypt_contract_key_iso20_x448,
    encrypt_contract_key_iso2,
    encrypt_contract_key_iso20,
    generate_ed448_contract_key,
    installation_aad,
    x448_private_from_ed448,
    x448_public_from_ed448,
)
from iso15118.pki.ocsp import (
    CertStatus,
    OcspRequestData,
    OcspResult,
    build_ocsp_request,
    check_ocsp_response,
    ocsp_request_data,
    responder_urls,
)
from iso15118.pki.ocsp_client import fetch_ocsp_response, post_ocsp_request
from iso15118.pki.profiles import PROFILES, ProtocolVersion, Role, VersionProfile
from iso15118.pki.testpki import (
    build_test_pki,
    create_test_pki,
    secc_tls_files,
    vehicle_tls_files,
    write_test_pki,
)
from iso15118.pki.verdict import ChainVerdict, Check, Outcome, Rule

__all__ = [
    "DEFAULT_EXPIRY_WARNING_DAYS",
    "PROFILES",
    "CertStatus",
    "CertificateLoadError",
    "ChainVerdict",
    "Check",
    "Emaid",
    "EmaidError",
    "EncryptedContractKey",
    "EncryptedContractKey20",
    "KeyInstallationError",
    "OcspError",
    "OcspRequestData",
    "OcspResult",
    "Outcome",
    "PkiError",
    "ProtocolVersion",
    "Role",
    "Rule",
    "VersionProfile",
    "build_ocsp_request",
    "build_path",
    "build_test_pki",
    "check_ocsp_response",
    "common_name",
    "compute_check_digit",
    "contract_update_due",
    "create_test_pki",
    "secc_tls_files",
    "vehicle_tls_files",
    "write_test_pki",
    "days_until_expiry",
    "decrypt_contract_key_iso2",
    "decrypt_contract_key_iso20_ed448",
    "decrypt_contract_key_iso20_secp521",
    "decrypt_contract_key_iso20_x448",
    "emaid_from_certificate",
    "encrypt_contract_key_iso2",
    "encrypt_contract_key_iso20",
    "fetch_ocsp_response",
    "generate_ed448_contract_key",
    "installation_aad",
    "load_certificate",
    "load_certificate_files",
    "load_certificates",
    "load_private_key",
    "ocsp_request_data",
    "parse_emaid",
    "post_ocsp_request",
    "responder_urls",
    "signature_is_valid",
    "validate_chain",
    "x448_private_from_ed448",
    "x448_public_from_ed448",
]
