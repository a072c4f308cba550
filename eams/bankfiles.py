"""The files a payment batch exchanges with the bank (代发文件 and 回盘文件).

The export
    A CSV the bank's bulk-payment (代发) intake reads, UTF-8 with a BOM (Excel opens it
    with the Chinese labels intact), one row per line: the batch, the line number, the
    payment reference (``<batch>:<line>``), the payee's masked name, the account's keyed
    reference and its last four digits, the amount, the subsidy and its month. No clear
    identity or account number is in it: the account reference is resolved to the account
    by the social-security card system (社保卡) that issued it, outside EAMS, which never
    holds the clear number. A last row totals the batch.

The return
    The bank's answer, CSV (any encoding the importer detects: the banks' GB18030 too) or
    Excel: a row per line with the line number (``序号``) and/or the reference
    (``付款参考号``), the result (``成功``/``失败``, ``S``/``F``, ``paid``/``failed`` …), the
    amount, the day and the reason of a failure. Labels are matched loosely (fullwidth,
    spaces, English names); a row for a line the batch does not have, a reference of
    another batch, an amount that is not an amount or a result that is not one is an error
    naming the row and column and what was expected. Every error of the file is reported
    together and nothing is recorded until the file reads whole.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from eams.imports.cells import FULLWIDTH, Cell, is_blank, label_key, quote
from eams.imports.dates import parse_date
from eams.imports.errors import CellError, ImportFileError, RowErrors
from eams.imports.readers import FormatSpec, open_table
from events.labels import label

__all__ = ["EXPORT_COLUMNS", "ReturnFileError", "digest", "export_csv", "read_return"]

EXPORT_COLUMNS = ("批次号 batch", "序号 line", "付款参考号 reference", "收款人 payee",
                  "收款账户参考 account_ref", "账号尾号 account", "金额 amount",
                  "补贴项目 subsidy", "所属期 month", "摘要 memo")  # fmt: skip
#: What a workbook of a bank's return may unpack to (a county's batch: well under 1 MiB).
_UNPACKED = 64 << 20
_PAID = {"成功", "已支付", "支付成功", "交易成功", "s", "success", "succeeded", "paid", "ok", "1"}
_FAILED = {"失败", "支付失败", "交易失败", "退票", "f", "fail", "failed", "rejected", "0"}
_ROLES: dict[str, tuple[str, ...]] = {
    "line": ("序号", "line", "行号", "no", "no."),
    "reference": ("付款参考号", "reference", "参考号", "业务参考号", "ref"),
    "outcome": ("结果", "outcome", "status", "处理结果", "交易结果", "状态"),
    "amount": ("金额", "amount", "实付金额", "交易金额"),
    "paid_on": ("日期", "paid_on", "date", "交易日期", "入账日期", "支付日期"),
    "reason": ("失败原因", "reason", "原因", "备注", "说明"),
}


class ReturnFileError(RowErrors):
    """The return file cannot be taken; ``errors`` lists every row and column at fault."""


def _cell(value: Any) -> Any:
    """A text cell as a spreadsheet will not run: one starting with ``= + - @`` (or a tab or
    carriage return) gets a leading apostrophe (CSV formula injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _money(value: Any) -> str:
    return f"{Decimal(str(value)):.2f}"


def export_csv(
    batch: Mapping[str, Any], lines: Iterable[Mapping[str, Any]], lang: str = "zh"
) -> bytes:
    """The export file of ``batch`` (``batch_id``, ``month``) with its ``lines``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    count, total = 0, Decimal(0)
    batch_id = str(batch["batch_id"])
    for line in lines:
        count += 1
        total += Decimal(str(line["amount"]))
        subsidy = label(str(line["subsidy"]), lang)
        writer.writerow([_cell(v) for v in (
            batch_id, line["line"], f"{batch_id}:{line['line']}", line.get("name_masked") or "",
            line.get("account_ref") or "", line.get("account_masked") or "",
            _money(line["amount"]), subsidy, line["month"],
            f"{subsidy} {line['month']}"[:60],
        )])  # fmt: skip
    writer.writerow(
        [batch_id, "合计 total", count, "", "", "", _money(total), "", batch["month"], ""]
    )
    return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")


def digest(data: bytes) -> str:
    """The SHA-256 of a file, as the batch's events record it."""
    return hashlib.sha256(data).hexdigest()


_key = label_key


def _columns(labels: Sequence[str]) -> tuple[dict[str, int], list[str]]:
    found: dict[str, int] = {}
    for i, text in enumerate(labels):
        key = _key(text)
        for role, names in _ROLES.items():
            if role not in found and any(key == _key(n) or key.startswith(_key(n)) for n in names):
                found[role] = i
                break
    errors = []
    if "line" not in found and "reference" not in found:
        errors.append(f"header: no column 序号 (line) or 付款参考号 (reference) in {list(labels)}")
    if "outcome" not in found:
        errors.append(f"header: no column 结果 (outcome: 成功/失败) in {list(labels)}")
    return found, errors


@dataclass(frozen=True, slots=True)
class _Row:
    line: int
    values: Sequence[Cell]


def _amount(value: Cell) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise CellError("not an amount", f"{quote(value)}; expected an amount such as 1500.00")
    text = str(value).translate(FULLWIDTH).strip().replace(",", "").replace("¥", "")
    text = text.removesuffix("元").strip()
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise CellError(
            "not an amount", f"{quote(value)}; expected an amount such as 1500.00"
        ) from None
    if not amount.is_finite() or amount < 0 or amount != amount.quantize(Decimal("0.01")):
        raise CellError(
            "not an amount", f"{quote(value)}; expected a non-negative amount in yuan and fen"
        )
    return amount.quantize(Decimal("0.01"))


def _result(
    row: _Row, cols: Mapping[str, int], batch_id: str, lines: int
) -> tuple[dict[str, Any] | None, list[str]]:
    def cell(role: str) -> Cell:
        i = cols.get(role)
        return row.values[i] if i is not None and i < len(row.values) else None

    where = f"row {row.line}"
    errors: list[str] = []
    number: int | None = None
    ref = cell("reference")
    if not is_blank(ref):
        batch, _, tail = str(ref).strip().rpartition(":")
        if batch != batch_id or not tail.isdigit():
            errors.append(
                f"{where}, 付款参考号: {quote(ref)} is not a reference of {batch_id} "
                f"(expected {batch_id}:<line>); is this the return of another batch?"
            )
        else:
            number = int(tail)
    given = cell("line")
    if not is_blank(given):
        text = str(given).strip().removesuffix(".0")
        if not text.isdigit():
            errors.append(f"{where}, 序号: {quote(given)} is not a line number")
        elif number is not None and int(text) != number:
            errors.append(f"{where}: 序号 {text} and 付款参考号 {quote(ref)} name different lines")
        else:
            number = int(text)
    if number is None and not errors:
        errors.append(f"{where}: neither 序号 nor 付款参考号 is given")
    if number is not None and not 1 <= number <= lines:
        errors.append(f"{where}: line {number}; the batch has lines 1-{lines}")
    outcome_cell = cell("outcome")
    word = _key(str(outcome_cell)) if not is_blank(outcome_cell) else ""
    outcome = "paid" if word in _PAID else "failed" if word in _FAILED else None
    if outcome is None:
        errors.append(f"{where}, 结果: {quote(outcome_cell)}; expected 成功 or 失败 (S/F)")
    result: dict[str, Any] = {"line": number, "outcome": outcome}
    amount = cell("amount")
    if not is_blank(amount):
        try:
            result["amount"] = str(_amount(amount))
        except CellError as exc:
            errors.append(f"{where}, 金额: {exc}")
    day = cell("paid_on")
    if outcome == "paid" and not is_blank(day):
        try:
            found = parse_date(day, ("iso", "compact", "chinese", "%Y/%m/%d"))
            result["paid_on"] = (
                found.date() if isinstance(found, dt.datetime) else found
            ).isoformat()
        except CellError as exc:
            errors.append(f"{where}, 日期: {exc}")
    reason = cell("reason")
    if outcome == "failed":
        result["reason"] = (
            str(reason).strip()[:500] if not is_blank(reason) else "银行未说明 not given"
        )
    return (None if errors else result), errors


def read_return(data: bytes, filename: str, batch_id: str, lines: int) -> list[dict[str, Any]]:
    """The results of the bank's return file for ``batch_id`` (of ``lines`` lines), ready
    for ``payment_batch.reconcile``; raises :class:`ReturnFileError` naming every row and
    column at fault (a total row, a blank row and a title row above the header are
    passed over)."""
    suffix = Path(filename).suffix.lower() or ".csv"
    if suffix not in (".csv", ".txt", ".tsv", ".xlsx", ".xls"):
        raise ReturnFileError([f"{filename}: a return file is .csv, .txt, .xlsx or .xls"])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"return{suffix}"
        path.write_bytes(data)
        try:
            spec = FormatSpec(
                delimiter="auto" if suffix != ".xlsx" else None, max_unpacked=_UNPACKED
            )
            table = open_table(path, spec)
            cols, errors = _columns(table.columns)
            rows = [_Row(r.line, r.values) for r in table.records()]
        except ImportFileError as exc:
            raise ReturnFileError([f"{filename}: {exc}"]) from None
    if errors:
        raise ReturnFileError(errors)
    results: list[dict[str, Any]] = []
    seen: dict[int, int] = {}
    for row in rows:
        if all(is_blank(v) for v in row.values):
            continue
        words = [_key(str(v)) for v in row.values if not is_blank(v)]
        if any(w.startswith(("合计", "总计")) or w == "total" for w in words):
            continue
        result, found = _result(row, cols, batch_id, lines)
        errors += found
        if result is None:
            continue
        if result["line"] in seen:
            errors.append(f"row {row.line}: line {result['line']} is answered on row "
                          f"{seen[result['line']]} already")  # fmt: skip
            continue
        seen[result["line"]] = row.line
        results.append(result)
    if errors:
        raise ReturnFileError(errors)
    if not results:
        raise ReturnFileError([f"{filename}: no result rows below the header"])
    return results
