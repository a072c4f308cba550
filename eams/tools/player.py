"""Playing generated events into ``<ns>.ingest.raw`` (or an NDJSON file): the seeded history
at full speed, then the flood scenario at its rate (``eams simulate``, ``eams demo``).

The history ends where the live part begins: its last whole day is the day before the
scenario's first event (:func:`history_end`). After a history the scenario keeps about as
much ordinary activity as the history has in the days the scenario spans
(:func:`ordinary_share`): played at 400 events/s its baseline would be weeks of activity in
one day, and every city would read twice its claims of the earlier years.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import orjson
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from eams.broker import ensure_broker
from eams.settings import Settings
from eams.tools.history import History, HistoryConfig
from eams.tools.simulator import Scenario, ScenarioConfig
from events.clock import SHANGHAI
from events.regions import load_reference
from streams.producer import RawProducer

OnSent = Callable[[int, dict[str, Any]], None]


class RateColumn(ProgressColumn):
    """Records a second (rich's own speed column counts bytes)."""

    def render(self, task: Task) -> Text:
        """The task's speed, or a dash before there is one."""
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f}/s" if speed else "–/s", style="progress.data.speed")


def progress_bar(console: Console | None = None, *, disable: bool = False) -> Progress:
    """A bar of records: done of total, records a second, elapsed and time remaining."""
    return Progress(
        "{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console or Console(stderr=True),
        disable=disable,
    )


def history_end(start: dt.datetime | None) -> dt.date:
    """The day after the history's last: the day the live part starts (today)."""
    return (start or dt.datetime.now(SHANGHAI)).astimezone(SHANGHAI).date()


def history(settings: Settings, *, days: int, seed: int, end: dt.date) -> History:
    """The seeded history of ``days`` whole days before ``end`` in the primary hierarchy."""
    reference = load_reference(settings.region_hierarchy.split(",")[0])
    return History(reference, HistoryConfig(seed=seed, days=days, end=end))


def ordinary_share(past: History, *, count: int, flood_at: float, days: float) -> float:
    """The share of the scenario's baseline slots to fill after ``past`` so that the
    scenario's ordinary activity is what the history has in ``days`` (at least one): its
    baseline slots are the ``flood_at`` share before the flood and 70 % of those after."""
    if not past.cfg.days or count <= 0:
        return 1.0
    per_day = len(past) / past.cfg.days
    slots = count * (flood_at + (1 - flood_at) * 0.7)
    return min(1.0, per_day * max(days, 1.0) / max(slots, 1.0))


def scenario(
    settings: Settings,
    *,
    count: int,
    seed: int,
    flood_city: str = "371300",
    flood_at: float = 0.4,
    start: dt.datetime | None = None,
    span: dt.timedelta = dt.timedelta(0),
    after: History | None = None,
    casework: bool = True,
) -> Scenario:
    """The flood scenario; after a history (``after``), with its baseline thinned to the
    history's rate (:func:`ordinary_share`); ``casework``: with case management's facts,
    households, civil-affairs leads and visits (:class:`~eams.tools.simulator.Scenario`)."""
    reference = load_reference(settings.region_hierarchy.split(",")[0])
    days = span.total_seconds() / 86400
    share = (
        1.0 if after is None else ordinary_share(after, count=count, flood_at=flood_at, days=days)
    )
    config = ScenarioConfig(
        seed=seed,
        count=count,
        flood_city=flood_city,
        flood_at=flood_at,
        start=start,
        span=span,
        ordinary=share,
        casework=casework,
    )
    return Scenario(reference, config)


