"""``eams demo``, ``eams simulate`` and ``eams rebuild``: what drives a worker from outside.

The demo starts the local broker, starts ``eams run`` as a child process (it alone owns
the embedded ClickHouse), plays the flood scenario into ``eams.ingest.raw`` and redraws a
per-city table from the worker's API once a second.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from eams.auth import UserStore
from eams.broker import LocalKafka, ensure_broker, ensure_namespace
from eams.errors import ServiceUnavailableError
from eams.settings import Settings
from eams.tools.client import ApiClient
from eams.tools.simulator import Scenario, ScenarioConfig
from events.clock import SHANGHAI
from events.errors import EamsError
from events.regions import load_reference
from events.severity import LEVEL_NAMES, LEVELS, rank
from projections.client import Store, run
from projections.migrations import drop_all, migrate
from projections.projector import Projector
from streams.producer import RawProducer

console = Console()


async def simulate(
    settings: Settings,
    *,
    count: int,
    seed: int,
    rate: float = 0,
    flood_city: str = "371300",
    flood_at: float = 0.4,
    days: float = 0,
    out: Path | None = None,
    progress: bool = False,
    on_sent: Any = None,
) -> int:
    """Play the scenario into Kafka (or a file) at ``rate`` events/s (0 = flat out)."""
    span = dt.timedelta(days=days)
    start = dt.datetime.now(SHANGHAI) - span if days else None
    reference = load_reference(settings.region_hierarchy.split(",")[0])
    scenario = Scenario(
        reference,
        ScenarioConfig(
            seed=seed, count=count, flood_city=flood_city, flood_at=flood_at, start=start, span=span
        ),
    )
    bar = Progress(
        "{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=not progress,
    )
    task = bar.add_task("simulating", total=count)
    sent = 0
    began = time.monotonic()
    with bar:
        if out is not None:
            with out.open("wb") as fh:
                for event in scenario:
                    fh.write(orjson.dumps(event) + b"\n")
                    sent += 1
                    if sent % 1000 == 0:
                        bar.update(task, completed=sent)
            bar.update(task, completed=sent)
            return sent
        ensure_broker(settings)
        names = settings.topics
        async with RawProducer(
            settings.kafka("raw"), names.ingest_raw, "simulator", signing_key=settings.ingest_key()
        ) as producer:
            for event in scenario:
                await producer.submit(orjson.dumps(event))
                sent += 1
                if on_sent is not None:
                    on_sent(sent, event)
                if rate > 0:
                    ahead = sent / rate - (time.monotonic() - began)
                    if ahead > 0:
                        await producer.flush()
                        await asyncio.sleep(ahead)
                if sent % 1000 == 0:
                    bar.update(task, completed=sent)
            bar.update(task, completed=sent)
    return sent


def _worker_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env["EAMS_STATE_DIR"] = str(settings.state_dir)
    env.update(settings.kafka_env())  # the child must not start a broker
    env["EAMS_NAMESPACE"] = settings.namespace
    return env


def start_worker(settings: Settings, log: Path, timeout: float = 120) -> subprocess.Popen[bytes]:
    """Start ``eams run`` as a child process and wait until its API answers."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as fh:
        proc = subprocess.Popen(  # noqa: S603 - our own CLI
            [sys.executable, "-m", "eams.cli", "run"],
            env=_worker_env(settings),
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
    client = ApiClient(settings, timeout=2)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace").splitlines()[-15:]
            raise ServiceUnavailableError("the worker exited:\n  " + "\n  ".join(tail))
        if client.alive():
            return proc
        time.sleep(0.3)
    proc.kill()
    raise ServiceUnavailableError(f"the worker did not answer within {timeout:.0f}s; see {log}")


#: A level as the table shows it: ``红 I`` … ``蓝 IV``.
LEVEL_LABEL = {
    str(lv.name): f"{lv.colour_zh.removesuffix('色')} {lv.name}" for lv in reversed(LEVELS)
}
#: How a terminal paints each colour of the scale: rich styles in the terminal's own
#: palette, which the console's hex colours would only approximate there.
_TERMINAL_STYLE = {
    "red": "bold white on red",
    "orange": "bold black on dark_orange",
    "yellow": "black on yellow",
    "blue": "white on blue",
}
LEVEL_STYLE = {str(lv.name): _TERMINAL_STYLE[lv.colour] for lv in reversed(LEVELS)}


def city_levels(alerts: list[dict[str, Any]]) -> dict[str, str]:
    """The most severe open alert level per city (a county's alert counts for its city)."""
    out: dict[str, str] = {}
    for a in alerts:
        city = a.get("city") or a["region"]
        for code in {city, a["region"]}:
            if code not in out or rank(a["level"], default=0) > rank(out[code], default=0):
                out[code] = a["level"]
    return out


def city_table(
    rows: list[dict[str, Any]],
    status: dict[str, Any],
    title: str,
    levels: dict[str, str] | None = None,
) -> Table:
    """The live per-city table (labels in zh-CN with English)."""
    table = Table(title=title, caption=_caption(status), expand=False)
    for label, justify in (
        ("城市 City", "left"),
        ("登记 Registered", "right"),
        ("临时援助 Temp. assist.", "right"),
        ("裁员报告 Layoff reports", "right"),
        ("裁员人数 Laid off", "right"),
        ("失业金 Claims", "right"),
        ("服务 Services", "right"),
        ("灾区县 Disaster areas", "center"),
    ):
        table.add_column(label, justify=justify)  # type: ignore[arg-type]
    table.add_column("预警 Alert", justify="center")
    for r in rows:
        area = Text("—")
        if r["disaster_areas"]:
            sev = r["disaster_severity"] or LEVEL_NAMES[0]  # the least severe
            area = Text(f" {r['disaster_areas']} · {sev}级 ", style=LEVEL_STYLE.get(sev, ""))
        level = (levels or {}).get(r["code"])
        alert = (
            Text(f" {LEVEL_LABEL[level]} ", style=LEVEL_STYLE.get(level, ""))
            if level
            else Text("—")
        )
        table.add_row(
            f"{r['name']} {r.get('name_en') or ''}",
            f"{r['registrations']:,}",
            f"{r['reg_temporary_assistance']:,}",
            f"{r['layoff_reports']:,}",
            f"{r['people_laid_off']:,}",
            f"{r['claims']:,}",
            f"{r['services']:,}",
            area,
            alert,
        )
    return table


def _caption(status: dict[str, Any]) -> str:
    ing = status.get("ingest", {})
    proj = status.get("projector", {})
    return (
        f"accepted 接收 {ing.get('accepted', 0):,} · rejected 拒收 {ing.get('rejected', 0):,} · "
        f"duplicates 重复 {ing.get('duplicates', 0):,} · "
        f"projected 已投影 {proj.get('rows', 0):,} · "
        f"lag 积压 {proj.get('lag', 0):,}"
    )


def run_demo(
    settings: Settings, *, count: int, rate: float, seed: int | None, exit_when_done: bool
) -> None:
    """Broker + worker + scenario + live table; Ctrl-C stops the worker (and our broker)."""
    was_running = settings.uses_local_kafka and LocalKafka(settings).pid() is not None
    with console.status("starting Kafka (the first start fetches its jars from Maven Central)…"):
        broker = ensure_broker(settings)
    log = settings.state_dir / "worker.log"
    with console.status(f"starting the worker (log: {log})…"):
        worker = start_worker(settings, log)
    client = ApiClient(settings)
    seed = seed if seed is not None else int(time.time())
    password = demo_account(settings)
    console.print(
        f"[bold]EAMS demo 演示[/] — seed {seed} · {count:,} events at {rate:.0f}/s · "
        f"flood in 临沂市 Linyi after {int(count * 0.4):,}\n"
        f"[bold]console 控制台[/] {settings.api_url}/console/ — sign in as "
        f"[bold]demo[/] / [bold]{password}[/] (admin: acknowledge alerts, activate playbooks) · "
        f"API docs {settings.api_url}/docs"
    )
    progress = {"sent": 0}

    async def play() -> None:
        await simulate(
            settings,
            count=count,
            seed=seed,
            rate=rate,
            on_sent=lambda n, _e: progress.__setitem__("sent", n),
        )

    done = threading.Event()
    failure: list[BaseException] = []

    def player() -> None:
        try:
            asyncio.run(play())
        except BaseException as exc:  # noqa: BLE001 - reported in the main thread
            failure.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=player, name="simulator", daemon=True)
    thread.start()
    try:
        with Live(console=console, refresh_per_second=2, screen=False) as live:
            while True:
                status = client.status()
                rows = client.cities()
                alerts = client.get("/api/alerts")
                title = (
                    f"山东省就业援助监测 Shandong employment-assistance monitor — "
                    f"sent 已发送 {progress['sent']:,}/{count:,}"
                )
                table = city_table(rows, status, title, city_levels(alerts))
                live.update(Group(table, *playbook_lines(client)))
                if failure:
                    raise failure[0]
                if exit_when_done and done.is_set() and _settled(status, count):
                    break
                time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            worker.kill()
        if broker is not None and not was_running:
            broker.stop()  # only the broker this demo started
    console.print(
        "\ndemo stopped; the event log and projections stay in "
        f"{settings.state_dir} (eams run serves them again)"
    )


