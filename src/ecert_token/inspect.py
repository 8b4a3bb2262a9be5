"""Look inside a code without verifying it: headers, sizes and, with keys, the claims.

For people debugging an integration ("which key did this code use? for which
business type was it minted?").  Two kinds of code:

* a platform token (``EC1:``, :func:`inspect_token`): the encryption layer
  always; with the verifier group's key, the signed layer and the claims;
* a holder presentation (``EP1:``, :func:`inspect_presentation`): the
  device-signed layer (business type, times, presentation id, challenge) and
  the credential inside it, whose claims an open credential shows to anyone
  who scans the code and a sealed one only with the group key.

Inspection decrypts when it is given the group key, but it checks nothing
else: not the signatures, not the time window, not the policy, the status
list or the replay memory.  Everything it reports is marked
``"verified": false``; use :class:`ecert_token.Verifier` to accept a code.
It shows nothing the code does not carry (a presentation's device key is left
out too), and key material never appears: keys are named by kid.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, NotRequired, TypedDict

from .codec import cose
from .codec.base45 import b45decode
from .codec.cose import COSEError, Encrypt0
from .codec.cwt import ClaimsError, decode_claims
from .crypto.aead import DecryptionFailed
from .errors import EcertError, ErrorCode, ErrorDict, InvalidArgument, TokenRejected
from .holder.claims import HolderClaims, HolderClaimsError
from .holder.claims import decode_claims as decode_holder_claims
from .holder.presentation import PREFIX as PRESENTATION_PREFIX
from .holder.presentation import PresentationClaims, PresentationError, is_presentation
from .holder.presentation import parse as parse_presentation
from .holder.verify import StatusRefDict
from .keys.material import GroupKey
from .keys.suite import ALG_NAMES
from .keys.trust_store import TrustStore
from .model import CertType, TokenClaims
from .model.settlement import Settlement, SettlementDict
from .token.result import ClaimsFieldsDict, claims_fields
from .token.text import PREFIX, TextError, from_text

__all__ = [
    "NOT_VERIFIED",
    "NOT_VERIFIED_PRESENTATION",
    "CredentialLayersDict",
    "Encrypt0Dict",
    "HolderClaimsDict",
    "InspectedClaimsDict",
    "Inspection",
    "InspectionDict",
    "Layer",
    "LayerDict",
    "PresentationDict",
    "PresentationInspection",
    "PresentationInspectionDict",
    "Sign1Dict",
    "TextDict",
    "inspect_code",
    "inspect_presentation",
    "inspect_token",
]

NOT_VERIFIED = (
    "inspection only: the signature, time window, business type and replay were not checked"
)
NOT_VERIFIED_PRESENTATION = (
    "inspection only: the issuer and device signatures, time window, status, business type "
    "and replay were not checked"
)

Keys = TrustStore | GroupKey | None


class TextDict(TypedDict):
    prefix: str
    chars: int


class LayerDict(TypedDict):
    """One COSE layer's protected header and size (``hex``: with ``include_bytes``)."""

    alg: int
    alg_name: str
    kid: str
    key: str | None
    bytes: int
    hex: NotRequired[str]


class Encrypt0Dict(LayerDict):
    ciphertext_bytes: int
    nonce_bytes: int


class Sign1Dict(LayerDict):
    payload_bytes: int
    signature_bytes: int | None
    payload_hex: NotRequired[str]


class InspectedClaimsDict(ClaimsFieldsDict):
    """A token's claims under the names of a verification result
    (:class:`~ecert_token.token.result.VerifiedTokenDict`) without its trust fields,
    which are headers here."""

    settlement: SettlementDict


class InspectionDict(TypedDict):
    """:meth:`Inspection.to_dict`."""

    verified: bool
    note: str
    text: TextDict
    encrypt0: Encrypt0Dict
    decrypted: bool
    sign1: Sign1Dict | None
    claims: InspectedClaimsDict | None
    problem: ErrorDict | None


class PresentationDict(TypedDict):
    """The device-signed layer of a presentation (``hex``: with ``include_bytes``).

    ``alg`` is the header's, or, when the header leaves it to the credential's
    ``cnf`` key (``alg_in_header`` false, what phones now write), that key's;
    None when neither could be read."""

    alg: int | None
    alg_in_header: bool
    alg_name: str
    bytes: int
    payload_bytes: int
    signature_bytes: int
    business_type: str
    business_class: str
    issued_at: int
    expires_at: int
    presentation_id: str
    challenge: str | None
    payment: PaymentBindingDict | None
    hex: NotRequired[str]