async def play(
    settings: Settings,
    events: Iterable[dict[str, Any] | None],
    *,
    rate: float = 0,
    out: BinaryIO | None = None,
    on_sent: OnSent | None = None,
) -> int:
    """Send ``events`` to the ingest topic at ``rate`` slots a second (0: as fast as they
    go; a None is a slot with nothing to send), or write them to ``out`` as NDJSON;
    ``on_sent(n, event)`` after each event. Returns how many were sent."""
    sent = 0
    if out is not None:
        for event in events:
            if event is not None:
                out.write(orjson.dumps(event) + b"\n")
                sent += 1
                if on_sent is not None:
                    on_sent(sent, event)
        return sent
    ensure_broker(settings)
    began = time.monotonic()
    async with RawProducer(
        settings.kafka("raw"),
        settings.topics.ingest_raw,
        "simulator",
        signing_key=settings.ingest_key(),
    ) as producer:
        for slot, event in enumerate(events, 1):
            if event is not None:
                await producer.submit(orjson.dumps(event))
                sent += 1
                if on_sent is not None:
                    on_sent(sent, event)
            if rate > 0:
                ahead = slot / rate - (time.monotonic() - began)
                if ahead > 0:
                    await producer.flush()
                    await asyncio.sleep(ahead)
    return sent


class Playing:
    """Events played into the ingest topic from a thread while the main thread shows
    progress: ``slots`` and ``sent`` so far, ``done`` once played, ``failure`` if it stopped
    on an error (see :func:`eams.tools.player.play` for the slots)."""

    def __init__(
        self, settings: Settings, events: Iterable[dict[str, Any] | None], rate: float
    ) -> None:
        self.slots = self.sent = 0
        self.done = threading.Event()
        self.failure: list[BaseException] = []

        def counted() -> Iterator[dict[str, Any] | None]:
            for n, event in enumerate(events, 1):
                self.slots = n
                yield event

        def count(n: int, _event: dict[str, Any]) -> None:
            self.sent = n

        def player() -> None:
            try:
                asyncio.run(play(settings, counted(), rate=rate, on_sent=count))
            except BaseException as exc:  # noqa: BLE001 - reported in the main thread
                self.failure.append(exc)
            finally:
                self.done.set()

        threading.Thread(target=player, name="simulator", daemon=True).start()

    def check(self) -> None:
        """Raise what stopped the player, if anything did."""
        if self.failure:
            raise self.failure[0]


async def simulate(
    settings: Settings,
    *,
    count: int,
    seed: int,
    rate: float = 0,
    flood_city: str = "371300",
    flood_at: float = 0.4,
    days: float = 0,
    history_days: int = 0,
    out: Path | None = None,
    progress: bool = False,
    on_sent: OnSent | None = None,
) -> int:
    """Play ``history_days`` of history at full speed, then the scenario at ``rate`` events/s
    (0 = flat out), to Kafka or into the file ``out``; returns how many were played."""
    span = dt.timedelta(days=days)
    start = dt.datetime.now(SHANGHAI) - span if days else None
    past = history(settings, days=history_days, seed=seed, end=history_end(start))
    flood = scenario(
        settings,
        count=count,
        seed=seed,
        flood_city=flood_city,
        flood_at=flood_at,
        start=start,
        span=span,
        after=past if history_days else None,
    )
    with progress_bar(disable=not progress) as bar, contextlib.ExitStack() as files:
        fh = files.enter_context(out.open("wb")) if out is not None else None
        parts: list[tuple[str, Iterable[dict[str, Any] | None], int, float]] = [
            (f"history ({history_days} days)", past, len(past), 0),
            ("scenario", flood.timeline(), count, rate),
        ]
        sent = 0
        for name, events, total, pace in parts:
            if total:
                sent += await _part(settings, bar, name, events, total, pace, fh, on_sent, sent)
    return sent


async def _part(
    settings: Settings,
    bar: Progress,
    name: str,
    events: Iterable[dict[str, Any] | None],
    total: int,
    rate: float,
    out: BinaryIO | None,
    on_sent: OnSent | None,
    before: int,
) -> int:
    """Play one part under its own line of the bar (counting its slots); ``on_sent``
    counts on from ``before``."""
    task = bar.add_task(name, total=total)

    def slots() -> Iterator[dict[str, Any] | None]:
        for n, event in enumerate(events, 1):
            if n % 500 == 0 or n == total:
                bar.update(task, completed=n)
            yield event

    def sent(n: int, event: dict[str, Any]) -> None:
        if on_sent is not None:
            on_sent(before + n, event)

    return await play(settings, slots(), rate=rate, out=out, on_sent=sent)
