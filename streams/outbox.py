"""Former home of the event writer's outbox, kept only for the imports of ``eams/`` (being
moved): import :class:`~streams.writer.EventWriter` and its types from :mod:`streams.writer`."""

from __future__ import annotations

from streams.writer import EventsNotAcknowledgedError, EventWriter, FlushStats, Record

__all__ = ["EventWriter", "EventsNotAcknowledgedError", "FlushStats", "Record"]
