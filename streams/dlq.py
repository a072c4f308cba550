"""The dead-letter topic ``<ns>.events.dlq``: what was rejected, why, and how to resubmit it.

A rejected input is personal data like any other (it is rejected *because* something is
wrong with it, and usually it still holds the ID, name and phone it came with), so it is
not kept in clear:

- **value** = 12-byte nonce + AES-256-GCM ciphertext of the original bytes, under the DLQ's
  own key (:class:`DeadLetterKey`: ``EAMS_DLQ_KEY`` or ``<state dir>/dlq.key``), with the
  entry id and origin as associated data, so a value moved onto another entry does not
  decrypt;
- **key** = the entry id, ``dl_`` + keyed hash of (origin, bytes): stable, so a batch the
  stream re-reads after a crash writes the same entry again, and compaction keeps one;
- **headers**: reason, field, source, time, origin (and the file line), with ID-shaped
  values and mobile numbers masked (a validation message may quote the input), and the id
  of the key that sealed the value.

The topic is compacted (:mod:`streams.topics`): after a successful replay the entry is
purged by a tombstone (its key with no value). Readers drop tombstoned entries at once;
the broker removes the ciphertext at the next compaction.

Every writer goes through :func:`dead_letter_record`; readers go through the running
worker (``GET /api/dlq``), which masks, and reveals only to an administrator, recording
who looked (``audit.dlq_revealed``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from events.identity import mask_name, mask_national_id, mask_phone
from events.pii_scan import mask_text
from streams import topics
from streams.errors import DeadLetterKeyError
from streams.kafka import KafkaAccess

log = logging.getLogger(__name__)

KEY_BYTES = 32
NONCE_BYTES = 12
H_KEY_ID = "eams-dlq-key"  # id of the key that sealed the value
H_MIGRATED_FROM = "eams-migrated-from"  # a clear entry of an older release, re-sealed


@dataclass(frozen=True)
class DeadLetterKey:
    """The AES-256-GCM key of the dead-letter topic (32 bytes)."""

    secret: bytes

    def __post_init__(self) -> None:
        if len(self.secret) != KEY_BYTES:
            raise DeadLetterKeyError(
                f"the DLQ key must be {KEY_BYTES} bytes, got {len(self.secret)}"
            )

    @property
    def key_id(self) -> str:
        """A public name of this key (a hash of it), carried by every sealed entry."""
        return hashlib.sha256(b"eams-dlq-key-id:" + self.secret).hexdigest()[:16]

    def entry_id(self, origin: str, raw: bytes) -> str:
        """The stable id of a dead letter: ``dl_`` + keyed hash of where it came from and
        its bytes (keyed, so the id says nothing about the content)."""
        digest = hmac.new(self.secret, origin.encode() + b"\0" + raw, hashlib.sha256)
        return "dl_" + digest.hexdigest()[:32]

    def seal(self, raw: bytes, associated: bytes) -> bytes:
        """Nonce + ciphertext of ``raw``, bound to ``associated``."""
        nonce = os.urandom(NONCE_BYTES)
        return nonce + AESGCM(self.secret).encrypt(nonce, raw, associated)

    def open(self, value: bytes, associated: bytes) -> bytes:
        """The original bytes; DeadLetterKeyError if the value does not open with this key."""
        try:
            return AESGCM(self.secret).decrypt(value[:NONCE_BYTES], value[NONCE_BYTES:], associated)
        except (InvalidTag, ValueError):
            raise DeadLetterKeyError(
                "the entry does not decrypt with this key (altered, or moved to another entry)"
            ) from None


def _parse_key(text: str, where: str) -> DeadLetterKey:
    try:
        secret = bytes.fromhex(text.strip())
    except ValueError:
        secret = b""
    if len(secret) != KEY_BYTES:
        raise DeadLetterKeyError(
            f"{where} must be {KEY_BYTES * 2} hex characters ({KEY_BYTES} random bytes), e.g. "
            "from `python3 -c 'import secrets; print(secrets.token_hex(32))'`"
        )
    return DeadLetterKey(secret)


def load_key(path: Path, configured: str | None = None, *, create: bool) -> DeadLetterKey | None:
    """The DLQ key: ``configured`` (``EAMS_DLQ_KEY``, hex), else the key file at ``path``.

    A missing file is created (0600, 32 random bytes in hex, atomically: two processes
    starting together end up with the same key) only when ``create``; otherwise None.
    """
    if configured:
        return _parse_key(configured, "EAMS_DLQ_KEY")
    if not path.exists() and create:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(KEY_BYTES) + "\n")
        try:
            os.link(tmp, path)  # fails if another process linked its key first: keep theirs
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    if not path.exists():
        return None
    return _parse_key(path.read_text(), str(path))


# -- writing ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class DeadLetterRecord:
    """What a writer sends to the DLQ topic: key (entry id), sealed value, headers."""

    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


def _clean(text: str) -> str:
    """Header text with every ID-shaped value and mobile number masked (checksum or not)."""
    return mask_text(text, strict=False)[0]


def _associated(entry_id: str, origin: str) -> bytes:
    return f"eams-dlq/1|{entry_id}|{origin}".encode()


def dead_letter_record(
    key: DeadLetterKey,
    raw: bytes,
    *,
    reason: str,
    field: str,
    source: str,
    origin: str,
    line: str | None = None,
    rejected_at: str | None = None,
    extra: tuple[tuple[str, bytes], ...] = (),
) -> DeadLetterRecord:
    """The DLQ record of one rejected input: its bytes sealed, the rest masked in headers.

    ``origin`` says where the input was (``<topic>:<partition>:<offset>``, or
    ``<file>:<line>`` for an import).
    """
    origin = _clean(origin)
    entry_id = key.entry_id(origin, raw)
    headers = [
        (topics.H_REASON, _clean(reason).encode()),
        (topics.H_FIELD, _clean(field).encode()),
        (topics.H_SOURCE, _clean(source).encode()),
        (topics.H_REJECTED_AT, (rejected_at or dt.datetime.now(dt.UTC).isoformat()).encode()),
        (topics.H_ORIGIN, origin.encode()),
        (H_KEY_ID, key.key_id.encode()),
        *extra,
    ]
    if line:
        headers.append((topics.H_LINE, _clean(line).encode()))
    value = key.seal(raw, _associated(entry_id, origin))
    return DeadLetterRecord(entry_id.encode(), value, headers)


def dead_letter_part(
    key: DeadLetterKey,
    raw: bytes,
    *,
    reason: str,
    field: str,
    source: str,
    origin: str,
    line: str | None = None,
    keep: int = topics.STUB_BYTES,
) -> DeadLetterRecord:
    """:func:`dead_letter_record` of ``raw``, or, when it is larger than ``keep`` bytes, of
    its first ``keep`` bytes, with its size and SHA-256 in the reason and its size in the
    ``eams-truncated-from`` header (an input the topics will not take whole: its source
    still has it)."""
    if len(raw) <= keep:
        return dead_letter_record(
            key, raw, reason=reason, field=field, source=source, origin=origin, line=line
        )
    digest = hashlib.sha256(raw).hexdigest()
    return dead_letter_record(
        key,
        raw[:keep],
        reason=f"{reason} [first {keep:,} of {len(raw):,} bytes kept, sha256 {digest}]",
        field=field,
        source=source,
        origin=origin,
        line=line,
        extra=((topics.H_TRUNCATED_FROM, str(len(raw)).encode()),),
    )


# -- reading ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class DeadLetter:
    """One rejected input as read back from the dead-letter topic.

    ``raw`` is None when the entry cannot be opened (``problem`` says why: sealed with
    another key, or altered).
    """

    partition: int
    offset: int
    entry_id: str
    raw: bytes | None
    reason: str
    field: str
    source: str
    rejected_at: str
    origin: str
    line: str | None
    key_id: str | None = None
    problem: str | None = None
    migrated_from: str | None = None  # ref of the clear entry of an older release it re-seals

    @property
    def ref(self) -> str:
        """How ``eams dlq replay`` names this entry: ``partition:offset``."""
        return f"{self.partition}:{self.offset}"

    def summary(self) -> dict[str, Any]:
        """What anyone allowed to list the DLQ sees: no clear input (see :func:`masked`)."""
        return {
            "ref": self.ref,
            "entry_id": self.entry_id,
            "source": self.source,
            "line": self.line,
            "field": self.field,
            "reason": self.reason,
            "rejected_at": self.rejected_at,
            "origin": self.origin,
            "raw_masked": masked(self.raw) if self.raw is not None else None,
            "problem": self.problem,
        }


_NAMED = {"national_id": mask_national_id, "phone": mask_phone, "name": mask_name}


def _mask_doc(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: (_NAMED[k](v) if k in _NAMED and isinstance(v, str) and v.strip() else _mask_doc(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_mask_doc(v) for v in value]
    if isinstance(value, str):
        return _clean(value)
    return value


def masked(raw: bytes) -> str:
    """A rejected input fit to show: in a JSON document the named fields (national_id,
    name, phone) masked wherever they are, and in any text every ID-shaped value (checksum
    or not) and mobile number masked."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _clean(raw.decode("utf-8", "replace"))
    return orjson.dumps(_mask_doc(doc)).decode()


