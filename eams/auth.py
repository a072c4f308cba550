"""Sign-in, roles and API keys.

- **Users** live in ``<state dir>/users.sqlite`` (not in the event log: password hashes
  must not be kept forever). Passwords are hashed with Argon2id (argon2-cffi). Each user
  has one role and optionally the regions they may see (a city's staff: their city and its
  counties; none = the whole province). ``eams users add|list|disable`` manage them.
- **Sessions**: ``POST /api/session`` with a user name and password gives a random token
  (kept as a SHA-256 hash, 12 h), sent back as the ``eams_session`` cookie (the console) or
  ``Authorization: Bearer`` (scripts).
- **API keys** for source systems (``eams apikeys add SOURCE [--types T,…] [--region C …]``):
  only ``/api/ingest``, header ``X-API-Key``; each key has an allow-list of event types and
  regions (none given = every source event type, every region), enforced by the API and
  again by the ingest stream (:func:`streams.pipeline.authorize`).
- **The operator token**: ``eams run`` writes a random token to ``<state dir>/operator.token``
  (0600) at start; whoever can read the state dir administers this worker, so the CLI
  sends it and names the actor of each command with ``--actor``.

Every command carries its actor: the signed-in user (a body's ``actor`` is ignored), or,
with the operator token, the ``--actor`` the CLI was given.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from events.errors import EamsError
from projections.disclosure import Policy
from streams.principal import Submitter

ROLES: dict[str, str] = {
    "analyst": "分析员 / Analyst",
    "duty_officer": "值班员 / Duty officer",
    "incident_team": "应急处置组 / Incident team",
    "case_officer": "就业服务专员 / Case officer",
    "subsidy_approver": "补贴审批员 / Subsidy approver",
    "payment_officer": "资金发放专员 / Payment officer",
    "auditor": "审计员 / Auditor",
    "admin": "管理员 / Administrator",
}

#: What each role may do (``admin`` may do everything).
PERMISSIONS: dict[str, frozenset[str]] = {
    "analyst": frozenset({"read:overview", "read:alerts", "read:playbooks"}),
    "duty_officer": frozenset({"read:overview", "read:alerts", "act:alerts", "read:playbooks"}),
    "incident_team": frozenset({"read:overview", "read:alerts", "read:playbooks", "act:playbooks"}),
    "case_officer": frozenset({"read:overview", "ingest", "read:cases", "act:cases"}),
    # approves and refuses subsidy applications, never applies or checks (maker-checker)
    "subsidy_approver": frozenset(
        {"read:overview", "read:cases", "read:money", "approve:subsidies"}
    ),
    # gathers what is due into batches, sends the bank its file, reconciles the return;
    # never applies, checks or approves
    "payment_officer": frozenset({"read:overview", "read:money", "pay:subsidies"}),
    # reads everything; handles the fraud rules' cases (confirm with recovery, or dismiss);
    # reads and freezes the performance evaluation
    "auditor": frozenset(
        {
            "read:overview",
            "read:alerts",
            "read:playbooks",
            "read:audit",
            "read:cases",
            "read:money",
            "read:fraud",
            "act:fraud",
            "read:evaluation",
            "freeze:evaluation",
        }
    ),
}
#: Every permission there is (the console shows what a role has of them).
ALL_PERMISSIONS: tuple[str, ...] = (*sorted(set().union(*PERMISSIONS.values())), "admin")
SESSION_HOURS = 12
_HASHER = PasswordHasher()


class AuthError(EamsError):
    """A user or key command that cannot be done (names what and why)."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user, a source system (API key) or the local operator."""

    name: str
    role: str
    regions: tuple[str, ...] = ()
    kind: str = "user"  # user | apikey | operator
    roles_label: str = field(default="", compare=False)
    types: tuple[str, ...] = ()  # an API key's allowed event types (none = all)

    def may(self, permission: str) -> bool:
        """Whether the role allows ``permission``."""
        if self.role == "admin":
            return True
        if self.kind == "apikey":
            return permission == "ingest"
        return permission in PERMISSIONS.get(self.role, frozenset())

    def actor(self, claimed: str | None) -> str:
        """The actor a command records: the user, or the operator's ``--actor``."""
        if self.kind == "operator" and claimed:
            return claimed
        return self.name

    def submitter(self) -> Submitter:
        """Who this is on a raw record (signed, re-checked by the ingest stream)."""
        if self.kind == "apikey":
            return Submitter(
                "apikey", self.name.removeprefix("source:"), self.role, self.regions, self.types
            )
        return Submitter(self.kind, self.name, self.role, self.regions)

    @property
    def suppress_small_cells(self) -> bool:
        """Whether small-cell suppression applies to this caller (analysts; the rules are
        :class:`projections.disclosure.Policy`)."""
        return Policy.for_role(self.role).suppress


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class UserStore:
    """Users, sessions and API keys in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)  # the state dir
        with self._db() as db:
            db.executescript(
                """
                CREATE TABLE IF NOT EXISTS users (
                    name TEXT PRIMARY KEY, role TEXT NOT NULL, regions TEXT NOT NULL,
                    password_hash TEXT NOT NULL, disabled INTEGER NOT NULL DEFAULT 0,
                    created_at TEXT NOT NULL);
                CREATE TABLE IF NOT EXISTS sessions (
                    token_hash TEXT PRIMARY KEY, name TEXT NOT NULL, expires_at TEXT NOT NULL);
                CREATE TABLE IF NOT EXISTS api_keys (
                    source TEXT PRIMARY KEY, key_hash TEXT NOT NULL,
                    disabled INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL);
                """
            )
            _migrate(db)
        os.chmod(path, 0o600)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=10)
        try:
            with db:
                yield db
        finally:
            db.close()

    # -- users -----------------------------------------------------------------------------
    def add_user(self, name: str, role: str, password: str, regions: list[str]) -> None:
        """Add a user; the role must be one of ``ROLES``."""
        if role not in ROLES:
            raise AuthError(f"role {role!r} is not one of {', '.join(ROLES)}")
        if len(password) < 10:
            raise AuthError("the password must be at least 10 characters")
        if not name or not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
            raise AuthError(f"user name {name!r}: use letters, digits, '-', '_' or '.'")
        now = dt.datetime.now(dt.UTC).isoformat()
        try:
            with self._db() as db:
                db.execute(
                    "INSERT INTO users (name, role, regions, password_hash, disabled, created_at)"
                    " VALUES (?, ?, ?, ?, 0, ?)",
                    (name, role, json.dumps(regions), _HASHER.hash(password), now),
                )
        except sqlite3.IntegrityError as exc:
            raise AuthError(f"user {name!r} exists; pick another name") from exc

    def reset_user(self, name: str, role: str, password: str, regions: list[str]) -> None:
        """Create the user, or give an existing one this role, regions and password (the
        demo account, on every demo start)."""
        if role not in ROLES or len(password) < 10:
            raise AuthError("reset_user: a known role and a password of 10+ characters")
        with self._db() as db:
            db.execute("DELETE FROM users WHERE name = ?", (name,))
            db.execute("DELETE FROM sessions WHERE name = ?", (name,))
        self.add_user(name, role, password, regions)

    def users(self) -> list[dict[str, object]]:
        """Every user (never the hash)."""
        with self._db() as db:
            rows = db.execute(
                "SELECT name, role, regions, disabled, created_at FROM users ORDER BY name"
            ).fetchall()
        return [
            {"name": n, "role": r, "regions": json.loads(g), "disabled": bool(d), "created": c}
            for n, r, g, d, c in rows
        ]

    def link_person(self, name: str, person_id: str) -> None:
        """Record the user's own person (their pseudonym, never the clear ID)."""
        with self._db() as db:
            found = db.execute("UPDATE users SET person_id = ? WHERE name = ?", (person_id, name))
            if found.rowcount == 0:
                raise AuthError(f"no user {name!r}; see `eams users list`")

    def staff_persons(self) -> dict[str, str]:
        """Each linked user's name -> their own person's pseudonym."""
        with self._db() as db:
            rows = db.execute(
                "SELECT name, person_id FROM users WHERE person_id IS NOT NULL"
            ).fetchall()
        return {str(n): str(p) for n, p in rows}

    def disable(self, name: str) -> None:
        """Disable a user and end their sessions."""
        with self._db() as db:
            if db.execute("UPDATE users SET disabled = 1 WHERE name = ?", (name,)).rowcount == 0:
                raise AuthError(f"no user {name!r}; see `eams users list`")
            db.execute("DELETE FROM sessions WHERE name = ?", (name,))

    def sign_in(self, name: str, password: str) -> str | None:
        """A new session token, or None when the name or password is wrong."""
        with self._db() as db:
            row = db.execute(
                "SELECT password_hash FROM users WHERE name = ? AND disabled = 0", (name,)
            ).fetchone()
        if row is None:
            _HASHER.hash(password)  # same time whether the user exists or not
            return None
        try:
            _HASHER.verify(row[0], password)
        except (VerificationError, InvalidHashError):
            return None
        self.purge_sessions()
        token = secrets.token_urlsafe(32)
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(hours=SESSION_HOURS)
        with self._db() as db:
            db.execute(
                "INSERT INTO sessions VALUES (?, ?, ?)",
                (_hash_token(token), name, expires.isoformat()),
            )
        return token

    def sign_out(self, token: str) -> None:
        """End a session."""
        with self._db() as db:
            db.execute("DELETE FROM sessions WHERE token_hash = ?", (_hash_token(token),))

    def session(self, token: str) -> Principal | None:
        """The user of a live session token."""
        now = dt.datetime.now(dt.UTC).isoformat()
        with self._db() as db:
            row = db.execute(
                "SELECT u.name, u.role, u.regions FROM sessions s JOIN users u "
                "ON u.name = s.name WHERE s.token_hash = ? AND s.expires_at > ? "
                "AND u.disabled = 0",
                (_hash_token(token), now),
            ).fetchone()
        if row is None:
            return None
        return Principal(row[0], row[1], tuple(json.loads(row[2])))

    def purge_sessions(self) -> int:
        """Delete expired sessions (at every sign-in); returns how many."""
        now = dt.datetime.now(dt.UTC).isoformat()
        with self._db() as db:
            return db.execute("DELETE FROM sessions WHERE expires_at <= ?", (now,)).rowcount

    # -- API keys --------------------------------------------------------------------------
    def add_key(
        self, source: str, types: tuple[str, ...] = (), regions: tuple[str, ...] = ()
    ) -> str:
        """A new API key for a source system (shown once; only its hash is kept), allowed to
        submit ``types`` for ``regions`` (empty = every source event type / every region).
        The caller checks the types and regions against the catalogue and reference."""
        if not source or source.startswith("eams.") or not _NAME.fullmatch(source):
            raise AuthError(
                f"source {source!r}: use letters, digits, '-', '_' or '.', not starting "
                "with 'eams.' (reserved), e.g. civil-affairs"
            )
        key = "eams_" + secrets.token_urlsafe(32)
        now = dt.datetime.now(dt.UTC).isoformat()
        row = (source, _hash_token(key), now, json.dumps(list(types)), json.dumps(list(regions)))
        with self._db() as db:
            db.execute(
                "INSERT OR REPLACE INTO api_keys (source, key_hash, disabled, created_at, types,"
                " regions) VALUES (?, ?, 0, ?, ?, ?)",
                row,
            )
        return key

    def api_keys(self) -> list[dict[str, object]]:
        """Every API key's source, allow-lists and state (never the key)."""
        with self._db() as db:
            rows = db.execute(
                "SELECT source, disabled, created_at, types, regions FROM api_keys ORDER BY source"
            ).fetchall()
        return [
            {
                "source": s,
                "disabled": bool(d),
                "created": c,
                "types": json.loads(t),
                "regions": json.loads(r),
            }
            for s, d, c, t, r in rows
        ]

    def disable_key(self, source: str) -> None:
        """Disable a source's API key."""
        with self._db() as db:
            done = db.execute("UPDATE api_keys SET disabled = 1 WHERE source = ?", (source,))
            if done.rowcount == 0:
                raise AuthError(f"no API key for {source!r}; see `eams apikeys list`")

    def api_key(self, key: str) -> Principal | None:
        """The source system of a valid API key."""
        with self._db() as db:
            row = db.execute(
                "SELECT source, types, regions FROM api_keys WHERE key_hash = ? AND disabled = 0",
                (_hash_token(key),),
            ).fetchone()
        if row is None:
            return None
        return Principal(
            f"source:{row[0]}",
            "source",
            tuple(json.loads(row[2])),
            kind="apikey",
            types=tuple(json.loads(row[1])),
        )


