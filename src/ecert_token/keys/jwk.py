"""JWK (RFC 7517 / RFC 8037) export and import, so other implementations read our keys.

The issuer's public key is an ``OKP``/``Ed25519`` JWK; a verifier group's AEAD
key is an ``oct`` JWK.  ``kid`` is the base64url form of the binary kid that
tokens carry in their protected headers.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from ..crypto.ed25519 import Ed25519PublicKey
from ..errors import ErrorCode, KeyMaterialError
from .material import ALWAYS, GroupKey, IssuerVerifyKey, KeyState, Validity


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: object) -> bytes:
    if not isinstance(text, str) or not text.isascii():
        raise KeyMaterialError(ErrorCode.KEY_FILE, "expected base64url text")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise KeyMaterialError(ErrorCode.KEY_FILE, "expected base64url text") from None
    # The decoder skips foreign characters and takes '+', '/', padding and
    # stray trailing bits; only the one unpadded base64url form is a key value.
    if b64url(data) != text:
        raise KeyMaterialError(ErrorCode.KEY_FILE, "expected unpadded base64url text")
    return data


def issuer_public_jwk(key: IssuerVerifyKey) -> dict[str, str]:
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": b64url(key.public_key.raw),
        "kid": b64url(key.kid),
        "alg": "EdDSA",
        "use": "sig",
    }


def group_key_jwk(key: GroupKey) -> dict[str, str]:
    return {
        "kty": "oct",
        "k": b64url(key.secret),
        "kid": b64url(key.kid),
        "alg": "AES-CCM-16-64-128",
        "use": "enc",
    }


def issuer_public_from_jwk(
    jwk: dict[str, Any],
    issuer: str,
    regions: frozenset[str] | None = None,
    validity: Validity = ALWAYS,
    state: KeyState = KeyState.VERIFY_ONLY,
) -> IssuerVerifyKey:
    """Import an Ed25519 public JWK; the binding (issuer, regions) comes from the caller."""
    if not isinstance(jwk, dict) or jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise KeyMaterialError(ErrorCode.KEY_FILE, "not an Ed25519 OKP JWK")
    if "d" in jwk:
        raise KeyMaterialError(ErrorCode.KEY_FILE, "a public JWK must not hold a private part")
    return IssuerVerifyKey(
        issuer, b64url_decode(jwk.get("kid")), Ed25519PublicKey(b64url_decode(jwk.get("x"))),
        regions, validity, state,
    )


def group_key_from_jwk(
    jwk: dict[str, Any], group: str, validity: Validity = ALWAYS,
    state: KeyState = KeyState.PRIMARY,
) -> GroupKey:
    if not isinstance(jwk, dict) or jwk.get("kty") != "oct":
        raise KeyMaterialError(ErrorCode.KEY_FILE, "not an oct JWK")
    secret = b64url_decode(jwk.get("k"))
    if len(secret) != 16:
        raise KeyMaterialError(ErrorCode.KEY_FILE, "AES-CCM-16-64-128 keys are 16 bytes")
    return GroupKey(group, b64url_decode(jwk.get("kid")), secret, validity, state)
