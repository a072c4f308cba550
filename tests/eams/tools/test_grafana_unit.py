"""Grafana dashboards as code and their provisioning, against a local HTTP server that
answers like Grafana's HTTP API and checks every request against its documented shapes
(folders, data sources, ``POST /api/dashboards/db``; no Grafana server can run here). The
dashboards' SQL is run against the real projection schema in chDB."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY, CollectorRegistry

from eams.tools.grafana import (
    DASHBOARDS,
    EXPORT_DIR,
    GrafanaClient,
    GrafanaError,
    Provisioned,
    eams_self_dashboard,
    provision,
)
from projections.client import Store
from projections.migrations import migrate

TOKEN = "glsa_test_token_0123456789"


class FakeGrafana:
    """Grafana's folder, data-source and dashboard endpoints, strict about shapes."""

    def __init__(self) -> None:
        self.folders: dict[str, dict[str, Any]] = {}
        self.datasources: dict[str, dict[str, Any]] = {}
        self.dashboards: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []
        self.violations: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        try:
            return self.answer(request)
        except AssertionError as exc:  # a request Grafana would refuse: fail the test
            self.violations.append(f"{request.method} {request.url.path}: {exc!r}")
            return httpx.Response(400, json={"message": f"bad request: {exc!r}"})

    def answer(self, request: httpx.Request) -> httpx.Response:
        self.requests.append((request.method, request.url.path))
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return httpx.Response(401, json={"message": "Unauthorized"})
        body = json.loads(request.content) if request.content else None
        if request.method in ("POST", "PUT"):
            assert request.headers["content-type"].startswith("application/json")
        path = request.url.path
        if m := re.fullmatch(r"/api/folders/([^/]+)", path):
            assert request.method == "GET"
            found = self.folders.get(m.group(1))
            return httpx.Response(200, json=found) if found else httpx.Response(
                404, json={"message": "folder not found", "status": "not-found"})  # fmt: skip
        if path == "/api/folders":
            assert request.method == "POST" and body is not None
            assert set(body) <= {"uid", "title", "parentUid", "description"} and body["title"]
            if body["uid"] in self.folders:
                return httpx.Response(409, json={"message": "a folder with the same uid exists"})
            uid = body["uid"]
            url = f"/dashboards/f/{uid}/"
            self.folders[uid] = {"id": len(self.folders) + 1, "uid": uid,
                                 "title": body["title"], "url": url}  # fmt: skip
            return httpx.Response(200, json=self.folders[body["uid"]])
        if m := re.fullmatch(r"/api/datasources/uid/([^/]+)", path):
            if request.method == "GET":
                found = self.datasources.get(m.group(1))
                return httpx.Response(200, json=found) if found else httpx.Response(
                    404, json={"message": "Data source not found"})  # fmt: skip
            assert request.method == "PUT" and body is not None
            self._check_datasource(body)
            self.datasources[m.group(1)] = body
            return httpx.Response(200, json={"message": "Datasource updated", "datasource": body})
        if path == "/api/datasources":
            assert request.method == "POST" and body is not None
            self._check_datasource(body)
            self.datasources[body["uid"]] = body
            return httpx.Response(200, json={"message": "Datasource added", "datasource": body})
        if path == "/api/dashboards/db":
            assert request.method == "POST" and body is not None
            assert set(body) <= {"dashboard", "folderUid", "folderId", "overwrite", "message"}
            board = body["dashboard"]
            assert board["title"] and 0 < len(board["uid"]) <= 40 and board.get("id") is None
            assert isinstance(board["panels"], list) and isinstance(board["schemaVersion"], int)
            if body.get("folderUid") and body["folderUid"] not in self.folders:
                return httpx.Response(400, json={"message": "folder not found"})
            old = self.dashboards.get(board["uid"])
            if old is not None and not body.get("overwrite"):
                message = "The dashboard has been changed by someone else"
                return httpx.Response(412, json={"message": message, "status": "version-mismatch"})
            version = (old["version"] + 1) if old else 1
            self.dashboards[board["uid"]] = {"version": version, "json": board,
                                             "folderUid": body.get("folderUid")}  # fmt: skip
            return httpx.Response(200, json={
                "id": len(self.dashboards), "uid": board["uid"], "status": "success",
                "url": f"/d/{board['uid']}/x", "version": version, "slug": "x"})  # fmt: skip
        return httpx.Response(404, json={"message": "Not found"})

    @staticmethod
    def _check_datasource(body: dict[str, Any]) -> None:
        assert body["access"] == "proxy" and body["name"] and body["uid"]
        if body["type"] == "prometheus":  # a core data source: its server is "url"
            assert httpx.URL(body["url"]).scheme in ("http", "https")
        else:
            assert body["type"] == "grafana-clickhouse-datasource" and body["jsonData"]["host"]


