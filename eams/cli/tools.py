"""``eams simulate`` and ``eams demo``: events into a worker from outside (:mod:`eams.tools`);
``eams import`` is in :mod:`eams.cli.imports`."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from eams.cli.common import console, err, settings
from eams.tools.demo import run_demo
from eams.tools.history import DEFAULT_DAYS, prior_years_warning
from eams.tools.player import simulate


def simulate_cmd(
    count: Annotated[int, typer.Option(help="How many events")] = 10_000,
    seed: Annotated[int, typer.Option(help="Same seed, same events (ids included)")] = 7,
    rate: Annotated[float, typer.Option(help="Events per second; 0 = as fast as possible")] = 0,
    flood_city: Annotated[str, typer.Option(help="City flooded mid-run (code)")] = "371300",
    flood_at: Annotated[float, typer.Option(help="Share of the run before the flood")] = 0.4,
    days: Annotated[float, typer.Option(help="Spread occurred_at over the last N days")] = 0,
    history_days: Annotated[
        int,
        typer.Option(
            help="First, at full speed: N whole days of ordinary activity (same seed) ending "
            f"where the scenario starts; 0 = none, {DEFAULT_DAYS} = what the demo sends"
        ),
    ] = 0,
    out: Annotated[
        Path | None, typer.Option(help="Write NDJSON here instead of sending to Kafka")
    ] = None,
) -> None:
    """Generate the Shandong scenario: baseline activity in 16 cities, then a flood that
    flags counties of one city, layoffs there and temporary-assistance registrations.

    With --history-days, the scenario comes after a seeded history (registrations with
    their seasons, services, claims, vacancies, small layoffs, monthly headcounts of
    monitored enterprises), newest day first, and its ordinary events are thinned to
    what the history has in the days it spans (--count is then its slots; the flood is
    whole). Example: the demo's data as a file:

        eams simulate --history-days 760 --count 20000 --out demo.ndjson
    """
    if warning := prior_years_warning(history_days):
        err.print(f"[yellow]note:[/] {warning}")
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
            history_days=history_days,
            out=out,
            progress=True,
        )
    )
    console.print(f"{sent} events {'written to ' + str(out) if out else 'sent to eams.ingest.raw'}")


def demo_cmd(
    count: Annotated[int, typer.Option(help="Events in the scenario")] = 20_000,
    rate: Annotated[float, typer.Option(help="Events per second")] = 400,
    seed: Annotated[
        int | None,
        typer.Option(help="Scenario seed (default: from the clock; the history's is then fixed)"),
    ] = None,
    history_days: Annotated[
        int,
        typer.Option(
            help="Whole days of history backfilled first, at full speed; 0 = none. The "
            "default is two years and the 28 days the claims comparison reads back; "
            "from 365 to 757 days that comparison misses part of a prior year and reads high"
        ),
    ] = DEFAULT_DAYS,
    exit_when_done: Annotated[
        bool, typer.Option(help="Stop once every event is projected (for scripts)")
    ] = False,
) -> None:
    """The live demo: starts Kafka and the worker, backfills two years of seeded history at
    full speed (so the trends have curves and the rules that compare with the past have
    it), then plays the flood scenario live and shows a per-city table (zh-CN / English)
    that changes as the projections change. Ctrl-C stops.

    The history is the same for the same seed (ids included): running the demo again on
    the same state adds only the days that passed since. Quick look without history:

        eams demo --history-days 0 --count 2000 --exit-when-done
    """
    run_demo(
        settings(),
        count=count,
        rate=rate,
        seed=seed,
        exit_when_done=exit_when_done,
        history_days=history_days,
    )
