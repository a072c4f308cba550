"""One ClickHouse client per process: embedded chDB (``chdb://<dir>``) or a server (``http://``).

chDB allows one process per data path, so in embedded mode the process that runs the
projector also serves every read (``eams run``); other commands go through its API.
Calls into the client block, so async callers run them in a thread (:func:`run`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import clickhouse_connect
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError, OperationalError

from events.clock import SHANGHAI
from projections.errors import ProjectionError, StoreRefusedError, StoreUnavailableError

T = TypeVar("T")


class Store:
    """A thin, typed wrapper over the clickhouse-connect client with translated errors."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.embedded = dsn.startswith("chdb://")
        self._lock = threading.Lock()
        try:
            self.client: Client = clickhouse_connect.get_client(dsn=dsn)
        except Exception as exc:  # noqa: BLE001 - the driver raises many kinds at open
            hint = (
                " Another process may hold this data path (chDB allows one process per "
                "path): stop it, or talk to it through `eams run`'s API."
                if self.embedded
                else " Check EAMS_CLICKHOUSE_URL and that the server is up."
            )
            raise ProjectionError(f"cannot open ClickHouse at {dsn}: {exc}.{hint}") from exc

    def command(
        self,
        sql: str,
        settings: dict[str, Any] | None = None,
        parameters: dict[str, Any] | None = None,
    ) -> Any:
        """Run a statement that returns no rows (``{name:Type}`` bound from ``parameters``)."""
        try:
            return self.client.command(sql, parameters=parameters, settings=settings)
        except ClickHouseError as exc:
            raise ProjectionError(f"ClickHouse refused: {_short(sql)}: {exc}") from exc

    def rows(self, sql: str, parameters: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Run a query and return its rows as tuples."""
        try:
            return [tuple(row) for row in self.client.query(sql, parameters=parameters).result_rows]
        except ClickHouseError as exc:
            raise ProjectionError(f"ClickHouse refused: {_short(sql)}: {exc}") from exc

    def dicts(self, sql: str, parameters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run a query and return its rows as dicts keyed by column name."""
        try:
            result = self.client.query(sql, parameters=parameters)
        except ClickHouseError as exc:
            raise ProjectionError(f"ClickHouse refused: {_short(sql)}: {exc}") from exc
        names = result.column_names
        return [dict(zip(names, row, strict=True)) for row in result.result_rows]

    def scalar(self, sql: str, parameters: dict[str, Any] | None = None) -> Any:
        """Run a query and return the first column of its first row."""
        rows = self.rows(sql, parameters)
        return rows[0][0] if rows else None

    def insert(
        self,
        table: str,
        rows: Sequence[tuple[Any, ...]],
        columns: Sequence[str],
        settings: dict[str, Any] | None = None,
    ) -> None:
        """Insert rows (one block) into ``table``."""
        try:
            self.client.insert(table, rows, column_names=list(columns), settings=settings)
        except _INSERT_ERRORS as exc:
            raise _insert_error(table, exc) from exc

    def insert_columns(
        self,
        table: str,
        columns: Sequence[Sequence[Any]],
        names: Sequence[str],
        settings: dict[str, Any] | None = None,
    ) -> None:
        """Insert column-oriented data (one sequence per column; ~30 % faster than rows)."""
        try:
            self.client.insert(
                table, columns, column_names=list(names), column_oriented=True, settings=settings
            )
        except _INSERT_ERRORS as exc:
            raise _insert_error(table, exc) from exc

    def close(self) -> None:
        """Release the client (the embedded engine stays up until the process exits)."""
        self.client.close()


#: What an insert can raise for its data: the driver's errors, and the encoding errors of
#: values it cannot serialise (a lone surrogate in a string, an int too large for its column).
_INSERT_ERRORS = (ClickHouseError, UnicodeError, ValueError, TypeError, OverflowError)


def _insert_error(table: str, exc: Exception) -> ProjectionError:
    """Translate an insert failure: unreachable (retry later) or refused (the same rows
    fail again: isolate them)."""
    if isinstance(exc, OperationalError):
        return StoreUnavailableError(f"insert into {table} failed, ClickHouse unreachable: {exc}")
    return StoreRefusedError(f"insert into {table} refused: {_first_line(exc)}")


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def aware(value: Any) -> Any:
    """A datetime read from the store, made tz-aware: columns are Asia/Shanghai, and the
    embedded engine may hand them back naive. Anything else is returned as it is."""
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=SHANGHAI)
    return value


async def run(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking store call in a worker thread."""
    return await asyncio.to_thread(fn, *args, **kwargs)


def _short(sql: str) -> str:
    one_line = " ".join(sql.split())
    return one_line if len(one_line) < 120 else one_line[:117] + "..."
