"""SQLite replay store: one file shared by the processes of one host.

* **Atomic check-and-mark**: one ``INSERT ... ON CONFLICT DO UPDATE ... WHERE``
  on the primary key (issuer, token id).  It inserts a new id, or takes over
  the row of an id that has expired but was not purged yet, and changes
  nothing for a live id; the number of changed rows is the answer.  The batch
  form runs all inserts in one ``BEGIN IMMEDIATE`` transaction.
* **Durability**: WAL journal.  Every check-and-mark is committed before it
  returns FIRST_USE, so an accepted id survives a crash (``kill -9``) of the
  verifying process.  ``synchronous=NORMAL`` (the default) writes the WAL to
  the operating system on every commit, which is enough for process crashes;
  pass ``synchronous="FULL"`` to also survive a power loss or kernel crash
  (an fsync per check, much slower).
* **Concurrency**: a busy timeout lets processes queue for the write lock;
  write transactions take it up front (``BEGIN IMMEDIATE``) so they never
  fail half-way on a lock upgrade.  The file must be on a local file system
  (WAL needs shared memory between the processes).
* **Expiry**: expired rows are purged at most once a second per process, in
  batches of ``PURGE_BATCH`` rows, inside the same short transaction as a
  check; a full batch makes the next call purge again, so a backlog drains
  without ever holding the lock for long.
* **Purge horizon**: ``replay_meta`` also records the latest ``now`` any
  purge ran at.  Callers' ``now`` values are not monotonic (processes and
  threads read their clocks at different moments), so an entry may arrive
  whose ``expires_at`` is at or before that horizon: its id may have been
  used and purged already, so it is answered FENCED, never FIRST_USE.  The
  check is part of the same INSERT statement, so a purge by another process
  cannot slip in between.
* **Fencing**: the file persists, so a restart of the verifying process does
  not lose memory and is not fenced.  Only a new file (first use, or the old
  one deleted) begins a new memory: its creation time is written into the
  file and tokens issued before it are fenced.

Every SQLite error becomes :class:`~ecert_token.errors.StoreUnavailable`.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from os import PathLike
from types import TracebackType
from typing import Literal

from ..clock import Clock, system_clock
from ..errors import InvalidArgument, StoreUnavailable
from .base import MarkResult, ReplayEntry, is_fenced

Synchronous = Literal["NORMAL", "FULL", "EXTRA"]

PURGE_BATCH = 256
"""Most expired rows deleted by one purge."""

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS replay_ids (
        issuer TEXT NOT NULL,
        token_id BLOB NOT NULL,
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (issuer, token_id)
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS replay_ids_expiry ON replay_ids (expires_at)",
    """CREATE TABLE IF NOT EXISTS replay_meta (
        name TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    ) WITHOUT ROWID""",
    # The purge horizon (raised by every purge); a file from before it starts at -1.
    "INSERT OR IGNORE INTO replay_meta (name, value) VALUES ('purged_through', -1)",
    # Written once, by whoever creates the file: when this file's memory began.
    "INSERT OR IGNORE INTO replay_meta (name, value) VALUES ('memory_began', ?)",
)

_MARK = """INSERT INTO replay_ids (issuer, token_id, expires_at) SELECT ?1, ?2, ?3
    WHERE ?3 > (SELECT value FROM replay_meta WHERE name = 'purged_through')
    ON CONFLICT (issuer, token_id) DO UPDATE SET expires_at = excluded.expires_at
    WHERE replay_ids.expires_at <= ?4"""

_LIVE = "SELECT 1 FROM replay_ids WHERE issuer = ? AND token_id = ? AND expires_at > ?"

_HORIZON = """UPDATE replay_meta SET value = max(value, ?)
    WHERE name = 'purged_through'"""

_PURGE = """DELETE FROM replay_ids WHERE (issuer, token_id) IN (
    SELECT issuer, token_id FROM replay_ids WHERE expires_at <= ? LIMIT ?)"""

_UNAVAILABLE = "sqlite replay store failed"


class SqliteReplayStore:
    """Replay memory in a SQLite file that several processes share.

    ``max_lifetime`` is the longest time a token can be accepted (used for
    ``fenced_until``); ``clock`` dates a newly created file's memory.
    ``timeout`` is how long (seconds) to wait for another process's write
    lock before giving up with StoreUnavailable.  Thread-safe: calls from
    several threads share one connection under a lock.
    """

    def __init__(
        self,
        path: str | PathLike[str],
        max_lifetime: int = 300,
        clock: Clock = system_clock,
        *,
        timeout: float = 5.0,
        synchronous: Synchronous = "NORMAL",
    ) -> None:
        if isinstance(max_lifetime, bool) or not isinstance(max_lifetime, int) or max_lifetime < 1:
            raise InvalidArgument("max_lifetime must be a positive number of seconds")
        if synchronous not in ("NORMAL", "FULL", "EXTRA"):
            raise InvalidArgument("synchronous must be NORMAL, FULL or EXTRA")
        self.max_lifetime = max_lifetime
        self._lock = threading.Lock()
        self._next_purge = 0
        try:
            self._db = sqlite3.connect(
                path, timeout=timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error:
            raise StoreUnavailable("cannot open the sqlite replay store") from None
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={synchronous}")
            self._db.execute("BEGIN IMMEDIATE")
            for statement in _SCHEMA[:-1]:
                self._db.execute(statement)
            self._db.execute(_SCHEMA[-1], (clock(),))
            row = self._db.execute(
                "SELECT value FROM replay_meta WHERE name = 'memory_began'"
            ).fetchone()
            self._db.execute("COMMIT")
        except sqlite3.Error:
            self._abandon()
            raise StoreUnavailable("cannot initialise the sqlite replay store") from None
        self.memory_began: int = row[0]

    @property
    def fenced_until(self) -> int:
        """From this second on, no valid token can have been issued before the memory began."""
        return self.memory_began + self.max_lifetime

    def _abandon(self) -> None:
        try:
            self._db.rollback()
            self._db.close()
        except sqlite3.Error:
            pass

    def close(self) -> None:
        """Close the connection; the file keeps every committed id."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> SqliteReplayStore:
        return self

    def __exit__(
        self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _mark(self, entry: ReplayEntry, now: int) -> MarkResult:
        db = self._db
        if is_fenced(entry, self.memory_began):
            live = db.execute(_LIVE, (entry.issuer, entry.token_id, now)).fetchone()
            return MarkResult.FENCED if live is None else MarkResult.REPLAYED
        cursor = db.execute(_MARK, (entry.issuer, entry.token_id, entry.expires_at, now))
        if cursor.rowcount == 1:
            return MarkResult.FIRST_USE
        # Not marked: a live id, or one at or before the purge horizon.
        live = db.execute(_LIVE, (entry.issuer, entry.token_id, now)).fetchone()
        return MarkResult.FENCED if live is None else MarkResult.REPLAYED

    def _purge(self, now: int) -> None:
        deleted = self._db.execute(_PURGE, (now, PURGE_BATCH)).rowcount
        self._db.execute(_HORIZON, (now,))
        # A full batch means a backlog: purge again on the next call.
        self._next_purge = now if deleted >= PURGE_BATCH else now + 1

    def _transaction(self, entries: Sequence[ReplayEntry], now: int) -> list[MarkResult]:
        db = self._db
        purge = now >= self._next_purge
        if len(entries) == 1 and not purge:
            # One statement in autocommit mode is its own (committed) transaction.
            return [self._mark(entries[0], now)]
        db.execute("BEGIN IMMEDIATE")
        results = [self._mark(e, now) for e in entries]
        if purge:
            self._purge(now)
        db.execute("COMMIT")
        return results

    def check_and_mark(self, entry: ReplayEntry, now: int) -> MarkResult:
        return self.check_and_mark_many((entry,), now)[0]

    def check_and_mark_many(self, entries: Sequence[ReplayEntry], now: int) -> list[MarkResult]:
        if not entries:
            return []
        with self._lock:
            try:
                return self._transaction(entries, now)
            except sqlite3.Error:
                try:
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
                raise StoreUnavailable(_UNAVAILABLE) from None
