"""An independent, straightforward composition of the pipeline, kept as an oracle.

Written without the pipeline's code (its own per-character Base45, its own
scanner handling, PyNaCl's wrapper for the signature), in the pipeline's
documented order (token/verify.py).  Both implementations of the pipeline,
the Python stages and the compiled accelerator, must give the same result
and the same error (code and detail) as this, on valid tokens, on every kind
of invalid token and on mutated bytes.
"""

from __future__ import annotations

import nacl.bindings as sodium
import nacl.exceptions

from ecert_token.codec import cose
from ecert_token.codec.cose import COSEError
from ecert_token.codec.cwt import ClaimsError, claims_from_fields, read_claims
from ecert_token.crypto.aead import NONCE_BYTES, DecryptionFailed
from ecert_token.errors import ErrorCode, TokenRejected
from ecert_token.keys.material import KeyState
from ecert_token.model import BusinessType
from ecert_token.token import Verifier
from ecert_token.token.policy import business_type_accepts
from ecert_token.token.result import VerifiedToken
from ecert_token.token.text import MAX_TEXT_CHARS, PREFIX, TextError

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}


class ReferenceBase45Error(ValueError):
    pass


def b45decode(text: str) -> bytes:
    """The original per-character Base45 decoder."""
    n = len(text)
    if n % 3 == 1:
        raise ReferenceBase45Error("length is 1 mod 3")
    out = bytearray()
    try:
        for i in range(0, n - 2, 3):
            v = _VALUE[text[i]] + _VALUE[text[i + 1]] * 45 + _VALUE[text[i + 2]] * 2025
            if v > 0xFFFF:
                raise ReferenceBase45Error("triple above 65535")
            out.append(v >> 8)
            out.append(v & 0xFF)
        if n % 3 == 2:
            v = _VALUE[text[-2]] + _VALUE[text[-1]] * 45
            if v > 0xFF:
                raise ReferenceBase45Error("pair above 255")
            out.append(v)
    except KeyError:
        raise ReferenceBase45Error("character outside the Base45 alphabet") from None
    return bytes(out)


