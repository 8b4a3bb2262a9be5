"""The national root key: signs trust lists and nothing else.

Purpose separation is in the types: a :class:`TrustRoot` (the pinned public
key) is accepted only by trust-list verification, and a
:class:`RootSigningKey` only by trust-list signing; neither is an
``IssuerVerifyKey``, so neither can enter a :class:`TrustStore` or verify a
token.  The wire keeps them apart too (see :mod:`ecert_token.trust.envelope`).

Files: the private key is PKCS#8 PEM (0600, optional passphrase); the pinned
public key is an Ed25519 OKP COSE_Key, the file a terminal ships with.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..codec import cbor
from ..crypto.ed25519 import ALG_EDDSA, Ed25519PrivateKey, Ed25519PublicKey, thumbprint_kid
from ..errors import ErrorCode, InvalidArgument, KeyMaterialError
from ..keys.cose_key import ALG as KEY_ALG
from ..keys.cose_key import (
    CRV_ED25519,
    KID,
    KTY,
    KTY_OKP,
    OKP_CRV,
    OKP_X,
    load_map,
    okp_public_from_map,
)
from ..keys.files import ed25519_from_pem, ed25519_to_pem, read_private, write_file
from ..keys.material import KID_BYTES, validate_kid


@dataclass(frozen=True, slots=True)
class TrustRoot:
    """The pinned public root key a terminal verifies trust lists against."""

    kid: bytes
    public_key: Ed25519PublicKey

    def __post_init__(self) -> None:
        validate_kid(self.kid)
        if not isinstance(self.public_key, Ed25519PublicKey):
            raise InvalidArgument("public_key must be an Ed25519PublicKey")

    def to_cose_key(self) -> bytes:
        return cbor.dumps({KTY: KTY_OKP, KID: self.kid, KEY_ALG: ALG_EDDSA,
                           OKP_CRV: CRV_ED25519, OKP_X: self.public_key.raw})

    @classmethod
    def from_cose_key(cls, data: bytes) -> TrustRoot:
        """Import a pinned root COSE_Key (validated: no weak points, no private part)."""
        kid, public = okp_public_from_map(load_map(data))
        return cls(kid, public)


@dataclass(frozen=True, slots=True, repr=False)
class RootSigningKey:
    """The national root's private key; keep it offline."""

    kid: bytes
    private_key: Ed25519PrivateKey

    def __post_init__(self) -> None:
        validate_kid(self.kid)
        if not isinstance(self.private_key, Ed25519PrivateKey):
            raise InvalidArgument("private_key must be an Ed25519PrivateKey")

    @classmethod
    def generate(cls, random_bytes: Callable[[int], bytes] = os.urandom) -> RootSigningKey:
        private = Ed25519PrivateKey(random_bytes(32))
        return cls(thumbprint_kid(private.public_key.raw, KID_BYTES), private)

    @property
    def root(self) -> TrustRoot:
        """The public half to pin on terminals."""
        return TrustRoot(self.kid, self.private_key.public_key)

    def __repr__(self) -> str:
        return f"RootSigningKey(kid={self.kid.hex()})"


def save_root(
    key: RootSigningKey, private_path: str | os.PathLike[str],
    public_path: str | os.PathLike[str], passphrase: bytes | None = None,
) -> None:
    """Private key as PKCS#8 PEM (0600), pinned public key as COSE_Key (0644)."""
    write_file(Path(private_path), ed25519_to_pem(key.private_key, passphrase), 0o600)
    write_file(Path(public_path), key.root.to_cose_key(), 0o644)


def load_root_signing_key(
    path: str | os.PathLike[str], passphrase: bytes | None = None
) -> RootSigningKey:
    private = ed25519_from_pem(read_private(Path(path)), passphrase)
    return RootSigningKey(thumbprint_kid(private.public_key.raw, KID_BYTES), private)


def load_trust_root(path: str | os.PathLike[str]) -> TrustRoot:
    try:
        data = Path(path).read_bytes()
    except OSError:
        raise KeyMaterialError(ErrorCode.KEY_FILE, f"cannot read {Path(path).name}") from None
    return TrustRoot.from_cose_key(data)
