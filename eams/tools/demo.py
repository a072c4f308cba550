"""``eams demo`` and ``eams rebuild``: what drives a worker from outside.

The demo, in order:

1. starts the local broker and ``eams run`` as a child process (it alone owns the embedded
   ClickHouse);
2. backfills the seeded history (:mod:`eams.tools.history`, two years by default) at full
   speed, with a bar of what was sent and what the worker has projected, and waits until
   all of it is projected (the evaluator forgets the past days it had computed as the
   projector writes them: ``Projector.revised``);
3. plays the flood scenario into ``eams.ingest.raw`` at its rate (with case management's
   facts, households, civil-affairs leads and visits), while the demo's case officers
   register leads, visit, agree plans and record placements through the API
   (:mod:`eams.tools.casework_demo`), and redraws a per-city table from the worker's API
   once a second, with a second one of caseloads and zero-employment clearing.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from eams.auth import UserStore
from eams.broker import LocalKafka, ensure_broker, ensure_namespace
from eams.errors import ServiceUnavailableError
from eams.settings import Settings
from eams.tools.casework_demo import CaseFigures, Officers, case_figures, case_table
from eams.tools.client import ApiClient
from eams.tools.history import DEFAULT_DAYS, History, HistoryConfig, prior_years_warning
from eams.tools.player import Playing, history, history_end, progress_bar, scenario
from eams.tools.simulator import Scenario
from events.errors import EamsError
from events.regions import load_reference
from events.severity import LEVEL_NAMES, LEVELS, rank
from projections.client import Store, run
from projections.migrations import drop_all, migrate
from projections.projector import Projector

console = Console()
#: The case table's figures are read every this many frames of the live table.
CASE_EVERY = 3


def _worker_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env["EAMS_STATE_DIR"] = str(settings.state_dir)
    env.update(settings.kafka_env())  # the child must not start a broker
    env["EAMS_NAMESPACE"] = settings.namespace
    return env


def start_worker(settings: Settings, log: Path, timeout: float = 120) -> subprocess.Popen[bytes]:
    """Start ``eams run`` as a child process and wait until its API answers."""
    log.parent.mkdir(parents=True, exist_ok=True)
    if not settings.http_port:  # on a port of its choosing: not the one a predecessor wrote
        (settings.state_dir / "api.port").unlink(missing_ok=True)
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
    settings: Settings,
    *,
    count: int,
    rate: float,
    seed: int | None,
    exit_when_done: bool,
    history_days: int = DEFAULT_DAYS,
) -> None:
    """Broker + worker + history + scenario + live table; Ctrl-C stops the worker (and our
    broker). The history's seed is ``seed``, or a fixed one when ``seed`` is None, so that
    demos run again on the same state add no second history (the live part's seed is then
    taken from the clock, as before)."""
    was_running = settings.uses_local_kafka and LocalKafka(settings).pid() is not None
    with console.status("starting Kafka (the first start fetches its jars from Maven Central)…"):
        broker = ensure_broker(settings)
    log = settings.state_dir / "worker.log"
    with console.status(f"starting the worker (log: {log})…"):
        worker = start_worker(settings, log)
    client = ApiClient(settings)
    past = history(
        settings,
        days=history_days,
        seed=seed if seed is not None else HistoryConfig().seed,
        end=history_end(None),
    )
    seed = seed if seed is not None else int(time.time())
    flood = scenario(settings, count=count, seed=seed, after=past if history_days else None)
    password = demo_account(settings)
    console.print(
        f"[bold]EAMS demo 演示[/] — history 历史 {history_days:,} days (seed {past.cfg.seed}), "
        f"then seed {seed} · {count:,} slots at {rate:.0f}/s "
        f"({flood.cfg.ordinary:.1%} of the ordinary ones filled) · "
        f"flood in 临沂市 Linyi after {int(count * 0.4):,}\n"
        f"[bold]console 控制台[/] {settings.api_url}/console/ — sign in as "
        f"[bold]demo[/] / [bold]{password}[/] (admin: acknowledge alerts, activate playbooks) · "
        f"API docs {settings.api_url}/docs"
    )
    if warning := prior_years_warning(history_days):
        console.print(f"[yellow]note:[/] {warning}")
    try:
        if history_days:
            backfill(settings, client, past)
        live(settings, client, flood, rate=rate, exit_when_done=exit_when_done)
    except KeyboardInterrupt:
        pass
    finally:
        stop_worker(worker)
        if broker is not None and not was_running:
            broker.stop()  # only the broker this demo started
    console.print(
        "\ndemo stopped; the event log and projections stay in "
        f"{settings.state_dir} (eams run serves them again)"
    )


def backfill(settings: Settings, client: ApiClient, past: History) -> int:
    """Send the history at full speed and wait until the worker has projected it; returns
    how many events it has (a rerun's are duplicates, dropped by the ingest stream)."""
    total = len(past)
    before = _handled(client.status())
    began = time.monotonic()
    playing = Playing(settings, past, rate=0)
    with progress_bar(console) as bar:
        sending = bar.add_task(f"history 历史 {past.cfg.days:,} days: sent 已发送", total=total)
        projected = bar.add_task("projected 已投影", total=total)
        while True:
            status = client.status()
            handled = _handled(status) - before
            bar.update(sending, completed=playing.sent)
            bar.update(
                projected, completed=max(0, min(total, handled - status["projector"]["lag"]))
            )
            playing.check()
            if playing.done.is_set() and _settled(status, before + total):
                bar.update(projected, completed=total)
                break
            time.sleep(0.5)
    took = time.monotonic() - began
    console.print(
        f"history 历史: {total:,} events of {past.cfg.days:,} days sent and projected in "
        f"{took:.1f} s ({total / max(took, 1e-9):,.0f} events/s)"
    )
    return total


def live(
    settings: Settings, client: ApiClient, flood: Scenario, *, rate: float, exit_when_done: bool
) -> None:
    """Play the flood scenario at ``rate`` slots a second, with the officers acting through
    the API, and redraw the tables until Ctrl-C (or, with ``exit_when_done``, until every
    event is projected and the officers are done). The case figures are read every
    :data:`CASE_EVERY` frames (their routes read the ledger: a second's worth of
    freshness is not worth the worker's time)."""
    before = _handled(client.status())
    playing = Playing(settings, flood.timeline(), rate=rate)
    officers = Officers(settings, flood)
    officers.start()
    figures: dict[str, CaseFigures] = {}
    frame = 0
    try:
        with Live(console=console, refresh_per_second=2, screen=False) as view:
            while True:
                status = client.status()
                rows = client.cities()
                alerts = client.get("/api/alerts")
                done = playing.done.is_set()
                if done:
                    officers.stop()  # the last frames show what they did, settled
                if frame % CASE_EVERY == 0 or done:
                    figures = case_figures(client, [r["code"] for r in rows])
                frame += 1
                title = (
                    f"山东省就业援助监测 Shandong employment-assistance monitor — "
                    f"sent 已发送 {playing.sent:,} · slot {flood.slot:,}/{flood.cfg.count:,}"
                )
                table = city_table(rows, status, title, city_levels(alerts))
                cases = case_table(rows, figures, officers.summary())
                view.update(Group(table, cases, *playbook_lines(client)))
                playing.check()
                officers.check()
                if exit_when_done and done and _settled(status, before + playing.sent):
                    figures = case_figures(client, [r["code"] for r in rows])
                    cases = case_table(rows, figures, officers.summary())
                    view.update(Group(table, cases, *playbook_lines(client)))
                    break
                time.sleep(1)
    finally:
        officers.stop()


def stop_worker(worker: subprocess.Popen[bytes]) -> None:
    """SIGTERM, and SIGKILL if it has not exited within a minute."""
    worker.send_signal(signal.SIGTERM)
    try:
        worker.wait(timeout=60)
    except subprocess.TimeoutExpired:
        worker.kill()


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


def _handled(status: dict[str, Any]) -> int:
    """Raw inputs the worker's ingest stream has dealt with since it started."""
    ing = status.get("ingest") or {}  # empty while the stream starts
    return int(ing.get("accepted", 0) + ing.get("rejected", 0) + ing.get("duplicates", 0))


def _settled(status: dict[str, Any], count: int) -> bool:
    """True once ``count`` inputs are dealt with and every event is projected."""
    return _handled(status) >= count and status["projector"]["lag"] == 0


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
