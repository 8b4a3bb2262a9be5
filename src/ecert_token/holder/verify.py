"""The terminal's check of a presentation: every check but the replay mark.

Order (cheap first, as for platform codes; see docs/holder-credentials.md):

1. the business type performed is one the policy accepts;
2. text, Base45 and the presentation's exact COSE_Sign1 layout;
3. the credential: found in the bounded cache by its bytes (a returning
   holder costs no decryption and no issuer signature), else group key by
   kid, AES-CCM decryption, strict claims, issuer key by kid, key windows,
   and the issuer's Ed25519 signature; then cached.  Its values are checked
   once, when it is opened; a presentation's own values (times, id, business
   type) once, by the strict reader in :func:`~.presentation.split`;
4. the trust behind a cached credential is still the same (a revoked or
   replaced key invalidates it), the credential's validity;
5. the presentation's time window (lifetime, iat, exp) and that it lies in
   the credential's validity;
6. the device's signature with the key in the credential's ``cnf``, by that
   key's algorithm (Ed25519 or SM2; a header that names one must name the same);
7. business type acceptance (and that the holder kind may pay, for a payment
   step), region scope, the policy's credential hook;
8. the status bit from the status list, if the terminal holds one;
9. an optional challenge (``cnonce``) the terminal showed;
10. payment confirmation, only when the terminal gives its own transaction
    (``charge``): the presentation's payment binding must cover it
    (:func:`~ecert_token.holder.payment.check_binding`), TRANSACTION_MISMATCH
    otherwise, CONFIRMATION_MISSING without one.  A binding without a charge
    is reported unchecked; other presentations skip the stage with one
    comparison.

The replay mark is the verifier's (:meth:`Verifier.replay_entry`): the
result's ``token_id`` is the presentation's random id scoped to the
credential, so one presentation is accepted once.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from typing import TypedDict

from ..codec import cose
from ..codec.cose import COSEError
from ..crypto.aead import NONCE_BYTES
from ..errors import ErrorCode, InvalidArgument, TokenRejected
from ..keys.material import GroupKey, IssuerVerifyKey, KeyState
from ..keys.trust_store import TrustStore
from ..model import BusinessType, CertType, SubjectKind, TokenClaims
from ..model.codes import PAYER_REFUSED, may_use
from ..model.construct import construct, constructor
from ..model.settlement import Settlement
from ..token.policy import VerifyPolicy, business_type_accepts, whole_seconds
from ..token.result import VerifiedToken, VerifiedTokenDict
from .claims import HolderClaims, HolderClaimsError, decode_claims
from .credential import read_signed
from .payment import Charge, PaymentBinding, PaymentDict, check_binding, device_id
from .presentation import PresentationError, Split, split, split_body
from .status_loader import StatusListLoader

DEFAULT_CACHE_SIZE = 10_000
_MALFORMED = ErrorCode.MALFORMED
_REPLAY_CONTEXT = b"ecert-token presentation id\x00"
_ACCEPTS = frozenset(
    (requested, presented) for requested in BusinessType for presented in BusinessType
    if business_type_accepts(requested, presented)
)
_MAY_PRESENT = {kind: frozenset(b for b in BusinessType if may_use(kind, b))
                for kind in SubjectKind}
"""The subject-kind business rule (model/codes.py ``may_use``): what each kind may present."""


class StatusRefDict(TypedDict):
    """A credential's status reference; ``uri`` None: its issuer's list (the compact
    reference of version-2 credentials)."""

    uri: str | None
    idx: int


class VerifiedPresentationDict(VerifiedTokenDict):
    """:meth:`VerifiedPresentation.to_dict`: the token's fields and the holder facts."""

    mode: str
    status_checked: bool
    presentation_id: str
    credential_expires_at: int | None
    status: StatusRefDict | None
    payment: PaymentDict | None


