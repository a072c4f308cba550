"""Process-wide tuning shared by ``eams run`` and its ingest child process."""

from __future__ import annotations

import gc


def tune_gc() -> None:
    """Fewer, cheaper garbage collections for a process that allocates per event.

    The dedupe windows hold millions of entries; every full collection walks them. Batches
    allocate tens of thousands of short-lived objects, which the young generation handles.
    """
    gc.freeze()  # everything imported so far is permanent: never scan it again
    gc.set_threshold(50_000, 20, 100)
