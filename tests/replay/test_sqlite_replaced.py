"""The SQLite file deleted, replaced or restored under running verifiers (issue #10,
defect 3).  Before the fix a running process kept writing to an unlinked (or replaced)
file while a new process started a fresh one, and both accepted the same code; a copy
moved or written back over the file forgot codes used since the copy was made."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from ecert_token import ErrorCode, StoreUnavailable
from ecert_token.replay import MarkResult, ReplayEntry, SqliteReplayStore

from .conftest import NOW

STARTED = NOW - 3600
LEEWAY = 5


def used(token_id: bytes, issued: int = NOW) -> ReplayEntry:
    return ReplayEntry("NHSA", token_id, issued, issued + 65)


def in_child(path: Path, began: int, token_id: bytes, issued: int, now: int) -> str:
    """Open the store in another process (its memory would begin at ``began`` if it
    creates the file) and mark one id; the answer's name, or the error code."""
    code = (
        "import sys\n"
        "from ecert_token.replay import ReplayEntry, SqliteReplayStore\n"
        "from ecert_token import StoreUnavailable\n"
        "path, began, tid, issued, now = sys.argv[1:]\n"
        "try:\n"
        "    s = SqliteReplayStore(path, 305, clock=lambda: int(began))\n"
        "    e = ReplayEntry('NHSA', tid.encode(), int(issued), int(issued) + 65)\n"
        "    print(s.check_and_mark(e, int(now)).name)\n"
        "except StoreUnavailable as exc:\n"
        "    print(exc.code)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path), str(began), token_id.decode(), str(issued),
         str(now)], capture_output=True, text=True, timeout=60, check=True,
    )
    return out.stdout.strip()


def checkpoint(path: Path) -> None:
    """Move the WAL into the main file (as SQLite does by itself every 1,000 pages), so a
    file copy holds every committed id."""
    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def unavailable(store: SqliteReplayStore, entry: ReplayEntry, now: int) -> str | None:
    try:
        store.check_and_mark(entry, now)
    except StoreUnavailable as exc:
        assert exc.code is ErrorCode.STORE_UNAVAILABLE
        return exc.detail
    return None


def test_unlinked_under_a_running_store_while_another_process_starts_a_new_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "replay.db"
    running = SqliteReplayStore(path, 305, clock=lambda: STARTED)
    assert running.check_and_mark(used(b"before"), NOW) is MarkResult.FIRST_USE
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    # A new process makes a new file; a code issued after its memory began is fresh there.
    fresh = NOW + LEEWAY + 1
    assert in_child(path, NOW, b"code-1", fresh, fresh) == "FIRST_USE"
    # The running process must not accept it from its unlinked file.
    assert unavailable(running, used(b"code-1", fresh), fresh) == (
        "the replay store file was replaced"
    )
    assert not running.healthy()
    assert unavailable(running, used(b"code-2", fresh), fresh) is not None  # for good
    running.close()


def test_replaced_by_a_copy(tmp_path: Path) -> None:
    """A copy moved over the file (a restored backup): the running store fails closed,
    and a process that opens the copy fences (its memory begins again)."""
    path = tmp_path / "replay.db"
    running = SqliteReplayStore(path, 305, clock=lambda: STARTED)
    assert running.check_and_mark(used(b"early"), NOW) is MarkResult.FIRST_USE
    checkpoint(path)
    shutil.copyfile(path, tmp_path / "backup.db")
    assert running.check_and_mark(used(b"late"), NOW + 1) is MarkResult.FIRST_USE
    checkpoint(path)
    os.replace(tmp_path / "backup.db", path)
    assert unavailable(running, used(b"late"), NOW + 2) == "the replay store file was replaced"
    # A new process on the copy: "late" is missing there, so it must not be first use.
    assert in_child(path, NOW + 2, b"late", NOW, NOW + 2) == "FENCED"
    reopened = SqliteReplayStore(path, 305, clock=lambda: NOW + 2)
    assert reopened.memory_began == NOW + 2  # the copy's memory began again (fenced)
    later = NOW + 2 + LEEWAY + 1
    assert reopened.check_and_mark(used(b"new", later), later) is MarkResult.FIRST_USE
    reopened.close()
    running.close()


def test_an_older_copy_written_over_the_file_in_place(tmp_path: Path) -> None:
    """``cp backup.db replay.db`` keeps the inode: the generation in the file goes back,
    and every store that was running when it happened fails closed."""
    path = tmp_path / "replay.db"
    one = SqliteReplayStore(path, 305, clock=lambda: STARTED)
    two = SqliteReplayStore(path, 305, clock=lambda: STARTED)
    assert one.check_and_mark(used(b"early"), NOW) is MarkResult.FIRST_USE
    checkpoint(path)
    shutil.copyfile(path, tmp_path / "backup.db")
    assert one.check_and_mark(used(b"late-1"), NOW + 1) is MarkResult.FIRST_USE
    assert two.check_and_mark(used(b"late-2"), NOW + 1) is MarkResult.FIRST_USE
    checkpoint(path)
    shutil.copyfile(tmp_path / "backup.db", path)  # in place: same inode
    for store, token_id in ((one, b"late-1"), (two, b"late-1"), (one, b"late-2"),
                            (two, b"late-2"), (two, b"other")):
        assert unavailable(store, used(token_id), NOW + 2) == "the replay store file was replaced"
    # (A batch too.)
    with pytest.raises(StoreUnavailable):
        one.check_and_mark_many([used(b"late-1"), used(b"late-2")], NOW + 2)
    one.close()
    two.close()


def test_another_leeway_is_refused_by_the_file(tmp_path: Path) -> None:
    """Defect 2: the file records the leeway it was begun with."""
    path = tmp_path / "replay.db"
    SqliteReplayStore(path, 305, clock=lambda: STARTED).close()
    with pytest.raises(StoreUnavailable) as info:
        SqliteReplayStore(path, 305, clock=lambda: STARTED, leeway=10)
    assert info.value.detail == (
        "the replay store's memory was begun with different terms (leeway)"
    )
    SqliteReplayStore(path, 305, clock=lambda: STARTED, leeway=5).close()


def test_a_file_from_before_identities_is_adopted_not_fenced(tmp_path: Path) -> None:
    """Upgrading the library must not fence a running fleet's file: a file without the
    identity rows keeps its memory and gets them."""
    path = tmp_path / "replay.db"
    with SqliteReplayStore(path, 305, clock=lambda: STARTED) as store:
        assert store.check_and_mark(used(b"kept"), NOW) is MarkResult.FIRST_USE
    db = sqlite3.connect(path)
    db.execute("DELETE FROM replay_meta WHERE name IN ('file_dev', 'file_ino', 'store_id')")
    db.commit()
    db.close()
    with SqliteReplayStore(path, 305, clock=lambda: NOW) as store:
        assert store.memory_began == STARTED
        assert store.check_and_mark(used(b"kept"), NOW + 1) is MarkResult.REPLAYED
    shutil.copyfile(path, tmp_path / "copy.db")  # and a copy of it is still a copy
    with SqliteReplayStore(tmp_path / "copy.db", 305, clock=lambda: NOW + 2) as copy:
        assert copy.memory_began == NOW + 2
