"""Replay faults on real components: how many codes are accepted twice, and how many
honest retries after a lost reply are accepted (issue #10).  Prints a JSON document and
writes it to ``--out`` (default ``docs/benchmarks/replay_faults.json``).

    python benchmarks/replay_faults.py            # about two minutes; needs redis-server
    PYTHONPATH=../old/src python benchmarks/replay_faults.py --out before.json
                                                  # the same faults on an older checkout

Faults (each on a real redis-server, a real SQLite file, real processes):

* ``skew_redis``: two verifiers on one Redis, one clock the server's and one a full
  leeway behind, present codes with expiries spread around "now" every second until
  none can be valid (real time: Redis decides expiry by its own clock);
* ``skew_sqlite``: the same on one SQLite file, two store instances, injected clocks;
* ``lost_reply`` / ``lost_reply_batch``: a TCP proxy drops the store's answer (the mark
  is made); the holder rescans at the same verifier, a copy is presented at another
  verifier, and the same verifier sees it a third time;
* ``lost_reply_async``: the async verifier, the answer delayed past ``store_timeout``;
* ``file_replaced`` / ``file_unlinked``: a SQLite file replaced by an older copy, or
  deleted while a second process starts a new one; every code is presented on both
  sides.

``accepted_twice / accepted``: codes accepted more than once, over codes accepted at
least once.  ``retries_accepted / retried``: honest rescans (after a lost reply)
accepted, over rescans made.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.* helpers

from ecert_token import (
    BusinessType,
    FixedClock,
    Issuer,
    StoreUnavailable,
    TokenRejected,
    VerifiedToken,
    Verifier,
    VerifyPolicy,
)
from ecert_token.aio import AsyncVerifier
from ecert_token.keys.keydir import KeyDir, generate, save
from ecert_token.replay import ReplayStore, SqliteReplayStore
from ecert_token_tools.vectors import sample_person
from tests.replay.proxy import ReplyProxy
from tests.replay.redis_server import RedisServer

REG = BusinessType.HOSPITAL_REGISTRATION
LEEWAY = 2
TTL = 10


def with_leeway(cls: type) -> dict[str, int]:
    """``leeway=LEEWAY`` for a store that takes it (an older checkout, run with
    ``PYTHONPATH=<it>/src`` for a before/after comparison, does not)."""
    return {"leeway": LEEWAY} if "leeway" in inspect.signature(cls).parameters else {}


def tally(acceptances: Counter[str]) -> dict[str, int]:
    accepted = sum(1 for n in acceptances.values() if n >= 1)
    return {"accepted_twice": sum(1 for n in acceptances.values() if n >= 2),
            "accepted": accepted}


def ok(verifier: Verifier, token: str) -> bool:
    try:
        verifier.verify(token, REG)
    except TokenRejected:
        return False
    return True


@contextmanager
def redis_server(root: Path) -> Iterator[RedisServer]:
    server = RedisServer(root / "redis")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def skew(keys: KeyDir, issuer: Issuer, make_store: Callable[[int], ReplayStore],
         server_now: Callable[[], int], wait: Callable[[int], None]) -> dict[str, int]:
    s0 = server_now()
    person = sample_person()
    tokens = [issuer.mint(person, REG, now=exp - TTL, ttl=TTL)
              for exp in range(s0 - 2 * LEEWAY - 2, s0 + TTL + 3)]
    verifiers = []
    for offset in (0, -LEEWAY):
        clock = FixedClock(s0 + offset)
        policy = VerifyPolicy(clock=clock, leeway=LEEWAY)
        verifiers.append((Verifier(keys.trust_store(), policy, make_store(s0)), clock, offset))
    acceptances: Counter[str] = Counter()
    for second in range(TTL + 2 * LEEWAY + 5):
        wait(s0 + second)
        now = server_now()
        for verifier, clock, offset in verifiers if second % 2 else verifiers[::-1]:
            clock.now = now + offset
            for token in tokens:
                if ok(verifier, token):
                    acceptances[token] += 1
    return tally(acceptances)


def skew_redis(keys: KeyDir, issuer: Issuer, root: Path) -> dict[str, int]:
    import redis

    from ecert_token.replay.redis import RedisReplayStore

    with redis_server(root) as server:
        client = redis.Redis.from_url(server.url)

        def server_now() -> int:
            return int(client.time()[0])

        def wait(until: int) -> None:
            while server_now() < until:
                time.sleep(0.05)

        return skew(keys, issuer,
                    lambda s0: RedisReplayStore(client, 305, FixedClock(s0 - 3600),
                                                **with_leeway(RedisReplayStore)),
                    server_now, wait)


def skew_sqlite(keys: KeyDir, issuer: Issuer, root: Path) -> dict[str, int]:
    now = FixedClock(int(time.time()))
    path = root / "skew.db"

    def wait(until: int) -> None:
        now.now = until

    return skew(keys, issuer,
                lambda s0: SqliteReplayStore(path, 305, clock=lambda: s0 - 3600,
                                             **with_leeway(SqliteReplayStore)),
                now, wait)


def lost_reply(keys: KeyDir, issuer: Issuer, root: Path, *, batch: bool) -> dict[str, int]:
    from ecert_token.replay.redis import RedisReplayStore

    person = sample_person()
    with redis_server(root) as server:
        proxy = ReplyProxy(server.port)
        try:
            began = int(time.time()) - 3600
            near = RedisReplayStore.from_url(proxy.url, clock=lambda: began, timeout=0.2)
            far = RedisReplayStore.from_url(server.url, clock=lambda: began)
            verifier = Verifier(keys.trust_store(), VerifyPolicy(), near)
            other = Verifier(keys.trust_store(), VerifyPolicy(), far)
            ok(verifier, issuer.mint(person, REG))  # connected, script loaded
            rounds = [[issuer.mint(person, REG) for _ in range(64)] for _ in range(4)] if batch \
                else [[issuer.mint(person, REG)] for _ in range(40)]
            acceptances: Counter[str] = Counter()
            retried = retries_accepted = 0
            for tokens in rounds:
                proxy.dropping = True
                lost = verifier.verify_many(tokens, REG) if batch else [
                    _outcome(verifier, tokens[0])]
                proxy.dropping = False
                assert all(isinstance(r, StoreUnavailable) for r in lost)
                for token in tokens:  # a copy elsewhere, before the rescan
                    acceptances[token] += ok(other, token)
                rescans = verifier.verify_many(tokens, REG) if batch else [
                    _outcome(verifier, tokens[0])]
                retried += len(tokens)
                for token, result in zip(tokens, rescans, strict=True):
                    if isinstance(result, VerifiedToken):
                        retries_accepted += 1
                        acceptances[token] += 1
                for token in tokens:  # and the same verifier a third time
                    acceptances[token] += ok(verifier, token)
            return {**tally(acceptances), "retries_accepted": retries_accepted,
                    "retried": retried}
        finally:
            proxy.close()


def _outcome(verifier: Verifier, token: str) -> VerifiedToken | TokenRejected:
    try:
        return verifier.verify(token, REG)
    except TokenRejected as exc:
        return exc


def lost_reply_async(keys: KeyDir, issuer: Issuer, root: Path) -> dict[str, int]:
    from ecert_token.replay.redis import AsyncRedisReplayStore, RedisReplayStore

    person = sample_person()
    tokens = [issuer.mint(person, REG) for _ in range(10)]

    async def run(proxy: ReplyProxy, url: str) -> dict[str, int]:
        began = int(time.time()) - 3600
        store = AsyncRedisReplayStore.from_url(proxy.url, clock=lambda: began, timeout=5)
        base = Verifier(keys.trust_store(), VerifyPolicy())
        slow = AsyncVerifier(base, store, store_timeout=0.5)
        await slow.verify(issuer.mint(person, REG), REG)  # connected, script loaded
        other = Verifier(keys.trust_store(), VerifyPolicy(),
                         RedisReplayStore.from_url(url, clock=lambda: began))
        acceptances: Counter[str] = Counter()
        retried = retries_accepted = 0
        for token in tokens:
            proxy.delay = 1.0  # the answer comes after store_timeout: the outcome is unknown
            try:
                await slow.verify(token, REG)
                acceptances[token] += 1
            except TokenRejected:
                pass
            await asyncio.sleep(1.2)  # the late answer drains
            proxy.delay = 0.0
            acceptances[token] += ok(other, token)
            retried += 1
            try:
                await slow.verify(token, REG)
                retries_accepted += 1
                acceptances[token] += 1
            except TokenRejected:
                pass
        await store.aclose()
        return {**tally(acceptances), "retries_accepted": retries_accepted, "retried": retried}

    with redis_server(root) as server:
        proxy = ReplyProxy(server.port)
        try:
            return asyncio.run(run(proxy, server.url))
        finally:
            proxy.close()


CHILD = """
import sys
from pathlib import Path
from ecert_token import BusinessType, TokenRejected, Verifier, VerifyPolicy
from ecert_token.keys.keydir import load
from ecert_token.replay import SqliteReplayStore
keys, db, tokens, began, now = sys.argv[1:]
store = SqliteReplayStore(db, clock=lambda: int(began))
verifier = Verifier(load(Path(keys)).trust_store(), VerifyPolicy(clock=lambda: int(now)), store)
for token in open(tokens).read().split("\\n"):
    try:
        verifier.verify(token, BusinessType.HOSPITAL_REGISTRATION)
        print("A")
    except TokenRejected as exc:
        print(exc.code.value)
