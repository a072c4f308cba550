"""Errors of the projection layer; driver errors are translated here, at the edge.

EamsError (events.errors)
 └── ProjectionError       ClickHouse (embedded or server) failed or refused a statement
      └── MigrationError   a schema migration could not be applied
"""

from __future__ import annotations

from events.errors import EamsError


class ProjectionError(EamsError):
    """ClickHouse failed or refused a statement; the message says which and why."""


class MigrationError(ProjectionError):
    """A schema migration could not be applied."""
