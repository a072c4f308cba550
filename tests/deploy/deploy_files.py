"""What the deploy checks share: the files, and the tools that read them as Docker Compose
and kustomize do (the fixtures built on them are in conftest.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE_FILE = DEPLOY / "compose" / "compose.yaml"
COMPOSE_CONFIG = DEPLOY / "compose" / "target" / "compose-config"
KUSTOMIZE = DEPLOY / "k8s" / "target" / "kustomize"

#: Every variable compose.yaml requires, with a stand-in value (shapes EAMS accepts).
SECRETS = {
    "KAFKA_CLUSTER_ID": "MkU3OEVBNTcwNTJENDM2Qk",
    "KAFKA_ADMIN_PASSWORD": "admin-password",
    "KAFKA_RAW_PASSWORD": "raw-password",
    "KAFKA_STREAM_PASSWORD": "stream-password",
    "CLICKHOUSE_EAMS_PASSWORD": "clickhouse-password",
    "CLICKHOUSE_CLUSTER_SECRET": "cluster-secret",
    "CLICKHOUSE_INTERSERVER_PASSWORD": "interserver-password",
    "EAMS_PSEUDONYM_SECRET": "p" * 40,
    "EAMS_INGEST_SECRET": "i" * 40,
    "EAMS_DLQ_KEY": "ab" * 32,
    "GRAFANA_ADMIN_PASSWORD": "grafana-password",
}


def compose_config(path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``compose-config -f path`` (deploy/compose/check: the loader of ``docker compose
    config``) with ``env`` as the whole environment besides PATH and HOME."""
    if not COMPOSE_CONFIG.is_file():
        pytest.fail(f"{COMPOSE_CONFIG} is missing: run scripts/setup (it builds it with Go)")
    clean = {k: os.environ[k] for k in ("PATH", "HOME") if k in os.environ}
    return subprocess.run(
        [str(COMPOSE_CONFIG), "-f", str(path)],
        env=clean | env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def kustomize_build(directory: Path) -> str:
    """The manifests of ``directory`` as kustomize renders them (kubectl's own, or the one
    scripts/setup builds where kubectl is missing)."""
    if KUSTOMIZE.is_file():
        command = [str(KUSTOMIZE), "build", str(directory)]
    elif shutil.which("kubectl"):
        command = ["kubectl", "kustomize", str(directory)]
    else:
        pytest.fail("neither kubectl nor deploy/k8s/target/kustomize: run scripts/setup")
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def properties(path: Path) -> dict[str, str]:
    """A Java properties file (key=value lines; # comments)."""
    out = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def xml(path: Path) -> ET.Element:
    """A ClickHouse configuration file's root element."""
    return ET.parse(path).getroot()
