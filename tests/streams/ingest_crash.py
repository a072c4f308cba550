"""An ingest process (``python -m eams.ingest_process``) that dies between steps 4 and 5 of
its Nth batch (``argv[1]``): the batch's outputs are flushed, its offsets not committed.

Used by test_ingest_failover_integration.py to make that moment certain, which a SIGKILL
from outside hits only by chance. It exits with ``os._exit(70)``: no commit, no leaving
the group, as after a SIGKILL.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from eams.ingest_process import main
from streams.ingest import IngestStream

CRASH_AT = int(sys.argv[1])
_commit = IngestStream._commit  # noqa: SLF001
_batches = 0


async def _dying_commit(self: IngestStream, consumer: Any, fetched: Any) -> None:
    global _batches
    _batches += 1
    if _batches >= CRASH_AT:
        os._exit(70)
    await _commit(self, consumer, fetched)


IngestStream._commit = _dying_commit  # type: ignore[method-assign]  # noqa: SLF001

if __name__ == "__main__":
    main()
