"""The cluster rendering of the migrations (projections.cluster): its rules read off the
text, ClickHouse's own parser on every rendered statement, and the rendered schema applied
in chDB on a one-node cluster with Distributed tables, against the single-node schema."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from projections.cluster import (
    COUNT_ONLY_SECONDS,
    LOCAL_SUFFIX,
    PLACEMENTS,
    Cluster,
    _mask,
    render,
    render_statement,
    script,
    write_directory,
)
from projections.errors import ClusterSchemaError, MigrationError
from projections.migrations import SCHEMA_MIGRATIONS, created_objects, load_migrations

CLUSTER = Cluster("eams", shards=2)
HELPER = Path(__file__).with_name("chdb_cluster.py")
SHARDED = {name for name, p in PLACEMENTS.items() if p.sharded}
DDL = re.compile(r"^\s*(CREATE|ALTER|DROP)\b", re.I)


def statements(cluster: Cluster | None) -> list[str]:
    return [s for m in render(cluster) for s in m.statements]


def code(statement: str) -> str:
    """The statement without its comments, on one line (string literals kept)."""
    masked = _mask(statement)  # comments blanked; a literal's contents become 'x', not ' '
    kept = (c if m != " " or c.isspace() else " " for c, m in zip(statement, masked, strict=True))
    return " ".join("".join(kept).split())


def test_every_table_has_a_placement_and_no_other() -> None:
    tables = {o for o in created_objects() if not o.startswith("mv_")}
    assert set(PLACEMENTS) == tables | {"schema_migrations"}
    for name, placement in PLACEMENTS.items():
        assert placement.why, name
        assert (placement.key is not None) == placement.sharded, name
        if placement.key:  # a replayed batch must split over the shards as before
            assert "rand" not in placement.key, name


def test_without_a_cluster_the_statements_are_the_migrations_byte_for_byte() -> None:
    plain = load_migrations()
    assert render(None) == plain  # versions, names, checksums and every statement
    text = script(None)
    assert SCHEMA_MIGRATIONS in text
    for migration in plain:
        for statement in migration.statements:
            assert statement + ";\n" in text


@pytest.mark.parametrize("shards", [1, 2, 3])
def test_every_migration_renders_and_keeps_its_record(shards: int) -> None:
    rendered = render(Cluster("eams", shards=shards))
    plain = load_migrations()
    assert [(m.version, m.name, m.checksum) for m in rendered] == [
        (m.version, m.name, m.checksum) for m in plain
    ]
    for r, p in zip(rendered, plain, strict=True):
        assert len(r.statements) >= len(p.statements)


@pytest.mark.parametrize("shards", [1, 2])
def test_every_ddl_statement_runs_on_the_cluster(shards: int) -> None:
    cluster = Cluster("eams", shards=shards)
    for statement in [*statements(cluster), *render_statement(SCHEMA_MIGRATIONS, cluster)]:
        if DDL.match(_mask(statement)):
            assert " ON CLUSTER 'eams'" in statement, code(statement)[:120]
        else:
            assert code(statement).startswith("INSERT INTO"), code(statement)[:120]


@pytest.mark.parametrize("shards", [1, 2])
def test_no_bare_merge_tree_and_no_non_replicated_setting(shards: int) -> None:
    for statement in statements(Cluster("eams", shards=shards)):
        for engine in re.findall(r"ENGINE\s*=\s*(\w+)", code(statement)):
            assert engine == "Distributed" or re.fullmatch(r"Replicated\w*MergeTree", engine)
        assert "non_replicated" not in code(statement)


def test_replicated_engines_keep_their_arguments_after_the_path() -> None:
    text = "\n".join(statements(CLUSTER))
    path = r"'/clickhouse/tables/\{shard\}/\{database\}/\{table\}', '\{replica\}'"
    assert re.search(rf"ReplicatedReplacingMergeTree\({path}, version\)", text)
    assert re.search(
        r"ReplicatedReplacingMergeTree\('/clickhouse/tables/all/\{database\}/"
        r"\{table\}', '\{replica\}', updated_at\)",
        text,
    )  # quarantine: everywhere
    assert re.search(rf"ReplicatedSummingMergeTree\({path}\)", text)
    assert re.search(rf"ReplicatedAggregatingMergeTree\({path}\)", text)


def test_deduplication_windows_translate_to_their_replicated_form() -> None:
    plain = {m.version: m for m in load_migrations()}
    for migration in render(CLUSTER):
        for statement in migration.statements:
            created = re.match(r"CREATE TABLE IF NOT EXISTS (\w+) ON CLUSTER", code(statement))
            if not created or "ENGINE = Distributed" in code(statement):
                continue
            table = created.group(1).removesuffix(LOCAL_SUFFIX)
            source = next(s for s in plain[migration.version].statements if f" {table}\n" in s)
            window = re.search(r"non_replicated_deduplication_window = (\d+)", source)
            if window:
                assert f"replicated_deduplication_window = {window.group(1)}" in statement
                assert f"_window_seconds = {COUNT_ONLY_SECONDS}" in statement
            else:  # deduplicated nothing on one node: nothing on the cluster either
                assert statement.endswith("SETTINGS replicated_deduplication_window = 0")
    assert "index_granularity = 256, replicated_deduplication_window = 10000" in script(CLUSTER)


def test_each_sharded_table_has_a_distributed_table_under_its_own_name() -> None:
    text = "\n".join(code(s) for s in statements(CLUSTER))
    for name in SHARDED - {"schema_migrations"}:
        local = f"{name}{LOCAL_SUFFIX}"
        assert f"CREATE TABLE IF NOT EXISTS {local} ON CLUSTER 'eams' (" in text, name
        key = re.escape(str(PLACEMENTS[name].key))
        assert re.search(
            rf"CREATE TABLE IF NOT EXISTS {name} ON CLUSTER 'eams' AS {local} ENGINE = "
            rf"Distributed\('eams', currentDatabase\(\), {local}, {key}\)",
            text,
        ), name
    for name in set(PLACEMENTS) - SHARDED:  # replicated everywhere: no _local, no Distributed
        assert f"{name}{LOCAL_SUFFIX}" not in text


def test_views_read_and_write_the_local_tables() -> None:
    views = [code(s) for s in statements(CLUSTER) if "MATERIALIZED VIEW" in code(s)[:40]]
    assert len(views) >= 20
    for view in views:
        assert re.search(r"ON CLUSTER 'eams' TO \w+_local AS SELECT", view), view[:100]
        assert " FROM events_local AS events " in view + " ", view[:100]
        assert not re.search(r"FROM events(?!_local)\b", view), view[:100]


def test_column_changes_reach_both_tables_and_inserts_only_name_their_tables() -> None:
    alters = [code(s) for s in statements(CLUSTER) if code(s).startswith("ALTER")]
    assert "ALTER TABLE alerts_local ON CLUSTER 'eams' ADD COLUMN IF NOT EXISTS silence_end" in (
        " ".join(alters)
    )
    for name in ("alerts", "case_ledger"):
        assert any(a.startswith(f"ALTER TABLE {name} ON CLUSTER") for a in alters)
        assert any(a.startswith(f"ALTER TABLE {name}_local ON CLUSTER") for a in alters)
    plain_inserts = [s for s in statements(None) if code(s).startswith("INSERT")]
    assert plain_inserts  # the backfills of 0006, 0008 and 0010
    inserts = [s for s in statements(CLUSTER) if code(s).startswith("INSERT")]
    assert [re.sub(r"\b(FROM \w+) AS \w+", r"\1", s) for s in inserts] == plain_inserts
    assert all(" AS " in re.search(r"FROM \w+( AS \w+)?", code(s))[0] for s in inserts)


def test_one_shard_keeps_the_names() -> None:
    text = "\n".join(statements(Cluster("eams", shards=1)))
    assert "Distributed" not in text and "_local" not in text
    assert "TO region_daily_facts AS" in text


def test_the_script_and_the_directory_hold_the_same_statements(tmp_path: Path) -> None:
    files = write_directory(CLUSTER, tmp_path)
    assert files[0].name == "0000_schema_migrations.sql"
    assert [f.name for f in files[1:]] == [f"{m.version:04d}_{m.name}.sql" for m in render(None)]
    joined = "".join(f.read_text() for f in files)
    whole = script(CLUSTER)
    for statement in statements(CLUSTER):
        assert statement + ";\n" in joined and statement + ";\n" in whole
    for migration in render(None):
        assert f"SELECT {migration.version}, '{migration.name}', '{migration.checksum}'" in joined


# -- what the renderer refuses, and says so -------------------------------------------------


def write(directory: Path, sql: str) -> None:
    (directory / "0001_first.sql").write_text(sql)


@pytest.mark.parametrize(
    ("sql", "said"),
    [
        ("CREATE TABLE IF NOT EXISTS events (x UInt8) ENGINE = Memory", "ENGINE = Memory"),
        (
            "CREATE TABLE IF NOT EXISTS newtable (x UInt8) ENGINE = MergeTree ORDER BY x",
            "table newtable has no placement",
        ),
        (
            "CREATE MATERIALIZED VIEW IF NOT EXISTS mv_x TO persons AS SELECT person_id FROM "
            "events WHERE person_id IN (SELECT person_id FROM case_index)",
            "reads case_index, events",
        ),
        (
            "CREATE MATERIALIZED VIEW IF NOT EXISTS mv_x ENGINE = MergeTree ORDER BY x AS "
            "SELECT 1 AS x FROM events",
            "without TO",
        ),
        ("OPTIMIZE TABLE events FINAL", "OPTIMIZE TABLE events FINAL"),
    ],
)
def test_what_cannot_be_rendered_is_an_error_naming_the_migration(
    tmp_path: Path, sql: str, said: str
) -> None:
    write(tmp_path, sql + ";\n")
    with pytest.raises(ClusterSchemaError, match=re.escape(said)) as info:
        render(CLUSTER, tmp_path)
    assert "0001_first" in str(info.value)
    assert isinstance(info.value, MigrationError)


def test_comments_and_strings_are_not_read_as_sql(tmp_path: Path) -> None:
    write(
        tmp_path,
        "-- ENGINE = Memory FROM case_index\n"
        "CREATE MATERIALIZED VIEW IF NOT EXISTS mv_persons TO persons AS\n"
        "SELECT person_id, trim(BOTH '\"' FROM JSONExtractRaw(payload, 'a -- FROM x''s')) AS a\n"
        "FROM events WHERE note != 'FROM households';\n",
    )
    (only,) = render(CLUSTER, tmp_path)[0].statements
    assert only.startswith("-- ENGINE = Memory FROM case_index\n")
    assert "TO persons_local AS" in only and "FROM events_local AS events WHERE" in only
    assert "'FROM households'" in only and "'a -- FROM x''s'" in only


@pytest.mark.parametrize("name", ["", "eams; DROP", "a b", "'x'"])
def test_a_cluster_name_must_be_a_plain_name(name: str) -> None:
    with pytest.raises(ClusterSchemaError, match="remote_servers"):
        Cluster(name)
    with pytest.raises(ClusterSchemaError, match="1 shard or more"):
        Cluster("eams", shards=0)


# -- ClickHouse itself: its parser, and the schema applied on a one-node cluster ----------

CONFIG = """<clickhouse>
  <tcp_port>9000</tcp_port>
  <remote_servers><eams><shard><internal_replication>true</internal_replication>
    <replica><host>localhost</host><port>9000</port></replica></shard></eams></remote_servers>
  <macros><cluster>eams</cluster><shard>01</shard><replica>node-1</replica></macros>
