"""How every EAMS process reaches Kafka: address, security protocol, SASL principal, TLS.

One :class:`KafkaAccess` per role is built from the settings (``Settings.kafka(role)``) and
handed to every aiokafka client; ``client_options()`` is the only place that translates it
into aiokafka keyword arguments. The roles are the broker principals of DESIGN "Broker
security":

- ``raw``: the API's raw producer, the importer, the simulator and DLQ replay; may only
  write ``<ns>.ingest.raw``;
- ``stream``: the ingest stream, the projector and the runtime's own appends; reads the raw
  topic, reads and writes ``<ns>.events``, ``<ns>.events.dlq`` and ``<ns>.commands``;
- ``admin``: topic creation and ACLs only.

The local broker's passwords live in ``<state_dir>/kafka/credentials.json`` (0600), written
once by ``eams kafka start``; :func:`read_credentials` reads it.
"""

from __future__ import annotations

import json
import ssl
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, get_args

from streams.errors import KafkaAccessError

__all__ = [
    "KafkaAccess",
    "KafkaAccessError",
    "Role",
    "ROLES",
    "SecurityProtocol",
    "SaslMechanism",
    "read_credentials",
]

Role = Literal["raw", "stream", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)
SecurityProtocol = Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL", "SSL"]
SaslMechanism = Literal["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"]

_PROTOCOLS: tuple[str, ...] = get_args(SecurityProtocol)
_MECHANISMS: tuple[str, ...] = get_args(SaslMechanism)


@dataclass(frozen=True)
class KafkaAccess:
    """Everything an aiokafka client needs to reach the broker as one principal.

    ``password`` and ``ssl_key_password`` stay out of ``repr`` so the object can be logged.
    """

    bootstrap: str
    security_protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism = "SCRAM-SHA-256"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    ssl_key_password: str | None = field(default=None, repr=False)
    role: str = "client"

    def __post_init__(self) -> None:
        if self.security_protocol not in _PROTOCOLS:
            raise KafkaAccessError(
                f"EAMS_KAFKA_SECURITY_PROTOCOL={self.security_protocol!r} is not one of "
                f"{', '.join(_PROTOCOLS)}"
            )
        if self.sasl and self.sasl_mechanism not in _MECHANISMS:
            raise KafkaAccessError(
                f"EAMS_KAFKA_SASL_MECHANISM={self.sasl_mechanism!r} is not one of "
                f"{', '.join(_MECHANISMS)}"
            )
        if self.sasl and not (self.username and self.password):
            var = f"EAMS_KAFKA_{self.role.upper()}"
            raise KafkaAccessError(
                f"{self.security_protocol} needs a user name and password for the {self.role} "
                f"principal: set {var}_USERNAME and {var}_PASSWORD"
            )
        if (self.ssl_cafile or self.ssl_certfile or self.ssl_keyfile) and not self.tls:
            raise KafkaAccessError(
                "EAMS_KAFKA_SSL_* files are set but the connection is not encrypted: set "
                "EAMS_KAFKA_SECURITY_PROTOCOL=SASL_SSL (or SSL), or unset the SSL files"
            )
        if self.ssl_keyfile and not self.ssl_certfile:
            raise KafkaAccessError(
                "EAMS_KAFKA_SSL_KEYFILE is set without EAMS_KAFKA_SSL_CERTFILE; a client "
                "certificate needs both"
            )

    @classmethod
    def plaintext(cls, bootstrap: str) -> KafkaAccess:
        """An unauthenticated, unencrypted connection (a broker without security)."""
        return cls(bootstrap=bootstrap)

    @property
    def sasl(self) -> bool:
        """True when the connection authenticates with SASL."""
        return self.security_protocol.startswith("SASL_")

    @property
    def tls(self) -> bool:
        """True when the connection is encrypted with TLS."""
        return self.security_protocol in ("SSL", "SASL_SSL")

    @property
    def principal(self) -> str | None:
        """The broker principal this access authenticates as (``User:<name>``)."""
        return f"User:{self.username}" if self.sasl and self.username else None

    def with_role(self, role: str, username: str, password: str) -> KafkaAccess:
        """The same connection, authenticated as another principal."""
        return KafkaAccess(
            bootstrap=self.bootstrap,
            security_protocol=self.security_protocol,
            sasl_mechanism=self.sasl_mechanism,
            username=username,
            password=password,
            ssl_cafile=self.ssl_cafile,
            ssl_certfile=self.ssl_certfile,
            ssl_keyfile=self.ssl_keyfile,
            ssl_key_password=self.ssl_key_password,
            role=role,
        )

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments for ``AIOKafkaConsumer``, ``AIOKafkaProducer`` and
        ``AIOKafkaAdminClient``: the address and the security settings, nothing else."""
        options: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap,
            "security_protocol": self.security_protocol,
        }
        if self.sasl:
            options["sasl_mechanism"] = self.sasl_mechanism
            options["sasl_plain_username"] = self.username
            options["sasl_plain_password"] = self.password
        if self.tls:
            options["ssl_context"] = _ssl_context(
                self.ssl_cafile, self.ssl_certfile, self.ssl_keyfile, self.ssl_key_password
            )
        return options


@lru_cache(maxsize=8)
def _ssl_context(
    cafile: Path | None, certfile: Path | None, keyfile: Path | None, password: str | None
) -> ssl.SSLContext:
    """One TLS context per distinct file set (loading a CA bundle is not free)."""
    from aiokafka.helpers import create_ssl_context

    try:
        context: ssl.SSLContext = create_ssl_context(
            cafile=str(cafile) if cafile else None,
            certfile=str(certfile) if certfile else None,
            keyfile=str(keyfile) if keyfile else None,
            password=password,
        )
        return context
    except (OSError, ssl.SSLError) as e:
        raise KafkaAccessError(
            f"could not load the Kafka TLS files (EAMS_KAFKA_SSL_CAFILE={cafile}, "
            f"EAMS_KAFKA_SSL_CERTFILE={certfile}, EAMS_KAFKA_SSL_KEYFILE={keyfile}): {e}"
        ) from e


def read_credentials(path: Path) -> dict[str, tuple[str, str]]:
    """The ``{role: (username, password)}`` pairs of a ``credentials.json`` file."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise KafkaAccessError(
            f"{path} does not exist: start the local broker first (eams kafka start), "
            "which generates its credentials"
        ) from None
    except (OSError, ValueError) as e:
        raise KafkaAccessError(f"{path} is not readable JSON: {e}") from e
    out: dict[str, tuple[str, str]] = {}
    for role, entry in data.items() if isinstance(data, dict) else ():
        if isinstance(entry, dict) and {"username", "password"} <= entry.keys():
            out[str(role)] = (str(entry["username"]), str(entry["password"]))
    missing = [r for r in ROLES if r not in out]
    if missing:
        raise KafkaAccessError(
            f"{path} has no credentials for {', '.join(missing)}; restore it from a backup, "
            "or stop the broker, delete the file and run eams kafka start (new passwords "
            "are generated and set on the broker)"
        )
    return out
