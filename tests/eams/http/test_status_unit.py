"""``/api/status`` is one snapshot: the projector's rows and positions agree although a
batch is written while the route waits on the store (a benchmark once read positions past
the log's end with 0 rows, and took a rebuild for done before it had written anything)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from eams.auth import Principal
from eams.http import overview
from eams.http.app import create_api
from eams.settings import Settings
from events.regions import load_reference
from projections.projector import ProjectorStats


def test_rows_and_positions_come_from_the_same_moment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stats = ProjectorStats(positions={0: 0, 1: 0})

    def counts(store: object) -> dict[str, int]:
        # the projector writes a batch of 10 events while the route's query runs
        stats.rows += 10
        stats.batches += 1
        stats.positions[0] = 4
        stats.positions[1] = 6
        stats.version += 1
        return {"parked": 0, "retried": 0}

    monkeypatch.setattr(overview.quarantine, "counts", counts)
    host: Any = SimpleNamespace(
        settings=Settings(state_dir=tmp_path),
        users=SimpleNamespace(
            session=lambda token: Principal(token, "auditor", ()), api_key=lambda key: None
        ),
        operator_token=None,
        primary=load_reference("shandong"),
        store=None,
        projector=SimpleNamespace(stats=stats),
        ingest=SimpleNamespace(stats=lambda: {"accepted": 10}, ready=True),
        worklist=SimpleNamespace(status=lambda: {"pending": 0}),
        alerting_status=lambda: {},
        rebuilding=False,
    )

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=create_api(host))
        async with httpx.AsyncClient(transport=transport, base_url="http://eams") as client:
            return await client.get("/api/status", headers={"Authorization": "Bearer auditor"})

    got = asyncio.run(go())
    assert got.status_code == 200, got.text
    projector = got.json()["projector"]
    assert sum(projector["positions"].values()) == projector["rows"] == 10
    assert projector["batches"] == projector["version"] == 1
