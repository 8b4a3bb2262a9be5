"""token/attempts.py: attempt values and the memory of marks with an unknown outcome."""

from __future__ import annotations

import os
import subprocess
import sys
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


_FORK_CHILD = """
import os, sys
from ecert_token.token.attempts import Attempts

attempts = Attempts()
read, write = os.pipe()
pid = os.fork()
if pid == 0:  # the child: report its prefix and leave at once
    os.write(write, attempts.prefix)
    os._exit(0)
os.waitpid(pid, 0)
child_prefix = os.read(read, 8)
print(attempts.prefix.hex(), child_prefix.hex())
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no os.fork on this platform")
def test_a_forked_child_draws_a_new_prefix() -> None:
    """A real ``os.fork`` of a process holding an Attempts: the child's prefix is new.

    The fork happens in a fresh, single-threaded interpreter: forking the test
    process itself (other tests leave threads behind) is what Python 3.12+
    warns about (DeprecationWarning: a multi-threaded process may deadlock in
    the child).  That warning is shown (``-W always``; under ``-W error``
    CPython drops it silently) and any output on stderr fails this test.
    """
    done = subprocess.run(
        [sys.executable, "-W", "always", "-c", _FORK_CHILD],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr
    parent_prefix, child_prefix = (bytes.fromhex(x) for x in done.stdout.split())
    assert len(parent_prefix) == len(child_prefix) == 8
    assert child_prefix != parent_prefix


@pytest.mark.parametrize("bad", [{"random": lambda n: b"short"}, {"limit": 0},
                                 {"random": 5}, {"limit": True}])
def test_bad_arguments(bad: dict[str, object]) -> None:
    with pytest.raises(InvalidArgument):
        Attempts(**bad)  # type: ignore[arg-type]
