"""The ``eams`` Typer app: every command group in one place, in the order ``--help`` lists
them, and the entry point that turns project errors into one line."""

from __future__ import annotations

import sys

import typer

from eams.cli import (
    alerts,
    catalogue,
    dlq,
    grafana,
    imports,
    kafka,
    persons,
    playbooks,
    quarantine,
    rules,
    schema,
    subsidies,
    tools,
    users,
    worker,
)
from eams.cli.common import err
from events.errors import EamsError

HELP = """EAMS — employment-assistance monitoring (就业援助监测).

Events (registrations, layoff reports, disaster-area flags, services …) enter through the
HTTP API or `eams import`, flow through Kafka (eams.ingest.raw -> eams.events) and are
projected into ClickHouse, where per-region facts are kept current.

\b
Start here:
  eams demo                 everything at once: broker, worker, a flood scenario, live table
  eams run                  the worker + API (starts the local Kafka unless EAMS_KAFKA_BOOTSTRAP)
  eams import FILE          CSV, Excel or NDJSON through a mapping (--check: look first)
  eams mapping suggest FILE a starting mapping from a file's headers
  eams simulate --count N   the seeded Shandong scenario generator
  eams status               what the running worker has done
  eams dlq list             rejected inputs with the field and reason; `eams dlq replay`
  eams persons explain ID   why a person was recognised, replayed from the log
  eams subsidies policies   a city's subsidies, loans and allowances of the year
  eams fraud lint           check the fraud rules (风险内控)
  eams evaluation lint      check the performance evaluation's indicator table (绩效评价)
  eams kafka start|stop|status, eams rebuild, eams events schema
  eams schema render        the ClickHouse schema as SQL (--cluster NAME: for a cluster)
"""

app = typer.Typer(
    help=HELP,
    no_args_is_help=True,
    rich_markup_mode=None,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("run")(worker.run_cmd)
app.command("import")(imports.import_cmd)
app.command("simulate")(tools.simulate_cmd)
app.command("demo")(tools.demo_cmd)
app.command("status")(worker.status_cmd)
app.command("rebuild")(worker.rebuild_cmd)
app.add_typer(kafka.kafka_app, name="kafka")
app.add_typer(catalogue.events_app, name="events")
app.add_typer(dlq.dlq_app, name="dlq")
app.add_typer(catalogue.regions_app, name="regions")
app.add_typer(alerts.alerts_app, name="alerts")
app.add_typer(playbooks.playbooks_app, name="playbooks")
app.add_typer(grafana.grafana_app, name="grafana")
app.add_typer(users.users_app, name="users")
app.add_typer(users.apikeys_app, name="apikeys")
app.add_typer(rules.rules_app, name="rules")
app.add_typer(imports.mapping_app, name="mapping")
app.add_typer(quarantine.quarantine_app, name="quarantine")
app.add_typer(alerts.silences_app, name="silences")
app.add_typer(persons.persons_app, name="persons")
app.add_typer(subsidies.subsidies_app, name="subsidies")
app.add_typer(subsidies.fraud_app, name="fraud")
app.add_typer(subsidies.evaluation_app, name="evaluation")
app.add_typer(schema.schema_app, name="schema")


def main() -> None:
    """Entry point: run the CLI, turning project errors into one clear line."""
    try:
        app()
    except EamsError as exc:
        err.print(f"[bold red]error:[/] {exc}")
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
