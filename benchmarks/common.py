"""What both benchmarks need: a free port, a broker, and a real ``eams run`` worker."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eams.broker import LocalKafka  # noqa: E402
from eams.settings import Settings  # noqa: E402

#: The key benchmark workers verify raw records with (EAMS_INGEST_SECRET), and their
#: producers sign with: what a benchmark produces is ingested like the importer's.
SIGNING_KEY = b"benchmark-ingest-signing-key-0123456789abcdef"


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def broker(work: Path, bootstrap: str | None) -> tuple[Settings, LocalKafka | None]:
    """How to reach the broker (``cluster.kafka(role)``, ``cluster.kafka_env()``):
    ``bootstrap`` if given, with its security settings and credentials from the
    ``EAMS_KAFKA_*`` environment, else the project's own broker started under ``work``."""
    if bootstrap:
        return Settings(kafka_bootstrap=bootstrap), None
    settings = Settings(state_dir=work / "kafka-state", kafka_port=free_port(),
                        kafka_controller_port=free_port(), kafka_heap="1g")  # fmt: skip
    local = LocalKafka(settings)
    local.start()
    return settings, local


class Worker:
    """A real ``eams run`` process on a fresh namespace and state dir under ``work``."""

    def __init__(
        self, work: Path, cluster: Settings, prefix: str, namespace: str | None = None, **env: str
    ) -> None:
        """``namespace``: that of an earlier worker on the same ``work`` (its state dir)."""
        self.namespace = namespace or f"{prefix}-{uuid.uuid4().hex[:6]}"
        port = free_port()
        self.log = work / "worker.log"
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "eams.cli", "run"],
                env=dict(
                    os.environ,
                    **cluster.kafka_env(),  # address, protocol and credentials of every role
                    EAMS_STATE_DIR=str(work / "worker"),
                    EAMS_NAMESPACE=self.namespace,
                    EAMS_HTTP_PORT=str(port),
                    EAMS_INGEST_SECRET=SIGNING_KEY.decode(),
                    EAMS_SSE_PER_USER="1000",  # the fan-out benchmark opens its streams as one user
                    EAMS_SSE_TOTAL="1000",
                    **env,
                ),  # fmt: skip
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )
        self.api = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
        self.state_dir = work / "worker"

    def wait_ready(self) -> None:
        """Until the API answers and the ingest stream owns its partitions (acting as the
        local operator, with the token the worker wrote to its state dir)."""
        from eams.auth import read_operator_token

        while True:
            token = read_operator_token(self.state_dir)
            if token:
                self.api.headers["Authorization"] = f"Bearer {token}"
            try:
                if self.api.get("/api/status").json()["ingest_ready"]:
                    return
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None:
                raise SystemExit(f"worker exited; see {self.log}")
            time.sleep(0.2)

    def stop(self) -> None:
        """SIGTERM and wait."""
        self.proc.terminate()
        self.proc.wait(timeout=60)
