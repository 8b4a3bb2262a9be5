"""Clocks within the leeway (issue #10, defect 1): two verifiers sharing one store, whose
clocks are apart by up to the leeway, must never both accept one code, at any moment of
its life.

Redis keeps a used id until its expiry by the server's clock; before the fix a verifier
running behind found the key gone while the token was still valid for it.  Redis decides
with its own clock, which a test cannot set, so the Redis sweep runs in real time: the
verifiers' clocks are the server's clock plus a fixed offset, and tokens with expiries
spread around "now" are presented by both every second until none can be valid.  The
SQLite and memory stores get the same sweep on injected clocks.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ecert_token import (
    BusinessType,
    Credential,
    FixedClock,
    Issuer,
    MemoryReplayStore,
    TokenRejected,
    Verifier,
    VerifyPolicy,
)
from ecert_token.keys.keydir import KeyDir
from ecert_token.replay import ReplayStore, SqliteReplayStore

from .conftest import NOW
from .redis_server import RedisServer

REG = BusinessType.HOSPITAL_REGISTRATION
LEEWAY = 2
"""A short leeway keeps the real-time Redis sweep short (it lasts about 2 * LEEWAY + 4 s)."""
TTL = 10


def mint_expiring(issuer: Issuer, credential: Credential, expiries: list[int]) -> list[str]:
    return [issuer.mint(credential, REG, now=exp - TTL, ttl=TTL) for exp in expiries]


def sweep(
    verifiers: list[tuple[Verifier, FixedClock, int]],
    tokens: list[str],
    seconds: int,
    server_now: Callable[[], int],
    wait: Callable[[int], None],
) -> list[int]:
    """Every second (by ``server_now``) each verifier, its clock at the server's time
    plus its offset, presents every token; the order of the verifiers alternates.
    Returns how many times each token was accepted."""
    accepted = [0] * len(tokens)
    start = server_now()
    for second in range(seconds):
        wait(start + second)
        now = server_now()
        order = verifiers if second % 2 == 0 else verifiers[::-1]
        for verifier, clock, offset in order:
            clock.now = now + offset
            for i, token in enumerate(tokens):
                try:
                    verifier.verify(token, REG)
                except TokenRejected:
                    continue
                accepted[i] += 1
    return accepted


def verifier_on(keys: KeyDir, store: ReplayStore, clock: FixedClock) -> Verifier:
    return Verifier(keys.trust_store(), VerifyPolicy(clock=clock, leeway=LEEWAY), store)


@pytest.mark.redis
@pytest.mark.parametrize("offsets", [(0, -LEEWAY), (LEEWAY, 0), (-LEEWAY, 0)])
def test_redis_two_clocks_within_the_leeway_never_both_accept(
    redis_server: RedisServer, keys: KeyDir, issuer: Issuer, credential: Credential,
    offsets: tuple[int, int],
) -> None:
    import redis

    from ecert_token.replay.redis import RedisReplayStore

    client = redis.Redis.from_url(redis_server.url)

    def server_now() -> int:
        return int(client.time()[0])

    def wait(until: int) -> None:
        while server_now() < until:
            time.sleep(0.05)  # real time must pass: the server's clock decides expiry

    s0 = server_now()
    # Expiries from "already expired for everyone" to "valid through the sweep".
    expiries = list(range(s0 - 2 * LEEWAY - 2, s0 + 3))
    tokens = mint_expiring(issuer, credential, expiries)
    verifiers = []
    for offset in offsets:
        clock = FixedClock(s0 + offset)
        store = RedisReplayStore(client, 305, FixedClock(s0 - 3600), leeway=LEEWAY)
        verifiers.append((verifier_on(keys, store, clock), clock, offset))
    accepted = sweep(verifiers, tokens, 2 * LEEWAY + 5, server_now, wait)
    assert max(accepted) == 1, accepted  # never twice
    assert sum(accepted) >= 3  # and the sweep did accept codes (it is not vacuous)
    client.close()


@pytest.mark.parametrize("kind", ["sqlite", "memory"])
@pytest.mark.parametrize("offsets", [(0, -LEEWAY), (LEEWAY, 0), (-LEEWAY, 0)])
def test_local_stores_two_clocks_within_the_leeway_never_both_accept(
    tmp_path: Path, keys: KeyDir, issuer: Issuer, credential: Credential,
    *, offsets: tuple[int, int], kind: str,
) -> None:
    """The SQLite file (two store instances, as two processes) and one memory store hold
    by their purge horizon; this pins it, on injected clocks."""
    server = FixedClock(NOW)
    expiries = list(range(NOW - 2 * LEEWAY - 2, NOW + TTL + 3))
    tokens = mint_expiring(issuer, credential, expiries)
    shared = MemoryReplayStore(305, clock=lambda: NOW - 3600, leeway=LEEWAY)
    verifiers = []
    for offset in offsets:
        clock = FixedClock(NOW + offset)
        store: ReplayStore = shared if kind == "memory" else SqliteReplayStore(
            tmp_path / "replay.db", 305, clock=lambda: NOW - 3600, leeway=LEEWAY
        )
        verifiers.append((verifier_on(keys, store, clock), clock, offset))

    def wait(until: int) -> None:
        server.now = until

    accepted = sweep(verifiers, tokens, TTL + 2 * LEEWAY + 5, server, wait)
    assert max(accepted) == 1, accepted
    assert sum(accepted) >= TTL
