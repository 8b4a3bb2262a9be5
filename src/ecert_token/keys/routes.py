"""Routes: a key found by the exact bytes that open an envelope sealed with it.

A token names its keys in the COSE protected headers.  This format writes
each envelope one way only: deterministic CBOR, the protected header
``{1: alg, 4: kid}``, a 13-byte IV, a payload of one-byte length.  So for
every key in a trust store, every canonical envelope made with it begins with
the same bytes (tag, array heading, protected header, and the heading that
follows it; see ``cose.encrypt0_opening`` / ``cose.sign1_opening``).  A route
maps those bytes to the key and to everything the verifier derives from the
key for each token: the AEAD's additional data (the Enc_structure) or the
start of the Sig_structure, the key state and validity window as plain
integers, the region scope.

One dictionary lookup of a slice of the token then finds the key, proves the
envelope's opening is canonical, and proves ``alg`` is the key's algorithm.
Anything that does not hit a route (another encoding, an unknown kid, a wrong
alg) is left to the general, strict decoders, which give the answer or the
error; so routes change how fast a token is verified, never what the answer
is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import NamedTuple

from ..codec import cose
from ..crypto.aead import ALG_AES_CCM_16_64_128
from ..crypto.ed25519 import ALG_EDDSA
from ..crypto.sm2 import SM2PublicKey
from .material import GroupKey, IssuerVerifyKey, KeyState, Validity

_OPEN_LOW = -1
_OPEN_HIGH = 2**63
"""Bounds standing in for an open side of a validity window (times are >= 0)."""


def window(validity: Validity) -> tuple[int, int]:
    """``(not_before, not_after)`` as integers, open sides made unreachable."""
    low = _OPEN_LOW if validity.not_before is None else validity.not_before
    high = _OPEN_HIGH if validity.not_after is None else validity.not_after
    return low, high


class GroupRoute(NamedTuple):
    """What decrypting under one group key needs, precomputed."""

    key: GroupKey
    aad: bytes
    """The Enc_structure ``["Encrypt0", protected, h'']``."""
    decrypt: Callable[[bytes, bytes, bytes], bytes]
    """The AEAD's raw decrypt ``(nonce, ciphertext, aad)``; raises ``InvalidTag``."""
    revoked: bool
    not_before: int
    not_after: int


class IssuerRoute(NamedTuple):
    """What checking a signature of one issuer key needs, precomputed."""

    key: IssuerVerifyKey
    sig_prefix: bytes
    """The Sig_structure up to the payload: ``["Signature1", protected, h'',``."""
    public_raw: bytes | SM2PublicKey
    """An Ed25519 key's 32 bytes for libsodium; on the general path, an SM2 key itself
    (it checks ``signature || Sig_structure`` with ``verify_signed``)."""
    revoked: bool
    not_before: int
    not_after: int
    regions: frozenset[str] | None


class Routes(NamedTuple):
    """Envelope opening -> route: COSE_Encrypt0 openings to group keys, COSE_Sign1
    openings to issuer keys.  Built once per trust store and shared: read-only."""

    groups: dict[bytes, GroupRoute]
    issuers: dict[bytes, IssuerRoute]


def build_routes(issuers: Iterable[IssuerVerifyKey], groups: Iterable[GroupKey]) -> Routes:
    """The routes of a trust store's Ed25519 and AES-CCM keys (kids are unique per kind
    there).  Keys of other suites (SM2, SM4) get none: their tokens take the general
    path, which asks the key bound to the kid for its algorithm."""
    group_routes = {
        cose.encrypt0_opening(gk.alg, gk.kid): GroupRoute(
            gk, cose.enc_structure(cose.encode_protected(gk.alg, gk.kid)), gk.aead.raw_decrypt,
            gk.state is KeyState.REVOKED, *window(gk.validity))
        for gk in groups if gk.alg == ALG_AES_CCM_16_64_128
    }
    issuer_routes = {}
    for ik in issuers:
        if ik.alg != ALG_EDDSA:
            continue
        protected = cose.encode_protected(ik.alg, ik.kid)
        issuer_routes[cose.sign1_opening(ik.alg, ik.kid)] = IssuerRoute(
            # The Sig_structure of an empty payload, minus that payload's heading.
            ik, cose.sig_structure(protected, b"")[:-1], ik.public_key.raw,
            ik.state is KeyState.REVOKED, *window(ik.validity), ik.regions)
    return Routes(group_routes, issuer_routes)
