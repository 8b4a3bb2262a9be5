"""Verification: text -> :class:`VerifiedToken`, or one :class:`TokenRejected`.

The order is chosen so that garbage is cheap to refuse (DESIGN.md): length
and prefix, Base45, strict CBOR, key lookup by kid, AEAD decryption, the time
window, and only then the Ed25519 signature; then claims policy; and last the
replay mark, so only a fully valid token can consume its id.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TypeVar

from ..codec import cose
from ..codec.canonical import read_sign1
from ..codec.cose import COSEError
from ..codec.cwt import ClaimsError, claims_from_fields, decode_claims_fast
from ..codec.trusted import twin_of
from ..crypto.aead import NONCE_BYTES, InvalidTag
from ..crypto.ed25519 import NULL, SIGNATURE_BYTES, sign_open
from ..errors import ErrorCode, InvalidArgument, StoreUnavailable, TokenRejected
from ..keys.material import GroupKey, IssuerVerifyKey, KeyState
from ..keys.routes import GroupRoute, IssuerRoute, window
from ..keys.trust_store import TrustStore
from ..model import BusinessType, CertType, SubjectKind, TokenClaims
from ..model.codes import PAYER_REFUSED, may_use
from ..replay.base import MarkResult, ReplayEntry, ReplayStore
from ..replay.memory import MemoryReplayStore
from . import batch
from .attempts import Attempts, RandomSource
from .policy import VerifyPolicy, business_type_accepts, whole_seconds
from .result import VerifiedToken
from .text import TextError, from_text

_MALFORMED = ErrorCode.MALFORMED
_REVOKED = KeyState.REVOKED
_RESULT_TWIN = twin_of(VerifiedToken)
_ENTRY_TWIN = twin_of(ReplayEntry)
_FIRST_USE = MarkResult.FIRST_USE
_OWN_MARK = MarkResult.OWN_MARK
_ACCEPTS = frozenset(
    (requested, presented) for requested in BusinessType for presented in BusinessType
    if business_type_accepts(requested, presented)
)
"""business_type_accepts as a table (built from it), one set lookup per token."""
_MAY_USE = frozenset(
    (kind, business) for kind in SubjectKind for business in BusinessType
    if may_use(kind, business)
)
"""The subject-kind business rule (model/codes.py ``may_use``) as a table."""
_new = object.__new__
Prepared = tuple[
    bytes, bytes, TokenClaims, IssuerVerifyKey, GroupKey, frozenset[str] | None, BusinessType
]
"""A token that passed every check before its signature (:meth:`Verifier._prepare`):
``(signature + Sig_structure, issuer public key, claims, issuer key, group key,
issuer regions, requested business type)``; the first two are what libsodium's
``crypto_sign_open`` takes."""
_EXPIRED_BEFORE_MARK = "expired before its replay mark was made"
_INVALID_ANSWER = "replay store gave an invalid answer"


class Verifier:
    """Verifies tokens against trust material, a policy and a replay store.

    With no ``replay_store`` an in-memory one is created (one process); pass
    a SQLite or Redis store to share replay memory between processes.  A
    store built for another leeway than the policy's is refused
    (InvalidArgument): verifiers sharing a store must agree on it.

    ``random`` (``os.urandom`` by default) seeds the attempt values that let
    this verifier recognise its own mark after a lost reply (see
    :mod:`ecert_token.token.attempts`).
    """

    def __init__(
        self,
        trust: TrustStore,
        policy: VerifyPolicy | None = None,
        replay_store: ReplayStore | None = None,
        *,
        random: RandomSource = os.urandom,
    ) -> None:
        if not isinstance(trust, TrustStore):
            raise InvalidArgument("trust must be a TrustStore")
        if policy is not None and not isinstance(policy, VerifyPolicy):
            raise InvalidArgument("policy must be a VerifyPolicy")
        self.trust = trust
        self.policy = policy or VerifyPolicy()
        # "is None", not "or": an empty store has len() 0 and would be replaced.
        self.replay_store: ReplayStore = (
            replay_store if replay_store is not None else MemoryReplayStore(
                max_lifetime=self.policy.replay_window, clock=self.policy.clock,
                leeway=self.policy.leeway,
            )
        )
        check_terms(self.replay_store, self.policy.leeway)
        self.attempts = Attempts(random)

    def verify(
        self, token: str | bytes, business_type: BusinessType, *, now: int | None = None
    ) -> VerifiedToken:
        """Verify ``token`` for the ``business_type`` step this terminal performs.

        Without ``now`` the policy's clock is read before the checks and again
        after the replay mark: a token that expired in between is refused, for
        its id may have expired in the store before the mark landed (Redis
        drops it by the server's clock), so "first use" proves nothing.
        """
        clock_read = now is None
        if now is None:
            now = self.policy.clock()
        prepared = self._prepare(token, business_type, now)  # self.check, one call fewer
        signed = prepared[0]
        if sign_open(NULL, NULL, signed, len(signed), prepared[1]) != 0:
            raise TokenRejected(ErrorCode.BAD_SIGNATURE)
        verified = self._accept(prepared)
        entry = self.replay_entry(verified)
        try:
            mark = self.replay_store.check_and_mark(entry, now)
        except StoreUnavailable:
            self.attempts.unknown((entry,), now)  # it may have been marked: a lost reply
            raise
        if mark is not _FIRST_USE or clock_read:
            rejection = self.mark_outcome(verified, mark, clock_read)
            if rejection is not None:
                raise rejection
        return verified

    def mark_outcome(
        self, verified: VerifiedToken, mark: object, clock_read: bool
    ) -> TokenRejected | None:
        """What a replay store's answer for ``verified`` means: None to accept it, or
        the rejection.  Shared by every verification path, sync and async.

        ``clock_read``: the verifier read "now" itself, so a token that expired
        before its mark landed is refused (see :meth:`verify`).  An answer that
        is not a :class:`MarkResult` fails closed.  OWN_MARK (this
        presentation's own earlier mark, whose answer was lost; see
        :mod:`~ecert_token.token.attempts`) counts as the first use.
        """
        if mark is _FIRST_USE or mark is _OWN_MARK:
            if clock_read and self.expired_since(verified):
                return TokenRejected(ErrorCode.EXPIRED, _EXPIRED_BEFORE_MARK)
            return None
        if not isinstance(mark, MarkResult):
            return StoreUnavailable(_INVALID_ANSWER)
        return _mark_rejection(mark)

    def replay_entries(
        self, results: Sequence[VerifiedToken | TokenRejected]
    ) -> tuple[list[tuple[int, VerifiedToken]], list[ReplayEntry]]:
        """The positions of the tokens that passed every check, and their store entries."""
        checked = [(i, r) for i, r in enumerate(results) if type(r) is VerifiedToken]
        return checked, [self.replay_entry(v) for _, v in checked]

    def settle_batch(
        self,
        results: list[VerifiedToken | TokenRejected],
        checked: Sequence[tuple[int, VerifiedToken]],
        entries: Sequence[ReplayEntry],
        marks: object,
        *,
        clock_read: bool,
        now: int,
    ) -> list[VerifiedToken | TokenRejected]:
        """Apply a store's batch answer to ``results`` (in place) and return them.

        ``marks`` is the store's list of answers for ``entries``, or the
        :class:`StoreUnavailable` it raised; a failed or malformed answer fails
        every checked token closed (their outcome is unknown: the attempts are
        remembered, see :mod:`~ecert_token.token.attempts`) and leaves the
        other rejections as they are.
        """
        if isinstance(marks, StoreUnavailable) or not (
            type(marks) is list and len(marks) == len(checked)
            and all(isinstance(m, MarkResult) for m in marks)
        ):
            self.attempts.unknown(entries, now)
            detail = marks.detail if isinstance(marks, StoreUnavailable) else _INVALID_ANSWER
            for i, _ in checked:
                results[i] = StoreUnavailable(detail)
            return results
        for (i, verified), mark in zip(checked, marks, strict=True):
            rejection = self.mark_outcome(verified, mark, clock_read)
            if rejection is not None:
                results[i] = rejection
        return results

    def expired_since(self, verified: VerifiedToken) -> bool:
        """Has ``verified`` expired by the policy's clock, read now (after its mark)?"""
        return self.policy.clock() - self.policy.leeway >= verified.claims.expires_at

    def verify_many(
        self,
        tokens: Sequence[str | bytes],
        business_type: BusinessType,
        now: int | None = None,
        workers: int | None = None,
    ) -> list[VerifiedToken | TokenRejected]:
        """Verify a batch; one result per token, in order, each a token or its rejection.

        One bad token never fails the batch.  The checks run on ``workers``
        threads (default: every usable core): most of a verification is the
        libsodium signature check, which runs with the GIL released, so
        threads scale.  Then every fully valid token is marked in ONE
        ``check_and_mark_many`` round trip; a token id seen twice in the
        batch is accepted at its first position and REPLAYED after.  If the
        store cannot answer, every valid token's result is that
        :class:`StoreUnavailable` (fail closed), and the rejections stand.
        """
        clock_read = now is None
        if now is None:
            now = self.policy.clock()
        results = batch.check_all(self.check, tokens, business_type, now, workers,
                                  split=(self._prepare, self._accept))
        checked, entries = self.replay_entries(results)
        if not checked:
            return results
        marks: object
        try:
            marks = self.replay_store.check_and_mark_many(entries, now)
        except StoreUnavailable as exc:
            marks = exc
        return self.settle_batch(results, checked, entries, marks, clock_read=clock_read,
                                 now=now)

    def check(
        self, token: str | bytes, business_type: BusinessType, *, now: int
    ) -> VerifiedToken:
        """Every check except the replay mark (for batch verification and inspection):
        :meth:`_prepare`, the Ed25519 signature, :meth:`_accept`."""
        prepared = self._prepare(token, business_type, now)
        signed = prepared[0]
        if sign_open(NULL, NULL, signed, len(signed), prepared[1]) != 0:
            raise TokenRejected(ErrorCode.BAD_SIGNATURE)
        return self._accept(prepared)

    def _prepare(self, token: str | bytes, business_type: BusinessType, now: int) -> Prepared:
        """Every check before the signature; the :data:`Prepared` token, or the rejection.

        Keys are found through the trust store's routes (``keys/routes.py``):
        one lookup of the envelope's exact opening bytes.  A token whose
        envelopes are not in the one layout this format writes, or whose
        opening names no route, takes the general path (``_group_route`` /
        ``_issuer_route``), which reads it with the strict decoders; both
        paths give the same answer and the same error.
        """
        policy = self.policy
        if type(business_type) is not BusinessType:
            # A code string or int becomes its member; anything else is InvalidArgument.
            business_type = BusinessType.from_code(business_type)
        if type(now) is not int:
            whole_seconds(now)  # a NaN "now" would pass every time check
        if business_type not in policy.business_types:
            raise TokenRejected(ErrorCode.WRONG_BUSINESS_TYPE, "not accepted by this verifier")
        try:
            data = from_text(token)
        except TextError as exc:
            raise TokenRejected(_MALFORMED, str(exc)) from None
        routes = self.trust.routes()

        # A canonical COSE_Encrypt0 opens with its key's route (tag, array,
        # protected header, IV heading), then the 13-byte IV and the ciphertext
        # with a one-byte length heading, nothing after it.
        route = None
        n = len(data)
        if n > 64 and routes is not None:
            p = data[2] - 0x3D  # where the unprotected header starts
            if p < n - 41 and data[p + 16] == 0x58 and data[p + 17] == n - p - 18 >= 24:
                route = routes.groups.get(data[:p + 3])
        if route is None:
            route, nonce, ciphertext = self._group_route(data)
        else:
            nonce, ciphertext = data[p + 3:p + 16], data[p + 18:]
        group, aad, decrypt, revoked, group_low, group_high = route
        if revoked:
            raise TokenRejected(ErrorCode.KEY_REVOKED, "group key revoked")
        try:
            plaintext = decrypt(nonce, ciphertext, aad)
        except InvalidTag:
            raise TokenRejected(ErrorCode.DECRYPTION_FAILED) from None

        # A canonical COSE_Sign1 (see codec/canonical.py): the issuer's route, the
        # signed bytes and the claims in one pass; anything else, the general path.
        read = read_sign1(plaintext, routes.issuers) if routes is not None else None
        claims = claims_from_fields(read[2]) if read is not None else None
        if read is None or claims is None:
            issuer_route, claims, signed = self._issuer_route(plaintext)
        else:
            issuer_route, signed = read[0], read[1]
        issuer_key, _, public_raw, revoked, issuer_low, issuer_high, regions = issuer_route
        if revoked:
            raise TokenRejected(ErrorCode.KEY_REVOKED, "issuer key revoked")

        issued_at = claims.issued_at
        expires_at = claims.expires_at
        leeway = policy.leeway
        if expires_at - issued_at > policy.max_lifetime:
            raise TokenRejected(ErrorCode.LIFETIME_TOO_LONG)
        if now + leeway < issued_at:
            raise TokenRejected(ErrorCode.NOT_YET_VALID)
        if now - leeway >= expires_at:
            raise TokenRejected(ErrorCode.EXPIRED)
        if not issuer_low <= issued_at <= issuer_high:
            raise TokenRejected(ErrorCode.KEY_NOT_VALID, "issued outside the key's window")
        if not group_low <= issued_at <= group_high:
            raise TokenRejected(ErrorCode.KEY_NOT_VALID, "issued outside the group key's window")
        return signed, public_raw, claims, issuer_key, group, regions, business_type

    def _accept(self, prepared: Prepared) -> VerifiedToken:
        """Every check after a valid signature (region, business type, credential), and
        the :class:`VerifiedToken`.  Private: it trusts that the caller has checked
        ``prepared``'s signature (:meth:`check`, :meth:`verify`, ``batch``)."""
        _, _, claims, issuer_key, group, regions, business_type = prepared
        policy = self.policy
        if regions is not None and claims.region.code[:2] not in regions:
            raise TokenRejected(ErrorCode.WRONG_REGION, "issuer not authorised for the region")
        if (business_type, claims.business_type) not in _ACCEPTS:
            raise TokenRejected(ErrorCode.WRONG_BUSINESS_TYPE, "token minted for another step")
        if (claims.subject_kind, claims.business_type) not in _MAY_USE:
            raise TokenRejected(ErrorCode.WRONG_BUSINESS_TYPE, PAYER_REFUSED)
        usable = policy.credential_usable
        if usable is not None:
            # A family member's code also dies with the presenting holder's credential.
            actor = claims.actor_id
            if not usable(claims.credential_id) or (actor is not None and not usable(actor)):
                raise TokenRejected(ErrorCode.CREDENTIAL_NOT_USABLE)
        # VerifiedToken(claims, issuer, issuer_kid, group_kid), built without
        # re-running the dataclass machinery (every field is already checked).
        result = _new(_RESULT_TWIN)
        result.claims = claims
        result.issuer = issuer_key.issuer
        result.issuer_kid = issuer_key.kid
        result.group_kid = group.kid
        result.cert_type = CertType.ECERT_TOKEN
        result.__class__ = VerifiedToken
        verified: VerifiedToken = result
        return verified

    def _group_route(self, data: bytes) -> tuple[GroupRoute, bytes, bytes]:
        """The general path to the group key: the strict envelope decoder and a kid
        lookup; ``(route, nonce, ciphertext)`` with the token's own AAD, or the
        rejection."""
        try:
            _, alg, kid, iv, ciphertext, aad = cose.split_encrypt0(data)
        except COSEError as exc:
            raise TokenRejected(_MALFORMED, str(exc)) from None
        group = _bound(self.trust.group_key(kid), alg, "group")
        if len(iv) != NONCE_BYTES:
            raise TokenRejected(_MALFORMED, "wrong nonce length")
        route = GroupRoute(group, aad, group.aead.raw_decrypt, group.state is _REVOKED,
                           *window(group.validity))
        return route, iv, ciphertext

    def _issuer_route(self, plaintext: bytes) -> tuple[IssuerRoute, TokenClaims, bytes]:
        """The general path to the issuer key: the strict Sign1 and claims decoders
        and a kid lookup; ``(route, claims, signature + Sig_structure)`` or the
        rejection.  A signature of the wrong length becomes an empty ``signed``,
        which libsodium refuses (BAD_SIGNATURE, at the signature step as always)."""
        try:
            _, alg, kid, payload, signature, to_be_signed = cose.split_sign1(plaintext)
            claims = decode_claims_fast(payload)
        except (COSEError, ClaimsError) as exc:
            raise TokenRejected(_MALFORMED, str(exc)) from None
        issuer_key = _bound(self.trust.issuer_key(kid), alg, "issuer")
        route = IssuerRoute(issuer_key, b"", issuer_key.public_key.raw,
                            issuer_key.state is _REVOKED, *window(issuer_key.validity),
                            issuer_key.regions)
        signed = signature + to_be_signed if len(signature) == SIGNATURE_BYTES else b""
        return route, claims, signed

    def replay_entry(self, verified: VerifiedToken) -> ReplayEntry:
        """The store entry for a verified token: kept until expiry plus leeway.

        For restart fencing the entry's ``issued_at`` is the earliest verifier
        time at which the token could have been used: one leeway before its
        ``iat`` (an issuer clock may run that far ahead) and one second more,
        because times are whole seconds and a use in the very second a store
        lost its memory must be fenced too.
        Its ``attempt`` is a new attempt value, or the remembered one of this
        code's earlier mark whose outcome was unknown (:class:`Attempts`).
        """
        c = verified.claims
        leeway = self.policy.leeway
        # ReplayEntry(issuer, token_id, iat - leeway - 1, exp + leeway, attempt),
        # built from fields that are already checked (see codec/trusted.py).
        entry = _new(_ENTRY_TWIN)
        entry.issuer = issuer = verified.issuer
        entry.token_id = token_id = c.token_id
        entry.issued_at = c.issued_at - leeway - 1
        entry.expires_at = c.expires_at + leeway
        entry.attempt = self.attempts.attempt(issuer, token_id)
        entry.__class__ = ReplayEntry
        built: ReplayEntry = entry
        return built


_Key = TypeVar("_Key", GroupKey, IssuerVerifyKey)


def _bound(key: _Key | None, alg: int, kind: str) -> _Key:
    """``key``, found by the token's kid, if there is one and ``alg`` is its algorithm."""
    if key is None:
        raise TokenRejected(ErrorCode.UNKNOWN_KEY, f"no such {kind} key")
    if alg != key.alg:
        raise TokenRejected(_MALFORMED, "algorithm does not match the key")
    return key


def check_terms(store: object, leeway: int) -> None:
    """Refuse a store built for another leeway than the verifier's policy (a store
    without a ``leeway`` attribute, a caller's own, is taken as it is)."""
    terms = getattr(store, "leeway", None)
    if terms is not None and terms != leeway:
        raise InvalidArgument(
            "the replay store was built for another leeway than the policy's; verifiers "
            "sharing a store must use the same leeway"
        )


def _mark_rejection(result: MarkResult) -> TokenRejected:
    if result is MarkResult.FENCED:
        return TokenRejected(
            ErrorCode.POSSIBLY_REPLAYED, "replay store memory began after issue"
        )
    return TokenRejected(ErrorCode.REPLAYED)
