"""A public-welfare post's monthly attendance sheet (考勤表) as a village or township sends it.

CSV (any encoding the importer detects, GB18030 too) or Excel; one row per holder: the
person's citizen ID (``身份证号``; or ``person_id``, the pseudonym EAMS shows), the days
present (``出勤天数``) and, optionally, the days required (``应出勤天数``, else the post's).
A name column may be there (the sheets have one): it is read past and never kept. Labels
are matched loosely (fullwidth, spaces, English names); a title row above the header, a
blank row and a total row are passed over. Every error is named by row and column with what
was expected, and nothing is recorded until the sheet reads whole. The citizen ID is turned
into its keyed pseudonym here: it never leaves the route.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eams.imports.cells import FULLWIDTH, Cell, cell_text, is_blank, label_key, quote
from eams.imports.errors import ImportFileError, RowErrors
from eams.imports.readers import FormatSpec, open_table
from events.errors import EventRejectedError
from events.identity import validate_national_id
from events.privacy import pseudonym

__all__ = ["AttendanceSheetError", "read_sheet"]

_MAX_ROWS = 2000
#: What a workbook of a post's sheet may unpack to (2,000 rows unpack to well under 1 MiB).
_UNPACKED = 32 << 20
_ROLES: dict[str, tuple[str, ...]] = {
    "national_id": (
        "身份证号",
        "身份证号码",
        "公民身份号码",
        "national_id",
        "id_number",
        "证件号码",
    ),
    "person_id": ("person_id", "人员编号"),
    "days_present": ("出勤天数", "days_present", "实际出勤天数", "出勤", "present"),
    "days_required": ("应出勤天数", "days_required", "应出勤", "required"),
}


class AttendanceSheetError(RowErrors):
    """The sheet cannot be taken; ``errors`` lists every row and column at fault."""


_key = label_key


def _columns(labels: Sequence[str]) -> tuple[dict[str, int], list[str]]:
    found: dict[str, int] = {}
    for i, text in enumerate(labels):
        key = _key(text)
        for role, names in _ROLES.items():
            if role not in found and any(key == _key(n) for n in names):
                found[role] = i
                break
    errors = []
    if "national_id" not in found and "person_id" not in found:
        errors.append(
            f"header: no column 身份证号 (national_id) or person_id among the "
            f"{len(labels)} columns of the first rows"
        )
    if "days_present" not in found:
        errors.append(
            f"header: no column 出勤天数 (days_present) among the {len(labels)} columns "
            "of the first rows"
        )
    return found, errors


def _days(value: Cell, column: str, row: int, low: int) -> tuple[int | None, str | None]:
    text = cell_text(value).translate(FULLWIDTH).strip().removesuffix("天").strip()
    try:
        number = float(text)
    except ValueError:
        number = -1.0
    if not math.isfinite(number) or number != int(number) or not low <= number <= 31:
        return None, (f"row {row}, column {column}: {quote(value)} is not a number of days; "
                      f"expected a whole number from {low} to 31")  # fmt: skip
    return int(number), None


def read_sheet(data: bytes, filename: str, secret: bytes) -> list[dict[str, Any]]:
    """The sheet's rows as ``{row, person_id, days_present, days_required?}``; raises
    :class:`AttendanceSheetError` naming every row and column at fault."""
    suffix = Path(filename).suffix.lower() or ".csv"
    if suffix not in (".csv", ".txt", ".tsv", ".xlsx", ".xls"):
        raise AttendanceSheetError(
            [f"{filename}: an attendance sheet is .csv, .txt, .xlsx or .xls"]
        )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"sheet{suffix}"
        path.write_bytes(data)
        delimiter = "auto" if suffix != ".xlsx" else None
        try:
            table = open_table(path, FormatSpec(delimiter=delimiter, max_unpacked=_UNPACKED))
            cols, errors = _columns(table.columns)
            for header in range(2, 5):  # a title row or two above the header (the sheet's name)
                if not errors:
                    break
                try:
                    below = open_table(
                        path,
                        FormatSpec(delimiter=delimiter, header_row=header, max_unpacked=_UNPACKED),
                    )
                except ImportFileError:
                    break  # past the end: name what the first row holds
                found, missing = _columns(below.columns)
                if not missing:
                    table, cols, errors = below, found, []
            records = []
            for record in table.records():  # at most one past the cap is read
                records.append((record.line, list(record.values)))
                if len(records) > _MAX_ROWS:
                    break
        except ImportFileError as exc:
            raise AttendanceSheetError([f"{filename}: {exc}"]) from None
    if errors:
        raise AttendanceSheetError(errors)
    out: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    labels = table.columns

    def cell(values: list[Cell], role: str) -> Cell:
        i = cols.get(role)
        return values[i] if i is not None and i < len(values) else None

    for line, values in records:
        if all(is_blank(v) for v in values):
            continue
        words = [_key(cell_text(v)) for v in values if not is_blank(v)]
        if any(w.startswith(("合计", "总计")) or w == "total" for w in words):
            continue
        person = None
        if "national_id" in cols and not is_blank(cell(values, "national_id")):
            raw = cell_text(cell(values, "national_id")).strip().upper()
            try:
                person = pseudonym(validate_national_id(raw), secret)
            except (ValueError, EventRejectedError):
                errors.append(f"row {line}, column {labels[cols['national_id']]}: not a valid "
                              "citizen ID (18 characters with its check digit)")  # fmt: skip
                continue
        elif "person_id" in cols and not is_blank(cell(values, "person_id")):
            person = cell_text(cell(values, "person_id")).strip()
            if not (person.startswith("p_") and len(person) == 34):
                where = f"row {line}, column {labels[cols['person_id']]}"
                errors.append(f"{where}: {quote(person)} is not a person_id (p_ + 32 hex)")
                continue
        else:
            errors.append(f"row {line}: no citizen ID or person_id")
            continue
        present, bad = _days(cell(values, "days_present"), labels[cols["days_present"]], line, 0)
        row: dict[str, Any] = {"row": line, "person_id": person, "days_present": present}
        if bad:
            errors.append(bad)
        if "days_required" in cols and not is_blank(cell(values, "days_required")):
            required, bad = _days(
                cell(values, "days_required"), labels[cols["days_required"]], line, 1
            )
            if bad:
                errors.append(bad)
            elif present is not None and required is not None and present > required:
                errors.append(f"row {line}: {present} days present is more than the "
                              f"{required} required")  # fmt: skip
            row["days_required"] = required
        if person in seen:
            errors.append(f"row {line}: the same person is on row {seen[person]} already")
            continue
        seen[person] = line
        out.append(row)
    if len(records) > _MAX_ROWS:
        errors.append(
            f"{filename}: more than {_MAX_ROWS} rows; a post's sheet has at most {_MAX_ROWS}"
        )
    if errors:
        raise AttendanceSheetError(errors)
    if not out:
        raise AttendanceSheetError([f"{filename}: no attendance rows below the header"])
    return out
