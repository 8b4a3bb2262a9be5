"""Issuing a holder credential: sign (COSE_Sign1), and optionally seal it to the verifier group.

The platform signs the claims with its issuer key exactly as it signs a
token (protected ``{1: -8, 4: kid}``, empty unprotected header).  Two modes:

* **open** (default): the phone stores and shows the signed CWT itself.  It
  carries no direct identifier (pseudonymous id, masked name, region,
  insurance type), so this is minimal disclosure; it fits QR version 13-M.
* **sealed**: the signed bytes are also encrypted to the verifier group's
  AES-CCM key exactly as a token's envelope (COSE_Encrypt0, ``{1: 10, 4:
  group kid}``, 13-byte IV), once, at activation.  The phone stores a blob it
  cannot read (the group key never leaves the terminals); 38 bytes more.

See docs/holder-credentials.md for the measured trade-off, including
per-presentation public-key encryption (HPKE / ECDH-ES).

A credential file (what ``ecert activate`` and ``ecert family add`` write)
is JSON: the sealed blob in base64url plus the fields the phone may show
(they are the phone's own data, returned at activation), and the handle key
``Kd`` with which the phone makes its presentations' settlement handles
resolvable (docs/settlement.md; absent in files of older activations).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..codec import cose
from ..crypto.ed25519 import ALG_EDDSA
from ..errors import EcertError, ErrorCode, InvalidArgument
from ..keys.files import write_file
from ..keys.jwk import b64url, b64url_decode
from ..keys.material import GroupKey, IssuerSigningKey
from ..model.limits import MAX_KID_BYTES
from .claims import HolderClaims, encode_claims

RandomBytes = Callable[[int], bytes]
HANDLE_KEY_BYTES = 32
FILE_FORMAT = "ecert-holder-credential/1"


def sign_credential(claims: HolderClaims, key: IssuerSigningKey) -> bytes:
    """The issuer's COSE_Sign1 over ``claims`` (the CWT a COSE library reads)."""
    if not isinstance(claims, HolderClaims) or not isinstance(key, IssuerSigningKey):
        raise InvalidArgument("sign_credential needs HolderClaims and an IssuerSigningKey")
    if not key.public.allows(claims.region):
        raise EcertError(ErrorCode.WRONG_REGION, "issuer key is not authorised for region")
    if not key.validity.contains(claims.issued_at):
        raise EcertError(ErrorCode.KEY_NOT_VALID, "issuer key is outside its window")
    protected = cose.encode_protected(key.public.alg, key.kid)
    payload = encode_claims(claims)
    signature = key.private_key.sign(cose.sig_structure(protected, payload))
    return cose.encode_sign1(protected, payload, signature)


def seal(signed: bytes, group: GroupKey, random_bytes: RandomBytes = os.urandom) -> bytes:
    """``signed`` encrypted to the verifier group (a COSE_Encrypt0, as a token's envelope)."""
    protected = cose.encode_protected(group.alg, group.kid)
    nonce, ciphertext = group.aead.encrypt(signed, cose.enc_structure(protected), random_bytes)
    return cose.encode_encrypt0(protected, nonce, ciphertext)


def issue(claims: HolderClaims, key: IssuerSigningKey, group: GroupKey | None = None,
          random_bytes: RandomBytes = os.urandom) -> bytes:
    """The credential blob the phone stores: :func:`sign_credential`, then :func:`seal`
    when a ``group`` key is given (sealed mode); without one the signed CWT itself
    (open mode, minimal disclosure; see docs/holder-credentials.md#confidentiality)."""
    signed = sign_credential(claims, key)
    return signed if group is None else seal(signed, group, random_bytes)


Signed = tuple[int, bytes, bytes, bytes, bytes]
"""``(alg, kid, claims payload, signature, Sig_structure)`` of a credential's COSE_Sign1."""
_EDDSA_HEADER = b"\xa2\x01\x27\x04"
"""``{1: -8, 4: `` in deterministic CBOR: the opening of the protected header
:func:`sign_credential` writes with an Ed25519 issuer key."""
_SIG1_OPENING = b"\x84\x6aSignature1"


