"""The public-welfare posts' read models (migration 0012) on a real embedded ClickHouse: the
posts with their slots taken, one post's holdings with the months recorded and the money, and
the counts per county; written in two blocks out of order."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from events.clock import SHANGHAI
from events.envelope import Envelope, internal_event
from events.regions import load_reference
from projections import indicators
from projections import welfare_queries as q
from projections.client import Store
from projections.migrations import migrate
from projections.rows import COLUMNS, to_row

WEICHENG, LANSHAN = "370702", "371302"
P1, P2, P3 = (f"p_{n:032x}" for n in range(1, 4))
W1, W2, W3 = "wp-370702-a", "wp-370702-b", "wp-371302-a"


def _e(kind: str, region: str, key: str, day: int, **payload: Any) -> Envelope:
    person = {"person_id": key} if key.startswith("p_") else {}
    at = dt.datetime(2026, 3, 1, 9, tzinfo=SHANGHAI) + dt.timedelta(days=day)
    return internal_event(
        kind,
        region=region,
        aggregate_id=key,
        actor="wang",
        source="eams.cases",
        payload=person | payload,
        occurred_at=at,
    )


def history() -> list[Envelope]:
    return [
        _e("welfare_post.opened", WEICHENG, W1, 0, post_id=W1, title="保洁", slots=2,
           village="北关村", days_required=20),
        _e("welfare_post.opened", WEICHENG, W2, 0, post_id=W2, title="护林", slots=1),
        _e("welfare_post.opened", LANSHAN, W3, 0, post_id=W3, title="巡河", slots=3),
        _e("welfare_post.assigned", WEICHENG, P1, 1, post_id=W1, application_id="sa-1",
           first_month="2026-03", last_month="2029-02", months=36, starts_on="2026-03-02"),
        _e("welfare_post.seated", WEICHENG, W1, 1, post_id=W1, person_id=P1, seated=1),
        _e("welfare_post.assigned", WEICHENG, P2, 2, post_id=W1, application_id="sa-2",
           first_month="2026-03", last_month="2029-02", months=36),
        _e("welfare_post.seated", WEICHENG, W1, 2, post_id=W1, person_id=P2, seated=2),
        _e("welfare_post.assigned", WEICHENG, P3, 3, post_id=W1, application_id="sa-3",
           first_month="2026-03", last_month="2029-02", months=36),
        _e("welfare_post.overbooked", WEICHENG, W1, 3, post_id=W1, person_id=P3, slots=2),
        _e("welfare_post.vacated", WEICHENG, P3, 3, post_id=W1, application_id="sa-3",
           last_month="2026-02", cause="full", reason="岗位名额已满"),
        _e("welfare_post.attendance_recorded", WEICHENG, P1, 30, post_id=W1,
           application_id="sa-1", month="2026-03", days_present=20, days_required=20,
           amount="1100.00"),
        _e("subsidy.entitled", WEICHENG, P1, 30, application_id="sa-1",
           subsidy="welfare_post_pay", month="2026-03", amount="1100.00"),
        _e("subsidy.paid", WEICHENG, P1, 35, application_id="sa-1", subsidy="welfare_post_pay",
           month="2026-03", amount="1100.00"),
        _e("welfare_post.vacated", WEICHENG, P2, 40, post_id=W1, application_id="sa-2",
           last_month="2026-04", cause="officer", reason="外出务工"),
        _e("welfare_post.released", WEICHENG, W1, 40, post_id=W1, person_id=P2, seated=1),
    ]  # fmt: skip


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    path: Path = tmp_path_factory.mktemp("welfare-chdb")
    reference = load_reference("shandong")
    events = history()
    rows = [to_row(orjson.loads(e.to_json()), 0, n, reference) for n, e in enumerate(events)]
    s = Store(f"chdb://{path}")
    try:
        migrate(s)
        for block in (rows[1::2], rows[::2]):
            s.insert_columns("events", list(zip(*block, strict=True)), COLUMNS)
        yield s
    finally:
        s.close()


def test_posts_count_their_slots_taken(store: Store) -> None:
    got = {p["post_id"]: p for p in q.posts(store, None)}
    assert [(p, got[p]["slots"], got[p]["seated"], got[p]["vacant"]) for p in (W1, W2, W3)] == [
        (W1, 2, 1, 1), (W2, 1, 0, 1), (W3, 3, 0, 3)]  # fmt: skip
    assert (got[W1]["village"], got[W1]["days_required"], got[W2]["days_required"]) == (
        "北关村", 20, 22)  # fmt: skip
    assert got[W1]["overbooked"] == 1 and got[W1]["city"] == "370700"
    assert [p["post_id"] for p in q.posts(store, ["370700"])] == [W1, W2]
    assert q.post(store, "wp-none") is None


def test_a_posts_holdings_say_who_when_and_the_money(store: Store) -> None:
    held = {h["application_id"]: h for h in q.holdings(store, W1)}
    assert set(held) == {"sa-1", "sa-2", "sa-3"}
    one = held["sa-1"]
    assert (one["person_id"], one["first_month"], one["last_month"], one["vacated"]) == (
        P1, "2026-03", "2029-02", False)  # fmt: skip
    assert one["months_recorded"] == ["2026-03"]
    assert (one["entitled"], one["paid"]) == (Decimal("1100.00"), Decimal("1100.00"))
    assert (held["sa-2"]["vacated"], held["sa-2"]["last_month"], held["sa-2"]["cause"]) == (
        True, "2026-04", "officer")  # fmt: skip
    assert (held["sa-3"]["cause"], held["sa-3"]["last_month"]) == ("full", "2026-02")


def test_the_counts_per_county_and_the_indicators(store: Store) -> None:
    assert q.by_county(store, None) == {
        WEICHENG: {"posts": 2, "slots": 3, "seated": 1, "vacant": 2},
        LANSHAN: {"posts": 1, "slots": 3, "seated": 0, "vacant": 3},
    }
    values = indicators.compute(store, load_reference("shandong"), dt.date(2026, 4, 15))
    assert values["welfare_post_slots"][WEICHENG] == 3
    assert values["welfare_post_slots"]["370000"] == 6
    assert values["welfare_post_holders"][WEICHENG] == 1
