"""The SQLite store: persistence, new-file fencing, bounded purging, errors."""

from __future__ import annotations

import ast
import re
import sqlite3
import threading
import warnings
from pathlib import Path

import pytest

import ecert_token
from ecert_token import ErrorCode, FixedClock, InvalidArgument, StoreUnavailable
from ecert_token.replay import MarkResult, ReplayEntry, SqliteReplayStore
from ecert_token.replay.sqlite import PURGE_BATCH

from .conftest import NOW

FIRST, REPLAYED, FENCED = MarkResult.FIRST_USE, MarkResult.REPLAYED, MarkResult.FENCED


def entry(token_id: bytes, issued: int = NOW, expires: int = NOW + 65) -> ReplayEntry:
    return ReplayEntry("NHSA", token_id, issued, expires)


def rows(path: Path) -> int:
    with sqlite3.connect(path) as db:
        count: int = db.execute("SELECT count(*) FROM replay_ids").fetchone()[0]
        return count


def test_file_settings(tmp_path: Path, clock: FixedClock) -> None:
    path = tmp_path / "replay.db"
    with SqliteReplayStore(path, clock=clock):
        pass
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_reopening_keeps_ids_and_is_not_fenced(tmp_path: Path, clock: FixedClock) -> None:
    path = tmp_path / "replay.db"
    with SqliteReplayStore(path, max_lifetime=305, clock=clock) as store:
        assert store.check_and_mark(entry(b"used-id1"), NOW) is FIRST
    clock.advance(20)  # the verifying process restarts 20 s later
    with SqliteReplayStore(path, max_lifetime=305, clock=clock) as store:
        assert store.memory_began == NOW  # the file's memory did not begin again
        assert store.check_and_mark(entry(b"used-id1"), NOW + 20) is REPLAYED
        assert store.check_and_mark(entry(b"unused-1", issued=NOW + 5), NOW + 20) is FIRST


def test_a_new_file_fences_older_tokens(tmp_path: Path, clock: FixedClock) -> None:
    path = tmp_path / "replay.db"
    with SqliteReplayStore(path, max_lifetime=305, clock=clock) as store:
        store.check_and_mark(entry(b"used-id1"), NOW)
    path.unlink()  # the old memory is lost
    clock.advance(20)
    with SqliteReplayStore(path, max_lifetime=305, clock=clock) as store:
        assert store.memory_began == NOW + 20
        assert store.fenced_until == NOW + 20 + 305
        assert store.check_and_mark(entry(b"used-id1"), NOW + 20) is FENCED


def test_expired_rows_are_purged_in_bounded_batches(tmp_path: Path, clock: FixedClock) -> None:
    path = tmp_path / "replay.db"
    backlog = PURGE_BATCH * 2 + 10
    with SqliteReplayStore(path, clock=clock) as store:
        store.check_and_mark_many([entry(i.to_bytes(8, "big")) for i in range(backlog)], NOW)
        assert rows(path) == backlog
        assert store.check_and_mark(entry(b"late-one", NOW + 60, NOW + 200), NOW + 64) is FIRST
        assert rows(path) == backlog + 1  # nothing expired yet
        # At NOW + 65 the backlog expires: each call deletes at most one batch.
        store.check_and_mark(entry(b"late-two", NOW + 60, NOW + 200), NOW + 65)
        assert rows(path) == backlog + 2 - PURGE_BATCH
        store.check_and_mark(entry(b"late-3rd", NOW + 60, NOW + 200), NOW + 65)
        assert rows(path) == backlog + 3 - 2 * PURGE_BATCH
        store.check_and_mark(entry(b"late-4th", NOW + 60, NOW + 200), NOW + 65)
        assert rows(path) == 4
        assert store.check_and_mark(entry(b"late-one", NOW + 60, NOW + 200), NOW + 66) is REPLAYED
        # An expired id is forgotten, so the store cannot call it a first use.
        assert store.check_and_mark(entry((7).to_bytes(8, "big")), NOW + 66) is FENCED


def test_an_expired_row_not_yet_purged_does_not_count(tmp_path: Path, clock: FixedClock) -> None:
    with SqliteReplayStore(tmp_path / "replay.db", clock=clock) as store:
        store.check_and_mark(entry(b"short-id", expires=NOW + 10), NOW)
        # the purge already ran this second, so the row is still there at NOW + 10 ...
        store.check_and_mark(entry(b"other-id"), NOW + 10)
        # ... but it no longer makes the id "used"
        assert store.check_and_mark(entry(b"short-id", expires=NOW + 70), NOW + 10) is FIRST
        assert store.check_and_mark(entry(b"short-id", expires=NOW + 70), NOW + 11) is REPLAYED


