"""Exceptions of the alerting package.

All derive from the project root ``events.errors.EamsError``::

    EamsError
    └── AlertingError       an alerting rule, state or evaluation could not be used
        └── RuleError       a rule file has a problem at ``file:line``

Messages say what was wrong, where (file and 1-based line) and what to do.
"""

from __future__ import annotations

from events.errors import EamsError

__all__ = ["AlertingError", "RuleError"]


class AlertingError(EamsError):
    """Root of the exceptions raised by the alerting package."""


class RuleError(AlertingError):
    """A problem in a rule file, located by file name and 1-based line.

    ``str(error)`` reads ``file:line: message`` so editors and terminals can jump to it.
    """

    def __init__(self, file: str, line: int, message: str) -> None:
        self.file = file
        self.line = line
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"

    def __repr__(self) -> str:
        return f"RuleError(file={self.file!r}, line={self.line!r}, message={self.message!r})"
