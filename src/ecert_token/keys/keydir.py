"""A key directory: what ``ecert keygen`` writes and ``mint``/``verify`` read.

Layout (one issuer key and one verifier-group key)::

    manifest.json         issuer, group, kids, regions (public, 0644)
    issuer.key.pem        issuer's Ed25519 private key, PKCS#8 PEM (0600)
    issuer.pub.jwk.json   issuer's public key, RFC 8037 OKP JWK (0644)
    group.key.jwk.json    verifier group's AES-CCM key, oct JWK (0600)
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..crypto.ed25519 import Ed25519PrivateKey, thumbprint_kid
from ..errors import ErrorCode, KeyMaterialError
from .files import ed25519_from_pem, ed25519_to_pem, read_private, write_file
from .jwk import b64url, b64url_decode, group_key_from_jwk, group_key_jwk, issuer_public_jwk
from .material import KID_BYTES, GroupKey, IssuerSigningKey, validate_regions
from .trust_store import TrustStore

FORMAT = "ecert-keydir/1"
MANIFEST = "manifest.json"
ISSUER_PEM = "issuer.key.pem"
ISSUER_JWK = "issuer.pub.jwk.json"
GROUP_JWK = "group.key.jwk.json"


@dataclass(frozen=True, slots=True)
class KeyDir:
    """The keys of one directory: enough to mint (issuer + group) and to verify."""

    signing_key: IssuerSigningKey
    group_key: GroupKey

    def trust_store(self) -> TrustStore:
        return TrustStore([self.signing_key.public], [self.group_key])


def generate(
    issuer: str = "NHSA",
    group: str = "national",
    regions: frozenset[str] | None = None,
    random_bytes: Callable[[int], bytes] = os.urandom,
) -> KeyDir:
    """New keys: an Ed25519 issuer key (kid from its thumbprint) and an AEAD group key."""
    private = Ed25519PrivateKey(random_bytes(32))
    signing = IssuerSigningKey(
        issuer, thumbprint_kid(private.public_key.raw, KID_BYTES), private,
        validate_regions(regions),
    )
    group_key = GroupKey(group, random_bytes(KID_BYTES), random_bytes(16))
    return KeyDir(signing, group_key)


def save(keys: KeyDir, directory: Path, passphrase: bytes | None = None) -> None:
    """Write the key directory; private files get mode 0600."""
    directory.mkdir(parents=True, exist_ok=True)
    sk = keys.signing_key
    manifest = {
        "format": FORMAT,
        "issuer": sk.issuer,
        "issuer_kid": b64url(sk.kid),
        "regions": sorted(sk.regions) if sk.regions is not None else None,
        "group": keys.group_key.group,
        "group_kid": b64url(keys.group_key.kid),
        "encrypted": passphrase is not None,
    }
    dump = lambda obj: (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode()  # noqa: E731
    write_file(directory / ISSUER_PEM, ed25519_to_pem(sk.private_key, passphrase), 0o600)
    write_file(directory / GROUP_JWK, dump(group_key_jwk(keys.group_key)), 0o600)
    write_file(directory / ISSUER_JWK, dump(issuer_public_jwk(sk.public)), 0o644)
    write_file(directory / MANIFEST, dump(manifest), 0o644)


def load(directory: Path, passphrase: bytes | None = None) -> KeyDir:
    """Read a key directory, refusing private files that others may read."""
    try:
        manifest = json.loads((directory / MANIFEST).read_text("utf-8"))
    except (OSError, ValueError):
        raise KeyMaterialError(ErrorCode.KEY_FILE, "cannot read manifest.json") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise KeyMaterialError(ErrorCode.KEY_FILE, "manifest.json is not an ecert key directory")
    private = ed25519_from_pem(read_private(directory / ISSUER_PEM), passphrase)
    kid = b64url_decode(manifest.get("issuer_kid"))
    if kid != thumbprint_kid(private.public_key.raw, len(kid)):
        raise KeyMaterialError(ErrorCode.KEY_FILE, "issuer kid does not match the key")
    raw_regions = manifest.get("regions")
    if raw_regions is not None and not isinstance(raw_regions, list):
        raise KeyMaterialError(ErrorCode.KEY_FILE, "regions must be a list or null")
    regions = frozenset(raw_regions) if raw_regions is not None else None
    signing = IssuerSigningKey(manifest.get("issuer"), kid, private, validate_regions(regions))
    try:
        group_jwk = json.loads(read_private(directory / GROUP_JWK))
    except ValueError:
        raise KeyMaterialError(ErrorCode.KEY_FILE, "group key is not JSON") from None
    group = group_key_from_jwk(group_jwk, manifest.get("group"))
    return KeyDir(signing, group)
