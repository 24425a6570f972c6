"""Chain validation: every good chain passes, every broken variant fails for its reason."""

from __future__ import annotations

import datetime as dt
import json
import random

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from iso15118.pki import (
    ChainVerdict,
    Outcome,
    ProtocolVersion,
    Role,
    Rule,
    build_test_pki,
    validate_chain,
)
from iso15118.pki.profiles import key_usage_bits
from iso15118.pki.testpki import TestPki, _Issuer

GOOD_2 = ["secc", "cps", "contract", "oem"]
GOOD_20 = GOOD_2 + [f"{c}_ed448" for c in GOOD_2]
BROKEN_2 = sorted(c for c in build_test_pki(2, broken=True).chains if c.startswith("broken/"))
BROKEN_20 = sorted(c for c in build_test_pki(20, broken=True).chains if c.startswith("broken/"))


def _validate(pki: TestPki, chain: str, at: dt.datetime | None = None) -> ChainVerdict:
    leaf, inter, roots = pki.chain_certs(chain)
    spec = pki.chains[chain]
    return validate_chain(leaf, inter, roots, role=spec.role, version=pki.version, at=at)


@pytest.mark.parametrize("chain", GOOD_2)
def test_every_iso15118_2_chain_is_valid(pki2: TestPki, chain: str) -> None:
    verdict = _validate(pki2, chain)
    assert verdict.valid, verdict.failures
    assert len(verdict.certificates) == 4


@pytest.mark.parametrize("chain", GOOD_20)
def test_every_iso15118_20_chain_is_valid(pki20: TestPki, chain: str) -> None:
    verdict = _validate(pki20, chain)
    assert verdict.valid, verdict.failures


@pytest.mark.parametrize("chain", BROKEN_2)
def test_iso15118_2_broken_variant_fails_for_its_rule_only(pki2: TestPki, chain: str) -> None:
    spec = pki2.chains[chain]
    verdict = _validate(pki2, chain)
    assert not verdict.valid
    assert verdict.failure_keys() == {(spec.expect_rule, spec.expect_index)}


@pytest.mark.parametrize("chain", BROKEN_20)
def test_iso15118_20_broken_variant_fails_for_its_rule_only(pki20: TestPki, chain: str) -> None:
    spec = pki20.chains[chain]
    verdict = _validate(pki20, chain)
    assert verdict.failure_keys() == {(spec.expect_rule, spec.expect_index)}


def test_broken_variants_cover_every_profile_rule(pki2: TestPki) -> None:
    covered = {s.expect_rule for s in pki2.chains.values() if s.expect_rule is not None}
    # Revocation is covered by the OCSP tests; everything else by a broken variant.
    assert covered == set(Rule) - {Rule.REVOCATION}


def test_revocation_is_not_checked_without_ocsp_responses(pki2: TestPki) -> None:
    verdict = _validate(pki2, "secc")
    assert verdict.valid
    reasons = {(c.rule, c.index, c.detail) for c in verdict.not_checked}
    assert reasons == {(Rule.REVOCATION, i, "no OCSP response supplied") for i in (0, 1, 2)}


def test_verdict_json_keeps_valid_failed_and_not_checked_apart(pki2: TestPki) -> None:
    data = json.loads(json.dumps(_validate(pki2, "broken/expired_leaf").to_dict()))
    assert data["status"] == "invalid"
    assert [(f["rule"], f["certificate"]) for f in data["failures"]] == [("cert.expired", 0)]
    assert {n["rule"] for n in data["not_checked"]} == {"cert.revocation"}
    assert all(p["outcome"] == "passed" for p in data["passed"])
    assert data["failures"][0]["reference"].startswith("RFC 5280")
    assert [c["index"] for c in data["certificates"]] == [0, 1, 2, 3]


def test_validation_time_is_an_input(pki2: TestPki) -> None:
    leaf = pki2.cert("secc_leaf")
    later = leaf.not_valid_after_utc + dt.timedelta(seconds=1)
    verdict = _validate(pki2, "secc", at=later)
    assert verdict.failure_keys() == {(Rule.VALIDITY_NOT_AFTER, 0)}
    naive_before = (leaf.not_valid_before_utc - dt.timedelta(days=2)).replace(tzinfo=None)
    verdict = _validate(pki2, "secc", at=naive_before)
    assert (Rule.VALIDITY_NOT_BEFORE, 0) in verdict.failure_keys()


def test_intermediates_in_any_order_and_as_der_bytes(pki2: TestPki) -> None:
    leaf, inter, roots = pki2.chain_certs("contract")
    shuffled = [c.public_bytes(Encoding.DER) for c in reversed(inter)]
    verdict = validate_chain(
        leaf.public_bytes(Encoding.PEM), shuffled, roots, role="contract", version=2
    )
    assert verdict.valid


