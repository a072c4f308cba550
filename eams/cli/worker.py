"""``eams run``, ``eams status`` and ``eams rebuild``: the worker itself, what it has done,
and replaying its projections."""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import TYPE_CHECKING

import orjson

from eams.broker import ensure_broker
from eams.cli.common import api, console, settings
from eams.settings import Settings
from eams.tools.demo import rebuild

if TYPE_CHECKING:  # the worker's modules load only for `eams run` (see run_cmd)
    from eams.host import Host


def run_cmd() -> None:
    """Run the worker: ingest stream, projector and HTTP API, until Ctrl-C."""
    # Imported here: the worker (FastAPI, uvicorn, the alerting and playbook runtimes) takes
    # about a second to import, which no other command should wait for.
    from eams.runtime import serve

    s = settings()
    ensure_broker(s)
    _logging(s)

    def ready(host: Host) -> None:
        console.print(
            f"EAMS running: API {host.api_url}/docs · Kafka {s.bootstrap} · "
            f"ClickHouse {s.clickhouse_dsn}  (Ctrl-C stops)"
        )

    asyncio.run(serve(s, on_ready=ready))


def _logging(s: Settings) -> None:
    level = {"crit": "CRITICAL", "warn": "WARNING"}.get(s.log_level, s.log_level.upper())
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("aiokafka", "kafka"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))


def status_cmd() -> None:
    """What the running worker has done: accepted, rejected, duplicates, projector lag."""
    st = api().status()
    sys.stdout.write(orjson.dumps(st, option=orjson.OPT_INDENT_2).decode() + "\n")
    for name, part in (st.get("alerting") or {}).items():  # held events: say so on stderr
        if part.get("pending_events"):
            sys.stderr.write(
                f"warning: {name}: {part['pending_events']} events wait for the broker "
                f"({part.get('last_flush_error') or 'in flight'}); they are sent again, "
                f"next in {part.get('retry_in') or 0:g} s\n"
            )


def rebuild_cmd() -> None:
    """Drop every projection and replay eams.events from offset 0, with a progress bar.

    If `eams run` is running, it rebuilds in place (other commands may not open the
    embedded engine while it runs); otherwise this command does it itself."""
    rebuild(settings())
