"""Minting: credential + business type -> signed, encrypted, Base45 text.

Sign, then encrypt: the claims are signed as COSE_Sign1 (Ed25519) by the
issuer, and the whole signed message is encrypted as COSE_Encrypt0
(AES-CCM-16-64-128) to a verifier group, so nobody but that group's terminals
can read the claims and nobody but the issuer can make them.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable

from .. import _speedups
from ..clock import Clock, system_clock
from ..codec import cose
from ..codec.cwt import encode_claims
from ..crypto.aead import AesCcmKey
from ..crypto.ed25519 import Ed25519PrivateKey
from ..errors import EcertError, ErrorCode, InvalidArgument
from ..keys.material import GroupKey, IssuerSigningKey, KeyState
from ..model import BusinessType, Channel, Credential, FamilyAccount, SubjectKind, TokenClaims
from ..model.codes import PAYER_REFUSED, may_use
from ..model.construct import constructor
from ..model.limits import MIN_TOKEN_ID_BYTES
from .policy import DEFAULT_TTL, MAX_TTL, MIN_TTL
from .text import PREFIX, to_text

RandomBytes = Callable[[int], bytes]
TokenIdSource = Callable[[str, int], bytes]
"""``(credential id, expires_at) -> token id``: how an issuer that mints for
settlement draws token ids (see :mod:`ecert_token.settlement.handles`)."""


class Issuer:
    """Mints tokens with one issuer key, encrypted to one verifier group.

    ``clock`` and ``random_bytes`` are injectable so tests and published test
    vectors are reproducible: each mint calls ``random_bytes`` for the token id,
    then for the nonce (with the default ``os.urandom``, which keeps no order, one
    call gives both).  ``token_ids``, when given, draws each token id
    from the credential id and expiry instead of 8 random bytes: the platform
    uses it to make codes whose settlement handle it can resolve
    (``ecert_token.settlement.handles.settlement_token_ids``).
    """

    def __init__(
        self,
        signing_key: IssuerSigningKey,
        group_key: GroupKey,
        *,
        ttl: int = DEFAULT_TTL,
        clock: Clock = system_clock,
        random_bytes: RandomBytes = os.urandom,
        token_ids: TokenIdSource | None = None,
    ) -> None:
        if not isinstance(signing_key, IssuerSigningKey) or not isinstance(group_key, GroupKey):
            raise InvalidArgument("an Issuer needs an IssuerSigningKey and a GroupKey")
        if signing_key.state is not KeyState.PRIMARY:
            raise InvalidArgument("only a primary issuer key mints")
        if group_key.state is KeyState.REVOKED:
            raise InvalidArgument("cannot encrypt to a revoked group key")
        self.signing_key = signing_key
        self.group_key = group_key
        self.ttl = _check_ttl(ttl)
        self._clock = clock
        self._random = random_bytes
        self._token_ids = token_ids
        self._public = signing_key.public  # built once: the property makes a new key
        self._sign_protected = cose.encode_protected(
            signing_key.public.alg, signing_key.kid
        )
        self._enc_protected = cose.encode_protected(group_key.alg, group_key.kid)
        self._aad = cose.enc_structure(self._enc_protected)
        self._sign = signing_key.private_key.sign
        self._encrypt = group_key.aead.encrypt
        self._nonce_bytes = group_key.aead.nonce_bytes
        self._urandom = random_bytes is os.urandom and token_ids is None
        self._compiled = _compiled_minter(self, signing_key.private_key, group_key.aead)

    def mint(
        self,
        credential: Credential,
        business_type: BusinessType,
        *,
        channel: Channel | None = None,
        ttl: int | None = None,
        now: int | None = None,
        actor: Credential | None = None,
    ) -> str:
        """The token text for ``credential`` and one ``business_type``.

        Refuses a credential that is unbound or suspended, a payment-class
        step for a holder kind that never pays (units, staff, institutions,
        pharmacies: WRONG_BUSINESS_TYPE), a region this issuer key may not
        issue for, and a lifetime outside 10 to 300 s.
        """
        if not isinstance(credential, Credential):
            raise InvalidArgument("credential must be a Credential")
        if not isinstance(business_type, BusinessType):
            raise InvalidArgument("business_type must be a BusinessType")
        if actor is not None and not isinstance(actor, Credential):
            raise InvalidArgument("actor must be a Credential")
        if not credential.usable or (actor is not None and not actor.usable):
            raise EcertError(ErrorCode.CREDENTIAL_NOT_USABLE, "credential is not active")
        if (credential.subject_kind, business_type) not in _MAY_USE:
            raise EcertError(ErrorCode.WRONG_BUSINESS_TYPE, PAYER_REFUSED)
        if not self._public.allows(credential.region):
            raise EcertError(ErrorCode.WRONG_REGION, "issuer key is not authorised for region")
        issued_at = self._clock() if now is None else now
        if isinstance(issued_at, bool) or not isinstance(issued_at, int):
            raise InvalidArgument("now must be a Unix time in whole seconds")
        lifetime = self.ttl if ttl is None else _check_ttl(ttl)
        if not self.signing_key.validity.contains(issued_at):
            raise EcertError(ErrorCode.KEY_NOT_VALID, "issuer key is outside its window")
        if not self.group_key.validity.contains(issued_at):  # verifiers would refuse it
            raise EcertError(ErrorCode.KEY_NOT_VALID, "group key is outside its window")
        expires_at = issued_at + lifetime
        nonce = None
        if self._urandom:  # os.urandom keeps no order: one draw for the id and the nonce
            drawn = self._random(MIN_TOKEN_ID_BYTES + self._nonce_bytes)  # the source given
            token_id, nonce = drawn[:MIN_TOKEN_ID_BYTES], drawn[MIN_TOKEN_ID_BYTES:]
        elif self._token_ids is None:
            token_id = self._random(MIN_TOKEN_ID_BYTES)
        else:
            token_id = self._token_ids(credential.credential_id, expires_at)
        claims = _token_claims(
            token_id, issued_at, expires_at,
            credential.credential_id, credential.subject_kind, credential.region,
            credential.insurance_type, credential.masked_name, business_type,
            credential.channel if channel is None else channel,
            None if actor is None else actor.credential_id,
        )
        return self._text(claims, self._random(self._nonce_bytes) if nonce is None else nonce)

    def mint_for_member(
        self,
        account: FamilyAccount,
        member_id: str,
        business_type: BusinessType,
        *,
        channel: Channel | None = None,
        ttl: int | None = None,
        now: int | None = None,
    ) -> str:
        """A family member's code shown by the holder: subject member, actor holder."""
        member = account.member(member_id)
        return self.mint(
            member, business_type, channel=channel or account.holder.channel, ttl=ttl, now=now,
            actor=account.holder,
        )

    def mint_claims(self, claims: TokenClaims) -> str:
        """Sign and encrypt prepared claims (the low-level step behind ``mint``)."""
        return self._text(claims, self._random(self._nonce_bytes))

    def _text(self, claims: TokenClaims, nonce: bytes) -> str:
        """The compiled minter's text where it answers, else :meth:`_seal`'s."""
        if self._compiled is not None:
            text = self._compiled(claims, nonce)
            if text is not None:
                return text
        return self._seal(claims, nonce)

    def _seal(self, claims: TokenClaims, nonce: bytes) -> str:
        """The reference of the sealing steps: claims map, Sig_structure, signature,
        COSE_Sign1, AEAD under ``nonce``, COSE_Encrypt0, text.  The compiled minter
        (``_accel_mint.c``, chosen in ``_speedups``) answers exactly this text for
        the canonical suite and layout, or None, and then this runs."""
        payload = encode_claims(claims)
        protected = self._sign_protected
        signature = self._sign(cose.sig_structure(protected, payload))
        signed = cose.encode_sign1(protected, payload, signature)
        iv, ciphertext = self._encrypt(signed, self._aad, lambda _: nonce)
        return to_text(cose.encode_encrypt0(self._enc_protected, iv, ciphertext))


