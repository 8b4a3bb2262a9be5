"""Settlement handles, platform side: the keyed tag in the token id, and its check.

A code minted for settlement has a 12-byte token id ``salt | tag``::

    key = HKDF-SHA256(ikm = issuer key seed, salt = "ecert-token settlement",
                      info = "handle-mac/1" | issuer kid)
    tag = HMAC-SHA256(key, "ecert-token handle v1" | len(kid) | kid | exp u32 | salt
                           | credential id)[:8]

The key is derived from the issuer's signing key, so it is held by the
platform alone, rotates and is revoked with the issuer key, and needs no key
file of its own.  The terminal composes the 40-character handle from the
verified claims with no key (:mod:`ecert_token.model.settlement`); the
platform takes it apart, finds the registered credentials of its ``ref``,
and recomputes the tag with each of its issuer keys (one to three in
practice).  A match proves that the platform minted a code for exactly this
credential, expiry and token id; anything else is forged or altered.

A holder's presentation carries a version-2 handle (8-byte presentation id:
2-byte salt, 6-byte tag).  The phone computes the tag with ``Kd``, a
per-credential key the platform derives from ``key`` and hands over at
activation (:meth:`HandleKey.holder_key`)::

    Kd  = HMAC-SHA256(key, "ecert-token holder handle key v1" 0x00 | credential id)
    tag = HMAC-SHA256(Kd, "ecert-token holder handle v1" | exp u32 | salt)[:6]

so a phone can make handles only for its own person, and the platform again
recomputes everything from its issuer keys.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from hashlib import sha256

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..errors import EcertError, ErrorCode, InvalidArgument
from ..keys.material import IssuerSigningKey, KeyState
from ..model.settlement import (
    HANDLE_TOKEN_ID_BYTES,
    HOLDER_HANDLE_VERSION,
    HOLDER_ID_BYTES,
    SALT_BYTES,
    TAG_BYTES,
    HandleParts,
    holder_tag,
    parse_handle,
)

RandomBytes = Callable[[int], bytes]
DEFAULT_RESOLVE_WINDOW = 900
"""Seconds after a code's expiry during which its handle still resolves online
(the counter settles right after the scan; 15 minutes covers a slow queue).
Vouchers, settled days later, pass a longer window."""
_HKDF_SALT = b"ecert-token settlement"
_HKDF_INFO = b"handle-mac/1"
_TAG_DOMAIN = b"ecert-token handle v1"
_HOLDER_KEY_DOMAIN = b"ecert-token holder handle key v1\x00"


@dataclass(frozen=True, slots=True, repr=False)
class HandleKey:
    """One issuer key's handle MAC key (secret: ``repr()`` shows the kid only)."""

    issuer: str
    kid: bytes
    secret: bytes = field(compare=False)

    @classmethod
    def of(cls, signing_key: IssuerSigningKey) -> HandleKey:
        """The handle key derived from ``signing_key`` (HKDF over its seed and kid)."""
        if not isinstance(signing_key, IssuerSigningKey):
            raise InvalidArgument("a handle key comes from an IssuerSigningKey")
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=_HKDF_SALT,
                    info=_HKDF_INFO + signing_key.kid)
        return cls(signing_key.issuer, signing_key.kid,
                   hkdf.derive(signing_key.private_key.seed))

    def tag(self, expires_at: int, salt: bytes, credential_id: str) -> bytes:
        """The 8-byte tag over this key's kid, the expiry, the salt and the credential id."""
        message = b"".join((
            _TAG_DOMAIN, bytes((len(self.kid),)), self.kid, expires_at.to_bytes(4, "big"),
            salt, credential_id.encode(),
        ))
        return hmac.new(self.secret, message, sha256).digest()[:TAG_BYTES]

    def holder_key(self, credential_id: str) -> bytes:
        """``Kd``: the key a holder's phone makes its presentation ids with (32 bytes,
        handed over at activation with the credential; secret to that phone)."""
        return hmac.new(self.secret, _HOLDER_KEY_DOMAIN + credential_id.encode(),
                        sha256).digest()

    def tag_of(self, parts: HandleParts, credential_id: str) -> bytes:
        """The tag ``parts`` must carry if this key made it for ``credential_id``."""
        if parts.version == HOLDER_HANDLE_VERSION:
            return holder_tag(self.holder_key(credential_id), parts.expires_at, parts.salt)
        return self.tag(parts.expires_at, parts.salt, credential_id)

    def __repr__(self) -> str:
        return f"HandleKey(issuer={self.issuer!r}, kid={self.kid.hex()})"


