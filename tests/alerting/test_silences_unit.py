"""Silence matchers: rule, region (and below), level, time window, expiry."""

from __future__ import annotations

import datetime as dt

from alerting.silences import Silence, silenced

T = dt.datetime(2026, 7, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
CHAIN = ["371302", "371300", "370000"]  # a Linyi county, Linyi, the province


def silence(**kw: object) -> Silence:
    base: dict[str, object] = dict(
        silence_id="s1", rule=None, region=None, level=None, starts_at=T,
        ends_at=T + dt.timedelta(hours=1), actor="duty", reason=None, expired=False,
    )  # fmt: skip
    base.update(kw)
    return Silence(**base)  # type: ignore[arg-type]


def test_a_city_silence_covers_its_counties_but_not_other_cities() -> None:
    s = silence(region="371300")
    assert s.matches("r", CHAIN, "II", T)
    assert not s.matches("r", ["370102", "370100", "370000"], "II", T)


def test_every_given_matcher_must_match() -> None:
    s = silence(region="371300", level="IV", rule="layoffs")
    assert s.matches("layoffs", CHAIN, "IV", T)
    assert not s.matches("layoffs", CHAIN, "III", T)
    assert not s.matches("disaster", CHAIN, "IV", T)


def test_time_window_and_expiry() -> None:
    s = silence(region="370000")
    assert not s.matches("r", CHAIN, "I", T - dt.timedelta(seconds=1))
    assert s.matches("r", CHAIN, "I", T + dt.timedelta(minutes=59))
    assert not s.matches("r", CHAIN, "I", T + dt.timedelta(hours=1))
    assert not silence(region="370000", expired=True).matches("r", CHAIN, "I", T)
    assert silenced([silence(region="370100"), s], "r", CHAIN, "I", T) is s
