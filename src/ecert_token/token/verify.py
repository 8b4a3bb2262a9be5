"""Verification: text -> :class:`VerifiedToken`, or one :class:`TokenRejected`.

The order is chosen so that garbage is cheap to refuse (DESIGN.md): length
and prefix, Base45, strict CBOR, key lookup by kid, AEAD decryption, the time
window, and only then the Ed25519 signature; then claims policy; and last the
replay mark, so only a fully valid token can consume its id.
"""

from __future__ import annotations

from ..codec import cose
from ..codec.cose import COSEError
from ..codec.cwt import ClaimsError, decode_claims
from ..crypto.aead import NONCE_BYTES, DecryptionFailed
from ..errors import ErrorCode, TokenRejected
from ..keys.material import KeyState
from ..keys.trust_store import TrustStore
from ..model import BusinessType, TokenClaims
from ..replay.base import MarkResult, ReplayEntry, ReplayStore
from ..replay.memory import MemoryReplayStore
from .policy import VerifyPolicy, business_type_accepts, whole_seconds
from .result import VerifiedToken
from .text import TextError, from_text

_MALFORMED = ErrorCode.MALFORMED


class Verifier:
    """Verifies tokens against trust material, a policy and a replay store.

    With no ``replay_store`` an in-memory one is created (one process); pass
    a SQLite or Redis store to share replay memory between processes.
    """

    def __init__(
        self,
        trust: TrustStore,
        policy: VerifyPolicy | None = None,
        replay_store: ReplayStore | None = None,
    ) -> None:
        self.trust = trust
        self.policy = policy or VerifyPolicy()
        if replay_store is None:  # not `or`: an empty store has len() == 0
            replay_store = MemoryReplayStore(
                max_lifetime=self.policy.max_lifetime + self.policy.leeway,
                clock=self.policy.clock,
            )
        self.replay_store: ReplayStore = replay_store

    def verify(
        self, token: str | bytes, business_type: BusinessType, *, now: int | None = None
    ) -> VerifiedToken:
        """Verify ``token`` for the ``business_type`` step this terminal performs."""
        if now is None:
            now = self.policy.clock()
        verified = self.check(token, business_type, now=now)
        self._mark(verified, now)
        return verified

    def check(
        self, token: str | bytes, business_type: BusinessType, *, now: int
    ) -> VerifiedToken:
        """Every check except the replay mark (for batch verification and inspection)."""
        policy = self.policy
        # A code string or int becomes its member; anything else is InvalidArgument
        # (a plain "01101" used to fail later with AttributeError).
        business_type = BusinessType.from_code(business_type)
        whole_seconds(now)
        if business_type not in policy.business_types:
            raise TokenRejected(ErrorCode.WRONG_BUSINESS_TYPE, "not accepted by this verifier")
        try:
            envelope = cose.decode_encrypt0(from_text(token))
        except (TextError, COSEError) as exc:
            raise TokenRejected(_MALFORMED, str(exc)) from None

        group = self.trust.group_key(envelope.header.kid)
        if group is None:
            raise TokenRejected(ErrorCode.UNKNOWN_KEY, "no such group key")
        if envelope.header.alg != group.alg:
            raise TokenRejected(_MALFORMED, "algorithm does not match the key")
        if len(envelope.iv) != NONCE_BYTES:
            raise TokenRejected(_MALFORMED, "wrong nonce length")
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
            claims = decode_claims(signed.payload)
        except (COSEError, ClaimsError) as exc:
            raise TokenRejected(_MALFORMED, str(exc)) from None
        issuer_key = self.trust.issuer_key(signed.header.kid)
        if issuer_key is None:
            raise TokenRejected(ErrorCode.UNKNOWN_KEY, "no such issuer key")
        if signed.header.alg != issuer_key.alg:
            raise TokenRejected(_MALFORMED, "algorithm does not match the key")
        if issuer_key.state is KeyState.REVOKED:
            raise TokenRejected(ErrorCode.KEY_REVOKED, "issuer key revoked")
        self._check_time(claims, now)
        if not issuer_key.validity.contains(claims.issued_at):
            raise TokenRejected(ErrorCode.KEY_NOT_VALID, "issued outside the key's window")
        if not group.validity.contains(claims.issued_at):
            raise TokenRejected(ErrorCode.KEY_NOT_VALID, "issued outside the group key's window")

        if not issuer_key.public_key.verify(
            signed.signature, cose.sig_structure(signed.protected, signed.payload)
        ):
            raise TokenRejected(ErrorCode.BAD_SIGNATURE)

        if not issuer_key.allows(claims.region):
            raise TokenRejected(ErrorCode.WRONG_REGION, "issuer not authorised for the region")
        if not business_type_accepts(business_type, claims.business_type):
            raise TokenRejected(ErrorCode.WRONG_BUSINESS_TYPE, "token minted for another step")
        actor, hook = claims.actor_id, policy.credential_usable
        if actor is not None and hook is not None and not hook(actor):
            # A family code dies with the presenting holder's credential (phone lost).
            raise TokenRejected(ErrorCode.CREDENTIAL_NOT_USABLE)
        usable = policy.credential_usable
        if usable is not None and not usable(claims.credential_id):
            raise TokenRejected(ErrorCode.CREDENTIAL_NOT_USABLE)
        return VerifiedToken(claims, issuer_key.issuer, issuer_key.kid, group.kid)

    def _check_time(self, claims: TokenClaims, now: int) -> None:
        leeway = self.policy.leeway
        if claims.expires_at - claims.issued_at > self.policy.max_lifetime:
            raise TokenRejected(ErrorCode.LIFETIME_TOO_LONG)
        if now + leeway < claims.issued_at:
            raise TokenRejected(ErrorCode.NOT_YET_VALID)
        if now - leeway >= claims.expires_at:
            raise TokenRejected(ErrorCode.EXPIRED)

    def replay_entry(self, verified: VerifiedToken) -> ReplayEntry:
        """The store entry for a verified token: kept until expiry plus leeway."""
        c = verified.claims
        return ReplayEntry(
            verified.issuer, c.token_id, c.issued_at, c.expires_at + self.policy.leeway
        )

    def _mark(self, verified: VerifiedToken, now: int) -> None:
        raise_for_mark(self.replay_store.check_and_mark(self.replay_entry(verified), now))


def raise_for_mark(result: MarkResult) -> None:
    """Turn a store's answer into the verifier's outcome."""
    if result is MarkResult.FIRST_USE:
        return
    if result is MarkResult.REPLAYED:
        raise TokenRejected(ErrorCode.REPLAYED)
    raise TokenRejected(ErrorCode.POSSIBLY_REPLAYED, "replay store memory began after issue")
