"""The demo's case table (issue 12, item 9): the figures per city from the read routes'
answers (the summary and the clearing per city, the funnel's counties summed to their
city, zeros where a route answered without a row), and how the table shows them: city
names, thousands separators, the clearing share, and a dash (never a zero) where a route
did not answer."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rich.console import Console

from eams.tools.casework_demo import CaseFigures, case_table, figures_from

DAY = dt.date(2026, 6, 10)
CITIES = [
    {"code": "371300", "name": "临沂市", "name_en": "Linyi"},
    {"code": "370700", "name": "潍坊市", "name_en": "Weifang"},
    {"code": "370500", "name": "东营市", "name_en": "Dongying"},
]


def _render(table: Any) -> str:
    console = Console(record=True, width=260, color_system=None)
    console.print(table)
    return console.export_text()


def test_figures_per_city_from_the_summary_the_clearing_and_the_funnel() -> None:
    summary = [
        {"city": "371300", "open": 3, "recognised": 2, "visits_overdue": 1},
        {"city": "370700", "open": 1, "recognised": 1, "visits_overdue": 1},
    ]
    clearing = [
        {"city": "371300", "identified": 1234, "cleared": 234, "open": 1000,
         "cleared_share": 234 / 1234},
        {"city": "370500", "identified": 0, "cleared": 0, "open": 0, "cleared_share": None},
    ]  # fmt: skip
    funnel = [
        {"region": "371302", "city": "371300", "discovered": 40, "converted": 3},
        {"region": "371311", "city": "371300", "discovered": 2, "converted": 1},
        {"region": "370702", "city": "370700", "discovered": 5, "converted": 0},
    ]
    got = figures_from(summary, clearing, funnel, ["371300", "370700", "370500", "371100"])
    assert got["371300"] == CaseFigures(
        caseload=3, recognised=2, visits_overdue=1, identified=1234, cleared=234, open=1000,
        cleared_share=234 / 1234, leads_discovered=42, leads_converted=4,
    )  # fmt: skip
    assert got["370700"] == CaseFigures(
        caseload=1, recognised=1, visits_overdue=1, identified=0, cleared=0, open=0,
        leads_discovered=5, leads_converted=0,
    )  # fmt: skip
    assert got["370500"].caseload == 0 and got["370500"].cleared_share is None
    # every route answered with no row of Rizhao: none there, not unknown
    assert got["371100"] == CaseFigures(0, 0, 0, 0, 0, 0, None, 0, 0)


def test_a_route_that_did_not_answer_leaves_its_columns_unknown() -> None:
    got = figures_from(None, None, [{"region": "371302", "city": "371300", "discovered": 1,
                                     "converted": 0}], ["371300"])  # fmt: skip
    assert got == {"371300": CaseFigures(leads_discovered=1, leads_converted=0)}


def test_the_table_names_cities_and_shows_numbers_for_people() -> None:
    figures = {
        "371300": CaseFigures(
            caseload=12_345,
            recognised=9_876,
            visits_overdue=1_001,
            identified=23_456,
            cleared=3_456,
            open=20_000,
            cleared_share=3_456 / 23_456,
            leads_discovered=4_321,
            leads_converted=1_234,
        ),  # fmt: skip
        "370700": CaseFigures(
            caseload=0,
            recognised=0,
            visits_overdue=0,
            identified=0,
            cleared=0,
            open=0,
            cleared_share=None,
        ),  # fmt: skip
    }
    text = _render(case_table(CITIES, figures, "专员 officers: 登记 registered 3"))
    lines = text.splitlines()
    assert "援助台账 Case management" in text and "专员 officers: 登记 registered 3" in text
    for label in ("专员在办 Caseload", "已认定 Recognised", "走访逾期 Visits overdue",
                  "清零进度 Cleared", "Leads found→converted"):  # fmt: skip
        assert label in text
    (linyi,) = [ln for ln in lines if "临沂市 Linyi" in ln]
    cells = [c.strip() for c in linyi.split("│")[1:-1]]
    assert cells == ["临沂市 Linyi", "12,345", "9,876", "1,001", "23,456 / 3,456 / 20,000",
                     "14.7%", "4,321 → 1,234"]  # fmt: skip
    (weifang,) = [ln for ln in lines if "潍坊市 Weifang" in ln]
    assert [c.strip() for c in weifang.split("│")[1:-1]] == [
        "潍坊市 Weifang", "0", "0", "0", "0 / 0 / 0", "—", "—"]  # fmt: skip
    (dongying,) = [ln for ln in lines if "东营市 Dongying" in ln]
    assert [c.strip() for c in dongying.split("│")[1:-1]][1:] == ["—"] * 6  # nothing known
    assert "370700" not in text and "371300" not in text  # names, not codes
