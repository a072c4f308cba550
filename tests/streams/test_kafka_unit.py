"""Client security settings: KafkaAccess → aiokafka options, Settings.kafka(role), ACL rules."""

from __future__ import annotations

import json
import os
import ssl
from pathlib import Path

import pytest

from eams.settings import Settings
from events.errors import ConfigError
from streams.acls import Operation, PatternType, ResourceType, namespace_acls
from streams.errors import KafkaAccessError
from streams.kafka import KafkaAccess, read_credentials
from streams.topics import TopicNames


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No EAMS_* variable of the calling shell leaks in."""
    for name in list(os.environ):
        if name.startswith("EAMS_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def _credentials(state: Path) -> None:
    (state / "kafka").mkdir(parents=True)
    creds = {
        role: {"username": f"eams-{role}", "password": f"pw-{role}"}
        for role in ("admin", "raw", "stream", "controller")
    }
    (state / "kafka" / "credentials.json").write_text(json.dumps(creds))


def test_plaintext_options_are_the_address_only() -> None:
    options = KafkaAccess.plaintext("k:9092").client_options()
    assert options == {"bootstrap_servers": "k:9092", "security_protocol": "PLAINTEXT"}


def test_sasl_options_carry_the_principal_and_hide_the_password() -> None:
    access = KafkaAccess("k:9092", "SASL_PLAINTEXT", "SCRAM-SHA-512", "eams-raw", "s3cret")
    assert access.client_options() == {
        "bootstrap_servers": "k:9092",
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "eams-raw",
        "sasl_plain_password": "s3cret",
    }
    assert access.principal == "User:eams-raw"
    assert "s3cret" not in repr(access)


def test_sasl_ssl_builds_a_verifying_tls_context() -> None:
    access = KafkaAccess("k:9093", "SASL_SSL", "SCRAM-SHA-256", "u", "p")
    context = access.client_options()["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def test_missing_credentials_name_the_variables() -> None:
    with pytest.raises(KafkaAccessError, match="EAMS_KAFKA_STREAM_USERNAME"):
        KafkaAccess("k:9092", "SASL_SSL", role="stream")


def test_tls_files_without_tls_are_refused(tmp_path: Path) -> None:
    with pytest.raises(KafkaAccessError, match="SASL_SSL"):
        KafkaAccess("k:9092", "SASL_PLAINTEXT", username="u", password="p", ssl_cafile=tmp_path)


def test_an_unreadable_ca_file_is_reported(tmp_path: Path) -> None:
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate")
    access = KafkaAccess("k:9093", "SSL", ssl_cafile=bad)
    with pytest.raises(KafkaAccessError, match="EAMS_KAFKA_SSL_CAFILE"):
        access.client_options()


def test_local_broker_reads_the_generated_credentials(tmp_path: Path) -> None:
    _credentials(tmp_path / "state")
    s = Settings(state_dir=tmp_path / "state", kafka_port=29092)
    raw = s.kafka("raw")
    assert (raw.bootstrap, raw.security_protocol) == ("127.0.0.1:29092", "SASL_PLAINTEXT")
    assert (raw.username, raw.password) == ("eams-raw", "pw-raw")
    assert s.kafka("admin").username == "eams-admin"
    assert s.manages_acls


def test_local_broker_without_credentials_says_to_start_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="eams kafka start"):
        Settings(state_dir=tmp_path / "nothing").kafka("stream")


def test_external_cluster_takes_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EAMS_KAFKA_BOOTSTRAP", "kafka.prod:9093")
    monkeypatch.setenv("EAMS_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("EAMS_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("EAMS_KAFKA_RAW_USERNAME", "api")
    monkeypatch.setenv("EAMS_KAFKA_RAW_PASSWORD", "api-pw")
    monkeypatch.setenv("EAMS_KAFKA_STREAM_USERNAME", "stream")
    monkeypatch.setenv("EAMS_KAFKA_STREAM_PASSWORD", "stream-pw")
    s = Settings()
    raw = s.kafka("raw")
    assert (raw.security_protocol, raw.sasl_mechanism) == ("SASL_SSL", "SCRAM-SHA-512")
    assert (raw.username, raw.password) == ("api", "api-pw")
    # no admin principal given: topics are created as the stream principal, ACLs are not ours
    assert s.kafka("admin").username == "stream"
    assert not s.manages_acls
    assert "api-pw" not in repr(s)


def test_external_cluster_defaults_to_plaintext() -> None:
    access = Settings(kafka_bootstrap="10.0.0.5:9092").kafka("raw")
    assert access.security_protocol == "PLAINTEXT" and access.username is None


def test_child_environment_reaches_the_same_broker(tmp_path: Path) -> None:
    _credentials(tmp_path / "state")
    parent = Settings(state_dir=tmp_path / "state", kafka_port=29092)
    env = parent.kafka_env()
    assert env["EAMS_KAFKA_BOOTSTRAP"] == "127.0.0.1:29092"
    child = Settings(**{k.removeprefix("EAMS_").lower(): v for k, v in env.items()})  # type: ignore[arg-type]
    assert not child.uses_local_kafka and child.manages_acls
    for role in ("raw", "stream", "admin"):
        assert child.kafka(role) == parent.kafka(role)  # type: ignore[arg-type]


def test_credentials_file_must_name_every_role(tmp_path: Path) -> None:
    path = tmp_path / "credentials.json"
    path.write_text(json.dumps({"raw": {"username": "a", "password": "b"}}))
    with pytest.raises(KafkaAccessError, match="stream, admin"):
        read_credentials(path)


def test_raw_principal_may_only_write_its_raw_topic() -> None:
    names = TopicNames.for_namespace("t1-ab")
    acls = namespace_acls("t1-ab", names, "User:eams-raw", "User:eams-stream")
    raw = {(a.resource_name, a.operation) for a in acls if a.principal == "User:eams-raw"}
    assert raw == {("t1-ab.ingest.raw", Operation.WRITE), ("t1-ab.ingest.raw", Operation.DESCRIBE)}
    stream_writes = {
        a.resource_name
        for a in acls
        if a.principal == "User:eams-stream" and a.operation == Operation.WRITE
    }
    assert stream_writes == {
        "t1-ab.events",
        "t1-ab.events.dlq",
        "t1-ab.commands",
        "t1-ab.commands.outcomes",
    }
    # topics by exact name only: no prefix that could reach another namespace's topics
    topic_acls = [a for a in acls if a.resource_type == ResourceType.TOPIC]
    assert all(a.pattern == PatternType.LITERAL for a in topic_acls)
    [group] = [a for a in acls if a.resource_type == ResourceType.GROUP]
    assert (group.resource_name, group.pattern) == ("t1-ab.", PatternType.PREFIXED)
