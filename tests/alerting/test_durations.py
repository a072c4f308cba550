"""Durations of rule files: one unit per value, months of 30 days, numbers are seconds."""

from __future__ import annotations

from datetime import timedelta

import pytest

from alerting.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0s", timedelta(0)),
        ("30s", timedelta(seconds=30)),
        ("5m", timedelta(minutes=5)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("2w", timedelta(weeks=2)),
        ("3mo", timedelta(days=90)),
        ("12mo", timedelta(days=360)),
        ("1.5h", timedelta(minutes=90)),
        (" 35d ", timedelta(days=35)),
        ("30", timedelta(seconds=30)),
        (0, timedelta(0)),
        (90, timedelta(seconds=90)),
        (2.5, timedelta(seconds=2.5)),
    ],
)
def test_parse_duration(text: str | int | float, expected: timedelta) -> None:
    assert parse_duration(text) == expected


def test_minutes_and_months_are_not_confused() -> None:
    assert parse_duration("1m") == timedelta(minutes=1)
    assert parse_duration("1mo") == timedelta(days=30)


@pytest.mark.parametrize("bad", ["", "soon", "5 minutes", "5y", "-1s", "1h30m", "m", True, -3])
def test_bad_durations_name_the_accepted_units(bad: str | int) -> None:
    with pytest.raises(ValueError) as caught:
        parse_duration(bad)
    message = str(caught.value)
    assert repr(bad) in message
    for unit in ("s (seconds)", "m (minutes)", "h (hours)", "d (days)", "w (weeks)", "mo ("):
        assert unit in message


def test_format_duration_round_trips() -> None:
    for text in ("0s", "30s", "5m", "2h", "1d", "2w", "3mo", "36d"):
        assert format_duration(parse_duration(text)) == text
    assert format_duration(timedelta(days=35)) == "5w"
    assert format_duration(timedelta(seconds=1.5)) == "1.5s"
