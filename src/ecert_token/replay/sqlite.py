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
* **Purge horizon**: ``replay_meta`` also records the horizon every purge
  deletes up to: the latest ``now`` any purge ran at, but never past the
  newest token ``iat`` the purging process has been given
  (:func:`~ecert_token.replay.base.horizon_bound`).  Callers' ``now`` values
  are not monotonic (processes and threads read their clocks at different
  moments), so an entry may arrive whose ``expires_at`` is at or before that
  horizon: its id may have been used and purged already, so it is answered
  FENCED, never FIRST_USE; so is an entry expiring at or before the caller's
  own ``now`` (not held), and an expired row not purged yet is taken over
  only by an entry the caller holds live, so one id and expiry is a first
  use once at most.  The check is part of the same INSERT statement, so a
  purge by another process cannot slip in between.  One caller
  whose clock runs far ahead cannot move the horizon past the codes honest
  callers still accept (see docs/security.md, "A clock far ahead").
* **Fencing**: the file persists, so a restart of the verifying process does
  not lose memory and is not fenced.  Only a new file (first use, or the old
  one deleted) begins a new memory: its creation time is written into the
  file and tokens issued before it are fenced.
* **A file deleted, replaced or restored under running verifiers**: the file
  records a random store id, when its memory began, and the identity
  (``st_dev``, ``st_ino``) of the file it was created as.  A file opened under
  another identity is a copy (restored or moved in): it may lack ids used
  since the copy was taken, so it begins a new memory (fences) on open.  A
  running store remembers the identity it opened and checks it with one
  ``stat`` per transaction: a file deleted or replaced under it fails closed,
  for good (StoreUnavailable, "the replay store file was replaced"), instead
  of writing into an unlinked file while another process starts a new one.  A
  ``generation`` counter in the file rises with every mark (a trigger);
  a running store that reads a lower one than it saw before has had an older
  copy written over the file in place and fails closed the same way.  (A
  process that opens the file only after such an in-place restore cannot
  know: restore a replay store only with the verifiers stopped for one token
  lifetime, or delete it instead.)
* **Terms**: the leeway is recorded when the file is created; a store built
  for another leeway refuses the file (StoreUnavailable).
* **Lost replies**: each id keeps the attempt value it was marked with
  (column ``attempt``); a mark that finds its own value answers OWN_MARK.

Every SQLite error becomes :class:`~ecert_token.errors.StoreUnavailable`.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Sequence
from os import PathLike
from types import TracebackType
from typing import Literal

from ..clock import Clock, system_clock
from ..errors import InvalidArgument, StoreUnavailable
from .base import (
    DEFAULT_LEEWAY,
    TERMS_MISMATCH,
    MarkResult,
    ReplayEntry,
    check_leeway,
    horizon_bound,
    is_fenced,
    issue_time,
    own_mark,
)

logger = logging.getLogger(__name__)

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
    "INSERT OR IGNORE INTO replay_meta (name, value) VALUES ('generation', 0)",
    # Every mark raises the generation (see the module docstring).
    """CREATE TRIGGER IF NOT EXISTS replay_ids_inserted AFTER INSERT ON replay_ids BEGIN
        UPDATE replay_meta SET value = value + 1 WHERE name = 'generation'; END""",
    """CREATE TRIGGER IF NOT EXISTS replay_ids_updated AFTER UPDATE ON replay_ids BEGIN
        UPDATE replay_meta SET value = value + 1 WHERE name = 'generation'; END""",
)

_MEMORY = ("memory_began", "store_id", "file_dev", "file_ino")
"""The meta rows that say which memory this file holds (written when it begins)."""

# Named parameters, given as a mapping: Python 3.12.0 to 3.12.3 take numbered ones
# (?1) for names and warn that a tuple for them will be an error (CPython gh-117995).
_MARK = """INSERT INTO replay_ids (issuer, token_id, expires_at, attempt)
    SELECT :issuer, :token_id, :expires_at, :attempt
    WHERE :expires_at > :now
        AND :expires_at > (SELECT value FROM replay_meta WHERE name = 'purged_through')
    ON CONFLICT (issuer, token_id) DO UPDATE SET expires_at = excluded.expires_at,
        attempt = excluded.attempt
    WHERE replay_ids.expires_at <= :now"""

