"""The local Apache Kafka broker (4.x, KRaft, one node) that the project runs itself.

Jars come from Maven Central through ``deploy/kafka/pom.xml``; the broker's files live
under ``<state_dir>/kafka``. Start order:

1. fetch the jars once (``mvn dependency:copy-dependencies``) into ``deploy/kafka/target/lib``;
2. write ``server.properties`` from the template with the ports and the data directory;
3. format the storage on first start (``kafka.tools.StorageTool format``);
4. start ``kafka.Kafka`` detached, record its pid, and wait until it answers metadata.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from eams.errors import BrokerError
from eams.settings import PROJECT_ROOT, Settings

DEPLOY_DIR = PROJECT_ROOT / "deploy" / "kafka"
_DETACHED: list[subprocess.Popen[bytes]] = []
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

    # -- lifecycle --------------------------------------------------------------------
    def _write_config(self) -> None:
        template = (DEPLOY_DIR / "server.properties").read_text()
        text = (
            template.replace("${controller_port}", str(self.settings.kafka_controller_port))
            .replace("${broker_port}", str(self.settings.kafka_port))
            .replace("${log_dirs}", str(self.data_dir))
        )
        self.home.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(text)

    def _format_once(self) -> None:
        if (self.data_dir / "meta.properties").exists():
            return
        cluster_id = _kafka_uuid()
        cmd = [
            self._java(), "-cp", self._classpath(), "kafka.tools.StorageTool", "format",
            "-t", cluster_id, "-c", str(self.config_file),
        ]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise BrokerError(f"formatting Kafka storage failed: {done.stdout}{done.stderr}")

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
        """Start the broker (fetching jars and formatting storage first); idempotent."""
        if self.pid() is not None and self.accepting():
            return self.status()
        if self.accepting():
            raise BrokerError(
                f"port {self.settings.kafka_port} is taken by another process; stop it or set "
                "EAMS_KAFKA_PORT (or point EAMS_KAFKA_BOOTSTRAP at that broker)"
            )
        self.ensure_jars()
        self._write_config()
        self._format_once()
        log4j = DEPLOY_DIR / "log4j2.yaml"
        cmd = [
            self._java(), f"-Xmx{self.settings.kafka_heap}", f"-Xms{self.settings.kafka_heap}",
            "-XX:+UseG1GC", "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={log4j}",
            "-cp", self._classpath(), "kafka.Kafka", str(self.config_file),
        ]  # fmt: skip
        with open(self.log_file, "ab") as log:
            proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        _DETACHED.append(proc)  # the broker outlives this object; don't warn on collection
        self.pid_file.write_text(str(proc.pid))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                tail = self.log_file.read_text(errors="replace").splitlines()[-20:]
                raise BrokerError("Kafka exited while starting:\n  " + "\n  ".join(tail))
            if self.accepting() and _metadata_ok(self.settings.bootstrap):
                return self.status()
            time.sleep(0.3)
        raise BrokerError(
            f"Kafka did not accept connections within {timeout:.0f}s; see {self.log_file}"
        )

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
    import base64

    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def _metadata_ok(bootstrap: str) -> bool:
    """Ask the broker for metadata with aiokafka: the port alone can open before it serves."""
    import asyncio

    from aiokafka.admin import AIOKafkaAdminClient

    async def probe() -> bool:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
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