def test_a_file_that_is_not_a_database_is_unavailable(tmp_path: Path, clock: FixedClock) -> None:
    path = tmp_path / "replay.db"
    path.write_bytes(b"this is not an SQLite database, not even close" * 100)
    with pytest.raises(StoreUnavailable) as info:
        SqliteReplayStore(path, clock=clock)
    assert info.value.code is ErrorCode.STORE_UNAVAILABLE


def test_a_missing_directory_is_unavailable(tmp_path: Path, clock: FixedClock) -> None:
    with pytest.raises(StoreUnavailable):
        SqliteReplayStore(tmp_path / "no" / "such" / "dir.db", clock=clock)


def test_a_closed_store_is_unavailable(tmp_path: Path, clock: FixedClock) -> None:
    store = SqliteReplayStore(tmp_path / "replay.db", clock=clock)
    store.close()
    with pytest.raises(StoreUnavailable):
        store.check_and_mark(entry(b"any--id1"), NOW)


def test_a_locked_file_fails_closed_after_the_busy_timeout(
    tmp_path: Path, clock: FixedClock
) -> None:
    path = tmp_path / "replay.db"
    store = SqliteReplayStore(path, clock=clock, timeout=0.05)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        with pytest.raises(StoreUnavailable):
            store.check_and_mark(entry(b"blocked1"), NOW)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert store.check_and_mark(entry(b"blocked1"), NOW) is FIRST  # not marked before
    store.close()


def test_rejects_bad_settings(tmp_path: Path, clock: FixedClock) -> None:
    with pytest.raises(InvalidArgument):
        SqliteReplayStore(tmp_path / "a.db", max_lifetime=0, clock=clock)
    with pytest.raises(InvalidArgument):
        SqliteReplayStore(tmp_path / "a.db", clock=clock, synchronous="OFF")  # type: ignore[arg-type]


@pytest.mark.parametrize("shared", [True, False], ids=["one-store", "store-per-thread"])
def test_threads_mark_each_id_once(tmp_path: Path, clock: FixedClock, shared: bool) -> None:
    path = tmp_path / "replay.db"
    first = SqliteReplayStore(path, clock=clock)
    entries = [entry(i.to_bytes(8, "big")) for i in range(300)]
    start = threading.Barrier(4)
    firsts: list[int] = []

    def work(n: int) -> None:
        store = first if shared else SqliteReplayStore(path, clock=clock)
        start.wait()
        for e in entries[n * 75 :] + entries[: n * 75]:
            if store.check_and_mark(e, NOW) is FIRST:
                firsts.append(e.token_id[-1] + 256 * e.token_id[-2])
        if not shared:
            store.close()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    first.close()
    assert sorted(firsts) == list(range(300))


def test_every_statement_runs_with_warnings_as_errors(tmp_path: Path, clock: FixedClock) -> None:
    """No DeprecationWarning (Python 3.12.0 to 3.12.3 take numbered ``?1`` parameters
    for named ones and warn when a tuple is given, CPython gh-117995): open, mark,
    own mark, replay, batch, purge, fence, health, reopen, all under ``error``."""
    path = tmp_path / "replay.db"
    again = ReplayEntry("NHSA", b"again-id", NOW, NOW + 65, attempt=b"attempt1")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with SqliteReplayStore(path, clock=clock) as store:
            assert store.check_and_mark(entry(b"first-id"), NOW) is FIRST
            assert store.check_and_mark(entry(b"first-id"), NOW) is REPLAYED
            assert store.check_and_mark(again, NOW) is FIRST
            assert store.check_and_mark(again, NOW + 1) is MarkResult.OWN_MARK
            batch = [entry(i.to_bytes(8, "big"), expires=NOW + 10) for i in range(5)]
            assert store.check_and_mark_many(batch, NOW + 1) == [FIRST] * 5
            assert store.check_and_mark(entry(b"later-id", NOW + 60, NOW + 120), NOW + 11) is FIRST
            assert store.check_and_mark(batch[0], NOW + 12) is FENCED  # purged past
            assert store.healthy()
        clock.advance(20)
        with SqliteReplayStore(path, clock=clock) as store:
            assert store.check_and_mark(entry(b"later-id", NOW + 60, NOW + 120), NOW + 20) is (
                REPLAYED)
            assert store.check_and_mark(entry(b"early-id", NOW - 400), NOW + 20) is FENCED


def test_no_numbered_sql_parameters_in_the_library() -> None:
    """Every SQL string of the library uses ``?`` or ``:name`` parameters, never ``?NNN``
    (a static check that fails on any Python, beside the one above that fails where
    the interpreter warns)."""
    found = []
    for source in sorted(Path(ecert_token.__file__).parent.rglob("*.py")):
        for node in ast.walk(ast.parse(source.read_text("utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and (
                re.search(r"\?\d", node.value)
            ):
                found.append(f"{source.name}:{node.lineno}")
    assert not found, found
