"""Settings for every EAMS process, read from the environment (prefix ``EAMS_``).

One class, one place: the CLI, the worker, the tests and the benchmarks all build a
:class:`Settings` and pass it down; nothing else reads ``os.environ``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import secrets
import stat
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from eams.logs import LogFormat
from events.errors import ConfigError
from streams.dlq import DeadLetterKey, load_key
from streams.kafka import (
    KafkaAccess,
    KafkaAccessError,
    Role,
    SaslMechanism,
    SecurityProtocol,
    read_credentials,
)
from streams.topics import TopicNames

log = logging.getLogger(__name__)


#: The checkout this package runs from (deploy/kafka lives beside it).
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Configuration of one EAMS process; every field maps to ``EAMS_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="EAMS_", frozen=True, extra="ignore")

    state_dir: Path = Field(
        default=Path(".eams"),
        description="Where the local broker, the embedded ClickHouse and secrets live.",
    )
    kafka_bootstrap: str | None = Field(
        default=None,
        description="host:port of an existing Kafka; unset = start the local broker.",
    )
    kafka_port: int = Field(
        default=19092,
        description="Port of the local broker (node N of a local cluster: this + 2(N-1)).",
    )
    kafka_controller_port: int = Field(
        default=19093, description="KRaft controller port (node N's: this + 2(N-1))."
    )
    kafka_brokers: int | None = Field(
        default=None,
        ge=1,
        le=9,
        description="Nodes of the local KRaft cluster (eams kafka start --brokers N); unset = "
        "as the state dir's cluster was formatted, else 1.",
    )
    topic_replication: int | None = Field(
        default=None,
        ge=1,
        description="Replicas of each EAMS topic when it is created; unset = 3, or the "
        "cluster's brokers when fewer.",
    )
    topic_min_insync: int | None = Field(
        default=None,
        ge=1,
        description="min.insync.replicas of the EAMS topics (acks=all waits for this many); "
        "unset = 2 with 3 replicas or more, else 1.",
    )
    kafka_heap: str = Field(default="512m", description="JVM heap of the local broker.")
    kafka_security_protocol: SecurityProtocol | None = Field(
        default=None,
        description="PLAINTEXT, SASL_PLAINTEXT, SASL_SSL or SSL; unset = SASL_PLAINTEXT for "
        "the local broker, PLAINTEXT for EAMS_KAFKA_BOOTSTRAP.",
    )
    kafka_sasl_mechanism: SaslMechanism = Field(
        default="SCRAM-SHA-256", description="SCRAM-SHA-256, SCRAM-SHA-512 or PLAIN."
    )
    kafka_raw_username: str | None = Field(
        default=None, description="Principal writing the raw topic (API, importer, replay)."
    )
    kafka_raw_password: SecretStr | None = Field(default=None, description="Its password.")
    kafka_stream_username: str | None = Field(
        default=None, description="Principal of the ingest stream, projector and runtime."
    )
    kafka_stream_password: SecretStr | None = Field(default=None, description="Its password.")
    kafka_admin_username: str | None = Field(
        default=None,
        description="Principal creating topics and ACLs; unset on EAMS_KAFKA_BOOTSTRAP = the "
        "stream principal creates topics and EAMS leaves ACLs to the operator.",
    )
    kafka_admin_password: SecretStr | None = Field(default=None, description="Its password.")
    kafka_ssl_cafile: Path | None = Field(
        default=None, description="CA bundle for SSL/SASL_SSL; unset = the system CAs."
    )
    kafka_ssl_certfile: Path | None = Field(
        default=None, description="Client certificate (PEM) for brokers that require one."
    )
    kafka_ssl_keyfile: Path | None = Field(default=None, description="Its private key (PEM).")
    kafka_ssl_key_password: SecretStr | None = Field(
        default=None, description="Password of the private key, if it is encrypted."
    )
    topic_partitions: int = Field(default=3, ge=1, description="Partitions per EAMS topic.")
    clickhouse_url: str | None = Field(
        default=None,
        description="ClickHouse DSN; unset = chdb://<state_dir>/clickhouse (embedded).",
    )
    region_hierarchy: str = Field(
        default="shandong", description="Region reference checked on ingest: shandong or us."
    )
    pseudonym_secret: str | None = Field(
        default=None,
        description="HMAC key for national-ID pseudonyms, 32+ characters; unset = "
        "<state_dir>/pseudonym.key, generated once while the event log is empty.",
    )
    dlq_key: SecretStr | None = Field(
        default=None,
        description="AES-256 key of the dead-letter topic, 64 hex characters; unset = "
        "<state_dir>/dlq.key, generated once (0600).",
    )
    raw_retention_hours: float = Field(
        default=24,
        gt=0,
        description="How long eams.ingest.raw keeps inputs (they hold national IDs in clear).",
    )
    http_host: str = Field(default="127.0.0.1", description="Address the API listens on.")
    http_port: int = Field(default=8600, description="Port of the API (ingest, reads).")
    ingest_secret: SecretStr | None = Field(
        default=None,
        description="HMAC key signing raw records (API and importer -> ingest stream), 32+ "
        "characters; unset = generated once into <state_dir>/ingest.key (0600).",
    )
    max_body_bytes: int = Field(
        default=8 * 1024 * 1024, ge=1024, description="Largest request body the API reads."
    )
    max_batch_lines: int = Field(
        default=10_000, ge=1, description="Most events in one NDJSON request to /api/ingest."
    )
    max_future_skew: dt.timedelta = Field(
        default=dt.timedelta(minutes=10),
        ge=dt.timedelta(0),
        description="How far ahead of now an occurred_at may be (seconds or ISO 8601, PT10M).",
    )
    sse_per_user: int = Field(
        default=8, ge=1, description="Live streams (/api/stream) one user may hold open."
    )
    sse_total: int = Field(default=256, ge=1, description="Live streams open in total.")
    namespace: str = Field(
        default="eams",
        pattern=r"^[a-z][a-z0-9_-]*$",
        description="Prefix of the topics and the consumer group (eams.events …).",
    )
    projector_batch: int = Field(default=20000, ge=1, description="Max rows per insert.")
    projector_linger_ms: int = Field(default=200, ge=0, description="Max wait to fill a batch.")
    dedupe_window: int = Field(
        default=2_000_000, ge=1000, description="Recent event ids the projector remembers."
    )
    log_level: str = Field(
        default="warn",
        pattern=r"(?i)^(crit|critical|error|warn|warning|info|debug)$",
        description="crit, error, warn, info or debug.",
    )
    log_format: LogFormat = Field(
        default="json",
        description="Logs of the worker and ingest processes on stderr: json (one object a "
        "line: time, level, logger, event, role, pid, bound ids) or console (for people).",
    )
    metrics_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="Port of the Prometheus /metrics of this process (every role); unset = "
        "none; 0 = any free port, written to <state_dir>/metrics.port.",
    )
    metrics_host: str = Field(
        default="127.0.0.1",
        description="Address /metrics listens on (0.0.0.0 for a scraper on another host).",
    )
    rules: Path = Field(
        default=PROJECT_ROOT / "alerting" / "rules" / "default.yaml",
        description="Alert rules: a YAML file or a directory of them (eams rules lint).",
    )
    playbooks: Path = Field(
        default=PROJECT_ROOT / "playbooks" / "library",
        description="Contingency playbooks: a directory of YAML definitions (eams playbooks lint).",
    )
    recognition: Path = Field(
        default=PROJECT_ROOT / "deploy" / "recognition",
        description="Recognition rules of the target groups per city: a directory of YAML "
        "(eams persons rules lint).",
    )
    case_policy: Path = Field(
        default=PROJECT_ROOT / "deploy" / "cases" / "policy.yaml",
        description="Case policy: visit schedules, exit, plan reviews, clearing deadlines (YAML).",
    )
    policies: Path = Field(
        default=PROJECT_ROOT / "deploy" / "policies",
        description="Policy catalogue (subsidies, loans, allowances) per city and year: a "
        "directory of YAML (eams subsidies lint).",
    )
    evaluation: Path = Field(
        default=PROJECT_ROOT / "deploy" / "evaluation" / "indicators.yaml",
        description="The performance evaluation's scored indicator table (YAML; eams "
        "evaluation lint).",
    )
    fraud_rules: Path = Field(
        default=PROJECT_ROOT / "deploy" / "fraud" / "rules.yaml",
        description="Fraud rules of the subsidies (YAML; eams fraud lint).",
    )
    fraud_interval: float = Field(
        default=3600.0,
        gt=0,
        description="Seconds between sweeps of the fraud rules over the read models.",
    )
    casework: bool = Field(
        default=True,
        description="Run casework's reactor (households told of their members, imported "
        "persons judged again, the calendar's checks); off: cases change on commands only.",
    )
    casework_interval: float = Field(
        default=60.0,
        gt=0,
        description="Seconds between casework's calendar checks (overdue households, expired "
        "recognitions).",
    )
    roster: Path | None = Field(
        default=None, description="Duty roster and channels (YAML); unset = no notifications."
    )
    risk_index: Path | None = Field(
        default=None, description="Risk-index weights (YAML); unset = documented defaults."
    )
    risk_interval: float = Field(default=2.0, gt=0, description="Seconds between evaluations.")
    alert_stream: bool = Field(
        default=True,
        description="Decide the rules whose indicator the events give by themselves (disaster "
        "areas, layoffs) as the events arrive (alerting.stream); off: every rule is decided "
        "from the projections every risk_interval.",
    )
    alert_projection_rules: str = Field(
        default="",
        description="Comma-separated rule ids decided from the projections even though the "
        "stream could decide them (to compare both paths; alerting.stream).",
    )
    test_crash_after_wal: int = Field(
        default=0,
        ge=0,
        description="Test hook: the worker exits right after its N-th write-ahead row, before "
        "the insert, so tests prove the replay path; 0 = never.",
    )

    @property
    def topics(self) -> TopicNames:
        """The topic names of this namespace."""
        return TopicNames.for_namespace(self.namespace)

    @property
    def bootstrap(self) -> str:
        """The Kafka bootstrap address this process talks to (every node of a local
        cluster)."""
        if self.kafka_bootstrap:
            return self.kafka_bootstrap
        return ",".join(f"127.0.0.1:{port}" for port, _ in self.local_ports())

    @property
    def kafka_cluster_file(self) -> Path:
        """What the local cluster was formatted as (its nodes), written by eams kafka start."""
        return self.state_dir.resolve() / "kafka" / "cluster.json"

    @property
    def local_brokers(self) -> int:
        """The nodes of the local broker: ``EAMS_KAFKA_BROKERS``, else as formatted, else 1."""
        if self.kafka_brokers is not None:
            return self.kafka_brokers
        try:
            return int(json.loads(self.kafka_cluster_file.read_text())["brokers"])
        except (OSError, ValueError, KeyError, TypeError):
            return 1

    def local_ports(self) -> list[tuple[int, int]]:
        """(client port, controller port) of each node of the local broker."""
        return [
            (self.kafka_port + 2 * k, self.kafka_controller_port + 2 * k)
            for k in range(self.local_brokers)
        ]

    @property
    def uses_local_kafka(self) -> bool:
        """True when the project runs its own broker (no ``EAMS_KAFKA_BOOTSTRAP``)."""
        return self.kafka_bootstrap is None

    def kafka(self, role: Role) -> KafkaAccess:
        """How a client of ``role`` (raw, stream or admin) reaches the broker.

        Credentials come from ``EAMS_KAFKA_<ROLE>_USERNAME``/``_PASSWORD``; for the local
        broker, from ``<state_dir>/kafka/credentials.json`` written by ``eams kafka start``.
        On an external cluster without admin credentials the admin role is the stream
        principal (it needs CREATE on the topics; see :attr:`manages_acls`).
        """
        protocol = self.kafka_security_protocol or (
            "SASL_PLAINTEXT" if self.uses_local_kafka else "PLAINTEXT"
        )
        username, password = self._kafka_credentials(role, protocol)
        if role == "admin" and username is None and not self.uses_local_kafka:
            username, password = self._kafka_credentials("stream", protocol)
        try:
            return KafkaAccess(
                bootstrap=self.bootstrap,
                security_protocol=protocol,
                sasl_mechanism=self.kafka_sasl_mechanism,
                username=username,
                password=password,
                ssl_cafile=self.kafka_ssl_cafile,
                ssl_certfile=self.kafka_ssl_certfile,
                ssl_keyfile=self.kafka_ssl_keyfile,
                ssl_key_password=_reveal(self.kafka_ssl_key_password),
                role=role,
            )
        except KafkaAccessError as e:
            raise ConfigError(str(e)) from e

    def _kafka_credentials(self, role: Role, protocol: str) -> tuple[str | None, str | None]:
        username: str | None = getattr(self, f"kafka_{role}_username")
        password = _reveal(getattr(self, f"kafka_{role}_password"))
        if username is None and protocol.startswith("SASL_") and self.uses_local_kafka:
            try:
                username, password = read_credentials(self.kafka_credentials_file)[role]
            except KafkaAccessError as e:
                raise ConfigError(str(e)) from e
        return username, password

    def kafka_env(self) -> dict[str, str]:
        """``EAMS_KAFKA_*`` variables that let a child process reach the same broker as this
        one, as every role, without starting a broker of its own."""
        env = {"EAMS_KAFKA_BOOTSTRAP": self.bootstrap}
        access = self.kafka("stream")
        env["EAMS_KAFKA_SECURITY_PROTOCOL"] = access.security_protocol
        env["EAMS_KAFKA_SASL_MECHANISM"] = access.sasl_mechanism
        if access.sasl:
            for role in ("raw", "stream", "admin"):
                username, password = self._kafka_credentials(role, access.security_protocol)
                if username and password:
                    env[f"EAMS_KAFKA_{role.upper()}_USERNAME"] = username
                    env[f"EAMS_KAFKA_{role.upper()}_PASSWORD"] = password
        for name in ("cafile", "certfile", "keyfile"):
            path = getattr(self, f"kafka_ssl_{name}")
            if path is not None:
                env[f"EAMS_KAFKA_SSL_{name.upper()}"] = str(Path(path).resolve())
        if self.kafka_ssl_key_password is not None:
            env["EAMS_KAFKA_SSL_KEY_PASSWORD"] = self.kafka_ssl_key_password.get_secret_value()
        return env

    @property
    def kafka_credentials_file(self) -> Path:
        """The local broker's generated passwords (0600)."""
        return self.state_dir.resolve() / "kafka" / "credentials.json"

    @property
    def manages_acls(self) -> bool:
        """True when EAMS creates its namespace's ACLs: the connection authenticates and the
        admin principal is its own (the local broker, or ``EAMS_KAFKA_ADMIN_USERNAME`` set)."""
        protocol = self.kafka_security_protocol or (
            "SASL_PLAINTEXT" if self.uses_local_kafka else "PLAINTEXT"
        )
        return protocol.startswith("SASL_") and (
            self.uses_local_kafka or self.kafka_admin_username is not None
        )

    @property
    def clickhouse_dsn(self) -> str:
        """The ClickHouse DSN: a server URL, or the embedded engine under the state dir."""
        if self.clickhouse_url:
            return self.clickhouse_url
        return f"chdb://{(self.state_dir / 'clickhouse').resolve()}"

    @property
    def embedded(self) -> bool:
        """True when projections live in the in-process engine (one process per path)."""
        return self.clickhouse_dsn.startswith("chdb://")

    @property
    def api_url(self) -> str:
        """Base URL of the running ``eams run`` API."""
        return f"http://{self.http_host}:{self.http_port}"

    @property
    def raw_retention_ms(self) -> int:
        """The raw topic's retention in milliseconds (``EAMS_RAW_RETENTION_HOURS``)."""
        return max(1000, round(self.raw_retention_hours * 3_600_000))

    def ensure_state_dir(self) -> Path:
        """Create the state dir 0700 (it holds keys, the users and the embedded store); one
        readable by others is tightened to 0700, with a warning."""
        path = self.state_dir
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            try:
                os.chmod(path, 0o700)
                log.warning(
                    "state dir %s was mode %o (others could read its keys); now 0700", path, mode
                )
            except OSError as exc:
                log.warning(
                    "state dir %s is mode %o and could not be made 0700 (%s): others may "
                    "read its keys; fix it with chmod 700",
                    path,
                    mode,
                    exc,
                )
        return path

    @property
    def pseudonym_key_path(self) -> Path:
        """Where the pseudonym key is kept when ``EAMS_PSEUDONYM_SECRET`` is unset."""
        return self.state_dir / "pseudonym.key"

    @property
    def pseudonym_key_missing(self) -> bool:
        """True when no pseudonym key is configured and the key file does not exist:
        :meth:`secret` would generate a new one (``eams run`` first checks the log is empty)."""
        return self.pseudonym_secret is None and not self.pseudonym_key_path.exists()

    def secret(self) -> bytes:
        """The pseudonym key: ``EAMS_PSEUDONYM_SECRET``, else ``<state dir>/pseudonym.key``,
        generated once (0600) when missing. Keys shorter than 32 characters are refused.

        ``eams run`` refuses to start when the file is missing while the event log holds
        events (:func:`eams.runtime.check_pseudonym_key`): a new key would give every
        person a second pseudonym."""
        if self.pseudonym_secret is not None:
            if len(self.pseudonym_secret) < 32:
                raise ConfigError(
                    f"EAMS_PSEUDONYM_SECRET has {len(self.pseudonym_secret)} characters; give "
                    "at least 32 (e.g. the output of: python -c 'import secrets; "
                    "print(secrets.token_hex(32))'). Set it once: every pseudonym depends on it"
                )
            return self.pseudonym_secret.encode()
        path = self.pseudonym_key_path
        if not path.exists():
            self.ensure_state_dir()
            _create_key_file(path)
        key = path.read_text().strip()
        if len(key) < 32:
            raise ConfigError(
                f"{path} holds no usable key ({len(key)} characters, at least 32 needed); "
                "restore it from a backup (existing pseudonyms depend on it) or set "
                "EAMS_PSEUDONYM_SECRET to the key it held"
            )
        return key.encode()

    def dead_letter_key(self) -> DeadLetterKey:
        """The DLQ's AES-256 key: ``EAMS_DLQ_KEY``, else ``<state dir>/dlq.key``, created
        once (0600) if missing (``eams run`` first warns if entries sealed with another key
        exist: :func:`eams.keys.open_dead_letters`)."""
        self.ensure_state_dir()
        key = load_key(self.state_dir / "dlq.key", _reveal(self.dlq_key), create=True)
        assert key is not None
        return key

    def existing_dead_letter_key(self) -> DeadLetterKey | None:
        """The DLQ key if one is configured or the key file exists (never creates one)."""
        return load_key(self.state_dir / "dlq.key", _reveal(self.dlq_key), create=False)

    def ingest_key(self) -> bytes:
        """The key signing raw records: ``EAMS_INGEST_SECRET``, else ``<state dir>/ingest.key``,
        created once (0600) by whichever of ``eams run`` and the importer comes first."""
        if self.ingest_secret is not None:
            key = self.ingest_secret.get_secret_value()
            if len(key) < 32:
                raise ConfigError(
                    f"EAMS_INGEST_SECRET has {len(key)} characters; give at least 32 "
                    "(e.g. the output of: python -c 'import secrets; print(secrets.token_hex(32))')"
                )
            return key.encode()
        path = self.state_dir / "ingest.key"
        if not path.exists():
            self.ensure_state_dir()
            _create_key_file(path)
        key = path.read_text().strip()
        if len(key) < 32:
            raise ConfigError(
                f"{path} holds no usable key ({len(key)} characters); delete it and restart "
                "`eams run` (raw records not yet ingested would then be dead-lettered: "
                "resubmit them) or set EAMS_INGEST_SECRET"
            )
        return key.encode()


def _reveal(secret: SecretStr | None) -> str | None:
    return secret.get_secret_value() if secret is not None else None


def _create_key_file(path: Path) -> None:
    """Write a random 32-byte hex key to ``path``: created 0600 from the start, written
    whole, then linked into place, so a second process creating it at the same time keeps
    the first one's key (the link fails for whoever comes second)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(32))
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