class PaymentBindingDict(TypedDict):
    """A presentation's payment binding as it travels (nothing checked)."""

    form: str
    device_counter: int
    digest: str
    ceiling_fen: int | None


class CredentialLayersDict(TypedDict):
    """The credential a presentation carries: sealed (an Encrypt0 around the issuer's
    Sign1) or open (the Sign1 itself); ``sign1`` is None while it cannot be read."""

    mode: Literal["open", "sealed"]
    bytes: int
    encrypt0: Encrypt0Dict | None
    sign1: Sign1Dict | None


class HolderClaimsDict(TypedDict):
    """The credential's claims under the names a verified presentation uses."""

    credential_id: str
    actor_id: str | None
    subject_kind: str
    insured_region: str
    insurance_type: str
    masked_name: str
    channel: str
    credential_issued_at: int
    credential_expires_at: int
    status: StatusRefDict


class PresentationInspectionDict(TypedDict):
    """:meth:`PresentationInspection.to_dict`."""

    verified: bool
    note: str
    text: TextDict
    presentation: PresentationDict
    credential: CredentialLayersDict
    decrypted: bool
    claims: HolderClaimsDict | None
    problem: ErrorDict | None


@dataclass(frozen=True, slots=True)
class Layer:
    """One COSE layer as seen from outside: its protected header and sizes."""

    alg: int
    kid: bytes
    key_name: str | None
    body_bytes: int
    data: bytes = field(repr=False)

    def to_dict(self, include_bytes: bool = False) -> LayerDict:
        """The header and sizes (the body's size is added by the caller, named for it)."""
        out: LayerDict = {
            "alg": self.alg,
            "alg_name": ALG_NAMES.get(self.alg, "unknown"),
            "kid": self.kid.hex(),
            "key": self.key_name,
            "bytes": len(self.data),
        }
        if include_bytes:
            out["hex"] = self.data.hex()
        return out

    def encrypt0_dict(self, nonce_bytes: int, include_bytes: bool) -> Encrypt0Dict:
        return {**self.to_dict(include_bytes), "ciphertext_bytes": self.body_bytes,
                "nonce_bytes": nonce_bytes}

    def sign1_dict(self, signature_bytes: int | None, payload: bytes | None,
                   include_bytes: bool) -> Sign1Dict:
        layer = self.to_dict(include_bytes)
        # (Spelled out: mypy refuses a ** of LayerDict into a dict with another optional key.)
        out: Sign1Dict = {
            "alg": layer["alg"], "alg_name": layer["alg_name"], "kid": layer["kid"],
            "key": layer["key"], "bytes": layer["bytes"], "payload_bytes": self.body_bytes,
            "signature_bytes": signature_bytes,
        }
        if include_bytes:
            out["hex"] = self.data.hex()
            if payload is not None:
                out["payload_hex"] = payload.hex()
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

    def to_dict(self, include_bytes: bool = False) -> InspectionDict:
        """JSON-ready form; ``include_bytes`` adds the hex of each layer (never of a key)."""
        sign1 = None if self.sign1 is None else self.sign1.sign1_dict(
            self.signature_bytes, self.payload, include_bytes)
        return {
            "verified": self.verified,
            "note": NOT_VERIFIED,
            "text": {"prefix": self.prefix, "chars": self.text_chars},
            "encrypt0": self.encrypt0.encrypt0_dict(self.nonce_bytes, include_bytes),
            "decrypted": self.sign1 is not None,
            "sign1": sign1,
            "claims": None if self.claims is None else self._claims_dict(),
            "problem": None if self.problem is None else self.problem.to_dict(),
        }

    def _claims_dict(self) -> InspectedClaimsDict:
        # The same field names as a verification result, so the two outputs compare
        # side by side; the trust fields are headers here, so they are left out.
        assert self.claims is not None
        return {**claims_fields(self.claims, CertType.ECERT_TOKEN),
                "settlement": Settlement.of(self.claims).to_dict()}