</clickhouse>
"""

EVENTS = """INSERT INTO events (event_id, event_type, occurred_at, recorded_at, region, city,
aggregate_id, person_id, target_group, status, laid_off, payload, kafka_partition, kafka_offset)
VALUES
(generateUUIDv4(), 'person.registered', '2026-07-01 10:00:00', '2026-07-01 10:00:00', '371302',
 '371300', 'p1', 'p1', 'temporary_assistance', 'registered', 0, '{}', 0, 1),
(generateUUIDv4(), 'person.registered', '2026-07-01 11:00:00', '2026-07-01 11:00:00', '370102',
 '370100', 'p2', 'p2', 'employment_difficulty', 'registered', 0, '{}', 1, 1),
(generateUUIDv4(), 'layoff.reported', '2026-07-01 12:00:00', '2026-07-01 12:00:00', '371302',
 '371300', 'e1', '', '', '', 250, '{}', 2, 1),
(generateUUIDv4(), 'alert.raised', '2026-07-01 13:00:00', '2026-07-01 13:00:00', '371300',
 '371300', 'a1', '', '', '', 0, '{"level": "II", "rule": "layoffs"}', 0, 2)"""

READS = {
    "facts": "SELECT region, day, sum(events), sum(registrations), sum(people_laid_off), "
    "sum(concentrated_layoffs) FROM region_daily_facts GROUP BY region, day ORDER BY region",
    "persons": "SELECT person_id, argMaxMerge(region), argMaxMerge(target_group), sum(events) "
    "FROM persons GROUP BY person_id ORDER BY person_id",
    "alerts": "SELECT alert_id, argMaxIfMerge(level), any(rule) FROM alerts GROUP BY alert_id",
    "ledger": "SELECT person_id FROM case_ledger GROUP BY person_id ORDER BY person_id",
    "applied": "SELECT version, name, checksum FROM schema_migrations ORDER BY version",
}


def as_one_node(statement: str) -> str:
    """What this machine can run of a rendered statement: no Keeper here, so no ON CLUSTER
    (its DDL queue) and no replication; everything else, Distributed included, as rendered."""
    statement = statement.replace(" ON CLUSTER 'eams'", "")
    return re.sub(r"Replicated(\w*MergeTree)\('[^']*', '[^']*'(?:, )?", r"\1(", statement)


def split(text: str) -> list[str]:
    return [s.strip() for s in re.split(r";\s*$", text, flags=re.M) if code(s)]


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One chDB process: the parser on every rendered statement; the cluster script applied
    (as :func:`as_one_node`) in ``default`` and the single-node script in ``plain``; the same
    events inserted into both; the reads of :data:`READS` from both."""
    config = tmp_path_factory.mktemp("chdb-cluster") / "config.xml"
    config.write_text(CONFIG)
    rendered = split(script(CLUSTER))
    run = [as_one_node(s) for s in rendered]
    run += ["SET distributed_foreground_insert = 1", EVENTS]
    run += ["CREATE DATABASE plain", "USE plain", *split(script(None)), EVENTS, "USE default"]
    checks = {f"cluster_{k}": v for k, v in READS.items()}
    checks |= {f"plain_{k}": v.replace(" FROM ", " FROM plain.") for k, v in READS.items()}
    checks["tables"] = (
        "SELECT name, engine FROM system.tables WHERE database = 'default' ORDER BY name"
    )
    checks["keys"] = (
        " UNION ALL ".join(  # every sharding key, on its table's columns
            f"SELECT '{name}', toTypeName({p.key}) FROM {name}_local LIMIT 1"
            for name, p in PLACEMENTS.items()
            if p.sharded
        )
        or "SELECT 1"
    )
    job = {
        "parse": rendered + split(script(Cluster("eams", shards=1))),
        "run": run,
        "queries": checks,
    }
    done = subprocess.run(
        [sys.executable, str(HELPER), str(config)],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    answer: dict[str, Any] = json.loads(done.stdout)
    answer["parsed"] = job["parse"]
    return answer


def test_clickhouse_parses_every_rendered_statement(engine: dict[str, Any]) -> None:
    parsed = zip(engine["parsed"], engine["parse"], strict=True)
    assert not [(statement[:200], error) for statement, error in parsed if error]


def test_the_rendered_schema_applies_and_answers_as_the_single_node_one(
    engine: dict[str, Any],
) -> None:
    assert engine["run"] is None, engine["run"]
    queries = engine["queries"]
    for name in READS:
        assert not isinstance(queries[f"cluster_{name}"], dict), queries[f"cluster_{name}"]
        assert queries[f"cluster_{name}"] == queries[f"plain_{name}"], name
    assert queries["cluster_facts"]  # the events reached the views through Distributed
    assert [r[0] for r in queries["cluster_persons"]] == ["p1", "p2"]
    assert len(queries["cluster_applied"]) == len(load_migrations())


def test_sharded_tables_are_distributed_over_their_local_tables(engine: dict[str, Any]) -> None:
    tables = dict(map(tuple, engine["queries"]["tables"]))
    for name in SHARDED:
        assert tables[name] == "Distributed", name
        assert tables[f"{name}_local"].endswith("MergeTree"), name
    for name in set(PLACEMENTS) - SHARDED:
        assert tables[name].endswith("MergeTree"), name
    keys = engine["queries"]["keys"]
    assert not isinstance(keys, dict), keys  # each key is an expression of its table's columns
