"""The local Apache Kafka broker (4.x, KRaft) that the project runs itself: one node, or a
cluster of N (``eams kafka start --brokers 3``: every node a broker and a voter of the
metadata quorum, on consecutive ports, topics with three replicas of which two must hold
a write).

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
    """What ``eams kafka status`` reports (of node 1, or of every node: ``nodes``)."""

    running: bool
    pid: int | None
    bootstrap: str
    accepting: bool
    data_dir: Path
    nodes: tuple[NodeStatus, ...] = ()


@dataclass(frozen=True)
class NodeStatus:
    """One node of the local broker."""

    node_id: int
    pid: int | None
    port: int
    accepting: bool


@dataclass(frozen=True)
class Node:
    """One KRaft node (broker and controller) of the local cluster: its ports and files.
    Node 1 keeps the single broker's paths (``<state>/kafka/data`` …), node N lives under
    ``<state>/kafka/node-N``."""

    node_id: int
    port: int
    controller_port: int
    home: Path

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def pid_file(self) -> Path:
        return self.home / "broker.pid"

    @property
    def log_file(self) -> Path:
        return self.home / "broker.log"

    @property
    def config_file(self) -> Path:
        return self.home / "server.properties"


class LocalKafka:
    """Manages the local KRaft broker under the state directory: one node, or a cluster of
    ``EAMS_KAFKA_BROKERS`` (``eams kafka start --brokers N``) on consecutive ports."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = settings.state_dir.resolve() / "kafka"
        self.credentials_file = self.home / "credentials.json"
        self.cluster_file = settings.kafka_cluster_file
        self.nodes = [
            Node(k + 1, port, controller, self.home if k == 0 else self.home / f"node-{k + 1}")
            for k, (port, controller) in enumerate(settings.local_ports())
        ]
        first = self.nodes[0]
        self.data_dir = first.data_dir
        self.pid_file = first.pid_file
        self.log_file = first.log_file
        self.config_file = first.config_file

    @property
    def brokers(self) -> int:
        """The nodes of this broker (1: a single broker)."""
        return len(self.nodes)

    def node(self, node_id: int) -> Node:
        """Node ``node_id`` (from 1)."""
        if not 1 <= node_id <= len(self.nodes):
            raise BrokerError(f"no node {node_id}: the local broker has {len(self.nodes)}")
        return self.nodes[node_id - 1]

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
            bootstrap=",".join(f"127.0.0.1:{n.port}" for n in self.nodes),
            security_protocol="SASL_PLAINTEXT",
            sasl_mechanism="SCRAM-SHA-256",
            username=entry["username"],
            password=entry["password"],
            role=role,
        )

    # -- lifecycle --------------------------------------------------------------------
    def _render(
        self, template: str, creds: dict[str, dict[str, str]] | None, node: Node | None = None
    ) -> str:
        node = node or self.nodes[0]
        replicas, min_isr = topics.replication(len(self.nodes))
        voters = ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in self.nodes)
        text = (
            (DEPLOY_DIR / template)
            .read_text()
            .replace("${node_id}", str(node.node_id))
            .replace("${quorum_voters}", voters)
            .replace("${replication}", str(replicas))
            .replace("${min_isr}", str(min_isr))
            .replace("${controller_port}", str(node.controller_port))
            .replace("${broker_port}", str(node.port))
            .replace("${log_dirs}", str(node.data_dir))
        )
        for role, entry in (creds or {}).items():
            text = text.replace(f"${{{role}_username}}", entry["username"])
            text = text.replace(f"${{{role}_password}}", entry["password"])
        return text

    def _write_config(self, creds: dict[str, dict[str, str]], node: Node | None = None) -> None:
        node = node or self.nodes[0]
        node.home.mkdir(parents=True, exist_ok=True)
        _write_private(node.config_file, self._render("server.properties", creds, node))

    def _formatted(self, node: Node | None = None) -> bool:
        return ((node or self.nodes[0]).data_dir / "meta.properties").exists()

    def _recorded_brokers(self) -> int | None:
        """The nodes the state dir's cluster was formatted with (None: not recorded; a
        single broker formatted before clusters were)."""
        try:
            return int(json.loads(self.cluster_file.read_text())["brokers"])
        except FileNotFoundError:
            return 1 if self._formatted() else None
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise BrokerError(f"{self.cluster_file} is unreadable ({e}); restore it") from e

    def _format(self, creds: dict[str, dict[str, str]], node: Node | None = None,
                cluster_id: str | None = None) -> None:  # fmt: skip
        node = node or self.nodes[0]
        cluster_id = cluster_id or _kafka_uuid()
        cmd = [
            self._java(), "-cp", self._classpath(), "kafka.tools.StorageTool", "format",
            # one id in 64 starts with "-": as a separate argument it reads as an option
            f"--cluster-id={cluster_id}", "-c", str(node.config_file),
        ]  # fmt: skip
        for role in _SCRAM_ROLES:
            entry = creds[role]
            cmd += ["--add-scram", f"SCRAM-SHA-256=[name={entry['username']},"
                    f"password={entry['password']}]"]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise BrokerError(f"formatting Kafka storage failed: {done.stdout}{done.stderr}")

    def _launch(self, config: Path, node: Node | None = None) -> subprocess.Popen[bytes]:
        node = node or self.nodes[0]
        log4j = DEPLOY_DIR / "log4j2.yaml"
        cmd = [
            self._java(), f"-Xmx{self.settings.kafka_heap}", f"-Xms{self.settings.kafka_heap}",
            "-XX:+UseG1GC", "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={log4j}",
            "-cp", self._classpath(), "kafka.Kafka", str(config),
        ]  # fmt: skip
        with open(node.log_file, "ab") as log:
            proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        _DETACHED.append(proc)  # the broker outlives this object; don't warn on collection
        node.pid_file.write_text(str(proc.pid))
        return proc

    def _wait_ready(
        self,
        proc: subprocess.Popen[bytes] | dict[int, subprocess.Popen[bytes]],
        access: KafkaAccess,
        timeout: float,
    ) -> None:
        """Wait until every node launched (``proc``: node 1's, or each node's by id)
        accepts connections and the cluster answers metadata with all its brokers."""
        procs = proc if isinstance(proc, dict) else {1: proc}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for node_id, p in procs.items():
                if p.poll() is not None:
                    log_file = self.node(node_id).log_file
                    tail = log_file.read_text(errors="replace").splitlines()[-20:]
                    raise BrokerError(
                        f"Kafka node {node_id} exited while starting:\n  " + "\n  ".join(tail)
                    )
            if all(self.accepting(n) for n in procs) and _metadata_ok(access, len(self.nodes)):
                return
            time.sleep(0.3)
        hint = ""
        logs = [self.node(n).log_file for n in procs]
        if any("Failed authentication" in f.read_text(errors="replace")[-20000:] for f in logs):
            hint = (
                f"; the broker refused the admin password of {self.credentials_file}: restore "
                "the file that belongs to this data directory, or delete it to have new "
                "passwords set"
            )
        where = ", ".join(str(f) for f in logs)
        raise BrokerError(
            f"Kafka did not accept connections within {timeout:.0f}s; see {where}{hint}"
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
        bootstrap = f"127.0.0.1:{self.nodes[0].port}"
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

    def pid(self, node_id: int = 1) -> int | None:
        """A node's pid (node 1's by default) when its process is alive."""
        try:
            pid = int(self.node(node_id).pid_file.read_text().strip())
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

    def accepting(self, node_id: int = 1) -> bool:
        """True when a node's client port accepts TCP connections."""
        try:
            with socket.create_connection(("127.0.0.1", self.node(node_id).port), timeout=1):
                return True
        except OSError:
            return False

    def start(self, timeout: float = 90.0) -> BrokerStatus:
        """Start every node not running (fetching jars, creating credentials and formatting
        storage first); idempotent, so it also brings back a node that died."""
        down = [n for n in self.nodes if not (self.pid(n.node_id) and self.accepting(n.node_id))]
        if not down:
            return self.status()
        for node in down:
            if self.accepting(node.node_id):
                raise BrokerError(
                    f"port {node.port} (node {node.node_id}) is taken by another process; "
                    "stop it or set EAMS_KAFKA_PORT (node N listens on it + 2(N-1)), or point "
                    "EAMS_KAFKA_BOOTSTRAP at that broker"
                )
        recorded = self._recorded_brokers()
        if recorded is not None and recorded != len(self.nodes):
            raise BrokerError(
                f"{self.home} holds a Kafka of {recorded} node(s), asked for {len(self.nodes)}; "
                f"start it as it is (--brokers {recorded}), or stop it and move {self.home} "
                "away to begin a new one (its event log stays there)"
            )
        self.settings.ensure_state_dir()  # 0700 before anything is written under it
        self.ensure_jars()
        creds = self.credentials()
        if creds is None:
            creds = _new_credentials()
            if self._formatted():
                if len(self.nodes) > 1:
                    raise BrokerError(
                        f"{self.credentials_file} is missing and the cluster is formatted: "
                        "restore the file (the cluster's passwords are in its metadata log)"
                    )
                # The event log is the source of truth: never re-format, add the users.
                self._add_credentials(creds, timeout)
            self._save_credentials(creds)
        cluster_id = _kafka_uuid()
        for node in self.nodes:
            self._write_config(creds, node)
            if not self._formatted(node):
                self._format(creds, node, self._cluster_id() or cluster_id)
        if recorded is None:
            self.home.mkdir(parents=True, exist_ok=True)
            self.cluster_file.write_text(json.dumps({"brokers": len(self.nodes)}) + "\n")
        procs = {node.node_id: self._launch(node.config_file, node) for node in down}
        self._wait_ready(procs, self.access("admin"), timeout)
        return self.status()

    def _cluster_id(self) -> str | None:
        """The cluster id a formatted node of this cluster holds (a node formatted later,
        its storage lost, joins the same cluster)."""
        for node in self.nodes:
            try:
                text = (node.data_dir / "meta.properties").read_text()
            except OSError:
                continue
            for line in text.splitlines():
                if line.startswith("cluster.id="):
                    return line.split("=", 1)[1].strip()
        return None

    def kill(self, node_id: int) -> int:
        """SIGKILL one node (a fault, for tests and drills); return its pid."""
        pid = self.pid(node_id)
        if pid is None:
            raise BrokerError(f"node {node_id} is not running")
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while self.pid(node_id) is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        self.node(node_id).pid_file.unlink(missing_ok=True)
        _reap(pid)
        return pid

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop every node cleanly (SIGTERM, then SIGKILL after ``timeout``)."""
        pids = {n.node_id: pid for n in self.nodes if (pid := self.pid(n.node_id)) is not None}
        if not pids:
            return False
        for pid in pids.values():
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(self.pid(n) is None for n in pids):
                break
            time.sleep(0.2)
        else:
            for node_id, pid in pids.items():
                if self.pid(node_id) is not None:
                    os.kill(pid, signal.SIGKILL)
        for node_id, pid in pids.items():
            self.node(node_id).pid_file.unlink(missing_ok=True)
            _reap(pid)
        return True

    def status(self) -> BrokerStatus:
        """Whether the broker runs and accepts connections (node 1, and every node)."""
        pid = self.pid()
        nodes = tuple(
            NodeStatus(n.node_id, self.pid(n.node_id), n.port, self.accepting(n.node_id))
            for n in self.nodes
        )
        return BrokerStatus(
            running=pid is not None,
            pid=pid,
            bootstrap=self.settings.bootstrap,
            accepting=self.accepting(),
            data_dir=self.data_dir,
            nodes=nodes,
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


def _metadata_ok(access: KafkaAccess, brokers: int = 1) -> bool:
    """Ask the broker for metadata with aiokafka (the port alone can open before it
    serves): it answers, and names ``brokers`` brokers."""

    async def probe() -> bool:
        admin = AIOKafkaAdminClient(**access.client_options(), request_timeout_ms=3000)
        try:
            await admin.start()
            await admin.list_topics()
            if brokers > 1:
                return len((await admin.describe_cluster())["brokers"]) >= brokers
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
        replicas=settings.topic_replication,
        min_insync=settings.topic_min_insync,
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