def _letter(r: Any, key: DeadLetterKey | None) -> DeadLetter:
    h = r.headers
    entry_id = (r.key or b"").decode("utf-8", "replace")
    origin = topics.header(h, topics.H_ORIGIN) or ""
    key_id = topics.header(h, H_KEY_ID)
    raw: bytes | None = None
    problem: str | None = None
    if key_id is None:
        raw = r.value  # an entry of a release before encryption (re-sealed at start)
    elif key is None:
        problem = f"sealed with DLQ key {key_id}, and no DLQ key is configured"
    elif key_id != key.key_id:
        problem = (
            f"sealed with DLQ key {key_id}, not the current key {key.key_id}: it cannot be read "
            "unless that key is restored (dlq.key or EAMS_DLQ_KEY)"
        )
    else:
        try:
            raw = key.open(r.value, _associated(entry_id, origin))
        except DeadLetterKeyError as exc:
            problem = str(exc)
    return DeadLetter(
        partition=r.partition,
        offset=r.offset,
        entry_id=entry_id,
        raw=raw,
        reason=topics.header(h, topics.H_REASON) or "",
        field=topics.header(h, topics.H_FIELD) or "",
        source=topics.header(h, topics.H_SOURCE) or "",
        rejected_at=topics.header(h, topics.H_REJECTED_AT) or "",
        origin=origin,
        line=topics.header(h, topics.H_LINE),
        key_id=key_id,
        problem=problem,
        migrated_from=topics.header(h, H_MIGRATED_FROM),
    )


