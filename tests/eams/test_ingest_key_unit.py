"""The key that signs raw records: one file per state dir (0600), or EAMS_INGEST_SECRET."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from eams.errors import ConfigError
from eams.settings import Settings


def test_the_key_is_created_once_and_shared(tmp_path: Path) -> None:
    api = Settings(state_dir=tmp_path / "state")
    key = api.ingest_key()
    path = tmp_path / "state" / "ingest.key"
    assert len(key) >= 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    # the ingest child gets the same settings, the importer the same state dir
    assert Settings(**api.model_dump()).ingest_key() == key
    assert Settings(state_dir=tmp_path / "state").ingest_key() == key
    assert not list((tmp_path / "state").glob("*.tmp"))


def test_a_configured_secret_wins_and_must_be_long(tmp_path: Path) -> None:
    secret = "s" * 40
    assert Settings(state_dir=tmp_path, ingest_secret=SecretStr(secret)).ingest_key() == (
        secret.encode()
    )
    assert not (tmp_path / "ingest.key").exists()
    with pytest.raises(ConfigError, match="at least 32"):
        Settings(state_dir=tmp_path, ingest_secret=SecretStr("short")).ingest_key()


def test_a_damaged_key_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "ingest.key").write_text("abc")
    with pytest.raises(ConfigError, match="ingest.key holds no usable key"):
        Settings(state_dir=tmp_path).ingest_key()