_LIVE = "SELECT attempt FROM replay_ids WHERE issuer = ? AND token_id = ? AND expires_at > ?"

_GENERATION = "SELECT value FROM replay_meta WHERE name = 'generation'"

_HORIZON = """UPDATE replay_meta SET value = max(value, ?)
    WHERE name = 'purged_through'"""

_PURGE = """DELETE FROM replay_ids WHERE (issuer, token_id) IN (
    SELECT issuer, token_id FROM replay_ids WHERE expires_at <= (
        SELECT value FROM replay_meta WHERE name = 'purged_through') LIMIT ?)"""

_UNAVAILABLE = "sqlite replay store failed"
REPLACED = "the replay store file was replaced"


class SqliteReplayStore:
    """Replay memory in a SQLite file that several processes share.

    ``max_lifetime`` is the longest time a token can be accepted (used for
    ``fenced_until``); ``clock`` dates a newly created file's memory.
    ``leeway`` is the verifiers' clock tolerance (recorded in a new file; a
    file recorded with another one is refused).  ``timeout`` is how long
    (seconds) to wait for another process's write lock before giving up with
    StoreUnavailable.  ``random`` draws the store id of a new memory.
    Thread-safe: calls from several threads share one connection under a lock.
    """

    def __init__(
        self,
        path: str | PathLike[str],
        max_lifetime: int = 300,
        clock: Clock = system_clock,
        *,
        leeway: int = DEFAULT_LEEWAY,
        timeout: float = 5.0,
        synchronous: Synchronous = "NORMAL",
        random: Callable[[int], bytes] = os.urandom,
    ) -> None:
        if isinstance(max_lifetime, bool) or not isinstance(max_lifetime, int) or max_lifetime < 1:
            raise InvalidArgument("max_lifetime must be a positive number of seconds")
        if synchronous not in ("NORMAL", "FULL", "EXTRA"):
            raise InvalidArgument("synchronous must be NORMAL, FULL or EXTRA")
        self.max_lifetime = max_lifetime
        self.leeway = check_leeway(leeway)
        self._path = os.fspath(path)
        self._lock = threading.Lock()
        self._next_purge = 0
        # The newest token iat this process was given: its purges never move the
        # horizon past it (horizon_bound).
        self._newest_issue = -1
        self._replaced = False
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
            for statement in _SCHEMA:
                self._db.execute(statement)
            self._add_attempt_column()
            recorded = self._meta_row("leeway")
            if recorded is None:
                self._db.execute(
                    "INSERT INTO replay_meta (name, value) VALUES ('leeway', ?)", (self.leeway,)
                )
            elif recorded != self.leeway:
                self._abandon()
                raise StoreUnavailable(TERMS_MISMATCH)
            self._identity = self._stat()
            began = self._meta_row("memory_began")
            identity = self._recorded_identity()
            if began is None or (identity is not None and identity != self._identity):
                began = self._begin_memory(clock(), random, new_file=began is None)
            elif identity is None:  # a file from before identities were recorded: adopt it
                self._record(random, began)
            self.store_id: int = self._meta_row("store_id") or 0
            self._generation: int = self._meta_row("generation") or 0
            self._db.execute("COMMIT")
        except sqlite3.Error:
            self._abandon()
            raise StoreUnavailable("cannot initialise the sqlite replay store") from None
        except OSError:
            self._abandon()
            raise StoreUnavailable("cannot initialise the sqlite replay store") from None
        self.memory_began: int = began

    def _meta_row(self, name: str) -> int | None:
        row = self._db.execute("SELECT value FROM replay_meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else int(row[0])

    def _recorded_identity(self) -> tuple[int, int] | None:
        dev, ino = self._meta_row("file_dev"), self._meta_row("file_ino")
        return None if dev is None or ino is None else (dev, ino)

    def _add_attempt_column(self) -> None:
        """A file made before attempt values gets the column (NULL for old ids)."""
        columns = [row[1] for row in self._db.execute("PRAGMA table_info(replay_ids)")]
        if "attempt" not in columns:
            self._db.execute("ALTER TABLE replay_ids ADD COLUMN attempt BLOB")

    def _begin_memory(self, now: int, random: Callable[[int], bytes], *, new_file: bool) -> int:
        """Record a new memory in the file: when it began, a store id, the file's identity.

        Called for a new file, and for a file whose recorded identity is not its
        own (a copy: restored or moved in), which may lack ids used since the
        copy was made, so it is fenced like a new one.
        """
        if not new_file:
            logger.warning(
                "sqlite replay store file is a copy (restored or moved): its memory begins "
                "now, tokens issued earlier are rejected as possibly replayed"
            )
        # The copy's purge horizon may be older than ids it lost: fencing covers them.
        self._record(random, now)
        return now

    def _record(self, random: Callable[[int], bytes], began: int) -> None:
        """Write the memory's rows: when it began, a new store id, the file's identity."""
        store_id = int.from_bytes(random(8), "big") >> 1  # a positive SQLite integer
        values = (began, store_id, *self._identity)
        for name, value in zip(_MEMORY, values, strict=True):
            self._db.execute(
                "INSERT OR REPLACE INTO replay_meta (name, value) VALUES (?, ?)", (name, value)
            )

    def _stat(self) -> tuple[int, int]:
        info = os.stat(self._path)
        return info.st_dev, info.st_ino

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

    def _check_file(self) -> None:
        """Fail closed, for good, once the file at the path is not the one opened."""
        if not self._replaced:
            try:
                same = self._stat() == self._identity
            except OSError:
                same = False
            if same:
                return
            self._replaced = True
            logger.warning("sqlite replay store file was deleted or replaced: failing closed")
        raise StoreUnavailable(REPLACED)

    def _check_generation(self, marked: int = 0) -> None:
        """The file's generation may only rise, and by at least the ``marked`` ids this
        call just marked (each raised it): less is an older copy written over the file."""
        generation = self._db.execute(_GENERATION).fetchone()[0]
        if generation < self._generation + marked:
            self._replaced = True
            logger.warning(
                "sqlite replay store file was restored from an older copy: failing closed"
            )
            raise StoreUnavailable(REPLACED)
        self._generation = generation

    def _mark(self, entry: ReplayEntry, now: int) -> MarkResult:
        db = self._db
        if is_fenced(entry, self.memory_began):
            live = db.execute(_LIVE, (entry.issuer, entry.token_id, now)).fetchone()
            return MarkResult.FENCED if live is None else own_mark(entry, live[0])
        cursor = db.execute(_MARK, {
            "issuer": entry.issuer, "token_id": entry.token_id,
            "expires_at": entry.expires_at, "now": now, "attempt": entry.attempt,
        })
        if cursor.rowcount == 1:
            return MarkResult.FIRST_USE
        # Not marked: a live id, or one at or before the purge horizon.
        live = db.execute(_LIVE, (entry.issuer, entry.token_id, now)).fetchone()
        return MarkResult.FENCED if live is None else own_mark(entry, live[0])

    def _purge(self, now: int) -> None:
        self._db.execute(_HORIZON, (horizon_bound(now, self._newest_issue),))
        deleted = self._db.execute(_PURGE, (PURGE_BATCH,)).rowcount
        # A full batch means a backlog: purge again on the next call.
        self._next_purge = now if deleted >= PURGE_BATCH else now + 1

    def _transaction(self, entries: Sequence[ReplayEntry], now: int) -> list[MarkResult]:
        db = self._db
        self._check_file()
        for entry in entries:
            self._newest_issue = max(self._newest_issue, issue_time(entry, self.leeway))
        purge = now >= self._next_purge
        if len(entries) == 1 and not purge:
            # One statement in autocommit mode is its own (committed) transaction.
            results = [self._mark(entries[0], now)]
            self._check_generation(results.count(MarkResult.FIRST_USE))
            return results
        db.execute("BEGIN IMMEDIATE")
        self._check_generation()
        results = [self._mark(e, now) for e in entries]
        if purge:
            self._purge(now)
        self._check_generation(results.count(MarkResult.FIRST_USE))
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
            except (sqlite3.Error, StoreUnavailable) as exc:
                try:
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
                if isinstance(exc, StoreUnavailable):
                    raise
                raise StoreUnavailable(_UNAVAILABLE) from None

    def healthy(self) -> bool:
        """Can the store answer?  The file is the one opened and answers a read."""
        with self._lock:
            try:
                self._check_file()
                self._db.execute(_GENERATION).fetchone()
            except (sqlite3.Error, StoreUnavailable):
                return False
            return True
