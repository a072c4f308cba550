"""The performance evaluation: periods as people write them, the indicator table checked
line by line, the scoring (weights, targets, an indicator with nothing to count giving its
weight to the others, ties sharing a rank), what each measure counts over a known history
in the real embedded ClickHouse (chDB) as known at an instant, and the Excel and PDF that
show the same figures."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pypdf
import pytest
from python_calamine import CalamineWorkbook

from eams.evaluations import compute, percent, to_pdf, to_xlsx
from events.clock import SHANGHAI
from events.envelope import Envelope, internal_event
from events.regions import load_reference
from projections.client import Store
from projections.migrations import migrate
from projections.rows import COLUMNS, to_row
from subsidies.evaluation import (
    EvaluationAggregate,
    differences,
    lint_table,
    load_table,
    parse_period,
    score,
)

ROOT = Path(__file__).parents[2]
TABLE = load_table(ROOT / "deploy" / "evaluation" / "indicators.yaml")
LANSHAN, LUOZHUANG, LINYI, LIXIA, JINAN = "371302", "371311", "371300", "370102", "370100"
Q1 = parse_period("2026-Q1")
FROZEN_AT = dt.datetime(2026, 4, 2, 9, tzinfo=SHANGHAI)


def test_periods_as_people_write_them() -> None:
    assert (Q1.start, Q1.end) == (dt.date(2026, 1, 1), dt.date(2026, 3, 31))
    assert parse_period("2026").end == dt.date(2026, 12, 31)
    assert parse_period("2026-H2").start == dt.date(2026, 7, 1)
    assert parse_period("2024-02").end == dt.date(2024, 2, 29)
    assert Q1.end_at == dt.datetime(2026, 4, 1, tzinfo=SHANGHAI)
    for bad in ("2026-Q5", "26-Q1", "2026-13", "Q1"):
        with pytest.raises(ValueError, match="give a year"):
            parse_period(bad) if bad != "2026-13" else parse_period("2026-1")
    with pytest.raises(ValueError, match="the month is 01-12"):
        parse_period("2026-13")


def test_the_table_is_checked_line_by_line(tmp_path: Path) -> None:
    text = (ROOT / "deploy" / "evaluation" / "indicators.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "t.yaml"
    bad.write_text(
        text.replace("measure: coverage", "measure: coverag")
        .replace("    days: 15\n", "")
        .replace("weight: 20\n    target: 0.6", "weigth: 20\n    target: 0.6")
    )
    problems = lint_table(bad)
    line = text[: text.index("weight: 20\n    target: 0.6")].count("\n") + 1
    assert (
        f"{bad}:{line}: indicators[1].weigth: unknown key 'weigth'; did you mean 'weight'?"
        in problems
    )
    bad.write_text(
        text.replace("measure: coverage", "measure: coverag").replace("    days: 15\n", "")
    )
    problems = lint_table(bad)
    assert any("unknown measure 'coverag'; did you mean 'coverage'?" in p for p in problems)
    assert any("the measure recognition_timeliness needs days" in p for p in problems)
    assert lint_table(ROOT / "deploy" / "evaluation" / "indicators.yaml") == []


def test_scores_weights_targets_and_ranks() -> None:
    zero = (Decimal(0), Decimal(0))
    full = {i.id: (Decimal(19), Decimal(20)) for i in TABLE.indicators}
    counts = {
        "A": full,
        "B": full,
        "C": {**{i.id: zero for i in TABLE.indicators}, "coverage": (Decimal(1), Decimal(2))},
        "D": {i.id: zero for i in TABLE.indicators},
    }
    rows = {r["region"]: r for r in score(TABLE, counts, dict.fromkeys("ABCD", "county"))}
    # 0.95 of every indicator: coverage meets its 0.95 target (20), employment 0.6 (20) …
    assert rows["A"]["indicators"]["coverage"] == {
        "numerator": "19",
        "denominator": "20",
        "value": "0.9500",
        "score": "20.00",
    }
    assert rows["A"]["indicators"]["clearing_on_time"]["score"] == "14.25"  # 15 × 0.95
    assert rows["A"]["total"] == "98.75" and rows["A"]["rank"] == rows["B"]["rank"] == 1
    # only coverage counted: 0.5 / 0.95 of its 20, over 20 possible
    # its score is rounded to the fen first: 20 × 0.5 / 0.95 = 10.53 of 20
    assert rows["C"]["indicators"]["coverage"]["score"] == "10.53"
    assert rows["C"]["total"] == "52.65"
    assert rows["C"]["rank"] == 3 and rows["D"]["total"] is None and rows["D"]["rank"] is None
    assert differences(list(rows.values()), list(rows.values())) == []


def _at(month: int, day: int, hour: int = 9) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, tzinfo=SHANGHAI)


def _e(
    etype: str,
    key: str,
    at: dt.datetime,
    region: str = LANSHAN,
    recorded: dt.datetime | None = None,
    **payload: Any,
) -> Envelope:
    person = {"person_id": key} if key.startswith("p_") else {}
    e = internal_event(
        etype,
        region=region,
        aggregate_id=key,
        actor="wang",
        source="test",
        payload=person | payload,
        occurred_at=at,
        recorded_at=recorded or at,
    )
    return e


P = [f"p_{n:032x}" for n in range(20)]


def history() -> list[Envelope]:
    reg = {"target_group": "employment_difficulty", "employment_status": "unemployed"}
    rec = {"target_group": "employment_difficulty", "rule_set": "371300@1", "rule_id": "x"}
    out = []
    # 兰山区: P1 registered Jan 5, recognised Jan 10 (in time), visited (served), placed
    out += [
        _e("person.registered", P[1], _at(1, 5), **reg),
        _e("person.recognized", P[1], _at(1, 10), **rec),
        _e("visit.scheduled", P[1], _at(1, 10), due_on="2026-02-10", interval_days=30, basis="x"),
        _e("visit.recorded", P[1], _at(2, 8), channel="home_visit", visited_on="2026-02-08"),
        _e("placement.recorded", P[1], _at(3, 1), placement="enterprise", started_on="2026-03-01"),
    ]
    # P2 registered Jan 6, recognised Feb 20 (late), never served; a visit due Mar 1 missed
    out += [
        _e("person.registered", P[2], _at(1, 6), **reg),
        _e("person.recognized", P[2], _at(2, 20), **rec),
        _e("visit.scheduled", P[2], _at(2, 20), due_on="2026-03-01", interval_days=30, basis="x"),
    ]
    # P3 recognised last year, served (a service) in Q1, not placed; exited before Q1: P4
    out += [
        _e("person.recognized", P[3], dt.datetime(2025, 11, 1, 9, tzinfo=SHANGHAI), **rec),
        _e("service.delivered", P[3], _at(3, 3), service="job_referral", delivered_on="2026-03-03"),
        _e("person.recognized", P[4], dt.datetime(2025, 10, 1, 9, tzinfo=SHANGHAI), **rec),
        _e(
            "person.exited",
            P[4],
            dt.datetime(2025, 12, 1, 9, tzinfo=SHANGHAI),
            reason="moved_away",
            exited_on="2025-12-01",
        ),
    ]
    # a subsidy entitled in Feb paid in 10 days; another entitled in Mar never paid
    money = {"subsidy": "post"}
    out += [
        _e(
            "subsidy.entitled",
            P[1],
            _at(2, 1),
            application_id="sa-1",
            amount="600.00",
            month="2026-02",
            **money,
        ),
        _e(
            "subsidy.paid",
            P[1],
            _at(2, 11),
            application_id="sa-1",
            amount="600.00",
            month="2026-02",
            **money,
        ),
        _e(
            "subsidy.entitled",
            P[2],
            _at(3, 1),
            application_id="sa-2",
            amount="600.00",
            month="2026-03",
            **money,
        ),
    ]
    # recovery: 1,500 ordered, 500 recovered
    out += [
        _e(
            "subsidy.recovery_ordered",
            P[3],
            _at(2, 2),
            application_id="sa-3",
            amount="1500.00",
            order_id="ro-1",
            reason="更正",
            ordered_on="2026-02-02",
            **money,
        ),
        _e(
            "subsidy.recovered",
            P[3],
            _at(3, 2),
            application_id="sa-3",
            amount="500.00",
            reason="追回",
            order_id="ro-1",
            **money,
        ),
    ]
    # households: H1 cleared on time; H2 past its deadline at the quarter's end
    out += [
        _e(
            "household.zero_employment_identified",
            "H1",
            _at(1, 2),
            household_id="H1",
            members_of_working_age=2,
            identified_on="2026-01-02",
            deadline="2026-02-01",
        ),
        _e(
            "household.zero_employment_cleared",
            "H1",
            _at(1, 20),
            household_id="H1",
            employed_members=1,
            cleared_on="2026-01-20",
            on_time=True,
        ),
        _e(
            "household.zero_employment_identified",
            "H2",
            _at(1, 2),
            household_id="H2",
            members_of_working_age=1,
            identified_on="2026-01-02",
            deadline="2026-02-01",
        ),
    ]
    # 罗庄区 (Linyi): P5 recognised and served; 历下区 (Jinan): P6 recognised, not served
    out += [
        _e("person.recognized", P[5], _at(1, 3), LUOZHUANG, **rec),
        _e("visit.recorded", P[5], _at(1, 4), LUOZHUANG, channel="phone", visited_on="2026-01-04"),
        _e("person.recognized", P[6], _at(1, 3), LIXIA, **rec),
    ]
    # known only after the freeze (recorded later): it must not change the frozen figures
    out += [
        _e(
            "visit.recorded",
            P[6],
            _at(3, 20),
            LIXIA,
            recorded=FROZEN_AT + dt.timedelta(days=3),
            channel="phone",
            visited_on="2026-03-20",
        )
    ]
    # after the quarter: not counted
    out += [
        _e(
            "service.delivered",
            P[2],
            _at(4, 1, 10),
            service="job_referral",
            delivered_on="2026-04-01",
        )
    ]
    return out


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    path: Path = tmp_path_factory.mktemp("evaluation-chdb")
    reference = load_reference("shandong")
    rows = [to_row(orjson.loads(e.to_json()), 0, n, reference) for n, e in enumerate(history())]
    s = Store(f"chdb://{path}")
    try:
        migrate(s)
        s.insert_columns("events", list(zip(*rows, strict=True)), COLUMNS)
        yield s
    finally:
        s.close()


def _by(regions: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["region"]: r for r in regions}


def test_each_measure_counts_the_period_as_known_then(store: Store) -> None:
    regions = _by(compute(store, load_reference("shandong"), TABLE, Q1, FROZEN_AT))
    lan = regions[LANSHAN]["indicators"]

    def counted(ind: str) -> tuple[str, str]:
        return lan[ind]["numerator"], lan[ind]["denominator"]

    assert counted("coverage") == ("2", "3")  # P1, P3 served of P1-P3 (P4 exited before)
    assert counted("employment_rate") == ("1", "2")  # P1 placed of P1, P3 served
    assert counted("recognition_timeliness") == ("1", "2")  # P1 in 5 days, P2 in 45
    assert counted("visit_compliance") == ("1", "2")  # P1's Feb visit made, P2's missed
    assert counted("subsidy_timeliness") == ("1", "2")  # Feb paid in 10 days, Mar not
    assert counted("recovery_rate") == ("500.00", "1500.00")
    assert counted("clearing_on_time") == ("1", "2")  # H1 on time, H2 past its deadline
    # the city adds its counties; the province its cities
    assert regions[LINYI]["indicators"]["coverage"]["numerator"] == "3"
    assert regions[LINYI]["indicators"]["coverage"]["denominator"] == "4"
    assert regions["370000"]["indicators"]["coverage"]["denominator"] == "5"
    # 历下区's visit was recorded after the freeze: as of then, P6 was not served
    assert regions[LIXIA]["indicators"]["coverage"]["numerator"] == "0"
    later = _by(
        compute(store, load_reference("shandong"), TABLE, Q1, FROZEN_AT + dt.timedelta(days=5))
    )
    assert later[LIXIA]["indicators"]["coverage"]["numerator"] == "1"
    assert differences(list(regions.values()), list(later.values()))
    # ranks among cities: Linyi (counted) ranks above the cities with nothing counted
    assert regions[LINYI]["rank"] is not None and regions[JINAN]["level"] == "city"
    assert sum(1 for r in regions.values() if r["level"] == "city") == 16


def test_a_period_is_frozen_once_after_its_end() -> None:
    from events.commands import Command
    from events.errors import CommandRejectedError

    aggregate = EvaluationAggregate("370000")
    state = aggregate.initial("ev-shandong-assistance-2026-Q1")
    region = {"region": LANSHAN, "level": "county", "indicators": {}, "total": None}
    body = {"table": TABLE.ref, "title": TABLE.title, "period": "2026-Q1", "scores": [region]}

    def send(as_of: dt.datetime, now: dt.datetime) -> list[Any]:
        command = Command(
            command_id=__import__("uuid").uuid4(),
            command_type="evaluation.freeze",
            aggregate_id=state.evaluation_id,
            actor="sun",
            source="test",
            issued_at=now,
            payload=body | {"as_of": as_of.isoformat()},
        )
        return aggregate.decide(state, command, now)

    with pytest.raises(CommandRejectedError, match="is not after the period's end"):
        send(_at(3, 31, 20), _at(3, 31, 20))
    [change] = send(FROZEN_AT, FROZEN_AT)
    assert change.region == "370000" and change.payload["start"] == "2026-01-01"
    frozen = internal_event(
        "evaluation.frozen",
        region="370000",
        aggregate_id=state.evaluation_id,
        actor="sun",
        source="test",
        payload=dict(change.payload),
        occurred_at=FROZEN_AT,
    )
    state = aggregate.apply(state, frozen)
    with pytest.raises(CommandRejectedError, match="was frozen as of") as twice:
        send(FROZEN_AT, FROZEN_AT)
    assert twice.value.code == "conflict"


def test_the_excel_and_the_pdf_show_the_frozen_figures(store: Store) -> None:
    reference = load_reference("shandong")
    regions = compute(store, reference, TABLE, Q1, FROZEN_AT)
    doc = {
        "evaluation_id": "ev-x",
        "table": TABLE.ref,
        "title": TABLE.title,
        "period": "2026-Q1",
        "start": "2026-01-01",
        "end": "2026-03-31",
        "as_of": FROZEN_AT.isoformat(),
        "regions": regions,
    }
    names = {r.code: r.name for r in reference}
    book = CalamineWorkbook.from_filelike(io.BytesIO(to_xlsx(doc, names, TABLE)))
    assert book.sheet_names == ["各市", "各县（市、区）", "指标"]
    cities = book.get_sheet_by_name("各市").to_python()
    linyi = _by(regions)[LINYI]
    [row] = [r for r in cities if len(r) > 2 and r[2] == LINYI]
    assert (
        row[0] == linyi["rank"]
        and row[1] == "临沂市"
        and row[3] == pytest.approx(float(linyi["total"]))
    )
    assert row[4] == pytest.approx(float(linyi["indicators"]["coverage"]["value"]))
    counties = book.get_sheet_by_name("各县（市、区）").to_python()
    [lan] = [r for r in counties if len(r) > 2 and r[2] == LANSHAN]
    assert lan[1] == "兰山区" and lan[3] == "临沂市"
    text = "".join(
        p.extract_text() for p in pypdf.PdfReader(io.BytesIO(to_pdf(doc, names, TABLE))).pages
    )
    assert TABLE.title in text and "临沂市" in text and "兰山区" in text
    assert linyi["total"] in text
    coverage = linyi["indicators"]["coverage"]
    assert f"{percent(coverage['value'])} ({coverage['score']})" in text
    english = "".join(
        p.extract_text() for p in pypdf.PdfReader(io.BytesIO(to_pdf(doc, names, TABLE, "en"))).pages
    )
    assert "Recognised persons served" in english
