"""Routes: what the accelerator needs from each key, precomputed, by kid.

The compiled accelerator (``ecert_token._accel``) reads a token in the one
canonical layout this format writes and must give exactly the answer of the
Python pipeline (``token/verify.py``).  It cannot read key objects cheaply,
so the trust store gives it, per kid, a tuple of plain values: the key's
algorithm, the AEAD's additional data (the Enc_structure) or the start of the
Sig_structure, how to open or check (a CCM key the extension made, or the
AEAD's decrypt; Ed25519's raw public key, or the SM2 backend's verify), the
key state and validity window as integers, and the key object itself (which
the pipeline's later stages read).  The algorithm always comes from the key
bound to the kid.  A route holds nothing the key does not say; the
pure-Python pipeline reads the keys directly and never needs routes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import NamedTuple

from .. import _speedups
from ..codec import cose
from ..crypto.aead import AesCcmKey
from ..crypto.ed25519 import Ed25519PublicKey
from ..crypto.sm2 import SM2PublicKey
from ..crypto.sm4 import Sm4CcmKey, Sm4GcmKey
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
    ``InvalidTag`` raised: the key's AEAD refused it.  For an AES-CCM or SM4-CCM
    key this is the extension's CCM key (``_speedups.ccm_key``: the key expanded
    once, and the accelerator opens the envelope with it in C, without calling
    Python); without the extension, and for SM4-GCM, the library's own decrypt
    (``raw_decrypt``: the accelerator checks the nonce and tag lengths itself and
    catches ``InvalidTag`` in C); for any other AEAD object, its ``open``."""
    revoked: bool
    not_before: int
    not_after: int


class IssuerRoute(NamedTuple):
    """What checking a signature of one issuer key needs."""

    key: IssuerVerifyKey
    alg: int
    sig_prefix: bytes
    """The Sig_structure up to the payload: ``["Signature1", protected, h'',``."""
    public: bytes | Callable[[bytes, bytes], object]
    """Ed25519: the 32-byte public key (the accelerator checks with libsodium).  SM2:
    ``(message, signature)`` -> a truth value, or ``ValueError``/``TypeError`` raised
    for a refusal: the backend's verify (``SM2PublicKey.raw_verify``), which the
    accelerator calls, as no library it links has SM2."""
    revoked: bool
    not_before: int
    not_after: int


def _opener(gk: GroupKey) -> Callable[[bytes, bytes, bytes], bytes | None]:
    """A group route's opener: the extension's CCM key for exactly
    :class:`~ecert_token.crypto.aead.AesCcmKey` or :class:`~ecert_token.crypto.sm4.Sm4CcmKey`
    (a subclass may change ``open``), else the raw decrypt of exactly those or
    :class:`~ecert_token.crypto.sm4.Sm4GcmKey`, else the AEAD's ``open``."""
    aead = gk.aead
    kind = type(aead)
    if kind is AesCcmKey or kind is Sm4CcmKey:
        native = _speedups.ccm_key("AES" if kind is AesCcmKey else "SM4", gk.secret)
        return native if native is not None else aead.raw_decrypt
    if kind is Sm4GcmKey:
        return aead.raw_decrypt
    return aead.open


def _public(ik: IssuerVerifyKey) -> bytes | Callable[[bytes, bytes], object]:
    """An issuer route's public item (see :attr:`IssuerRoute.public`)."""
    key = ik.public_key
    if isinstance(key, Ed25519PublicKey):
        return key.raw
    if type(key) is SM2PublicKey:
        return key.raw_verify
    return lambda message, signature: key.verify(signature, message)


class Routes(NamedTuple):
    """kid -> route, per kind.  Built once per trust store and shared: read-only."""

    groups: dict[bytes, GroupRoute]
    issuers: dict[bytes, IssuerRoute]


def build_routes(issuers: Iterable[IssuerVerifyKey], groups: Iterable[GroupKey]) -> Routes:
    """The routes of a trust store's keys (kids are unique per kind there)."""
    group_routes = {
        gk.kid: GroupRoute(
            gk, gk.alg, cose.enc_structure(cose.encode_protected(gk.alg, gk.kid)),
            _opener(gk), gk.state is KeyState.REVOKED, *window(gk.validity))
        for gk in groups
    }
    issuer_routes = {
        # The Sig_structure of an empty payload, minus that payload's heading.
        ik.kid: IssuerRoute(
            ik, ik.alg, cose.sig_structure(cose.encode_protected(ik.alg, ik.kid), b"")[:-1],
            _public(ik), ik.state is KeyState.REVOKED, *window(ik.validity))
        for ik in issuers
    }
    return Routes(group_routes, issuer_routes)
