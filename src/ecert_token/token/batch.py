"""The check phase of batch verification, spread over threads.

A verification holds the GIL for its Python steps (a few microseconds) and
releases it for the libsodium signature check, which is most of its time; so
a second thread verifies while the first is inside libsodium, and two cores
give close to twice the throughput.  Work is handed out in contiguous chunks
(a future per token would cost more than the token), a few per worker so
that uneven chunks even out; the pools are created once per worker count and
reused.

With the compiled batch check (``crypto/_ed25519_batch.c``) a worker runs
its tokens in groups: every check before the signature for the group
(:meth:`Verifier._prepare`, GIL held), then all the group's signatures inside
ONE release of the GIL, then the checks after the signature
(:meth:`Verifier._accept`).  Without it, cffi releases and re-takes the GIL
around each signature, twice per token, and each hand-off that finds the GIL
busy waits for the other thread to wake; per group that happens once.  The
results, rejections included, are the same either way.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..crypto.ed25519 import open_many
from ..errors import ErrorCode, InvalidArgument, TokenRejected
from ..model import BusinessType
from .result import VerifiedToken

Check = Callable[..., VerifiedToken]
Prepare = Callable[[str | bytes, BusinessType, int], tuple[Any, ...]]
""":meth:`Verifier._prepare`: its answer starts with ``(signed, public_key)``."""
Accept = Callable[[Any], VerifiedToken]
Outcome = VerifiedToken | TokenRejected

GROUP = 32
"""Tokens whose signatures one worker checks in one release of the GIL."""

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
            append(check(token, business_type, now=now))
        except TokenRejected as exc:
            append(exc)
    return out


def _run_grouped(prepare: Prepare, accept: Accept, tokens: Sequence[str | bytes],
                 business_type: BusinessType, now: int) -> list[Outcome]:
    """:func:`_run` with each group's signatures checked in one call (see above)."""
    assert open_many is not None
    out: list[Outcome] = []
    for start in range(0, len(tokens), GROUP):
        group: list[Outcome | None] = []
        ready: list[tuple[int, tuple[Any, ...]]] = []
        signed: list[bytes] = []
        keys: list[bytes] = []
        for token in tokens[start:start + GROUP]:
            try:
                prepared = prepare(token, business_type, now)
                if type(prepared[1]) is not bytes:  # an SM2 key: checked on its own
                    if not prepared[1].verify_signed(prepared[0]):
                        raise TokenRejected(ErrorCode.BAD_SIGNATURE)
                    group.append(accept(prepared))
                    continue
            except TokenRejected as exc:
                group.append(exc)
                continue
            ready.append((len(group), prepared))
            group.append(None)
            signed.append(prepared[0])
            keys.append(prepared[1])
        for (position, prepared), valid in zip(ready, open_many(signed, keys), strict=True):
            try:
                if not valid:
                    raise TokenRejected(ErrorCode.BAD_SIGNATURE)  # as Verifier.check raises it
                group[position] = accept(prepared)
            except TokenRejected as exc:
                group[position] = exc
        out.extend(outcome for outcome in group if outcome is not None)
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
              now: int, workers: int | None, *,
              split: tuple[Prepare, Accept] | None = None) -> list[Outcome]:
    """``check`` every token (results in order), on up to ``workers`` threads.

    ``split``: ``check`` as its two halves around the signature, to check
    signatures by groups when the compiled batch check is built.
    """
    if workers is None:
        workers = default_workers()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InvalidArgument("workers must be a positive integer")
    tokens = token_list(tokens)
    n = len(tokens)
    chunks = min(workers * CHUNKS_PER_WORKER, n // MIN_PER_CHUNK)
    run: Callable[[Sequence[str | bytes], BusinessType, int], list[Outcome]] = (
        functools.partial(_run_grouped, *split) if split is not None and open_many is not None
        else functools.partial(_run, check))
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
