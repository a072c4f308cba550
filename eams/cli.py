"""The ``eams`` command line.  Run ``eams --help`` for the tour.

Every command reads its settings from ``EAMS_*`` variables (see README, Configuration).
Errors of the project (``EamsError``) are printed as one line that says what was wrong and
what to do, with exit code 2; no stack traces for users.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from eams.cli_dlq import dlq_app
from eams.cli_grafana import grafana_app
from eams.cli_playbooks import playbooks_app
from eams.cli_quarantine import quarantine_app
from eams.cli_users import apikeys_app, users_app
from eams.errors import ConfigError
from eams.settings import Settings
from events.errors import EamsError

HELP = """EAMS — employment-assistance monitoring (就业援助监测).

Events (registrations, layoff reports, disaster-area flags, services …) enter through the
HTTP API or `eams import`, flow through Kafka (eams.ingest.raw -> eams.events) and are
projected into ClickHouse, where per-region facts are kept current.

\b
Start here:
  eams demo                 everything at once: broker, worker, a flood scenario, live table
  eams run                  the worker + API (starts the local Kafka unless EAMS_KAFKA_BOOTSTRAP)
  eams import FILE          NDJSON events, or CSV with --mapping (e.g. US WARN notices)
  eams simulate --count N   the seeded Shandong scenario generator
  eams status               what the running worker has done
  eams dlq list             rejected inputs with the field and reason; `eams dlq replay`
  eams kafka start|stop|status, eams rebuild, eams events schema
