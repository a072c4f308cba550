"""The ingest stream as a process: a child of ``eams run``, or one of its own.

The ingest stream never touches ClickHouse, so it can run beside the process that owns
the embedded engine and use the machine's other core: validation and pseudonymisation
were half of the worker's CPU in a profile (see README, Benchmarks). Every ingest process
is a member of the consumer group ``<ns>.ingest`` (:mod:`streams.ingest`), so more of them
share the raw partitions, and the others take over those of one that stops or dies:

- :func:`run_ingest` runs one stream in the calling process until its stop event is set;
  ``python -m eams.ingest_process`` runs one on its own (settings from ``EAMS_*``, stopped
  by SIGTERM or SIGINT), beside an ``eams run`` that created the topics and keys.
- :class:`IngestProcess` is the child of ``eams run``. It is started with ``spawn`` (never
  ``fork`` a process that holds chDB threads) and dies with its parent
  (``PR_SET_PDEATHSIG``): a SIGKILL of ``eams run`` leaves no orphan still consuming; the
  group gives its partitions to the next member, which re-reads what was not committed.
  It ignores SIGINT (Ctrl-C reaches the whole process group); the parent stops it through
  an event, and it finishes and commits its batch first. Its counters reach the parent as
  a JSON snapshot in shared memory, twice a second.
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import multiprocessing as mp
import signal
from collections.abc import Callable
from dataclasses import asdict
from multiprocessing.sharedctypes import SynchronizedString
from multiprocessing.synchronize import Event as MpEvent
from typing import TYPE_CHECKING, Any, cast

from eams.logs import configure
from eams.metrics import serve_metrics
from eams.settings import Settings
from events.errors import ConfigError

if TYPE_CHECKING:
    from streams.dlq import DeadLetterKey
    from streams.ingest import IngestStream

_PR_SET_PDEATHSIG = 1


def build_stream(settings: Settings) -> IngestStream:
    """The ingest stream of ``settings``' namespace, with the keys every ingest process of
    it shares with ``eams run`` (:func:`shared_keys`)."""
    from events.regions import load_reference
    from streams.ingest import IngestStream

    dlq_key = shared_keys(settings)
    return IngestStream(
        kafka=settings.kafka("stream"),
        topic_names=settings.topics,
        reference=load_reference(settings.region_hierarchy),
        secret=settings.secret(),
        signing_key=settings.ingest_key(),  # the same Settings as the API: the same key
        dlq_key=dlq_key,
        window=settings.dedupe_window,
        max_future_skew=settings.max_future_skew,
    )


def shared_keys(settings: Settings) -> DeadLetterKey:
    """Check that the keys an ingest process shares with ``eams run`` are in place (set, or
    their files in the state dir, which ``eams run`` creates before its child starts); the
    DLQ key. An ingest process never makes one of its own: its own pseudonym key would give
    every person a second pseudonym, its own signing key would dead-letter every input, and
    dead letters sealed with its own DLQ key could not be opened by ``eams run``."""
    missing = []
    if settings.pseudonym_key_missing:
        missing.append(
            f"the pseudonym key (EAMS_PSEUDONYM_SECRET or {settings.pseudonym_key_path})"
        )
    if settings.ingest_secret is None and not (settings.state_dir / "ingest.key").exists():
        missing.append(
            f"the ingest signing key (EAMS_INGEST_SECRET or {settings.state_dir}/ingest.key)"
        )
    dlq_key = settings.existing_dead_letter_key()
    if dlq_key is None:
        missing.append(f"the DLQ key (EAMS_DLQ_KEY or {settings.state_dir}/dlq.key)")
    if missing:
        raise ConfigError(
            f"this ingest process has no {', no '.join(missing)}: it must use the keys of the "
            "`eams run` it works beside. Start `eams run` first and give this process its "
            "state dir, or set the same EAMS_PSEUDONYM_SECRET, EAMS_INGEST_SECRET and EAMS_DLQ_KEY"
        )
    assert dlq_key is not None
    return dlq_key


async def run_ingest(
    settings: Settings,
    stop: asyncio.Event,
    report: Callable[[IngestStream], None] | None = None,
) -> None:
    """Run one ingest stream until ``stop`` is set: it finishes and commits its batch, then
    leaves the group. ``report`` is called with the stream twice a second and once at the
    end (its ``stats`` and ``ready``). Raises why the stream died, if it did."""
    stream = build_stream(settings)
    task = asyncio.create_task(stream.run(stop), name="ingest")
    try:
        while not task.done():
            if report is not None:
                report(stream)
            await asyncio.wait({task}, timeout=0.5)
    finally:
        if not task.done():  # we were cancelled: the stream stops as on a stop event
            stop.set()
            await asyncio.wait({task}, timeout=60)
    await task  # re-raises why the stream died
    if report is not None:
        report(stream)


def main() -> None:
    """``python -m eams.ingest_process``: one ingest process of its own, until SIGTERM/SIGINT."""
    from eams.process import tune_gc

    settings = Settings()
    configure(role="ingest", level=settings.log_level, fmt=settings.log_format)
    tune_gc()

    latest: dict[str, Any] = {}

    def report(stream: IngestStream) -> None:
        latest["ingest"] = asdict(stream.stats)

    async def go() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run_ingest(settings, stop, report)

    metrics = serve_metrics(settings, lambda: dict(latest))
    try:
        asyncio.run(go())
    finally:
        if metrics is not None:
            metrics.close()


def _die_with_parent() -> None:
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:  # not Linux: the parent's stop event is the only way out
        pass


def _child(
    settings: dict[str, Any], shared: SynchronizedString, ready: MpEvent, stop: MpEvent
) -> None:
    from eams.process import tune_gc

    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    tune_gc()
    own = Settings(**settings)
    configure(role="ingest", level=own.log_level, fmt=own.log_format)  # spawned: none yet
    asyncio.run(_run(own, shared, ready, stop))


async def _run(
    settings: Settings, shared: SynchronizedString, ready: MpEvent, stop: MpEvent
) -> None:
    halt = asyncio.Event()

    def report(stream: IngestStream) -> None:
        if stream.ready.is_set():
            ready.set()
        snapshot = json.dumps(asdict(stream.stats)).encode()
        with shared.get_lock():
            shared.value = snapshot[: len(shared) - 1]

    async def watch_parent() -> None:
        while not stop.is_set():
            await asyncio.sleep(0.2)
        halt.set()

    watch = asyncio.create_task(watch_parent(), name="watch-parent")
    try:
        await run_ingest(settings, halt, report)  # re-raises why the stream died
    finally:
        watch.cancel()


class IngestProcess:
    """Starts, watches and stops the ingest child process."""

    def __init__(self, settings: Settings) -> None:
        ctx = mp.get_context("spawn")
        self._shared = cast(SynchronizedString, ctx.Array("c", 1 << 16))
        self._ready = ctx.Event()
        self._stop = ctx.Event()
        self._proc = ctx.Process(
            target=_child,
            args=(settings.model_dump(), self._shared, self._ready, self._stop),
            name="eams-ingest",
            daemon=False,
        )

    def start(self) -> None:
        """Start the child."""
        self._proc.start()

    @property
    def ready(self) -> bool:
        """True once the stream restored its dedupe state and owns its partitions."""
        return self._ready.is_set()

    @property
    def alive(self) -> bool:
        """True while the child runs."""
        return self._proc.is_alive()

    @property
    def exitcode(self) -> int | None:
        """The child's exit code once it ended."""
        return self._proc.exitcode

    def stats(self) -> dict[str, Any]:
        """The latest counters the child published."""
        with self._shared.get_lock():
            raw = self._shared.value
        return dict(json.loads(raw)) if raw else {}

    async def stop(self, timeout: float = 60.0) -> None:
        """Ask the child to finish its batch and commit, then wait for it."""
        self._stop.set()
        await asyncio.to_thread(self._proc.join, timeout)
        if self._proc.is_alive():
            self._proc.kill()
            await asyncio.to_thread(self._proc.join, 10)


if __name__ == "__main__":
    main()
