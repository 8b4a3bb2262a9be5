"""The check phase of batch verification, spread over threads.

A verification holds the GIL for its Python steps (a few microseconds) and
releases it for the libsodium signature check, which is most of its time; so
a second thread verifies while the first is inside libsodium, and two cores
give close to twice the throughput.  Work is handed out in contiguous chunks
(a future per token would cost more than the token), a few per worker so
that uneven chunks even out; the pools are created once per worker count and
reused.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor

from ..errors import InvalidArgument, TokenRejected
from ..model import BusinessType
from .result import VerifiedToken

Check = Callable[..., VerifiedToken]
Outcome = VerifiedToken | TokenRejected

CHUNKS_PER_WORKER = 4
MIN_PER_CHUNK = 16
"""Below this many tokens per chunk a batch runs in the calling thread."""

_pools: dict[int, ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()


def default_workers() -> int:
    """Every core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def pool(workers: int) -> ThreadPoolExecutor:
    """The shared thread pool of ``workers`` threads (created on first use)."""
    with _pools_lock:
        executor = _pools.get(workers)
        if executor is None:
            executor = _pools[workers] = ThreadPoolExecutor(workers, "ecert-verify")
        return executor


def _run(check: Check, tokens: Sequence[str | bytes], business_type: BusinessType,
         now: int) -> list[Outcome]:
    out: list[Outcome] = []
    append = out.append
    for token in tokens:
        try:
            append(check(token, business_type, now))
        except TokenRejected as exc:
            append(exc)
    return out


def token_list(tokens: Iterable[str | bytes]) -> list[str | bytes]:
    """``tokens`` as a list; one token (text or bytes) or a non-iterable is a mistake."""
    if isinstance(tokens, str | bytes | bytearray | memoryview):
        raise InvalidArgument("give a sequence of tokens, not one token")
    try:
        return list(tokens)
    except TypeError:
        raise InvalidArgument("tokens must be a sequence of tokens") from None


def check_all(check: Check, tokens: Sequence[str | bytes], business_type: BusinessType,
              now: int, workers: int | None) -> list[Outcome]:
    """``check`` every token (results in order), on up to ``workers`` threads."""
    if workers is None:
        workers = default_workers()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InvalidArgument("workers must be a positive integer")
    tokens = token_list(tokens)
    n = len(tokens)
    chunks = min(workers * CHUNKS_PER_WORKER, n // MIN_PER_CHUNK)
    run = functools.partial(_run, check)
    if workers == 1 or chunks < 2:
        return run(tokens, business_type, now)
    size = -(-n // chunks)
    executor = pool(workers)
    futures = [executor.submit(run, tokens[i:i + size], business_type, now)
               for i in range(0, n, size)]
    results: list[Outcome] = []
    for f in futures:
        results.extend(f.result())
    return results
