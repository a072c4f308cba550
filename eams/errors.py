"""Errors of the runtime around the domain (broker, API client, configuration).

EamsError                    (events.errors, the root of every project error)
 ├── EventRejectedError      (events.errors: bad input, names the field)
 ├── BrokerError             the local Kafka could not be fetched, started or reached
 ├── ConfigError             a configuration value or mapping file is wrong
 ├── ServiceUnavailableError the running `eams run` could not be reached
 └── ProjectionError         (projections.errors: ClickHouse failed)
"""

from __future__ import annotations

from events.errors import EamsError


class BrokerError(EamsError):
    """The local Kafka broker could not be fetched, formatted, started or reached."""


class ConfigError(EamsError):
    """A setting, a mapping file or an argument is wrong; the message says which and how."""


class ServiceUnavailableError(EamsError):
    """`eams run` is not answering; the message says how to start it."""
