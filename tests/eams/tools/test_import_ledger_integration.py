"""A Chinese office ledger through the real worker: the Excel sheet and its GB18030 CSV
export, with Excel-mangled IDs, imported as person.registered by the shipped mapping."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from fixtures import Worker, read_log
from helpers import wait_for
from ledgers import MANGLED, ROWS, build_gb18030_csv, build_xlsx

from eams.settings import PROJECT_ROOT
from streams.dlq import read_dead_letters

pytestmark = pytest.mark.integration

MAPPING = PROJECT_ROOT / "deploy" / "mappings" / "ledger_registrations.yaml"


def eams(worker: Worker, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eams.cli", *args], env=dict(os.environ, **worker.env()),
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_the_ledger_and_its_csv_export_register_each_person_once(
    worker: Worker, tmp_path: Path
) -> None:
    sheet = build_xlsx(tmp_path / "台账.xlsx")
    export = build_gb18030_csv(tmp_path / "台账.csv")
    for path in (sheet, export):
        done = eams(worker, "import", str(path), "--mapping", str(MAPPING))
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout.startswith(
            "10 records: 6 accepted and submitted to eams.ingest.raw, 2 dead-lettered"
        ), done.stdout
        assert "skipped 1: 合计行 (totals row)" in done.stdout
    counts = worker.wait_settled()
    # the export repeats the sheet: the same ids, so each person is registered once
    assert counts["events_by_type"] == {"person.registered": len(ROWS)}
    log = read_log(worker, "person.registered")
    assert len(log) == len(ROWS)
    raw_log = orjson.dumps(log).decode()
    for row in ROWS:
        assert row[2] not in raw_log  # national IDs never reach the log: pseudonymised
    assert all(e["payload"]["person_id"] and e["payload"]["national_id_masked"] for e in log)
    assert {e["region"] for e in log} <= {"371302", "371311", "371312", "371321", "371324"}

    def linyi_persons() -> int | None:
        cities = {r["code"]: r for r in worker.api.get("/api/overview/cities").json()}
        return cities["371300"]["persons"] or None

    assert wait_for(linyi_persons, "Linyi's registered persons") == len(ROWS)
    # the mangled IDs: one dead letter per record and file, naming the line and the column
    letters = asyncio.run(
        read_dead_letters(
            worker.kafka("stream"), worker.settings.topics.dlq,
            worker.settings.existing_dead_letter_key(),
        )
    )  # fmt: skip
    assert sorted((d.source, d.line) for d in letters) == sorted(
        (f"import:{p.name}", str(line)) for p in (sheet, export) for line in (10, 11)
    )
    for d in letters:
        assert d.field == "基本信息/公民身份号码"
        assert "Excel stored the ID as a number" in d.reason
        assert d.reason.startswith(f"line {d.line}: column '基本信息/公民身份号码': ")
    assert len(letters) == 2 * len(MANGLED)
