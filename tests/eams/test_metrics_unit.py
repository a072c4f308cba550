"""The collector of a process's counters (no worker): what each part keeps, as Prometheus
families; a part not running is left out; the listener is started only when asked."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from eams.metrics import METRICS_PORT_FILE, HostCollector, serve_metrics
from eams.settings import Settings
from projections.projector import ProjectorStats
from streams.commands.handler import HandlerStats


def _samples(collector: HostCollector) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    registry = CollectorRegistry()
    registry.register(collector)
    text = generate_latest(registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_each_part_as_families() -> None:
    projector = ProjectorStats(
        rows=120, batches=4, duplicates=2, quarantined=1,
        positions={0: 50, 1: 70}, highwater={0: 50, 1: 75, 2: 3},
    )  # fmt: skip
    commands = HandlerStats(partitions=[0, 2], accepted=9, rejected=2)
    ingest = {"accepted": 130, "rejected": 5, "duplicates": 7, "by_type": {"layoff.reported": 4}}
    parts = {"projector": projector, "commands": commands, "ingest": ingest,
             "dispatcher": {"queued": 3}}  # fmt: skip
    got = _samples(HostCollector(lambda: parts))
    assert got[("eams_projector_events_total", ())] == 120
    assert got[("eams_projector_quarantined_total", ())] == 1
    assert {k[1]: v for k, v in got.items() if k[0] == "eams_projector_lag"} == {
        (("partition", "0"),): 0, (("partition", "1"),): 5, (("partition", "2"),): 3}  # fmt: skip
    assert got[("eams_ingest_inputs_total", (("outcome", "rejected"),))] == 5
    assert got[("eams_ingest_inputs_total", (("outcome", "unsigned"),))] == 0
    assert got[("eams_ingest_events_total", (("event_type", "layoff.reported"),))] == 4
    assert got[("eams_command_handler_total", (("kind", "accepted"),))] == 9
    assert got[("eams_command_partitions", ())] == 2
    assert got[("eams_dispatcher_notices", (("state", "queued"),))] == 3


def test_a_part_not_running_is_left_out() -> None:
    got = _samples(HostCollector(lambda: {"commands": HandlerStats()}))
    assert {name for name, _ in got} == {"eams_command_handler_total", "eams_command_partitions"}


def test_the_listener_starts_only_when_asked(tmp_path: Path) -> None:
    assert serve_metrics(Settings(state_dir=tmp_path), dict) is None
    server = serve_metrics(Settings(state_dir=tmp_path, metrics_port=0), dict)
    assert server is not None
    try:
        assert int((tmp_path / METRICS_PORT_FILE).read_text()) == server.port > 0
    finally:
        server.close()
    assert not (tmp_path / METRICS_PORT_FILE).exists()
