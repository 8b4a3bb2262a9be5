"""One exception family with stable, machine-readable codes.

Every failure the library reports is an :class:`EcertError` carrying an
:class:`ErrorCode`.  Callers branch on ``err.code`` (a string enum whose values
never change); people read ``str(err)``.  Messages are fixed texts chosen by
the library: they never contain keys, tokens or personal data, so an error can
be logged or returned to a client as it is.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, TypedDict


class ErrorCode(StrEnum):
    """Stable error codes.  The values are part of the public contract."""

    # Input that is not a well-formed token of this format.
    MALFORMED = "malformed"
    # Key and trust problems.
    UNKNOWN_KEY = "unknown_key"
    KEY_REVOKED = "key_revoked"
    KEY_NOT_VALID = "key_not_valid"
    DECRYPTION_FAILED = "decryption_failed"
    BAD_SIGNATURE = "bad_signature"
    # Time window.
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    LIFETIME_TOO_LONG = "lifetime_too_long"
    # Claims policy.
    WRONG_BUSINESS_TYPE = "wrong_business_type"
    WRONG_REGION = "wrong_region"
    CREDENTIAL_NOT_USABLE = "credential_not_usable"
    # Replay protection.
    REPLAYED = "replayed"
    POSSIBLY_REPLAYED = "possibly_replayed"
    STORE_UNAVAILABLE = "store_unavailable"
    # Caller mistakes and local material.
    INVALID_ARGUMENT = "invalid_argument"
    KEY_FILE = "key_file"
    WEAK_KEY = "weak_key"
    WRONG_PASSPHRASE = "wrong_passphrase"  # noqa: S105 - an error code, not a secret
    # Signed trust lists.
    TRUST_LIST_INVALID = "trust_list_invalid"
    TRUST_LIST_BAD_SIGNATURE = "trust_list_bad_signature"
    TRUST_LIST_EXPIRED = "trust_list_expired"
    TRUST_LIST_ROLLBACK = "trust_list_rollback"
    TRUST_LIST_STALE = "trust_list_stale"
    # Settlement: handles, the person registry, receipts, vouchers, confirmation.
    HANDLE_MALFORMED = "handle_malformed"
    HANDLE_INVALID = "handle_invalid"
    HANDLE_EXPIRED = "handle_expired"
    PERSON_NOT_REGISTERED = "person_not_registered"
    PERSON_EXISTS = "person_exists"
    REGISTRY_UNAVAILABLE = "registry_unavailable"
    """The SQLite registry (settlement persons, holder activations) cannot be used."""
    RECEIPT_INVALID = "receipt_invalid"
    RECEIPT_BAD_SIGNATURE = "receipt_bad_signature"
    UNKNOWN_TERMINAL = "unknown_terminal"
    VOUCHER_DUPLICATE = "voucher_duplicate"
    ALREADY_SETTLED = "already_settled"
    TRANSACTION_MISMATCH = "transaction_mismatch"
    CONFIRMATION_MISSING = "confirmation_missing"
    # Holder credentials (device-bound, presented offline) and their status lists.
    CREDENTIAL_REVOKED = "credential_revoked"
    STATUS_LIST_STALE = "status_list_stale"
    STATUS_LIST_INVALID = "status_list_invalid"
    STATUS_LIST_ROLLBACK = "status_list_rollback"
    CHALLENGE_MISMATCH = "challenge_mismatch"
    FAMILY_FULL = "family_full"
    # The holder registry's former code, now one with the settlement registry's: an
    # alias (the same member), and its old value still reads as it (``_missing_``).
    REGISTRY_ERROR = "registry_unavailable"

    @classmethod
    def _missing_(cls, value: object) -> ErrorCode | None:
        return cls.REGISTRY_UNAVAILABLE if value == "registry_error" else None


_MESSAGES: dict[ErrorCode, str] = {
    ErrorCode.MALFORMED: "the input is not a well-formed e-certificate token",
    ErrorCode.UNKNOWN_KEY: "the token names a key that is not trusted here",
    ErrorCode.KEY_REVOKED: "the token was made with a revoked key",
    ErrorCode.KEY_NOT_VALID: "the token's key is outside its validity window",
    ErrorCode.DECRYPTION_FAILED: "the token could not be decrypted with the named key",
    ErrorCode.BAD_SIGNATURE: "the token's signature does not verify",
    ErrorCode.EXPIRED: "the token has expired",
    ErrorCode.NOT_YET_VALID: "the token is not valid yet",
    ErrorCode.LIFETIME_TOO_LONG: "the token's lifetime exceeds the policy maximum",
    ErrorCode.WRONG_BUSINESS_TYPE: "the token was not issued for this business type",
    ErrorCode.WRONG_REGION: "the issuer may not issue tokens for this insured region",
    ErrorCode.CREDENTIAL_NOT_USABLE: "the credential cannot be used",
    ErrorCode.REPLAYED: "the token has already been used",
    ErrorCode.POSSIBLY_REPLAYED: "the replay store cannot rule out an earlier use of the token",
    ErrorCode.STORE_UNAVAILABLE: "the replay store cannot be reached",
    ErrorCode.INVALID_ARGUMENT: "invalid argument",
    ErrorCode.KEY_FILE: "a key file cannot be used",
    ErrorCode.WEAK_KEY: "a public key is invalid or of small order",
    ErrorCode.WRONG_PASSPHRASE: "the passphrase does not decrypt the key file",
    ErrorCode.TRUST_LIST_INVALID: "the trust list is not well formed",
    ErrorCode.TRUST_LIST_BAD_SIGNATURE: "the trust list is not signed by the pinned root key",
    ErrorCode.TRUST_LIST_EXPIRED: "the trust list has expired",
    ErrorCode.TRUST_LIST_ROLLBACK: "the trust list is older than one already loaded",
    ErrorCode.TRUST_LIST_STALE: "the trust list is older than the staleness limit",
    ErrorCode.HANDLE_MALFORMED: "the settlement handle is not well formed",
    ErrorCode.HANDLE_INVALID: "the settlement handle is forged or altered",
    ErrorCode.HANDLE_EXPIRED: "the settlement handle has expired",
    ErrorCode.PERSON_NOT_REGISTERED: "no registered person matches the settlement handle",
    ErrorCode.PERSON_EXISTS: "a person is already registered for this credential",
    ErrorCode.REGISTRY_UNAVAILABLE: "the registry database cannot be used or changed",
    ErrorCode.RECEIPT_INVALID: "the receipt or voucher is not well formed",
    ErrorCode.RECEIPT_BAD_SIGNATURE: "the receipt or voucher signature does not verify",
    ErrorCode.UNKNOWN_TERMINAL: "the receipt names a terminal that is not trusted here",
    ErrorCode.VOUCHER_DUPLICATE: "a voucher for this code or device counter was already submitted",
    ErrorCode.ALREADY_SETTLED: "the voucher was already settled",
    ErrorCode.TRANSACTION_MISMATCH: "the transaction differs from the one the person confirmed",
    ErrorCode.CONFIRMATION_MISSING: "the person has not confirmed this payment",
    ErrorCode.CREDENTIAL_REVOKED: "the holder credential has been revoked (unbound)",
    ErrorCode.STATUS_LIST_STALE: "the status list is older than the staleness limit",
    ErrorCode.STATUS_LIST_INVALID: "the status list is not well formed or not trusted",
    ErrorCode.STATUS_LIST_ROLLBACK: "the status list is older than one already loaded",
    ErrorCode.CHALLENGE_MISMATCH: "the presentation does not answer this terminal's challenge",
    ErrorCode.FAMILY_FULL: "the holder already has five family members",
}


class ErrorDict(TypedDict):
    """:meth:`EcertError.to_dict`: the stable code and the message."""

    error: str
    message: str


class EcertError(Exception):
    """Root of every error this library raises on purpose.

    ``code`` is stable; ``detail`` is an optional fixed phrase chosen by the
    library (never caller data) that says which check failed.
    """

    code: ErrorCode

    def __init__(self, code: ErrorCode, detail: str | None = None) -> None:
        self.code = code
        self.detail = detail
        message = _MESSAGES[code]
        super().__init__(f"{message}: {detail}" if detail else message)

    def to_dict(self) -> ErrorDict:
        """A JSON-ready form: ``{"error": code, "message": text}``."""
        return {"error": self.code.value, "message": str(self)}

    def __reduce__(self) -> tuple[Any, ...]:
        # The default rebuilds with ``cls(*self.args)``, i.e. ``cls(message)``,
        # which no subclass accepts: rebuild from the code and the detail instead,
        # so errors cross multiprocessing, concurrent.futures and Celery intact.
        return (_restore, (type(self), self.code, self.detail), self.__dict__.copy())

    def __eq__(self, other: object) -> bool:
        """Errors are equal when their class, code and detail are (pickling keeps all three)."""
        if not isinstance(other, EcertError):
            return NotImplemented
        return (type(self), self.code, self.detail) == (type(other), other.code, other.detail)

    def __hash__(self) -> int:
        return hash((type(self), self.code, self.detail))


def _restore(cls: type[EcertError], code: ErrorCode, detail: str | None) -> EcertError:
    """Rebuild a pickled :class:`EcertError` of any subclass, whatever its ``__init__``."""
    err = cls.__new__(cls)
    EcertError.__init__(err, ErrorCode(code), detail)
    return err


class TokenRejected(EcertError):
    """A token failed verification (any reason, from garbage to replay)."""


class StoreUnavailable(TokenRejected):
    """The replay store could not answer; verification fails closed."""

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(ErrorCode.STORE_UNAVAILABLE, detail)


class InvalidArgument(EcertError, ValueError):
    """A value given to the library's API is out of range or malformed."""

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(ErrorCode.INVALID_ARGUMENT, detail)


class KeyMaterialError(EcertError):
    """Key files or key values that cannot be used (permissions, format, weak keys)."""


class TrustListError(EcertError):
    """A signed trust list that cannot be accepted."""
