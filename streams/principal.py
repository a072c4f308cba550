"""Who submitted a raw input, carried with it and signed: :class:`Submitter` and :class:`Signer`.

Every record the API or the importer writes to ``<ns>.ingest.raw`` carries two headers:

- ``eams-principal``: the submitter as compact JSON (kind ``user`` | ``apikey`` |
  ``operator`` | ``importer``, name, role, regions, and an API key's allowed event types);
- ``eams-signature``: ``HMAC-SHA256(key, "eams-raw/1" | len(principal) | principal | value)``
  in hex, with the signing key the API, the importer and the ingest stream share
  (``Settings.ingest_key``: ``EAMS_INGEST_SECRET`` or ``<state dir>/ingest.key``).

The ingest stream verifies the signature before anything else: a record without a valid one
was written by some other client and is dead-lettered; a signed record is then checked
against its principal (:func:`streams.pipeline.process_raw`), exactly as the API checked it.
Signing covers the value and the principal header, so neither can be changed, nor a
principal moved onto other bytes. A signed record copied and produced again is the same
event (same ``event_id``) and is dropped by the dedupe.

Pure: no I/O, so it is tested without a broker.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

import orjson

H_PRINCIPAL = "eams-principal"
H_SIGNATURE = "eams-signature"
KINDS = ("user", "apikey", "operator", "importer")
#: Kinds that act for others (bulk loads, the local operator): a body's source and actor
#: are kept as given; users and API keys have theirs fixed by who they are.
TRUSTED_KINDS = ("operator", "importer")
_DOMAIN = b"eams-raw/1"
_CACHE = 1024  # principals remembered by header bytes (a handful are live at a time)


@dataclass(frozen=True)
class Submitter:
    """Who submitted a raw input (the principal of a raw record).

    ``regions`` empty = every region; ``types`` empty = every event type a source may send.
    """

    kind: str
    name: str
    role: str = ""
    regions: tuple[str, ...] = ()
    types: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"principal kind {self.kind!r} is not one of {', '.join(KINDS)}")
        if not self.name:
            raise ValueError("a principal needs a name")

    @property
    def source(self) -> str:
        """The ``source`` of the events it submits: an API key's source is its name, a
        user's is ``user:<name>``; the operator and importers name themselves (a body's own
        source is kept for them, see :data:`TRUSTED_KINDS`)."""
        return f"user:{self.name}" if self.kind == "user" else self.name

    @property
    def trusted(self) -> bool:
        """True for the operator and importers, whose bodies keep their source and actor."""
        return self.kind in TRUSTED_KINDS

    def to_header(self) -> bytes:
        """The ``eams-principal`` header value (compact JSON, stable key order)."""
        doc: dict[str, object] = {"kind": self.kind, "name": self.name}
        if self.role:
            doc["role"] = self.role
        if self.regions:
            doc["regions"] = list(self.regions)
        if self.types:
            doc["types"] = list(self.types)
        return orjson.dumps(doc)

    @classmethod
    def from_header(cls, value: bytes) -> Submitter:
        """Read an ``eams-principal`` header; ValueError when it is not one."""
        try:
            doc = orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"principal header is not JSON: {exc}") from None
        if not isinstance(doc, dict):
            raise ValueError("principal header is not a JSON object")
        regions, types = doc.get("regions", []), doc.get("types", [])
        if not (isinstance(regions, list) and isinstance(types, list)):
            raise ValueError("principal header: regions and types must be lists")
        return cls(
            kind=str(doc.get("kind", "")),
            name=str(doc.get("name", "")),
            role=str(doc.get("role", "")),
            regions=tuple(str(r) for r in regions),
            types=tuple(str(t) for t in types),
        )


class Signer:
    """Signs raw records for a principal and verifies them (HMAC-SHA256, shared key)."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("the ingest signing key must be at least 32 bytes")
        self._key = key
        self._keyed: dict[bytes, hmac.HMAC] = {}  # principal header -> HMAC over the prefix
        self._principals: dict[bytes, Submitter | None] = {}

    def _prefixed(self, principal: bytes) -> hmac.HMAC:
        found = self._keyed.get(principal)
        if found is None:
            if len(self._keyed) >= _CACHE:
                self._keyed.clear()
            prefix = _DOMAIN + len(principal).to_bytes(4, "big") + principal
            found = self._keyed[principal] = hmac.new(self._key, prefix, hashlib.sha256)
        return found

    def signature(self, value: bytes, principal: bytes) -> bytes:
        """The hex signature of ``value`` submitted by the principal header ``principal``."""
        mac = self._prefixed(principal).copy()
        mac.update(value)
        return mac.hexdigest().encode()

    def headers(self, value: bytes, who: Submitter) -> list[tuple[str, bytes]]:
        """The principal and signature headers of one raw record."""
        principal = who.to_header()
        return [(H_PRINCIPAL, principal), (H_SIGNATURE, self.signature(value, principal))]

    def verify(self, value: bytes, headers: object) -> Submitter | None:
        """The principal of a record whose signature is valid, else None (unsigned, forged,
        altered, or a principal header that is not one)."""
        principal = signature = None
        for key, raw in headers or ():  # type: ignore[attr-defined]
            if key == H_PRINCIPAL:
                principal = bytes(raw)
            elif key == H_SIGNATURE:
                signature = bytes(raw)
        if principal is None or signature is None:
            return None
        if not hmac.compare_digest(self.signature(value, principal), signature):
            return None
        if principal not in self._principals:
            if len(self._principals) >= _CACHE:
                self._principals.clear()
            try:
                self._principals[principal] = Submitter.from_header(principal)
            except ValueError:
                self._principals[principal] = None
        return self._principals[principal]
