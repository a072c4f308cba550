"""``eams grafana …``: dashboards as code (export) and provisioning over Grafana's HTTP API."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from eams.cli.common import console
from eams.tools.grafana import EXPORT_DIR, GrafanaClient
from eams.tools.grafana import export as write
from eams.tools.grafana import provision as run

grafana_app = typer.Typer(
    help="Grafana dashboards (province overview, alerts) on the ClickHouse data source: "
    "export them as JSON, or create/update them in a Grafana by uid.",
    no_args_is_help=True,
)


@grafana_app.command("export")
def export(
    out: Annotated[Path | None, typer.Option(help="Folder (default: deploy/grafana)")] = None,
) -> None:
    """Write the dashboards as JSON (for file provisioning or import by hand)."""
    for path in write(out or EXPORT_DIR):
        console.print(f"wrote {path}")


@grafana_app.command("provision")
def provision(
    url: Annotated[str, typer.Option(help="Grafana base URL, e.g. http://grafana:3000")],
    token: Annotated[
        str | None,
        typer.Option(help="Service-account token (Editor role); default: $GRAFANA_TOKEN"),
    ] = None,
    folder: Annotated[str, typer.Option(help="Folder uid to put the dashboards in")] = "eams",
    clickhouse_url: Annotated[
        str | None,
        typer.Option(
            help="Also create/update the ClickHouse data source pointing here "
            "(http://host:8123); default: leave the data source as it is"
        ),
    ] = None,
    prometheus_url: Annotated[
        str | None,
        typer.Option(
            help="Also create/update the Prometheus data source (http://prometheus:9090) of "
            "the dashboard of EAMS itself; default: leave it as it is"
        ),
    ] = None,
) -> None:
    """Create or update the EAMS folder, data sources and dashboards by uid (Grafana keeps
    each dashboard's version history). Run it again after an upgrade: it is idempotent."""
    with GrafanaClient(url, token or os.environ.get("GRAFANA_TOKEN", "")) as client:
        done = run(client, folder_uid=folder, clickhouse_url=clickhouse_url,
                   prometheus_url=prometheus_url)  # fmt: skip
    if done.folder_created:
        console.print(f"folder {folder} created")
    if done.datasource:
        console.print(f"data source eams-clickhouse {done.datasource}")
    if done.prometheus:
        console.print(f"data source eams-prometheus {done.prometheus}")
    for d in done.dashboards:
        console.print(f"dashboard {d.get('uid')} version {d.get('version')}: {url}{d.get('url')}")
