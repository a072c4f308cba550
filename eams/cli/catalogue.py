"""``eams events schema`` and ``eams regions list``: the event catalogue and the region
reference."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.table import Table

from eams.cli.common import console
from eams.errors import ConfigError
from events.regions import load_reference
from events.schema import export_json_schema

events_app = typer.Typer(help="The event catalogue.")
regions_app = typer.Typer(help="The region reference (Shandong GB/T 2260; US FIPS).")


@events_app.command("schema")
def events_schema(
    out: Annotated[Path | None, typer.Option(help="Write to this file instead of stdout")] = None,
) -> None:
    """Export the JSON Schema (2020-12) of the envelope and every event type."""
    text = orjson.dumps(export_json_schema(), option=orjson.OPT_INDENT_2).decode()
    if out:
        out.write_text(text + "\n")
        console.print(f"wrote {out}")
    else:
        sys.stdout.write(text + "\n")


@regions_app.command("list")
def regions_list(
    city: Annotated[str | None, typer.Option(help="List this city's counties (code)")] = None,
    hierarchy: Annotated[str, typer.Option(help="shandong or us")] = "shandong",
) -> None:
    """Cities of a hierarchy, or the county-level divisions of one city."""
    ref = load_reference(hierarchy)
    regions = ref.children(city) if city else ref.cities()
    if city and ref.get(city) is None:
        raise ConfigError(f"--city {city}: not a city code of {hierarchy}; see `eams regions list`")
    table = Table(title=f"{hierarchy}: {len(regions)} regions")
    for col in ("code 代码", "name 名称", "English", "population 人口", "note 备注"):
        table.add_column(col)
    for r in regions:
        note = "statistical zone 统计功能区" if r.is_statistical_zone else ""
        pop = f"{r.population:,}" if r.population else ""
        table.add_row(r.code, r.name, r.name_en or "", pop, note)
    console.print(table)
