"""A verifier in its own process, for race and crash tests.

Run as a program, it loads a key directory, opens a replay store
(``sqlite:PATH`` or ``redis:URL``), prints ``ready``, waits for a line on
stdin, then verifies every token of a file (in an order shuffled by
``--seed``) and prints one line per token as it goes, flushed at once:
``A <index>`` for an acceptance, ``R <index> <error code>`` for a rejection,
then ``done``.  With ``--hold`` it then waits for stdin to close, so a test
can kill it at a time of its choosing.

The functions below are the parent's side.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ecert_token import BusinessType, FixedClock, TokenRejected, Verifier, VerifyPolicy
from ecert_token.keys.keydir import load
from ecert_token.replay import ReplayEntry, ReplayStore, SqliteReplayStore

MAX_LIFETIME = 305
EVERY_GROUP = [i.to_bytes(8, "big") for i in range(64)]
"""Token ids that fall into each of Redis's 16 default key groups."""


def open_store(spec: str, now: int) -> ReplayStore:
    """The store a spec names, as the CLI would open it."""
    kind, _, where = spec.partition(":")
    if kind == "sqlite":
        return SqliteReplayStore(where, max_lifetime=MAX_LIFETIME, clock=FixedClock(now))
    if kind == "redis":
        from ecert_token.replay.redis import RedisReplayStore

        return RedisReplayStore.from_url(where, max_lifetime=MAX_LIFETIME, clock=FixedClock(now))
    raise SystemExit(f"unknown store {spec!r}")


def begin_memory(spec: str, at: int) -> None:
    """Make the store's replay memory begin at ``at``, as for a store serving since then.

    A SQLite file is created then; Redis sets each key group's "memory began"
    marker on that group's first check, so one check per group is made then
    (with an issuer name no real token uses).  Children started later find a
    store that remembers everything since ``at``.
    """
    store = open_store(spec, at)
    if isinstance(store, SqliteReplayStore):
        with store:
            assert store.memory_began == at, "the SQLite file existed already"
        return
    from ecert_token.replay.redis import RedisReplayStore

    assert isinstance(store, RedisReplayStore)
    try:
        warm_up = [ReplayEntry("warm-up", i, at, at + 65) for i in EVERY_GROUP]
        store.check_and_mark_many(warm_up, at)
        assert len(list(store.client.scan_iter(match=b"ecert:*:!began"))) == 16
    finally:
        store.close()


def make_verifier(keys: Path, spec: str, now: int) -> Verifier:
    clock = FixedClock(now)
    return Verifier(
        load(keys).trust_store(), VerifyPolicy(clock=clock), replay_store=open_store(spec, now)
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--keys", type=Path, required=True)
    parser.add_argument("--tokens", type=Path, required=True)
    parser.add_argument("--store", required=True)
    parser.add_argument("--now", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hold", action="store_true")
    args = parser.parse_args(argv)

    verifier = make_verifier(args.keys, args.store, args.now)
    tokens = args.tokens.read_text().splitlines()  # Base45 text may hold spaces
    order = list(range(len(tokens)))
    random.Random(args.seed).shuffle(order)
    out = sys.stdout
    out.write("ready\n")
    out.flush()
    sys.stdin.readline()
    for i in order:
        try:
            verifier.verify(tokens[i], BusinessType.HOSPITAL_REGISTRATION)
        except TokenRejected as exc:
            out.write(f"R {i} {exc.code.value}\n")
        else:
            out.write(f"A {i}\n")
        out.flush()
    out.write("done\n")
    out.flush()
    if args.hold:
        sys.stdin.read()


@dataclass
class Outcome:
    """What one child reported."""

    accepted: list[int] = field(default_factory=list)
    rejected: dict[int, str] = field(default_factory=dict)
    done: bool = False

    def read(self, line: str) -> None:
        parts = line.split()
        if parts == ["done"]:
            self.done = True
        elif len(parts) == 2 and parts[0] == "A":
            self.accepted.append(int(parts[1]))
        elif len(parts) == 3 and parts[0] == "R":
            self.rejected[int(parts[1])] = parts[2]
        else:
            raise AssertionError(f"unexpected line from a verifier process: {line!r}")


def spawn(
    keys: Path, tokens: Path, store: str, now: int, *, seed: int = 0, hold: bool = False
) -> subprocess.Popen[str]:
    """Start a verifier process and wait until it says ``ready``."""
    command = [
        sys.executable, __file__, "--keys", str(keys), "--tokens", str(tokens),
        "--store", store, "--now", str(now), "--seed", str(seed),
    ]
    if hold:
        command.append("--hold")
    child = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
    )
    assert child.stdout is not None
    line = child.stdout.readline()
    if line != "ready\n":
        child.kill()
        child.wait()
        raise AssertionError(f"verifier process did not start: {line!r}")
    return child


def go(child: subprocess.Popen[str]) -> None:
    assert child.stdin is not None
    child.stdin.write("go\n")
    child.stdin.flush()


def release(children: list[subprocess.Popen[str]]) -> list[Outcome]:
    """Release started verifiers together and collect what each reports (all must finish)."""
    for child in children:
        go(child)
    outcomes = []
    for child in children:
        out, _ = child.communicate(timeout=120)
        outcome = Outcome()
        for line in out.splitlines():
            outcome.read(line)
        assert child.returncode == 0
        outcomes.append(outcome)
    return outcomes


def race(
    keys: Path, tokens: Path, store: str, now: int, processes: int
) -> list[Outcome]:
    """Start ``processes`` verifiers, release them together, collect what each reports."""
    return release([spawn(keys, tokens, store, now, seed=seed) for seed in range(processes)])


if __name__ == "__main__":
    main()
