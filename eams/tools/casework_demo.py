"""Case management in ``eams demo`` (issue 12, item 9): the officers' work driven through the
API while the scenario plays, and the per-city table of caseloads and clearing progress.

:class:`Officers` acts in a thread of its own, at most :attr:`Officers.rate` commands a
second (a few against the scenario's hundreds of events): it registers persons the
civil-affairs roster named (:attr:`eams.tools.simulator.Scenario.leads`, by the clear ID
an officer types from the card: the route keeps only the pseudonym; the lead is converted
by the registration), records a first visit, agrees a plan and, for about a third, records
a placement (which clears a zero-employment household). Every command goes through the
single writer like a case officer's; a refusal (409: already registered …) is counted,
not fatal.

:func:`case_figures` reads what the table shows from the worker's read routes: every
city's cases (``GET /api/cases/summary``: open, recognised now, visits overdue),
zero-employment clearing per city (``/api/cases/clearing``) and the leads'
funnel per county summed to its city (``/api/leads/funnel``). A route that is not served
yet leaves its columns as a dash: nothing is made up here.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.table import Table

from eams.settings import Settings
from eams.tools.client import ApiClient
from eams.tools.simulator import Scenario, Unregistered
from events.clock import today
from events.errors import EamsError

__all__ = ["CaseFigures", "Officers", "case_figures", "case_table", "figures_from"]

PLAN_MEASURES = ("career_guidance", "job_referral", "policy_briefing")
EMPLOYERS = ("临沂鲁南制药集团", "潍坊歌尔股份", "济南二机床集团", "青岛海尔智家", "烟台万华化学")


@dataclass
class _Case:
    """A case the demo's officers opened, and what they did next."""

    person_id: str
    step: int = 0  # 0 registered, 1 visited, 2 plan agreed, 3 placed (or left so)