_token_claims = constructor(TokenClaims)
"""``construct(TokenClaims, ...)``, kept (the model's checks run as always)."""

_mint_token = _speedups.minter()
"""The compiled minter, or None (the one selection point decides)."""


def _compiled_minter(
    issuer: Issuer, private_key: object, aead: object
) -> Callable[[TokenClaims, bytes], str | None] | None:
    """The compiled minter bound to what it needs from ``issuer``, built once; only
    for the canonical suite (exactly an Ed25519 key and an AES-CCM key: a subclass
    may change what they do), else None."""
    if _mint_token is None or type(private_key) is not Ed25519PrivateKey or (
        type(aead) is not AesCcmKey
    ):
        return None
    state = (issuer._sign_protected, private_key.secret_key, issuer._enc_protected,
             issuer._aad, aead.raw_encrypt, PREFIX)
    return functools.partial(_mint_token, state)


_MAY_USE = frozenset(
    (kind, business) for kind in SubjectKind for business in BusinessType
    if may_use(kind, business)
)
"""The subject-kind business rule (model/codes.py ``may_use``) as a table."""


def _check_ttl(ttl: int) -> int:
    if isinstance(ttl, bool) or not isinstance(ttl, int) or not MIN_TTL <= ttl <= MAX_TTL:
        raise InvalidArgument(f"ttl must be {MIN_TTL} to {MAX_TTL} seconds")
    return ttl
