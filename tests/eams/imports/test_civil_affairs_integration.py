"""The civil-affairs feed through the real worker: the 民政 roster (Excel) and the 残联
disability records (GB18030 CSV) imported by the shipped mappings into the real broker,
validated and pseudonymised by the ingest stream, and read back from the event log. A
person the registry already holds gets leads with the same aggregate id: the match by
pseudonym happens at ingest, by itself."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from civil_affairs import (
    DISABILITY,
    DISABILITY_MANGLED_LINES,
    ROSTER,
    ROSTER_MANGLED_LINES,
    SHARED_ID,
    build_disability_csv,
    build_roster_xlsx,
)
from fixtures import Worker, read_log
from helpers import encode, event, produce

from eams.settings import PROJECT_ROOT
from streams.dlq import read_dead_letters

pytestmark = pytest.mark.integration

MAPPINGS = PROJECT_ROOT / "deploy" / "mappings"
ROSTER_MAPPING = MAPPINGS / "civil_affairs_assistance.yaml"
DISABILITY_MAPPING = MAPPINGS / "civil_affairs_disability.yaml"


def eams(worker: Worker, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eams.cli", *args], env=dict(os.environ, **worker.env()),
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_the_feed_becomes_pseudonymised_leads_matched_to_the_registry(
    worker: Worker, tmp_path: Path
) -> None:
    # 陈桂兰 was registered before the feed arrived
    registered = event("person.registered", "370702", {
        "national_id": SHARED_ID, "name": "陈桂兰", "target_group": "employment_difficulty",
        "employment_status": "unemployed", "registered_on": "2024-02-01",
    })  # fmt: skip
    produce(worker.kafka("raw"), worker.settings.topics.ingest_raw, encode([registered]))
    worker.wait_settled()
    [person] = read_log(worker, "person.registered")

    roster = build_roster_xlsx(tmp_path / "花名册.xlsx")
    records = build_disability_csv(tmp_path / "残疾人.csv")
    for path, mapping, summary in (
        (roster, ROSTER_MAPPING, "9 records: 6 accepted and submitted to eams.ingest.raw, "
         "1 dead-lettered"),
        (records, DISABILITY_MAPPING, "8 records: 5 accepted and submitted to eams.ingest.raw, "
         "1 dead-lettered"),
        (roster, ROSTER_MAPPING, "9 records: 6 accepted"),  # again: the same event ids
    ):  # fmt: skip
        done = eams(worker, "import", str(path), "--mapping", str(mapping), "--restart")
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout.startswith(summary), done.stdout
        assert "skipped 1: 合计行 (totals row)" in done.stdout
    counts = worker.wait_settled()
    assert counts["events_by_type"]["lead.discovered"] == len(ROSTER) + len(DISABILITY)

    log = read_log(worker)
    leads = [e for e in log if e["event_type"] == "lead.discovered"]
    # one lead per record, the roster imported twice counted once
    assert len(leads) == len(ROSTER) + len(DISABILITY)
    assert len({e["payload"]["lead_id"] for e in leads}) == len(leads)
    # no clear ID, phone or name anywhere in the log: not in the payload's fields, not in
    # the lead ids made from the ID, not in the facts, not in the keys
    text = orjson.dumps(log).decode()
    for row in ROSTER:
        assert row[3] not in text and row[8] not in text and row[1] not in text
        assert not row[14] or row[14].replace(" ", "").replace("-", "") not in text
    for row in DISABILITY:
        assert row[4] not in text and row[5] not in text and row[1] not in text
        assert not row[11] or row[11].replace("-", "") not in text
    for lead in leads:
        payload = lead["payload"]
        assert lead["aggregate_id"] == payload["person_id"]
        assert payload["person_id"].startswith("p_") and len(payload["person_id"]) == 34
        assert payload["national_id_masked"].count("*") >= 8
        prefix, _, keyed = payload["lead_id"].partition(":")
        assert prefix in ("mz", "cl") and keyed.startswith("p") and len(keyed) == 18
    by_source = {(e["payload"]["source"], e["payload"]["national_id_masked"]): e for e in leads}
    assert {s for s, _ in by_source} == {"civil_affairs", "disabled_persons_federation"}
    # the facts arrived as the records say
    roster_leads = [e for e in leads if e["payload"]["source"] == "civil_affairs"]
    assert sorted(e["region"] for e in roster_leads) == sorted(
        ["370705", "370705", "370783", "370781", "370725", "370702"]
    )
    tk = [e for e in roster_leads if e["payload"]["facts"].get("extreme_poverty")]
    assert [e["payload"]["facts"]["household_id"] for e in tk] == ["SG-TK-2019-0007"]
    graduates = [e for e in roster_leads if "graduated_on" in e["payload"]["facts"]]
    assert sorted(e["payload"]["facts"]["graduated_on"] for e in graduates) == [
        "2023-06-30", "2024-07-01",
    ]  # fmt: skip
    assert {e["payload"]["suggested_target_group"] for e in graduates} == {"low_income_graduate"}
    grades = sorted(
        e["payload"]["facts"]["disability_grade"]
        for e in leads
        if e["payload"]["source"] == "disabled_persons_federation"
    )
    assert grades == [1, 2, 3, 3, 4]

    # the registered person: both of her leads carry the registry's aggregate id
    mine = [e for e in leads if e["aggregate_id"] == person["aggregate_id"]]
    assert sorted(e["payload"]["source"] for e in mine) == [
        "civil_affairs", "disabled_persons_federation",
    ]  # fmt: skip
    assert {e["payload"]["facts"].get("minimum_living_allowance") for e in mine} == {True, None}
    assert all(e["payload"]["person_id"] == person["payload"]["person_id"] for e in mine)

    # the mangled IDs: one dead letter per record (the roster's second import keeps its
    # entry's id), naming the line and the column
    letters = asyncio.run(
        read_dead_letters(
            worker.kafka("stream"), worker.settings.topics.dlq,
            worker.settings.existing_dead_letter_key(),
        )
    )  # fmt: skip
    assert sorted((d.source, d.line, d.field) for d in letters) == sorted(
        [(f"import:{roster.name}", str(line), "家庭成员信息/身份证号码")
         for line in ROSTER_MANGLED_LINES]
        + [(f"import:{records.name}", str(line), "身份证号") for line in DISABILITY_MANGLED_LINES]
    )  # fmt: skip
    for d in letters:
        assert d.reason.startswith(f"line {d.line}: column '{d.field}': ")
        assert "Excel stored the ID as a number" in d.reason
