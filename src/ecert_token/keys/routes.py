"""Routes: what the accelerator needs from each key, precomputed, by kid.

The compiled accelerator (``ecert_token._accel``) reads a token in the one
canonical layout this format writes and must give exactly the answer of the
Python pipeline (``token/verify.py``).  It cannot read key objects cheaply,
so the trust store gives it, per kid, a tuple of plain values: the key's
algorithm, the AEAD's additional data (the Enc_structure) or the start of the
Sig_structure, the key state and validity window as integers, and the key
object itself (which the pipeline's later stages read).  A route holds
nothing the key does not say; the pure-Python pipeline reads the keys
directly and never needs routes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import NamedTuple

from ..codec import cose
from ..crypto.aead import Aead, AesCcmKey
from .material import GroupKey, IssuerVerifyKey, KeyState, Validity

_OPEN_LOW = -1
_OPEN_HIGH = 2**63 - 1
"""Bounds standing in for an open side of a validity window (times are >= 0 and
below 2**40), within a C ``long long``."""


def window(validity: Validity) -> tuple[int, int]:
    """``(not_before, not_after)`` as integers, open sides made unreachable."""
    low = _OPEN_LOW if validity.not_before is None else validity.not_before
    high = _OPEN_HIGH if validity.not_after is None else validity.not_after
    return low, high


class GroupRoute(NamedTuple):
    """What opening an envelope under one group key needs."""

    key: GroupKey
    alg: int
    aad: bytes
    """The Enc_structure ``["Encrypt0", protected, h'']`` of the canonical header."""
    open: Callable[[bytes, bytes, bytes], bytes | None]
    """``(nonce, ciphertext, aad)`` -> the plaintext, or None, or cryptography's
    ``InvalidTag`` raised: the key's AEAD refused it.  For an AES-CCM key this is
    the library's own decrypt (``AesCcmKey.raw_decrypt``: the accelerator checks the
    nonce and tag lengths itself and catches ``InvalidTag`` in C, which costs a
    rejected token about a third less than a Python ``except``); for any other
    AEAD, its ``open``."""
    revoked: bool
    not_before: int
    not_after: int


class IssuerRoute(NamedTuple):
    """What checking a signature of one issuer key needs."""

    key: IssuerVerifyKey
    alg: int
    sig_prefix: bytes
    """The Sig_structure up to the payload: ``["Signature1", protected, h'',``."""
    public_raw: bytes
    revoked: bool
    not_before: int
    not_after: int


def _decrypt(aead: Aead) -> Callable[[bytes, bytes, bytes], bytes | None]:
    """A group route's decrypt: the raw AES-CCM decrypt of exactly
    :class:`~ecert_token.crypto.aead.AesCcmKey` (a subclass may change ``open``),
    else the AEAD's ``open``."""
    if type(aead) is AesCcmKey:
        return aead.raw_decrypt
    return aead.open


class Routes(NamedTuple):
    """kid -> route, per kind.  Built once per trust store and shared: read-only."""

    groups: dict[bytes, GroupRoute]
    issuers: dict[bytes, IssuerRoute]


def build_routes(issuers: Iterable[IssuerVerifyKey], groups: Iterable[GroupKey]) -> Routes:
    """The routes of a trust store's keys (kids are unique per kind there)."""
    group_routes = {
        gk.kid: GroupRoute(
            gk, gk.alg, cose.enc_structure(cose.encode_protected(gk.alg, gk.kid)),
            _decrypt(gk.aead), gk.state is KeyState.REVOKED, *window(gk.validity))
        for gk in groups
    }
    issuer_routes = {
        # The Sig_structure of an empty payload, minus that payload's heading.
        ik.kid: IssuerRoute(
            ik, ik.alg, cose.sig_structure(cose.encode_protected(ik.alg, ik.kid), b"")[:-1],
            ik.public_key.raw, ik.state is KeyState.REVOKED, *window(ik.validity))
        for ik in issuers
    }
    return Routes(group_routes, issuer_routes)
