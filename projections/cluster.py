"""The schema on a ClickHouse cluster, rendered from the same migrations.

``projections/migrations/*.sql`` stay the one source. :func:`render` turns each of their
statements into what a cluster of replicated shards runs (``eams schema render``); with no
cluster it returns the statements unchanged, byte for byte, so what :func:`migrate` applies
to the embedded engine and its checksums in ``schema_migrations`` do not move.

What changes on a cluster (``--shards`` 2 or more):

1. Every ``CREATE``, ``ALTER`` and ``DROP`` runs ``ON CLUSTER '<name>'`` (pass
   ``--cluster '{cluster}'`` to leave the name to each server's ``cluster`` macro).
2. A ``*MergeTree`` engine becomes its ``Replicated*MergeTree``, the replica path and name
   first and the engine's own arguments after them (``ReplacingMergeTree(version)`` becomes
   ``ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}',
   '{replica}', version)``). Any other engine is refused: it needs a decision by hand.
3. Names. A sharded table is created as ``<name>_local`` on every node, and a ``Distributed``
   table over the shards keeps ``<name>``, so every query, insert and backfill of the
   migrations and of the code reads and writes the same names as on one node. A table
   replicated everywhere (:data:`PLACEMENTS`, ``sharded=False``) keeps its name and its
   replicas are every node (path ``/clickhouse/tables/all/...``: the ``{replica}`` macro
   must be unique across the cluster, not only within a shard).
4. A materialized view fires on the inserts into the table it reads, so on a cluster it
   reads ``events_local AS events`` (the alias keeps ``events.person_id`` and the like
   meaning what they meant) and writes ``TO <target>_local``: it runs on the shard where its
   events landed, and that is where its rows are. A table a view fills is therefore sharded
   as ``events`` is; its Distributed key places only the rows inserted into it directly
   (the backfills of migrations 0006, 0008 and 0010, the worklist's refresh). Where the
   table is keyed by person or by the event's own aggregate the two agree; elsewhere a
   key's partial rows may sit on two shards, which reads already handle: every read of an
   aggregating or summing table merges partial rows by key (they are merged at random
   times on one node too), and ``FINAL`` is read only from ``quarantine``, which is not
   sharded. So ``optimize_skip_unused_shards`` must stay off.
5. ``ALTER`` of a sharded table runs on ``<name>_local`` and, for column changes, on the
   Distributed ``<name>`` too (its columns must follow); ``DROP`` of one drops both.
   ``INSERT`` statements run once, through the Distributed tables; a sharded table they
   read gets an alias of its own name (``FROM events AS events``): an ``INSERT … SELECT``
   between Distributed tables may be rewritten to their local tables, and a column
   qualified by the table's name (0006's ``events.region``) then names nothing (ClickHouse
   26.9 refuses 0006's backfill so in chDB; with the alias it runs).
6. Settings. ``non_replicated_deduplication_window = N`` becomes
   ``replicated_deduplication_window = N`` with ``replicated_deduplication_window_seconds``
   of :data:`COUNT_ONLY_SECONDS`: the non-replicated log is bounded by count alone, the
   replicated one also forgets a block older than that many seconds behind the newest
   (3,600 by default in ClickHouse 26.9), and the projector re-inserts each partition's last
   batch at a restart, however long that partition has been quiet. A table without the
   setting deduplicated nothing (a non-replicated table's window is 0 by default) and gets
   ``replicated_deduplication_window = 0``: a replicated table's default (10,000) would
   silently drop a block identical to an earlier one. Other settings (``index_granularity``)
   are kept.

With ``--shards 1`` there is no Distributed layer: items 1, 2 and 6 apply, names stay.

Every sharding key is a hash of columns (never ``rand()``): a replayed batch must split
over the shards as it did the first time, or its deduplication token would match a block
holding other rows. The servers' profile (``deploy/clickhouse/users.xml``) sets what the
unchanged reads and writes need: ``distributed_foreground_insert = 1`` (an insert returns
once its rows are on the shards, so the projector's write-ahead row, batch and position keep
their order) and ``distributed_product_mode = 'global'`` (an ``IN`` or ``JOIN`` of a
Distributed table inside a query of one is computed once on the initiator).

Not checked here (no cluster runs on this machine): that ``insert_deduplication_token``
deduplicates a retried block forwarded by a Distributed table on every shard, and the
timings. ``eams run`` still applies the single-node form: against a cluster, apply this
rendering first (it records each version in ``schema_migrations`` as :func:`migrate` would,
so the worker then applies nothing); ``eams rebuild`` does not render and must not be run
against a cluster.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from projections.errors import ClusterSchemaError
from projections.migrations import (
    MIGRATIONS_DIR,
    SCHEMA_MIGRATIONS,
    Migration,
    load_migrations,
)

__all__ = [
    "COUNT_ONLY_SECONDS",
    "PLACEMENTS",
    "Cluster",
    "Placement",
    "render",
    "render_statement",
    "script",
    "write_directory",
]

#: ``replicated_deduplication_window_seconds`` for a table whose window was a count only:
#: ten years, so that the count (``replicated_deduplication_window``) is what bounds it.
COUNT_ONLY_SECONDS = 10 * 365 * 24 * 3600

#: Replica paths in Keeper: one per shard, and one for a table every node holds whole.
SHARD_PATH = "/clickhouse/tables/{shard}/{database}/{table}"
EVERYWHERE_PATH = "/clickhouse/tables/all/{database}/{table}"
REPLICA = "{replica}"
LOCAL_SUFFIX = "_local"

_BY_PERSON = "cityHash64(person_id)"
_BY_RUN = "by the run, as its events: 0006's backfill lands where the view writes"


@dataclass(frozen=True)
class Placement:
    """Where a table's rows live on a cluster: sharded by ``key`` (a Distributed table over
    ``<name>_local``) or, with ``sharded=False``, replicated whole on every node."""

    sharded: bool
    key: str | None
    why: str


def _sharded(key: str, why: str) -> Placement:
    return Placement(sharded=True, key=key, why=why)


def _everywhere(why: str) -> Placement:
    return Placement(sharded=False, key=None, why=why)


_VIEWED = "filled by its views on the shard of its events"

#: Every table the migrations create (and ``schema_migrations``), with its placement. A
#: migration that creates a table missing here does not render: decide, then add it.
PLACEMENTS: dict[str, Placement] = {
    "schema_migrations": _everywhere(
        "the record of applied versions: every node must answer what is applied"
    ),
    "events": _sharded(
        "cityHash64(if(person_id != '', person_id, aggregate_id))",
        "a person's events together (their case tables then fold on one shard), any other "
        "event with its aggregate (an alert's, a run's, a post's); by region instead would "
        "put a whole county, and a flood's surge in it, on one shard",
    ),
    "projection_positions": _everywhere(
        "the projector's write-ahead rows: written before each batch and read back whole at "
        "a restart, from whichever node it talks to; a few rows per batch"
    ),
    "quarantine": _everywhere(
        "events the projector parked, read with FINAL (a key's newest row must be on the "
        "node that reads it); rare rows, kept by a rebuild"
    ),
    "region_daily_facts": _sharded("cityHash64(region)", f"{_VIEWED}; no direct inserts"),
    "disaster_area_state": _sharded("cityHash64(region)", f"{_VIEWED}; no direct inserts"),
    "disaster_clears": _sharded("cityHash64(disaster_id)", f"{_VIEWED}; no direct inserts"),
    "persons": _sharded(_BY_PERSON, "by person, as its events"),
    "households": _sharded("cityHash64(household_id)", f"{_VIEWED}; no direct inserts"),
    "alerts": _sharded(
        "cityHash64(alert_id)",
        "by the alert, as its events (an alert's events name no person): 0008's backfill "
        "lands where the view writes",
    ),
    "playbook_runs": _sharded(
        "cityHash64(run_id)",
        "by the run, as its events: 0006's backfill lands where the view writes",
    ),
    "playbook_steps": _sharded(
        "cityHash64(run_id)",
        "by the run, as its events: 0006's backfill lands where the view writes",
    ),
    "temporary_assistance": _sharded(_BY_PERSON, "by person, as its events"),
    "case_ledger": _sharded(_BY_PERSON, "by person, as its events (and 0010's backfill)"),
    "case_groups": _sharded(_BY_PERSON, "by person, as its events"),
    "case_index": _sharded(_BY_PERSON, "by person, as its events"),
    "case_timeline": _sharded(_BY_PERSON, "by person, as its events"),
    "case_leads": _sharded(_BY_PERSON, "by person, as its events"),
    "zero_employment_households": _sharded(
        "cityHash64(household_id)", f"{_VIEWED}; no direct inserts"
    ),
    "case_worklist": _sharded(
        _BY_PERSON,
        "written by the worklist keeper from the ledger: a person's rows under all their "
        "keys beside their ledger rows, so the newest row of a (key, person) is on one shard",
    ),
    "money_applications": _sharded(
        "cityHash64(application_id)", f"{_VIEWED} (the applicant's); no direct inserts"
    ),
    "money_months": _sharded(
        "cityHash64(application_id)", f"{_VIEWED} (the applicant's); no direct inserts"
    ),
    "payment_batch_lines": _sharded("cityHash64(batch_id)", f"{_VIEWED}; no direct inserts"),
    "welfare_posts": _sharded("cityHash64(post_id)", f"{_VIEWED}; no direct inserts"),
    "welfare_post_holdings": _sharded(
        "cityHash64(post_id)", f"{_VIEWED} (the holder's); no direct inserts"
    ),
}


@dataclass(frozen=True)
class Cluster:
    """The cluster a rendering is for: its name (in ``remote_servers``, or ``{cluster}`` for
    the servers' macro) and how many shards it has (1: replicated only, no Distributed)."""

    name: str
    shards: int = 2

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_.{}-]+", self.name):
            raise ClusterSchemaError(
                f"cluster name {self.name!r}: use letters, digits, '_', '-', '.' (or "
                "'{cluster}' for the servers' macro), as in remote_servers"
            )
        if self.shards < 1:
            raise ClusterSchemaError(f"--shards {self.shards}: a cluster has 1 shard or more")

    @property
    def sharded(self) -> bool:
        """Whether tables are split over shards (a Distributed table over each)."""
        return self.shards > 1

    @property
    def on(self) -> str:
        """The ``ON CLUSTER`` clause."""
        return f" ON CLUSTER '{self.name}'"