async def read_dead_letters(
    kafka: KafkaAccess,
    dlq_topic: str,
    key: DeadLetterKey | None,
    limit: int | None = None,
    *,
    legacy: bool = False,
) -> list[DeadLetter]:
    """Every live dead letter (oldest first), up to ``limit``: one per entry id (the
    latest), tombstoned entries left out. Entries of a release before encryption (clear,
    no key id) are left out too unless ``legacy`` (the migration reads them)."""
    consumer = AIOKafkaConsumer(**kafka.client_options(), enable_auto_commit=False)
    await consumer.start()
    found: dict[str, DeadLetter] = {}
    try:
        parts = await consumer._client.fetch_all_metadata()  # noqa: SLF001 - metadata only
        partitions = sorted(parts.partitions_for_topic(dlq_topic) or set())
        tps = [TopicPartition(dlq_topic, p) for p in partitions]
        if not tps:
            return []
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        remaining = {tp for tp in tps if ends[tp] > 0}
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, records in batch.items():
                for r in records:
                    if r.offset + 1 >= ends[tp]:
                        remaining.discard(tp)
                    name = (r.key or b"").decode("utf-8", "replace")
                    if r.value is None:
                        found.pop(name, None)  # a tombstone: purged
                        continue
                    if topics.header(r.headers, H_KEY_ID) is None:  # before encryption
                        if not legacy:
                            continue
                        name = f"legacy:{r.partition}:{r.offset}"  # keys were not entry ids
                    found.pop(name, None)  # the latest copy wins (order of arrival)
                    found[name] = _letter(r, key)
            if not batch:
                # Nothing more arrived within the timeout: positions caught up with the ends.
                remaining = {tp for tp in remaining if await consumer.position(tp) < ends[tp]}
    finally:
        await consumer.stop()
    letters = sorted(found.values(), key=lambda d: (d.rejected_at, d.partition, d.offset))
    return letters[:limit] if limit else letters


async def purge(kafka: KafkaAccess, dlq_topic: str, entry_ids: list[str]) -> int:
    """Tombstone ``entry_ids``: readers drop them at once, compaction removes their bytes."""
    if not entry_ids:
        return 0
    producer = AIOKafkaProducer(**kafka.client_options(), enable_idempotence=True)
    await producer.start()
    try:
        for entry_id in entry_ids:
            await producer.send(dlq_topic, value=None, key=entry_id.encode())
        await producer.flush()
    finally:
        await producer.stop()
    return len(entry_ids)


async def seal_legacy_entries(kafka: KafkaAccess, dlq_topic: str, key: DeadLetterKey) -> int:
    """Re-seal the clear entries an older release left in the DLQ (before encryption):
    each is written again sealed, then its old key (if it had one) is tombstoned; keyless
    ones are dropped by the first compaction. Idempotent: a re-sealed entry has the same
    entry id every time. Returns how many were re-sealed."""
    letters = await read_dead_letters(kafka, dlq_topic, key, legacy=True)
    done = {d.migrated_from for d in letters if d.migrated_from}
    old = [d for d in letters if d.key_id is None and d.raw is not None and d.ref not in done]
    if not old:
        return 0
    producer = AIOKafkaProducer(**kafka.client_options(), enable_idempotence=True)
    await producer.start()
    try:
        for d in old:
            assert d.raw is not None
            record = dead_letter_record(
                key,
                d.raw,
                reason=d.reason,
                field=d.field,
                source=d.source,
                origin=d.origin or f"{dlq_topic}:{d.ref}",
                line=d.line,
                rejected_at=d.rejected_at or None,
                extra=((H_MIGRATED_FROM, d.ref.encode()),),
            )
            await producer.send(dlq_topic, record.value, record.key, headers=record.headers)
            if d.entry_id:  # the legacy record's own key (an event id): tombstone it
                await producer.send(dlq_topic, value=None, key=d.entry_id.encode())
        await producer.flush()
    finally:
        await producer.stop()
    log.warning("re-sealed %d clear dead letters of an older release in %s", len(old), dlq_topic)
    return len(old)