@dataclass(frozen=True, slots=True)
class PresentationInspection:
    """What one holder presentation shows: the device-signed layer always, and the
    credential's issuer layer and claims when they can be read (open mode, or
    sealed mode with the group key).  ``problem`` as in :class:`Inspection`."""

    text_chars: int
    data: bytes = field(repr=False)
    payload_bytes: int
    claims: PresentationClaims
    credential_bytes: int
    sealed: Layer | None = None
    nonce_bytes: int | None = None
    credential: Layer | None = None
    signature_bytes: int | None = None
    holder: HolderClaims | None = None
    payload: bytes | None = field(default=None, repr=False)
    problem: EcertError | None = None
    prefix: str = PRESENTATION_PREFIX
    alg: int | None = None
    """The device-signed layer's ``alg`` (-8 EdDSA, or -65537 for an SM2 device key): the
    header's, else the credential's ``cnf`` key's (None: neither read)."""
    alg_in_header: bool = False
    verified: bool = field(default=False, init=False)

    def to_dict(self, include_bytes: bool = False) -> PresentationInspectionDict:
        """JSON-ready form; ``include_bytes`` adds the hex of each layer (never of a key)."""
        c = self.claims
        presentation: PresentationDict = {
            "alg": self.alg, "alg_in_header": self.alg_in_header,
            "alg_name": "unknown" if self.alg is None else ALG_NAMES[self.alg],
            "bytes": len(self.data),
            "payload_bytes": self.payload_bytes, "signature_bytes": 64,
            "business_type": c.business_type.value,
            "business_class": c.business_type.business_class.value,
            "issued_at": c.issued_at, "expires_at": c.expires_at,
            "presentation_id": c.presentation_id.hex(),
            "challenge": None if c.challenge is None else c.challenge.hex(),
            "payment": None if c.binding is None else {
                "form": c.binding.form, "device_counter": c.binding.counter,
                "digest": c.binding.digest.hex(), "ceiling_fen": c.binding.ceiling_fen},
        }
        if include_bytes:
            presentation["hex"] = self.data.hex()
        sealed = None if self.sealed is None or self.nonce_bytes is None else (
            self.sealed.encrypt0_dict(self.nonce_bytes, include_bytes))
        credential = None if self.credential is None else self.credential.sign1_dict(
            self.signature_bytes, self.payload, include_bytes)
        return {
            "verified": self.verified,
            "note": NOT_VERIFIED_PRESENTATION,
            "text": {"prefix": self.prefix, "chars": self.text_chars},
            "presentation": presentation,
            "credential": {"mode": "open" if self.sealed is None else "sealed",
                           "bytes": self.credential_bytes, "encrypt0": sealed,
                           "sign1": credential},
            "decrypted": self.sealed is not None and self.credential is not None,
            "claims": None if self.holder is None else _holder_dict(self.holder),
            "problem": None if self.problem is None else self.problem.to_dict(),
        }


def _holder_dict(h: HolderClaims) -> HolderClaimsDict:
    return {
        "credential_id": h.credential_id, "actor_id": h.actor_id,
        "subject_kind": h.subject_kind.value, "insured_region": h.region.code,
        "insurance_type": h.insurance_type.value, "masked_name": h.masked_name,
        "channel": h.channel.value, "credential_issued_at": h.issued_at,
        "credential_expires_at": h.expires_at,
        "status": {"uri": h.status.uri, "idx": h.status.idx},
    }


def _check_keys(keys: object) -> None:
    if keys is not None and not isinstance(keys, TrustStore | GroupKey):
        raise InvalidArgument("keys must be a TrustStore or a GroupKey")


def _group_key(keys: Keys, kid: bytes) -> GroupKey | None:
    if isinstance(keys, TrustStore):
        return keys.group_key(kid)
    if isinstance(keys, GroupKey):
        return keys if keys.kid == kid else None
    return None


def _outer(envelope: Encrypt0, data: bytes, keys: Keys) -> tuple[Layer, GroupKey | None]:
    group = _group_key(keys, envelope.header.kid)
    layer = Layer(envelope.header.alg, envelope.header.kid,
                  None if group is None else group.group, len(envelope.ciphertext), data)
    return layer, group


def _decrypt(envelope: Encrypt0, group: GroupKey | None) -> bytes | TokenRejected:
    """The plaintext of ``envelope`` with the group key, or the problem that stops it."""
    if group is None:
        return TokenRejected(ErrorCode.UNKNOWN_KEY, "no such group key")
    if envelope.header.alg != group.alg:
        return TokenRejected(ErrorCode.MALFORMED, "algorithm does not match the key")
    try:
        return group.aead.decrypt(
            envelope.iv, envelope.ciphertext, cose.enc_structure(envelope.protected)
        )
    except DecryptionFailed:
        return TokenRejected(ErrorCode.DECRYPTION_FAILED)


def _inner(signed_bytes: bytes, keys: Keys) -> tuple[Layer, cose.Sign1]:
    """The issuer's layer (raises COSEError): named by the trust store, if one is given."""
    signed = cose.decode_sign1(signed_bytes)
    issuer = keys.issuer_key(signed.header.kid) if isinstance(keys, TrustStore) else None
    layer = Layer(signed.header.alg, signed.header.kid,
                  None if issuer is None else issuer.issuer, len(signed.payload), signed_bytes)
    return layer, signed