# -- reading a statement -------------------------------------------------------------------

_IDENT = r"([A-Za-z_]\w*)\b(?!\s*\.)"
_CREATE_TABLE = re.compile(r"^\s*CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?" + _IDENT, re.I)
_CREATE_MV = re.compile(
    r"^\s*CREATE\s+MATERIALIZED\s+VIEW\s+(?:IF\s+NOT\s+EXISTS\s+)?" + _IDENT, re.I
)
_CREATE_VIEW = re.compile(
    r"^\s*CREATE\s+(?:OR\s+REPLACE\s+)?VIEW\s+(?:IF\s+NOT\s+EXISTS\s+)?" + _IDENT, re.I
)
_ALTER = re.compile(r"^\s*ALTER\s+TABLE\s+" + _IDENT, re.I)
_DROP = re.compile(r"^\s*DROP\s+(TABLE|VIEW)\s+(?:IF\s+EXISTS\s+)?" + _IDENT, re.I)
_INSERT = re.compile(r"^\s*INSERT\s+INTO\b", re.I)
_ENGINE = re.compile(r"\bENGINE\s*=\s*(\w+)", re.I)
_SETTINGS = re.compile(r"\bSETTINGS\b", re.I)
_TO = re.compile(r"\bTO\s+" + _IDENT, re.I)
# FROM a table (not FROM inside trim(BOTH '"' FROM f(...)): a table is not called)
_FROM = re.compile(r"\bFROM\s+([A-Za-z_]\w*)\b(?!\s*[.(])(\s+AS\s+[A-Za-z_]\w*)?", re.I)
_COLUMN_CHANGE = re.compile(r"^\s*(ADD|DROP|MODIFY|RENAME|COMMENT)\s+COLUMN\b", re.I)
_FAMILY = re.compile(r"^(\w*)MergeTree$")


