"""Exceptions of the stream loops (command handling).

All derive from the project root ``events.errors.EamsError``::

    EamsError
    └── StreamsError              a stream loop could not do what was asked
        ├── CommandTimeoutError   no command handler answered within the timeout
        └── CommandLayoutError    <ns>.commands and <ns>.events are partitioned differently

Messages say what was wrong and what to do.
"""

from __future__ import annotations

from events.errors import EamsError

__all__ = ["CommandLayoutError", "CommandTimeoutError", "StreamsError"]


class StreamsError(EamsError):
    """Root of the exceptions raised by the stream loops."""


class CommandTimeoutError(StreamsError):
    """No command handler answered in time. The command may still be decided later: sending
    it again with the same command id is harmless (it is decided at most once)."""


class CommandLayoutError(StreamsError):
    """The command topic cannot be handled: its partitions do not match the event log's, so
    a handler could not fold an aggregate's events from the partition of its commands."""
