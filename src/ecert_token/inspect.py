"""Look inside a token without verifying it: headers, sizes and, with keys, the claims.

For people debugging an integration ("which key did this code use? for which
business type was it minted?").  Inspection decrypts when it is given the
verifier group's key, but it checks nothing else: not the signature, not the
time window, not the policy and not the replay memory.  Everything it reports
is marked ``"verified": false``; use :class:`ecert_token.Verifier` to accept a
token.  Key material never appears in the result: keys are named by kid.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .codec import cose
from .codec.cose import COSEError
from .codec.cwt import ClaimsError, decode_claims
from .crypto.aead import DecryptionFailed
from .errors import EcertError, ErrorCode, InvalidArgument, TokenRejected
from .keys.material import GroupKey
from .keys.suite import ALG_NAMES
from .keys.trust_store import TrustStore
from .model import TokenClaims
from .token.result import VerifiedToken
from .token.text import PREFIX, TextError, from_text

NOT_VERIFIED = (
    "inspection only: the signature, time window, business type and replay were not checked"
)


@dataclass(frozen=True, slots=True)
class Layer:
    """One COSE layer as seen from outside: its protected header and sizes."""

    alg: int
    kid: bytes
    key_name: str | None
    body_bytes: int
    data: bytes = field(repr=False)

    def to_dict(self, body: str, include_bytes: bool) -> dict[str, object]:
        out: dict[str, object] = {
            "alg": self.alg,
            "alg_name": ALG_NAMES.get(self.alg, "unknown"),
            "kid": self.kid.hex(),
            "key": self.key_name,
            "bytes": len(self.data),
            body: self.body_bytes,
        }
        if include_bytes:
            out["hex"] = self.data.hex()
        return out


@dataclass(frozen=True, slots=True)
class Inspection:
    """What one token shows: the encryption layer always, the rest if it decrypted.

    ``problem`` says why the inner layers could not be read (unknown key,
    decryption failed, malformed content); it is None when they were read or
    when no key was given.
    """

    text_chars: int
    encrypt0: Layer
    nonce_bytes: int
    sign1: Layer | None = None
    signature_bytes: int | None = None
    claims: TokenClaims | None = None
    payload: bytes | None = field(default=None, repr=False)
    problem: EcertError | None = None
    prefix: str = PREFIX
    verified: bool = field(default=False, init=False)

    def to_dict(self, include_bytes: bool = False) -> dict[str, object]:
        """JSON-ready form; ``include_bytes`` adds the hex of each layer (never of a key)."""
        sign1: dict[str, object] | None = None
        if self.sign1 is not None:
            sign1 = self.sign1.to_dict("payload_bytes", include_bytes)
            sign1["signature_bytes"] = self.signature_bytes
            if include_bytes and self.payload is not None:
                sign1["payload_hex"] = self.payload.hex()
        encrypt0 = self.encrypt0.to_dict("ciphertext_bytes", include_bytes)
        encrypt0["nonce_bytes"] = self.nonce_bytes
        return {
            "verified": self.verified,
            "note": NOT_VERIFIED,
            "text": {"prefix": self.prefix, "chars": self.text_chars},
            "encrypt0": encrypt0,
            "decrypted": self.sign1 is not None,
            "sign1": sign1,
            "claims": None if self.claims is None else self._claims_dict(),
            "problem": None if self.problem is None else self.problem.to_dict(),
        }

    def _claims_dict(self) -> dict[str, object]:
        # The same field names as a verification result, so the two outputs compare
        # side by side; the trust fields are headers here, so they are dropped.
        assert self.claims is not None and self.sign1 is not None
        fields = VerifiedToken(self.claims, "", self.sign1.kid, self.encrypt0.kid).to_dict()
        return {k: v for k, v in fields.items()
                if k not in ("issuer", "issuer_kid", "group_kid")}


def _group_key(keys: TrustStore | GroupKey | None, kid: bytes) -> GroupKey | None:
    if isinstance(keys, TrustStore):
        return keys.group_key(kid)
    if isinstance(keys, GroupKey):
        return keys if keys.kid == kid else None
    return None


def inspect_token(
    token: str | bytes, keys: TrustStore | GroupKey | None = None
) -> Inspection:
    """Parse ``token``; with ``keys``, decrypt it and decode its claims.  Nothing is verified.

    Raises :class:`TokenRejected` (``malformed``) only when the outer layer
    cannot be parsed; problems inside are reported in ``problem``.
    """
    if keys is not None and not isinstance(keys, TrustStore | GroupKey):
        raise InvalidArgument("keys must be a TrustStore or a GroupKey")
    try:
        envelope_bytes = from_text(token)
        envelope = cose.decode_encrypt0(envelope_bytes)
    except (TextError, COSEError) as exc:
        raise TokenRejected(ErrorCode.MALFORMED, str(exc)) from None
    group = _group_key(keys, envelope.header.kid)
    outer = Layer(
        envelope.header.alg, envelope.header.kid, None if group is None else group.group,
        len(envelope.ciphertext), envelope_bytes,
    )
    seen = Inspection(len(token), outer, len(envelope.iv))
    if keys is None:
        return seen
    if group is None:
        return _with_problem(seen, ErrorCode.UNKNOWN_KEY, "no such group key")
    if envelope.header.alg != group.alg:
        return _with_problem(seen, ErrorCode.MALFORMED, "algorithm does not match the key")
    try:
        signed_bytes = group.aead.decrypt(
            envelope.iv, envelope.ciphertext, cose.enc_structure(envelope.protected)
        )
    except DecryptionFailed:
        return _with_problem(seen, ErrorCode.DECRYPTION_FAILED, None)
    try:
        signed = cose.decode_sign1(signed_bytes)
    except COSEError as exc:
        return _with_problem(seen, ErrorCode.MALFORMED, str(exc))
    issuer = keys.issuer_key(signed.header.kid) if isinstance(keys, TrustStore) else None
    inner = Layer(
        signed.header.alg, signed.header.kid, None if issuer is None else issuer.issuer,
        len(signed.payload), signed_bytes,
    )
    claims: TokenClaims | None = None
    problem: EcertError | None = None
    try:
        claims = decode_claims(signed.payload)
    except ClaimsError as exc:
        problem = TokenRejected(ErrorCode.MALFORMED, str(exc))
    return Inspection(
        seen.text_chars, outer, seen.nonce_bytes, inner, len(signed.signature), claims,
        signed.payload, problem,
    )


def _with_problem(seen: Inspection, code: ErrorCode, detail: str | None) -> Inspection:
    return Inspection(
        seen.text_chars, seen.encrypt0, seen.nonce_bytes, problem=TokenRejected(code, detail)
    )
