"""The severity scale and the province's clock: pure functions, no I/O."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from events.clock import SHANGHAI, now, today
from events.errors import EamsError
from events.labels import label
from events.severity import (
    LEVEL_HELP,
    LEVEL_NAMES,
    LEVELS,
    NORMAL,
    UnknownLevelError,
    at_least,
    describe_levels,
    document,
    level,
    most_severe,
    parse_level,
    rank,
)
from events.vocabulary import RiskLevel, Severity


def test_levels_run_from_least_to_most_severe_with_the_official_colours() -> None:
    assert LEVEL_NAMES == ("IV", "III", "II", "I")
    assert [lv.colour for lv in LEVELS] == ["blue", "yellow", "orange", "red"]
    assert [lv.colour_zh for lv in LEVELS] == ["蓝色", "黄色", "橙色", "红色"]
    assert [lv.rank for lv in LEVELS] == [1, 2, 3, 4]
    assert NORMAL.rank == 0


def test_every_wire_value_has_a_level() -> None:
    assert {str(s) for s in Severity} == set(LEVEL_NAMES)
    assert {str(r) for r in RiskLevel} == {*LEVEL_NAMES, str(NORMAL.name)}


def test_hex_colours_are_css_colours_and_distinct() -> None:
    colours = [lv.hex for lv in (NORMAL, *LEVELS)]
    assert all(re.fullmatch(r"#[0-9a-f]{6}", c) for c in colours + [lv.ink for lv in LEVELS])
    assert len(set(colours)) == len(colours)


def test_names_say_level_and_colour_in_both_languages() -> None:
    assert level("II").zh == "II级（橙色）"
    assert level("II").en == "Level II (orange)"
    assert level("normal").zh == "正常"
    # the catalogue's labels are the scale's names
    for lv in (NORMAL, *LEVELS):
        assert label(str(lv.name), "zh") == lv.zh
        assert label(str(lv.name), "en") == lv.en


def test_rank_orders_levels_and_no_level_is_zero() -> None:
    assert [rank(n) for n in ("IV", "III", "II", "I")] == [1, 2, 3, 4]
    assert rank(None) == rank("") == rank("normal") == 0
    assert rank(Severity.I) == 4


def test_rank_of_an_unknown_level_raises_unless_a_default_is_given() -> None:
    with pytest.raises(UnknownLevelError, match=r"unknown level 'V'; use IV \(blue\)"):
        rank("V")
    assert rank("V", default=1) == 1


def test_at_least_compares_by_severity() -> None:
    assert at_least("I", "III")
    assert at_least("III", "III")
    assert not at_least("IV", "III")
    assert not at_least(None, "IV")


def test_most_severe_picks_the_highest_rank() -> None:
    assert most_severe(["III", None, "I", "II", "normal"]) == "I"
    assert most_severe([None, "normal"]) is None
    assert most_severe([]) is None


def test_parse_level_accepts_the_official_names_only() -> None:
    assert parse_level("II") is Severity.II
    assert parse_level(Severity.IV) is Severity.IV
    for bad in ("V", "ii", " II", 2, None, "normal"):
        with pytest.raises(UnknownLevelError) as caught:
            parse_level(bad, "alert level")
        assert str(caught.value) == (
            f"unknown alert level {bad!r}; use IV (blue), III (yellow), II (orange) or I (red)"
        )
        assert caught.value.value == bad


def test_unknown_level_is_an_eams_error_and_a_value_error() -> None:
    with pytest.raises(EamsError):
        level("V")
    with pytest.raises(ValueError, match="unknown level"):
        level("V")
    assert LEVEL_HELP == "IV (blue), III (yellow), II (orange) or I (red)"


def test_levels_are_described_in_either_order() -> None:
    assert describe_levels() == LEVEL_HELP
    assert describe_levels(most_severe_first=True) == (
        "I (most severe, red), II (orange), III (yellow) or IV (blue)"
    )


def test_document_is_json_with_every_level_and_normal() -> None:
    doc = json.loads(json.dumps(document()))
    assert [lv["name"] for lv in doc["levels"]] == list(LEVEL_NAMES)
    assert doc["levels"][2] == {
        "name": "II",
        "rank": 3,
        "colour": "orange",
        "hex": "#ff7f0e",
        "ink": "#ffffff",
        "colour_zh": "橙色",
        "zh": "II级（橙色）",
        "en": "Level II (orange)",
    }
    assert doc["normal"]["rank"] == 0
    assert doc["normal"]["hex"] == "#cfd8e3"


def test_today_is_the_shanghai_date_whatever_the_zone() -> None:
    late_utc = dt.datetime(2026, 12, 1, 16, 0, tzinfo=dt.UTC)  # 00:00 on the 2nd in Shanghai
    assert today(late_utc) == dt.date(2026, 12, 2)
    assert now().tzinfo is SHANGHAI
    assert SHANGHAI.utcoffset(dt.datetime(2026, 7, 1)) == dt.timedelta(hours=8)
