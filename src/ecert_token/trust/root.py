"""The national root key: signs trust lists and nothing else.

Purpose separation is in the types: a :class:`TrustRoot` (the pinned public
key) is accepted only by trust-list verification, and a
:class:`RootSigningKey` only by trust-list signing; neither is an
``IssuerVerifyKey``, so neither can enter a :class:`TrustStore` or verify a
token.  The wire keeps them apart too (see :mod:`ecert_token.trust.envelope`).

Files: the private key is PKCS#8 PEM (0600, optional passphrase); the pinned
public key is an Ed25519 OKP COSE_Key, the file a terminal ships with.

The root may be an SM2 key instead (``RootSigningKey.generate(suite=Suite.SM)``,
``ecert trust keygen --suite sm``), so that an SM-only deployment signs its trust
lists with SM2 over SM3 too: its private key is an ``EC``/``SM2`` JWK with ``d``
(0600), or with a passphrase a PBES2-encrypted PKCS#8 PEM (keys/pkcs8.py), and its
pinned public key an SM2 EC2 COSE_Key.  The
envelope names the root's algorithm, and a list is verified only with the
algorithm of the pinned root.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..codec import cbor
from ..crypto.ed25519 import Ed25519PrivateKey, thumbprint_kid
from ..crypto.sm2 import SM2PrivateKey
from ..errors import ErrorCode, InvalidArgument, KeyMaterialError
from ..keys.cose_key import issuer_public_cose_map, load_map, public_from_map
from ..keys.files import private_from_pem, private_to_pem, read_private, write_file
from ..keys.jwk import sm2_private_from_jwk, sm2_private_jwk
from ..keys.material import (
    KID_BYTES,
    IssuerVerifyKey,
    PrivateKey,
    PublicKey,
    signature_alg,
    validate_kid,
)
from ..keys.suite import Suite


@dataclass(frozen=True, slots=True)
class TrustRoot:
    """The pinned public root key a terminal verifies trust lists against."""

    kid: bytes
    public_key: PublicKey

    def __post_init__(self) -> None:
        validate_kid(self.kid)
        signature_alg(self.public_key)  # Ed25519 or SM2, else InvalidArgument

    @property
    def alg(self) -> int:
        """The COSE alg its trust lists are signed with: -8 (EdDSA) or -65537 (SM2)."""
        return signature_alg(self.public_key)

    def to_cose_key(self) -> bytes:
        # The same map as an issuer key of the same algorithm (OKP or EC2).
        return cbor.dumps(issuer_public_cose_map(IssuerVerifyKey("root", self.kid,
                                                                 self.public_key)))

    @classmethod
    def from_cose_key(cls, data: bytes) -> TrustRoot:
        """Import a pinned root COSE_Key (validated: no weak points, no private part)."""
        kid, public = public_from_map(load_map(data))
        return cls(kid, public)


@dataclass(frozen=True, slots=True, repr=False)
class RootSigningKey:
    """The national root's private key; keep it offline."""

    kid: bytes
    private_key: PrivateKey

    def __post_init__(self) -> None:
        validate_kid(self.kid)
        if not isinstance(self.private_key, Ed25519PrivateKey | SM2PrivateKey):
            raise InvalidArgument("private_key must be an Ed25519PrivateKey or SM2PrivateKey")

    @classmethod
    def generate(
        cls, random_bytes: Callable[[int], bytes] = os.urandom, *,
        suite: Suite = Suite.ED25519,
    ) -> RootSigningKey:
        """A new root key: Ed25519, or SM2 for the SM suite."""
        private: PrivateKey = (SM2PrivateKey.generate(random_bytes)
                               if Suite.parse(suite) is Suite.SM
                               else Ed25519PrivateKey(random_bytes(32)))
        return cls(thumbprint_kid(private.public_key.raw, KID_BYTES), private)

    @property
    def alg(self) -> int:
        return signature_alg(self.private_key.public_key)

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
    """Private key as PKCS#8 PEM, encrypted with a passphrase (an SM2 root without one: an
    SM2 JWK) (0600), pinned public key as COSE_Key (0644)."""
    private = key.private_key
    if isinstance(private, SM2PrivateKey) and not passphrase:
        data = (json.dumps(sm2_private_jwk(key.kid, private), indent=2, sort_keys=True)
                + "\n").encode()
    else:
        data = private_to_pem(private, passphrase)
    write_file(Path(private_path), data, 0o600)
    write_file(Path(public_path), key.root.to_cose_key(), 0o644)


def load_root_signing_key(
    path: str | os.PathLike[str], passphrase: bytes | None = None
) -> RootSigningKey:
    """The root key of ``save_root``'s private file (PKCS#8 PEM of either suite, or an
    SM2 JWK)."""
    data = read_private(Path(path))
    private: PrivateKey
    if data.lstrip()[:1] == b"{":
        try:
            jwk = json.loads(data)
        except (ValueError, RecursionError):
            raise KeyMaterialError(ErrorCode.KEY_FILE, "not an SM2 JWK") from None
        _, private = sm2_private_from_jwk(jwk)
    else:
        private = private_from_pem(data, passphrase)
    return RootSigningKey(thumbprint_kid(private.public_key.raw, KID_BYTES), private)


def load_trust_root(path: str | os.PathLike[str]) -> TrustRoot:
    try:
        data = Path(path).read_bytes()
    except OSError:
        raise KeyMaterialError(ErrorCode.KEY_FILE, f"cannot read {Path(path).name}") from None
    return TrustRoot.from_cose_key(data)
