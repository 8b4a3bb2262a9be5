"""The activation registry's schema and its migrations.

The registry lives in one SQLite file that other parts of the platform share
(person-identity tables, settlement): this module creates and migrates only
the ``holder_*`` tables.  Migrations are numbered per component in the table
``schema_versions (component, version)``; ``PRAGMA user_version`` is one
integer for the whole file, so two components migrating on their own cannot
share it (see docs/holder-credentials.md#registry).  :func:`migrate` is the
helper any component may use for its own tables.

Version 2 (random status indices and SM2 device keys) rebuilds
``holder_credentials``: the status index is no longer the row id but a
column of its own (``status_idx``, UNIQUE, chosen at random by the registry,
store.py), the issue order lives in ``seq`` (what ``status_idx`` was: a
migrated row keeps its index, so credentials already issued stay valid), and
``device_key`` may be 32 bytes (Ed25519) or 33 (a compressed SM2 point).
SQLite cannot change a column or a CHECK in place, so the table is copied,
the old one dropped and the copy renamed (SQLite's documented procedure; the
caller runs it with foreign keys off, which :func:`migrate` asks for).

The database itself enforces the two rules of the issue:

* one active device credential per person: a partial UNIQUE index on
  ``cert_id`` over the active device rows;
* at most five family members per holder: a trigger refuses the sixth row.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

COMPONENT = "holder"

_CREDENTIAL_INDEXES = (
    """CREATE UNIQUE INDEX holder_one_active_device ON holder_credentials (cert_id)
        WHERE kind = 'device' AND revoked_at IS NULL""",
    """CREATE UNIQUE INDEX holder_one_active_delegation
        ON holder_credentials (cert_id, parent_idx)
        WHERE kind = 'delegation' AND revoked_at IS NULL""",
    """CREATE INDEX holder_delegations_by_parent ON holder_credentials (parent_idx)
        WHERE parent_idx IS NOT NULL""",
)
"""The rules on ``holder_credentials`` (made by version 1, made again after version 2's
rebuild, which drops them with the old table)."""

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (  # 1: credentials, family, settings
        """CREATE TABLE holder_credentials (
            status_idx INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL CHECK (kind IN ('device', 'delegation')),
            cert_id TEXT NOT NULL,
            holder_id TEXT,
            parent_idx INTEGER REFERENCES holder_credentials (status_idx),
            device_key BLOB NOT NULL CHECK (length(device_key) = 32),
            region TEXT NOT NULL,
            insutype TEXT NOT NULL,
            channel TEXT NOT NULL,
            masked_name TEXT NOT NULL,
            subject_kind TEXT NOT NULL,
            auth_method TEXT NOT NULL,
            issued_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL CHECK (expires_at > issued_at),
            revoked_at INTEGER,
            revoke_reason TEXT,
            CHECK ((kind = 'device') = (holder_id IS NULL AND parent_idx IS NULL)),
            CHECK ((revoked_at IS NULL) = (revoke_reason IS NULL))
        )""",
        *_CREDENTIAL_INDEXES,
        """CREATE TABLE holder_family (
            holder_id TEXT NOT NULL,
            member_id TEXT NOT NULL,
            added_at INTEGER NOT NULL,
            PRIMARY KEY (holder_id, member_id),
            CHECK (holder_id <> member_id)
        ) WITHOUT ROWID""",
        """CREATE TRIGGER holder_family_at_most_five BEFORE INSERT ON holder_family
            WHEN (SELECT count(*) FROM holder_family WHERE holder_id = NEW.holder_id) >= 5
            AND NOT EXISTS (SELECT 1 FROM holder_family
                            WHERE holder_id = NEW.holder_id AND member_id = NEW.member_id)
            BEGIN SELECT RAISE(ABORT, 'family_full'); END""",
        """CREATE TABLE holder_settings (
            name TEXT PRIMARY KEY,
            value TEXT NOT NULL
        ) WITHOUT ROWID""",
    ),
    (  # 2: random status indices (status_idx a column, seq the issue order); SM2 device keys
        """CREATE TABLE holder_credentials_v2 (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            status_idx INTEGER NOT NULL UNIQUE CHECK (status_idx BETWEEN 0 AND 4294967295),
            kind TEXT NOT NULL CHECK (kind IN ('device', 'delegation')),
            cert_id TEXT NOT NULL,
            holder_id TEXT,
            parent_idx INTEGER REFERENCES holder_credentials (status_idx),
            device_key BLOB NOT NULL CHECK (length(device_key) IN (32, 33)),
            region TEXT NOT NULL,
            insutype TEXT NOT NULL,
            channel TEXT NOT NULL,
            masked_name TEXT NOT NULL,
            subject_kind TEXT NOT NULL,
            auth_method TEXT NOT NULL,
            issued_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL CHECK (expires_at > issued_at),
            revoked_at INTEGER,
            revoke_reason TEXT,
            CHECK ((kind = 'device') = (holder_id IS NULL AND parent_idx IS NULL)),
            CHECK ((revoked_at IS NULL) = (revoke_reason IS NULL))
        )""",
        """INSERT INTO holder_credentials_v2 (seq, status_idx, kind, cert_id, holder_id,
            parent_idx, device_key, region, insutype, channel, masked_name, subject_kind,
            auth_method, issued_at, expires_at, revoked_at, revoke_reason)
            SELECT status_idx, status_idx, kind, cert_id, holder_id, parent_idx, device_key,
            region, insutype, channel, masked_name, subject_kind, auth_method, issued_at,
            expires_at, revoked_at, revoke_reason FROM holder_credentials ORDER BY status_idx""",
        "DROP TABLE holder_credentials",
        "ALTER TABLE holder_credentials_v2 RENAME TO holder_credentials",
        *_CREDENTIAL_INDEXES,
    ),
)
"""Statements per version, in order; version N is ``MIGRATIONS[N - 1]``."""

FAMILY_FULL_MESSAGE = "family_full"


def version(conn: sqlite3.Connection, component: str) -> int:
    """The component's schema version in this file (0: not created)."""
    conn.execute("""CREATE TABLE IF NOT EXISTS schema_versions (
        component TEXT PRIMARY KEY, version INTEGER NOT NULL) WITHOUT ROWID""")
    row = conn.execute("SELECT version FROM schema_versions WHERE component = ?",
                       (component,)).fetchone()
    return 0 if row is None else int(row[0])