#: The store's schema version (``PRAGMA user_version``); :func:`_migrate` brings older
#: files up to it in place.
SCHEMA_VERSION = 3
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def _migrate(db: sqlite3.Connection) -> None:
    """Upgrade a store written by an older EAMS: version 2 gave API keys their allow-lists
    (existing keys keep every type and region, as before); version 3 links a user to their
    own person (the pseudonym: the fraud rule on approving for one's household)."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version < 2:
        columns = {row[1] for row in db.execute("PRAGMA table_info(api_keys)")}
        for column in ("types", "regions"):
            if column not in columns:
                db.execute(f"ALTER TABLE api_keys ADD COLUMN {column} TEXT NOT NULL DEFAULT '[]'")
    if version < 3:
        columns = {row[1] for row in db.execute("PRAGMA table_info(users)")}
        if "person_id" not in columns:
            db.execute("ALTER TABLE users ADD COLUMN person_id TEXT")
    if version < SCHEMA_VERSION:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def operator_token(state_dir: Path) -> str:
    """Write a fresh operator token (0600) and return it (``eams run`` at start)."""
    path = state_dir / "operator.token"
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(token)
    return token


def read_operator_token(state_dir: Path) -> str | None:
    """The operator token of the worker on this state dir, if readable."""
    try:
        return (state_dir / "operator.token").read_text().strip() or None
    except OSError:
        return None
