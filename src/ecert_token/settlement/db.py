"""One SQLite opening for the settlement tables (persons, vouchers, confirmations).

Each component keeps its own tables (prefixed ``settlement_``) and its own row
in ``schema_versions (component, version)``, the per-component version table
the activation registry (``ecert_token.registry``) keeps too, so all of them
can live in one file (``PRAGMA user_version`` is one integer for the whole
file, so no component uses it).  Every database fault becomes
REGISTRY_UNAVAILABLE with a fixed message (no query text, no values).

A component whose tables change gives :func:`open_db` its migrations, one
Python step per version (``migrations[n]`` brings version ``n`` to ``n + 1``;
a step may need Python, e.g. Unicode case mapping that SQLite's ``upper()``
lacks).  All steps and the new version row are one ``BEGIN IMMEDIATE``
transaction: a fault in any step leaves the file as it was.  A file newer
than the code is refused before anything is written to it.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Self

from ..errors import EcertError, ErrorCode

_VERSIONS = """
CREATE TABLE IF NOT EXISTS schema_versions (
    component TEXT PRIMARY KEY, version INTEGER NOT NULL) WITHOUT ROWID;
"""


Migration = Callable[[sqlite3.Connection], None]
"""One schema step of a component, run inside the opening's transaction."""


def open_db(
    path: str | os.PathLike[str], component: str, version: int, schema: str,
    migrations: Mapping[int, Migration] | None = None,
) -> sqlite3.Connection:
    """Open (creating if needed) ``path`` with ``schema`` and the component's version row.

    Autocommit mode (each statement is its own transaction), WAL, a 10 s busy
    timeout; an older version of the component's tables is migrated with
    ``migrations`` (see the module docstring); REGISTRY_UNAVAILABLE if the file
    cannot be used or holds a version this code cannot migrate (a newer one).
    An :class:`EcertError` raised by a migration step rolls it back and propagates.
    """
    try:
        db = sqlite3.connect(Path(path) if path != ":memory:" else path, timeout=10.0,
                             isolation_level=None)
    except sqlite3.Error:
        raise EcertError(ErrorCode.REGISTRY_UNAVAILABLE, "cannot open the database") from None
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(_VERSIONS)
        _migrate(db, component, version, migrations or {})
        db.executescript(schema)
        db.execute("INSERT OR IGNORE INTO schema_versions VALUES (?, ?)", (component, version))
    except sqlite3.Error:
        db.close()
        raise EcertError(ErrorCode.REGISTRY_UNAVAILABLE, "cannot open the database") from None
    except EcertError:
        db.close()
        raise
    return db


def _migrate(db: sqlite3.Connection, component: str, version: int,
             migrations: Mapping[int, Migration]) -> None:
    db.execute("BEGIN IMMEDIATE")  # two openers: the second sees the first's result
    try:
        row = db.execute("SELECT version FROM schema_versions WHERE component = ?",
                         (component,)).fetchone()
        current = version if row is None else int(row[0])
        if current > version or any(n not in migrations for n in range(current, version)):
            raise EcertError(ErrorCode.REGISTRY_UNAVAILABLE, "unknown schema version")
        for n in range(current, version):
            migrations[n](db)
        if current != version:
            db.execute("UPDATE schema_versions SET version = ? WHERE component = ?",
                       (version, component))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


@contextmanager
def guarded(db: sqlite3.Connection, what: str,
            conflict: ErrorCode | None = None) -> Iterator[sqlite3.Connection]:
    """Run statements on ``db``; a constraint violation becomes ``conflict`` (when
    given), any other fault REGISTRY_UNAVAILABLE with the fixed phrase ``what``."""
    try:
        yield db
    except sqlite3.IntegrityError:
        if conflict is None:
            raise EcertError(ErrorCode.REGISTRY_UNAVAILABLE, what) from None
        raise EcertError(conflict) from None
    except sqlite3.Error:
        raise EcertError(ErrorCode.REGISTRY_UNAVAILABLE, what) from None


class Database:
    """A settlement component's SQLite connection: opened by :func:`open_db`, closed
    by :meth:`close` or at the end of a ``with`` block."""

    _db: sqlite3.Connection

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
