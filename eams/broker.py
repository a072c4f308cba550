"""The local Apache Kafka broker (4.x, KRaft, one node) that the project runs itself.

Jars come from Maven Central through ``deploy/kafka/pom.xml``; the broker's files live
under ``<state_dir>/kafka``. Start order:

1. fetch the jars once (``mvn dependency:copy-dependencies``) into ``deploy/kafka/target/lib``;
2. generate the passwords of the EAMS principals once into ``credentials.json`` (0600);
3. write ``server.properties`` (0600) from the template with the ports, the data directory
   and the admin and controller credentials;
4. format the storage on first start (``kafka.tools.StorageTool format``), adding the SCRAM
   credentials of every principal to the metadata log (``--add-scram``);
5. start ``kafka.Kafka`` detached, record its pid, and wait until it answers metadata as the
   admin principal.

A data directory formatted by an EAMS version without authentication is kept (it holds the
event log): the broker starts once without security on loopback, the credentials are added
with ``kafka.admin.ConfigCommand``, and it restarts with SASL and ACLs (:meth:`LocalKafka.start`).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient

from eams.errors import BrokerError
from eams.settings import PROJECT_ROOT, Settings
from streams import topics
from streams.acls import ensure_acls
from streams.kafka import KafkaAccess

#: The broker principals of the local broker, by role (see streams/kafka.py).
PRINCIPALS = {
    "admin": "eams-admin",
    "raw": "eams-raw",
    "stream": "eams-stream",
    "controller": "eams-controller",  # the controller listener only (PLAIN, not SCRAM)
}
_SCRAM_ROLES = ("admin", "raw", "stream")

DEPLOY_DIR = PROJECT_ROOT / "deploy" / "kafka"
_DETACHED: list[subprocess.Popen[bytes]] = []


def _reap(pid: int) -> None:
    """Collect the exit status of a broker this process started (no zombie, and no
    "subprocess is still running" warning when the process ends)."""
    for proc in list(_DETACHED):
        if proc.pid == pid:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=30)
            _DETACHED.remove(proc)


LIB_DIR = DEPLOY_DIR / "target" / "lib"


@dataclass(frozen=True)
class BrokerStatus:
    """What ``eams kafka status`` reports."""

    running: bool
    pid: int | None
    bootstrap: str
    accepting: bool
    data_dir: Path


class LocalKafka:
    """Manages one local KRaft broker under the state directory."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = settings.state_dir.resolve() / "kafka"
        self.data_dir = self.home / "data"
        self.pid_file = self.home / "broker.pid"
        self.log_file = self.home / "broker.log"
        self.config_file = self.home / "server.properties"
        self.credentials_file = self.home / "credentials.json"

    # -- jars -------------------------------------------------------------------------
    def ensure_jars(self) -> Path:
        """Fetch the broker's jars from Maven Central unless they are already here."""
        if LIB_DIR.is_dir() and any(LIB_DIR.glob("kafka_2.13-*.jar")):
            return LIB_DIR
        mvn = shutil.which("mvn")
        if mvn is None:
            raise BrokerError(
                "Maven (mvn) is not on PATH; install it (apt-get install maven) so the "
                "Kafka jars can be fetched from Maven Central"
            )
        cmd = [
            mvn, "-q", "-B", "-f", str(DEPLOY_DIR / "pom.xml"),
            "dependency:copy-dependencies", f"-DoutputDirectory={LIB_DIR}",
        ]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not any(LIB_DIR.glob("kafka_2.13-*.jar")):
            tail = (done.stdout + done.stderr).strip().splitlines()[-15:]
            raise BrokerError("could not fetch the Kafka jars with Maven:\n  " + "\n  ".join(tail))
        return LIB_DIR

    def _java(self) -> str:
        java_home = os.environ.get("JAVA_HOME")
        java = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
        if not java:
            raise BrokerError("Java 17+ is needed to run Kafka; install a JDK (java on PATH)")
        return java

    def _classpath(self) -> str:
        return f"{LIB_DIR}/*"

    # -- credentials ------------------------------------------------------------------
    def credentials(self) -> dict[str, dict[str, str]] | None:
        """``{role: {"username", "password"}}`` from ``credentials.json``, if it exists."""
        try:
            data = json.loads(self.credentials_file.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:
            raise BrokerError(
                f"{self.credentials_file} is unreadable ({e}); restore it from a backup, or "
                "stop the broker, delete the file and run eams kafka start (new passwords are "
                "generated and set on the broker)"
            ) from e
        if not isinstance(data, dict) or any(role not in data for role in PRINCIPALS):
            raise BrokerError(
                f"{self.credentials_file} lacks some of {', '.join(PRINCIPALS)}; delete it and "
                "run eams kafka start to generate and set new passwords"
            )
        return data

    def _save_credentials(self, creds: dict[str, dict[str, str]]) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        _write_private(self.credentials_file, json.dumps(creds, indent=2) + "\n")

    def access(self, role: str = "admin") -> KafkaAccess:
        """How a client reaches this broker as ``role`` (raw, stream or admin)."""
        creds = self.credentials()
        if creds is None:
            raise BrokerError(f"{self.credentials_file} is missing: run eams kafka start")
        entry = creds[role]
        return KafkaAccess(
            bootstrap=f"127.0.0.1:{self.settings.kafka_port}",
            security_protocol="SASL_PLAINTEXT",
            sasl_mechanism="SCRAM-SHA-256",
            username=entry["username"],
            password=entry["password"],
            role=role,
        )

    # -- lifecycle --------------------------------------------------------------------
    def _render(self, template: str, creds: dict[str, dict[str, str]] | None) -> str:
        text = (
            (DEPLOY_DIR / template)
            .read_text()
            .replace("${controller_port}", str(self.settings.kafka_controller_port))
            .replace("${broker_port}", str(self.settings.kafka_port))
            .replace("${log_dirs}", str(self.data_dir))
        )
        for role, entry in (creds or {}).items():
            text = text.replace(f"${{{role}_username}}", entry["username"])
            text = text.replace(f"${{{role}_password}}", entry["password"])
        return text

    def _write_config(self, creds: dict[str, dict[str, str]]) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        _write_private(self.config_file, self._render("server.properties", creds))

    def _formatted(self) -> bool:
        return (self.data_dir / "meta.properties").exists()

    def _format(self, creds: dict[str, dict[str, str]]) -> None:
        cluster_id = _kafka_uuid()
        cmd = [
            self._java(), "-cp", self._classpath(), "kafka.tools.StorageTool", "format",
            # one id in 64 starts with "-": as a separate argument it reads as an option
            f"--cluster-id={cluster_id}", "-c", str(self.config_file),
        ]  # fmt: skip
        for role in _SCRAM_ROLES:
            entry = creds[role]
            cmd += ["--add-scram", f"SCRAM-SHA-256=[name={entry['username']},"
                    f"password={entry['password']}]"]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise BrokerError(f"formatting Kafka storage failed: {done.stdout}{done.stderr}")

    def _launch(self, config: Path) -> subprocess.Popen[bytes]:
        log4j = DEPLOY_DIR / "log4j2.yaml"
        cmd = [
            self._java(), f"-Xmx{self.settings.kafka_heap}", f"-Xms{self.settings.kafka_heap}",
            "-XX:+UseG1GC", "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={log4j}",
            "-cp", self._classpath(), "kafka.Kafka", str(config),
        ]  # fmt: skip
        with open(self.log_file, "ab") as log:
            proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        _DETACHED.append(proc)  # the broker outlives this object; don't warn on collection
        self.pid_file.write_text(str(proc.pid))
        return proc

    def _wait_ready(
        self, proc: subprocess.Popen[bytes], access: KafkaAccess, timeout: float
    ) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                tail = self.log_file.read_text(errors="replace").splitlines()[-20:]
                raise BrokerError("Kafka exited while starting:\n  " + "\n  ".join(tail))
            if self.accepting() and _metadata_ok(access):
                return
            time.sleep(0.3)
        hint = ""
        if "Failed authentication" in self.log_file.read_text(errors="replace")[-20000:]:
            hint = (
                f"; the broker refused the admin password of {self.credentials_file}: restore "
                "the file that belongs to this data directory, or delete it to have new "
                "passwords set"
            )
        raise BrokerError(
            f"Kafka did not accept connections within {timeout:.0f}s; see {self.log_file}{hint}"
        )

    def _add_credentials(self, creds: dict[str, dict[str, str]], timeout: float) -> None:
        """Set the SCRAM credentials on an already formatted broker: start it once without
        security (loopback only), upsert each principal with ConfigCommand, stop it."""
        print(
            f"Kafka: {self.data_dir} has no credentials on record (formatted by an EAMS "
            "version without broker authentication, or credentials.json was deleted); "
            "setting new SCRAM credentials for "
            + ", ".join(creds[r]["username"] for r in _SCRAM_ROLES)
            + f" and keeping the event log. Passwords go to {self.credentials_file}.",
            file=sys.stderr,
        )
        maintenance = self.home / "maintenance.properties"
        _write_private(maintenance, self._render("maintenance.properties", None))
        bootstrap = f"127.0.0.1:{self.settings.kafka_port}"
        proc = self._launch(maintenance)
        try:
            self._wait_ready(proc, KafkaAccess.plaintext(bootstrap), timeout)
            for role in _SCRAM_ROLES:
                entry = creds[role]
                cmd = [
                    self._java(), "-cp", self._classpath(), "kafka.admin.ConfigCommand",
                    "--bootstrap-server", bootstrap, "--alter", "--entity-type", "users",
                    "--entity-name", entry["username"],
                    "--add-config", f"SCRAM-SHA-256=[password={entry['password']}]",
                ]  # fmt: skip
                done = subprocess.run(cmd, capture_output=True, text=True, check=False)
                if done.returncode != 0:
                    raise BrokerError(
                        f"adding the SCRAM credentials of {entry['username']} failed: "
                        f"{done.stdout}{done.stderr}"
                    )
        finally:
            self.stop()
            maintenance.unlink(missing_ok=True)

    def pid(self) -> int | None:
        """The broker's pid when its process is alive."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return pid
        # A zombie or a recycled pid is not our broker.
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return None
        return pid if b"kafka.Kafka" in cmdline else None

    def accepting(self) -> bool:
        """True when the broker port accepts TCP connections."""
        try:
            with socket.create_connection(("127.0.0.1", self.settings.kafka_port), timeout=1):
                return True
        except OSError:
            return False

    def start(self, timeout: float = 90.0) -> BrokerStatus:
        """Start the broker (fetching jars, creating credentials and formatting storage
        first); idempotent."""
        if self.pid() is not None and self.accepting():
            return self.status()
        if self.accepting():
            raise BrokerError(
                f"port {self.settings.kafka_port} is taken by another process; stop it or set "
                "EAMS_KAFKA_PORT (or point EAMS_KAFKA_BOOTSTRAP at that broker)"
            )
        self.settings.ensure_state_dir()  # 0700 before anything is written under it
        self.ensure_jars()
        creds = self.credentials()
        if creds is None:
            creds = _new_credentials()
            if self._formatted():
                # The event log is the source of truth: never re-format, add the users.
                self._add_credentials(creds, timeout)
            self._save_credentials(creds)
        self._write_config(creds)
        if not self._formatted():
            self._format(creds)
        proc = self._launch(self.config_file)
        self._wait_ready(proc, self.access("admin"), timeout)
        return self.status()

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop the broker cleanly (SIGTERM, then SIGKILL after ``timeout``)."""
        pid = self.pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pid() is None:
                break
            time.sleep(0.2)
        else:
            os.kill(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)
        _reap(pid)
        return True

    def status(self) -> BrokerStatus:
        """Whether the broker runs and accepts connections."""
        pid = self.pid()
        return BrokerStatus(
            running=pid is not None,
            pid=pid,
            bootstrap=self.settings.bootstrap,
            accepting=self.accepting(),
            data_dir=self.data_dir,
        )


def _kafka_uuid() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def _new_credentials() -> dict[str, dict[str, str]]:
    """Fresh random passwords for every principal (hex: safe in JAAS and --add-scram)."""
    return {
        role: {"username": name, "password": secrets.token_hex(24)}
        for role, name in PRINCIPALS.items()
    }


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by the owner only, replacing it whole."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(tmp, 0o600)  # an older tmp file may have had other bits
    os.replace(tmp, path)


def _metadata_ok(access: KafkaAccess) -> bool:
    """Ask the broker for metadata with aiokafka: the port alone can open before it serves."""

    async def probe() -> bool:
        admin = AIOKafkaAdminClient(**access.client_options(), request_timeout_ms=3000)
        try:
            await admin.start()
            await admin.list_topics()
            return True
        except Exception:  # noqa: BLE001 - any failure means "not ready yet"
            return False
        finally:
            await admin.close()

    return asyncio.run(probe())


def ensure_broker(settings: Settings) -> LocalKafka | None:
    """Start the local broker when no external one is configured; return its manager."""
    if not settings.uses_local_kafka:
        return None
    broker = LocalKafka(settings)
    broker.start()
    return broker


async def ensure_namespace(settings: Settings) -> None:
    """Create the namespace's topics (or give existing ones their retention), then its ACLs:
    what every process that runs a part of EAMS does first."""
    await topics.ensure_topics(
        settings.kafka("admin"),
        settings.topic_partitions,
        settings.topics,
        raw_retention_ms=settings.raw_retention_ms,
    )
    await ensure_namespace_acls(settings)


async def ensure_namespace_acls(settings: Settings) -> None:
    """Grant the raw and stream principals their ACLs on this namespace's topics (see
    :mod:`streams.acls`) when EAMS manages the broker's ACLs (:attr:`Settings.manages_acls`);
    run right after the topics are created."""
    if not settings.manages_acls:
        return
    raw, stream = settings.kafka("raw").principal, settings.kafka("stream").principal
    assert raw is not None and stream is not None  # manages_acls implies SASL
    await ensure_acls(settings.kafka("admin"), settings.namespace, settings.topics, raw, stream)
