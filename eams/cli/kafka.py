"""``eams kafka start|stop|status``: the local Apache Kafka broker."""

from __future__ import annotations

import typer

from eams.broker import LocalKafka
from eams.cli.common import console, settings

kafka_app = typer.Typer(
    help="The local Apache Kafka broker (4.x, KRaft): one node, or a cluster of --brokers N."
)


@kafka_app.command("start")
def kafka_start(
    brokers: int | None = typer.Option(
        None,
        "--brokers",
        min=1,
        max=9,
        help="Nodes of a local cluster (3: topics with three replicas, a write held by two, "
        "so one node may fail); kept in the state dir, so later starts need not say it. "
        "Node N listens on EAMS_KAFKA_PORT + 2(N-1).",
    ),
) -> None:
    """Fetch the jars and generate the credentials (first time), format storage (first
    time), start with SASL/SCRAM and ACLs, wait until every node is ready. Starting again
    brings back a node that stopped."""
    s = settings()
    if brokers is not None:
        s = s.model_copy(update={"kafka_brokers": brokers})
    broker = LocalKafka(s)
    with console.status("starting Kafka (first start fetches jars from Maven Central)…"):
        status = broker.start()
    console.print(f"Kafka is up at {status.bootstrap} (data {status.data_dir})")
    for node in status.nodes:
        console.print(f"  node {node.node_id}: 127.0.0.1:{node.port} pid {node.pid}")
    console.print(f"SASL/SCRAM-SHA-256 credentials (0600): {broker.credentials_file}")


@kafka_app.command("stop")
def kafka_stop() -> None:
    """Stop the local broker (every node) cleanly."""
    stopped = LocalKafka(settings()).stop()
    console.print("Kafka stopped" if stopped else "Kafka was not running")


@kafka_app.command("status")
def kafka_status() -> None:
    """Is every node of the local broker running and accepting connections? (exit 1 if not)"""
    st = LocalKafka(settings()).status()
    up = [n for n in st.nodes if n.pid is not None and n.accepting]
    state = "running" if len(up) == len(st.nodes) else ("degraded" if up else "not running")
    console.print(f"Kafka {state}: {st.bootstrap} data={st.data_dir}")
    for node in st.nodes:
        alive = "up" if node.pid is not None and node.accepting else "down"
        console.print(f"  node {node.node_id}: 127.0.0.1:{node.port} {alive} pid={node.pid}")
    if len(up) != len(st.nodes):
        raise typer.Exit(1)
