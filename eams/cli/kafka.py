"""``eams kafka start|stop|status``: the local Apache Kafka broker."""

from __future__ import annotations

import typer

from eams.broker import LocalKafka
from eams.cli.common import console, settings

kafka_app = typer.Typer(help="The local Apache Kafka broker (4.x, KRaft, one node).")


@kafka_app.command("start")
def kafka_start() -> None:
    """Fetch the jars and generate the credentials (first time), format storage (first
    time), start with SASL/SCRAM and ACLs, wait until ready."""
    s = settings()
    broker = LocalKafka(s)
    with console.status("starting Kafka (first start fetches jars from Maven Central)…"):
        status = broker.start()
    console.print(f"Kafka is up at {status.bootstrap} (pid {status.pid}, data {status.data_dir})")
    console.print(f"SASL/SCRAM-SHA-256 credentials (0600): {broker.credentials_file}")


@kafka_app.command("stop")
def kafka_stop() -> None:
    """Stop the local broker cleanly."""
    stopped = LocalKafka(settings()).stop()
    console.print("Kafka stopped" if stopped else "Kafka was not running")


@kafka_app.command("status")
def kafka_status() -> None:
    """Is the local broker running and accepting connections?"""
    st = LocalKafka(settings()).status()
    state = "running" if st.running and st.accepting else "not running"
    console.print(f"Kafka {state}: {st.bootstrap} pid={st.pid} data={st.data_dir}")
    if not (st.running and st.accepting):
        raise typer.Exit(1)
