"""Grafana dashboards as code, and provisioning them over Grafana's HTTP API.

The dashboards are built with the grafana-foundation-sdk builders on the ClickHouse data
source plugin (``grafana-clickhouse-datasource``), reading the same projections as the
console: the province overview (cities, layoffs, registrations, disaster areas) and the
alerts (open alerts, alerts raised per level); and one of EAMS itself, on the Prometheus
that scrapes every process's ``/metrics`` (eams/metrics.py). ``eams grafana export``
writes them as JSON to ``deploy/grafana/``; ``eams grafana provision --url --token`` creates
or updates the folder, the data sources (when ``--clickhouse-url``, ``--prometheus-url``
are given) and each dashboard by uid:

- ``GET /api/folders/{uid}``, then ``POST /api/folders`` if it is missing;
- ``GET /api/datasources/uid/{uid}``, then ``POST /api/datasources`` or
  ``PUT /api/datasources/uid/{uid}``;
- ``POST /api/dashboards/db`` with ``{"dashboard", "folderUid", "overwrite": true,
  "message"}`` (Grafana keeps the version history).

The token is a service-account token (Editor role or more), sent as ``Authorization:
Bearer``. No Grafana server runs here: the client is tested against a local HTTP server
that checks every request against Grafana's documented API shapes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import prometheus, stat, table, timeseries
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import DataSourceRef, GridPos

from eams.settings import PROJECT_ROOT
from events.errors import EamsError
from events.severity import LEVELS

PLUGIN = "grafana-clickhouse-datasource"
DATASOURCE_UID = "eams-clickhouse"
#: The Prometheus that scrapes every EAMS process's /metrics (deploy/prometheus).
PROMETHEUS_UID = "eams-prometheus"
FOLDER_UID = "eams"
EXPORT_DIR = PROJECT_ROOT / "deploy" / "grafana"

#: The alerts raised per level, one column for each level of the scale, most severe first
#: and named as the province writes them (`I 红` … `IV 蓝`).
_PER_LEVEL = ", ".join(
    f"countIf(JSONExtractString(payload, 'level') = '{lv.name}') "
    f"AS `{lv.name} {lv.colour_zh.removesuffix('色')}`"
    for lv in reversed(LEVELS)
)


class GrafanaError(EamsError):
    """Grafana refused a request, or cannot be reached; the message says what to do."""


class ClickHouseQuery(cogvariants.Dataquery):
    """A raw-SQL query of the ClickHouse data source plugin."""

    def __init__(self, ref_id: str, sql: str, *, time_series: bool) -> None:
        self.ref_id = ref_id
        self.sql = sql
        self.time_series = time_series

    def to_json(self) -> dict[str, object]:
        """The target as the plugin stores it (format 0 = time series, 1 = table)."""
        return {
            "refId": self.ref_id,
            "datasource": {"type": PLUGIN, "uid": DATASOURCE_UID},
            "editorType": "sql",
            "queryType": "timeseries" if self.time_series else "table",
            "format": 0 if self.time_series else 1,
            "rawSql": self.sql,
        }


class SQL(cogbuilder.Builder[cogvariants.Dataquery]):
    """Builder of a :class:`ClickHouseQuery`, for ``with_target``."""

    def __init__(self, sql: str, *, ref_id: str = "A", time_series: bool = False) -> None:
        self._query = ClickHouseQuery(ref_id, " ".join(sql.split()), time_series=time_series)

    def build(self) -> cogvariants.Dataquery:
        return self._query


def _source() -> DataSourceRef:
    return DataSourceRef(type_val=PLUGIN, uid=DATASOURCE_UID)


def _at(x: int, y: int, w: int, h: int) -> GridPos:
    return GridPos(h=h, w=w, x=x, y=y)


def province_overview() -> dict[str, Any]:
    """省级总览 / Province overview: per-city figures, daily layoffs and registrations,
    active disaster areas."""
    board = (
        dash.Dashboard("山东省就业援助监测 · 总览 / Province overview")
        .uid("eams-province-overview")
        .tags(["eams", "overview"])
        .time("now-30d", "now")
        .refresh("30s")
        .with_panel(
            stat.Panel()
            .title("灾区（县）/ Active disaster areas")
            .datasource(_source())
            .grid_pos(_at(0, 0, 6, 4))
            .with_target(
                SQL(
                    "SELECT count() FROM (SELECT region, disaster_id, argMaxMerge(active) AS a "
                    "FROM disaster_area_state GROUP BY region, disaster_id) WHERE a = 1"
                )
            )
        )
        .with_panel(
            stat.Panel()
            .title("7日裁员人数 / People laid off, 7 days")
            .datasource(_source())
            .grid_pos(_at(6, 0, 6, 4))
            .with_target(
                SQL("SELECT sum(people_laid_off) FROM region_daily_facts WHERE day >= today() - 6")
            )
        )
        .with_panel(
            stat.Panel()
            .title("临时援助在册 / Temporary assistance enrolled")
            .datasource(_source())
            .grid_pos(_at(12, 0, 6, 4))
            .with_target(
                SQL(
                    "SELECT count() FROM (SELECT person_id, max(enrolled_at) AS e, "
                    "max(ended_at) AS x FROM temporary_assistance GROUP BY person_id) "
                    "WHERE x < e"
                )
            )
        )
        .with_panel(
            table.Panel()
            .title("各市指标（近28日）/ Cities, last 28 days")
            .datasource(_source())
            .grid_pos(_at(0, 4, 24, 10))
            .with_target(
                SQL(
                    "SELECT city AS `市 city`, sum(people_laid_off) AS `裁员 laid off`, "
                    "sum(concentrated_layoffs) AS `集中裁员 concentrated`, "
                    "sum(registrations) AS `登记 registrations`, "
                    "sum(reg_temporary_assistance) AS `临时援助 temporary`, "
                    "sum(claims) AS `失业保险 claims`, sum(placements) AS `就业 placed` "
                    "FROM region_daily_facts WHERE day >= today() - 27 "
                    "GROUP BY city ORDER BY city"
                )
            )
        )
        .with_panel(
            timeseries.Panel()
            .title("每日裁员人数 / People laid off per day")
            .datasource(_source())
            .grid_pos(_at(0, 14, 12, 8))
            .with_target(
                SQL(
                    "SELECT toDateTime(day) AS time, sum(people_laid_off) AS `laid off` "
                    "FROM region_daily_facts WHERE $__timeFilter(toDateTime(day)) "
                    "GROUP BY time ORDER BY time",
                    time_series=True,
                )
            )
        )
        .with_panel(
            timeseries.Panel()
            .title("每日登记（临时援助）/ Registrations per day (temporary assistance)")
            .datasource(_source())
            .grid_pos(_at(12, 14, 12, 8))
            .with_target(
                SQL(
                    "SELECT toDateTime(day) AS time, sum(registrations) AS registrations, "
                    "sum(reg_temporary_assistance) AS `temporary assistance` "
                    "FROM region_daily_facts WHERE $__timeFilter(toDateTime(day)) "
                    "GROUP BY time ORDER BY time",
                    time_series=True,
                )
            )
        )
    )
    return _json(board)


def alerts_dashboard() -> dict[str, Any]:
    """预警 / Alerts: open alerts and alerts raised per level."""
    board = (
        dash.Dashboard("山东省就业援助监测 · 预警 / Alerts")
        .uid("eams-alerts")
        .tags(["eams", "alerts"])
        .time("now-7d", "now")
        .refresh("30s")
        .with_panel(
            table.Panel()
            .title("未解除预警 / Open alerts")
            .datasource(_source())
            .grid_pos(_at(0, 0, 24, 10))
            .with_target(
                SQL(
                    "SELECT alert_id AS `预警 alert`, any(region) AS `地区 region`, "
                    "argMaxIfMerge(level) AS `级别 level`, any(summary) AS `摘要 summary`, "
                    "min(firing_since) AS `开始 since`, max(acknowledged_at) AS `确认 acked` "
                    "FROM alerts GROUP BY alert_id "
                    "HAVING max(resolved_at) < toDateTime64('1971-01-01', 3) "
                    "AND min(firing_since) IS NOT NULL ORDER BY `级别 level`, `开始 since` DESC"
                )
            )
        )
        .with_panel(
            timeseries.Panel()
            .title("每小时新增预警（按级别）/ Alerts raised per hour, by level")
            .datasource(_source())
            .grid_pos(_at(0, 10, 24, 8))
            .with_target(
                SQL(
                    f"SELECT toStartOfHour(occurred_at) AS time, {_PER_LEVEL} "
                    "FROM events WHERE event_type = 'alert.raised' "
                    "AND $__timeFilter(occurred_at) GROUP BY time ORDER BY time",
                    time_series=True,
                )
            )
        )
    )
    return _json(board)


def _prom() -> DataSourceRef:
    return DataSourceRef(type_val="prometheus", uid=PROMETHEUS_UID)


def _promql(expr: str, legend: str, ref_id: str = "A") -> prometheus.Dataquery:
    return (
        prometheus.Dataquery()
        .expr(expr)
        .legend_format(legend)
        .range()
        .ref_id(ref_id)
        .datasource(_prom())
    )


def eams_self_dashboard() -> dict[str, Any]:
    """EAMS 自身运行 / EAMS itself: what every process's ``/metrics`` says (eams/metrics.py),
    through Prometheus: inputs and events per second, projector lag per partition, batch
    durations, commands by outcome, notifications by channel and the time from an alert
    firing to its notice."""
    panels: list[tuple[str, list[tuple[str, str]], str]] = [
        ("输入（每秒，按结果）/ Inputs per second, by outcome",
         [("sum by (outcome) (rate(eams_ingest_inputs_total[1m]))", "{{outcome}}")], "ops"),
        ("入库事件（每秒）/ Events projected per second",
         [("sum(rate(eams_projector_events_total[1m]))", "projected")], "ops"),
        ("未入库事件（按分区）/ Projector lag, by partition",
         [("sum by (partition) (eams_projector_lag)", "partition {{partition}}")], "short"),
        ("批次耗时 p50 / p99 / Batch duration",
         [("histogram_quantile(0.5, sum by (le) "
           "(rate(eams_projector_batch_seconds_bucket[5m])))", "p50"),
          ("histogram_quantile(0.99, sum by (le) "
           "(rate(eams_projector_batch_seconds_bucket[5m])))", "p99")], "s"),
        ("指令（每秒，按结果）/ Commands per second, by outcome",
         [("sum by (outcome) (rate(eams_commands_total[5m]))", "{{outcome}}")], "ops"),
        ("通知（按渠道与结果）/ Notifications, by channel and outcome",
         [("sum by (channel, outcome) (increase(eams_notifications_total[5m]))",
           "{{channel}} {{outcome}}")], "short"),
        ("预警到通知 p50 / p99 / Alert to notice",
         [("histogram_quantile(0.5, sum by (le) "
           "(rate(eams_alert_notify_seconds_bucket[15m])))", "p50"),
          ("histogram_quantile(0.99, sum by (le) "
           "(rate(eams_alert_notify_seconds_bucket[15m])))", "p99")], "s"),
        ("隔离与死信 / Quarantined and dead-lettered",
         [("sum(eams_projector_quarantined_total)", "quarantined"),
          ('sum(eams_ingest_inputs_total{outcome="rejected"})', "dead-lettered")], "short"),
    ]  # fmt: skip
    board = (
        dash.Dashboard("EAMS 自身运行 / EAMS itself")
        .uid("eams-self")
        .tags(["eams", "operations"])
        .time("now-6h", "now")
        .refresh("30s")
    )
    for n, (title, queries, unit) in enumerate(panels):
        panel = (
            timeseries.Panel()
            .title(title)
            .datasource(_prom())
            .unit(unit)
            .grid_pos(_at(12 * (n % 2), 8 * (n // 2), 12, 8))
        )
        for k, (expr, legend) in enumerate(queries):
            panel = panel.with_target(_promql(expr, legend, ref_id="AB"[k]))
        board = board.with_panel(panel)
    return _json(board)


DASHBOARDS: dict[str, Callable[[], dict[str, Any]]] = {
    "province-overview": province_overview,
    "alerts": alerts_dashboard,
    "eams-self": eams_self_dashboard,
}


def _json(board: dash.Dashboard) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(json.dumps(board.build(), cls=JSONEncoder))
    for number, panel in enumerate(doc.get("panels", []), 1):
        panel.setdefault("id", number)  # stable ids: links and library panels refer to them
    return doc


def export(directory: Path = EXPORT_DIR) -> list[Path]:
    """Write every dashboard as ``<name>.json`` (sorted keys: stable diffs)."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, build in DASHBOARDS.items():
        path = directory / f"{name}.json"
        path.write_text(json.dumps(build(), ensure_ascii=False, indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written


@dataclass
class Provisioned:
    """What one provisioning did."""

    folder_created: bool
    datasource: str | None  # created | updated | None (left alone)
    dashboards: list[dict[str, Any]]
    prometheus: str | None = None  # the Prometheus data source: the same


class GrafanaClient:
    """Grafana's HTTP API, the parts provisioning needs."""

    def __init__(self, url: str, token: str, *, client: httpx.Client | None = None) -> None:
        if not url.startswith(("http://", "https://")):
            raise GrafanaError(f"--url must be http(s)://host:port of Grafana, got {url!r}")
        if not token:
            raise GrafanaError(
                "--token is empty: create a service-account token (Editor role) in Grafana "
                "under Administration → Service accounts, or set GRAFANA_TOKEN"
            )
        self.url = url.rstrip("/")
        self._http = client or httpx.Client(timeout=30)
        self._headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
        }

    def close(self) -> None:
        """Close the HTTP connections."""
        self._http.close()

    def __enter__(self) -> GrafanaClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        try:
            response = self._http.request(
                method, f"{self.url}{path}", json=body, headers=self._headers
            )
        except httpx.HTTPError as exc:
            raise GrafanaError(
                f"Grafana at {self.url} cannot be reached ({exc.__class__.__name__}); check --url"
            ) from exc
        if response.status_code in (401, 403):
            raise GrafanaError(
                f"{method} {path}: Grafana refused the token ({response.status_code}); it needs "
                "a service-account token with the Editor role or more"
            )
        return response

    def _ok(self, response: httpx.Response, what: str) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code >= 400:
            message = body.get("message") if isinstance(body, dict) else None
            raise GrafanaError(
                f"{what}: Grafana answered {response.status_code}: {message or response.text[:200]}"
            )
        if not isinstance(body, dict):
            raise GrafanaError(
                f"{what}: Grafana answered {response.status_code} without a JSON object; "
                "is --url the Grafana base URL?"
            )
        return body

    def ensure_folder(self, uid: str, title: str) -> bool:
        """Create the folder unless it exists; True when created."""
        got = self._call("GET", f"/api/folders/{uid}")
        if got.status_code == 200:
            return False
        if got.status_code != 404:
            self._ok(got, f"folder {uid}")
        self._ok(self._call("POST", "/api/folders", {"uid": uid, "title": title}), "create folder")
        return True

    def ensure_datasource(self, clickhouse_url: str, database: str = "default") -> str:
        """Create or update the ClickHouse data source; returns created or updated."""
        parsed = httpx.URL(clickhouse_url)
        body = {
            "uid": DATASOURCE_UID,
            "name": "EAMS ClickHouse",
            "type": PLUGIN,
            "access": "proxy",
            "jsonData": {
                "host": parsed.host,
                "port": parsed.port or (8443 if parsed.scheme == "https" else 8123),
                "protocol": "http",
                "secure": parsed.scheme == "https",
                "defaultDatabase": database,
            },
        }
        return self._upsert_datasource(DATASOURCE_UID, body)

    def ensure_prometheus(self, prometheus_url: str) -> str:
        """Create or update the Prometheus data source of the dashboard of EAMS itself."""
        body = {
            "uid": PROMETHEUS_UID,
            "name": "EAMS Prometheus",
            "type": "prometheus",
            "access": "proxy",
            "url": prometheus_url,
            "jsonData": {"httpMethod": "POST"},
        }
        return self._upsert_datasource(PROMETHEUS_UID, body)

    def _upsert_datasource(self, uid: str, body: dict[str, Any]) -> str:
        got = self._call("GET", f"/api/datasources/uid/{uid}")
        if got.status_code == 404:
            self._ok(self._call("POST", "/api/datasources", body), "create data source")
            return "created"
        self._ok(got, "data source")
        self._ok(self._call("PUT", f"/api/datasources/uid/{uid}", body), "update data source")
        return "updated"

    def upsert_dashboard(self, dashboard: dict[str, Any], folder_uid: str) -> dict[str, Any]:
        """Create or update a dashboard by its uid (Grafana keeps the version history)."""
        body = {
            "dashboard": {**dashboard, "id": None},
            "folderUid": folder_uid,
            "overwrite": True,
            "message": "eams grafana provision",
        }
        return self._ok(
            self._call("POST", "/api/dashboards/db", body), f"dashboard {dashboard.get('uid')}"
        )


def provision(
    client: GrafanaClient,
    *,
    folder_uid: str = FOLDER_UID,
    folder_title: str = "EAMS 就业援助监测",
    clickhouse_url: str | None = None,
    prometheus_url: str | None = None,
) -> Provisioned:
    """Folder, data sources (ClickHouse if ``clickhouse_url``, Prometheus if
    ``prometheus_url``) and every dashboard, by uid."""
    created = client.ensure_folder(folder_uid, folder_title)
    datasource = client.ensure_datasource(clickhouse_url) if clickhouse_url else None
    prom = client.ensure_prometheus(prometheus_url) if prometheus_url else None
    answers = [client.upsert_dashboard(build(), folder_uid) for build in DASHBOARDS.values()]
    return Provisioned(created, datasource, answers, prom)
