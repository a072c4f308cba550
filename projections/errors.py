"""Errors of the projection layer; driver errors are translated here, at the edge.

EamsError (events.errors)
 └── ProjectionError            ClickHouse (embedded or server) failed or refused a statement
      ├── StoreUnavailableError  the store could not be reached (connection, timeout): retry
      ├── StoreRefusedError      the store refused an insert for its data: retrying the same
      │                          rows fails the same way (the projector isolates and parks them)
      └── MigrationError         a schema migration could not be applied
           └── ClusterSchemaError  a migration could not be rendered for a ClickHouse cluster
"""

from __future__ import annotations

from events.errors import EamsError


class ProjectionError(EamsError):
    """ClickHouse failed or refused a statement; the message says which and why."""


class MigrationError(ProjectionError):
    """A schema migration could not be applied."""


class ClusterSchemaError(MigrationError):
    """A migration holds something :mod:`projections.cluster` cannot render for a cluster;
    the message names the migration, the statement and what to do."""


class StoreUnavailableError(ProjectionError):
    """ClickHouse could not be reached or did not answer in time; the same call may succeed
    later."""


class StoreRefusedError(ProjectionError):
    """ClickHouse refused rows for what they hold (a value its column cannot hold, too many
    partitions in one block, text it cannot encode); the same rows fail again."""
