"""The activation registry's schema and its migrations.

The registry lives in one SQLite file that other parts of the platform share
(person-identity tables, settlement): this module creates and migrates only
the ``holder_*`` tables.  Migrations are numbered per component in the table
``schema_versions (component, version)``; ``PRAGMA user_version`` is one
integer for the whole file, so two components migrating on their own cannot
share it (see docs/holder-credentials.md#registry).  :func:`migrate` is the
helper any component may use for its own tables.

The database itself enforces the two rules of the issue:

* one active device credential per person: a partial UNIQUE index on
  ``cert_id`` over the active device rows;
* at most five family members per holder: a trigger refuses the sixth row.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

COMPONENT = "holder"

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
        """CREATE UNIQUE INDEX holder_one_active_device ON holder_credentials (cert_id)
            WHERE kind = 'device' AND revoked_at IS NULL""",
        """CREATE UNIQUE INDEX holder_one_active_delegation
            ON holder_credentials (cert_id, parent_idx)
            WHERE kind = 'delegation' AND revoked_at IS NULL""",
        """CREATE INDEX holder_delegations_by_parent ON holder_credentials (parent_idx)
            WHERE parent_idx IS NOT NULL""",
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
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        current = version(conn, component)
        if current > len(migrations):
            raise sqlite3.DatabaseError("the database is newer than this software")
        for n in range(current, len(migrations)):
            for statement in migrations[n]:
                conn.execute(statement)
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