def inspect_token(token: str | bytes, keys: Keys = None) -> Inspection:
    """Parse ``token``; with ``keys``, decrypt it and decode its claims.  Nothing is verified.

    Raises :class:`TokenRejected` (``malformed``) only when the outer layer
    cannot be parsed; problems inside are reported in ``problem``.
    """
    _check_keys(keys)
    try:
        envelope_bytes = from_text(token)
        envelope = cose.decode_encrypt0(envelope_bytes)
    except (TextError, COSEError) as exc:
        raise TokenRejected(ErrorCode.MALFORMED, str(exc)) from None
    outer, group = _outer(envelope, envelope_bytes, keys)
    seen = Inspection(len(token), outer, len(envelope.iv))
    if keys is None:
        return seen
    signed_bytes = _decrypt(envelope, group)
    if isinstance(signed_bytes, TokenRejected):
        return Inspection(seen.text_chars, outer, seen.nonce_bytes, problem=signed_bytes)
    try:
        inner, signed = _inner(signed_bytes, keys)
    except COSEError as exc:
        return Inspection(seen.text_chars, outer, seen.nonce_bytes,
                          problem=TokenRejected(ErrorCode.MALFORMED, str(exc)))
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


def inspect_presentation(text: str | bytes, keys: Keys = None) -> PresentationInspection:
    """Parse a holder presentation (``EP1:``) and the credential inside it.  Nothing is
    verified: no signature, time, status, policy or replay check.

    An open credential's claims are read without keys (the code shows them to
    anyone); a sealed one's need the group key (a :class:`TrustStore` or the
    :class:`GroupKey`).  Raises :class:`TokenRejected` (``malformed``) only when
    the presentation itself cannot be parsed; problems with the credential
    inside are reported in ``problem``.
    """
    _check_keys(keys)
    try:
        parsed = parse_presentation(text)
        ascii_text = text if isinstance(text, str) else bytes(text).decode("ascii")
        data = b45decode(ascii_text[len(PRESENTATION_PREFIX):])  # checked by parse
        _, payload, _ = cose.sign1_envelope(data)
    except (PresentationError, COSEError, ValueError) as exc:
        raise TokenRejected(ErrorCode.MALFORMED, str(exc)) from None
    blob = parsed.sealed
    seen = PresentationInspection(len(text), data, len(payload), parsed.claims, len(blob),
                                  alg=parsed.alg, alg_in_header=parsed.alg is not None)
    sealed: Layer | None = None
    nonce: int | None = None
    plaintext = blob
    if blob[:1] == b"\xd0":  # sealed: an Encrypt0 around the issuer's Sign1
        try:
            envelope = cose.decode_encrypt0(blob)
        except COSEError as exc:
            return _presentation(seen, problem=_bad_credential(str(exc)))
        sealed, group = _outer(envelope, blob, keys)
        nonce = len(envelope.iv)
        if keys is None:
            return _presentation(seen, sealed, nonce)
        opened = _decrypt(envelope, group)
        if isinstance(opened, TokenRejected):
            return _presentation(seen, sealed, nonce, problem=opened)
        plaintext = opened
    try:
        inner, signed = _inner(plaintext, keys)
    except COSEError as exc:
        return _presentation(seen, sealed, nonce, problem=_bad_credential(str(exc)))
    holder: HolderClaims | None = None
    problem: EcertError | None = None
    try:
        holder = decode_holder_claims(signed.payload)
    except HolderClaimsError as exc:
        problem = _bad_credential(str(exc))
    return _presentation(seen, sealed, nonce, inner, len(signed.signature), holder,
                         signed.payload, problem)


def _bad_credential(detail: str) -> TokenRejected:
    return TokenRejected(ErrorCode.MALFORMED, f"credential: {detail}")


def _presentation(  # noqa: PLR0917
    seen: PresentationInspection, sealed: Layer | None = None, nonce: int | None = None,
    credential: Layer | None = None, signature_bytes: int | None = None,
    holder: HolderClaims | None = None, payload: bytes | None = None,
    problem: EcertError | None = None,
) -> PresentationInspection:
    return PresentationInspection(
        seen.text_chars, seen.data, seen.payload_bytes, seen.claims, seen.credential_bytes,
        sealed, nonce, credential, signature_bytes, holder, payload, problem,
        alg=seen.alg if seen.alg is not None or holder is None else holder.device_key.alg,
        alg_in_header=seen.alg_in_header,
    )


def inspect_code(text: str | bytes, keys: Keys = None) -> Inspection | PresentationInspection:
    """:func:`inspect_presentation` for ``EP1:`` text, else :func:`inspect_token`."""
    if is_presentation(text):
        return inspect_presentation(text, keys)
    return inspect_token(text, keys)
