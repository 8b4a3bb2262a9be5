"""Verification: a token's text -> :class:`VerifiedToken`, or one :class:`TokenRejected`.

Read this module from the top.  :class:`Verifier` is the synchronous shell
(its verbs: :meth:`~Verifier.verify`, :meth:`~Verifier.verify_many`,
:meth:`~Verifier.check`); it owns the replay store, the only I/O.  Every
decision is made by :class:`_Pipeline`, which does no I/O and is shared with
the asyncio shell (``aio.py``), as ``replay/redis.py``'s ``_RedisLogic`` is
shared by the Redis stores.  Its :meth:`_Pipeline.check` runs the stages in
this order, cheapest refusals first (DESIGN.md), and is the library's Python
implementation: the reference and the fallback.

 1. text       the prefix (which kind of code), what a scanner adds, length
 2. Base45
 3. envelope   a strict COSE_Encrypt0
 4. key        the group key bound to the envelope's kid; ``alg`` must be its own
 5. AEAD       that key's decryption
 6. signed     a strict COSE_Sign1 and its claims map (shape and types only),
               then the issuer key bound to its kid
 7. time       lifetime, not-before, expiry, both keys' validity windows
 8. signature  that issuer key's verification
 9. claims     every claim value checked by the model -> ``TokenClaims``
10. policy     region, business type, usable credential
11. mark       the replay store (last: only a fully valid token consumes its id)

Stages 2 to 8 have one accelerator, chosen in ``ecert_token._speedups`` (the
one place compiled code is chosen): for a token in the canonical layout this
format writes, with keys of the algorithms it knows, it answers exactly what
those stages answer; for anything else it answers None ("not mine") and the
Python stages run.  Algorithms come from the key bound to the kid, never from
the token.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, TypeVar

from .. import _speedups
from ..codec import cose
from ..codec.base45 import Base45Error, b45decode
from ..codec.cose import COSEError
from ..codec.cwt import ClaimsError, ClaimsFields, claims_from_fields, read_claims
from ..errors import ErrorCode, InvalidArgument, StoreUnavailable, TokenRejected
from ..keys.material import GroupKey, IssuerVerifyKey, KeyState
from ..keys.trust_store import TrustStore
from ..model import BusinessType, CertType, SubjectKind
from ..model.codes import PAYER_REFUSED, may_use
from ..model.construct import construct
from ..replay.base import MarkResult, ReplayEntry, ReplayStore
from ..replay.memory import MemoryReplayStore
from . import batch
from .attempts import Attempts, RandomSource
from .policy import VerifyPolicy, business_type_accepts, whole_seconds
from .result import VerifiedToken
from .text import PREFIX, TextError, read_text

if TYPE_CHECKING:
    from ..holder.verify import PresentationVerifier

__all__ = ["Verifier"]


class Verifier:
    """Verifies tokens against trust material, a policy and a replay store.

    With no ``replay_store`` an in-memory one is created (one process); pass
    a SQLite or Redis store to share replay memory between processes.  A
    store built for another leeway than the policy's is refused
    (InvalidArgument): verifiers sharing a store must agree on it.

    ``random`` (``os.urandom`` by default) seeds the attempt values that let
    this verifier recognise its own mark after a lost reply (see
    :mod:`ecert_token.token.attempts`).

    Holder presentations (text ``EP1:``, see :mod:`ecert_token.holder`) are
    verified too, by ``presentations`` (a
    :class:`~ecert_token.holder.PresentationVerifier`; by default one on the
    same trust and policy, without a status list) and marked in the same
    replay store.
    """

    def __init__(
        self,
        trust: TrustStore,
        policy: VerifyPolicy | None = None,
        replay_store: ReplayStore | None = None,
        *,
        random: RandomSource = os.urandom,
        presentations: PresentationVerifier | None = None,
    ) -> None:
        if not isinstance(trust, TrustStore):
            raise InvalidArgument("trust must be a TrustStore")
        if policy is not None and not isinstance(policy, VerifyPolicy):
            raise InvalidArgument("policy must be a VerifyPolicy")
        policy = policy or VerifyPolicy()
        self.attempts = Attempts(random)
        self._pipeline = _Pipeline(trust, policy, self.attempts, presentations)
        # "is None", not "or": an empty store has len() 0 and would be replaced.
        self.replay_store: ReplayStore = (
            replay_store if replay_store is not None else MemoryReplayStore(
                max_lifetime=policy.replay_window, clock=policy.clock, leeway=policy.leeway,
            )
        )
        check_terms(self.replay_store, policy.leeway)

    @property
    def trust(self) -> TrustStore:
        """The trust material keys are found in."""
        return self._pipeline.trust

    @property
    def presentations(self) -> PresentationVerifier:
        """The checker of holder presentations (created on first use)."""
        return self._pipeline.holder()

    @property
    def policy(self) -> VerifyPolicy:
        """What this verifier accepts."""
        return self._pipeline.policy

    def verify(
        self, token: str | bytes, business_type: BusinessType, *, now: int | None = None
    ) -> VerifiedToken:
        """Verify ``token`` for the ``business_type`` step this terminal performs, and
        mark it used: every stage of :class:`_Pipeline`, then the replay mark.

        Without ``now`` the policy's clock is read before the checks and again
        after the replay mark: a token that expired in between is refused, for
        its id may have expired in the store before the mark landed (Redis
        drops it by the server's clock), so "first use" proves nothing.
        """
        pipeline = self._pipeline
        clock_read = now is None
        if now is None:
            now = pipeline.policy.clock()
        verified = pipeline.check(token, business_type, now)
        entry = pipeline.replay_entry(verified)
        try:
            mark = self.replay_store.check_and_mark(entry, now)
        except StoreUnavailable:
            self.attempts.unknown((entry,), now)  # it may have been marked: a lost reply
            raise
        rejection = pipeline.mark_outcome(verified, mark, clock_read)
        if rejection is not None:
            raise rejection
        return verified

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
        signature check, which runs with the GIL released, so threads scale.
        Then every fully valid token is marked in ONE ``check_and_mark_many``
        round trip; a token id seen twice in the batch is accepted at its
        first position and REPLAYED after.  If the store cannot answer, every
        valid token's result is that :class:`StoreUnavailable` (fail closed),
        and the rejections stand.
        """
        pipeline = self._pipeline
        clock_read = now is None
        if now is None:
            now = pipeline.policy.clock()
        results = batch.check_all(pipeline.check, tokens, business_type, now, workers)
        checked, entries = pipeline.replay_entries(results)
        if not checked:
            return results
        marks: object
        try:
            marks = self.replay_store.check_and_mark_many(entries, now)
        except StoreUnavailable as exc:
            marks = exc
        return pipeline.settle_batch(results, checked, entries, marks, clock_read=clock_read,
                                     now=now)

    def check(
        self, token: str | bytes, business_type: BusinessType, *, now: int
    ) -> VerifiedToken:
        """Every stage but the replay mark (for inspection, and for callers that
        mark tokens themselves)."""
        return self._pipeline.check(token, business_type, now)


_MALFORMED = ErrorCode.MALFORMED
_REVOKED = KeyState.REVOKED

_REJECTIONS: tuple[tuple[ErrorCode, str | None], ...] = (
    (ErrorCode.MALFORMED, "not Base45"),
    (ErrorCode.UNKNOWN_KEY, "no such group key"),
    (ErrorCode.MALFORMED, "algorithm does not match the key"),
    (ErrorCode.MALFORMED, "wrong nonce length"),
    (ErrorCode.KEY_REVOKED, "group key revoked"),
    (ErrorCode.DECRYPTION_FAILED, None),
    (ErrorCode.UNKNOWN_KEY, "no such issuer key"),
    (ErrorCode.KEY_REVOKED, "issuer key revoked"),
    (ErrorCode.LIFETIME_TOO_LONG, None),
    (ErrorCode.NOT_YET_VALID, None),
    (ErrorCode.EXPIRED, None),
    (ErrorCode.KEY_NOT_VALID, "issued outside the key's window"),
    (ErrorCode.KEY_NOT_VALID, "issued outside the group key's window"),
    (ErrorCode.BAD_SIGNATURE, None),
)
"""The rejections of stages 2 to 8 whose text is fixed, by number: the Python
stages raise them through :func:`_reject`, and the accelerator answers their
number (it was compiled with this table; ``_speedups`` checks it at import)."""
(NOT_BASE45, UNKNOWN_GROUP, ALG_MISMATCH, NONCE_LENGTH, GROUP_REVOKED, DECRYPTION_FAILED,
 UNKNOWN_ISSUER, ISSUER_REVOKED, LIFETIME_TOO_LONG, NOT_YET_VALID, EXPIRED,
 ISSUER_WINDOW, GROUP_WINDOW, BAD_SIGNATURE) = range(len(_REJECTIONS))


def _reject(number: int) -> TokenRejected:
    return TokenRejected(*_REJECTIONS[number])


_accelerator = _speedups.accelerator(tuple((c.value, d) for c, d in _REJECTIONS))
"""The compiled ``open_token`` (stages 2 to 8 for the canonical layout), or None."""

Opened = tuple[ClaimsFields, IssuerVerifyKey, GroupKey]
"""What stages 2 to 8 give: the claims fields (before their value checks), the
issuer key whose signature is valid, and the group key that opened the envelope."""

_MAY_USE = frozenset(
    (kind, business) for kind in SubjectKind for business in BusinessType
    if may_use(kind, business)
)
"""The subject-kind business rule (model/codes.py ``may_use``) as a table."""
_ACCEPTS = frozenset(
    (requested, presented) for requested in BusinessType for presented in BusinessType
    if business_type_accepts(requested, presented)
)
"""business_type_accepts as a table (built from it), one set lookup per token."""
_EXPIRED_BEFORE_MARK = "expired before its replay mark was made"
_INVALID_ANSWER = "replay store gave an invalid answer"


class _Pipeline:
    """Every stage of a verification, and what a replay store's answers mean; no I/O.

    Shared by :class:`Verifier` and ``aio.AsyncVerifier``; they only call the
    replay store between :meth:`replay_entry` and :meth:`mark_outcome`.
    """

    __slots__ = ("attempts", "policy", "presentations", "trust")

    def __init__(self, trust: TrustStore, policy: VerifyPolicy, attempts: Attempts,
                 presentations: PresentationVerifier | None = None) -> None:
        self.trust = trust
        self.policy = policy
        self.attempts = attempts
        self.presentations = presentations

    def holder(self) -> PresentationVerifier:
        """The checker of holder presentations (``ecert_token.holder``), made on first use."""
        if self.presentations is None:
            from ..holder.verify import PresentationVerifier

            self.presentations = PresentationVerifier(self.trust, self.policy)
        return self.presentations

    def check(self, token: str | bytes, business_type: BusinessType, now: int) -> VerifiedToken:
        """Stages 1 to 10: the verified token, or the rejection."""
        policy = self.policy
        if type(business_type) is not BusinessType:
            # A code string or int becomes its member; anything else is InvalidArgument.
            business_type = BusinessType.from_code(business_type)
        if type(now) is not int:
            whole_seconds(now)  # a NaN "now" would pass every time check
        if business_type not in policy.business_types:
            raise TokenRejected(ErrorCode.WRONG_BUSINESS_TYPE, "not accepted by this verifier")

        # 1. Text: the prefix says which kind of code this is.  A holder
        # presentation (EP1:) has its own checks (ecert_token.holder.verify).
        try:
            kind, body = read_text(token)
        except TextError as exc:
            raise TokenRejected(_MALFORMED, str(exc)) from None
        if kind != PREFIX:
            return self.holder().check(kind + body, business_type, now=now)

        # 2 to 8: from the Base45 body to a valid signature.
        fields, issuer, group = self._open(body, now)

        # 9. Claims: every value checked by the model.
        try:
            claims = claims_from_fields(fields)
        except ClaimsError as exc:
            raise TokenRejected(_MALFORMED, str(exc)) from None

        # 10. Policy.
        if not issuer.allows(claims.region):
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
        return construct(VerifiedToken, claims, issuer.issuer, issuer.kid, group.kid,
                         CertType.ECERT_TOKEN)

    def _open(self, body: str, now: int) -> Opened:
        """Stages 2 to 8 on the Base45 ``body``: :data:`Opened`, or the rejection."""
        policy = self.policy
        if _accelerator is not None:
            routes = self.trust.routes()
            if routes is not None:
                answer = _accelerator(body, routes.groups, routes.issuers, now, policy.leeway,
                                      policy.max_lifetime)
                if type(answer) is int:
                    raise _reject(answer)
                if answer is not None:
                    opened: Opened = answer
                    return opened

        # 2. Base45.
        try:
            data = b45decode(body)
        except Base45Error:
            raise _reject(NOT_BASE45) from None

        # 3. Envelope.
        try:
            envelope = cose.decode_encrypt0(data)
        except COSEError as exc:
            raise TokenRejected(_MALFORMED, str(exc)) from None

        # 4. Group key: the one bound to the kid, with its own algorithm.
        group = _bound(self.trust.group_key(envelope.header.kid), envelope.header.alg,
                       UNKNOWN_GROUP)
        aead = group.aead
        if len(envelope.iv) != aead.nonce_bytes:
            raise _reject(NONCE_LENGTH)
        if group.state is _REVOKED:
            raise _reject(GROUP_REVOKED)

        # 5. AEAD.
        plaintext = aead.open(envelope.iv, envelope.ciphertext,
                              cose.enc_structure(envelope.protected))
        if plaintext is None:
            raise _reject(DECRYPTION_FAILED)

        # 6. Signed envelope and its claims map; the issuer key bound to the kid.
        try:
            protected, payload, signature = cose.sign1_envelope(plaintext)
            header = cose.parse_protected(protected)
            fields = read_claims(payload)
        except (COSEError, ClaimsError) as exc:
            raise TokenRejected(_MALFORMED, str(exc)) from None
        issuer = _bound(self.trust.issuer_key(header.kid), header.alg, UNKNOWN_ISSUER)
        if issuer.state is _REVOKED:
            raise _reject(ISSUER_REVOKED)

        # 7. Time: one leeway for expiry, not-before and issued-at.
        expires_at, issued_at = fields[1], fields[2]
        leeway = policy.leeway
        if expires_at - issued_at > policy.max_lifetime:
            raise _reject(LIFETIME_TOO_LONG)
        if now + leeway < issued_at:
            raise _reject(NOT_YET_VALID)
        if now - leeway >= expires_at:
            raise _reject(EXPIRED)
        if not issuer.validity.contains(issued_at):
            raise _reject(ISSUER_WINDOW)
        if not group.validity.contains(issued_at):
            raise _reject(GROUP_WINDOW)

        # 8. Signature, by the issuer key's own algorithm.
        if not issuer.public_key.verify(signature, cose.sig_structure(protected, payload)):
            raise _reject(BAD_SIGNATURE)
        return fields, issuer, group

    # 11. The replay mark: the store call is I/O and lives in the shells; what
    # goes into the store and what its answer means is decided here.

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
        issuer = verified.issuer
        return construct(ReplayEntry, issuer, c.token_id, c.issued_at - leeway - 1,
                         c.expires_at + leeway, self.attempts.attempt(issuer, c.token_id))

    def replay_entries(
        self, results: Sequence[VerifiedToken | TokenRejected]
    ) -> tuple[list[tuple[int, VerifiedToken]], list[ReplayEntry]]:
        """The positions of the tokens that passed every check, and their store entries."""
        checked = [(i, r) for i, r in enumerate(results) if isinstance(r, VerifiedToken)]
        return checked, [self.replay_entry(v) for _, v in checked]

    def mark_outcome(
        self, verified: VerifiedToken, mark: object, clock_read: bool
    ) -> TokenRejected | None:
        """What a replay store's answer for ``verified`` means: None to accept it, or
        the rejection.

        ``clock_read``: the verifier read "now" itself, so a token that expired
        before its mark landed is refused (see :meth:`Verifier.verify`).  An
        answer that is not a :class:`MarkResult` fails closed.  OWN_MARK (this
        presentation's own earlier mark, whose answer was lost; see
        :mod:`~ecert_token.token.attempts`) counts as the first use.
        """
        if mark is MarkResult.FIRST_USE or mark is MarkResult.OWN_MARK:
            if clock_read and self.expired_since(verified):
                return TokenRejected(ErrorCode.EXPIRED, _EXPIRED_BEFORE_MARK)
            return None
        if not isinstance(mark, MarkResult):
            return StoreUnavailable(_INVALID_ANSWER)
        if mark is MarkResult.FENCED:
            return TokenRejected(
                ErrorCode.POSSIBLY_REPLAYED, "replay store memory began after issue"
            )
        return TokenRejected(ErrorCode.REPLAYED)

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


_Key = TypeVar("_Key", GroupKey, IssuerVerifyKey)


def _bound(key: _Key | None, alg: int, unknown: int) -> _Key:
    """``key``, found by the token's kid, if there is one and ``alg`` is its algorithm."""
    if key is None:
        raise _reject(unknown)
    if alg != key.alg:
        raise _reject(ALG_MISMATCH)
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
