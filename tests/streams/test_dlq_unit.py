"""Dead letters at rest: sealed values, masked headers and previews, the key file."""

from __future__ import annotations

import datetime as dt
import stat
import threading
from pathlib import Path

import orjson
import pytest

from events.identity import make_national_id
from streams import topics
from streams.dlq import (
    H_KEY_ID,
    DeadLetterKey,
    DeadLetterKeyError,
    dead_letter_record,
    load_key,
    masked,
)

KEY = DeadLetterKey(bytes(range(32)))
ID = make_national_id("370102", dt.date(1990, 1, 2), 123)
TYPO = ID[:17] + ("0" if ID[17] != "0" else "1")
RAW = orjson.dumps(
    {
        "event_type": "person.registered",
        "payload": {"national_id": ID, "name": "欧阳娜娜", "phone": "13812345678", "note": TYPO},
    }
)


def _headers(record_headers: list[tuple[str, bytes]]) -> dict[str, str]:
    return {k: v.decode() for k, v in record_headers}


def test_the_value_is_sealed_and_opens_only_for_its_entry() -> None:
    record = dead_letter_record(
        KEY, RAW, reason="bad", field="payload.x", source="s", origin="ns.ingest.raw:0:7"
    )
    assert ID.encode() not in record.value and "欧阳".encode() not in record.value
    entry_id = record.key.decode()
    assert entry_id.startswith("dl_") and len(entry_id) == 35
    headers = _headers(record.headers)
    assert headers[H_KEY_ID] == KEY.key_id
    aad = f"eams-dlq/1|{entry_id}|ns.ingest.raw:0:7".encode()
    assert KEY.open(record.value, aad) == RAW
    with pytest.raises(DeadLetterKeyError):
        KEY.open(record.value, b"eams-dlq/1|dl_other|ns.ingest.raw:0:8")  # moved elsewhere
    with pytest.raises(DeadLetterKeyError):
        DeadLetterKey(b"\x01" * 32).open(record.value, aad)  # another key


def test_the_entry_id_is_stable_and_keyed() -> None:
    one = dead_letter_record(KEY, RAW, reason="r", field="f", source="s", origin="t:0:1")
    again = dead_letter_record(KEY, RAW, reason="r", field="f", source="s", origin="t:0:1")
    other = dead_letter_record(KEY, RAW, reason="r", field="f", source="s", origin="t:0:2")
    assert one.key == again.key != other.key
    assert one.value != again.value  # a fresh nonce every time
    assert DeadLetterKey(b"\x02" * 32).entry_id("t:0:1", RAW) != one.key.decode()


def test_reasons_and_headers_are_masked_checksum_or_not() -> None:
    reason = f"payload.national_id: checksum character is wrong (got '{TYPO}'); tel 13812345678"
    record = dead_letter_record(
        KEY, RAW, reason=reason, field="payload.note", source="src", origin="f.csv:3", line="3"
    )
    headers = _headers(record.headers)
    for text in headers.values():
        assert TYPO not in text and ID not in text and "13812345678" not in text
    assert headers[topics.H_REASON].endswith("tel 138****5678")
    assert TYPO[:6] + "********" + TYPO[-4:] in headers[topics.H_REASON]
    assert headers[topics.H_LINE] == "3"


def test_masked_preview_of_json_and_of_text() -> None:
    shown = masked(RAW)
    for clear in (ID, TYPO, "欧阳娜娜", "13812345678"):
        assert clear not in shown, clear
    doc = orjson.loads(shown)
    assert doc["payload"]["name"] == "欧阳**"
    assert doc["payload"]["phone"] == "138****5678"
    csv_row = f"Acme,{ID},13812345678,2024-03-01".encode()
    assert masked(csv_row) == f"Acme,{ID[:6]}********{ID[-4:]},138****5678,2024-03-01"
    assert ID not in masked(b"\xff\xfe" + ID.encode())  # not UTF-8 either


def test_key_file_created_once_0600(tmp_path: Path) -> None:
    path = tmp_path / "state" / "dlq.key"
    assert load_key(path, create=False) is None
    keys: list[DeadLetterKey | None] = []
    threads = [
        threading.Thread(target=lambda: keys.append(load_key(path, create=True))) for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(keys)) == 1 and keys[0] is not None  # racing creators agree
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_key(path, create=False) == keys[0]
    path.write_text("abcd\n")
    with pytest.raises(DeadLetterKeyError, match="must be 64 hex characters"):
        load_key(path, create=False)
