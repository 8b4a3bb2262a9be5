"""JWK (RFC 7517 / RFC 8037) export and import, so other implementations read our keys.

The issuer's public key is an ``OKP``/``Ed25519`` JWK, or for the SM suite an
``EC``/``SM2`` JWK (``x`` and ``y``, 32 bytes each, ``alg`` ``SM2-SM3``); a
verifier group's AEAD key is an ``oct`` JWK whose ``alg`` names the AEAD
(``AES-CCM-16-64-128``, ``SM4-CCM-16-64-128`` or ``SM4-GCM``; absent means
AES-CCM-16-64-128, as files written before the SM suite).  ``kid`` is the
base64url form of the binary kid that tokens carry in their protected headers.
SM2 private keys are stored as ``EC``/``SM2`` JWKs with ``d`` (0600 files):
cryptography cannot write SM2 keys as PKCS#8.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from ..crypto.aead import ALG_AES_CCM_16_64_128
from ..crypto.ed25519 import Ed25519PublicKey
from ..crypto.sm2 import ALG_SM2_SM3, DEFAULT_ID, MAX_ID_BYTES, SM2PrivateKey, SM2PublicKey
from ..errors import EcertError, ErrorCode, InvalidArgument, KeyMaterialError
from .material import ALWAYS, GroupKey, IssuerVerifyKey, KeyState, PublicKey, Validity
from .suite import ALG_IDS, ALG_NAMES, GROUP_ALGS


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


SM2_ID = "sm2_id"
"""The JWK member of an SM2 key's signer ID (base64url), present only for an ID other
than the default ``1234567812345678``: a tool that ignores it verifies under the default
ID, and the signature fails rather than passing under the wrong identity."""


def _sm2_members(public: SM2PublicKey) -> dict[str, str]:
    members = {"kty": "EC", "crv": "SM2", "x": b64url(public.raw[:32]),
               "y": b64url(public.raw[32:])}
    if public.uid != DEFAULT_ID:
        members[SM2_ID] = b64url(public.uid)
    return members


def _sm2_id(jwk: dict[str, Any]) -> bytes:
    if SM2_ID not in jwk:
        return DEFAULT_ID
    uid = b64url_decode(jwk[SM2_ID])
    if uid == DEFAULT_ID or not 1 <= len(uid) <= MAX_ID_BYTES:
        raise KeyMaterialError(ErrorCode.KEY_FILE, "sm2_id is 1 to 8191 bytes, not the default")
    return uid


def issuer_public_jwk(key: IssuerVerifyKey) -> dict[str, str]:
    if isinstance(key.public_key, SM2PublicKey):
        return {**_sm2_members(key.public_key), "kid": b64url(key.kid),
                "alg": ALG_NAMES[ALG_SM2_SM3], "use": "sig"}
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
        "alg": ALG_NAMES[key.alg],
        "use": "enc",
    }


def sm2_private_jwk(kid: bytes, key: SM2PrivateKey) -> dict[str, str]:
    """An SM2 private key as an ``EC``/``SM2`` JWK with ``d``; store it with mode 0600."""
    return {**_sm2_members(key.public_key), "d": b64url(key.secret), "kid": b64url(kid),
            "alg": ALG_NAMES[ALG_SM2_SM3], "use": "sig"}


def _sm2_point(jwk: dict[str, Any]) -> bytes:
    x, y = b64url_decode(jwk.get("x")), b64url_decode(jwk.get("y"))
    if len(x) != 32 or len(y) != 32:
        raise KeyMaterialError(ErrorCode.KEY_FILE, "SM2 coordinates are 32 bytes")
    return x + y


def _is_sm2(jwk: dict[str, Any]) -> bool:
    if jwk.get("kty") != "EC" or jwk.get("crv") != "SM2":
        return False
    if jwk.get("alg", ALG_NAMES[ALG_SM2_SM3]) != ALG_NAMES[ALG_SM2_SM3]:
        raise KeyMaterialError(ErrorCode.KEY_FILE, "an SM2 JWK's alg must be SM2-SM3")
    return True


def sm2_private_from_jwk(jwk: dict[str, Any]) -> tuple[bytes, SM2PrivateKey]:
    """``(kid, key)`` from an SM2 private JWK; its ``x``/``y`` must match ``d``."""
    if not isinstance(jwk, dict) or not _is_sm2(jwk) or "d" not in jwk:
        raise KeyMaterialError(ErrorCode.KEY_FILE, "not an SM2 private JWK")
    try:
        key = SM2PrivateKey(b64url_decode(jwk.get("d")), _sm2_id(jwk))
    except InvalidArgument:
        raise KeyMaterialError(ErrorCode.KEY_FILE, "not a valid SM2 private key") from None
    if key.public_key.raw != _sm2_point(jwk):
        raise KeyMaterialError(ErrorCode.KEY_FILE, "the SM2 JWK's x, y do not match d")
    return b64url_decode(jwk.get("kid")), key


def issuer_public_from_jwk(
    jwk: dict[str, Any],
    issuer: str,
    regions: frozenset[str] | None = None,
    validity: Validity = ALWAYS,
    state: KeyState = KeyState.VERIFY_ONLY,
) -> IssuerVerifyKey:
    """Import an Ed25519 or SM2 public JWK; the binding (issuer, regions) comes from the
    caller."""
    if not isinstance(jwk, dict):
        raise KeyMaterialError(ErrorCode.KEY_FILE, "not an Ed25519 OKP or SM2 EC JWK")
    if "d" in jwk:
        raise KeyMaterialError(ErrorCode.KEY_FILE, "a public JWK must not hold a private part")
    public: PublicKey
    if _is_sm2(jwk):
        public = SM2PublicKey(_sm2_point(jwk), _sm2_id(jwk))
    elif jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519":
        public = Ed25519PublicKey(b64url_decode(jwk.get("x")))
    else:
        raise KeyMaterialError(ErrorCode.KEY_FILE, "not an Ed25519 OKP or SM2 EC JWK")
    return IssuerVerifyKey(issuer, b64url_decode(jwk.get("kid")), public, regions, validity,
                           state)


def group_key_from_jwk(
    jwk: dict[str, Any], group: str, validity: Validity = ALWAYS,
    state: KeyState = KeyState.PRIMARY,
) -> GroupKey:
    """Import a group key: an ``oct`` JWK whose ``alg`` names its AEAD (default AES-CCM)."""
    if not isinstance(jwk, dict) or jwk.get("kty") != "oct":
        raise KeyMaterialError(ErrorCode.KEY_FILE, "not an oct JWK")
    name = jwk.get("alg", ALG_NAMES[ALG_AES_CCM_16_64_128])
    alg = ALG_IDS.get(name) if isinstance(name, str) else None
    if alg not in GROUP_ALGS:
        raise KeyMaterialError(ErrorCode.KEY_FILE, "an oct JWK's alg names no supported AEAD")
    secret = b64url_decode(jwk.get("k"))
    if len(secret) != 16:
        raise KeyMaterialError(ErrorCode.KEY_FILE, f"{ALG_NAMES[alg]} keys are 16 bytes")
    try:
        return GroupKey(group, b64url_decode(jwk.get("kid")), secret, validity, state, alg)
    except EcertError as exc:
        raise KeyMaterialError(ErrorCode.KEY_FILE, exc.detail) from None