class _Handler(BaseHTTPRequestHandler):
    fake: FakeGrafana

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        content = self.rfile.read(length)
        request = httpx.Request(self.command, f"http://grafana{self.path}",
                                headers=dict(self.headers), content=content)  # fmt: skip
        response = self.fake(request)
        self.send_response(response.status_code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(response.content)))
        self.end_headers()
        self.wfile.write(response.content)

    do_GET = do_POST = do_PUT = _serve  # noqa: N815

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def grafana() -> Iterator[tuple[FakeGrafana, str]]:
    """The fake Grafana on a real HTTP server on loopback."""
    fake = FakeGrafana()
    handler = type("Handler", (_Handler,), {"fake": fake})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield fake, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    assert fake.violations == []


def _provision(grafana: tuple[FakeGrafana, str], token: str = TOKEN, **kw: Any) -> Provisioned:
    with GrafanaClient(grafana[1], token) as client:
        return provision(client, **kw)


def test_provision_creates_then_updates_by_uid(grafana: tuple[FakeGrafana, str]) -> None:
    fake, _ = grafana
    first = _provision(grafana, clickhouse_url="http://clickhouse:8123",
                       prometheus_url="http://prometheus:9090")  # fmt: skip
    assert first.folder_created and first.datasource == first.prometheus == "created"
    assert [d["version"] for d in first.dashboards] == [1, 1, 1]
    assert set(fake.dashboards) == {"eams-province-overview", "eams-alerts", "eams-self"}
    assert fake.datasources["eams-clickhouse"]["jsonData"]["port"] == 8123
    assert fake.datasources["eams-prometheus"]["url"] == "http://prometheus:9090"
    again = _provision(grafana, clickhouse_url="http://clickhouse:8123")
    assert not again.folder_created and again.datasource == "updated"
    assert again.prometheus is None  # left as it is unless asked
    assert [d["version"] for d in again.dashboards] == [2, 2, 2]  # updated in place, same uid
    assert len(fake.folders) == 1
    without = _provision(grafana)
    assert without.datasource is None  # left as it is unless asked
    assert ("GET", "/api/datasources/uid/eams-clickhouse") not in fake.requests[-4:]


def test_a_refused_token_is_a_clear_error(grafana: tuple[FakeGrafana, str]) -> None:
    with pytest.raises(GrafanaError, match="service-account token with the Editor role"):
        _provision(grafana, token="wrong")
    with pytest.raises(GrafanaError, match="--token is empty"):
        GrafanaClient("http://grafana.test:3000", "")
    with (
        pytest.raises(GrafanaError, match="cannot be reached"),
        GrafanaClient("http://127.0.0.1:9", TOKEN) as client,
    ):
        client.ensure_folder("eams", "EAMS")


def test_the_cli_reports_errors_in_one_line() -> None:
    done = subprocess.run([sys.executable, "-m", "eams.cli", "grafana", "provision", "--url",
                           "http://127.0.0.1:9", "--token", TOKEN],
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 2 and "cannot be reached" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_exported_json_is_what_the_code_builds() -> None:
    for name, build in DASHBOARDS.items():
        stored = json.loads((EXPORT_DIR / f"{name}.json").read_text())
        assert stored == build(), f"deploy/grafana/{name}.json is stale: run eams grafana export"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    s = Store(f"chdb://{tmp_path_factory.mktemp('grafana')}/clickhouse")
    migrate(s)
    yield s
    s.close()


def test_every_panel_query_runs_on_the_projection_schema(store: Store) -> None:
    """The SQL of every panel, with Grafana's time macro filled in, on real ClickHouse."""
    count = 0
    for build in DASHBOARDS.values():
        for panel in build()["panels"]:
            for target in panel["targets"]:
                if "rawSql" not in target:
                    continue  # a Prometheus query: see the next test
                sql = re.sub(r"\$__timeFilter\(([^()]*(?:\([^()]*\))?[^()]*)\)",
                             r"(\1 >= now() - INTERVAL 30 DAY)", target["rawSql"])  # fmt: skip
                assert "$__" not in sql
                store.rows(sql)
                count += 1
    assert count == 8


def test_the_dashboard_of_eams_itself_reads_metrics_eams_exposes() -> None:
    """Every metric its PromQL names is one a process of EAMS exposes (eams/metrics.py and
    the modules that measure): a renamed metric cannot leave a panel empty unnoticed."""
    import alerting.dispatch.delivery  # noqa: F401 - registers its metrics
    import projections.projector  # noqa: F401
    import streams.commands.handler  # noqa: F401
    from eams.metrics import HostCollector
    from projections.projector import ProjectorStats
    from streams.commands.handler import HandlerStats

    registry = CollectorRegistry()
    parts = {"projector": ProjectorStats(highwater={0: 1}), "commands": HandlerStats(),
             "ingest": {"by_type": {"x": 1}}, "dispatcher": {"queued": 0}}  # fmt: skip
    registry.register(HostCollector(lambda: parts))
    families = [*REGISTRY.collect(), *registry.collect()]  # a labelled one may have no samples
    exposed = {f"{f.name}{end}" for f in families
               for end in ("", "_total", "_bucket", "_count", "_sum")}  # fmt: skip
    board = eams_self_dashboard()
    named = {
        name
        for panel in board["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\beams_[a-z_]+", target["expr"])
    }
    assert len(board["panels"]) == 8 and named
    missing = named - exposed
    assert not missing, f"the dashboard reads metrics no process exposes: {sorted(missing)}"
