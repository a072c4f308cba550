"""The user store: API-key allow-lists, the schema migration of older stores, expired
sessions purged, and the principal a caller becomes on a raw record."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from eams.auth import SCHEMA_VERSION, AuthError, Principal, UserStore
from streams.principal import Submitter

OLD_SCHEMA = """
CREATE TABLE users (name TEXT PRIMARY KEY, role TEXT NOT NULL, regions TEXT NOT NULL,
    password_hash TEXT NOT NULL, disabled INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL);
CREATE TABLE sessions (token_hash TEXT PRIMARY KEY, name TEXT NOT NULL, expires_at TEXT NOT NULL);
CREATE TABLE api_keys (source TEXT PRIMARY KEY, key_hash TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL);
"""


def test_a_key_carries_its_allow_lists(tmp_path: Path) -> None:
    store = UserStore(tmp_path / "users.sqlite")
    key = store.add_key("civil-affairs", ("person.registered",), ("371300",))
    who = store.api_key(key)
    assert who is not None and who.kind == "apikey" and who.may("ingest")
    assert who.submitter() == Submitter(
        "apikey", "civil-affairs", "source", ("371300",), ("person.registered",)
    )
    [listed] = store.api_keys()
    assert listed["types"] == ["person.registered"] and listed["regions"] == ["371300"]
    wide = store.api_key(store.add_key("tax-bureau"))
    assert wide is not None and wide.submitter().types == () and wide.submitter().regions == ()


@pytest.mark.parametrize("source", ["", "eams.runtime", "has space", "x" * 65])
def test_key_sources_are_names(tmp_path: Path, source: str) -> None:
    with pytest.raises(AuthError, match="source"):
        UserStore(tmp_path / "users.sqlite").add_key(source)


def test_an_older_store_is_migrated_in_place(tmp_path: Path) -> None:
    path = tmp_path / "users.sqlite"
    db = sqlite3.connect(path)
    db.executescript(OLD_SCHEMA)
    # a key made by the previous version: its hash is that of "eams_old"
    digest = hashlib.sha256(b"eams_old").hexdigest()
    db.execute("INSERT INTO api_keys VALUES ('legacy', ?, 0, '2026-01-01')", (digest,))
    db.commit()
    db.close()
    store = UserStore(path)
    who = store.api_key("eams_old")
    assert who is not None and who.submitter() == Submitter("apikey", "legacy", "source")
    with sqlite3.connect(path) as check:
        assert check.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    UserStore(path)  # opening again changes nothing
    assert store.api_keys()[0]["types"] == []


def test_a_user_linked_to_their_own_person_in_an_older_store(tmp_path: Path) -> None:
    path = tmp_path / "users.sqlite"
    db = sqlite3.connect(path)
    db.executescript(OLD_SCHEMA)
    db.execute("INSERT INTO users VALUES ('chen', 'subsidy_approver', '[]', 'x', 0, '2026')")
    db.commit()
    db.close()
    store = UserStore(path)
    assert store.staff_persons() == {}
    store.link_person("chen", "p_" + "c" * 32)
    store.add_user("li", "case_officer", "correct horse battery", [])
    assert store.staff_persons() == {"chen": "p_" + "c" * 32}
    with pytest.raises(AuthError, match="no user 'nobody'"):
        store.link_person("nobody", "p_" + "d" * 32)


def test_expired_sessions_are_purged_at_sign_in(tmp_path: Path) -> None:
    store = UserStore(tmp_path / "users.sqlite")
    store.add_user("duty-a", "duty_officer", "correct horse battery", [])
    with sqlite3.connect(store.path) as db:
        db.executemany(
            "INSERT INTO sessions VALUES (?, 'duty-a', '2020-01-01T00:00:00+00:00')",
            [(f"old{i}",) for i in range(50)],
        )
    assert store.sign_in("duty-a", "correct horse battery")
    with sqlite3.connect(store.path) as db:
        assert db.execute("SELECT count(*) FROM sessions").fetchone()[0] == 1


def test_users_and_the_operator_as_principals_of_raw_records() -> None:
    user = Principal("case-linyi", "case_officer", ("371300",))
    assert user.submitter() == Submitter("user", "case-linyi", "case_officer", ("371300",))
    operator = Principal("operator", "admin", kind="operator").submitter()
    assert operator.trusted and operator.kind == "operator"
