"""Routes: a key found by the exact bytes of the header that names it.

A token names its keys in the COSE protected headers.  This format writes
each protected header one way only, ``{1: alg, 4: kid}`` deterministically
encoded, so for every key in a trust store there is exactly one byte string
under which a token can name it: that header as a CBOR byte string (its
heading included), as it sits inside the envelope.  A route maps those bytes
to the key and to everything the verifier derives from the key for each
token: the AEAD's additional data (the Enc_structure) or the start of the
Sig_structure, the key state and validity window as plain integers, the
region scope.

One dictionary lookup of a slice of the token then finds the key, proves the
header is canonical, and proves ``alg`` is the key's algorithm.  Anything
that does not hit a route (another encoding, an unknown kid, a wrong alg) is
left to the general, strict decoders, which give the answer or the error; so
routes change how fast a token is verified, never what the answer is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import NamedTuple

from ..codec import cose
from .material import GroupKey, IssuerVerifyKey, KeyState, Validity

_OPEN_LOW = -1
_OPEN_HIGH = 2**63
"""Bounds standing in for an open side of a validity window (times are >= 0)."""


def window(validity: Validity) -> tuple[int, int]:
    """``(not_before, not_after)`` as integers, open sides made unreachable."""
    low = _OPEN_LOW if validity.not_before is None else validity.not_before
    high = _OPEN_HIGH if validity.not_after is None else validity.not_after
    return low, high


def header_bytes(alg: int, kid: bytes) -> bytes:
    """The protected header ``{1: alg, 4: kid}`` as the byte string it travels as."""
    protected = cose.encode_protected(alg, kid)
    return cose.bstr_head(len(protected)) + protected


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
    public_raw: bytes
    revoked: bool
    not_before: int
    not_after: int
    regions: frozenset[str] | None


class Routes(NamedTuple):
    """Header bytes -> route, for the group keys and for the issuer keys."""

    groups: dict[bytes, GroupRoute]
    issuers: dict[bytes, IssuerRoute]


def build_routes(issuers: Iterable[IssuerVerifyKey], groups: Iterable[GroupKey]) -> Routes:
    """The routes of a trust store's keys (kids are unique per kind there)."""
    group_routes = {}
    for gk in groups:
        protected = cose.encode_protected(gk.alg, gk.kid)
        group_routes[header_bytes(gk.alg, gk.kid)] = GroupRoute(
            gk, cose.enc_structure(protected), gk.aead.raw_decrypt,
            gk.state is KeyState.REVOKED, *window(gk.validity))
    issuer_routes = {}
    for ik in issuers:
        header = header_bytes(ik.alg, ik.kid)
        issuer_routes[header] = IssuerRoute(
            ik, cose.SIG1_CONTEXT_PREFIX + header + b"\x40", ik.public_key.raw,
            ik.state is KeyState.REVOKED, *window(ik.validity), ik.regions)
    return Routes(group_routes, issuer_routes)
