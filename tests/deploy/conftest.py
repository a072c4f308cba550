"""The deploy checks' fixtures: the Compose project as Docker Compose's loader reads it, and
the Kubernetes objects as kustomize renders them (helpers in deploy_files.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from deploy_files import COMPOSE_FILE, DEPLOY, SECRETS, compose_config, kustomize_build


@pytest.fixture(scope="session")
def compose() -> dict[str, Any]:
    """The Compose project, interpolated, validated and normalised as Docker Compose does."""
    done = compose_config(COMPOSE_FILE, SECRETS)
    assert done.returncode == 0, done.stderr
    project: dict[str, Any] = json.loads(done.stdout)
    return project


@pytest.fixture(scope="session")
def k8s() -> list[dict[str, Any]]:
    """Every Kubernetes object ``kubectl apply -k deploy`` would send."""
    return [doc for doc in yaml.safe_load_all(kustomize_build(DEPLOY)) if doc]