"""


def file_fault(keys: KeyDir, issuer: Issuer, root: Path, *, unlink: bool) -> dict[str, int]:
    """A running store on the file accepts codes; the file is replaced by an older copy
    (or deleted); a new process opens the path and presents every code, and the running
    store presents every code again."""
    key_path = root / "keys"
    if not key_path.exists():
        save(keys, key_path)
    path = root / ("unlinked.db" if unlink else "replaced.db")
    person = sample_person()
    base = int(time.time())
    # After a deletion the new file's memory begins at `base`: the codes used later
    # are issued after it (older ones it fences).
    later = base + VerifyPolicy().leeway + 2 if unlink else base
    clock = FixedClock(base)
    running = Verifier(keys.trust_store(), VerifyPolicy(clock=clock),
                       SqliteReplayStore(path, clock=lambda: base - 3600))
    early = [issuer.mint(person, REG, now=base) for _ in range(50)]
    late = [issuer.mint(person, REG, now=later) for _ in range(50)]
    codes = early + late
    acceptances: Counter[str] = Counter()
    for token in early:
        acceptances[token] += ok(running, token)
    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    shutil.copyfile(path, root / "copy.db")
    clock.now = later
    if unlink:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    else:
        for token in late:  # used after the copy was taken
            acceptances[token] += ok(running, token)
        db = sqlite3.connect(path)
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.close()
        os.replace(root / "copy.db", path)
    listing = root / "tokens.txt"
    listing.write_text("\n".join(codes))
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(key_path), str(path), str(listing), str(base),
         str(later)], capture_output=True, text=True, check=False, timeout=120,
    )
    if child.returncode != 0:
        raise SystemExit(child.stderr)
    for token, answer in zip(codes, child.stdout.split(), strict=True):
        acceptances[token] += answer == "A"
    for token in codes:
        acceptances[token] += ok(running, token)
    return tally(acceptances)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="docs/benchmarks/replay_faults.json")
    args = parser.parse_args()
    keys = generate(issuer="NHSA", group="national")
    issuer = Issuer(keys.signing_key, keys.group_key)
    results: dict[str, dict[str, int]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        results["skew_redis"] = skew_redis(keys, issuer, root)
        results["skew_sqlite"] = skew_sqlite(keys, issuer, root)
        results["lost_reply"] = lost_reply(keys, issuer, root, batch=False)
        results["lost_reply_batch"] = lost_reply(keys, issuer, root, batch=True)
        results["lost_reply_async"] = lost_reply_async(keys, issuer, root)
        results["file_replaced"] = file_fault(keys, issuer, root, unlink=False)
        results["file_unlinked"] = file_fault(keys, issuer, root, unlink=True)
    document = {"leeway_in_skew_runs": LEEWAY, "faults": results}
    text = json.dumps(document, indent=2, sort_keys=True)
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