@dataclass
class Officers:
    """The demo's case officers: a thread sending their commands while the scenario plays."""

    settings: Settings
    scenario: Scenario
    rate: float = 3.0  # commands a second, at most
    place_share: float = 0.35  # of the cases with a plan: a placement recorded
    done: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    refused: int = 0
    failure: list[BaseException] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        """Begin acting (returns at once)."""
        self._thread = threading.Thread(target=self._run, name="officers", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop after the command in flight."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def summary(self) -> str:
        """One line of what the officers did so far (zh-CN first)."""
        d = self.done
        return (
            f"专员 officers: 登记 registered {d['register']:,} · 走访 visits {d['visit']:,} · "
            f"援助协议 plans {d['plan']:,} · 就业 placements {d['placement']:,} · "
            f"拒绝 refused {self.refused:,}"
        )

    def _run(self) -> None:
        client = ApiClient(self.settings, timeout=30)
        cases: list[_Case] = []
        taken = 0
        try:
            while not self._stop.is_set():
                began = time.monotonic()
                leads = self.scenario.leads
                # a new registration every other command while leads wait, else the next step
                open_ = [c for c in cases if c.step < 3]
                if taken < len(leads) and (len(open_) < 4 or self.done["register"] % 2 == 0):
                    lead = leads[taken]
                    taken += 1
                    case = self._register(client, lead)
                    if case is not None:
                        cases.append(case)
                elif open_:
                    self._next_step(client, open_[0])
                wait = 1 / self.rate - (time.monotonic() - began)
                self._stop.wait(max(0.0, wait))
        except BaseException as exc:  # noqa: BLE001 - reported by the demo's loop
            self.failure.append(exc)
        finally:
            client.close()

    def _send(self, client: ApiClient, kind: str, path: str, body: dict[str, Any]) -> Any:
        try:
            answer = client.post(path, body)
        except EamsError:  # refused by the case (409, 422 …): an officer would read why
            self.refused += 1
            return None
        self.done[kind] += 1
        return answer

    def _register(self, client: ApiClient, lead: Unregistered) -> _Case | None:
        facts = {k: v for k, v in lead.facts.items() if k not in ("gender", "birth_date")}
        body = {
            "national_id": lead.national_id,
            "name": lead.name,
            "region": lead.county,
            "target_group": lead.group,
            "household_id": lead.household_id,
            "facts": facts,
        }
        answer = self._send(client, "register", "/api/persons", body)
        if not answer:
            return None
        return _Case(str(answer["person_id"]))

    def _next_step(self, client: ApiClient, case: _Case) -> None:
        day = today()
        base = f"/api/persons/{case.person_id}"
        if case.step == 0:
            body: dict[str, Any] = {"channel": "home_visit", "visited_on": day.isoformat(),
                                    "needs": ["求职登记 job-seeking"]}  # fmt: skip
            self._send(client, "visit", f"{base}/visits", body)
        elif case.step == 1:
            measures = [
                {
                    "measure": m,
                    "kind": "service",
                    "owner": "demo-officer",
                    "deadline": (day + dt.timedelta(days=30 * (k + 1))).isoformat(),
                }  # fmt: skip
                for k, m in enumerate(PLAN_MEASURES)
            ]
            body = {"goals": ["三个月内实现就业 placed within three months"], "measures": measures}
            self._send(client, "plan", f"{base}/plan", body)
        elif _draw(case.person_id) < self.place_share:
            employer = EMPLOYERS[int(case.person_id[2:4], 16) % len(EMPLOYERS)]
            body = {"placement": "enterprise", "started_on": day.isoformat(),
                    "employer_name": employer}  # fmt: skip
            self._send(client, "placement", f"{base}/placements", body)
        case.step += 1

    def check(self) -> None:
        """Raise what stopped the officers, if anything did."""
        if self.failure:
            raise self.failure[0]


def _draw(person_id: str) -> float:
    """A share in [0, 1) read off the pseudonym (which case is placed: stable by seed)."""
    return int(person_id[-6:], 16) / 16**6


@dataclass(frozen=True)
class CaseFigures:
    """The case columns of one city (None: the route did not answer)."""

    caseload: int | None = None
    recognised: int | None = None
    visits_overdue: int | None = None
    identified: int | None = None
    cleared: int | None = None
    open: int | None = None
    cleared_share: float | None = None
    leads_discovered: int | None = None
    leads_converted: int | None = None


def _get(client: ApiClient, path: str, **params: Any) -> Any:
    try:
        return client.get(path, **params)
    except EamsError:  # not served (yet), or the worker is busy: the columns stay a dash
        return None


def case_figures(
    client: ApiClient, cities: Sequence[str], day: dt.date | None = None
) -> dict[str, CaseFigures]:
    """Per city code (``cities``: those of the table): open cases, recognised and visits
    overdue; households cleared; leads discovered and converted (read from the worker's
    routes)."""
    when = day or today()
    return figures_from(
        _get(client, "/api/cases/summary", day=when.isoformat()),
        _get(client, "/api/cases/clearing", day=when.isoformat()),
        _get(client, "/api/leads/funnel"),
        cities,
    )


def figures_from(
    summary: list[dict[str, Any]] | None,
    clearing: list[dict[str, Any]] | None,
    funnel: list[dict[str, Any]] | None,
    cities: Sequence[str] = (),
) -> dict[str, CaseFigures]:
    """The figures per city code from the routes' answers: ``summary`` per city (open,
    recognised, visits overdue), ``clearing`` per city, ``funnel`` per county summed to its
    city. A route that did not answer (None) leaves its columns a dash; one that answered
    gives 0 for the ``cities`` it has no row of (none there, which is known)."""
    out: dict[str, dict[str, Any]] = defaultdict(dict)
    for row in summary or []:
        out[row["city"]].update(
            caseload=int(row["open"]), recognised=int(row["recognised"]),
            visits_overdue=int(row["visits_overdue"]),
        )  # fmt: skip
    for row in clearing or []:
        out[row["city"]].update(
            identified=int(row["identified"]), cleared=int(row["cleared"]),
            open=int(row["open"]), cleared_share=row.get("cleared_share"),
        )  # fmt: skip
    for row in funnel or []:
        city = out[row.get("city") or row["region"]]
        city["leads_discovered"] = city.get("leads_discovered", 0) + int(row["discovered"])
        city["leads_converted"] = city.get("leads_converted", 0) + int(row["converted"])
    answered = [
        (summary, ("caseload", "recognised", "visits_overdue")),
        (clearing, ("identified", "cleared", "open")),
        (funnel, ("leads_discovered", "leads_converted")),
    ]
    for code in set(out) | set(cities):
        for rows, keys in answered:
            if rows is not None:
                for key in keys:
                    out[code].setdefault(key, 0)
    return {code: CaseFigures(**values) for code, values in out.items()}


def _n(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def case_table(
    cities: list[dict[str, Any]], figures: dict[str, CaseFigures], caption: str = ""
) -> Table:
    """The per-city case table (labels zh-CN with English; numbers with separators)."""
    table = Table(title="援助台账 Case management — 各市 per city", caption=caption or None)
    for label in (
        "城市 City",
        "专员在办 Caseload",
        "已认定 Recognised",
        "走访逾期 Visits overdue",
        "零就业家庭 认定/清零/未清 Zero-emp. households id./cleared/open",
        "清零进度 Cleared",
        "线索 发现→转化 Leads found→converted",
    ):
        table.add_column(label, justify="left" if label.startswith("城市") else "right")
    for r in cities:
        f = figures.get(r["code"], CaseFigures())
        households = (
            "—" if f.identified is None else f"{f.identified:,} / {_n(f.cleared)} / {_n(f.open)}"
        )
        share = "—" if f.cleared_share is None else f"{f.cleared_share:.1%}"
        leads = (
            "—"
            if f.leads_discovered is None
            else f"{f.leads_discovered:,} → {_n(f.leads_converted)}"
        )
        table.add_row(
            f"{r['name']} {r.get('name_en') or ''}".strip(),
            _n(f.caseload),
            _n(f.recognised),
            _n(f.visits_overdue),
            households,
            share,
            leads,
        )
    return table
