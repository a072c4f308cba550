"""Rosters: loading, duty hours (overnight too) and who hears about what."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from alerting.roster import load_roster
from eams.errors import ConfigError
from events.clock import SHANGHAI

EXAMPLE = Path(__file__).parents[2] / "deploy" / "roster.example.yaml"


def at(hour: int) -> dt.datetime:
    return dt.datetime(2026, 7, 1, hour, 30, tzinfo=SHANGHAI)


def test_example_roster_loads_with_secrets_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DINGTALK_SECRET", "SECabc")
    roster = load_roster(EXAMPLE)
    assert [o.id for o in roster.officers] == ["linyi-day", "linyi-night", "province-duty"]
    assert roster.channels["dingtalk"]["province-duty"]["secret"] == "SECabc"
    assert roster.policy.escalate_after == dt.timedelta(minutes=15)
    assert roster.policy.report_deadline["III"] == dt.timedelta(hours=12)


def test_day_and_overnight_shifts_cover_the_clock() -> None:
    roster = load_roster(EXAMPLE)
    chain = ["371302", "371300", "370000"]
    for hour, expected in ((9, "linyi-day"), (19, "linyi-day"), (20, "linyi-night"),
                           (2, "linyi-night"), (7, "linyi-night")):  # fmt: skip
        assert [o.id for o in roster.responsible(chain, "city", at(hour))] == [expected]
    assert [o.id for o in roster.responsible(chain, "province", at(3))] == ["province-duty"]
    assert roster.responsible(["370102", "370100", "370000"], "city", at(9)) == []


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("officers:\n  - {id: a, regions: [x], tier: county}\n", "tier must be city or province"),
        ("officers:\n  - {id: a, hours: '8-20', regions: [x]}\n", "hours must look like"),
        ("officers:\n  - {name: nobody}\n", "needs id, regions"),
        ("policy: {escalate_after: soon}\n", "policy"),
    ],
)
def test_mistakes_name_the_file_and_entry(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "roster.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_roster(path)
    assert str(path) in str(info.value) and needle in str(info.value)


def test_mute_windows_hold_back_only_the_levels_they_name(tmp_path: Path) -> None:
    path = tmp_path / "roster.yaml"
    path.write_text(
        "policy:\n  mute_windows:\n"
        "    - {days: [sat, sun], hours: '00:00-24:00', levels: [IV]}\n"
        "    - {days: [fri], hours: '22:00-06:00', levels: [IV, III]}\n"
    )
    policy = load_roster(path).policy
    saturday = dt.datetime(2026, 7, 4, 11, 0, tzinfo=SHANGHAI)
    assert policy.muted("IV", saturday) and not policy.muted("III", saturday)
    assert not policy.muted("I", saturday)  # red alerts are never muted unless listed
    friday_late = dt.datetime(2026, 7, 3, 23, 0, tzinfo=SHANGHAI)
    saturday_early = dt.datetime(2026, 7, 4, 5, 0, tzinfo=SHANGHAI)
    saturday_after = dt.datetime(2026, 7, 4, 7, 0, tzinfo=SHANGHAI)
    assert policy.muted("III", friday_late) and policy.muted("III", saturday_early)
    assert not policy.muted("III", saturday_after)
    assert not policy.muted("IV", dt.datetime(2026, 7, 1, 11, 0, tzinfo=SHANGHAI))  # Wednesday


def test_a_bad_mute_window_names_its_entry(tmp_path: Path) -> None:
    path = tmp_path / "roster.yaml"
    path.write_text("policy:\n  mute_windows:\n    - {days: [someday]}\n")
    with pytest.raises(ConfigError) as info:
        load_roster(path)
    assert "policy.mute_windows[0]" in str(info.value) and "someday" in str(info.value)


def test_a_mute_window_of_no_level_lists_the_levels(tmp_path: Path) -> None:
    path = tmp_path / "roster.yaml"
    path.write_text("policy:\n  mute_windows:\n    - {levels: [IV, V]}\n")
    with pytest.raises(ConfigError) as info:
        load_roster(path)
    assert str(info.value) == (
        f"{path}: policy.mute_windows[0]: levels must be among I, II, III, IV"
    )
