"""Exceptions of EAMS.

Every exception the project raises derives from one root, so callers can catch the
whole family at a boundary::

    EamsError                   root of every project exception
    ├── EventRejectedError      an event failed parsing or validation (goes to the DLQ)
    ├── CommandRejectedError    an aggregate refused a command (``code`` says how)
    ├── ConfigError             a setting, a configuration file or an argument is wrong
    └── ReferenceDataError      region reference data is missing or unknown

Messages say what was wrong, where (dotted field path, line) and what was expected.
"""

from __future__ import annotations

__all__ = [
    "CommandRejectedError",
    "ConfigError",
    "EamsError",
    "EventRejectedError",
    "ReferenceDataError",
]


class EamsError(Exception):
    """Root of every exception raised by EAMS code."""


class EventRejectedError(EamsError):
    """An incoming event was rejected; names the offending field and why.

    ``field`` is a dotted path such as ``payload.laid_off``, ``region``,
    ``event_type``, ``payload.regions[2]`` or ``(body)`` for input that is not JSON.
    ``line`` is the 1-based line of an NDJSON/CSV import, when known.
    """

    def __init__(self, field: str, reason: str, *, line: int | None = None) -> None:
        self.field = field
        self.reason = reason
        self.line = line
        super().__init__(str(self))

    def __str__(self) -> str:
        prefix = f"line {self.line}: " if self.line is not None else ""
        return f"{prefix}{self.field}: {self.reason}"

    def __repr__(self) -> str:
        return (
            f"EventRejectedError(field={self.field!r}, reason={self.reason!r}, line={self.line!r})"
        )

    def with_line(self, line: int | None) -> EventRejectedError:
        """Return this rejection carrying ``line`` (unchanged when already set or None)."""
        if line is None or self.line is not None:
            return self
        return EventRejectedError(self.field, self.reason, line=line)

    def with_prefix(self, prefix: str) -> EventRejectedError:
        """Return this rejection with ``prefix`` prepended to the field path."""
        field = self.field if self.field.startswith("[") else f".{self.field}"
        return EventRejectedError(f"{prefix}{field}", self.reason, line=self.line)


class ReferenceDataError(EamsError):
    """Region reference data could not be loaded (unknown hierarchy, missing file)."""


class CommandRejectedError(EamsError):
    """An aggregate refused a command: the message names the aggregate, its state and what
    to do. ``code`` tells callers how to answer (HTTP status in brackets):

    - ``conflict``: the aggregate's state does not allow it now (409);
    - ``not_found``: no such aggregate, or one outside the sender's regions (404);
    - ``forbidden``: it would change something outside the sender's regions (403);
    - ``invalid``: the command itself is malformed (422).
    """

    def __init__(self, message: str, *, code: str = "conflict") -> None:
        self.code = code
        super().__init__(message)


class ConfigError(EamsError):
    """A setting, a mapping file or an argument is wrong; the message says which and how.
    Every package reads its own configuration (rules, rosters, risk index, settings), so the
    error lives at the root rather than in the package that runs the process."""
