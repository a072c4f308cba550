"""The alert state machine, read as timelines (in the style of Alertmanager's acceptance tests).

Each test feeds ``(minute, value)`` points through ``step`` and expects transitions as
``(minute, kind, level)``: "value 250 at t=0 ... raised at t=2m".
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from alerting.engine import AlertState, Transition, backtest, step
from alerting.errors import AlertingError
from alerting.rules import Rule, Scope, Threshold

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)

Point = tuple[float, float | None]
Expected = list[tuple[float, str, str | None]]


def at(minute: float) -> datetime:
    """The time ``minute`` minutes after T0."""
    return T0 + timedelta(minutes=minute)


def rule(pending: str = "0s", keep_firing: str = "0s") -> Rule:
    """A county layoff rule: IV 50/40, III 200/160, I 500/400 (no II)."""
    minutes = {"0s": 0, "2m": 2, "5m": 5, "10m": 10}
    return Rule(
        id="t.layoffs",
        title="区县裁员人数 / People laid off",
        indicator="people_laid_off_7d",
        kind="absolute",
        scope=Scope(level="county"),
        levels={"IV": Threshold(50, 40), "III": Threshold(200, 160), "I": Threshold(500, 400)},
        pending=timedelta(minutes=minutes[pending]),
        keep_firing=timedelta(minutes=minutes[keep_firing]),
    )


def run(r: Rule, points: list[Point]) -> Expected:
    """Backtest ``points`` and return the transitions as (minute, kind, level)."""
    out = backtest(r, [(at(m), v) for m, v in points])
    return [((t.at - T0) / timedelta(minutes=1), t.kind, t.level) for t in out]


def test_pending_holds_a_raise() -> None:
    # value 250 at t=0 ... raised at t=2m, not before
    points: list[Point] = [(0, 250), (1, 250), (2, 250), (3, 250)]
    assert run(rule(pending="2m"), points) == [(0, "pending", "III"), (2, "raised", "III")]


def test_pending_is_dropped_when_the_value_falls_back() -> None:
    points: list[Point] = [(0, 250), (1, 10), (2, 250), (3, 250), (4, 250)]
    assert run(rule(pending="2m"), points) == [
        (0, "pending", "III"),
        (2, "pending", "III"),
        (4, "raised", "III"),
    ]


def test_pending_zero_fires_at_the_first_evaluation() -> None:
    [raised] = backtest(rule(), [(at(0), 250)])
    assert raised == Transition("raised", "III", None, 250, 200, at(0))


def test_a_lower_pending_level_keeps_its_timer() -> None:
    # 250 (III) at t=0, 100 (IV) at t=1: IV has held since t=0, so it fires at t=2
    points: list[Point] = [(0, 250), (1, 100), (2, 100)]
    assert run(rule(pending="2m"), points) == [
        (0, "pending", "III"),
        (1, "pending", "IV"),
        (2, "raised", "IV"),
    ]


def test_hysteresis_a_value_flapping_around_enter_does_not_flap() -> None:
    # III enters at 200 and exits below 160: 190, 210, 170 keep it firing
    points: list[Point] = [(0, 210), (1, 190), (2, 210), (3, 170), (4, 205), (5, 165)]
    assert run(rule(), points) == [(0, "raised", "III")]
    # below exit(III) it is lowered to IV, whose exit 40 it is still above
    assert run(rule(), [*points, (6, 150)]) == [(0, "raised", "III"), (6, "level_lowered", "IV")]


def test_keep_firing_delays_resolution() -> None:
    points: list[Point] = [(0, 60), (1, 10), (3, 10), (5, 10), (6, 10)]
    assert run(rule(keep_firing="5m"), points) == [(0, "raised", "IV"), (6, "resolved", None)]


def test_a_return_above_exit_cancels_keep_firing() -> None:
    points: list[Point] = [(0, 60), (1, 10), (4, 45), (6, 10), (10, 10), (11, 10)]
    # the timer started at t=1 is cancelled at t=4 and restarts at t=6: resolved at t=11
    assert run(rule(keep_firing="5m"), points) == [(0, "raised", "IV"), (11, "resolved", None)]


def test_keep_firing_zero_resolves_at_the_first_evaluation_below_exit() -> None:
    [_, resolved] = backtest(rule(), [(at(0), 60), (at(1), 39.9)])
    assert resolved == Transition("resolved", None, "IV", 39.9, 40, at(1))


def test_level_raised_waits_for_pending_and_lowering_does_not() -> None:
    points: list[Point] = [
        (0, 60),  # IV pending
        (2, 60),  # IV raised
        (3, 600),  # I pending (no separate transition while firing)
        (4, 600),
        (5, 600),  # I held 2m: level_raised
        (6, 450),  # still above exit(I) 400: stays at I
        (7, 300),  # below exit(I): lowered to III at once (300 >= exit(III) 160)
        (8, 20),  # below every exit: resolved (keep_firing 0)
    ]
    assert run(rule(pending="2m"), points) == [
        (0, "pending", "IV"),
        (2, "raised", "IV"),
        (5, "level_raised", "I"),
        (7, "level_lowered", "III"),
        (8, "resolved", None),
    ]
    transitions = backtest(rule(pending="2m"), [(at(m), v) for m, v in points])
    raised_to_i, lowered = transitions[2], transitions[3]
    assert (raised_to_i.previous_level, raised_to_i.threshold, raised_to_i.value) == (
        "IV",
        500,
        600,
    )
    assert (lowered.previous_level, lowered.threshold) == ("I", 400)


def test_a_higher_level_that_does_not_hold_is_dropped() -> None:
    points: list[Point] = [
        (0, 60),
        (2, 60),  # IV raised
        (3, 600),  # I pending while firing at IV
        (4, 60),  # I dropped, IV stays
        (5, 600),  # I pending again, from t=5
        (6, 600),
    ]
    assert run(rule(pending="2m"), points) == [(0, "pending", "IV"), (2, "raised", "IV")]
    assert run(rule(pending="2m"), [*points, (7, 600)])[2:] == [(7, "level_raised", "I")]


def test_none_values_change_nothing_but_drop_pending() -> None:
    r = rule(pending="2m", keep_firing="5m")
    pending, emitted = step(r, AlertState.initial(), 250, at(0))
    assert emitted and pending.pending_level == "III"
    dropped, emitted = step(r, pending, None, at(1))
    assert emitted == [] and dropped.pending_level is None and dropped.pending_since is None
    # a firing alert stays firing through missing data, and its keep-firing timer runs on
    state = AlertState(level="IV", firing_since=at(0), clear_since=at(1), value=10)
    same, emitted = step(r, state, None, at(3))
    assert (same, emitted) == (state, [])
    assert run(r, [(0, 60), (2, 60), (3, 10), (5, None), (8, 10)]) == [
        (0, "pending", "IV"),
        (2, "raised", "IV"),
        (8, "resolved", None),
    ]


def test_repeated_evaluation_emits_nothing() -> None:
    r = rule(pending="2m", keep_firing="5m")
    state = AlertState.initial()
    seen: list[Transition] = []
    for minute, value in [(0, 250), (2, 250), (3, 100), (4, 10)]:
        state, emitted = step(r, state, value, at(minute))
        seen += emitted
        again, repeat = step(r, state, value, at(minute))
        assert repeat == [] and again == state
    assert [t.kind for t in seen] == ["pending", "raised", "level_lowered"]
    assert state.level == "IV" and state.clear_since == at(4)


def test_state_after_resolution_is_initial_with_the_value() -> None:
    r = rule()
    state, _ = step(r, AlertState.initial(), 250, at(0))
    assert (state.level, state.firing_since, state.value) == ("III", at(0), 250)
    state, [resolved] = step(r, state, 1, at(1))
    assert resolved.kind == "resolved"
    assert state == replace(AlertState.initial(), value=1)


def test_backtest_over_a_series() -> None:
    # daily values of a county: rises, peaks, recovers; pending 1 day, keep firing 2 days
    daily = [0, 30, 70, 180, 260, 240, 150, 90, 35, 20, 20]
    r = replace(rule(), pending=timedelta(days=1), keep_firing=timedelta(days=2))
    series = [(T0 + timedelta(days=d), float(v)) for d, v in enumerate(daily)]
    got = [((t.at - T0).days, t.kind, t.level) for t in backtest(r, series)]
    assert got == [
        (2, "pending", "IV"),  # 70 >= 50
        (3, "raised", "IV"),  # held one day (180 is still below III's 200)
        (5, "level_raised", "III"),  # 260 on day 4, held to day 5
        (6, "level_lowered", "IV"),  # 150 < exit(III) 160, at once
        (10, "resolved", None),  # below exit(IV) 40 since day 8, kept firing 2 days
    ]


def test_backtest_rejects_a_series_going_back_in_time() -> None:
    with pytest.raises(AlertingError, match="index 2"):
        backtest(rule(), [(at(0), 1.0), (at(2), 2.0), (at(1), 3.0)])


def test_a_state_at_a_level_the_rule_lost_is_reported() -> None:
    with pytest.raises(AlertingError, match="no level 'II'.*AlertState.initial"):
        step(rule(), AlertState(level="II", firing_since=at(0)), 10, at(1))
