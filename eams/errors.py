"""Errors of the runtime around the domain (broker, API client, configuration).

EamsError                    (events.errors, the root of every project error)
 ├── EventRejectedError      (events.errors: bad input, names the field)
 ├── BrokerError             the local Kafka could not be fetched, started or reached
 ├── ConfigError             (events.errors: a setting, configuration file or argument is wrong)
 ├── ServiceUnavailableError the running `eams run` could not be reached
 ├── RequestRefusedError     the running `eams run` refused a request of the CLI
 ├── AuthError               (eams.auth: a user, session or API key cannot be used)
 ├── RequestError            (eams.http.errors: what the API refuses, with its status code)
 ├── GrafanaError            (eams.tools.grafana: Grafana refused or cannot be reached)
 ├── RowError                a record its mapping cannot convert (eams.imports.convert)
 └── ProjectionError         (projections.errors: ClickHouse failed)
"""

from __future__ import annotations

from events.errors import ConfigError, EamsError

__all__ = [
    "BrokerError",
    "ConfigError",
    "EamsError",
    "RequestRefusedError",
    "RowError",
    "ServiceUnavailableError",
]


class BrokerError(EamsError):
    """The local Kafka broker could not be fetched, formatted, started or reached."""


class ServiceUnavailableError(EamsError):
    """`eams run` is not answering; the message says how to start it."""


class RequestRefusedError(EamsError):
    """The running worker refused a request (unknown alert, resolved already …)."""


class RowError(EamsError):
    """A record its mapping cannot convert; the importer dead-letters it with the column.

    ``kind`` groups alike failures (``not a date``, ``ID mangled by Excel``: the
    :class:`~eams.imports.errors.CellError` kinds, ``invalid event`` for what the catalogue
    refuses); ``field`` is the event field the column was read for.
    """

    def __init__(self, column: str, reason: str, *, kind: str = "invalid", field: str = "") -> None:
        super().__init__(f"column {column!r}: {reason}")
        self.column = column
        self.reason = reason
        self.kind = kind
        self.field = field
