"""Reading the schema migrations: versions, statements and the objects they create."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from projections.errors import MigrationError, ProjectionError
from projections.migrations import MIGRATIONS_DIR, Migration, created_objects, load_migrations

TABLES = ("events", "projection_positions", "region_daily_facts", "disaster_area_state")


@pytest.fixture(scope="module")
def migrations() -> list[Migration]:
    """The migrations shipped with the package."""
    return load_migrations()


def test_versions_are_consecutive_from_one(migrations: list[Migration]) -> None:
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    assert len(migrations) == len(list(MIGRATIONS_DIR.glob("*.sql")))
    for m in migrations:
        assert (MIGRATIONS_DIR / f"{m.version:04d}_{m.name}.sql").is_file()


def test_statements_are_sql_not_comments(migrations: list[Migration]) -> None:
    for m in migrations:
        assert m.statements, m.name
        for statement in m.statements:
            code = [
                ln
                for ln in statement.splitlines()
                if ln.strip() and not ln.strip().startswith("--")
            ]
            assert code, f"{m.name}: a statement holds only comments"
            assert not statement.rstrip().endswith(";")


def test_checksums_are_stable_and_distinct(migrations: list[Migration]) -> None:
    again = load_migrations()
    assert [m.checksum for m in again] == [m.checksum for m in migrations]
    assert len({m.checksum for m in migrations}) == len(migrations)
    assert all(re.fullmatch(r"[0-9a-f]{16}", m.checksum) for m in migrations)


def test_created_objects_views_first() -> None:
    objects = created_objects()
    for name in (*TABLES, "persons", "households"):
        assert name in objects
    assert len(objects) == len(set(objects))
    views = [o for o in objects if o.startswith("mv_")]
    assert views, "the migrations define materialized views"
    assert objects[: len(views)] == views
    assert {"mv_region_daily_facts", "mv_disaster_area_state", "mv_persons"} <= set(views)


def write(
    directory: Path, name: str, text: str = "CREATE TABLE IF NOT EXISTS t (x UInt8);\n"
) -> None:
    (directory / name).write_text(text)


@pytest.mark.parametrize(
    "bad", ["1_events.sql", "0001-events.sql", "0001_Events.sql", "events.sql"]
)
def test_badly_named_file_is_an_error(tmp_path: Path, bad: str) -> None:
    write(tmp_path, "0001_ok.sql")
    write(tmp_path, bad)
    with pytest.raises(MigrationError, match=re.escape(bad)) as info:
        load_migrations(tmp_path)
    assert isinstance(info.value, ProjectionError)
    assert "0001_some_name.sql" in str(info.value)


def test_duplicate_version_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "0001_a.sql")
    write(tmp_path, "0001_b.sql")
    with pytest.raises(MigrationError, match="share a version"):
        load_migrations(tmp_path)


def test_statement_split_drops_comment_only_chunks(tmp_path: Path) -> None:
    text = (
        "-- header comment\n"
        "CREATE TABLE IF NOT EXISTS a (x UInt8);\n"
        "-- between\n\n"
        "CREATE TABLE IF NOT EXISTS b (s String DEFAULT 'x;y');\n"
        "-- trailing comment only\n"
    )
    write(tmp_path, "0002_two.sql", text)
    write(tmp_path, "0001_one.sql")
    found = load_migrations(tmp_path)
    assert [(m.version, m.name) for m in found] == [(1, "one"), (2, "two")]
    two = found[1].statements
    assert len(two) == 2
    assert two[0].endswith("CREATE TABLE IF NOT EXISTS a (x UInt8)")
    assert two[1].startswith("-- between")
    assert "'x;y'" in two[1]


def test_empty_directory_has_no_migrations(tmp_path: Path) -> None:
    assert load_migrations(tmp_path) == []
