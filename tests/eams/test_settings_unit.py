"""Process settings: defaults, derived addresses, the generated pseudonym key, validation."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from eams.settings import Settings
from events.errors import EamsError


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No EAMS_* variable of the calling shell leaks in; relative paths land in tmp_path."""
    for name in list(os.environ):
        if name.startswith("EAMS_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_defaults(tmp_path: Path) -> None:
    s = Settings()
    assert s.state_dir == Path(".eams")
    assert s.clickhouse_dsn == f"chdb://{tmp_path.resolve() / '.eams' / 'clickhouse'}"
    assert s.embedded is True
    assert s.bootstrap == "127.0.0.1:19092"
    assert s.uses_local_kafka is True
    assert s.topics.events == "eams.events"
    assert s.api_url == "http://127.0.0.1:8600"


def test_dsn_is_absolute_for_a_relative_state_dir(tmp_path: Path) -> None:
    s = Settings(state_dir=Path("sub/state"))
    path = s.clickhouse_dsn.removeprefix("chdb://")
    assert Path(path).is_absolute()
    assert Path(path) == tmp_path.resolve() / "sub" / "state" / "clickhouse"


def test_clickhouse_server_is_not_embedded() -> None:
    s = Settings(clickhouse_url="http://x:8123")
    assert s.clickhouse_dsn == "http://x:8123"
    assert s.embedded is False


def test_bootstrap_from_port_or_address() -> None:
    local = Settings(kafka_port=29092)
    assert local.bootstrap == "127.0.0.1:29092"
    assert local.uses_local_kafka is True
    remote = Settings(kafka_bootstrap="kafka.example:9092", kafka_port=29092)
    assert remote.bootstrap == "kafka.example:9092"
    assert remote.uses_local_kafka is False


def test_environment_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EAMS_NAMESPACE", "t1-abc")
    monkeypatch.setenv("EAMS_KAFKA_BOOTSTRAP", "10.0.0.5:9092")
    monkeypatch.setenv("EAMS_HTTP_PORT", "8700")
    s = Settings()
    assert s.topics.ingest_raw == "t1-abc.ingest.raw"
    assert s.bootstrap == "10.0.0.5:9092" and not s.uses_local_kafka
    assert s.http_port == 8700


def test_secret_is_generated_once(tmp_path: Path) -> None:
    state = tmp_path / "state"
    s = Settings(state_dir=state)
    first = s.secret()
    key = state / "pseudonym.key"
    assert key.is_file()
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert len(bytes.fromhex(first.decode())) == 32
    assert s.secret() == first
    assert Settings(state_dir=state).secret() == first
    assert Settings(state_dir=tmp_path / "other").secret() != first


def test_empty_key_file_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "pseudonym.key").write_text("\n")
    with pytest.raises(EamsError):
        Settings(state_dir=state).secret()


def test_configured_secret_wins(tmp_path: Path) -> None:
    key = "k" * 32
    s = Settings(state_dir=tmp_path / "state", pseudonym_secret=key)
    assert s.secret() == key.encode()
    assert not (tmp_path / "state" / "pseudonym.key").exists()
    assert not s.pseudonym_key_missing


@pytest.mark.parametrize("short", ["", "s3cret", "x" * 31])
def test_short_configured_secret_is_refused(tmp_path: Path, short: str) -> None:
    with pytest.raises(EamsError, match="EAMS_PSEUDONYM_SECRET has .* at least 32"):
        Settings(state_dir=tmp_path / "state", pseudonym_secret=short).secret()


def test_short_key_file_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "pseudonym.key").write_text("0123456789abcdef\n")
    with pytest.raises(EamsError, match="at least 32 needed.*restore it from a backup"):
        Settings(state_dir=state).secret()


def test_missing_key_is_reported(tmp_path: Path) -> None:
    s = Settings(state_dir=tmp_path / "state")
    assert s.pseudonym_key_missing
    s.secret()
    assert not s.pseudonym_key_missing


def test_state_dir_is_private(tmp_path: Path) -> None:
    fresh = Settings(state_dir=tmp_path / "new" / "state")
    fresh.secret()
    assert stat.S_IMODE((tmp_path / "new" / "state").stat().st_mode) == 0o700
    loose = tmp_path / "loose"
    loose.mkdir(mode=0o755)
    os.chmod(loose, 0o755)
    Settings(state_dir=loose).ensure_state_dir()
    assert stat.S_IMODE(loose.stat().st_mode) == 0o700


def test_dlq_key_is_generated_once_and_configurable(tmp_path: Path) -> None:
    state = tmp_path / "state"
    assert Settings(state_dir=state).existing_dead_letter_key() is None
    first = Settings(state_dir=state).dead_letter_key()
    assert len(first.secret) == 32
    assert stat.S_IMODE((state / "dlq.key").stat().st_mode) == 0o600
    assert Settings(state_dir=state).existing_dead_letter_key() == first
    given = "ab" * 32
    assert Settings(state_dir=state, dlq_key=given).dead_letter_key() != first
    with pytest.raises(EamsError, match="EAMS_DLQ_KEY must be 64 hex characters"):
        Settings(state_dir=state, dlq_key="too-short").dead_letter_key()


def test_raw_retention(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().raw_retention_ms == 24 * 3_600_000
    monkeypatch.setenv("EAMS_RAW_RETENTION_HOURS", "0.5")
    assert Settings().raw_retention_ms == 1_800_000
    monkeypatch.setenv("EAMS_RAW_RETENTION_HOURS", "0")
    with pytest.raises(ValidationError):
        Settings()


@pytest.mark.parametrize("namespace", ["Bad NS", "1abc", "", "a.b", "UPPER"])
def test_invalid_namespace_is_rejected(namespace: str) -> None:
    with pytest.raises(ValidationError) as info:
        Settings(namespace=namespace)
    assert info.value.errors()[0]["loc"] == ("namespace",)


@pytest.mark.parametrize(
    ("field", "value"), [("topic_partitions", 0), ("dedupe_window", 10), ("projector_batch", 0)]
)
def test_bounds_are_checked(field: str, value: int) -> None:
    with pytest.raises(ValidationError):
        Settings(**{field: value})


def test_settings_are_frozen() -> None:
    s = Settings()
    with pytest.raises(ValidationError):
        s.namespace = "other"  # type: ignore[misc]
