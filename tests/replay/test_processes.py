"""Real processes sharing one store: races and a SIGKILL mid-stream (SQLite and Redis)."""

from __future__ import annotations

import signal
from collections import Counter
from pathlib import Path

import pytest

from ecert_token import BusinessType, Credential, ErrorCode, Issuer, TokenRejected

from .conftest import NOW
from .verifier_process import Outcome, begin_memory, go, make_verifier, race, spawn

REG = BusinessType.HOSPITAL_REGISTRATION
STARTED = NOW - 3600
"""When the shared store's memory began: the region's store has served for an hour."""


def write_tokens(path: Path, issuer: Issuer, credential: Credential, count: int) -> list[str]:
    tokens = [issuer.mint(credential, REG) for _ in range(count)]
    path.write_text("\n".join(tokens) + "\n")
    return tokens


def test_eight_processes_accept_each_of_1000_tokens_once(
    store_spec: str, keydir_path: Path, tmp_path: Path, issuer: Issuer, credential: Credential
) -> None:
    tokens_file = tmp_path / "tokens.txt"
    write_tokens(tokens_file, issuer, credential, 1000)
    begin_memory(store_spec, STARTED)  # the file (or Redis markers) exist before the race
    outcomes = race(keydir_path, tokens_file, store_spec, NOW, processes=8)
    accepted = Counter(i for o in outcomes for i in o.accepted)
    assert sorted(accepted) == list(range(1000))
    assert set(accepted.values()) == {1}
    assert all(o.done for o in outcomes)
    codes = Counter(code for o in outcomes for code in o.rejected.values())
    assert codes == {"replayed": 7000}


def test_ids_accepted_before_sigkill_are_rejected_after_restart(
    store_spec: str, keydir_path: Path, tmp_path: Path, issuer: Issuer, credential: Credential
) -> None:
    tokens_file = tmp_path / "tokens.txt"
    tokens = write_tokens(tokens_file, issuer, credential, 2000)
    begin_memory(store_spec, STARTED)
    child = spawn(keydir_path, tokens_file, store_spec, NOW, hold=True)
    go(child)
    assert child.stdout is not None
    outcome = Outcome()
    while len(outcome.accepted) < 100 and not outcome.done:
        outcome.read(child.stdout.readline())
    child.send_signal(signal.SIGKILL)  # mid-stream: it is still verifying
    for line in child.stdout.read().splitlines(keepends=True):
        if line.endswith("\n"):
            outcome.read(line)
    child.wait()
    assert child.returncode == -signal.SIGKILL
    assert len(outcome.accepted) >= 100

    restarted = make_verifier(keydir_path, store_spec, NOW)
    for i in outcome.accepted:
        with pytest.raises(TokenRejected) as info:
            restarted.verify(tokens[i], REG)
        assert info.value.code is ErrorCode.REPLAYED
    # and the tokens it never reached are still good
    untouched = set(range(len(tokens))) - set(outcome.accepted) - set(outcome.rejected)
    if untouched and not outcome.done:
        restarted.verify(tokens[max(untouched)], REG)
