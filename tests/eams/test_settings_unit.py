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
    s = Settings(state_dir=tmp_path / "state", pseudonym_secret="s3cret")
    assert s.secret() == b"s3cret"
    assert not (tmp_path / "state" / "pseudonym.key").exists()


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