def test_unrelated_intermediates_are_ignored(pki2: TestPki) -> None:
    leaf, inter, roots = pki2.chain_certs("secc")
    noise = [pki2.cert("mo_sub_ca1"), pki2.cert("oem_sub_ca2")]
    pool = inter + noise
    random.Random(1).shuffle(pool)
    assert validate_chain(leaf, pool, roots, role=Role.SECC).valid


def test_leaf_checked_for_the_wrong_role_fails_on_domain_component(pki2: TestPki) -> None:
    leaf, inter, roots = pki2.chain_certs("secc")
    verdict = validate_chain(leaf, inter, roots, role=Role.CPS)
    assert verdict.failure_keys() == {(Rule.DOMAIN_COMPONENT, 0)}


def test_contract_chain_against_the_v2g_root_is_untrusted(pki2: TestPki) -> None:
    leaf, inter, _ = pki2.chain_certs("contract")
    verdict = validate_chain(leaf, inter, [pki2.cert("v2g_root")], role=Role.CONTRACT)
    assert verdict.failure_keys() == {(Rule.CHAIN_BUILT, 2)}
    assert verdict.not_checked[0].rule is Rule.TRUST_ANCHOR


def test_iso15118_2_chain_fails_the_iso15118_20_profile_on_every_certificate(
    pki2: TestPki,
) -> None:
    leaf, inter, roots = pki2.chain_certs("secc")
    verdict = validate_chain(leaf, inter, roots, role=Role.SECC, version=20)
    expected = {(rule, i) for rule in (Rule.SIGNATURE_ALGORITHM, Rule.PUBLIC_KEY) for i in range(4)}
    assert verdict.failure_keys() == expected


def test_iso15118_20_chain_fails_the_iso15118_2_profile(pki20: TestPki) -> None:
    leaf, inter, roots = pki20.chain_certs("secc_ed448")
    verdict = validate_chain(leaf, inter, roots, role=Role.SECC, version=ProtocolVersion.ISO15118_2)
    assert {r for r, _ in verdict.failure_keys()} == {Rule.SIGNATURE_ALGORITHM, Rule.PUBLIC_KEY}


def _leaf_like(pki: TestPki, template: str, issuer: str, dc: str | None) -> x509.Certificate:
    """A leaf with ``template``'s keyUsage and the given DC (None: no DC at all)."""
    iss = _Issuer(ProtocolVersion.ISO15118_2, dt.datetime.now(dt.timezone.utc), "http://x/")
    ku = pki.cert(template).extensions.get_extension_for_class(x509.KeyUsage).value
    issued = iss.issue(
        "t",
        "DE8AA1A2B3C4D5V",
        dc,
        iss.new_key("p256"),
        pki.certificates[issuer],
        ca=False,
        key_usage=key_usage_bits(ku),
    )
    return issued.certificate


def test_missing_domain_component_is_accepted_where_annex_f_makes_it_optional(
    pki2: TestPki,
) -> None:
    _, inter, roots = pki2.chain_certs("contract")
    no_dc = _leaf_like(pki2, "contract_leaf", "mo_sub_ca2", None)
    assert validate_chain(no_dc, inter, roots, role=Role.CONTRACT).valid


def test_missing_domain_component_fails_an_secc_certificate(pki2: TestPki) -> None:
    # [V2G2-925]: the SECC certificate's DC is a validity condition.
    _, inter, roots = pki2.chain_certs("secc")
    no_dc = _leaf_like(pki2, "secc_leaf", "cpo_sub_ca2", None)
    verdict = validate_chain(no_dc, inter, roots, role=Role.SECC)
    assert verdict.failure_keys() == {(Rule.DOMAIN_COMPONENT, 0)}


def test_every_check_names_a_rule_reference(pki20: TestPki) -> None:
    verdict = _validate(pki20, "oem")
    assert all(c.rule.reference for c in verdict)
    assert {c.outcome for c in verdict} <= {Outcome.PASSED, Outcome.NOT_CHECKED}


def test_garbage_leaf_raises_a_typed_error() -> None:
    from iso15118.errors import Iso15118Error
    from iso15118.pki import CertificateLoadError

    with pytest.raises(CertificateLoadError):
        validate_chain(b"not a certificate", role="secc")
    assert issubclass(CertificateLoadError, Iso15118Error)


def test_a_root_offered_as_leaf_is_not_a_valid_leaf(pki2: TestPki) -> None:
    root = pki2.cert("v2g_root")
    verdict = validate_chain(root, [], [root], role=Role.SECC)
    assert not verdict.valid
    assert (Rule.CA_FLAG, 0) in verdict.failure_keys()
    assert (Rule.DOMAIN_COMPONENT, 0) in verdict.failure_keys()