def read_signed(data: bytes) -> Signed:
    """The parts of a credential's COSE_Sign1, strictly; :class:`~ecert_token.codec.cose.COSEError`
    if ``data`` is not one of this format's shape.

    This is on the terminal's uncached path.  The layout :func:`sign_credential`
    writes with an Ed25519 key (shortest headings, ``{1: -8, 4: kid}``, empty
    unprotected header, a 64-byte signature last) is read by slicing, which gives
    exactly what ``cose.decode_sign1`` answers for it; anything else is left to
    ``cose.decode_sign1``, which decides.
    """
    n = len(data)
    if n > 80 and data[0] == 0xD2 and data[1] == 0x84 and data[3:7] == _EDDSA_HEADER:
        k = data[7] - 0x40  # kid length
        i = 9 + k  # the payload's heading
        if 1 <= k <= MAX_KID_BYTES and data[2] == 0x45 + k and data[8 + k] == 0xA0:
            h = data[i]
            if h == 0x58 and data[i + 1] >= 24:
                start = i + 2
                end = start + data[i + 1]
            elif h == 0x59 and data[i + 1]:
                start = i + 3
                end = start + (data[i + 1] << 8 | data[i + 2])
            else:
                start = end = 0
            if end and end + 66 == n and data[end] == 0x58 and data[end + 1] == 0x40:
                return (ALG_EDDSA, data[8:8 + k], data[start:end], data[end + 2:],
                        b"".join((_SIG1_OPENING, data[2:8 + k], b"\x40", data[i:end])))
    message = cose.decode_sign1(data)
    return (message.header.alg, message.header.kid, message.payload, message.signature,
            cose.sig_structure(message.protected, message.payload))


@dataclass(frozen=True, slots=True)
class CredentialFile:
    """What the phone keeps: the sealed blob and its own readable fields.

    ``kind`` is ``"credential"`` (the holder's own) or ``"delegation"`` (a
    family member's, shown by the holder's device).
    """

    sealed: bytes
    kind: str
    credential_id: str
    expires_at: int
    status_uri: str
    status_idx: int
    actor_id: str | None = None
    handle_key: bytes | None = field(default=None, repr=False)

    @classmethod
    def of(cls, sealed: bytes, claims: HolderClaims, handle_key: bytes | None = None,
           status_uri: str | None = None) -> CredentialFile:
        """The file of a credential; ``status_uri`` names the list that carries it when
        the credential itself does not (a compact status reference, version 2)."""
        uri = claims.status.uri or status_uri
        if uri is None:
            raise InvalidArgument("a credential file names its status list")
        return cls(sealed, "delegation" if claims.is_delegation else "credential",
                   claims.credential_id, claims.expires_at, uri,
                   claims.status.idx, claims.actor_id, handle_key)

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "format": FILE_FORMAT,
            "kind": self.kind,
            "credential": b64url(self.sealed),
            "credential_id": self.credential_id,
            "actor_id": self.actor_id,
            "expires_at": self.expires_at,
            "status": {"uri": self.status_uri, "idx": self.status_idx},
        }
        if self.handle_key is not None:
            out["handle_key"] = b64url(self.handle_key)
        return out

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the file atomically (0600: it is the phone's private data)."""
        data = (json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n").encode()
        try:
            write_file(Path(path), data, 0o600)
        except OSError:
            raise InvalidArgument("cannot write the credential file") from None

    @classmethod
    def load(cls, path: Path) -> CredentialFile:
        try:
            value = json.loads(path.read_bytes())
        except (OSError, ValueError, RecursionError):
            raise InvalidArgument("cannot read the credential file") from None
        try:
            status = value["status"]
            kind = value["kind"]
            if value["format"] != FILE_FORMAT or kind not in ("credential", "delegation"):
                raise TypeError
            fields = (value["credential_id"], value["expires_at"], status["uri"], status["idx"])
            if not (isinstance(fields[0], str) and type(fields[1]) is int
                    and isinstance(fields[2], str) and type(fields[3]) is int):
                raise TypeError
            actor = value.get("actor_id")
            if actor is not None and not isinstance(actor, str):
                raise TypeError
            sealed = b64url_decode(value["credential"])
            handle_key = value.get("handle_key")
            if handle_key is not None:
                handle_key = b64url_decode(handle_key)
                if len(handle_key) != HANDLE_KEY_BYTES:
                    raise TypeError
        except (KeyError, TypeError, EcertError):
            raise InvalidArgument("not a holder credential file") from None
        return cls(sealed, kind, fields[0], fields[1], fields[2], fields[3], actor, handle_key)