"""

app = typer.Typer(
    help=HELP,
    no_args_is_help=True,
    rich_markup_mode=None,
    add_completion=False,
    pretty_exceptions_enable=False,
)
kafka_app = typer.Typer(help="The local Apache Kafka broker (4.x, KRaft, one node).")
events_app = typer.Typer(help="The event catalogue.")
app.add_typer(kafka_app, name="kafka")
app.add_typer(events_app, name="events")
app.add_typer(dlq_app, name="dlq")

console = Console()
# soft_wrap: an error is one line (greppable in logs), never hard-wrapped at 80 columns
err = Console(stderr=True, soft_wrap=True)


def settings() -> Settings:
    """The settings of this invocation (from EAMS_* variables)."""
    return Settings()


# -- kafka -------------------------------------------------------------------------------
@kafka_app.command("start")
def kafka_start() -> None:
    """Fetch the jars and generate the credentials (first time), format storage (first
    time), start with SASL/SCRAM and ACLs, wait until ready."""
    from eams.broker import LocalKafka

    s = settings()
    broker = LocalKafka(s)
    with console.status("starting Kafka (first start fetches jars from Maven Central)…"):
        status = broker.start()
    console.print(f"Kafka is up at {status.bootstrap} (pid {status.pid}, data {status.data_dir})")
    console.print(f"SASL/SCRAM-SHA-256 credentials (0600): {broker.credentials_file}")


@kafka_app.command("stop")
def kafka_stop() -> None:
    """Stop the local broker cleanly."""
    from eams.broker import LocalKafka

    stopped = LocalKafka(settings()).stop()
    console.print("Kafka stopped" if stopped else "Kafka was not running")


@kafka_app.command("status")
def kafka_status() -> None:
    """Is the local broker running and accepting connections?"""
    from eams.broker import LocalKafka

    st = LocalKafka(settings()).status()
    state = "running" if st.running and st.accepting else "not running"
    console.print(f"Kafka {state}: {st.bootstrap} pid={st.pid} data={st.data_dir}")
    if not (st.running and st.accepting):
        raise typer.Exit(1)


# -- run ---------------------------------------------------------------------------------
@app.command("run")
def run_cmd() -> None:
    """Run the worker: ingest stream, projector and HTTP API, until Ctrl-C."""
    from eams.broker import ensure_broker
    from eams.runtime import serve

    s = settings()
    ensure_broker(s)
    _logging(s)

    def ready(host: Any) -> None:
        console.print(
            f"EAMS running: API {host.api_url}/docs · Kafka {s.bootstrap} · "
            f"ClickHouse {s.clickhouse_dsn}  (Ctrl-C stops)"
        )

    asyncio.run(serve(s, on_ready=ready))


def _logging(s: Settings) -> None:
    import logging

    level = {"crit": "CRITICAL", "warn": "WARNING"}.get(s.log_level, s.log_level.upper())
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("aiokafka", "kafka"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))


# -- events ------------------------------------------------------------------------------
@events_app.command("schema")
def events_schema(
    out: Annotated[Path | None, typer.Option(help="Write to this file instead of stdout")] = None,
) -> None:
    """Export the JSON Schema (2020-12) of the envelope and every event type."""
    import orjson

    from events.schema import export_json_schema

    text = orjson.dumps(export_json_schema(), option=orjson.OPT_INDENT_2).decode()
    if out:
        out.write_text(text + "\n")
        console.print(f"wrote {out}")
    else:
        sys.stdout.write(text + "\n")


# -- regions ---------------------------------------------------------------------------------
regions_app = typer.Typer(help="The region reference (Shandong GB/T 2260; US FIPS).")
app.add_typer(regions_app, name="regions")


@regions_app.command("list")
def regions_list(
    city: Annotated[str | None, typer.Option(help="List this city's counties (code)")] = None,
    hierarchy: Annotated[str, typer.Option(help="shandong or us")] = "shandong",
) -> None:
    """Cities of a hierarchy, or the county-level divisions of one city."""
    from rich.table import Table

    from events.regions import load_reference

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


# -- import / simulate ---------------------------------------------------------------------
@app.command("import")
def import_cmd(
    file: Annotated[Path, typer.Argument(help="NDJSON (one event per line) or CSV file")],
    mapping: Annotated[
        Path | None,
        typer.Option(help="YAML column mapping for CSV, e.g. deploy/mappings/warn_us.yaml"),
    ] = None,
) -> None:
    """Send a file's events to eams.ingest.raw (validated by the running worker).

    CSV needs a column mapping; rows the mapping cannot convert go to the dead-letter
    topic with the line and column. Example (real US WARN notices, US hierarchy):

        EAMS_REGION_HIERARCHY=shandong,us \
            eams import warn.csv --mapping deploy/mappings/warn_us.yaml
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from eams.broker import ensure_broker
    from eams.tools.importer import count_lines, import_file

    if not file.exists():
        raise ConfigError(f"{file}: no such file")
    if file.suffix.lower() == ".csv" and mapping is None:
        raise ConfigError(
            f"{file}: a CSV file needs --mapping FILE (columns -> event fields), "
            "e.g. deploy/mappings/warn_us.yaml"
        )
    s = settings()
    ensure_broker(s)
    total = count_lines(file)
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
    ) as bar:
        task = bar.add_task(f"importing {file.name}", total=total)
        report = asyncio.run(
            import_file(
                file,
                kafka=s.kafka("raw"),
                dlq_kafka=s.kafka("stream"),
                topic_names=s.topics,
                hierarchy=s.region_hierarchy,
                signing_key=s.ingest_key(),
                dlq_key=s.dead_letter_key(),
                mapping_path=mapping,
                on_progress=lambda n: bar.update(task, completed=n),
            )
        )
    console.print(
        f"{report.lines} lines: {report.submitted} submitted to eams.ingest.raw, "
        f"{report.dead_lettered} dead-lettered (see `eams dlq list`)"
    )


@app.command("simulate")
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
    from eams.tools.demo import simulate

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


@app.command("demo")
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
    from eams.tools.demo import run_demo

    run_demo(settings(), count=count, rate=rate, seed=seed, exit_when_done=exit_when_done)


# -- status / rebuild ------------------------------------------------------------------------
@app.command("status")
def status_cmd() -> None:
    """What the running worker has done: accepted, rejected, duplicates, projector lag."""
    import orjson

    from eams.tools.client import ApiClient

    st = ApiClient(settings()).status()
    sys.stdout.write(orjson.dumps(st, option=orjson.OPT_INDENT_2).decode() + "\n")
    for name, part in (st.get("alerting") or {}).items():  # held events: say so on stderr
        if part.get("pending_events"):
            sys.stderr.write(
                f"warning: {name}: {part['pending_events']} events wait for the broker "
                f"({part.get('last_flush_error') or 'in flight'}); they are sent again, "
                f"next in {part.get('retry_in') or 0:g} s\n"
            )


@app.command("rebuild")
def rebuild_cmd() -> None:
    """Drop every projection and replay eams.events from offset 0, with a progress bar.

    If `eams run` is running, it rebuilds in place (other commands may not open the
    embedded engine while it runs); otherwise this command does it itself."""
    from eams.tools.demo import rebuild

    rebuild(settings())


