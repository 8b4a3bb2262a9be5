"""The signed trust list: a tagged COSE_Sign1 by the national root.

Purpose separation on the wire, in both directions:

* the protected header is ``{1: -8 (EdDSA) or -65537 (SM2 over SM3, an SM2 root),
  3: "application/ecert-trust-list+cbor", 4: root kid}``; the token parser
  accepts exactly ``{1, 4}``, so a trust list is never read as a token, and
  this parser requires the content type, so a token's COSE_Sign1 is never
  read as a trust list;
* the signature covers a domain-separated ``external_aad``
  (``"ecert-token trust list v1"``), while token signatures use an empty one,
  so a root signature can never verify as a token signature, nor a token
  signature as a trust-list signature, even over equal bytes.

Verification order: size and structure, the signer's kid against the pinned
root, the signature, and only then the payload is parsed.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..codec import cbor, cose
from ..codec.cose import COSEError
from ..crypto.ed25519 import ALG_EDDSA
from ..crypto.sm2 import ALG_SM2_SM3
from ..errors import ErrorCode, InvalidArgument, TrustListError
from .listing import TrustList, decode_payload, encode_payload, load_map
from .root import RootSigningKey, TrustRoot

CONTENT_TYPE = "application/ecert-trust-list+cbor"
EXTERNAL_AAD = b"ecert-token trust list v1"
MAX_LIST_BYTES = 1 << 20
_ALG, _CTY, _KID = 1, 3, 4
_PROTECTED_KEYS = frozenset({_ALG, _CTY, _KID})


@dataclass(frozen=True, slots=True)
class SignedList:
    """A parsed, not yet verified envelope."""

    protected: bytes
    kid: bytes
    payload: bytes
    signature: bytes
    alg: int = ALG_EDDSA


def _sig_structure(protected: bytes, payload: bytes) -> bytes:
    return cbor.dumps(["Signature1", protected, EXTERNAL_AAD, payload])


def sign_payload(payload: bytes, key: RootSigningKey) -> bytes:
    """Sign already encoded payload bytes (``sign_trust_list`` is the usual entry)."""
    if not isinstance(key, RootSigningKey):
        raise InvalidArgument("trust lists are signed only with a RootSigningKey")
    if not isinstance(payload, bytes):
        raise InvalidArgument("payload must be bytes")
    protected = cbor.dumps({_ALG: key.alg, _CTY: CONTENT_TYPE, _KID: key.kid})
    signature = key.private_key.sign(_sig_structure(protected, payload))
    return cose.encode_sign1(protected, payload, signature)


def sign_trust_list(tl: TrustList, key: RootSigningKey) -> bytes:
    """The signed, tagged COSE_Sign1 bytes of ``tl``."""
    return sign_payload(encode_payload(tl), key)


def _invalid(detail: str) -> TrustListError:
    return TrustListError(ErrorCode.TRUST_LIST_INVALID, detail)


def parse_envelope(data: bytes) -> SignedList:
    """Check the COSE_Sign1 structure and protected header; nothing is verified yet."""
    if not isinstance(data, bytes) or len(data) > MAX_LIST_BYTES:
        raise _invalid("not a trust list of an acceptable size")
    try:
        protected, payload, signature = cose.sign1_envelope(data)
    except COSEError as exc:
        raise _invalid(str(exc)) from None
    header = load_map(protected, 1, _PROTECTED_KEYS, "protected header")
    alg, cty, kid = header[_ALG], header[_CTY], header[_KID]
    if type(alg) is not int or alg not in (ALG_EDDSA, ALG_SM2_SM3):
        raise _invalid("trust lists are signed with EdDSA or SM2")
    if type(cty) is not str or cty != CONTENT_TYPE:
        raise _invalid("not a trust list content type")
    if type(kid) is not bytes:
        raise _invalid("kid must be a byte string")
    if protected != cbor.dumps(header):  # one byte form: the one sign_payload writes
        raise _invalid("protected header is not deterministically encoded")
    return SignedList(protected, kid, payload, signature, alg)


def verify_trust_list(data: bytes, root: TrustRoot, now: int) -> TrustList:
    """Verify a signed trust list against the pinned root and check its expiry.

    Raises :class:`TrustListError` with ``TRUST_LIST_INVALID`` (structure),
    ``TRUST_LIST_BAD_SIGNATURE`` (another signer, or tampered),
    ``TRUST_LIST_EXPIRED``, or ``WEAK_KEY`` (a listed key is of small order).
    Rollback and staleness are the loader's checks.
    """
    if not isinstance(root, TrustRoot):
        raise InvalidArgument("trust lists verify only against a TrustRoot")
    signed = parse_envelope(data)
    if signed.kid != root.kid or signed.alg != root.alg:
        raise TrustListError(ErrorCode.TRUST_LIST_BAD_SIGNATURE, "signed by another key")
    if not root.public_key.verify(
        signed.signature, _sig_structure(signed.protected, signed.payload)
    ):
        raise TrustListError(ErrorCode.TRUST_LIST_BAD_SIGNATURE)
    tl = decode_payload(signed.payload)
    if any(k.public_key == root.public_key for k in tl.issuer_keys):
        raise _invalid("the root key is listed as a token key")
    if now >= tl.expires_at:
        raise TrustListError(ErrorCode.TRUST_LIST_EXPIRED)
    return tl


def read_unverified(data: bytes) -> TrustList:
    """The content of a signed list WITHOUT checking its signature (for inspection only)."""
    return decode_payload(parse_envelope(data).payload)