@dataclass(frozen=True, slots=True)
class VerifiedPresentation(VerifiedToken):
    """A presentation that passed every check: the token result plus holder facts.

    ``claims.token_id`` is the replay key (the presentation id scoped to the
    credential); ``presentation_id`` is the id as sent; ``credential`` the
    holder credential (or delegation) it was made from.  ``status_checked``
    says whether a status list was consulted.  ``payment`` is the device-signed
    payment binding (None: none), ``payment_checked`` whether the terminal's
    own transaction was checked against it.
    """

    credential: HolderClaims | None = None
    presentation_id: bytes = b""
    status_checked: bool = False
    payment: PaymentBinding | None = None
    payment_checked: bool = False

    @property
    def settlement(self) -> Settlement:
        """The settlement fields; ``mdtrt_cert_no`` is the presentation's 34-character
        handle (version 2, docs/settlement.md)."""
        return Settlement.of_presentation(self.claims, self.presentation_id)

    @property
    def device_id(self) -> str | None:
        """The presenting device's id (receipts, vouchers), None without a credential."""
        return None if self.credential is None else device_id(self.credential.device_key.encoded)

    def to_dict(self) -> VerifiedPresentationDict:
        """The token fields and the holder facts, JSON-ready."""
        c = self.credential
        out = VerifiedToken.to_dict(self)
        return {
            **out,
            "mode": "holder",
            "status_checked": self.status_checked,
            "presentation_id": self.presentation_id.hex(),
            "credential_expires_at": None if c is None else c.expires_at,
            "status": None if c is None else {"uri": c.status.uri, "idx": c.status.idx},
            "payment": self._payment_dict(),
        }

    def _payment_dict(self) -> PaymentDict | None:
        b, device = self.payment, self.device_id
        if b is None or device is None:
            return None
        return {"form": b.form, "device_id": device, "device_counter": b.counter,
                "ceiling_fen": b.ceiling_fen, "checked": self.payment_checked}


@dataclass(frozen=True, slots=True)
class _Opened:
    """A credential whose envelope, claims and issuer signature have been checked, once,
    with what every presentation of it needs precomputed.

    Its values are trusted from then on: a cache hit costs a dictionary lookup and
    the check that the trust behind it is unchanged (the issuer key, and the group
    key of a sealed credential, are still the trust store's and not revoked).
    """

    claims: HolderClaims
    issuer_key: IssuerVerifyKey
    group: GroupKey | None
    replay_scope: bytes
    region_allowed: bool
    issuer: str
    issuer_kid: bytes
    group_kid: bytes
    may_present: frozenset[BusinessType]
    """The business types the credential's subject kind may use (``may_use``)."""


def replay_scope(claims: HolderClaims, issuer: str) -> bytes:
    """8 bytes naming the credential (its status list entry), computed once per credential.

    A compact reference names the list of the credential's ``issuer``: its name
    after a NUL stands for the URI (no URI starts with one).
    """
    ref = claims.status
    uri = b"\x00" + issuer.encode() if ref.uri is None else ref.uri.encode()
    return hashlib.sha256(
        _REPLAY_CONTEXT + uri + b"\x00" + ref.idx.to_bytes(8, "big")
    ).digest()[:8]


def replay_id(claims: HolderClaims, issuer: str, presentation_id: bytes) -> bytes:
    """The presentation id scoped to its credential (16 bytes): the replay store's key.

    The issuer scopes it further (it is the replay entry's ``issuer``).
    """
    return replay_scope(claims, issuer) + presentation_id


