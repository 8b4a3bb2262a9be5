"""token/attempts.py: attempt values and the memory of marks with an unknown outcome."""

from __future__ import annotations

import os
import threading

import pytest

from ecert_token import InvalidArgument
from ecert_token.replay import ReplayEntry
from ecert_token.token.attempts import Attempts

NOW = 1_790_000_000


def entry(token_id: bytes, attempt: bytes, expires: int = NOW + 65) -> ReplayEntry:
    return ReplayEntry("NHSA", token_id, NOW - 6, expires, attempt)


def test_values_are_the_injected_prefix_and_a_counter() -> None:
    attempts = Attempts(lambda n: b"P" * n)
    first, second = attempts.attempt("NHSA", b"a"), attempts.attempt("NHSA", b"a")
    assert first == b"P" * 8 + (0).to_bytes(8, "big")
    assert second == b"P" * 8 + (1).to_bytes(8, "big")


def test_an_unknown_outcome_is_reused_once_then_forgotten() -> None:
    attempts = Attempts(lambda n: b"P" * n)
    value = attempts.attempt("NHSA", b"lost")
    attempts.unknown([entry(b"lost", value)], NOW)
    assert attempts.remembered() == 1
    assert attempts.attempt("NHSA", b"other") != value
    assert attempts.attempt("NHSA", b"lost") == value  # the retry carries the same value
    assert attempts.remembered() == 0
    assert attempts.attempt("NHSA", b"lost") != value  # and only once
    assert attempts.attempt("GD", b"lost") != value  # the issuer is part of the key


def test_concurrent_retries_cannot_share_a_remembered_value() -> None:
    attempts = Attempts()
    value = attempts.attempt("NHSA", b"lost")
    attempts.unknown([entry(b"lost", value)], NOW)
    got: list[bytes] = []
    threads = [threading.Thread(target=lambda: got.append(attempts.attempt("NHSA", b"lost")))
               for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got.count(value) == 1


def test_memory_is_bounded_and_ends_at_expiry() -> None:
    attempts = Attempts(limit=3)
    attempts.unknown([entry(b"expired", b"v" * 16, expires=NOW)], NOW)  # already expired
    assert attempts.remembered() == 0
    attempts.unknown([entry(bytes([i]), bytes([i]) * 16, expires=NOW + i + 1)
                      for i in range(5)], NOW)
    assert attempts.remembered() == 3  # the oldest forgotten first
    assert attempts.attempt("NHSA", bytes([0])) != bytes([0]) * 16
    assert attempts.attempt("NHSA", bytes([4])) == bytes([4]) * 16
    attempts.unknown([entry(b"x", b"x" * 16, expires=NOW + 100)], NOW + 3)  # past 1..2 expire
    assert attempts.remembered() <= 3
    assert attempts.attempt("NHSA", b"\x01") != b"\x01" * 16


def test_entries_without_a_value_are_not_remembered() -> None:
    attempts = Attempts()
    attempts.unknown([entry(b"none", b"")], NOW)
    assert attempts.remembered() == 0


def test_a_forked_child_draws_a_new_prefix() -> None:
    attempts = Attempts()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its prefix and leave at once
        os.write(write, attempts.prefix)
        os._exit(0)
    os.waitpid(pid, 0)
    child_prefix = os.read(read, 8)
    os.close(read)
    os.close(write)
    assert len(child_prefix) == 8 and child_prefix != attempts.prefix


@pytest.mark.parametrize("bad", [{"random": lambda n: b"short"}, {"limit": 0},
                                 {"random": 5}, {"limit": True}])
def test_bad_arguments(bad: dict[str, object]) -> None:
    with pytest.raises(InvalidArgument):
        Attempts(**bad)  # type: ignore[arg-type]