# -- alerts (duty officers) -----------------------------------------------------------------
alerts_app = typer.Typer(help="Duty officers: alerts (预警) — list, show, ack, silence.")
rules_app = typer.Typer(help="Alert rules (YAML): lint and backtest.")
app.add_typer(alerts_app, name="alerts")
app.add_typer(playbooks_app, name="playbooks")
app.add_typer(grafana_app, name="grafana")
app.add_typer(users_app, name="users")
app.add_typer(apikeys_app, name="apikeys")
app.add_typer(rules_app, name="rules")
app.add_typer(quarantine_app, name="quarantine")

LEVEL_ZH = {"I": "红色 I级", "II": "橙色 II级", "III": "黄色 III级", "IV": "蓝色 IV级"}
STATUS_ZH = {
    "firing": "告警中",
    "acknowledged": "已确认",
    "silenced": "已静默",
    "resolved": "已解除",
}


def _api() -> Any:
    from eams.tools.client import ApiClient

    return ApiClient(settings())


@alerts_app.command("list")
def alerts_list(
    region: Annotated[
        str | None, typer.Option(help="Region code (a city covers its counties)")
    ] = None,
    level: Annotated[str | None, typer.Option(help="I, II, III or IV")] = None,
    status: Annotated[
        str, typer.Option(help="open, firing, acknowledged, silenced, resolved or all")
    ] = "open",
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line")] = False,
) -> None:
    """Open alerts, most severe first (告警列表)."""
    import orjson
    from rich.table import Table

    rows = _api().get(
        "/api/alerts",
        **{
            k: v
            for k, v in {
                "region": region,
                "level": level,
                "status": "" if status == "all" else status,
            }.items()
            if v is not None
        },
    )
    if as_json:
        for row in rows:
            sys.stdout.write(orjson.dumps(row).decode() + "\n")
        return
    table = Table(title=f"{len(rows)} alerts 预警")
    for col in (
        "id",
        "level 级别",
        "region 地区",
        "rule 规则",
        "value 值",
        "status 状态",
        "since 开始",
    ):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(
            r["alert_id"],
            LEVEL_ZH.get(r["level"], r["level"]),
            r["region"],
            r["rule"],
            f"{r['value']:g} / {r['threshold']:g}",
            STATUS_ZH.get(r["status"], r["status"]),
            str(r["firing_since"])[:19],
        )
    console.print(table)


@alerts_app.command("show")
def alerts_show(
    alert_id: Annotated[str, typer.Argument(help="Alert id (from `eams alerts list`)")],
) -> None:
    """One alert and its timeline: lifecycle events and every notification attempt."""
    api = _api()
    alert = api.get(f"/api/alerts/{alert_id}")
    console.print(
        f"[bold]{alert['alert_id']}[/] {LEVEL_ZH.get(alert['level'], '')} "
        f"{STATUS_ZH.get(alert['status'], alert['status'])} — {alert['summary']}"
    )
    for e in api.get(f"/api/alerts/{alert_id}/timeline"):
        console.print(
            f"  {str(e['occurred_at'])[:19]}  {e['event_type']:<22} {e['actor']}  {e['payload']}"
        )


@alerts_app.command("ack")
def alerts_ack(
    alert_id: Annotated[str, typer.Argument(help="Alert id")],
    actor: Annotated[str, typer.Option(help="Who acknowledges (your roster id)")],
    note: Annotated[str | None, typer.Option(help="What you did or will do")] = None,
) -> None:
    """Acknowledge an alert: reminders and escalation stop (确认)."""
    _api().post(f"/api/alerts/{alert_id}/ack", {"actor": actor, "note": note})
    console.print(f"{alert_id} acknowledged by {actor}")


@alerts_app.command("silence")
def alerts_silence(
    alert_id: Annotated[str, typer.Argument(help="Alert id")],
    actor: Annotated[str, typer.Option(help="Who silences")],
    minutes: Annotated[int, typer.Option(help="For how long")] = 60,
    reason: Annotated[str | None, typer.Option(help="Why")] = None,
) -> None:
    """No notifications for this alert for a while (静默)."""
    done = _api().post(
        f"/api/alerts/{alert_id}/silence", {"actor": actor, "minutes": minutes, "reason": reason}
    )
    console.print(f"{alert_id} silenced until {done['silenced_until']}")


