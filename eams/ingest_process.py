"""The ingest stream in a child process of ``eams run``.

The ingest stream never touches ClickHouse, so it can run beside the process that owns
the embedded engine and use the machine's other core: validation and pseudonymisation
were half of the worker's CPU in a profile (see README, Benchmarks).

- The child is started with ``spawn`` (never ``fork`` a process that holds chDB threads).
- It dies with its parent (``PR_SET_PDEATHSIG``): a SIGKILL of ``eams run`` leaves no
  orphan still consuming; the next run re-reads what was not committed.
- It ignores SIGINT (Ctrl-C reaches the whole process group); the parent stops it through
  an event, and it finishes and commits its batch first.
- Its counters reach the parent as a JSON snapshot in shared memory, twice a second.
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import multiprocessing as mp
import signal
from dataclasses import asdict
from multiprocessing.sharedctypes import SynchronizedString
from multiprocessing.synchronize import Event as MpEvent
from typing import Any, cast

from eams.settings import Settings

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:  # not Linux: the parent's stop event is the only way out
        pass


def _child(
    settings: dict[str, Any], shared: SynchronizedString, ready: MpEvent, stop: MpEvent
) -> None:
    from eams.runtime import tune_gc

    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    tune_gc()
    asyncio.run(_run(Settings(**settings), shared, ready, stop))


async def _run(
    settings: Settings, shared: SynchronizedString, ready: MpEvent, stop: MpEvent
) -> None:
    from events.regions import load_reference
    from streams.ingest import IngestStream

    stream = IngestStream(
        kafka=settings.kafka("stream"),
        topic_names=settings.topics,
        reference=load_reference(settings.region_hierarchy),
        secret=settings.secret(),
        signing_key=settings.ingest_key(),  # the same Settings as the API: the same key
        dlq_key=settings.dead_letter_key(),  # the worker created it before spawning us
        window=settings.dedupe_window,
        max_future_skew=settings.max_future_skew,
    )
    halt = asyncio.Event()
    task = asyncio.create_task(stream.run(halt))

    def publish() -> None:
        snapshot = json.dumps(asdict(stream.stats)).encode()
        with shared.get_lock():
            shared.value = snapshot[: len(shared) - 1]

    while not task.done():
        if stream.ready.is_set():
            ready.set()
        publish()
        if stop.is_set():
            halt.set()
            break
        await asyncio.sleep(0.5)
    await task  # re-raises why the stream died, which ends the child with an error
    publish()


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
