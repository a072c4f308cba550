"""Exceptions of the playbooks package.

All derive from the project root ``events.errors.EamsError``::

    EamsError
    └── PlaybooksError            a playbook definition or run could not be used
        ├── PlaybookError         a definition file has a problem at ``file:line``
        ├── UnknownPlaybookError  no playbook with the asked id (names the known ids)
        └── CommandRejectedError  a run refused a command (``CommandRejected`` is an alias)

Messages say what was wrong, where (file and 1-based line, or run and state) and what to do.
"""

from __future__ import annotations

from collections.abc import Sequence

from events.errors import CommandRejectedError as _Rejected
from events.errors import EamsError

__all__ = [
    "CommandRejected",
    "CommandRejectedError",
    "PlaybookError",
    "PlaybooksError",
    "UnknownPlaybookError",
]


class PlaybooksError(EamsError):
    """Root of the exceptions raised by the playbooks package."""


class PlaybookError(PlaybooksError):
    """A problem in a playbook definition, located by file name and 1-based line.

    ``str(error)`` reads ``file:line: message`` so editors and terminals can jump to it.
    When raised by ``load_library``, ``problems`` holds every problem found (this one
    first) and the message lists the others below the first line.
    """

    def __init__(
        self, file: str, line: int, message: str, problems: Sequence[PlaybookError] = ()
    ) -> None:
        self.file = file
        self.line = line
        self.message = message
        self.problems: tuple[PlaybookError, ...] = tuple(problems) or (self,)
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"

    def __repr__(self) -> str:
        return f"PlaybookError(file={self.file!r}, line={self.line!r}, message={self.message!r})"


class UnknownPlaybookError(PlaybooksError):
    """A playbook id that the library does not define."""


class CommandRejectedError(PlaybooksError, _Rejected):
    """A playbook run refused a command; the message names the run, its state and what to do
    (a conflict, unless ``code`` says otherwise: see ``events.errors.CommandRejectedError``)."""


CommandRejected = CommandRejectedError
"""The name the run aggregate's callers use; the class ends in ``Error`` like every other."""