class PresentationVerifier:
    """Checks presentations against trust material, a policy and optional status lists.

    ``cache_size`` bounds the credential cache (the oldest entries out; 0: no cache);
    it is keyed by the credential's bytes, about 250 bytes an entry.
    """

    def __init__(
        self,
        trust: TrustStore,
        policy: VerifyPolicy | None = None,
        status: StatusListLoader | None = None,
        *,
        cache_size: int = DEFAULT_CACHE_SIZE,
    ) -> None:
        if not isinstance(trust, TrustStore):
            raise InvalidArgument("trust must be a TrustStore")
        if policy is not None and not isinstance(policy, VerifyPolicy):
            raise InvalidArgument("policy must be a VerifyPolicy")
        if status is not None and not isinstance(status, StatusListLoader):
            raise InvalidArgument("status must be a StatusListLoader")
        if isinstance(cache_size, bool) or not isinstance(cache_size, int) or cache_size < 0:
            raise InvalidArgument("cache_size must be a non-negative integer")
        self.trust = trust
        self.policy = policy or VerifyPolicy()
        self.status = status
        self.cache_size = cache_size
        self._cache: dict[bytes, _Opened] = {}
        self._lock = threading.Lock()

    def check(
        self, text: str | bytes, business_type: BusinessType, *, now: int,
        challenge: bytes | None = None, charge: Charge | None = None,
    ) -> VerifiedPresentation:
        """Every check except the replay mark; the result or one :class:`TokenRejected`.

        ``charge`` is the terminal's own transaction: the presentation must
        carry a payment binding that covers it (stage 10).
        """
        policy = self.policy
        if type(business_type) is not BusinessType:
            business_type = BusinessType.from_code(business_type)
        if type(now) is not int:
            whole_seconds(now)
        if business_type not in policy.business_types:
            raise TokenRejected(ErrorCode.WRONG_BUSINESS_TYPE, "not accepted by this verifier")
        try:
            parts = split(text)
        except PresentationError as exc:
            raise TokenRejected(_MALFORMED, str(exc)) from None
        return self._check(parts, business_type, now, challenge, charge)

    def check_body(self, body: str, business_type: BusinessType, now: int) -> VerifiedPresentation:
        """:meth:`check` of a presentation whose text ``Verifier`` has read: ``body`` is
        the Base45 after ``EP1:``, ``business_type`` a member the policy accepts and
        ``now`` an int, which the verifier's own first stage has checked (the text is
        read once for both kinds of code, token/verify.py)."""
        try:
            parts = split_body(body)
        except PresentationError as exc:
            raise TokenRejected(_MALFORMED, str(exc)) from None
        return self._check(parts, business_type, now, None, None)

    def _check(self, parts: Split, business_type: BusinessType, now: int,
               challenge: bytes | None, charge: Charge | None) -> VerifiedPresentation:
        """Stages 3 to 10 on a read presentation (:func:`~.presentation.split`)."""
        policy = self.policy
        blob, p_iat, p_exp, p_id, presented, p_challenge, signed, p_alg, binding = parts
        opened = self._cache.get(blob)
        if opened is None or not self._trusted(opened):
            opened = self._enter(blob)
        c = opened.claims
        c_iat, c_exp = c.issued_at, c.expires_at
        leeway = policy.leeway
        if now + leeway < c_iat:
            raise TokenRejected(ErrorCode.NOT_YET_VALID, "credential not valid yet")
        if now - leeway >= c_exp:
            raise TokenRejected(ErrorCode.EXPIRED, "credential expired")
        if p_exp - p_iat > policy.max_lifetime:
            raise TokenRejected(ErrorCode.LIFETIME_TOO_LONG)
        if now + leeway < p_iat:
            raise TokenRejected(ErrorCode.NOT_YET_VALID)
        if now - leeway >= p_exp:
            raise TokenRejected(ErrorCode.EXPIRED)
        if p_iat < c_iat:
            raise TokenRejected(ErrorCode.NOT_YET_VALID, "presented before the credential")
        if p_iat >= c_exp:
            raise TokenRejected(ErrorCode.EXPIRED, "presented after the credential expired")
        device_key = c.device_key
        if p_alg is not None and p_alg != device_key.alg:  # None: the cnf key's
            raise TokenRejected(_MALFORMED, "algorithm does not match the device key")
        if not device_key.verify_signed(signed):
            raise TokenRejected(ErrorCode.BAD_SIGNATURE, "device signature")
        if presented is not business_type and (business_type, presented) not in _ACCEPTS:
            raise TokenRejected(ErrorCode.WRONG_BUSINESS_TYPE, "presented for another step")
        if presented not in opened.may_present:
            raise TokenRejected(ErrorCode.WRONG_BUSINESS_TYPE, PAYER_REFUSED)
        if not opened.region_allowed:
            raise TokenRejected(ErrorCode.WRONG_REGION, "issuer not authorised for the region")
        usable = policy.credential_usable
        if usable is not None and (not usable(c.credential_id) or (
            c.actor_id is not None and not usable(c.actor_id)
        )):
            raise TokenRejected(ErrorCode.CREDENTIAL_NOT_USABLE)
        status_checked = False
        if self.status is not None:
            value = self.status.status_of(c.status, opened.issuer, c_iat, now)
            if value is not None:
                status_checked = True
                if value != 0:
                    raise TokenRejected(ErrorCode.CREDENTIAL_REVOKED)
        if challenge is not None and p_challenge != challenge:
            raise TokenRejected(ErrorCode.CHALLENGE_MISMATCH)
        # 10. Payment confirmation, only when the terminal gives its own transaction (a
        # binding without one is reported, unchecked; other presentations skip this).
        payment_checked = False
        if charge is not None:
            if not isinstance(charge, Charge):
                raise InvalidArgument("charge must be a Charge")
            if not presented.is_payment:
                raise TokenRejected(ErrorCode.WRONG_BUSINESS_TYPE, "no payment at this step")
            check_binding(binding, charge, p_id)
            payment_checked = True
        # The result (model/construct.py: TokenClaims' own checks).
        claims = _TOKEN_CLAIMS(
            opened.replay_scope + p_id, p_iat, p_exp, c.credential_id,
            c.subject_kind, c.region, c.insurance_type, c.masked_name, presented, c.channel,
            c.actor_id)
        return VerifiedPresentation(claims, opened.issuer, opened.issuer_kid, opened.group_kid,
                                    _ECERT, c, p_id, status_checked, binding,
                                    payment_checked)

    def _trusted(self, opened: _Opened) -> bool:
        """Is the trust behind a cached credential unchanged (its keys are still the trust
        store's, and not revoked)?  A new trust list or a revoked key re-checks it."""
        trust = self.trust
        key = opened.issuer_key
        group = opened.group
        return (trust.issuer_key(opened.issuer_kid) is key and key.state is not _REVOKED
                and (group is None or (trust.group_key(group.kid) is group
                                       and group.state is not _REVOKED)))

    def _credential(self, sealed: bytes) -> _Opened:
        """The opened credential, from the cache if its trust is unchanged."""
        # Keyed by the credential's bytes: the dict's own hash and an exact
        # comparison cost a fraction of a SHA-256 (about a microsecond per scan),
        # and an exact key cannot collide.
        cached = self._cache.get(sealed)
        if cached is not None and self._trusted(cached):
            return cached
        return self._enter(sealed)

    def _enter(self, sealed: bytes) -> _Opened:
        """Check a credential (:meth:`_open`) and cache it, the oldest entries out."""
        opened = self._open(sealed)
        if self.cache_size:
            cache = self._cache
            with self._lock:  # oldest entries out (a dict keeps insertion order)
                cache.pop(sealed, None)
                cache[sealed] = opened
                while len(cache) > self.cache_size:
                    del cache[next(iter(cache))]
        return opened

    def _open(self, blob: bytes) -> _Opened:
        """Check a credential (uncached path): open mode is the issuer's COSE_Sign1 itself,
        sealed mode a COSE_Encrypt0 around it, decrypted with the group key first."""
        group: GroupKey | None = None
        plaintext = blob
        if blob[:1] == b"\xd0":
            group, plaintext = self._unseal(blob)
        try:
            s_alg, kid, payload, signature, message = read_signed(plaintext)
            claims = decode_claims(payload)
        except (COSEError, HolderClaimsError) as exc:
            raise TokenRejected(_MALFORMED, f"credential: {exc}") from None
        issuer_key = self.trust.issuer_key(kid)
        if issuer_key is None:
            raise TokenRejected(ErrorCode.UNKNOWN_KEY, "no such issuer key")
        if s_alg != issuer_key.alg:
            raise TokenRejected(_MALFORMED, "algorithm does not match the key")
        if issuer_key.state is KeyState.REVOKED:
            raise TokenRejected(ErrorCode.KEY_REVOKED, "issuer key revoked")
        if not issuer_key.validity.contains(claims.issued_at):
            raise TokenRejected(ErrorCode.KEY_NOT_VALID, "credential issued outside the key window")
        if group is not None and not group.validity.contains(claims.issued_at):
            raise TokenRejected(ErrorCode.KEY_NOT_VALID, "credential sealed outside the key window")
        if not issuer_key.public_key.verify(signature, message):
            raise TokenRejected(ErrorCode.BAD_SIGNATURE, "issuer signature")
        issuer = issuer_key.issuer
        return construct(_Opened, claims, issuer_key, group, replay_scope(claims, issuer),
                         issuer_key.allows(claims.region), issuer, issuer_key.kid,
                         b"" if group is None else group.kid, _MAY_PRESENT[claims.subject_kind])

    def _unseal(self, sealed: bytes) -> tuple[GroupKey, bytes]:
        try:
            envelope = cose.decode_encrypt0(sealed)
        except COSEError as exc:
            raise TokenRejected(_MALFORMED, f"credential: {exc}") from None
        alg, kid, iv = envelope.header.alg, envelope.header.kid, envelope.iv
        ciphertext, aad = envelope.ciphertext, cose.enc_structure(envelope.protected)
        group = self.trust.group_key(kid)
        if group is None:
            raise TokenRejected(ErrorCode.UNKNOWN_KEY, "no such group key")
        if alg != group.alg or len(iv) != NONCE_BYTES:
            raise TokenRejected(_MALFORMED, "credential envelope does not match its key")
        if group.state is KeyState.REVOKED:
            raise TokenRejected(ErrorCode.KEY_REVOKED, "group key revoked")
        plaintext = group.aead.open(iv, ciphertext, aad)
        if plaintext is None:
            raise TokenRejected(ErrorCode.DECRYPTION_FAILED)
        return group, plaintext

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()


_ECERT = CertType.ECERT_TOKEN
_REVOKED = KeyState.REVOKED
_TOKEN_CLAIMS = constructor(TokenClaims)
"""``construct(TokenClaims, ...)`` kept for the per-presentation result (the class's own
checks run, as with construct)."""
