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

The SM suite's keys (docs/sm-suite.md) take the same two shapes:

* an SM2 public key: ``{1: 2 (EC2), 2: kid, 3: -65537 (SM2 over SM3),
  -1: -65537 (crv SM2, private use), -2: x, -3: y}`` with 32-byte coordinates,
  and ``-65537: signer ID`` (a private-use label) only for an ID other than the
  default;
* an SM4 group key: ``{1: 4, 2: kid, 3: -65539 (SM4-CCM-16-64-128) or -65538
  (SM4-GCM), -1: k}`` with a 16-byte ``k``.

Like JWK import, only the key and its kid come from the map; the binding
(issuer, regions, window, state) comes from the caller or the trust list.
Public keys are validated on import (Ed25519: no identity or small-order
points; SM2: on the curve, of order n).
"""

from __future__ import annotations

from ..codec import cbor
from ..codec.cbor import CBORError
from ..crypto.aead import KEY_BYTES
from ..crypto.ed25519 import ALG_EDDSA, Ed25519PublicKey
from ..crypto.sm2 import ALG_SM2_SM3, DEFAULT_ID, MAX_ID_BYTES, SM2PublicKey
from ..errors import EcertError, ErrorCode, KeyMaterialError
from .material import (
    ALWAYS,
    GroupKey,
    IssuerVerifyKey,
    KeyState,
    PublicKey,
    Validity,
)
from .suite import ALG_NAMES, GROUP_ALGS
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
KTY_EC2 = 2
EC2_Y = -3
CRV_SM2 = -65537
"""sm2p256v1: no COSE curve id is registered; this one is from the private-use range."""
EC2_SM2_ID = -65537
"""An SM2 key's signer ID (bstr), a private-use label present only for a non-default ID."""

_OKP_LABELS = frozenset({KTY, KID, ALG, OKP_CRV, OKP_X})
_EC2_LABELS = frozenset({KTY, KID, ALG, OKP_CRV, OKP_X, EC2_Y})
_EC2_LABELS_WITH_ID = _EC2_LABELS | {EC2_SM2_ID}
_SYMMETRIC_LABELS = frozenset({KTY, KID, ALG, SYMMETRIC_K})


def issuer_public_cose_map(key: IssuerVerifyKey) -> dict[int, object]:
    """The COSE_Key map of an issuer's public key (for embedding in a trust list)."""
    public = key.public_key
    if isinstance(public, SM2PublicKey):
        out: dict[int, object] = {KTY: KTY_EC2, KID: key.kid, ALG: ALG_SM2_SM3,
                                  OKP_CRV: CRV_SM2, OKP_X: public.raw[:32], EC2_Y: public.raw[32:]}
        if public.uid != DEFAULT_ID:
            out[EC2_SM2_ID] = public.uid
        return out
    return {KTY: KTY_OKP, KID: key.kid, ALG: ALG_EDDSA, OKP_CRV: CRV_ED25519,
            OKP_X: public.raw}


def terminal_public_cose_map(key: TerminalKey) -> dict[int, object]:
    """The COSE_Key map of a terminal's public key (the same OKP shape)."""
    return {KTY: KTY_OKP, KID: key.kid, ALG: ALG_EDDSA, OKP_CRV: CRV_ED25519,
            OKP_X: key.public_key.raw}


def issuer_public_to_cose_key(key: IssuerVerifyKey) -> bytes:
    return cbor.dumps(issuer_public_cose_map(key))


def group_key_to_cose_key(key: GroupKey) -> bytes:
    """The group's secret AEAD key as a COSE_Key; store it with mode 0600."""
    return cbor.dumps({KTY: KTY_SYMMETRIC, KID: key.kid, ALG: key.alg,
                       SYMMETRIC_K: key.secret})


def _is(value: object, expected: int) -> bool:
    """Exact integer match (CBOR ``true`` must not pass for 1)."""
    return type(value) is int and value == expected


def _check_kid(kid: object) -> bytes:
    if type(kid) is not bytes or not 1 <= len(kid) <= 16:
        raise KeyMaterialError(ErrorCode.KEY_FILE, "kid must be 1 to 16 bytes")
    return kid


