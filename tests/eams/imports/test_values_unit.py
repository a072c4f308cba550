"""Cell values: numbers, yes/no, resident IDs, codes, text steps, value maps, the cell as
text; and the real WARN files (../shared/data/warn/raw) column by column.

The WARN values quoted below are copied from those files (biglocalnews/warn-transformer
``tests/data/raw`` at 39bab89, Apache-2.0): one per distinct shape of each column, with
what it parses to or the kind of its failure. The whole-file tests then count every value
of each column by outcome, so a parser change that moves one cell shows here.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eams.imports.errors import CellError, MappingError
from eams.imports.values import (
    STEPS,
    Cell,
    ValueMap,
    cell_text,
    check_steps,
    is_blank,
    normalise,
    parse_bool,
    parse_code,
    parse_date,
    parse_national_id,
    parse_number,
)
from eams.settings import PROJECT_ROOT
from events.identity import make_national_id, national_id_check_char

RAW = PROJECT_ROOT / "tests" / "data" / "warn_raw"


def failure(parse: Callable[[], object]) -> CellError:
    with pytest.raises(CellError) as caught:
        parse()
    return caught.value


# --- the cell ------------------------------------------------------------------------------


def test_is_blank() -> None:
    blank: list[Cell] = [None, "", " ", "\t\n", "\u3000", "\xa0"]
    assert all(is_blank(value) for value in blank)
    filled: list[Cell] = ["0", "x", 0, 0.0, False, dt.date(2021, 1, 1)]
    assert not any(is_blank(value) for value in filled)


@pytest.mark.parametrize(
    ("cell", "text"),
    [
        ("  as is ", "  as is "),
        (123, "123"),
        (123.0, "123"),
        (-0.0, "0"),
        (1.5, "1.5"),
        (0.1, "0.1"),
        (1e-05, "1e-05"),
        (True, "true"),
        (False, "false"),
        (None, ""),
        (dt.date(2021, 11, 3), "2021-11-03"),
        (dt.datetime(2021, 11, 3, 14, 30), "2021-11-03T14:30:00"),
    ],
)
def test_cell_text(cell: Cell, text: str) -> None:
    assert cell_text(cell) == text


@settings(max_examples=300, deadline=None)
@given(st.integers(-(2**53), 2**53))
def test_cell_text_of_an_integral_float_has_no_point(n: int) -> None:
    assert cell_text(float(n)) == str(n)


# --- numbers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "number"),
    [
        ("1529", 1529),
        (" 1529 ", 1529),
        ("1,529", 1529),
        ("1,529,000", 1529000),
        ("1 529", 1529),
        ("12 345", 12345),
        ("1\u00a0234\u00a0567", 1234567),  # typographic spaces group thousands
        ("1，529", 1529),  # fullwidth comma
        ("１２３", 123),  # fullwidth digits
        ("13 FT", 13),
        ("200人", 200),
        ("约200人", 200),
        ("200 employees", 200),
        ("1.5万", 15000),
        ("1.1万", 11000),  # exactly, not 11000.000000000002
        ("2亿", 200_000_000),
        ("3千人", 3000),
        ("$1,234.50", 1234.5),
        ("12%", 12),
        ("0.5", 0.5),
        (".5", 0.5),
        ("12.0", 12),
        ("1.5e3", 1500),
        (107, 107),
        (107.0, 107.0),
        (1.25, 1.25),
    ],
)
def test_numbers(cell: Cell, number: float) -> None:
    found = parse_number(cell)
    assert found == number
    assert type(found) is type(number)


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("58 94 97 35", 4),  # OH: four sites in one cell
        ("58, 94", 2),  # a comma and a space: two numbers, not 58,094
        ("58,94", 2),  # two digits after the comma: not a thousands group
        ("1,5291", 2),
        ("100 200", 2),  # a first group of three and a space: ambiguous, refused
        ("100-200", 2),
        ("100~200", 2),
        ("100 to 200", 2),
        ("100至200", 2),
        ("100–200", 2),
        ("2021-11-03", 3),
    ],
)
def test_several_numbers_need_pick(text: str, count: int) -> None:
    error = failure(lambda: parse_number(text))
    assert error.kind == "several numbers"
    assert str(error) == (f"'{text}' holds {count} numbers; set pick: first|last|min|max|sum|mean")


@pytest.mark.parametrize(
    ("pick", "number"),
    [("first", 58), ("last", 35), ("min", 35), ("max", 97), ("sum", 284), ("mean", 71)],
)
def test_pick(pick: str, number: int) -> None:
    assert parse_number("58 94 97 35", integer=True, pick=pick) == number


def test_pick_mean_may_be_a_fraction() -> None:
    assert parse_number("100-201", pick="mean") == 150.5
    error = failure(lambda: parse_number("100-201", integer=True, pick="mean"))
    assert error.kind == "not a whole number"
    assert str(error) == "'100-201' is 150.5, not a whole number; expected a count"


def test_a_pick_the_numbers_do_not_know_is_named() -> None:
    error = failure(lambda: parse_number("1 to 2", pick="median"))
    assert "pick: median is not one of them" in str(error)


def test_a_single_number_ignores_pick() -> None:
    assert parse_number("200人", pick="sum") == 200


def test_integer() -> None:
    assert parse_number("12.0", integer=True) == 12
    assert parse_number(107.0, integer=True) == 107
    assert type(parse_number(107.0, integer=True)) is int
    assert failure(lambda: parse_number("12.5", integer=True)).kind == "not a whole number"
    assert failure(lambda: parse_number(12.5, integer=True)).kind == "not a whole number"


@pytest.mark.parametrize("cell", ["-5", "−5", "$-5", "about -5", -5, -5.0])
def test_negative_numbers_only_when_allowed(cell: Cell) -> None:
    error = failure(lambda: parse_number(cell))
    assert error.kind == "negative"
    assert "is negative; a count cannot be" in str(error)
    assert parse_number(cell, allow_negative=True) == -5


def test_a_range_is_not_a_negative_number() -> None:
    assert parse_number("100 - 200", pick="last") == 200
    assert parse_number("5 to -3", pick="last", allow_negative=True) == -3


@pytest.mark.parametrize("text", ["Unknown", "N/A", "不详", "TBD", "两百"])
def test_text_without_digits_is_not_a_number(text: str) -> None:
    error = failure(lambda: parse_number(text))
    assert error.kind == "not a number"
    assert str(error).startswith(f"'{text}' has no number in it; expected e.g. 1529")


def test_cells_that_are_not_numbers() -> None:
    assert failure(lambda: parse_number(None)).kind == "empty"
    assert failure(lambda: parse_number("  ")).kind == "empty"
    assert failure(lambda: parse_number(True)).kind == "not a number"
    assert failure(lambda: parse_number(dt.date(2021, 1, 1))).kind == "not a number"
    assert failure(lambda: parse_number(float("nan"))).kind == "not a number"


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 10**15))
def test_thousands_separated_numbers_round_trip(n: int) -> None:
    assert parse_number(f"{n:,}", integer=True) == n
    assert parse_number(str(n)) == n
    wide = "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in f"{n:,}")
    assert parse_number(wide) == n


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 10**6), min_size=2, max_size=6))
def test_lists_sum(numbers: list[int]) -> None:
    text = ", ".join(str(n) for n in numbers)
    assert parse_number(text, pick="sum") == sum(numbers)
    assert parse_number(text, pick="max") == max(numbers)


# --- yes/no ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "answer"),
    [
        ("是", True), ("否", False), ("Y", True), ("n", False), ("Yes", True), ("NO", False),
        ("true", True), ("FALSE", False), ("1", True), ("0", False), ("√", True), ("×", False),
        (" 是 ", True), (True, True), (False, False), (1, True), (0.0, False),
    ],
)  # fmt: skip
def test_bool(cell: Cell, answer: bool) -> None:
    assert parse_bool(cell) is answer


def test_not_a_bool() -> None:
    error = failure(lambda: parse_bool("maybe"))
    assert error.kind == "not a boolean"
    assert "'maybe' is not yes or no; expected one of 是/否" in str(error)
    assert failure(lambda: parse_bool(2)).kind == "not a boolean"
    assert failure(lambda: parse_bool("")).kind == "empty"


# --- resident IDs ----------------------------------------------------------------------------

ID = make_national_id("370102", dt.date(1990, 1, 1), 123)  # 370102199001011231


def test_a_valid_id() -> None:
    assert parse_national_id(ID) == ID
    assert parse_national_id(f" {ID[:6]} {ID[6:14]} {ID[14:]} ") == ID
    wide = "".join(chr(ord(c) + 0xFEE0) for c in ID)
    assert parse_national_id(wide) == ID
    ids = (make_national_id("370102", dt.date(1990, 1, 1), seq) for seq in range(100))
    with_x = next(nid for nid in ids if nid.endswith("X"))
    assert parse_national_id(with_x.lower()) == with_x


@pytest.mark.parametrize(
    "cell",
    [
        3.70102199001012e17,  # what Excel keeps of 370102199001011231
        370102199001011231,  # an int cell: an ID in a number column is never trusted
        float(370102199001011234),
        "3.70102E+17",  # a CSV saved from such a sheet
        "3.70102199001012E+17",
        "3.70102e17",
        "370102199001011000",  # shown as 15 digits and 000, check digit fails
    ],
)
def test_ids_excel_stored_as_numbers(cell: Cell) -> None:
    error = failure(lambda: parse_national_id(cell))
    assert error.kind == "ID mangled by Excel"
    message = str(error)
    assert "Excel stored the ID as a number and kept only 15 significant digits" in message
    assert "Format the column as Text (设置单元格格式 → 文本)" in message
    assert "prefix each with '" in message
    assert "199001011" not in message  # quoted masked or as Excel shows it


def test_a_mangled_float_is_shown_as_excel_shows_it() -> None:
    assert str(failure(lambda: parse_national_id(3.70102199001012e17))).startswith("3.70102E+17:")


def test_an_id_ending_in_000_with_a_good_check_digit_is_an_id() -> None:
    bodies = [
        f"3701021990{month:02d}{day:02d}{seq}00"
        for month in range(1, 13)
        for day in range(1, 29)
        for seq in "0123456789"
    ]
    good = [b + "0" for b in bodies if national_id_check_char(b) == "0"]
    assert good  # about one in eleven
    for nid in good:
        assert parse_national_id(nid) == nid


def test_an_old_15_digit_id() -> None:
    error = failure(lambda: parse_national_id("370102900101123"))
    assert error.kind == "old 15-digit ID"
    check = national_id_check_char("37010219900101123")
    assert str(error) == (
        "'370102*****1123' is a first-generation 15-digit ID; convert it to 18 characters in "
        f"the source: 19 before the birth year, then the check digit ({check})"
    )
    # a 15-digit number cell is exact (15 digits fit a float): the same advice
    assert failure(lambda: parse_national_id(370102900101123)).kind == "old 15-digit ID"


def test_a_bad_checksum_is_quoted_masked() -> None:
    wrong = ID[:-1] + "2"
    error = failure(lambda: parse_national_id(wrong))
    assert error.kind == "bad ID checksum"
    assert str(error) == "'370102********1232': checksum character is '2', expected '1'"


def test_a_bad_birth_date() -> None:
    body = "37010219901301123"  # month 13
    error = failure(lambda: parse_national_id(body + national_id_check_char(body)))
    assert error.kind == "bad ID birth date"
    assert "is not a real date" in str(error)


@pytest.mark.parametrize("cell", ["37010219900101123", "3701021990010112345", "37010219900101123Y"])
def test_not_an_id(cell: str) -> None:
    assert failure(lambda: parse_national_id(cell)).kind == "not an ID"


def test_id_cells_that_are_not_ids() -> None:
    assert failure(lambda: parse_national_id(None)).kind == "empty"
    assert failure(lambda: parse_national_id(True)).kind == "not an ID"
    assert failure(lambda: parse_national_id(dt.date(1990, 1, 1))).kind == "not an ID"


@settings(max_examples=300, deadline=None)
@given(
    region=st.sampled_from(["370102", "370211", "371002", "110101"]),
    born=st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2020, 12, 31)),
    seq=st.integers(0, 999),
)
def test_ids_round_trip_and_any_number_cell_is_refused(
    region: str, born: dt.date, seq: int
) -> None:
    nid = make_national_id(region, born, seq)
    assert parse_national_id(nid) == nid
    assert parse_national_id(nid.lower()) == nid
    if nid[-1] != "X":
        assert failure(lambda: parse_national_id(float(nid))).kind == "ID mangled by Excel"
        assert failure(lambda: parse_national_id(int(nid))).kind == "ID mangled by Excel"
    wrong = nid[:-1] + ("0" if nid[-1] != "0" else "1")
    expected = "ID mangled by Excel" if wrong.endswith("000") else "bad ID checksum"
    assert failure(lambda: parse_national_id(wrong)).kind == expected


# --- codes -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "width", "code"),
    [
        ("48201", 5, "48201"),
        (48201, 5, "48201"),
        (48201.0, 5, "48201"),
        ("48201.0", 5, "48201"),  # a CSV written from a float column
        ("370102", 6, "370102"),
        (" 06 ", 2, "06"),
        ("０６", 2, "06"),
        ("91370100ma3c5xxx1x", 18, "91370100MA3C5XXX1X"),  # USCC characters
    ],
)
def test_codes(cell: Cell, width: int, code: str) -> None:
    assert parse_code(cell, width) == code


@pytest.mark.parametrize(("cell", "shown"), [(1001, "1001"), ("1001", "'1001'"), (6, "6")])
def test_leading_zeros_lost(cell: Cell, shown: str) -> None:
    error = failure(lambda: parse_code(cell, 5))
    assert error.kind == "leading zeros lost"
    assert str(error) == (
        f"{shown} has {len(str(cell))} digits, 5 expected: Excel dropped the leading zero(s) "
        "because the column is numeric; format it as Text (设置单元格格式 → 文本), or set "
        "pad: true in the mapping"
    )
    assert parse_code(cell, 5, pad=True) == str(cell).zfill(5)


@pytest.mark.parametrize(
    "cell", ["62828-4294", "482011", 482011, "48A01", "-1001", -1001, 1001.5, "N/A", True]
)
def test_not_a_code(cell: Cell) -> None:
    assert failure(lambda: parse_code(cell, 5, pad=True)).kind == "not a code"


def test_an_18_digit_code_as_a_number_was_mangled() -> None:
    assert failure(lambda: parse_code(9.13701e17, 18)).kind == "ID mangled by Excel"
    assert failure(lambda: parse_code("9.13701E+17", 18)).kind == "ID mangled by Excel"
    assert failure(lambda: parse_code(None, 5)).kind == "empty"


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 99999))
def test_codes_pad_back(n: int) -> None:
    assert parse_code(n, 5, pad=True) == f"{n:05d}"
    assert parse_code(f"{n:05d}", 5) == f"{n:05d}"
    if n < 10000:
        assert failure(lambda: parse_code(n, 5)).kind == "leading zeros lost"


# --- text steps ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "steps", "out"),
    [
        ("  Du Page County ", ["trim", {"strip_suffix": ["County", "Parish"]}], "Du Page"),
        ("Winnebago county", [{"strip_suffix": ["County"]}], "Winnebago"),
        ("X County County", [{"strip_suffix": ["County"]}], "X County"),  # once
        ("County", [{"strip_suffix": ["County"]}], "County"),  # never to nothing
        ("Vermilion Parish", [{"strip_suffix": "Parish"}], "Vermilion"),
        ("济南市", [{"strip_suffix": ["市"]}], "济南"),
        ("City of Austin", [{"strip_prefix": ["City of"]}], "Austin"),
        ("a  b\t\nc", ["collapse_spaces"], "a b c"),
        ("ＡＢＣ（１）", ["nfkc"], "ABC(1)"),
        ("du page", ["title"], "Du Page"),
        ("Straße", ["casefold"], "strasse"),
        ("abc", ["upper"], "ABC"),
        ("ABC", ["lower"], "abc"),
        ("*A#B*", [{"remove": ["*", "#"]}], "AB"),
        ("A（B）", [{"replace": {"（": "(", "）": ")"}}], "A(B)"),
        ("Target\nT3238 Store\nGAINESVILLE, FL", ["first_line"], "Target"),
        ("\n  \nTarget\nStore", ["first_line", "trim"], "Target"),
        ("x", [], "x"),
    ],
)
def test_normalise(text: str, steps: list[Any], out: str) -> None:
    assert check_steps(steps) == []
    assert normalise(text, steps) == out


def test_check_steps() -> None:
    assert check_steps(None) == []
    assert check_steps([*STEPS[:8]]) == []
    assert check_steps("trim") == [
        "normalise is a list of steps, e.g. [trim, {strip_suffix: [County]}]"
    ]
    assert check_steps(
        [
            "trim",
            "colapse_spaces",
            {"strip_sufix": ["x"]},
            {"replace": ["a"]},
            "remove",
            {"upper": True},
            {"trim": 1, "upper": 2},
            {"remove": [1]},
            "zzzz",
            7,
        ]
    ) == [
        "step 2: unknown step 'colapse_spaces'; did you mean 'collapse_spaces'?",
        "step 3: unknown step 'strip_sufix'; did you mean 'strip_suffix'?",
        "step 4: replace takes a map of text to text, e.g. {'（': '('}",
        "step 5: remove needs its argument: {remove: [...]}",
        "step 6: upper takes no argument; write it as a plain name",
        "step 7: a step is a name or {name: argument}, got {'trim': 1, 'upper': 2}",
        "step 8: remove takes a list of text, e.g. {remove: [County]}",
        "step 9: unknown step 'zzzz'; the steps are " + ", ".join(STEPS),
        "step 10: a step is a name or {name: argument}, got 7",
    ]


def test_normalise_refuses_an_unknown_step() -> None:
    with pytest.raises(MappingError, match="did you mean 'collapse_spaces'"):
        normalise("x", ["colapse_spaces"])
    with pytest.raises(MappingError, match="unknown step 'nope'"):
        normalise("x", [{"nope": 1}])


# --- value maps ------------------------------------------------------------------------------

STATUS = ValueMap(
    {"失业": "unemployed", "就业": "employed", "Laid Off": "unemployed"},
    {"unemployed": ["失业人员", "待业"], "就业": ["在岗"]},
)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("失业", "unemployed"),
        (" 失业 ", "unemployed"),
        ("失业人员", "unemployed"),  # a synonym of the key's value
        ("待业", "unemployed"),
        ("在岗", "employed"),  # a synonym of a map key maps where the key maps
        ("laid   off", "unemployed"),  # case and spaces do not count
        ("LAID OFF", "unemployed"),
        ("ｌａｉｄ ｏｆｆ", "unemployed"),  # nor width
        ("unemployed", "unemployed"),  # a target passes
    ],
)
def test_value_map(text: str, value: str) -> None:
    assert STATUS(text) == value


def test_unmapped_lists_what_is_known_with_a_did_you_mean() -> None:
    error = failure(lambda: STATUS("待岗"))
    assert error.kind == "unmapped value"
    assert str(error) == (
        "'待岗' is not one of 失业, 就业, Laid Off, unemployed, 失业人员, 待业, 在岗; add it to "
        "map or synonyms; did you mean '待业'?"
    )
    assert failure(lambda: STATUS("")).kind == "empty"


def test_unmapped_lists_at_most_eight() -> None:
    big = ValueMap({f"v{i}": "x" for i in range(12)})
    message = str(failure(lambda: big("zzz")))
    assert "v0, v1, v2, v3, v4, v5, v6, v7 … (4 more)" in message
    assert "v8" not in message


def test_default_and_case_sensitive() -> None:
    assert ValueMap({"a": "A"}, default="other")("b") == "other"
    strict = ValueMap({"Y": "yes", "y": "why"}, case_sensitive=True)
    assert strict("Y") == "yes"
    assert strict("y") == "why"
    assert failure(lambda: ValueMap({"Y": "yes"}, case_sensitive=True)("y")).kind == (
        "unmapped value"
    )


def test_synonyms_alone_canonicalise() -> None:
    spelling = ValueMap(synonyms={"Du Page": ["DuPage", "Du Page County"]})
    assert spelling("dupage") == "Du Page"
    assert spelling("Du Page") == "Du Page"


def test_one_spelling_two_values_is_a_mapping_error() -> None:
    with pytest.raises(MappingError, match="'y' maps to both 'yes' and 'why'"):
        ValueMap({"Y": "yes", "y": "why"})
    with pytest.raises(MappingError, match="'x' maps to both"):
        ValueMap(synonyms={"a": ["x"], "b": ["x"]})


# --- the real WARN files: one value per distinct shape ---------------------------------------


@dataclass(frozen=True)
class Kind:
    """The kind of failure a value is expected to give."""

    name: str


US = ("%m/%d/%Y",)
FL = ("%m-%d-%y", "%m/%d/%Y")
YMD_HMS = ("%Y-%m-%d %H:%M:%S",)
D = dt.date

SHAPES: list[tuple[str, str, Cell, Callable[[Cell], object], object]] = [
    # state, column, value as published, how the mapping reads it, date/number or kind
    ("FL", "State Notification Date", "03-17-22", lambda v: parse_date(v, FL), D(2022, 3, 17)),
    ("FL", "State Notification Date", "9/28/2018", lambda v: parse_date(v, FL), D(2018, 9, 28)),
    ("FL", "State Notification Date", "12/7/2018", lambda v: parse_date(v, FL), D(2018, 12, 7)),
    ("FL", "Layoff Date", "06-11-22\n thru\n06-11-22", lambda v: parse_date(v, FL),
     Kind("several dates")),
    ("FL", "Layoff Date", "06-11-22\n thru\n06-11-22",
     lambda v: parse_date(v, FL, pick="first"), D(2022, 6, 11)),
    ("FL", "Layoff Date", "9/7/2018\nthru\n9/14/2018",
     lambda v: parse_date(v, FL, pick="last"), D(2018, 9, 14)),
    ("FL", "Layoff Date", "1/8/2018", lambda v: parse_date(v, FL), D(2018, 1, 8)),
    ("FL", "Employees Affected", "10903", lambda v: parse_number(v, integer=True), 10903),
    ("IL", "WARN Received", "", lambda v: parse_date(v), Kind("empty")),  # blank in every row
    ("IL", "Initial Date Reported", "2020-07-22 00:00:00", lambda v: parse_date(v),
     D(2020, 7, 22)),
    ("IL", "Impact Date", "2020-11-19 00:00:00", lambda v: parse_date(v, YMD_HMS),
     D(2020, 11, 19)),
    ("IL", "Notification(s) Received", "7/22/2020", lambda v: parse_date(v, US), D(2020, 7, 22)),
    ("IL", "Notification(s) Received", "5/17/2021, 2/27/2019", lambda v: parse_date(v, US),
     Kind("several dates")),
    ("IL", "Notification(s) Received", "5/17/2021, 2/27/2019",
     lambda v: parse_date(v, US, pick="min"), D(2019, 2, 27)),
    ("IL", "Total # of Employees", "30000", lambda v: parse_number(v, integer=True), 30000),
    ("IL", "Location Zipcode", "61103", lambda v: parse_code(v, 5), "61103"),
    ("IL", "Location Zipcode", "62828-4294", lambda v: parse_code(v, 5), Kind("not a code")),
    ("NY", "Date of WARN Notice ", "2025-01-09", lambda v: parse_date(v), D(2025, 1, 9)),
    ("NY", "Number of Affected Workers", "144", lambda v: parse_number(v, integer=True), 144),
    ("OH", "Date Received", "9/7/2023", lambda v: parse_date(v, US), D(2023, 9, 7)),
    ("OH", "Date Received", "12/30/2022", lambda v: parse_date(v, US), D(2022, 12, 30)),
    ("OH", "Date Received", "10/08/2020Updated12/21/2020", lambda v: parse_date(v, US),
     Kind("not a date")),
    ("OH", "Date Received", "10/08/2020Updated12/21/2020",
     lambda v: parse_date(v, US, pick="first"), D(2020, 10, 8)),
    ("OH", "Date Received", "Updated12/16/2022", lambda v: parse_date(v, US, pick="first"),
     D(2022, 12, 16)),
    ("OH", "Date Received", "9/9/2019 Revised 09/23/2019",
     lambda v: parse_date(v, US, pick="last"), D(2019, 9, 23)),
    ("OH", "Date Received", "Updated 03/26/2019 Originated 12/17/2018",
     lambda v: parse_date(v, US, pick="min"), D(2018, 12, 17)),
    ("OH", "Date Received", "Revised - 05/18/2018", lambda v: parse_date(v, US, pick="first"),
     D(2018, 5, 18)),
    ("OH", "Date Received", "08/14/02018", lambda v: parse_date(v, US, pick="first"),
     Kind("not a date")),  # a five-digit year
    ("OH", "Date Received", "01/30/201 7", lambda v: parse_date(v, US, pick="first"),
     Kind("not a date")),  # a space in the year
    ("OH", "Potential Number Affected", "89", lambda v: parse_number(v, integer=True), 89),
    ("OH", "Potential Number Affected", "13 FT", lambda v: parse_number(v, integer=True), 13),
    ("OH", "Potential Number Affected", "Unknown", lambda v: parse_number(v, integer=True),
     Kind("not a number")),
    ("OH", "Potential Number Affected", "58 94 97 35",
     lambda v: parse_number(v, integer=True), Kind("several numbers")),
    ("OH", "Potential Number Affected", "58 94 97 35",
     lambda v: parse_number(v, integer=True, pick="sum"), 284),
    ("OH", "Layoff Date(s)", "12/31/2023", lambda v: parse_date(v, US), D(2023, 12, 31)),
    ("OH", "Layoff Date(s)", "09/12/2023-11/12/2023", lambda v: parse_date(v, US),
     Kind("several dates")),
    ("OH", "Layoff Date(s)", "09/12/2023-11/12/2023", lambda v: parse_date(v, US, pick="first"),
     D(2023, 9, 12)),
    ("OH", "Layoff Date(s)", "10/31/2023 to 11/13/2023",
     lambda v: parse_date(v, US, pick="last"), D(2023, 11, 13)),
    ("OH", "Layoff Date(s)", "02/17/2020- 02/28/2020", lambda v: parse_date(v, US, pick="first"),
     D(2020, 2, 17)),
    ("OH", "Layoff Date(s)", "04/7/2018- 04/01/2019", lambda v: parse_date(v, US, pick="first"),
     D(2018, 4, 7)),
    ("OH", "Layoff Date(s)", "12/14/2018 - 12/28/2018",
     lambda v: parse_date(v, US, pick="first"), D(2018, 12, 14)),
    ("OH", "Layoff Date(s)", "None", lambda v: parse_date(v, US, pick="first"), Kind("not a date")),
    ("TX", "NOTICE_DATE", "2022-03-01 00:00:00", lambda v: parse_date(v, YMD_HMS),
     D(2022, 3, 1)),
    ("TX", "LayOff_Date", "2022-05-01 00:00:00", lambda v: parse_date(v), D(2022, 5, 1)),
    ("TX", "TOTAL_LAYOFF_NUMBER", "2475", lambda v: parse_number(v, integer=True), 2475),
    # TX's received "dates" are partly sequence numbers (64..19111): not Excel serials
    ("TX", "WFDD_RECEIVED_DATE", "10415", lambda v: parse_date(v, YMD_HMS), Kind("not a date")),
    ("TX", "WFDD_RECEIVED_DATE", "2022-03-01 00:00:00", lambda v: parse_date(v, YMD_HMS),
     D(2022, 3, 1)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("state", "column", "value", "parse", "expected"),
    SHAPES,
    ids=[f"{s[0]}:{s[1]}:{s[2]!r}" for s in SHAPES],
)
def test_warn_value_shapes(
    state: str, column: str, value: Cell, parse: Callable[[Cell], object], expected: object
) -> None:
    if isinstance(expected, Kind):
        assert failure(lambda: parse(value)).kind == expected.name
    else:
        assert parse(value) == expected


# --- the real WARN files: every value of a column, counted by outcome ------------------------

COLUMNS: list[tuple[str, str, Callable[[Cell], object], dict[str, int]]] = [
    ("fl", "State Notification Date", lambda v: parse_date(v, FL), {"ok": 2220}),
    ("fl", "Layoff Date", lambda v: parse_date(v, FL), {"ok": 15, "several dates": 2205}),
    ("fl", "Layoff Date", lambda v: parse_date(v, FL, pick="first"), {"ok": 2220}),
    ("fl", "Employees Affected", lambda v: parse_number(v, integer=True), {"ok": 2220}),
    ("il", "WARN Received", lambda v: parse_date(v), {"blank": 5088}),
    ("il", "Initial Date Reported", lambda v: parse_date(v), {"ok": 5085, "blank": 3}),
    ("il", "Impact Date", lambda v: parse_date(v, YMD_HMS), {"ok": 515, "blank": 4573}),
    ("il", "Notification(s) Received", lambda v: parse_date(v, US),
     {"ok": 5003, "several dates": 82, "blank": 3}),
    ("il", "Notification(s) Received", lambda v: parse_date(v, US, pick="first"),
     {"ok": 5085, "blank": 3}),
    ("il", "Expected Layoff", lambda v: parse_number(v, integer=True), {"ok": 5088}),
    ("il", "Location Zipcode", lambda v: parse_code(v, 5), {"ok": 4048, "not a code": 1040}),
    ("ny", "Date of WARN Notice ", lambda v: parse_date(v), {"ok": 252}),
    ("ny", "Date Layoff/Closure Starts", lambda v: parse_date(v), {"ok": 252}),
    ("ny", "Number of Affected Workers ", lambda v: parse_number(v, integer=True), {"ok": 252}),
    ("oh", "Date Received", lambda v: parse_date(v, US), {"ok": 704, "not a date": 98}),
    ("oh", "Date Received", lambda v: parse_date(v, US, pick="first"),
     {"ok": 800, "not a date": 2}),
    ("oh", "Potential Number Affected", lambda v: parse_number(v, integer=True),
     {"ok": 785, "not a number": 10, "several numbers": 1, "blank": 6}),
    ("oh", "Layoff Date(s)", lambda v: parse_date(v, US),
     {"ok": 524, "several dates": 263, "not a date": 9, "blank": 6}),
    ("oh", "Layoff Date(s)", lambda v: parse_date(v, US, pick="first"),
     {"ok": 787, "not a date": 9, "blank": 6}),
    ("tx", "NOTICE_DATE", lambda v: parse_date(v, YMD_HMS), {"ok": 6582}),
    ("tx", "LayOff_Date", lambda v: parse_date(v), {"ok": 6570, "blank": 12}),
    ("tx", "TOTAL_LAYOFF_NUMBER", lambda v: parse_number(v, integer=True),
     {"ok": 6556, "blank": 26}),
    ("tx", "WFDD_RECEIVED_DATE", lambda v: parse_date(v, YMD_HMS),
     {"ok": 1485, "not a date": 5097}),
]  # fmt: skip


@functools.cache
def _columns(state: str) -> dict[str, list[str]]:
    """The columns of ``state``'s file that COLUMNS reads (TX has 16,384 columns a row)."""
    wanted = {column for s, column, _, _ in COLUMNS if s == state}
    with (RAW / f"{state}.csv").open(newline="", encoding="utf-8-sig") as f:
        rows = csv.reader(f)
        header = next(rows)
        at = {column: header.index(column) for column in wanted}
        out: dict[str, list[str]] = {column: [] for column in wanted}
        for row in rows:
            for column, i in at.items():
                out[column].append(row[i] if i < len(row) else "")
    return out


def _column(state: str, column: str) -> list[str]:
    if not (RAW / f"{state}.csv").exists():
        pytest.skip("../shared/data/warn/raw is not present in this checkout")
    return _columns(state)[column]


@pytest.mark.parametrize(
    ("state", "column", "parse", "counts"),
    COLUMNS,
    ids=[f"{c[0]}:{c[1]}:{i}" for i, c in enumerate(COLUMNS)],
)
def test_warn_columns(
    state: str, column: str, parse: Callable[[Cell], object], counts: dict[str, int]
) -> None:
    outcomes: Counter[str] = Counter()
    for value in _column(state, column):
        if is_blank(value):
            outcomes["blank"] += 1
            continue
        try:
            parse(value)
        except CellError as exc:
            outcomes[exc.kind] += 1
        else:
            outcomes["ok"] += 1
    assert dict(outcomes) == counts
