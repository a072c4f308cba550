"""Small-cell disclosure control, the pure part: primary and complementary suppression,
fixed windows, the disclosure table of a hierarchy, and how each result is rendered.

The solver is checked against an independent audit by brute force: every assignment of
values an analyst could believe (1-4 for "<5", 5 or more for "x") that satisfies every
shown equation; no small cell may have only one possible value.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events.regions import load_reference
from projections import cells as cell_table
from projections import disclosure_views as views
from projections.disclosure import (
    SMALL,
    WITHHELD,
    CellTable,
    DisclosureError,
    Policy,
    count_cell,
    scrub,
)

TODAY = dt.date(2026, 6, 10)


def _audit(table: CellTable) -> dict[Any, set[float]]:
    """Every value an analyst could hold possible for each withheld cell (brute force; an
    "x" tried from 5 to a little above its truth, which can only leave fewer possibilities
    than an analyst has), given the shown cells, the markers and that every hidden
    remainder is 0 or more (exactly 0 where it is 0)."""
    solved = table.solve()
    withheld = sorted(solved.markers, key=repr)
    options = [
        range(1, 5)
        if solved.markers[k] == SMALL
        else range(5 if k in table.counts else 0, int(table.values.get(k, 0)) + 7)
        for k in withheld
    ]
    possible: dict[Any, set[float]] = {k: set() for k in withheld}
    for values in itertools.product(*options):
        guess = dict(zip(withheld, values, strict=True))

        def value(key: Any, guess: dict[Any, int] = guess) -> float:
            return guess.get(key, table.values.get(key, 0.0))

        if all(
            value(g.parent) - sum(value(k) for k in g.children) >= 0
            and (g.remainder > 0 or value(g.parent) == sum(value(k) for k in g.children))
            for g in table.groups
        ):
            for k, v in guess.items():
                possible[k].add(v)
    return possible


def _protected(table: CellTable) -> None:
    solved = table.solve()
    for key, seen in _audit(table).items():
        if solved.markers[key] == SMALL:
            assert len(seen) > 1, f"{key} is worked out exactly: {seen}"
        assert table.values[key] in seen  # the truth stays possible


def _city(values: dict[str, float], remainder: float = 0) -> CellTable:
    table = CellTable()
    table.add("city", sum(values.values()) + remainder)
    for k, v in values.items():
        table.add(k, v)
    table.group("city", list(values))
    return table


# -- primary suppression and windows -----------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [(0, 0), (1, SMALL), (4, SMALL), (5, 5), (4.0, SMALL), (2.5, SMALL), (True, True),
     (None, None), ("3", "3"), (250, 250)],
)  # fmt: skip
def test_a_count_from_1_to_4_is_shown_as_under_5(value: Any, shown: Any) -> None:
    assert count_cell(value) == shown


def test_analysts_may_ask_only_for_fixed_windows() -> None:
    analyst, officer = Policy.for_role("analyst"), Policy.for_role("duty_officer")
    assert analyst.suppress and not officer.suppress
    assert [analyst.window(d) for d in (None, 0, 7, 28, 365)] == [0, 0, 7, 28, 365]
    with pytest.raises(DisclosureError, match=r"days: analysts may ask for 7, 14, 28, 90, 365"):
        analyst.window(8)
    assert officer.window(8) == 8  # consecutive windows are fine for who sees every count


# -- complementary suppression -----------------------------------------------------------


def test_one_small_county_takes_the_next_smallest_with_it() -> None:
    table = _city({"a": 3, "b": 40, "c": 7})
    solved = table.solve()
    assert solved.markers == {"a": SMALL, "c": WITHHELD}
    assert solved.show("city") == 50 and solved.show("b") == 40
    _protected(table)


def test_a_small_total_is_withheld_with_its_parts() -> None:
    table = _city({"a": 3})
    assert table.solve().markers == {"city": SMALL, "a": SMALL}


def test_two_ones_would_be_worked_out_so_a_third_cell_goes() -> None:
    table = _city({"a": 1, "b": 1, "c": 20})
    assert table.solve().markers == {"a": SMALL, "b": SMALL, "c": WITHHELD}
    _protected(table)


def test_a_complement_of_exactly_5_beside_a_1_is_not_enough() -> None:
    # 106 - 100 = 6 = a + b with a <= 4 and b >= 5 gives a = 1: a third cell goes too
    table = _city({"a": 1, "b": 5, "c": 100})
    assert table.solve().markers == {"a": SMALL, "b": WITHHELD, "c": WITHHELD}
    _protected(table)


def test_a_small_remainder_no_one_is_shown_is_protected_too() -> None:
    # 10 registrations, 7 in the one target group shown: 3 without a group
    table = CellTable()
    table.add("registrations", 10)
    table.add("group", 7)
    table.group("registrations", ["group"])
    assert table.solve().markers == {"group": WITHHELD}


def test_the_complement_is_the_cell_in_fewest_other_equations() -> None:
    # A week holds one day of 50; a fortnight adds a day of 2. Withholding the day of 50
    # would spread (it is in the week too); the fortnight is in no other equation.
    table = CellTable()
    for key, value in {"day0": 50, "day10": 2, "week": 50, "fortnight": 52}.items():
        table.add(key, value)
    table.group("week", ["day0"])
    table.group("fortnight", ["day0", "day10"])
    assert table.solve().markers == {"day10": SMALL, "fortnight": WITHHELD}


def test_nothing_small_nothing_withheld_and_amounts_go_with_their_count() -> None:
    assert _city({"a": 0, "b": 12, "c": 7}).solve().markers == {}
    table = CellTable()
    table.add("paid", 2)
    table.add("amount", 1200, count=False)
    table.link("paid", "amount")
    assert table.solve().markers == {"paid": SMALL, "amount": WITHHELD}


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.integers(0, 12), min_size=2, max_size=4),
    st.integers(0, 6),
)
def test_no_small_county_can_be_worked_out_by_subtraction(
    counties: list[int], remainder: int
) -> None:
    table = _city({f"c{i}": v for i, v in enumerate(counties)}, remainder)
    solved = table.solve()
    if solved.unresolved:  # the one case left: four ones under a 4, everything withheld
        assert remainder == 0 and sorted(counties) == [1, 1, 1, 1]
        return
    for key, value in table.values.items():
        if 0 < value < 5 and key in table.shown:
            assert solved.markers[key] == SMALL
    _protected(table)


# -- the disclosure table of a hierarchy -------------------------------------------------


def _linyi() -> Any:
    """371302: 3 laid off today, 2 ten days ago; 371311: 40; 371312: 7 (windows from the
    days, as the store would sum them)."""
    days = {"371302": {0: 3, 10: 2}, "371311": {0: 40}, "371312": {0: 7}}
    windows: dict[str, dict[tuple[str, int], float]] = {}
    daily: dict[str, dict[tuple[str, dt.date], float]] = {}
    for region, per_day in days.items():
        windows[region] = {
            ("people_laid_off", w): float(sum(v for d, v in per_day.items() if not w or d < w))
            for w in cell_table.WINDOWS
        }
        daily[region] = {
            ("people_laid_off", TODAY - dt.timedelta(days=d)): float(v) for d, v in per_day.items()
        }
    table = cell_table.assemble(
        load_reference("shandong"), TODAY, windows, daily, {"371300": 3}, {}, {}, detail=True
    )
    return table.solve()


def test_the_table_links_counties_their_city_and_the_windows() -> None:
    cells = _linyi()
    week = {r: cells.show(("w", "people_laid_off", r, 7)) for r in ("371302", "371311", "371312")}
    assert week == {"371302": SMALL, "371311": 40, "371312": WITHHELD}
    assert cells.show(("w", "people_laid_off", "371300", 7)) == 50
    # the fortnight would show the 2 of ten days ago (52 - 50)
    assert cells.show(("w", "people_laid_off", "371300", 14)) == WITHHELD
    assert cells.show(("persons", "371300")) == SMALL
    assert cells.unresolved == 0


# -- views -------------------------------------------------------------------------------


def test_the_overview_and_indicators_take_their_counts_from_the_table() -> None:
    cells = _linyi()
    ctx = views.Context(cells=cells, window=7, components=("people_laid_off_7d",))
    row = {"code": "371300", "name": "临沂市", "people_laid_off": 99, "persons": 3,
           "disaster_areas": 1, "new_count": 2}  # fmt: skip
    [shown] = views.overview([row], ctx)
    assert shown["people_laid_off"] == 50  # the table's, not the route's figure
    assert (shown["persons"], shown["disaster_areas"], shown["new_count"]) == (SMALL, 1, SMALL)
    values = {
        "people_laid_off_7d": {"371302": 3.0, "371311": 40.0},
        "risk_index": {"371302": 0.03, "371311": 0.4},
        "disaster_area": {"371302": 1.0},
        "rule:layoffs-rise": {"371302": 1.0},
    }
    got = views.indicators(values, ctx)
    assert got["people_laid_off_7d"] == {"371302": SMALL, "371311": 40}
    # the index of a region with a withheld count would give the count back (3 -> 0.03)
    assert got["risk_index"] == {"371302": WITHHELD, "371311": 0.4}
    assert got["disaster_area"] == {"371302": 1.0} and "rule:layoffs-rise" not in got


def test_a_ratio_is_withheld_when_a_part_is_small() -> None:
    table = CellTable()
    table.add(("w", "registrations", "r", 28), 40)
    table.add(("w", "vacancy_openings", "r", 28), 2)
    ctx = views.Context(cells=table.solve(), query={"region": "r"})
    got = views.indicators({"applicant_to_vacancy_ratio": 20.0, "job_loss_rate": 1.5}, ctx)
    assert got == {"applicant_to_vacancy_ratio": WITHHELD, "job_loss_rate": 1.5}


def test_trends_show_the_table_s_days_of_the_last_90_days_only() -> None:
    ctx = views.Context(cells=_linyi(), today=TODAY)
    old = (TODAY - dt.timedelta(days=200)).isoformat()
    doc = {"region": "371300", "since": old, "days": [
        {"day": old, "people_laid_off": 9},
        {"day": (TODAY - dt.timedelta(days=10)).isoformat(), "people_laid_off": 2},
        {"day": TODAY.isoformat(), "people_laid_off": 50}]}  # fmt: skip
    got = views.trends(doc, ctx)
    assert [d["people_laid_off"] for d in got["days"]] == [SMALL, 50]  # 50 is the week too
    assert got["since"] == (TODAY - dt.timedelta(days=89)).isoformat()


def test_alerts_on_counts_hide_value_threshold_and_the_summary_s_figures() -> None:
    ctx = views.Context(count_rules={"layoffs": True, "disaster": False})
    row = {"rule": "layoffs", "indicator": "people_laid_off_7d", "value": 3.0, "threshold": 1.0,
           "summary": "兰山区 裁员: 3（阈值 1）", "ack_note": "3 人"}  # fmt: skip
    assert views.alert(row, ctx) == row | {
        "value": SMALL,
        "threshold": SMALL,
        "summary": "兰山区 裁员: <5（阈值 <5）",
        "ack_note": None,
    }
    flag = {"rule": "disaster", "indicator": "disaster_area", "value": 2.0, "threshold": 1.0}
    assert views.alert(flag, ctx) == flag  # a severity, not a count
    # the projection may read rule and indicator empty: the alert id still names the rule
    blank = row | {"rule": "", "indicator": "", "alert_id": "layoffs:371302:20260610T080000"}
    assert views.alert(blank, ctx)["value"] == SMALL
    assert views.alert(blank | {"alert_id": "unknown"}, ctx)["value"] == SMALL
    resolved = {"event_type": "alert.resolved", "payload": orjson.dumps(
        {"alert_id": "layoffs:371302:x", "resolution": "指标回落 value 2"}).decode()}  # fmt: skip
    ctx = views.Context(count_rules={"layoffs": True}, path={"alert_id": "layoffs:371302:x1"})
    timeline = views.alert_timeline([resolved], ctx)
    assert orjson.loads(timeline[0]["payload"])["resolution"] == "指标回落 value <5"


def test_run_figures_reports_and_notes() -> None:
    outcomes = {"people_enrolled": 12, "still_enrolled": 9, "people_placed": 0,
                "subsidies_paid": 2, "subsidy_amount": 1200.0, "welfare_posts": 50}  # fmt: skip
    # 12 enrolled - 9 still = 3 ended: one more figure goes so the 3 stays unknown
    got = views.outcomes(outcomes)
    assert got["subsidies_paid"] == SMALL and got["subsidy_amount"] == WITHHELD
    assert got["welfare_posts"] == 50 and WITHHELD in (
        got["people_enrolled"],
        got["still_enrolled"],
    )
    run = {"run_id": "r", "notes": [{"text": "3 人", "at": "t"}], "decline_reason": "x 2 人",
           "outcomes": outcomes, "steps": [{"step_id": "enrol", "counts": {"people_enrolled": 3},
           "note": "3 人"}], "report": orjson.dumps({"counts": outcomes}).decode()}  # fmt: skip
    shown = views.run(run, views.Context())
    assert shown["notes"] == [] and shown["decline_reason"] is None
    assert shown["steps"][0] == {"step_id": "enrol", "counts": {"people_enrolled": SMALL},
                                 "note": None}  # fmt: skip
    assert orjson.loads(shown["report"])["counts"]["subsidies_paid"] == SMALL


def test_a_dry_run_hides_how_many_it_would_reach() -> None:
    doc = {"steps": [{"step_id": "pay", "action": {"kind": "subsidy_batch", "people": 2,
           "amount_each": "600", "amount_total": "1200"}}]}  # fmt: skip
    [step] = views.simulation(doc, views.Context())["steps"]
    assert step["action"] == {"kind": "subsidy_batch", "people": SMALL, "amount_each": "600",
                              "amount_total": WITHHELD}  # fmt: skip


def test_the_default_withholds_small_numbers_and_free_text_everywhere() -> None:
    doc = {"rows": [{"n": 3, "level": 2, "note": "hi", "big": 12}],
           "payload": orjson.dumps({"count": 1, "reason": "x"}).decode()}  # fmt: skip
    assert scrub(doc) == {
        "rows": [{"n": SMALL, "level": 2, "note": None, "big": 12}],
        "payload": orjson.dumps({"count": SMALL, "reason": None}).decode(),
    }
    assert views.stream({"rows": 1234}, views.Context()) == {}


def test_a_rate_per_million_is_withheld_with_its_count() -> None:
    """Times the population, a rate is its count: shown only when the count is."""
    table = CellTable()
    table.add(("w", "people_laid_off", "small", 7), 3)
    table.add(("w", "people_laid_off", "large", 7), 40)
    ctx = views.Context(cells=table.solve())
    got = views.indicators({"people_laid_off_7d_per_million": {"small": 1.4, "large": 18.0}}, ctx)
    assert got == {"people_laid_off_7d_per_million": {"small": WITHHELD, "large": 18.0}}


def test_welfare_post_holders_are_a_count_of_people_and_the_slots_are_not() -> None:
    """A county with 3 people on posts is "<5", and its neighbour goes with it (the city's
    total would give it back); the slots of advertised posts are shown, but not where they
    would tell the holders: 3 slots all taken and "<5" holders is 3, so that county's slots
    are withheld, and then another county's too (the city's slots less its siblings' would
    give them back)."""
    holders = {"371302": 3.0, "371311": 12.0, "371312": 9.0}
    slots = {"371302": 3.0, "371311": 20.0, "371312": 9.0, "371321": 6.0}
    table = cell_table.assemble(
        load_reference("shandong"), TODAY, {}, {}, {}, {}, {}, detail=True, holders=holders,
        slots=slots,
    )  # fmt: skip
    _protected(table)
    cells = table.solve()
    ctx = views.Context(cells=cells)
    values = {
        "welfare_post_holders": {**holders, "371300": 24.0},
        "welfare_post_slots": {**slots, "371300": 38.0},
    }
    got = views.indicators(values, ctx)
    assert got["welfare_post_holders"]["371302"] == SMALL
    assert got["welfare_post_holders"]["371300"] == 24
    assert WITHHELD in (
        got["welfare_post_holders"]["371311"],
        got["welfare_post_holders"]["371312"],
    )
    # 371312's 9 slots are all taken by its 9 withheld holders: withheld too; 371321's
    # (the smallest) go with them, or 38 less the shown ones would give them back
    assert got["welfare_post_slots"] == {
        "371302": WITHHELD, "371311": 20, "371312": WITHHELD, "371321": WITHHELD, "371300": 38,
    }  # fmt: skip
    assert "welfare_post_holders" in views.COUNT_INDICATORS