def _without_key_ops(value: dict[object, object], needed: int) -> dict[object, object]:
    """The map minus ``key_ops``, refused if present and not allowing ``needed``, or if a
    label is not exactly an integer (a CBOR ``true`` would pass for kty 1 in a key set)."""
    if not cbor.has_int_keys(value):
        raise KeyMaterialError(ErrorCode.KEY_FILE, "COSE_Key labels must be integers")
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


def sm2_public_from_map(value: dict[object, object]) -> tuple[bytes, SM2PublicKey]:
    """``(kid, validated public key)`` from an SM2 EC2 COSE_Key map."""
    if OKP_D in value:
        raise KeyMaterialError(ErrorCode.KEY_FILE, "a public COSE_Key must not hold d")
    value = _without_key_ops(value, OP_VERIFY)
    if (value.keys() not in (_EC2_LABELS, _EC2_LABELS_WITH_ID) or not _is(value[KTY], KTY_EC2)
            or not _is(value[OKP_CRV], CRV_SM2) or not _is(value[ALG], ALG_SM2_SM3)):
        raise KeyMaterialError(ErrorCode.KEY_FILE, "not an SM2 EC2 COSE_Key")
    x, y = value[OKP_X], value[EC2_Y]
    if type(x) is not bytes or type(y) is not bytes or len(x) != 32 or len(y) != 32:
        raise KeyMaterialError(ErrorCode.KEY_FILE, "SM2 coordinates are 32-byte strings")
    uid = value.get(EC2_SM2_ID, DEFAULT_ID)
    if type(uid) is not bytes or (EC2_SM2_ID in value and uid == DEFAULT_ID) or not (
            1 <= len(uid) <= MAX_ID_BYTES):
        raise KeyMaterialError(ErrorCode.KEY_FILE, "an SM2 signer ID is 1 to 8191 bytes")
    return _check_kid(value[KID]), SM2PublicKey(x + y, uid)


def public_from_map(value: dict[object, object]) -> tuple[bytes, PublicKey]:
    """``(kid, validated public key)`` from an Ed25519 OKP or SM2 EC2 COSE_Key map."""
    if _is(value.get(KTY), KTY_EC2):
        return sm2_public_from_map(value)
    return okp_public_from_map(value)


def issuer_public_from_cose_key(
    data: bytes,
    issuer: str,
    regions: frozenset[str] | None = None,
    validity: Validity = ALWAYS,
    state: KeyState = KeyState.VERIFY_ONLY,
) -> IssuerVerifyKey:
    """Import an issuer's public COSE_Key (Ed25519 or SM2); the binding comes from the
    caller."""
    kid, public = public_from_map(load_map(data))
    return IssuerVerifyKey(issuer, kid, public, regions, validity, state)


def group_key_from_cose_key(
    data: bytes, group: str, validity: Validity = ALWAYS, state: KeyState = KeyState.PRIMARY
) -> GroupKey:
    """Import a group's AEAD COSE_Key (kty Symmetric, alg 10 / -65539 / -65538, 16-byte k)."""
    value = _without_key_ops(load_map(data), OP_DECRYPT)
    if value.keys() != _SYMMETRIC_LABELS or not _is(value[KTY], KTY_SYMMETRIC):
        raise KeyMaterialError(ErrorCode.KEY_FILE, "not a symmetric COSE_Key")
    secret, alg = value[SYMMETRIC_K], value[ALG]
    if type(alg) is not int or alg not in GROUP_ALGS or type(secret) is not bytes:
        raise KeyMaterialError(ErrorCode.KEY_FILE, "not an AES-CCM or SM4 COSE_Key")
    if len(secret) != KEY_BYTES:
        raise KeyMaterialError(ErrorCode.KEY_FILE, f"{ALG_NAMES[alg]} keys are 16 bytes")
    try:
        return GroupKey(group, _check_kid(value[KID]), secret, validity, state, alg)
    except EcertError:  # pragma: no cover - every field is checked above
        raise KeyMaterialError(ErrorCode.KEY_FILE, "not a usable group key") from None