@alerts_app.command("unsilence")
def alerts_unsilence(
    alert_id: Annotated[str, typer.Argument(help="Alert id")],
    actor: Annotated[str, typer.Option(help="Who ends the silence")],
) -> None:
    """End a silence now (取消静默)."""
    _api().post(f"/api/alerts/{alert_id}/unsilence", {"actor": actor})
    console.print(f"{alert_id}: silence ended")


silences_app = typer.Typer(help="Silences by matchers (静默): rule, region (and below), level.")
app.add_typer(silences_app, name="silences")


@silences_app.command("add")
def silences_add(
    actor: Annotated[str, typer.Option(help="Who silences")],
    minutes: Annotated[int, typer.Option(help="For how long")],
    rule: Annotated[str | None, typer.Option(help="Only this rule id")] = None,
    region: Annotated[str | None, typer.Option(help="This region and everything under it")] = None,
    level: Annotated[str | None, typer.Option(help="Only this level (I-IV)")] = None,
    reason: Annotated[str | None, typer.Option(help="Why")] = None,
) -> None:
    """Hold back notifications of every alert matching all the given matchers."""
    done = _api().post(
        "/api/silences",
        {
            "actor": actor,
            "minutes": minutes,
            "rule": rule,
            "region": region,
            "level": level,
            "reason": reason,
        },
    )
    console.print(f"silence {done['silence_id']} until {done['ends_at']}")


@silences_app.command("list")
def silences_list(
    include_ended: Annotated[bool, typer.Option("--all", help="Ended ones too")] = False,
) -> None:
    """Silences in force (and planned)."""
    for s in _api().get("/api/silences", include_ended=include_ended):
        matchers = " ".join(f"{k}={s[k]}" for k in ("rule", "region", "level") if s[k])
        sys.stdout.write(
            f"{s['silence_id']}  {matchers}  until {s['ends_at']}  by {s['actor']}"
            f"{'' if s['active'] else '  (not active)'}\n"
        )


@silences_app.command("remove")
def silences_remove(
    silence_id: Annotated[str, typer.Argument(help="Silence id")],
    actor: Annotated[str, typer.Option(help="Who ends it")],
) -> None:
    """End a silence now."""
    _api()._call("DELETE", f"/api/silences/{silence_id}", params={"actor": actor})
    console.print(f"{silence_id} ended")


@rules_app.command("lint")
def rules_lint(
    path: Annotated[
        Path | None, typer.Argument(help="Rules file or folder (default: EAMS_RULES)")
    ] = None,
) -> None:
    """Check rule files; every problem is printed as file:line: message (exit 1 if any)."""
    from alerting.indicator_names import INDICATOR_NAMES
    from alerting.rules import lint_rules
    from events.regions import load_reference

    s = settings()
    target = path or s.rules
    problems = lint_rules(
        target, indicators=INDICATOR_NAMES, reference=load_reference(s.region_hierarchy)
    )
    for problem in problems:
        sys.stdout.write(f"{problem}\n")
    if problems:
        err.print(f"{len(problems)} problem(s) in {target}")
        raise typer.Exit(1)
    console.print(f"{target}: OK")


@rules_app.command("backtest")
def rules_backtest(
    from_: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD")],
    to: Annotated[str, typer.Option(help="Last day, YYYY-MM-DD")],
    rule: Annotated[str | None, typer.Option(help="Only this rule id")] = None,
) -> None:
    """Replay history day by day through the rules of the running worker and print which
    alerts would have fired, changed level or resolved, and when."""
    rows = _api().get(
        "/api/rules/backtest",
        **{k: v for k, v in {"start": from_, "end": to, "rule": rule}.items() if v},
    )
    for r in rows:
        level = r["level"] or r["previous_level"] or ""
        sys.stdout.write(
            f"{r['at'][:10]}  {r['kind']:<14} {level:<4} {r['region']:<7} "
            f"{r['rule']:<36} value={r['value']}\n"
        )
    console.print(f"{len(rows)} transitions")


def main() -> None:
    """Entry point: run the CLI, turning project errors into one clear line."""
    try:
        app()
    except EamsError as exc:
        err.print(f"[bold red]error:[/] {exc}")
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