def migrate(conn: sqlite3.Connection, component: str,
            migrations: Sequence[Sequence[str]]) -> int:
    """Bring ``component``'s tables to the newest version, in one transaction.

    The caller's connection must be in autocommit mode (``isolation_level=None``).
    A file newer than this code (a version above ``len(migrations)``) is refused.
    Foreign keys are off while migrations run (a table rebuild drops a parent
    table before its copy takes the name; SQLite's procedure) and the previous
    setting is restored after; ``PRAGMA foreign_key_check`` must then be clean.
    """
    fk = conn.execute("PRAGMA foreign_keys").fetchone()[0]
    conn.execute("PRAGMA foreign_keys=OFF")  # a no-op inside a transaction: set before BEGIN
    try:
        return _migrate(conn, component, migrations)
    finally:
        conn.execute(f"PRAGMA foreign_keys={'ON' if fk else 'OFF'}")


def _migrate(conn: sqlite3.Connection, component: str,
             migrations: Sequence[Sequence[str]]) -> int:
    conn.execute("BEGIN IMMEDIATE")
    try:
        current = version(conn, component)
        if current > len(migrations):
            raise sqlite3.DatabaseError("the database is newer than this software")
        for n in range(current, len(migrations)):
            for statement in migrations[n]:
                conn.execute(statement)
        if current < len(migrations) and conn.execute("PRAGMA foreign_key_check").fetchone():
            raise sqlite3.IntegrityError("a migration left a dangling reference")
        if current < len(migrations):
            conn.execute(
                "INSERT INTO schema_versions (component, version) VALUES (?, ?) "
                "ON CONFLICT (component) DO UPDATE SET version = excluded.version",
                (component, len(migrations)),
            )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return len(migrations)
