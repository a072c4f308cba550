"""GET /api/vocabulary: the severity scale and the labels as the console reads them, for
any signed-in role, unchanged by disclosure control, cacheable. The real app factory over a
host with no worker behind it; no network."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from eams.auth import ROLES, Principal
from eams.http.app import create_api
from eams.settings import Settings
from events.labels import LABELS
from events.regions import load_reference
from events.severity import document

Headers = dict[str, str]


def _get(
    tmp_path: Path, token: str | None, headers: dict[str, str] | None = None
) -> httpx.Response:
    """One GET of the vocabulary; the bearer token names the role of the caller."""

    def session(value: str) -> Principal | None:
        return Principal(f"{value}-a", value) if value in ROLES else None

    host: Any = SimpleNamespace(
        settings=Settings(state_dir=tmp_path),
        users=SimpleNamespace(session=session, api_key=lambda key: None),
        operator_token=None,
        evaluator=None,
        primary=load_reference("shandong"),
    )
    sent = dict(headers or {})
    if token:
        sent["Authorization"] = f"Bearer {token}"

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=create_api(host))
        async with httpx.AsyncClient(transport=transport, base_url="http://eams") as client:
            return await client.get("/api/vocabulary", headers=sent)

    return asyncio.run(go())


@pytest.mark.parametrize("role", sorted(ROLES))
def test_every_role_reads_the_scale_as_defined(tmp_path: Path, role: str) -> None:
    got = _get(tmp_path, role)
    assert got.status_code == 200, got.text
    # an analyst's copy too: ranks 1-4 are no small counts
    assert got.json() == document() | {"labels": LABELS}
    assert got.json()["labels"]["employment_difficulty"]["zh"] == "就业困难人员"
    assert [lv["name"] for lv in got.json()["levels"]] == ["IV", "III", "II", "I"]


def test_it_needs_a_signed_in_caller(tmp_path: Path) -> None:
    assert _get(tmp_path, None).status_code == 401


def test_it_is_cacheable_and_revalidates(tmp_path: Path) -> None:
    first = _get(tmp_path, "analyst")
    assert first.headers["cache-control"] == "private, max-age=3600"
    etag = first.headers["etag"]
    again = _get(tmp_path, "analyst", {"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