def settlement_token_ids(
    signing_key: IssuerSigningKey, random_bytes: RandomBytes = os.urandom
) -> Callable[[str, int], bytes]:
    """The ``token_ids`` source for an :class:`~ecert_token.token.Issuer` that mints
    codes with a resolvable handle: ``salt (4 random bytes) | tag (8 bytes)``."""
    key = HandleKey.of(signing_key)

    def token_id(credential_id: str, expires_at: int) -> bytes:
        if not 0 <= expires_at < 2**32:
            raise InvalidArgument("a settlement code expires before 2106")
        salt = random_bytes(SALT_BYTES)
        if not isinstance(salt, bytes) or len(salt) != SALT_BYTES:
            raise InvalidArgument("random_bytes gave the wrong length")
        return salt + key.tag(expires_at, salt, credential_id)

    return token_id


@dataclass(frozen=True, slots=True)
class CheckedHandle:
    """A handle whose tag verified: which credential, which issuer key, which code."""

    credential_id: str = field(repr=False)
    issuer: str
    issuer_kid: bytes
    expires_at: int
    token_id: bytes


class HandleChecker:
    """Checks handles against the platform's issuer keys (not revoked ones)."""

    def __init__(self, signing_keys: Iterable[IssuerSigningKey]) -> None:
        keys = list(signing_keys)
        if not all(isinstance(k, IssuerSigningKey) for k in keys):
            raise InvalidArgument("signing_keys must be IssuerSigningKey objects")
        self._keys = [HandleKey.of(k) for k in keys if k.state is not KeyState.REVOKED]

    def check(
        self, handle: str | HandleParts, candidates: Iterable[str], now: int,
        window: int = DEFAULT_RESOLVE_WINDOW,
    ) -> CheckedHandle:
        """The credential among ``candidates`` (the registry's ids for the handle's
        ref) whose tag matches, if the handle has not expired more than ``window``
        seconds ago.  HANDLE_INVALID if no tag matches (forged or altered),
        HANDLE_EXPIRED after the window (checked after the tag, so the answer
        for a forged handle never depends on its claimed time)."""
        parts = handle if isinstance(handle, HandleParts) else parse_handle(handle)
        if isinstance(now, bool) or not isinstance(now, int):
            raise InvalidArgument("now must be a Unix time in whole seconds")
        if isinstance(window, bool) or not isinstance(window, int) or window < 0:
            raise InvalidArgument("window must be whole seconds, 0 or more")
        if len(parts.token_id) != (HOLDER_ID_BYTES if parts.version == HOLDER_HANDLE_VERSION
                                   else HANDLE_TOKEN_ID_BYTES):
            raise EcertError(ErrorCode.HANDLE_MALFORMED, "unknown handle version")
        found: CheckedHandle | None = None
        for credential_id in candidates:
            for key in self._keys:
                tag = key.tag_of(parts, credential_id)
                if hmac.compare_digest(tag, parts.tag) and found is None:
                    found = CheckedHandle(credential_id, key.issuer, key.kid,
                                          parts.expires_at, parts.token_id)
        if found is None:
            raise EcertError(ErrorCode.HANDLE_INVALID)
        if now > found.expires_at + window:
            raise EcertError(ErrorCode.HANDLE_EXPIRED)
        return found
