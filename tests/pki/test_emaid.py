"""eMAID syntax, check digits (published examples), certificate CN, expiry warning."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iso15118.pki import (
    DEFAULT_EXPIRY_WARNING_DAYS,
    EmaidError,
    compute_check_digit,
    contract_update_due,
    emaid_from_certificate,
    parse_emaid,
)
from iso15118.pki.emaid import ALPHABET
from iso15118.pki.testpki import TestPki

# Examples of the eMI3 "Check Digit Calculation for Contract-IDs" paper, as used by the
# independent Scala implementation ShellRechargeSolutionsEU/mobilityid (CheckDigitSpec).
PUBLISHED = [
    ("NN123ABCDEFGHI", "T"),
    ("FRXYZ123456789", "2"),
    ("ITA1B2C3E4F5G6", "4"),
    ("ESZU8WOX834H1D", "R"),
    ("PT73902837ABCZ", "Z"),
    ("DE83DUIEN83QGZ", "D"),
    ("DE83DUIEN83ZGQ", "M"),
    ("DE8AA001234567", "0"),
    # From the same project's EmaIdSpec.
    ("NLTNM000122045", "U"),
    ("NLTNM000722345", "X"),
    ("DETNM000029658", "Q"),
    ("NLBMW0000009L1", "Z"),
]


@pytest.mark.parametrize(("body", "digit"), PUBLISHED)
def test_check_digit_matches_published_examples(body: str, digit: str) -> None:
    assert compute_check_digit(body) == digit
    assert compute_check_digit(body.lower()) == digit
    assert parse_emaid(body + digit).check_digit_valid is True


@pytest.mark.parametrize(
    "text",
    ["DE-8AA-1A2B3C4D5-V", "DE8AA1A2B3C4D5V", "de-8aa-1a2b3c4d5-v", " DE8AA1A2B3C4D5V "],
)
def test_forms_with_and_without_hyphens_parse_to_the_same_emaid(text: str) -> None:
    emaid = parse_emaid(text)
    assert (emaid.country, emaid.provider, emaid.instance, emaid.check_digit) == (
        "DE",
        "8AA",
        "1A2B3C4D5",
        "V",
    )
    assert emaid.normalized == "DE8AA1A2B3C4D5V"
    assert str(emaid) == "DE-8AA-1A2B3C4D5-V"
    assert emaid.check_digit_valid is True


def test_fourteen_characters_have_no_check_digit_to_verify() -> None:
    emaid = parse_emaid("DE-8AA-1A2B3C4D5")
    assert emaid.check_digit is None
    assert emaid.check_digit_valid is None
    assert emaid.expected_check_digit == "V"


def test_wrong_check_digit_is_reported_not_raised() -> None:
    emaid = parse_emaid("DE8AA1A2B3C4D5X")
    assert emaid.check_digit_valid is False
    assert emaid.to_dict()["expected_check_digit"] == "V"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "DE8AA1A2B3C4D",  # 13 characters
        "DE8AA1A2B3C4D5VV",  # 16 characters
        "D18AA1A2B3C4D5V",  # country code with a digit
        "DE-8AA1A2B3C4D5-V",  # separators used inconsistently
        "DE_8AA_1A2B3C4D5_V",  # wrong separator
        "DE8ÄA1A2B3C4D5V",  # non-ASCII letter
    ],
)
def test_malformed_emaids_are_rejected(text: str) -> None:
    with pytest.raises(EmaidError):
        parse_emaid(text)


def test_check_digit_needs_fourteen_alphanumerics() -> None:
    with pytest.raises(EmaidError):
        compute_check_digit("DE8AA1A2B3C4D")
    with pytest.raises(EmaidError):
        compute_check_digit("DE8AA1A2B3C4D*")


_BODY = st.text(alphabet=ALPHABET, min_size=14, max_size=14)


@given(_BODY, st.integers(0, 13), st.sampled_from(ALPHABET))
def test_every_single_character_error_changes_the_check_digit(
    body: str, position: int, replacement: str
) -> None:
    if body[position] == replacement:
        return
    altered = body[:position] + replacement + body[position + 1 :]
    assert compute_check_digit(altered) != compute_check_digit(body)


@given(_BODY, st.integers(0, 12))
def test_every_adjacent_transposition_changes_the_check_digit(body: str, position: int) -> None:
    a, b = body[position], body[position + 1]
    if a == b:
        return
    swapped = body[:position] + b + a + body[position + 2 :]
    assert compute_check_digit(swapped) != compute_check_digit(body)


def test_emaid_from_contract_certificate(pki2: TestPki, pki20: TestPki) -> None:
    for pki in (pki2, pki20):
        emaid = emaid_from_certificate(pki.cert("contract_leaf"))
        assert emaid.normalized == "DE8AA1A2B3C4D5V"
        assert emaid.check_digit_valid is True


def test_certificate_without_an_emaid_cn_is_rejected(pki2: TestPki) -> None:
    with pytest.raises(EmaidError):
        emaid_from_certificate(pki2.cert("secc_leaf"))


def test_update_is_due_within_the_warning_window_only(pki2: TestPki) -> None:
    cert = pki2.cert("contract_leaf")
    end = cert.not_valid_after_utc
    window = dt.timedelta(days=DEFAULT_EXPIRY_WARNING_DAYS)
    assert not contract_update_due(cert, at=end - window - dt.timedelta(hours=1))
    assert contract_update_due(cert, at=end - window + dt.timedelta(hours=1))
    assert contract_update_due(cert, at=end - dt.timedelta(minutes=1))
    # Expired: an update is no longer possible, the EV needs a new installation.
    assert not contract_update_due(cert, at=end + dt.timedelta(minutes=1))
    assert contract_update_due(cert, at=end - dt.timedelta(days=40), warning_days=60)
