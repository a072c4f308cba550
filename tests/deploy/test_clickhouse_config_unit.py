"""deploy/clickhouse as ClickHouse reads it: chDB (the same engine, 26.9) started with the
servers' cluster.xml and a server's environment lists the cluster of 2 shards x 2 replicas
and the macros the replica paths use; the profile's settings are ones ClickHouse accepts,
with their values."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest
from deploy_files import DEPLOY, ROOT, xml

HELPER = ROOT / "tests" / "projections" / "chdb_cluster.py"
SERVER_ENV = {
    "CH_SHARD": "02",
    "CH_REPLICA": "clickhouse-s2-1",
    "CH_HOST": "clickhouse-s2-1.clickhouse",
    "CLICKHOUSE_CLUSTER_SECRET": "cluster-secret",
    "CLICKHOUSE_INTERSERVER_PASSWORD": "interserver-password",
}


def profile() -> dict[str, str]:
    found = xml(DEPLOY / "clickhouse" / "users.d" / "eams.xml").find("profiles/eams")
    assert found is not None
    return {setting.tag: str(setting.text) for setting in found}


@pytest.fixture(scope="module")
def server() -> dict[str, Any]:
    """What a ClickHouse server with cluster.xml and SERVER_ENV reports about itself."""
    job = {
        "run": [f"SET {name} = '{value}'" for name, value in profile().items()],
        "queries": {
            "clusters": "SELECT shard_num, replica_num, host_name, port FROM system.clusters "
            "WHERE cluster = 'eams' ORDER BY shard_num, replica_num",
            "macros": "SELECT macro, substitution FROM system.macros ORDER BY macro",
            "settings": "SELECT name, value FROM system.settings WHERE changed ORDER BY name",
        },
    }
    done = subprocess.run(
        [sys.executable, str(HELPER), str(DEPLOY / "clickhouse" / "config.d" / "cluster.xml")],
        input=json.dumps(job),
        env=os.environ | SERVER_ENV,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def test_clickhouse_reads_the_cluster_as_two_shards_of_two_replicas(server: dict[str, Any]) -> None:
    assert server["queries"]["clusters"] == [
        ["1", "1", "clickhouse-s1-0.clickhouse", "9000"],
        ["1", "2", "clickhouse-s1-1.clickhouse", "9000"],
        ["2", "1", "clickhouse-s2-0.clickhouse", "9000"],
        ["2", "2", "clickhouse-s2-1.clickhouse", "9000"],
    ]


def test_the_macros_come_from_the_servers_environment(server: dict[str, Any]) -> None:
    assert server["queries"]["macros"] == [
        ["cluster", "eams"],
        ["replica", SERVER_ENV["CH_REPLICA"]],
        ["shard", SERVER_ENV["CH_SHARD"]],
    ]


def test_the_profile_holds_settings_clickhouse_accepts(server: dict[str, Any]) -> None:
    assert server["run"] is None, server["run"]  # SET of every one of them was taken
    changed = dict(map(tuple, server["queries"]["settings"]))
    for name, value in profile().items():
        assert changed.get(name, value) == value, name
    assert profile()["distributed_foreground_insert"] == "1"
    assert profile()["distributed_product_mode"] == "global"


def test_the_eams_user_has_the_profile_and_a_password_from_the_environment() -> None:
    user = xml(DEPLOY / "clickhouse" / "users.d" / "eams.xml").find("users/eams")
    assert user is not None
    assert user.findtext("profile") == "eams"
    password = user.find("password")
    assert password is not None and password.get("from_env") == "CLICKHOUSE_EAMS_PASSWORD"
    secret = xml(DEPLOY / "clickhouse" / "config.d" / "cluster.xml").find(
        "remote_servers/eams/secret"
    )
    assert secret is not None and secret.get("from_env") == "CLICKHOUSE_CLUSTER_SECRET"