def _mask(sql: str) -> str:
    """``sql`` with comments blanked and string literals' contents replaced (same length),
    so that patterns match code only and positions carry over to the original."""
    out = list(sql)
    i, n = 0, len(sql)
    while i < n:
        if sql.startswith("--", i):
            end = sql.find("\n", i)
            end = n if end < 0 else end
            out[i:end] = " " * (end - i)
            i = end
        elif sql[i] == "'":
            j = i + 1
            while j < n:
                if sql[j] == "\\" or sql.startswith("''", j):
                    j += 2  # an escaped character, or a quote doubled inside the literal
                elif sql[j] == "'":
                    break
                else:
                    j += 1
            j = min(j, n)
            out[i + 1 : j] = "x" * (j - i - 1)
            i = j + 1
        else:
            i += 1
    return "".join(out)


def _close(masked: str, open_at: int) -> int:
    """The index just after the parenthesis that closes the one at ``open_at``."""
    depth = 0
    for i in range(open_at, len(masked)):
        if masked[i] == "(":
            depth += 1
        elif masked[i] == ")":
            depth -= 1
            if depth == 0:
                return i + 1
    raise ValueError("unbalanced parentheses")


def _split_top(masked: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """Spans of the comma-separated items of ``masked[start:end]`` at parenthesis depth 0."""
    depth, begin = 0, start
    for i in range(start, end):
        c = masked[i]
        depth += (c == "(") - (c == ")")
        if c == "," and depth == 0:
            yield begin, i
            begin = i + 1
    yield begin, end


class _Edits:
    """Replacements by position in one statement, applied at the end (back to front)."""

    def __init__(self, sql: str) -> None:
        self.sql = sql
        self.masked = _mask(sql)
        self._edits: list[tuple[int, int, str]] = []

    def replace(self, start: int, end: int, text: str) -> None:
        self._edits.append((start, end, text))

    def insert(self, at: int, text: str) -> None:
        self._edits.append((at, at, text))

    def apply(self) -> str:
        out = self.sql
        for start, end, text in sorted(self._edits, reverse=True):
            out = out[:start] + text + out[end:]
        return out


# -- rendering -----------------------------------------------------------------------------


def _where(migration: Migration | None, statement: str) -> str:
    head = " ".join(_mask(statement).split())[:70]
    name = f"{migration.version:04d}_{migration.name}" if migration else "statement"
    return f"{name}: {head!r}"


def _placement(table: str, context: str) -> Placement:
    try:
        return PLACEMENTS[table]
    except KeyError:
        raise ClusterSchemaError(
            f"{context}: table {table} has no placement on a cluster; add it to "
            "projections.cluster.PLACEMENTS, sharded by a hash of its key or replicated "
            "everywhere, with the reason"
        ) from None


def _is_sharded(table: str, cluster: Cluster, context: str) -> bool:
    return cluster.sharded and _placement(table, context).sharded


def render_statement(
    statement: str, cluster: Cluster | None, migration: Migration | None = None
) -> tuple[str, ...]:
    """The statements that do on ``cluster`` what ``statement`` does on one node (the
    statement itself when ``cluster`` is None); see the module docstring for the rules."""
    if cluster is None:
        return (statement,)
    context = _where(migration, statement)
    masked = _mask(statement)
    if match := _CREATE_MV.match(masked):
        return (_materialized_view(statement, match, cluster, context),)
    if match := _CREATE_VIEW.match(masked):
        edits = _Edits(statement)
        edits.insert(match.end(1), cluster.on)
        return (edits.apply(),)
    if match := _CREATE_TABLE.match(masked):
        return _table(statement, match, cluster, context)
    if match := _ALTER.match(masked):
        return _alter(statement, match, cluster, context)
    if match := _DROP.match(masked):
        return _drop(statement, match, cluster, context)
    if _INSERT.match(masked):
        return (_insert(statement, cluster, context),)
    raise ClusterSchemaError(
        f"{context}: only CREATE TABLE / VIEW / MATERIALIZED VIEW, ALTER TABLE, DROP and "
        "INSERT are rendered for a cluster; write this statement's cluster form into "
        "projections/cluster.py"
    )


def _table(statement: str, match: re.Match[str], cluster: Cluster, context: str) -> tuple[str, ...]:
    name = match.group(1)
    sharded = _is_sharded(name, cluster, context)
    edits = _Edits(statement)
    masked = edits.masked
    if re.search(r"\bAS\s+SELECT\b", masked, re.I):
        raise ClusterSchemaError(f"{context}: CREATE TABLE … AS SELECT is not rendered")
    engine = _ENGINE.search(masked, match.end())
    if engine is None:
        raise ClusterSchemaError(f"{context}: table {name} names no ENGINE")
    family = _FAMILY.match(engine.group(1))
    if family is None or engine.group(1).startswith("Replicated"):
        raise ClusterSchemaError(
            f"{context}: table {name} has ENGINE = {engine.group(1)}; only the MergeTree "
            "family (not yet replicated) is rendered for a cluster"
        )
    args_end = engine.end()
    rest = masked[args_end:]
    args = ""
    if rest.lstrip().startswith("("):
        open_at = args_end + (len(rest) - len(rest.lstrip()))
        args_end = _close(masked, open_at)
        args = statement[open_at + 1 : args_end - 1].strip()
    path = SHARD_PATH if sharded or not cluster.sharded else EVERYWHERE_PATH
    replicated = f"Replicated{family.group(1)}MergeTree('{path}', '{REPLICA}'"
    edits.replace(engine.start(1), args_end, replicated + (f", {args})" if args else ")"))
    _settings(edits, args_end)
    local = f"{name}{LOCAL_SUFFIX}" if sharded else name
    edits.replace(match.start(1), match.end(1), local + cluster.on)
    rendered = edits.apply()
    if not sharded:
        return (rendered,)
    placement = PLACEMENTS[name]
    distributed = (
        f"-- {name}: the Distributed table the queries read and write, over {local} on every "
        f"shard; rows placed by {placement.key}: {placement.why}\n"
        f"CREATE TABLE IF NOT EXISTS {name}{cluster.on} AS {local}\n"
        f"ENGINE = Distributed('{cluster.name}', currentDatabase(), {local}, {placement.key})"
    )
    return (rendered, distributed)


def _settings(edits: _Edits, after: int) -> None:
    """Translate the table's SETTINGS to their replicated form (module docstring, item 6)."""
    masked, sql = edits.masked, edits.sql
    found = _SETTINGS.search(masked, after)
    pairs: list[tuple[str, str]] = []
    if found:
        for start, end in _split_top(masked, found.end(), len(masked)):
            key, sep, value = sql[start:end].partition("=")
            if not sep:
                raise ClusterSchemaError(f"SETTINGS item {sql[start:end].strip()!r}: no '='")
            pairs.append((key.strip(), value.strip()))
    window = "0"
    kept: list[tuple[str, str]] = []
    for key, value in pairs:
        if key == "non_replicated_deduplication_window":
            window = value
        elif key.startswith("replicated_deduplication_window"):
            raise ClusterSchemaError(
                f"SETTINGS {key}: a replicated setting in a migration; the non-replicated "
                "form is the source (non_replicated_deduplication_window)"
            )
        else:
            kept.append((key, value))
    kept.append(("replicated_deduplication_window", window))
    if window != "0":
        kept.append(("replicated_deduplication_window_seconds", str(COUNT_ONLY_SECONDS)))
    text = "SETTINGS " + ", ".join(f"{k} = {v}" for k, v in kept)
    if found:
        edits.replace(found.start(), len(sql), text)
    else:
        edits.insert(len(sql.rstrip()), "\n" + text)


def _materialized_view(statement: str, match: re.Match[str], cluster: Cluster, context: str) -> str:
    edits = _Edits(statement)
    masked = edits.masked
    edits.insert(match.end(1), cluster.on)
    target = _TO.search(masked, match.end())
    if target is None:
        raise ClusterSchemaError(
            f"{context}: a materialized view without TO keeps an inner table; give it "
            "TO <table> so the table has a placement"
        )
    if _is_sharded(target.group(1), cluster, context):
        edits.replace(target.start(1), target.end(1), target.group(1) + LOCAL_SUFFIX)
    sources = list(_FROM.finditer(masked, target.end()))
    if len({s.group(1) for s in sources}) != 1:
        names = sorted({s.group(1) for s in sources}) or ["none"]
        raise ClusterSchemaError(
            f"{context}: a materialized view must read one table (it fires on inserts into "
            f"that one only); it reads {', '.join(names)}"
        )
    for source in sources:
        table = source.group(1)
        if _is_sharded(table, cluster, context):
            alias = source.group(2) or f" AS {table}"
            edits.replace(source.start(1), source.end(), f"{table}{LOCAL_SUFFIX}{alias}")
    return edits.apply()


def _insert(statement: str, cluster: Cluster, context: str) -> str:
    edits = _Edits(statement)
    for source in _FROM.finditer(edits.masked):
        table = source.group(1)
        if source.group(2) is None and _is_sharded(table, cluster, context):
            edits.insert(source.end(1), f" AS {table}")
    return edits.apply()


def _alter(statement: str, match: re.Match[str], cluster: Cluster, context: str) -> tuple[str, ...]:
    name = match.group(1)
    edits = _Edits(statement)
    if not _is_sharded(name, cluster, context):
        edits.insert(match.end(1), cluster.on)
        return (edits.apply(),)
    edits.replace(match.start(1), match.end(1), name + LOCAL_SUFFIX + cluster.on)
    local = edits.apply()
    masked = edits.masked
    commands = list(_split_top(masked, match.end(), len(masked)))
    if not all(_COLUMN_CHANGE.match(masked[s:e]) for s, e in commands):
        return (local,)
    begin = len(masked) - len(masked.lstrip())  # from ALTER on: the comment stays with the first
    mirror = statement[begin : match.end(1)] + cluster.on + statement[match.end(1) :]
    return (local, mirror)


def _drop(statement: str, match: re.Match[str], cluster: Cluster, context: str) -> tuple[str, ...]:
    name = match.group(2)
    edits = _Edits(statement)
    edits.insert(match.end(2), cluster.on)
    rendered = edits.apply()
    if match.group(1).upper() == "VIEW" or not _is_sharded(name, cluster, context):
        return (rendered,)
    begin = len(edits.masked) - len(edits.masked.lstrip())
    local = statement[begin : match.end(2)] + LOCAL_SUFFIX + cluster.on + statement[match.end(2) :]
    return (rendered, local)


def render(cluster: Cluster | None, directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Every migration with its statements for ``cluster`` (unchanged when None); version,
    name and checksum are the file's, as ``schema_migrations`` records them."""
    out = []
    for migration in load_migrations(directory):
        statements = tuple(
            rendered
            for statement in migration.statements
            for rendered in render_statement(statement, cluster, migration)
        )
        out.append(dataclasses.replace(migration, statements=statements))
    return out


def _record(migration: Migration) -> str:
    """The statement that records ``migration`` as applied, once (as migrate() does)."""
    return (
        "INSERT INTO schema_migrations (version, name, checksum) "
        f"SELECT {migration.version}, '{migration.name}', '{migration.checksum}' "
        f"WHERE (SELECT count() FROM schema_migrations WHERE version = {migration.version}) = 0"
    )


def _header(cluster: Cluster | None) -> str:
    if cluster is None:
        return "-- EAMS schema, single node: what migrate() applies (eams schema render)\n"
    layout = (
        f"{cluster.shards} shards: <name>_local on every node, Distributed <name> over them"
        if cluster.sharded
        else "1 shard: replicated tables, no Distributed layer"
    )
    return (
        f"-- EAMS schema for ClickHouse cluster '{cluster.name}' ({layout}).\n"
        "-- Rendered from projections/migrations by projections/cluster.py "
        "(eams schema render); do not edit.\n"
        "-- Apply on one node, in order: clickhouse-client --multiquery < this file.\n"
    )


def _statements(cluster: Cluster | None, migration: Migration) -> list[str]:
    return [*migration.statements, _record(migration)]


def script(cluster: Cluster | None, directory: Path = MIGRATIONS_DIR) -> str:
    """The whole schema as one SQL script: ``schema_migrations``, then each migration's
    statements followed by its record."""
    parts = [_header(cluster)]
    parts.append(";\n\n".join(render_statement(SCHEMA_MIGRATIONS, cluster)) + ";\n")
    for migration in render(cluster, directory):
        parts.append(f"\n-- {migration.version:04d}_{migration.name} ({migration.checksum})\n")
        parts.append(";\n\n".join(_statements(cluster, migration)) + ";\n")
    return "".join(parts)


def write_directory(
    cluster: Cluster | None, out: Path, directory: Path = MIGRATIONS_DIR
) -> list[Path]:
    """One file per migration under ``out`` (``0000_schema_migrations.sql`` first), to be
    applied in name order; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    first = out / "0000_schema_migrations.sql"
    first.write_text(
        _header(cluster) + ";\n\n".join(render_statement(SCHEMA_MIGRATIONS, cluster)) + ";\n"
    )
    written = [first]
    for migration in render(cluster, directory):
        path = out / f"{migration.version:04d}_{migration.name}.sql"
        path.write_text(_header(cluster) + ";\n\n".join(_statements(cluster, migration)) + ";\n")
        written.append(path)
    return written
