"""Versioned schema migrations, applied in order at start; ``rebuild`` drops and reapplies.

Each file ``projections/migrations/NNNN_name.sql`` is one version; statements are
separated by a semicolon at the end of a line. Applied versions are recorded in
``schema_migrations`` with a checksum, and a changed file that was already applied is an
error (write a new migration instead).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from projections.client import Store
from projections.errors import MigrationError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_CREATED = re.compile(
    r"CREATE\s+(MATERIALIZED\s+VIEW|TABLE|VIEW)\s+IF\s+NOT\s+EXISTS\s+(\w+)", re.IGNORECASE
)


@dataclass(frozen=True)
class Migration:
    """One schema version read from a file."""

    version: int
    name: str
    statements: tuple[str, ...]
    checksum: str


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Read every migration file, in version order."""
    found: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path}: name must look like 0001_some_name.sql")
        text = path.read_text()
        statements = tuple(s.strip() for s in re.split(r";\s*$", text, flags=re.M) if _sql(s))
        found.append(
            Migration(
                version=int(match.group(1)),
                name=match.group(2),
                statements=statements,
                checksum=hashlib.sha256(text.encode()).hexdigest()[:16],
            )
        )
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"{directory}: two migrations share a version number")
    return found


def _sql(chunk: str) -> bool:
    """True when a chunk holds more than comments and blank lines."""
    return any(line.strip() and not line.strip().startswith("--") for line in chunk.splitlines())


#: The record of applied versions, created before anything else (``projections.cluster``
#: renders the same statement for a cluster).
SCHEMA_MIGRATIONS = (
    "CREATE TABLE IF NOT EXISTS schema_migrations (version UInt32, name String, "
    "checksum String, applied_at DateTime64(3) DEFAULT now64(3)) "
    "ENGINE = MergeTree ORDER BY version"
)


def migrate(store: Store) -> list[int]:
    """Apply the migrations not yet applied; return the versions applied now."""
    store.command(SCHEMA_MIGRATIONS)
    applied = {int(v): c for v, c in store.rows("SELECT version, checksum FROM schema_migrations")}
    done: list[int] = []
    for migration in load_migrations():
        if migration.version in applied:
            if applied[migration.version] != migration.checksum:
                raise MigrationError(
                    f"migration {migration.version:04d}_{migration.name} changed after it was "
                    "applied; add a new migration instead, or run `eams rebuild`"
                )
            continue
        for statement in migration.statements:
            store.command(statement)
        store.insert(
            "schema_migrations",
            [(migration.version, migration.name, migration.checksum)],
            ["version", "name", "checksum"],
        )
        done.append(migration.version)
    return done


def created_objects() -> list[str]:
    """Every table and view the migrations create, once each, views first (drop order); a
    later migration may recreate a view with a new definition."""
    views: list[str] = []
    tables: list[str] = []
    for migration in load_migrations():
        for statement in migration.statements:
            for kind, name in _CREATED.findall(statement):
                (views if "VIEW" in kind.upper() else tables).append(name)
    return list(dict.fromkeys(views + tables))


#: Tables a rebuild keeps: not projections of the log but records about it (what could not
#: be projected, and why), which replaying the log cannot recreate.
KEPT = frozenset({"quarantine"})


def drop_all(store: Store) -> None:
    """Drop every projection object and the migration record (for a rebuild); the tables of
    :data:`KEPT` stay (their migrations use ``IF NOT EXISTS`` and apply again as no-ops)."""
    for name in created_objects():
        if name not in KEPT:
            store.command(f"DROP TABLE IF EXISTS {name} SYNC")
    store.command("DROP TABLE IF EXISTS schema_migrations SYNC")
