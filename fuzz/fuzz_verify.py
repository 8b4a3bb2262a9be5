"""Fuzz ``Verifier.verify`` on arbitrary text: only ``EcertError`` may come out.

Input layout: byte 0 picks the trust material (one configuration per distinct
``trust`` block of ``docs/vectors/*.json``: revoked keys, a region-bound key,
a key outside its window...), byte 1 picks the business type (low bits) and
the form of the token (top bit: ``bytes`` or ``str``), the rest is the token.
As ``str`` the rest is decoded as UTF-8 with ``surrogateescape``, so every
byte string is some text, non-ASCII and lone surrogates included.

The seeds (``fuzz/seeds/verify``, written by ``fuzz/make_seeds.py``) are the
published vector tokens in this layout, so mutations start from tokens that
reach the signature, the claims policy and the replay mark.

Besides the exception type, each rejection is checked for leaks: its message
must not contain the token text (issue #1's rule: no tokens in errors).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

with common.instrumented():
    from vector_trust import NOW, trust_configurations, trust_store

    from ecert_token import (
        BusinessType,
        EcertError,
        FixedClock,
        MemoryReplayStore,
        Verifier,
        VerifyPolicy,
    )

NAME = "verify"
BUSINESS_TYPES = tuple(BusinessType)


def verifiers() -> list[Verifier]:
    policy = VerifyPolicy(clock=FixedClock(NOW))
    return [
        Verifier(trust_store(t), policy, MemoryReplayStore(policy.replay_window, clock=lambda: 0))
        for t in trust_configurations()
    ]


VERIFIERS = verifiers()


def split(data: bytes) -> tuple[Verifier, BusinessType, str | bytes]:
    """The harness' input layout (see the module docstring)."""
    if len(data) < 2:
        return VERIFIERS[0], BUSINESS_TYPES[0], data
    verifier = VERIFIERS[data[0] % len(VERIFIERS)]
    business_type = BUSINESS_TYPES[(data[1] & 0x7F) % len(BUSINESS_TYPES)]
    rest = data[2:]
    token: str | bytes = rest if data[1] & 0x80 else rest.decode("utf-8", "surrogateescape")
    return verifier, business_type, token


def one_input(data: bytes) -> None:
    verifier, business_type, token = split(data)
    try:
        verifier.verify(token, business_type)
    except EcertError as err:
        text = token if isinstance(token, str) else token.decode("latin-1")
        if len(text) >= 16 and text in str(err):
            raise AssertionError("a rejection's message contains the token") from err


if __name__ == "__main__":
    common.main(NAME, one_input)
