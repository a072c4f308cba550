"""``eams simulate`` and ``eams demo``: events into a worker from outside (:mod:`eams.tools`);
``eams import`` is in :mod:`eams.cli.imports`."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from eams.cli.common import console, settings
from eams.tools.demo import run_demo, simulate


def simulate_cmd(
    count: Annotated[int, typer.Option(help="How many events")] = 10_000,
    seed: Annotated[int, typer.Option(help="Same seed, same events (ids included)")] = 7,
    rate: Annotated[float, typer.Option(help="Events per second; 0 = as fast as possible")] = 0,
    flood_city: Annotated[str, typer.Option(help="City flooded mid-run (code)")] = "371300",
    flood_at: Annotated[float, typer.Option(help="Share of the run before the flood")] = 0.4,
    days: Annotated[float, typer.Option(help="Spread occurred_at over the last N days")] = 0,
    out: Annotated[
        Path | None, typer.Option(help="Write NDJSON here instead of sending to Kafka")
    ] = None,
) -> None:
    """Generate the Shandong scenario: baseline activity in 16 cities, then a flood that
    flags counties of one city, layoffs there and temporary-assistance registrations."""
    s = settings()
    sent = asyncio.run(
        simulate(
            s,
            count=count,
            seed=seed,
            rate=rate,
            flood_city=flood_city,
            flood_at=flood_at,
            days=days,
            out=out,
            progress=True,
        )
    )
    console.print(f"{sent} events {'written to ' + str(out) if out else 'sent to eams.ingest.raw'}")


def demo_cmd(
    count: Annotated[int, typer.Option(help="Events in the scenario")] = 20_000,
    rate: Annotated[float, typer.Option(help="Events per second")] = 400,
    seed: Annotated[
        int | None, typer.Option(help="Scenario seed (default: from the clock)")
    ] = None,
    exit_when_done: Annotated[
        bool, typer.Option(help="Stop once every event is projected (for scripts)")
    ] = False,
) -> None:
    """The live demo: starts Kafka and the worker, plays the flood scenario, and shows a
    per-city table (zh-CN / English) that changes as the projections change. Ctrl-C stops."""
    run_demo(settings(), count=count, rate=rate, seed=seed, exit_when_done=exit_when_done)
