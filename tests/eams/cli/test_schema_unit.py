"""``eams schema render``: the script on stdout, one file per migration with --out, and a
wrong cluster name refused with what to use."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from eams.cli.app import app
from projections.cluster import Cluster, script

runner = CliRunner()


def test_without_a_cluster_it_prints_what_migrate_applies() -> None:
    done = runner.invoke(app, ["schema", "render"])
    assert done.exit_code == 0, done.output
    assert done.stdout == script(None)


def test_with_a_cluster_it_prints_the_cluster_form() -> None:
    done = runner.invoke(app, ["schema", "render", "--cluster", "{cluster}", "--shards", "3"])
    assert done.exit_code == 0, done.output
    assert done.stdout == script(Cluster("{cluster}", shards=3))
    assert "ON CLUSTER '{cluster}'" in done.stdout


def test_out_writes_one_file_per_migration(tmp_path: Path) -> None:
    done = runner.invoke(app, ["schema", "render", "--cluster", "eams", "--out", str(tmp_path)])
    assert done.exit_code == 0, done.output
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names[0] == "0000_schema_migrations.sql" and "0001_events.sql" in names
    assert "events_local" in (tmp_path / "0001_events.sql").read_text()


def test_help_teaches_the_layout_and_a_bad_name_says_what_to_use() -> None:
    shown = runner.invoke(app, ["schema", "render", "--help"]).output
    for words in ("ON CLUSTER", "<name>_local", "Distributed", "--shards 1", "eams rebuild"):
        assert words in shown
    done = runner.invoke(app, ["schema", "render", "--cluster", "a b"])
    assert done.exit_code != 0
    assert "remote_servers" in str(done.exception)