def b45encode(data: bytes) -> str:
    """The original per-group Base45 encoder."""
    out = []
    for i in range(0, len(data) - 1, 2):
        c, rest = divmod(data[i] * 256 + data[i + 1], 2025)
        out.append(ALPHABET[rest % 45] + ALPHABET[rest // 45] + ALPHABET[c])
    if len(data) % 2:
        out.append(ALPHABET[data[-1] % 45] + ALPHABET[data[-1] // 45])
    return "".join(out)


def from_text(text: str | bytes) -> bytes:
    if isinstance(text, bytes | bytearray | memoryview):
        if len(text) > MAX_TEXT_CHARS + 8:
            raise TextError("too long")
        try:
            text = bytes(text).removeprefix("\ufeff".encode()).decode("ascii")
        except UnicodeDecodeError:
            raise TextError("not ASCII") from None
    if not isinstance(text, str):
        raise TextError("not text")
    # What a keyboard-wedge scanner adds: a BOM and spaces before, spaces and CR/LF after.
    if text[:1] in (" ", "\ufeff") or (text and text[-1] in " \r\n"):
        if len(text) > MAX_TEXT_CHARS + 8:
            raise TextError("too long")
        text = text.removeprefix("\ufeff").lstrip(" ").rstrip(" \r\n")
    if len(text) > MAX_TEXT_CHARS:
        raise TextError("too long")
    if not text.startswith(PREFIX):
        raise TextError("unknown prefix")
    try:
        return b45decode(text[len(PREFIX):])
    except ReferenceBase45Error as exc:
        raise TextError("not Base45") from exc


def _signature_ok(raw: bytes, signature: bytes, message: bytes) -> bool:
    if len(signature) != 64:
        return False
    try:
        sodium.crypto_sign_open(signature + message, raw)
    except nacl.exceptions.BadSignatureError:
        return False
    return True


def _check_time(verifier: Verifier, issued_at: int, expires_at: int, now: int) -> None:
    leeway = verifier.policy.leeway
    if expires_at - issued_at > verifier.policy.max_lifetime:
        raise TokenRejected(ErrorCode.LIFETIME_TOO_LONG)
    if now + leeway < issued_at:
        raise TokenRejected(ErrorCode.NOT_YET_VALID)
    if now - leeway >= expires_at:
        raise TokenRejected(ErrorCode.EXPIRED)


def check(
    verifier: Verifier, token: str | bytes, business_type: BusinessType, now: int
) -> VerifiedToken:
    """``Verifier.check``, written out independently."""
    policy = verifier.policy
    if business_type not in policy.business_types:
        raise TokenRejected(ErrorCode.WRONG_BUSINESS_TYPE, "not accepted by this verifier")
    try:
        envelope = cose.decode_encrypt0(from_text(token))
    except (TextError, COSEError) as exc:
        raise TokenRejected(ErrorCode.MALFORMED, str(exc)) from None
    group = verifier.trust.group_key(envelope.header.kid)
    if group is None:
        raise TokenRejected(ErrorCode.UNKNOWN_KEY, "no such group key")
    if envelope.header.alg != group.alg:
        raise TokenRejected(ErrorCode.MALFORMED, "algorithm does not match the key")
    if len(envelope.iv) != NONCE_BYTES:
        raise TokenRejected(ErrorCode.MALFORMED, "wrong nonce length")
    if group.state is KeyState.REVOKED:
        raise TokenRejected(ErrorCode.KEY_REVOKED, "group key revoked")
    try:
        plaintext = group.aead.decrypt(
            envelope.iv, envelope.ciphertext, cose.enc_structure(envelope.protected)
        )
    except DecryptionFailed:
        raise TokenRejected(ErrorCode.DECRYPTION_FAILED) from None
    try:
        signed = cose.decode_sign1(plaintext)
        fields = read_claims(signed.payload)
    except (COSEError, ClaimsError) as exc:
        raise TokenRejected(ErrorCode.MALFORMED, str(exc)) from None
    issuer_key = verifier.trust.issuer_key(signed.header.kid)
    if issuer_key is None:
        raise TokenRejected(ErrorCode.UNKNOWN_KEY, "no such issuer key")
    if signed.header.alg != issuer_key.alg:
        raise TokenRejected(ErrorCode.MALFORMED, "algorithm does not match the key")
    if issuer_key.state is KeyState.REVOKED:
        raise TokenRejected(ErrorCode.KEY_REVOKED, "issuer key revoked")
    issued_at, expires_at = fields[2], fields[1]
    _check_time(verifier, issued_at, expires_at, now)
    if not issuer_key.validity.contains(issued_at):
        raise TokenRejected(ErrorCode.KEY_NOT_VALID, "issued outside the key's window")
    if not group.validity.contains(issued_at):
        raise TokenRejected(ErrorCode.KEY_NOT_VALID, "issued outside the group key's window")
    if not _signature_ok(
        issuer_key.public_key.raw, signed.signature,
        cose.sig_structure(signed.protected, signed.payload),
    ):
        raise TokenRejected(ErrorCode.BAD_SIGNATURE)
    try:
        claims = claims_from_fields(fields)
    except ClaimsError as exc:
        raise TokenRejected(ErrorCode.MALFORMED, str(exc)) from None
    if not issuer_key.allows(claims.region):
        raise TokenRejected(ErrorCode.WRONG_REGION, "issuer not authorised for the region")
    if not business_type_accepts(business_type, claims.business_type):
        raise TokenRejected(ErrorCode.WRONG_BUSINESS_TYPE, "token minted for another step")
    usable = policy.credential_usable
    if usable is not None and not usable(claims.credential_id):
        raise TokenRejected(ErrorCode.CREDENTIAL_NOT_USABLE)
    if usable is not None and claims.actor_id is not None and not usable(claims.actor_id):
        raise TokenRejected(ErrorCode.CREDENTIAL_NOT_USABLE)
    return VerifiedToken(claims, issuer_key.issuer, issuer_key.kid, group.kid)


def outcome(fn: object, *args: object) -> tuple[str, object]:
    """``("ok", value)`` or ``("error", (code, message))`` for comparing two paths."""
    try:
        return "ok", fn(*args)  # type: ignore[operator]
    except TokenRejected as exc:
        return "error", (exc.code, str(exc))
