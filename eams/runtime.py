"""``eams run``: the worker, every role in one process (``--role all``) or one role of it.

Start order (:func:`serve`):

1. create the topics, or give existing ones their retention (the CLI has started the
   local broker if none is configured); check the keys of personal data at rest
   (:mod:`eams.keys`: a missing pseudonym key with a non-empty log stops here);
2. build the host's parts (:func:`eams.host.build_host`), open ClickHouse (embedded chDB
   by default) and apply the schema migrations;
3. start the projector, the command handler (it joins the consumer group of
   ``<ns>.commands`` and folds its partitions' aggregates from the log; see
   :mod:`streams.commands`) with the bus the routes send commands with, the evaluator,
   dispatcher and playbook runtime, the HTTP API
   (:func:`eams.http.app.create_api`), then the ingest stream in its own process
   (:mod:`eams.ingest_process`; it restores its dedupe state);
4. on SIGINT/SIGTERM: stop the API, let the alerting parts finish their deliveries, let the
   command handler commit its batch and leave its group, let the
   ingest process finish and commit its batch, let the projector write its batch, then
   close the store.

``--role commands`` (:func:`serve_commands`) runs step 1 and one command handler only;
``--role ingest`` one ingest stream only (:func:`eams.ingest_process.run_ingest`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Iterator
from typing import Any

import uvicorn

from eams.broker import ensure_namespace
from eams.host import Host, build_host, new_command_handler
from eams.http.app import create_api
from eams.keys import check_pseudonym_key, open_dead_letters
from eams.metrics import serve_metrics
from eams.process import tune_gc
from eams.settings import Settings
from events.regions import load_reference
from playbooks.lint import load_library
from projections.client import run
from projections.migrations import migrate

__all__ = ["API_PORT_FILE", "ROLES", "serve", "serve_commands", "tune_gc"]

#: What ``eams run --role`` starts: ``all`` (one process: ingest stream, command handler,
#: projector with the alerting and playbook runtimes, HTTP API); ``ingest`` (one more ingest
#: stream in the group ``<ns>.ingest``); ``commands`` (one more command handler in the group
#: ``<ns>.commands``; it needs no ClickHouse).
ROLES = ("all", "ingest", "commands")

log = logging.getLogger("eams")


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the host owns SIGINT/SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


#: Where ``eams run`` writes the port its API listens on (``EAMS_HTTP_PORT=0``: any free one).
API_PORT_FILE = "api.port"


def _record_api_port(settings: Settings, server: uvicorn.Server) -> str:
    """Write the API's bound port to ``<state dir>/api.port`` (the CLI and the tests find a
    worker started with ``EAMS_HTTP_PORT=0`` there); returns the API's URL."""
    port = int(server.servers[0].sockets[0].getsockname()[1])
    path = settings.state_dir / API_PORT_FILE
    tmp = path.with_name(f".{API_PORT_FILE}.tmp")
    tmp.write_text(f"{port}\n")
    tmp.replace(path)  # readers never see a half-written file
    return f"http://{settings.http_host}:{port}"


async def _watch_ingest(host: Host, stop: asyncio.Event) -> None:
    """A dead ingest child must not leave a live-looking worker: stop everything."""
    while host.ingest.alive:
        await asyncio.sleep(0.5)
    log.error("the ingest process ended (exit code %s); stopping", host.ingest.exitcode)
    stop.set()


