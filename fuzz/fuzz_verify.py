"""Fuzz ``Verifier.verify`` on arbitrary text: only ``EcertError`` may come out.

Input layout: byte 0 picks the trust material (one configuration per distinct
``trust`` block of ``docs/vectors/*.json``: revoked keys, a region-bound key,
a key outside its window...); byte 1 picks the business type (low five bits)
and what the rest is (high three bits):

* ``0b000``: the token as ``str``, the rest decoded as UTF-8 with
  ``surrogateescape`` (every byte string is some text, non-ASCII and lone
  surrogates included); ``0b100``: the token as ``bytes``;
* ``0b001``: the Sign1 plaintext, encrypted with the configuration's group key
  before verifying, so fuzzed bytes reach the Sign1 and claims readers behind
  the AEAD (as any terminal of the group could send them);
* ``0b010``: the claims payload, signed by the configuration's issuer key and
  encrypted, so fuzzed claims reach time, claims values and policy behind a
  valid signature.

The keys are the vector files' published test keys.  The seeds
(``fuzz/seeds/verify``, written by ``fuzz/make_seeds.py``) are the vector
tokens, their Sign1 plaintexts and their claims in this layout.

Besides the exception type, each rejection is checked for leaks: its message
must not contain the token text (issue #1's rule: no tokens in errors).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

with common.instrumented():
    from vector_trust import NOW, Sealer, trust_configurations, trust_store

    from ecert_token import (
        BusinessType,
        EcertError,
        FixedClock,
        MemoryReplayStore,
        Verifier,
        VerifyPolicy,
    )
    from ecert_token.token.text import to_text

NAME = "verify"
BUSINESS_TYPES = tuple(BusinessType)


def verifiers() -> list[Verifier]:
    policy = VerifyPolicy(clock=FixedClock(NOW))
    return [
        Verifier(trust_store(t), policy, MemoryReplayStore(policy.replay_window, clock=lambda: 0))
        for t in trust_configurations()
    ]


VERIFIERS = verifiers()
SEALERS = [Sealer(t) for t in trust_configurations()]
TEXT, BYTES, PLAINTEXT, CLAIMS = 0, 4, 1, 2
"""What the rest of the input is: byte 1's top three bits."""


def split(data: bytes) -> tuple[Verifier, BusinessType, str | bytes]:
    """The harness' input layout (see the module docstring)."""
    if len(data) < 2:
        return VERIFIERS[0], BUSINESS_TYPES[0], data
    configuration = data[0] % len(VERIFIERS)
    business_type = BUSINESS_TYPES[(data[1] & 0x1F) % len(BUSINESS_TYPES)]
    kind, rest = data[1] >> 5, data[2:]
    token: str | bytes
    if kind == BYTES:
        token = rest
    elif kind == PLAINTEXT:
        token = to_text(SEALERS[configuration].sealed(rest))
    elif kind == CLAIMS:
        sealer = SEALERS[configuration]
        token = to_text(sealer.sealed(sealer.signed(rest)))
    else:
        token = rest.decode("utf-8", "surrogateescape")
    return VERIFIERS[configuration], business_type, token


FRESH_STORES_EVERY = 1 << 16
"""Executions between fresh replay stores: sealed inputs with new token ids are
valid, and a store that keeps every id under a fixed clock would only grow."""
_executions = [0]


def one_input(data: bytes) -> None:
    _executions[0] += 1
    if not _executions[0] % FRESH_STORES_EVERY:
        VERIFIERS[:] = verifiers()
    verifier, business_type, token = split(data)
    try:
        verifier.verify(token, business_type)
    except EcertError as err:
        text = token if isinstance(token, str) else token.decode("latin-1")
        if len(text) >= 16 and text in str(err):
            raise AssertionError("a rejection's message contains the token") from err


if __name__ == "__main__":
    common.main(NAME, one_input)
