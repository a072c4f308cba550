"""Errors of file import: the mapping, the file, one value.

EamsError (events.errors)
 ├── ConfigError (events.errors)
 │    └── MappingError      a mapping file is wrong: ``path:line: message`` (did you mean …)
 └── ImportFileError        the root of what reading and converting a file raises
      ├── ReadError         the file cannot be read as its format says (names file, line/offset)
      └── CellError         one value cannot be converted; ``kind`` groups alike failures
           └── PlaceError   a region name is unknown or matches more than one region

A :class:`CellError` never stops an import: the converter names the column and the row is
dead-lettered (or the value nulled or defaulted, as the mapping's ``on_error`` says).
"""

from __future__ import annotations

from collections.abc import Sequence

from events.errors import ConfigError, EamsError

__all__ = ["CellError", "ImportFileError", "MappingError", "PlaceError", "ReadError"]


class MappingError(ConfigError):
    """A mapping file is wrong; the message starts with ``path:line:``."""


class ImportFileError(EamsError):
    """Reading or converting an import file failed."""


class ReadError(ImportFileError):
    """The file cannot be read as its format says; the message names the file and where."""


class CellError(ImportFileError):
    """One value cannot be converted.

    ``kind`` is a short stable label (``not a date``, ``ID mangled by Excel`` …) by which
    ``--check`` groups the commonest failures; the message says what was found, what was
    expected and, where a spreadsheet did it, how to fix the sheet.
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class PlaceError(CellError):
    """A region name is unknown (``kind='unknown place'``) or ambiguous
    (``kind='ambiguous place'``, the message lists the candidates with their codes)."""


class RowErrors(ValueError):
    """A file that cannot be taken whole (a bank's return, an attendance sheet): ``errors``
    lists every row and column at fault, the first 50 of them, and the message says how
    many more there were."""

    MAX_ERRORS = 50

    def __init__(self, errors: Sequence[str]) -> None:
        shown = list(errors[: self.MAX_ERRORS])
        more = len(errors) - len(shown)
        super().__init__("; ".join(shown) + (f"; … and {more} more" if more > 0 else ""))
        self.errors = shown
