"""Lost replies without a network: an async verifier's threaded SQLite mark that finishes
after ``store_timeout`` (another process held the write lock).  The mark lands, the
verifier has already refused; the holder's rescan must be accepted once."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest

from ecert_token import (
    BusinessType,
    ErrorCode,
    FixedClock,
    StoreUnavailable,
    TokenRejected,
    VerifiedToken,
    Verifier,
    VerifyPolicy,
)
from ecert_token.aio import AsyncVerifier, ThreadedReplayStore
from ecert_token.keys.keydir import KeyDir
from ecert_token.replay import SqliteReplayStore

from .conftest import NOW

REG = BusinessType.HOSPITAL_REGISTRATION


def test_a_mark_that_lands_after_the_timeout_is_accepted_on_the_rescan(
    tmp_path: Path, keys: KeyDir, clock: FixedClock, token: str
) -> None:
    path = tmp_path / "replay.db"
    store = SqliteReplayStore(path, 305, clock=lambda: NOW - 3600, timeout=10)
    verifier = Verifier(keys.trust_store(), VerifyPolicy(clock=clock), store)
    averifier = AsyncVerifier(verifier, ThreadedReplayStore(store), store_timeout=0.3)
    locker = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    locker.execute("BEGIN IMMEDIATE")  # another process's long write transaction
    release = threading.Timer(1.0, lambda: locker.execute("COMMIT"))

    async def run() -> None:
        release.start()
        with pytest.raises(StoreUnavailable):
            await averifier.verify(token, REG)  # times out; the thread still marks later
        for _ in range(100):  # until the lock is released and the late mark is made
            if sqlite3.connect(path).execute("SELECT count(*) FROM replay_ids").fetchone()[0]:
                break
            await asyncio.sleep(0.05)
        other = Verifier(keys.trust_store(), VerifyPolicy(clock=clock),
                         SqliteReplayStore(path, 305, clock=lambda: NOW - 3600))
        with pytest.raises(TokenRejected) as info:
            other.verify(token, REG)
        assert info.value.code is ErrorCode.REPLAYED
        assert isinstance(await averifier.verify(token, REG), VerifiedToken)  # the rescan
        with pytest.raises(TokenRejected) as again:
            await averifier.verify(token, REG)
        assert again.value.code is ErrorCode.REPLAYED

    asyncio.run(run())
    release.join()
    locker.close()
