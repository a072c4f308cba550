"""Prometheus metrics of an EAMS process (``EAMS_METRICS_PORT``): ``GET /metrics`` on a
listener of its own, for every role (``eams run``, ``--role commands``, ``--role ingest``).

What is measured where it happens (module-level, one per process):

- ``eams_commands_total{command_type, outcome}``: commands decided
  (:mod:`streams.commands.handler`);
- ``eams_projector_batch_seconds`` and ``eams_projector_batch_events``: each batch the
  projector writes (:mod:`projections.projector`);
- ``eams_notifications_total{channel, outcome}`` and ``eams_alert_notify_seconds`` (from an
  alert firing to its notice delivered) (:mod:`alerting.dispatch.delivery`).

What is read from the running parts when scraped (:class:`HostCollector`): the ingest
stream's counters (accepted, dead-lettered, duplicates, unsigned, by event type), the
projector's (events projected, batches, duplicates dropped, quarantined, store errors) and
its lag per partition of ``<ns>.events``, the command handler's, and the dispatcher's
queue. No metric carries a person, a region or any figure of people: only counts of the
machinery, so the listener needs no sign-in; it listens on loopback unless
``EAMS_METRICS_HOST`` says otherwise (a cluster network, behind its network policy).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import REGISTRY, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from eams.settings import Settings

__all__ = ["METRICS_PORT_FILE", "HostCollector", "MetricsServer", "serve_metrics"]

log = logging.getLogger(__name__)

METRICS_PORT_FILE = "metrics.port"
_INGEST = {
    "accepted": "inputs taken into the event log",
    "rejected": "inputs dead-lettered (invalid; the DLQ holds them)",
    "duplicates": "inputs dropped as resubmissions of an event already in the log",
    "unsigned": "raw records without a valid principal signature (dead-lettered)",
    "masked_values": "IDs and mobile numbers found outside the named fields and masked",
    "rebalances": "raw partitions revoked (before every join of the group)",
}
_PROJECTOR = {
    "rows": ("eams_projector_events", "events projected into ClickHouse"),
    "batches": ("eams_projector_batches", "batches projected"),
    "duplicates": ("eams_projector_duplicates", "events dropped as already projected"),
    "quarantined": ("eams_projector_quarantined", "events parked in quarantine"),
    "store_errors": ("eams_projector_store_errors", "calls that found ClickHouse unreachable"),
    "replayed_batches": ("eams_projector_replayed_batches", "batches replayed after a crash"),
}
_COMMANDS = ("accepted", "rejected", "duplicates", "failures", "batches")


class HostCollector(Collector):
    """The counters the running parts keep, read at each scrape. ``parts`` gives what is
    running now: ``projector`` (its stats), ``ingest`` (a dict of counters), ``commands``
    (the handler's stats), ``dispatcher`` (its status); any may be absent."""

    def __init__(self, parts: Callable[[], dict[str, Any]]) -> None:
        self.parts = parts

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        parts = self.parts()
        ingest = parts.get("ingest")
        if ingest:
            family = CounterMetricFamily(
                "eams_ingest_inputs", "Inputs the ingest stream handled, by outcome",
                labels=["outcome"],
            )  # fmt: skip
            for key in _INGEST:
                family.add_metric([key], float(ingest.get(key, 0)))
            yield family
            by_type = CounterMetricFamily(
                "eams_ingest_events", "Events taken into the log, by type", labels=["event_type"]
            )
            for event_type, n in sorted((ingest.get("by_type") or {}).items()):
                by_type.add_metric([event_type], float(n))
            yield by_type
        projector = parts.get("projector")
        if projector is not None:
            for attr, (name, text) in _PROJECTOR.items():
                family = CounterMetricFamily(name, text)
                family.add_metric([], float(getattr(projector, attr)))
                yield family
            lag = GaugeMetricFamily(
                "eams_projector_lag", "Events in the log not yet projected, by partition",
                labels=["partition"],
            )  # fmt: skip
            for partition, high in sorted(projector.highwater.items()):
                behind = max(0, high - projector.positions.get(partition, 0))
                lag.add_metric([str(partition)], float(behind))
            yield lag
        commands = parts.get("commands")
        if commands is not None:
            family = CounterMetricFamily(
                "eams_command_handler", "What the command handler did, by kind",
                labels=["kind"],
            )  # fmt: skip
            for key in _COMMANDS:
                family.add_metric([key], float(getattr(commands, key)))
            yield family
            owned = GaugeMetricFamily(
                "eams_command_partitions", "Partitions of the commands topic held"
            )
            owned.add_metric([], float(len(commands.partitions)))
            yield owned
        dispatcher = parts.get("dispatcher")
        if dispatcher:
            queue = GaugeMetricFamily(
                "eams_dispatcher_notices", "Notices waiting, by state", labels=["state"]
            )
            for key in ("queued", "delivering", "backlog"):
                queue.add_metric([key], float(dispatcher.get(key, 0)))
            yield queue


class MetricsServer:
    """The ``/metrics`` listener of one process (stopped with :meth:`close`)."""

    def __init__(self, server: WSGIServer, thread: threading.Thread, collector: Collector,
                 port_file: Any) -> None:  # fmt: skip
        self.server = server
        self.thread = thread
        self.collector = collector
        self.port_file = port_file
        self.port = int(server.server_port)

    def close(self) -> None:
        """Stop listening and forget the collector (a process may start another)."""
        self.server.shutdown()
        self.server.server_close()
        REGISTRY.unregister(self.collector)
        if self.port_file is not None:
            self.port_file.unlink(missing_ok=True)


def serve_metrics(settings: Settings, parts: Callable[[], dict[str, Any]]) -> MetricsServer | None:
    """Start ``/metrics`` when ``EAMS_METRICS_PORT`` is set (0: any free port, written to
    ``<state dir>/metrics.port``); None otherwise."""
    if settings.metrics_port is None:
        return None
    collector = HostCollector(parts)
    REGISTRY.register(collector)
    try:
        server, thread = start_http_server(settings.metrics_port, settings.metrics_host)
    except OSError as exc:
        REGISTRY.unregister(collector)
        raise SystemExit(
            f"/metrics could not listen on {settings.metrics_host}:{settings.metrics_port} "
            f"({exc.strerror}); set EAMS_METRICS_PORT to a free port, or 0 for any"
        ) from exc
    port_file = None
    if settings.metrics_port == 0:
        port_file = settings.state_dir / METRICS_PORT_FILE
        port_file.write_text(str(server.server_port))
    log.info("metrics at http://%s:%s/metrics", settings.metrics_host, server.server_port)
    return MetricsServer(server, thread, collector, port_file)
