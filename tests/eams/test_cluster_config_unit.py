"""The local cluster's configuration (no broker started): each node's ports, quorum and
replication; the bootstrap of every node; the replicas and in-sync count of a topic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eams.broker import LocalKafka
from eams.settings import Settings
from streams.errors import TopicConfigError
from streams.topics import replication

CREDS = {role: {"username": f"u-{role}", "password": f"p-{role}"}
         for role in ("admin", "raw", "stream", "controller")}  # fmt: skip


def _props(text: str) -> dict[str, str]:
    return dict(
        line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#")
    )


def test_three_nodes_on_consecutive_ports_form_one_quorum(tmp_path: Path) -> None:
    s = Settings(state_dir=tmp_path, kafka_port=20000, kafka_controller_port=20001,
                 kafka_brokers=3)  # fmt: skip
    assert s.bootstrap == "127.0.0.1:20000,127.0.0.1:20002,127.0.0.1:20004"
    broker = LocalKafka(s)
    assert [(n.node_id, n.port, n.controller_port) for n in broker.nodes] == [
        (1, 20000, 20001), (2, 20002, 20003), (3, 20004, 20005)]  # fmt: skip
    assert broker.nodes[0].home == tmp_path.resolve() / "kafka"  # a single broker's paths
    assert broker.nodes[2].data_dir == tmp_path.resolve() / "kafka" / "node-3" / "data"
    third = _props(broker._render("server.properties", CREDS, broker.nodes[2]))
    assert third["node.id"] == "3"
    assert third["controller.quorum.voters"] == (
        "1@127.0.0.1:20001,2@127.0.0.1:20003,3@127.0.0.1:20005"
    )
    assert third["listeners"] == "CLIENT://127.0.0.1:20004,CONTROLLER://127.0.0.1:20005"
    for key in ("default.replication.factor", "offsets.topic.replication.factor",
                "transaction.state.log.replication.factor"):  # fmt: skip
        assert third[key] == "3", key
    assert third["min.insync.replicas"] == third["transaction.state.log.min.isr"] == "2"
    assert "${" not in broker._render("server.properties", CREDS, broker.nodes[2])


def test_one_node_is_configured_as_before(tmp_path: Path) -> None:
    broker = LocalKafka(Settings(state_dir=tmp_path, kafka_port=20000, kafka_controller_port=20001))
    one = _props(broker._render("server.properties", CREDS))
    assert (one["node.id"], one["controller.quorum.voters"]) == ("1", "1@127.0.0.1:20001")
    assert one["default.replication.factor"] == one["min.insync.replicas"] == "1"
    assert broker.settings.bootstrap == "127.0.0.1:20000"


def test_the_formatted_cluster_is_remembered(tmp_path: Path) -> None:
    """``eams kafka start --brokers 3`` once: later processes find every node."""
    s = Settings(state_dir=tmp_path, kafka_port=20000, kafka_controller_port=20001)
    (tmp_path / "kafka").mkdir()
    (tmp_path / "kafka" / "cluster.json").write_text(json.dumps({"brokers": 3}))
    assert s.local_brokers == 3 and len(s.bootstrap.split(",")) == 3


@pytest.mark.parametrize(
    ("brokers", "given", "want"),
    [(1, (None, None), (1, 1)), (2, (None, None), (2, 1)), (3, (None, None), (3, 2)),
     (5, (None, None), (3, 2)), (5, (5, None), (5, 2)), (3, (3, 3), (3, 3))],
)  # fmt: skip
def test_replicas_and_in_sync(
    brokers: int, given: tuple[int | None, int | None], want: tuple[int, int]
) -> None:
    assert replication(brokers, *given) == want


def test_replicas_the_cluster_cannot_hold_are_refused() -> None:
    with pytest.raises(TopicConfigError, match="3 replicas asked .* the cluster has 1"):
        replication(1, 3)
    with pytest.raises(TopicConfigError, match="no write could ever be acknowledged"):
        replication(3, 3, 4)
