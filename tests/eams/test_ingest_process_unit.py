"""An ingest process uses the keys of the ``eams run`` it works beside, never its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from eams.errors import ConfigError
from eams.ingest_process import shared_keys
from eams.settings import Settings


def test_an_ingest_process_without_the_shared_keys_refuses_and_makes_none(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with pytest.raises(ConfigError) as refused:
        shared_keys(Settings(state_dir=state))
    message = str(refused.value)
    for name in ("pseudonym key", "ingest signing key", "DLQ key"):
        assert name in message
    assert "eams run" in message
    assert not state.exists() or not list(state.iterdir())  # no key of its own was made


def test_an_ingest_process_finds_the_keys_eams_run_made(tmp_path: Path) -> None:
    run = Settings(state_dir=tmp_path / "state")
    # what eams run creates before its ingest child starts
    run.secret()
    run.ingest_key()
    dlq_key = run.dead_letter_key()
    assert shared_keys(Settings(state_dir=tmp_path / "state")).key_id == dlq_key.key_id
