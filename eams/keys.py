"""The keys that protect personal data at rest, checked when ``eams run`` starts.

- **Pseudonym key** (``EAMS_PSEUDONYM_SECRET`` or ``<state dir>/pseudonym.key``): every
  ``person_id`` is an HMAC of a national ID under it. A new key would give every person a
  second pseudonym, so it is generated only while the event log is empty; a missing key
  file with events in the log stops the worker (:func:`check_pseudonym_key`).
- **DLQ key** (``EAMS_DLQ_KEY`` or ``<state dir>/dlq.key``): seals the dead letters. A
  missing key is generated for new entries, but when sealed entries are already there the
  worker says loudly that they cannot be read until the old key is restored; clear entries
  left by a release before encryption are sealed now (:func:`open_dead_letters`).
"""

from __future__ import annotations

import logging

from eams.settings import Settings
from events.errors import ConfigError
from streams import dlq
from streams.topics import topic_has_records

log = logging.getLogger("eams")


async def check_pseudonym_key(settings: Settings) -> None:
    """Refuse to start when the pseudonym key is missing but the log already holds events."""
    if not settings.pseudonym_key_missing:
        return
    events = settings.topics.events
    if not await topic_has_records(settings.kafka("stream"), events):
        return  # a new installation: settings.secret() generates the key
    raise ConfigError(
        f"the pseudonym key {settings.pseudonym_key_path} is missing, but {events} already "
        "holds events whose person ids were made with it; a new key would split every person "
        "in two (old events under one pseudonym, new ones under another). Restore "
        f"{settings.pseudonym_key_path} from a backup of the state dir (0600), or set "
        "EAMS_PSEUDONYM_SECRET to the key it held, then start again"
    )


async def open_dead_letters(settings: Settings) -> dlq.DeadLetterKey:
    """The DLQ key for this worker (created if missing, with a warning when entries sealed
    with another key exist), after sealing any clear entries of an older release."""
    kafka = settings.kafka("stream")
    topic = settings.topics.dlq
    key = settings.existing_dead_letter_key()
    if key is None:
        sealed = [d for d in await dlq.read_dead_letters(kafka, topic, None) if d.key_id]
        key = settings.dead_letter_key()
        if sealed:
            ids = sorted({d.key_id or "" for d in sealed})
            log.error(
                "the DLQ key %s was missing; a new one (%s) seals new dead letters, but the %d "
                "entries of %s sealed with key %s cannot be read: restore that dlq.key (or "
                "EAMS_DLQ_KEY) to read or replay them",
                settings.state_dir / "dlq.key",
                key.key_id,
                len(sealed),
                topic,
                ", ".join(ids),
            )
    await dlq.seal_legacy_entries(kafka, topic, key)
    return key
