"""Cost growth: verify cost as the replay window fills and the trust store grows.

Every variant verifies the same tokens (each has its own verifier and replay
store), interleaved round by round like the main comparison.  The replay
stores are filled beforehand with live ids (expiring after the run), the
trust stores with real Ed25519 issuer keys and AES group keys under random
kids, the benchmark's own keys among them: a kid lookup, not a search, so
the cost should not move.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Sequence

from ecert_token.crypto.ed25519 import Ed25519PrivateKey
from ecert_token.keys.material import GroupKey, IssuerVerifyKey
from ecert_token.keys.trust_store import TrustStore
from ecert_token.replay.base import ReplayEntry
from ecert_token.replay.memory import MemoryReplayStore
from ecert_token.token import Verifier, VerifyPolicy

from .runner import Contender, Stats, paired_ratio, run
from .scenario import NOW, REG, Scenario, running_store

FILL_CHUNK = 10_000


def filled_store(live: int, issuer: str) -> MemoryReplayStore:
    store = running_store()
    rnd = random.Random(live)  # noqa: S311 - benchmark inputs, not secrets
    for start in range(0, live, FILL_CHUNK):
        entries = [ReplayEntry(issuer, rnd.randbytes(8), NOW, NOW + 3600)
                   for _ in range(min(FILL_CHUNK, live - start))]
        store.check_and_mark_many(entries, NOW)
    return store


def big_trust_store(scenario: Scenario, keys: int) -> TrustStore:
    rnd = random.Random(keys)  # noqa: S311 - benchmark inputs, not secrets
    issuers = [scenario.keys.signing_key.public]
    groups = [scenario.keys.group_key]
    for i in range(keys - 1):
        kid = rnd.randbytes(4)
        issuers.append(IssuerVerifyKey(
            f"issuer{i}", kid, Ed25519PrivateKey(rnd.randbytes(32)).public_key))
        groups.append(GroupKey(f"group{i}", kid, rnd.randbytes(16)))
    return TrustStore(issuers, groups)


def _verifying(verifier: Verifier, tokens: Sequence[str]) -> Contender:
    return Contender("", lambda i: verifier.verify(tokens[i], REG, now=NOW), len(tokens))


def measure(scenario: Scenario, rounds: int, batch: int, *, windows: Sequence[int],
            key_counts: Sequence[int]) -> list[Stats]:
    """One interleaved run of every variant on the same tokens."""
    tokens = scenario.tokens
    policy = VerifyPolicy(clock=lambda: NOW)
    contenders = []
    for live in windows:
        print(f"  filling a replay store with {live:,} live ids ...", file=sys.stderr, flush=True)
        v = Verifier(scenario.keys.trust_store(), policy,
                     filled_store(live, scenario.keys.signing_key.issuer))
        c = _verifying(v, tokens)
        ids = f"{live:,} live id" + ("s" if live != 1 else "")
        contenders.append(Contender(f"verify, replay store holding {ids}", c.op, c.inputs,
                                    group="growth: replay window"))
    for n in key_counts:
        v = Verifier(big_trust_store(scenario, n), policy, running_store())
        c = _verifying(v, tokens)
        contenders.append(Contender(f"verify, trust store of {n:,} issuer + {n:,} group keys",
                                    c.op, c.inputs, group="growth: trust store"))
    return run(contenders, rounds, batch)


def flatness(stats: Sequence[Stats]) -> dict[str, float]:
    """Per family: the largest cost ratio between any variant and the smallest one.

    Each ratio is paired like the main targets (median over the rounds of the
    two throughputs in the same round); 1.0 means perfectly flat.
    """
    out: dict[str, float] = {}
    for group in sorted({s.group for s in stats}):
        family = [s for s in stats if s.group == group]
        ratios = [r for r in (paired_ratio(family[0], v) for v in family) if r]
        out[group] = max(*ratios, 1 / min(ratios)) if ratios else 0.0
    return out
