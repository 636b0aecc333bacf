"""ContentProducer codes: 001 + 1 + USCC (GB 32100-2015, mod-31 check) + 5-digit product suffix."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labeler.metadata.producer_code import (
    USCC_ALPHABET,
    USCC_WEIGHTS,
    parse_content_producer,
    uscc_check_character,
    uscc_is_valid,
)

#: Published Unified Social Credit Codes of large companies (public business-registration data; see
#: docs/compliance.md for where they were confirmed).
REAL_USCCS = {
    "914403001922038216": "Huawei Technologies Co., Ltd.",
    "9144030071526726XG": "Tencent Technology (Shenzhen) Co., Ltd.",
    "91330100716105852F": "Alibaba (China) Network Technology Co., Ltd.",
    "91110108551385082Q": "Xiaomi Technology Co., Ltd.",
}


def test_alphabet_and_weights() -> None:
    assert len(USCC_ALPHABET) == 31 and not set("IOSVZ") & set(USCC_ALPHABET)
    assert tuple(pow(3, i, 31) for i in range(17)) == USCC_WEIGHTS


@pytest.mark.parametrize("code", sorted(REAL_USCCS))
def test_real_codes_validate(code: str) -> None:
    assert uscc_check_character(code[:17]) == code[17]
    assert uscc_is_valid(code)


@pytest.mark.parametrize("code", sorted(REAL_USCCS))
def test_every_single_character_mutation_is_rejected(code: str) -> None:
    for position in range(18):
        for replacement in USCC_ALPHABET:
            if replacement == code[position]:
                continue
            mutated = code[:position] + replacement + code[position + 1 :]
            assert not uscc_is_valid(mutated), mutated


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=USCC_ALPHABET, min_size=17, max_size=17))
def test_computed_check_character_always_validates(first17: str) -> None:
    assert uscc_is_valid(first17 + uscc_check_character(first17))


@pytest.mark.parametrize("bad", ["", "12345", "9144030019220I821", "9144030019220382", "914403001922038216"])
def test_check_character_rejects_bad_input(bad: str) -> None:
    with pytest.raises(ValueError):
        uscc_check_character(bad)


def test_full_code_is_explained() -> None:
    result = parse_content_producer("001191440300192203821610000")
    assert result.coded and result.uscc == "914403001922038216" and result.uscc_valid
    assert result.product_suffix == "10000" and result.problems == ()
    assert "914403001922038216" in result.explanation and "valid" in result.explanation


def test_full_code_with_a_wrong_check_character() -> None:
    result = parse_content_producer("001191440300192203821710000")
    assert result.coded and result.uscc_valid is False
    assert any("check character should be '6'" in p for p in result.problems)
    assert "INVALID" in result.explanation


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("00119144030019220382161000", "has 26"),  # one digit short
        ("0011914403001922038216100000", "has 28"),
        ("002191440300192203821610000", "starts with '001'"),
        ("001291440300192203821610000", "4th character"),
        ("00119144030019220382161000A", "5 digits"),
        ("0011914403001922038I1610000", "not used in USCCs"),
    ],
)
def test_damaged_codes_are_reported(value: str, fragment: str) -> None:
    result = parse_content_producer(value)
    assert result.coded
    assert any(fragment in problem for problem in result.problems), result.problems


@pytest.mark.parametrize("value", ["Doubao", "豆包", "Example AI Image Service v2", "labeler", "SDXL-1.0"])
def test_free_strings_are_accepted(value: str) -> None:
    result = parse_content_producer(value)
    assert not result.coded and result.problems == () and result.uscc is None
    assert value in result.explanation


def test_bare_uscc() -> None:
    good = parse_content_producer("9144030071526726XG")
    assert good.coded and good.uscc_valid and good.product_suffix is None and good.problems == ()
    bad = parse_content_producer("9144030071526726XH")
    assert bad.coded and bad.uscc_valid is False and bad.problems


def test_empty_producer() -> None:
    result = parse_content_producer("   ")
    assert not result.coded and result.explanation == "no producer given"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_never_raises(text: str) -> None:
    result = parse_content_producer(text)
    assert isinstance(result.explanation, str)
