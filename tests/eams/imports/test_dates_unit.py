"""Dates from cells: every format keyword, strptime patterns and their fast path, times
after a date, ranges and lists, Excel serials and what each failure is called.

The fast path (a regular expression per numeric pattern) is held to strptime by a property
test: on any text of digits and the pattern's separators, both accept the same texts and
give the same dates.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eams.imports.dates import check_date_formats, looks_like_excel_serial, parse_date
from eams.imports.errors import CellError, MappingError

NOV3 = dt.date(2021, 11, 3)
US = ("%m/%d/%Y",)


def kind_of(value: object, *args: object, **kwargs: object) -> str:
    with pytest.raises(CellError) as caught:
        parse_date(value, *args, **kwargs)  # type: ignore[arg-type]
    return caught.value.kind


def message_of(value: object, *args: object, **kwargs: object) -> str:
    with pytest.raises(CellError) as caught:
        parse_date(value, *args, **kwargs)  # type: ignore[arg-type]
    return str(caught.value)


# --- keywords ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2021-11-03", NOV3),
        ("2021-11-03T14:30", dt.datetime(2021, 11, 3, 14, 30)),
        ("2021-11-03 14:30:05", dt.datetime(2021, 11, 3, 14, 30, 5)),
        ("2021-11-03T14:30:05.25", dt.datetime(2021, 11, 3, 14, 30, 5, 250000)),
        ("2021-11-03T14:30:00Z", dt.datetime(2021, 11, 3, 14, 30, tzinfo=dt.UTC)),
        (
            "2021-11-03T14:30:00+08:00",
            dt.datetime(2021, 11, 3, 14, 30, tzinfo=dt.timezone(dt.timedelta(hours=8))),
        ),
        (
            "2021-11-03 14:30 -0500",
            dt.datetime(2021, 11, 3, 14, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
        ),
        ("2021-1-3", dt.date(2021, 1, 3)),
        ("  2021-11-03  ", NOV3),
    ],
)
def test_iso_with_and_without_time(text: str, expected: dt.date) -> None:
    assert parse_date(text, ("iso",), keep_time=True) == expected
    # without keep_time the date is kept as written (not moved to another zone)
    day = expected.date() if isinstance(expected, dt.datetime) else expected
    assert parse_date(text) == day
    assert type(parse_date(text)) is dt.date


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2021年11月3日", NOV3),
        ("2021年11月03日", NOV3),
        ("2021 年 11 月 3 日", NOV3),
        ("２０２１年１１月３日", NOV3),  # fullwidth digits
        ("2021年11月3号", NOV3),
        ("2021.11.3", NOV3),
        ("2021/11/3", NOV3),
        ("2021年11月3日 14时30分", dt.datetime(2021, 11, 3, 14, 30)),
        ("2021年11月3日14时30分15秒", dt.datetime(2021, 11, 3, 14, 30, 15)),
        ("2021年11月3日 14:30", dt.datetime(2021, 11, 3, 14, 30)),
        ("2021年11月3日 14：30", dt.datetime(2021, 11, 3, 14, 30)),  # fullwidth colon
        ("2021/11/3 9点", dt.datetime(2021, 11, 3, 9, 0)),
    ],
)
def test_chinese(text: str, expected: dt.date) -> None:
    assert parse_date(text, ("chinese",), keep_time=True) == expected


def test_chinese_refuses_mixed_separators_and_missing_day() -> None:
    assert kind_of("2021.11/3", ("chinese",)) == "not a date"
    assert kind_of("2021年11月", ("chinese",)) == "not a date"


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("20211103", NOV3),
        ("202111031430", dt.datetime(2021, 11, 3, 14, 30)),
        ("20211103143005", dt.datetime(2021, 11, 3, 14, 30, 5)),
        (20211103, NOV3),  # a number cell: Excel keeps 20211103 as a number
        (20211103.0, NOV3),
    ],
)
def test_compact(cell: str | int | float, expected: dt.date) -> None:
    assert parse_date(cell, ("compact",), keep_time=True) == expected


def test_compact_wants_8_12_or_14_digits() -> None:
    for text in ("2021110", "2021110314", "2021110314300"):
        assert kind_of(text, ("compact",)) == "not a date"
    assert kind_of("20211303", ("compact",)) == "not a date"  # month 13


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        (44503, NOV3),
        (44503.0, NOV3),
        ("44503", NOV3),
        (44503.5, dt.datetime(2021, 11, 3, 12, 0)),
        ("44503.6041666667", dt.datetime(2021, 11, 3, 14, 30)),  # rounded to the second
        (1, dt.date(1900, 1, 1)),
        (59, dt.date(1900, 2, 28)),
        (61, dt.date(1900, 3, 1)),  # Excel's 1900-02-29 (60) never was
        (73051, dt.date(2100, 1, 1)),
    ],
)
def test_excel_serial(cell: str | int | float, expected: dt.date) -> None:
    assert parse_date(cell, ("excel_serial",), keep_time=True) == expected


def test_excel_serial_60_and_the_range() -> None:
    assert "leap-year bug" in message_of(60, ("excel_serial",))
    assert kind_of(0, ("excel_serial",)) == "not a date"
    assert kind_of(2958466, ("excel_serial",)) == "not a date"
    # serial 2958465 is 9999-12-31: a real serial, an impossible year
    assert "year 9999" in message_of(2958465, ("excel_serial",))


def test_a_number_without_excel_serial_says_so() -> None:
    with pytest.raises(CellError) as caught:
        parse_date(44503, ("%m/%d/%Y",))
    assert caught.value.kind == "Excel serial date"
    assert "44503 looks like a date Excel stored as a serial number (= 2021-11-03)" in str(
        caught.value
    )
    assert "add excel_serial to the formats" in str(caught.value)
    # the same as text from a CSV saved out of such a sheet
    assert kind_of("44503", ("iso",)) == "Excel serial date"
    # a small number in a text column is not taken for a serial: TX's sequence numbers
    assert kind_of("10415", ("iso",)) == "not a date"


def test_date_cells_pass_whatever_the_formats() -> None:
    assert parse_date(NOV3, ("%m/%d/%Y",)) == NOV3
    at = dt.datetime(2021, 11, 3, 14, 30)
    assert parse_date(at, ("chinese",)) == NOV3
    assert parse_date(at, ("chinese",), keep_time=True) == at
    assert kind_of(dt.date(1899, 12, 31)) == "not a date"


def test_other_cells() -> None:
    assert kind_of(True) == "not a date"
    assert kind_of(None) == "empty"
    assert kind_of("   ") == "empty"


# --- strptime patterns -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "formats", "expected"),
    [
        ("7/22/2020", ("%m/%d/%Y",), dt.date(2020, 7, 22)),
        ("07/22/2020", ("%m/%d/%Y",), dt.date(2020, 7, 22)),
        ("03-17-22", ("%m-%d-%y",), dt.date(2022, 3, 17)),
        ("03-17-69", ("%m-%d-%y",), dt.date(1969, 3, 17)),  # strptime's pivot
        ("2021年11月03日", ("%Y年%m月%d日",), NOV3),
        ("2022-03-01 00:00:00", ("%Y-%m-%d %H:%M:%S",), dt.datetime(2022, 3, 1)),
        ("3 Nov 2021", ("%d %b %Y",), NOV3),  # a name: strptime
        ("Nov 3, 2021", ("%b %d, %Y",), NOV3),
        ("11/03/2021 02:30 PM", ("%m/%d/%Y %I:%M %p",), dt.datetime(2021, 11, 3, 14, 30)),
        ("100%/3/11/2021", ("100%%/%d/%m/%Y",), NOV3),
    ],
)
def test_patterns(text: str, formats: tuple[str, ...], expected: dt.date) -> None:
    assert parse_date(text, formats, keep_time=True) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7/22/2020 00:00:00", dt.datetime(2020, 7, 22)),
        ("7/22/2020 14:30", dt.datetime(2020, 7, 22, 14, 30)),
        ("7/22/2020T14:30:00", dt.datetime(2020, 7, 22, 14, 30)),
        ("7/22/2020 2:30 PM", dt.datetime(2020, 7, 22, 14, 30)),
        ("7/22/2020 12:05 am", dt.datetime(2020, 7, 22, 0, 5)),
        ("7/22/2020 14:30:05.5", dt.datetime(2020, 7, 22, 14, 30, 5, 500000)),
    ],
)
def test_a_pattern_without_time_takes_a_time_after(text: str, expected: dt.datetime) -> None:
    assert parse_date(text, ("%m/%d/%Y",), keep_time=True) == expected
    assert parse_date(text, ("%m/%d/%Y",)) == expected.date()
    # the strptime fallback does the same
    named = text.replace("7/22/2020", "22 Jul 2020")
    assert parse_date(named, ("%d %b %Y",), keep_time=True) == expected


def test_a_time_is_checked() -> None:
    assert kind_of("7/22/2020 25:00", ("%m/%d/%Y",)) == "not a date"
    assert kind_of("7/22/2020 13:00 PM", ("%m/%d/%Y",)) == "not a date"


def test_formats_are_tried_in_order() -> None:
    # 03/04/2021 is 4 March to %m/%d/%Y and 3 April to %d/%m/%Y: the first listed wins
    assert parse_date("03/04/2021", ("%m/%d/%Y", "%d/%m/%Y")) == dt.date(2021, 3, 4)
    assert parse_date("03/04/2021", ("%d/%m/%Y", "%m/%d/%Y")) == dt.date(2021, 4, 3)
    assert parse_date("13/04/2021", ("%m/%d/%Y", "%d/%m/%Y")) == dt.date(2021, 4, 13)
    assert parse_date("7/22/2020", ["%d/%m/%Y", "%m/%d/%Y"]) == dt.date(2020, 7, 22)  # a list


@pytest.mark.parametrize(
    ("cell", "year"),
    [("1/1/1850", 1850), ("1/1/0218", 218), ("1/1/2101", 2101), ("0218-01-01", 218),
     ("18991103", 1899), (18991103, 1899), (dt.date(2150, 1, 1), 2150)],
)  # fmt: skip
def test_impossible_years_are_refused_naming_the_year(cell: object, year: int) -> None:
    formats = ("%m/%d/%Y", "iso", "compact")
    with pytest.raises(CellError) as caught:
        parse_date(cell, formats)  # type: ignore[arg-type]
    assert caught.value.kind == "not a date"
    assert f"has the year {year}; a year before 1900 or after 2100" in str(caught.value)


def test_the_years_1900_and_2100_are_possible() -> None:
    assert parse_date("1/1/1900", ("%m/%d/%Y",)) == dt.date(1900, 1, 1)
    assert parse_date("12/31/2100", ("%m/%d/%Y",)) == dt.date(2100, 12, 31)


# --- ranges and lists ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "formats"),
    [
        ("09/12/2023-11/12/2023", ("%m/%d/%Y",)),
        ("09/12/2023 - 11/12/2023", ("%m/%d/%Y",)),
        ("09/12/2023- 11/12/2023", ("%m/%d/%Y",)),
        ("09/12/2023 to 11/12/2023", ("%m/%d/%Y",)),
        ("09/12/2023\nthru\n11/12/2023", ("%m/%d/%Y",)),
        ("09/12/2023 through 11/12/2023", ("%m/%d/%Y",)),
        ("09/12/2023, 11/12/2023", ("%m/%d/%Y",)),
        ("09/12/2023; 11/12/2023", ("%m/%d/%Y",)),
        ("09/12/2023 ~ 11/12/2023", ("%m/%d/%Y",)),
        ("09/12/2023 – 11/12/2023", ("%m/%d/%Y",)),
        ("09/12/2023 11/12/2023", ("%m/%d/%Y",)),
        ("2023-09-12-2023-11-12", ("iso",)),  # ISO dates have hyphens of their own
        ("2023-09-12 to 2023-11-12", ("iso",)),
        ("2023年9月12日至2023年11月12日", ("chinese",)),
        ("2023年9月12日到2023年11月12日", ("chinese",)),
        ("2023年9月12日、2023年11月12日", ("chinese",)),
        ("Sep 12, 2023 to Nov 12, 2023", ("%b %d, %Y",)),  # a comma in the pattern
    ],
)
def test_a_range_needs_pick(text: str, formats: tuple[str, ...]) -> None:
    with pytest.raises(CellError) as caught:
        parse_date(text, formats)
    assert caught.value.kind == "several dates"
    assert "holds 2 dates (2023-09-12, 2023-11-12); set pick: first|last|min|max" in str(
        caught.value
    )
    assert parse_date(text, formats, pick="first") == dt.date(2023, 9, 12)
    assert parse_date(text, formats, pick="last") == dt.date(2023, 11, 12)


def test_pick_min_and_max_are_by_date_not_position() -> None:
    text = "5/17/2021, 2/27/2019, 3/1/2020"  # IL lists the latest first
    assert parse_date(text, ("%m/%d/%Y",), pick="first") == dt.date(2021, 5, 17)
    assert parse_date(text, ("%m/%d/%Y",), pick="min") == dt.date(2019, 2, 27)
    assert parse_date(text, ("%m/%d/%Y",), pick="max") == dt.date(2021, 5, 17)
    assert parse_date(text, ("%m/%d/%Y",), pick="last") == dt.date(2020, 3, 1)
    mixed = "2021-11-03 10:00, 2021-11-03"
    assert parse_date(mixed, pick="min", keep_time=True) == NOV3
    assert parse_date(mixed, pick="max", keep_time=True) == dt.datetime(2021, 11, 3, 10)


def test_pick_of_numbers_does_not_apply_to_dates() -> None:
    message = message_of("1/2/2021 to 1/3/2021", ("%m/%d/%Y",), pick="sum")
    assert "pick: sum does not apply to dates" in message
    assert parse_date("1/2/2021", ("%m/%d/%Y",), pick="sum") == dt.date(2021, 1, 2)


def test_a_trailing_separator_is_one_date() -> None:
    assert parse_date("1/2/2021,", ("%m/%d/%Y",)) == dt.date(2021, 1, 2)


def test_words_around_dates_need_pick() -> None:
    text = "10/08/2020Updated12/21/2020"  # OH: the notice's date, then its update
    message = message_of(text, ("%m/%d/%Y",))
    assert "it has words around the dates" in message
    assert "set pick: first|last|min|max to take the date out of the words" in message
    assert parse_date(text, ("%m/%d/%Y",), pick="first") == dt.date(2020, 10, 8)
    assert parse_date("Revised - 05/18/2018", ("%m/%d/%Y",), pick="first") == dt.date(2018, 5, 18)
    assert "words around" not in message_of("None", ("%m/%d/%Y",))
    # with pick, words are left out; a part with digits that is not a date spoils the cell
    assert parse_date("1/2/2021 to be confirmed", US, pick="first") == dt.date(2021, 1, 2)
    assert kind_of("1/2/2021 to 13/45/2021", ("%m/%d/%Y",), pick="first") == "not a date"
    assert kind_of("Nov 3 2021", ("%m/%d/%Y",), pick="first") == "not a date"


def test_not_a_date_names_the_formats_with_examples() -> None:
    message = message_of("yesterday", ("%m/%d/%Y", "iso", "chinese"))
    assert message == (
        "'yesterday' is not a date in the formats %m/%d/%Y, iso, chinese "
        "(e.g. 11/03/2021, 2021-11-03, 2021年11月3日)"
    )


def test_the_quoted_value_is_shortened() -> None:
    message = message_of("x" * 200, ("iso",))
    assert "'" + "x" * 57 + "...'" in message
    assert "x" * 61 not in message


# --- the mapping's mistakes ------------------------------------------------------------------


def test_check_date_formats() -> None:
    assert check_date_formats(["iso", "%m/%d/%Y", "excel_serial", "chinese", "compact"]) == []
    problems = check_date_formats(["isoo", "mm/dd/yyyy", 3])
    assert problems[0].startswith("format 1: 'isoo' is neither a strptime pattern")
    assert problems[0].endswith("did you mean 'iso'?")
    assert problems[1].startswith("format 2: 'mm/dd/yyyy'")
    assert problems[2] == "format 3: must be text, got int"
    assert check_date_formats("iso") == ['formats must be a list, e.g. ["%m/%d/%Y", iso]']


def test_an_unknown_format_is_a_mapping_error() -> None:
    with pytest.raises(MappingError, match="did you mean 'excel_serial'"):
        parse_date("44503", ("excel_serail",))


# --- Excel serial detection ------------------------------------------------------------------


def test_looks_like_excel_serial() -> None:
    assert looks_like_excel_serial(44503) == NOV3
    assert looks_like_excel_serial(44503.75) == NOV3
    assert looks_like_excel_serial(" 44503 ") == NOV3
    assert looks_like_excel_serial(20000) == dt.date(1954, 10, 3)
    assert looks_like_excel_serial(80000) == dt.date(2119, 1, 11)
    for value in (19999, 80001, "19111", "44503x", True, None, NOV3, "2021-11-03"):
        assert looks_like_excel_serial(value) is None


# --- properties ------------------------------------------------------------------------------

DAYS = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 12, 31))
PATTERNS = [
    "%Y-%m-%d",
    "%m/%d/%Y",
    "%d.%m.%Y",
    "%Y%m%d",
    "%Y年%m月%d日",
    "%d %b %Y",
    "%B %d, %Y",
    "%Y/%m/%d",
]


@settings(max_examples=300, deadline=None)
@given(day=DAYS, pattern=st.sampled_from(PATTERNS))
def test_any_date_formatted_with_a_pattern_parses_back(day: dt.date, pattern: str) -> None:
    assert parse_date(day.strftime(pattern), (pattern,)) == day


@settings(max_examples=200, deadline=None)
@given(
    day=st.dates(min_value=dt.date(1969, 1, 1), max_value=dt.date(2068, 12, 31)),
    pattern=st.sampled_from(["%m-%d-%y", "%d/%m/%y"]),
)
def test_two_digit_years_round_trip_in_the_pivot_window(day: dt.date, pattern: str) -> None:
    assert parse_date(day.strftime(pattern), (pattern,)) == day


@settings(max_examples=200, deadline=None)
@given(
    at=st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2100, 12, 31)),
    pattern=st.sampled_from(["%m/%d/%Y", "%Y-%m-%d", "%d %b %Y"]),
    sep=st.sampled_from([" ", "T"]),
)
def test_a_time_after_a_date_pattern_round_trips(at: dt.datetime, pattern: str, sep: str) -> None:
    text = at.strftime(pattern) + sep + at.strftime("%H:%M:%S")
    assert parse_date(text, (pattern,), keep_time=True) == at.replace(microsecond=0)


@settings(max_examples=200, deadline=None)
@given(
    naive=st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2100, 12, 31)),
    zone=st.sampled_from([None, dt.UTC, dt.timezone(dt.timedelta(hours=8))]),
)
def test_iso_round_trips(naive: dt.datetime, zone: dt.tzinfo | None) -> None:
    at = naive.replace(tzinfo=zone)
    assert parse_date(at.isoformat(), keep_time=True) == at
    assert parse_date(at.isoformat(sep=" "), keep_time=True) == at
    assert parse_date(at.date().isoformat()) == at.date()


@settings(max_examples=200, deadline=None)
@given(day=st.dates(min_value=dt.date(1900, 3, 1), max_value=dt.date(2100, 12, 31)))
def test_excel_serials_round_trip(day: dt.date) -> None:
    serial = (day - dt.date(1899, 12, 30)).days
    assert parse_date(serial, ("excel_serial",)) == day
    assert parse_date(str(serial), ("excel_serial",)) == day
    assert parse_date(day.strftime("%Y%m%d"), ("compact",)) == day


FIELD = st.integers(0, 99).map(str) | st.integers(0, 9).map(lambda n: f"0{n}")
YEAR = st.integers(0, 9999).map(lambda n: f"{n:04d}") | st.integers(0, 99).map(str)


@settings(max_examples=500, deadline=None)
@given(
    month=FIELD,
    day=FIELD,
    year=YEAR,
    pattern=st.sampled_from(["%m/%d/%Y", "%d.%m.%Y", "%Y-%m-%d", "%m-%d-%y"]),
)
def test_the_fast_path_agrees_with_strptime(month: str, day: str, year: str, pattern: str) -> None:
    """Texts of digits in the pattern's shape: accepted and read exactly as strptime does
    (then held to the years 1900..2100)."""
    text = pattern.replace("%m", month).replace("%d", day).replace("%Y", year).replace("%y", year)
    try:
        expected: dt.date | None = dt.datetime.strptime(text, pattern).date()
    except ValueError:
        expected = None
    if expected is not None and 1900 <= expected.year <= 2100:
        assert parse_date(text, (pattern,)) == expected
    else:
        assert kind_of(text, (pattern,)) == "not a date"
