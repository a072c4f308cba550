"""Resident ID and unified social credit code validation, construction and masks."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from events.errors import EventRejectedError
from events.identity import (
    make_national_id,
    make_uscc,
    mask_name,
    mask_national_id,
    mask_phone,
    validate_national_id,
    validate_uscc,
)

# Published examples: GB 11643-1999 and GB 32100-2015.
GB_ID = "11010519491231002X"
GB_USCC = "91350100M000100Y43"


def _with_last(value: str, ch: str) -> str:
    return value[:-1] + ch


def test_published_national_id_is_valid_and_x_is_upper_cased() -> None:
    assert validate_national_id(GB_ID) == GB_ID
    assert validate_national_id(" 11010519491231002x ") == GB_ID


@pytest.mark.parametrize("seq", [0, 1, 7, 123, 999])
def test_made_national_ids_validate(seq: int) -> None:
    value = make_national_id("370102", date(1985, 6, 30), seq)
    assert len(value) == 18
    assert validate_national_id(value) == value


def test_wrong_checksum_names_given_and_expected_character() -> None:
    good = make_national_id("370102", date(1990, 1, 2), 123)
    bad = _with_last(good, "3" if good[-1] != "3" else "4")
    with pytest.raises(EventRejectedError) as info:
        validate_national_id(bad, field="payload.national_id")
    assert info.value.field == "payload.national_id"
    assert info.value.reason == f"checksum character is {bad[-1]!r}, expected {good[-1]!r}"
    assert str(info.value).startswith("payload.national_id: checksum character is")


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("370102199001021", "must be 18 characters, got 15"),
        ("37010219900102123X9", "must be 18 characters, got 19"),
        ("3701A2199001021237", "must be digits, got 'A' at position 5"),
        ("37010219900102123Y", "last character must be a digit or X"),
        ("370102199002301230", "19900230 (characters 7-14) is not a real date"),
        ("440524188001010014", "birth year 1880 is before 1900"),
    ],
)
def test_malformed_national_ids_say_what_is_expected(value: str, fragment: str) -> None:
    with pytest.raises(EventRejectedError) as info:
        validate_national_id(value)
    assert info.value.field == "national_id"
    assert fragment in info.value.reason


def test_future_birth_date_is_rejected() -> None:
    future = date.today() + timedelta(days=400)
    with pytest.raises(EventRejectedError, match="in the future"):
        validate_national_id(make_national_id("370102", future, 1))


def test_published_uscc_is_valid_and_upper_cased() -> None:
    assert validate_uscc(GB_USCC) == GB_USCC
    assert validate_uscc(GB_USCC.lower()) == GB_USCC


def test_make_uscc_computes_the_published_check_character() -> None:
    assert make_uscc(GB_USCC[:17]) == GB_USCC


@pytest.mark.parametrize("body", ["91370100MA3C00001", "12370000004453063", "0" * 17, "Y" * 17])
def test_made_usccs_validate(body: str) -> None:
    assert validate_uscc(make_uscc(body)) == make_uscc(body)


def test_uscc_check_31_maps_to_zero() -> None:
    # a body whose weighted sum is divisible by 31 must get check character "0"
    assert make_uscc("0" * 17) == "0" * 18


def test_uscc_wrong_checksum() -> None:
    bad = _with_last(GB_USCC, "2")
    with pytest.raises(EventRejectedError) as info:
        validate_uscc(bad, field="payload.enterprise_uscc")
    assert info.value.field == "payload.enterprise_uscc"
    assert info.value.reason == "checksum character is '2', expected '3'"


@pytest.mark.parametrize("forbidden", ["I", "O", "S", "V", "Z"])
def test_uscc_forbidden_characters(forbidden: str) -> None:
    value = GB_USCC[:8] + forbidden + GB_USCC[9:]
    with pytest.raises(EventRejectedError, match=f"character 9 is '{forbidden}'"):
        validate_uscc(value)


def test_uscc_length() -> None:
    with pytest.raises(EventRejectedError, match="must be 18 characters, got 17"):
        validate_uscc(GB_USCC[:17])


def test_make_helpers_reject_bad_input() -> None:
    with pytest.raises(ValueError):
        make_national_id("37010", date(1990, 1, 1), 1)
    with pytest.raises(ValueError):
        make_national_id("370102", date(1990, 1, 1), 1000)
    with pytest.raises(ValueError):
        make_uscc("91350100M000100I4")


def test_masks() -> None:
    assert mask_national_id("37010219900102123X") == "370102********123X"
    assert mask_national_id("37010219900102123x") == "370102********123X"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("138-1234-5678") == "138****5678"
    assert mask_name("张三") == "张*"
    assert mask_name("王小明") == "王**"
    assert mask_name("欧阳娜娜") == "欧阳**"
    assert mask_name("张") == "*"