def _stop_on_signals() -> asyncio.Event:
    """An event SIGINT and SIGTERM set: the process stops in its own order."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, dump_tasks)
    return stop


def dump_tasks() -> None:
    """``kill -USR1 <pid>``: every task of the worker's loop and where it waits, to the
    log (a request that never answers, a consumer that stopped reading …)."""
    tasks = asyncio.all_tasks()
    lines = [f"{len(tasks)} tasks (SIGUSR1):"]
    for task in sorted(tasks, key=lambda t: t.get_name()):
        coro: Any = task.get_coro()
        lines.append(f"--- {task.get_name()}: {coro!r}")
        for _ in range(30):  # down the chain of awaits to where it waits
            frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
            if frame is None:
                lines.append(f"    awaiting {coro!r}")
                break
            lines.append(f"    {frame.f_code.co_filename}:{frame.f_lineno} {frame.f_code.co_name}")
            coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
            if coro is None:
                break
    log.warning("\n".join(lines))


async def serve(settings: Settings, on_ready: Callable[[Host], Any] | None = None) -> None:
    """Run everything until SIGINT/SIGTERM (see the module docstring for the order)."""
    tune_gc()
    settings.ensure_state_dir()
    await ensure_namespace(settings)
    await check_pseudonym_key(settings)  # before build_host: settings.secret() would make one
    dlq_key = await open_dead_letters(settings)
    host = build_host(settings, dlq_key)
    await run(migrate, host.store)
    stop = _stop_on_signals()
    await host.producer.__aenter__()
    host.start_projector()
    await host.start_commands()
    metrics = serve_metrics(settings, lambda: _parts(host))
    # Configuration errors (rules, roster) and a taken port must stop us before the ingest
    # child is spawned: a child orphaned mid-spawn prints a traceback nobody can act on.
    alerting = await host.start_alerting()

    config = uvicorn.Config(
        create_api(host),
        host=settings.http_host,
        port=settings.http_port,
        log_level="warning",
        log_config=None,  # its records go through the process's handler (eams.logs)
        lifespan="off",
        access_log=False,
        timeout_graceful_shutdown=5,  # open live streams must not hold a stop up
    )
    server = _Server(config)
    server_task = asyncio.create_task(server.serve(), name="api")
    while not server.started:
        if server_task.done():
            await server_task  # re-raises why it could not start (port taken, …)
            raise SystemExit(f"the API could not listen on {settings.api_url}")
        await asyncio.sleep(0.05)
    host.api_url = _record_api_port(settings, server)
    host.ingest.start()
    watch = asyncio.create_task(_watch_ingest(host, stop), name="watch-ingest")
    if on_ready is not None:
        on_ready(host)
    try:
        await stop.wait()
    finally:
        host.stopping.set()  # live streams end
        server.should_exit = True
        await server_task
        (settings.state_dir / API_PORT_FILE).unlink(missing_ok=True)
        watch.cancel()
        await host.stop_alerting(alerting)
        await host.stop_commands()
        await host.ingest.stop()
        await host.stop_projector()
        await host.producer.__aexit__(None, None, None)
        host.store.close()
        if metrics is not None:
            metrics.close()


async def serve_commands(
    settings: Settings, on_ready: Callable[[list[int]], Any] | None = None
) -> None:
    """``eams run --role commands``: one more command handler beside ``eams run``, until
    SIGINT/SIGTERM. It joins the consumer group ``<ns>.commands`` (the partitions are shared
    out again), folds the aggregates of the partitions it is given from the event log and
    decides their commands; ``on_ready`` gets its first partitions. Stopping commits its
    batch and leaves the group, so its partitions move at once."""
    tune_gc()
    settings.ensure_state_dir()
    await ensure_namespace(settings)
    reference = load_reference(settings.region_hierarchy)
    primary = load_reference(settings.region_hierarchy.split(",")[0])
    library = load_library(settings.playbooks, reference=primary)
    handler = new_command_handler(settings, reference, primary, library)
    stop = _stop_on_signals()
    metrics = serve_metrics(settings, lambda: {"commands": handler.stats})
    try:
        task = await handler.start(stop)
        if on_ready is not None and not task.done():
            on_ready(handler.stats.partitions)
        await task  # re-raises why the handler stopped, if it failed
    finally:
        if metrics is not None:
            metrics.close()


def _parts(host: Host) -> dict[str, Any]:
    """What ``/metrics`` reads of ``eams run`` at a scrape (from its own thread: copies)."""
    dispatcher = host.dispatcher
    return {
        "ingest": host.ingest.stats(),
        "projector": host.projector.stats,
        "commands": host.command_handler.stats,
        "dispatcher": dispatcher.status() if dispatcher is not None else None,
    }
