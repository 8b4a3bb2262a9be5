"""Challenge mode: a terminal that can afford a second scan defeats replayed screenshots.

The terminal shows a fresh random challenge as its own QR code; the phone
scans it and mints its presentation with the challenge in ``cnonce`` (CWT
claim 39); the terminal accepts only a presentation that answers it, once.
A relay must then carry the challenge to the phone and the answer back, live,
within the terminal's timeout (docs/holder-credentials.md#relay).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..errors import ErrorCode, InvalidArgument, TokenRejected
from ..model import BusinessType
from .presentation import MAX_CHALLENGE_BYTES
from .verify import VerifiedPresentation

if TYPE_CHECKING:
    from ..token.verify import Verifier

CHALLENGE_BYTES = 8


def new_challenge(random_bytes: Callable[[int], bytes] = os.urandom) -> bytes:
    """A fresh challenge for one scan (8 random bytes)."""
    challenge = random_bytes(CHALLENGE_BYTES)
    if not isinstance(challenge, bytes) or not 1 <= len(challenge) <= MAX_CHALLENGE_BYTES:
        raise InvalidArgument("the random source returned the wrong number of bytes")
    return challenge


def verify_with_challenge(verifier: Verifier, text: str | bytes, business_type: BusinessType,
                          challenge: bytes, *, now: int | None = None) -> VerifiedPresentation:
    """:meth:`Verifier.verify` for a presentation that must answer ``challenge``: every
    check, ``challenge_mismatch`` for any other answer, then the verifier's replay mark.

    Built on the public API only: the verifier's presentation checker checks the
    answer (and everything else) without marking, then :meth:`Verifier.verify`
    checks again and marks, with its own replay and lost-reply handling.  The
    second check finds the credential in the checker's cache; what it repeats is
    the device's signature, one Ed25519 verification per challenge-mode scan.
    """
    if not isinstance(challenge, bytes) or not 1 <= len(challenge) <= MAX_CHALLENGE_BYTES:
        raise InvalidArgument("challenge must be 1 to 16 bytes")
    at = verifier.policy.clock() if now is None else now
    verifier.presentations.check(text, business_type, now=at, challenge=challenge)
    verified = verifier.verify(text, business_type, now=now)
    if not isinstance(verified, VerifiedPresentation):  # pragma: no cover - checked above
        raise TokenRejected(ErrorCode.MALFORMED, "not a presentation")
    return verified
