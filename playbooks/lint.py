"""Load and lint the playbook library: every problem as ``file:line: message``.

``lint_paths`` lists every problem of some files or directories (``eams playbooks lint``);
``load_library`` returns a ``Library`` or raises one ``PlaybookError`` that lists them
all. A directory means its ``*.yaml`` files in name order; playbook ids must be unique
across everything read together. The shipped library is ``playbooks/library/``
(``DEFAULT_LIBRARY``). Region codes are checked against the Shandong reference unless
another ``reference`` is given; trigger indicators only when ``known_indicators`` is
(``alerting.indicator_names.INDICATOR_NAMES``).
"""

from __future__ import annotations

import sys
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Any, TextIO

from playbooks.errors import PlaybookError
from playbooks.model import Library
from playbooks.reader import PlaybookReader

__all__ = ["DEFAULT_LIBRARY", "lint_paths", "lint_text", "load_library", "load_text", "main"]

DEFAULT_LIBRARY = Path(__file__).resolve().parent / "library"

Paths = Path | str | Iterable[Path | str]


def _default_reference() -> Any:
    from events.regions import load_reference  # cached after the first call

    return load_reference("shandong")


def _sources(paths: Paths) -> tuple[list[tuple[str, str]], list[PlaybookError]]:
    """Return ``(name, text)`` of every file named, or of every ``*.yaml`` in a directory."""
    items = [paths] if isinstance(paths, Path | str) else list(paths)
    sources: list[tuple[str, str]] = []
    problems: list[PlaybookError] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            files = sorted(path.glob("*.yaml"))
            if not files:
                problems.append(PlaybookError(str(path), 1, "no *.yaml playbook files here"))
        else:
            files = [path]
        for file in files:
            try:
                sources.append((str(file), file.read_text(encoding="utf-8")))
            except (OSError, UnicodeDecodeError) as exc:
                problems.append(PlaybookError(str(file), 1, f"cannot read the file: {exc}"))
    return sources, problems


def _read(
    sources: list[tuple[str, str]], reference: Any | None, known: Collection[str] | None
) -> PlaybookReader:
    """Read every source with one reader, so ids are checked across files."""
    reader = PlaybookReader(
        reference=reference if reference is not None else _default_reference(),
        known_indicators=known,
    )
    for name, text in sources:
        reader.read(text, name)
    return reader


def _combined(problems: list[PlaybookError], target: str) -> PlaybookError:
    """One error carrying every problem: the first at its place, the others listed."""
    first = problems[0]
    if len(problems) == 1:
        return PlaybookError(first.file, first.line, first.message, problems)
    rest = "\n".join(f"  {p}" for p in problems[1:])
    message = (
        f"{first.message}\n{len(problems) - 1} more problem(s) in the playbook library "
        f"(`eams playbooks lint {target}` lists them):\n{rest}"
    )
    return PlaybookError(first.file, first.line, message, problems)


def lint_text(
    text: str,
    name: str,
    *,
    reference: Any | None = None,
    known_indicators: Collection[str] | None = None,
) -> list[PlaybookError]:
    """Return every problem of one definition ``text`` (called ``name`` in messages)."""
    return _read([(name, text)], reference, known_indicators).errors


def lint_paths(
    paths: Paths,
    *,
    reference: Any | None = None,
    known_indicators: Collection[str] | None = None,
) -> list[PlaybookError]:
    """Return every problem of definition files or directories, each with file and line."""
    sources, problems = _sources(paths)
    return problems + _read(sources, reference, known_indicators).errors


def load_text(
    text: str,
    name: str,
    *,
    reference: Any | None = None,
    known_indicators: Collection[str] | None = None,
) -> Library:
    """Return a library of the one definition ``text``; raise PlaybookError on problems."""
    reader = _read([(name, text)], reference, known_indicators)
    if reader.errors:
        raise _combined(reader.errors, name)
    return Library(tuple(reader.playbooks))


def load_library(
    path: Path | None = None,
    *,
    reference: Any | None = None,
    known_indicators: Collection[str] | None = None,
) -> Library:
    """Return the playbooks of ``path`` (default ``playbooks/library/``).

    Raises one PlaybookError at the first problem whose message lists all the others
    (``error.problems`` holds them as errors).
    """
    target = path if path is not None else DEFAULT_LIBRARY
    sources, problems = _sources(target)
    reader = _read(sources, reference, known_indicators)
    problems += reader.errors
    if problems:
        raise _combined(problems, str(target))
    return Library(tuple(reader.playbooks))


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    """Lint the paths in ``argv`` (default: the shipped library); return the exit status.

    Prints one ``file:line: message`` per problem, or ``<path>: OK``; trigger indicators
    are checked against ``alerting.indicator_names``. ``eams playbooks lint`` calls it.
    """
    from alerting.indicator_names import INDICATOR_NAMES

    stream = out if out is not None else sys.stdout
    targets: list[Path | str] = list(argv) if argv else [DEFAULT_LIBRARY]
    problems = lint_paths(targets, known_indicators=INDICATOR_NAMES)
    for problem in problems:
        stream.write(f"{problem}\n")
    if problems:
        stream.write(f"{len(problems)} problem(s)\n")
        return 1
    stream.write(f"{', '.join(str(t) for t in targets)}: OK\n")
    return 0
