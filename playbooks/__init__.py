"""Contingency playbooks: YAML definitions, their lint, and runs as event-sourced aggregates.

- ``playbooks.model``: the values (``Playbook``, ``Step``, ``Variant``, ``Library``) and the
  definition schema, with an example, in its docstring;
- ``playbooks.reader`` / ``playbooks.lint``: read and check definition files, every problem
  as ``file:line: message`` (``eams playbooks lint``); ``load_library`` reads the shipped
  ``playbooks/library/``;
- ``playbooks.aggregate``: a run's state, ``apply`` (events in) and ``decide`` (commands in,
  events out), with no I/O; the runtime that feeds it lives with the streams;
- ``playbooks.errors``: the exceptions, under ``events.errors.EamsError``.
"""

from __future__ import annotations

from playbooks.errors import (
    CommandRejected,
    CommandRejectedError,
    PlaybookError,
    PlaybooksError,
    UnknownPlaybookError,
)
from playbooks.lint import DEFAULT_LIBRARY, lint_paths, lint_text, load_library, load_text
from playbooks.model import Library, Match, Playbook, Step, Variant

__all__ = [
    "DEFAULT_LIBRARY",
    "CommandRejected",
    "CommandRejectedError",
    "Library",
    "Match",
    "Playbook",
    "PlaybookError",
    "PlaybooksError",
    "Step",
    "UnknownPlaybookError",
    "Variant",
    "lint_paths",
    "lint_text",
    "load_library",
    "load_text",
]