def demo_account(settings: Settings) -> str:
    """(Re)create the ``demo`` user (administrator) with a fresh password; returns it."""
    password = secrets.token_urlsafe(9)
    UserStore(settings.state_dir / "users.sqlite").reset_user("demo", "admin", password, [])
    return password


def playbook_lines(client: ApiClient) -> list[str]:
    """One line per playbook run, with the command that moves a proposed one on."""
    try:
        runs = client.get("/api/playbook-runs")
    except EamsError:  # the playbook runtime is still starting
        return []
    lines = []
    for r in runs[:5]:
        status = {"proposed": "待启动 proposed", "active": "处置中 active"}.get(
            r["status"], r["status"]
        )
        line = f"应急预案 playbook [bold]{r['run_id']}[/] {r['level']}级 {status}"
        if r["status"] == "proposed":
            line += f" — eams playbooks activate {r['run_id']} --actor incident-team"
        lines.append(line)
    return lines


def _settled(status: dict[str, Any], count: int) -> bool:
    ing = status["ingest"]
    handled = ing["accepted"] + ing["rejected"] + ing["duplicates"]
    return bool(handled >= count and status["projector"]["lag"] == 0)


def rebuild(settings: Settings) -> None:
    """Drop the projections and replay from offset 0 (in the worker if one runs)."""
    client = ApiClient(settings, timeout=5)
    bar = Progress("{task.description}", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    if client.alive():
        client.rebuild()
        time.sleep(0.5)
        with bar:
            task = bar.add_task("rebuilding (in eams run)", total=None)
            while True:
                proj = client.status()["projector"]
                total = sum(proj["highwater"].values()) if proj["highwater"] else None
                done = sum(proj["positions"].values())
                bar.update(task, total=total, completed=done)
                if total is not None and proj["lag"] == 0 and proj["batches"] > 0:
                    break
                time.sleep(0.5)
        console.print(f"rebuilt: {proj['rows']:,} events projected")
        return
    asyncio.run(_rebuild_here(settings, bar))


async def _rebuild_here(settings: Settings, bar: Progress) -> None:
    ensure_broker(settings)
    await ensure_namespace(settings)
    store = Store(settings.clickhouse_dsn)
    await run(drop_all, store)
    await run(migrate, store)
    projector = Projector(
        kafka=settings.kafka("stream"),
        topic_names=settings.topics,
        store=store,
        reference=load_reference(settings.region_hierarchy),
        batch=settings.projector_batch,
        linger_ms=settings.projector_linger_ms,
        window=settings.dedupe_window,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(projector.run(stop))
    with bar:
        progress = bar.add_task("rebuilding", total=None)
        while True:
            await asyncio.sleep(0.3)
            st = projector.stats
            if task.done():
                await task
            if st.highwater:
                bar.update(
                    progress, total=sum(st.highwater.values()), completed=sum(st.positions.values())
                )
                if st.lag == 0 and len(st.highwater) == len(st.positions):
                    break
    stop.set()
    await task
    console.print(f"rebuilt: {projector.stats.rows:,} events projected")
    store.close()
