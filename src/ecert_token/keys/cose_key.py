"""COSE_Key (RFC 9052 §7, RFC 9053) export and import.

Two shapes, each with exactly these labels and nothing else:

* an issuer's public key: ``{1: 1 (OKP), 2: kid, 3: -8 (EdDSA), -1: 6 (Ed25519), -2: x}``
  (RFC 9053 §7.2); a map holding ``d`` (-4) is refused, so a private key
  never passes for a public one;
* a verifier group's AEAD key: ``{1: 4 (Symmetric), 2: kid, 3: 10
  (AES-CCM-16-64-128), -1: k}`` (RFC 9053 §7.3).  This is a secret: it is
  stored in 0600 files and never travels in a trust list.

On import, an optional ``key_ops`` (4) is accepted when it allows what we do
with the key (verify, 2, for public keys; decrypt, 4, for group keys):
python-cwt and other libraries add it.  Export never writes it.

Like JWK import, only the key and its kid come from the map; the binding
(issuer, regions, window, state) comes from the caller or the trust list.
Public keys are validated on import (no identity or small-order points).
"""

from __future__ import annotations

from ..codec import cbor
from ..codec.cbor import CBORError
from ..crypto.aead import ALG_AES_CCM_16_64_128, KEY_BYTES
from ..crypto.ed25519 import ALG_EDDSA, Ed25519PublicKey
from ..errors import ErrorCode, KeyMaterialError
from .material import ALWAYS, GroupKey, IssuerVerifyKey, KeyState, Validity
from .terminal import TerminalKey

KTY = 1
KID = 2
ALG = 3
KEY_OPS = 4
OP_VERIFY = 2
OP_DECRYPT = 4
KTY_OKP = 1
KTY_SYMMETRIC = 4
OKP_CRV = -1
OKP_X = -2
OKP_D = -4
SYMMETRIC_K = -1
CRV_ED25519 = 6

_OKP_LABELS = frozenset({KTY, KID, ALG, OKP_CRV, OKP_X})
_SYMMETRIC_LABELS = frozenset({KTY, KID, ALG, SYMMETRIC_K})


def issuer_public_cose_map(key: IssuerVerifyKey) -> dict[int, object]:
    """The COSE_Key map of an issuer's public key (for embedding in a trust list)."""
    return {KTY: KTY_OKP, KID: key.kid, ALG: ALG_EDDSA, OKP_CRV: CRV_ED25519,
            OKP_X: key.public_key.raw}


def terminal_public_cose_map(key: TerminalKey) -> dict[int, object]:
    """The COSE_Key map of a terminal's public key (the same OKP shape)."""
    return {KTY: KTY_OKP, KID: key.kid, ALG: ALG_EDDSA, OKP_CRV: CRV_ED25519,
            OKP_X: key.public_key.raw}


def issuer_public_to_cose_key(key: IssuerVerifyKey) -> bytes:
    return cbor.dumps(issuer_public_cose_map(key))


def group_key_to_cose_key(key: GroupKey) -> bytes:
    """The group's secret AEAD key as a COSE_Key; store it with mode 0600."""
    return cbor.dumps({KTY: KTY_SYMMETRIC, KID: key.kid, ALG: ALG_AES_CCM_16_64_128,
                       SYMMETRIC_K: key.secret})


def _is(value: object, expected: int) -> bool:
    """Exact integer match (CBOR ``true`` must not pass for 1)."""
    return type(value) is int and value == expected


def _check_kid(kid: object) -> bytes:
    if type(kid) is not bytes or not 1 <= len(kid) <= 16:
        raise KeyMaterialError(ErrorCode.KEY_FILE, "kid must be 1 to 16 bytes")
    return kid


def _without_key_ops(value: dict[object, object], needed: int) -> dict[object, object]:
    """The map minus ``key_ops``, refused if present and not allowing ``needed``."""
    if KEY_OPS not in value:
        return value
    ops = value[KEY_OPS]
    if type(ops) is not list or not any(_is(op, needed) for op in ops):
        raise KeyMaterialError(ErrorCode.KEY_FILE, "key_ops does not allow this use")
    return {k: v for k, v in value.items() if k != KEY_OPS}


def load_map(data: bytes) -> dict[object, object]:
    """One strict CBOR map, the shape of any COSE_Key; else ``KEY_FILE``."""
    if not isinstance(data, bytes):
        raise KeyMaterialError(ErrorCode.KEY_FILE, "a COSE_Key is bytes")
    try:
        value = cbor.loads(data, max_depth=2)  # key_ops is an array
    except CBORError:
        raise KeyMaterialError(ErrorCode.KEY_FILE, "a COSE_Key is one strict CBOR map") from None
    if type(value) is not dict:
        raise KeyMaterialError(ErrorCode.KEY_FILE, "a COSE_Key is one strict CBOR map")
    return value


def okp_public_from_map(value: dict[object, object]) -> tuple[bytes, Ed25519PublicKey]:
    """``(kid, validated public key)`` from an Ed25519 OKP COSE_Key map."""
    if OKP_D in value:
        raise KeyMaterialError(ErrorCode.KEY_FILE, "a public COSE_Key must not hold d")
    value = _without_key_ops(value, OP_VERIFY)
    if (value.keys() != _OKP_LABELS or not _is(value[KTY], KTY_OKP)
            or not _is(value[OKP_CRV], CRV_ED25519) or not _is(value[ALG], ALG_EDDSA)):
        raise KeyMaterialError(ErrorCode.KEY_FILE, "not an Ed25519 OKP COSE_Key")
    x = value[OKP_X]
    if type(x) is not bytes:
        raise KeyMaterialError(ErrorCode.KEY_FILE, "not an Ed25519 OKP COSE_Key")
    return _check_kid(value[KID]), Ed25519PublicKey(x)


def issuer_public_from_cose_key(
    data: bytes,
    issuer: str,
    regions: frozenset[str] | None = None,
    validity: Validity = ALWAYS,
    state: KeyState = KeyState.VERIFY_ONLY,
) -> IssuerVerifyKey:
    """Import an issuer's public COSE_Key; the binding comes from the caller."""
    kid, public = okp_public_from_map(load_map(data))
    return IssuerVerifyKey(issuer, kid, public, regions, validity, state)


def group_key_from_cose_key(
    data: bytes, group: str, validity: Validity = ALWAYS, state: KeyState = KeyState.PRIMARY
) -> GroupKey:
    """Import a group's AEAD COSE_Key (kty Symmetric, alg 10, 16-byte k)."""
    value = _without_key_ops(load_map(data), OP_DECRYPT)
    if value.keys() != _SYMMETRIC_LABELS or not _is(value[KTY], KTY_SYMMETRIC):
        raise KeyMaterialError(ErrorCode.KEY_FILE, "not a symmetric COSE_Key")
    secret = value[SYMMETRIC_K]
    if not _is(value[ALG], ALG_AES_CCM_16_64_128) or type(secret) is not bytes:
        raise KeyMaterialError(ErrorCode.KEY_FILE, "not an AES-CCM-16-64-128 COSE_Key")
    if len(secret) != KEY_BYTES:
        raise KeyMaterialError(ErrorCode.KEY_FILE, "AES-CCM-16-64-128 keys are 16 bytes")
    return GroupKey(group, _check_kid(value[KID]), secret, validity, state)
