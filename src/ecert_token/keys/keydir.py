"""A key directory: what ``ecert keygen`` writes, ``ecert keys rotate`` updates, and
``mint``/``verify`` read.

It holds one issuer's key ring and one verifier group's key ring.  Layout::

    manifest.json                      issuer, group, every key's kid, state,
                                       window and regions (public, 0644)
    issuer-<kid hex>.key.pem           an issuer Ed25519 private key, PKCS#8 PEM (0600)
    issuer-<kid hex>.key.jwk.json      or an issuer SM2 private key, EC/SM2 JWK (0600); an SM2
                                       key saved with a passphrase is issuer-<kid>.key.pem
                                       instead, encrypted PKCS#8 (keys/pkcs8.py)
    issuer-<kid hex>.pub.jwk.json      its public key, RFC 8037 OKP JWK or EC/SM2 JWK (0644)
    group-<kid hex>.key.cose           a group AES-CCM or SM4 key, COSE_Key (0600)

A manifest issuer entry of an SM2 key says ``"alg": "SM2-SM3"`` (no ``alg``
means Ed25519); ``ecert keygen --suite sm`` makes an SM2 issuer key and an
SM4-CCM group key, and rotation keeps each ring's algorithm.  With a
passphrase, SM2 private keys are written as PBES2-encrypted PKCS#8, as
Ed25519 keys are (cryptography has no SM2 PKCS#8: keys/pkcs8.py writes it).

The current primary pair is also written under fixed names, for tools that
read one key and speak JOSE (python-cwt, the interop tests, other languages):
``issuer.key.pem`` (``issuer.key.jwk.json`` for SM2), ``issuer.pub.jwk.json``
and ``group.key.jwk.json`` (an ``oct`` JWK, 0600), and the manifest repeats it as ``issuer_kid``,
``group_kid`` and ``regions``.  :func:`load` reads only the per-kid files.
Kids are lowercase hex in the manifest as in file names and CLI output; the
base64url kids of manifests written before 0.2 are still read.
Every path parameter takes a ``str`` or a :class:`~pathlib.Path`.
Files of keys no longer in the manifest are ignored (delete them after pruning).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..crypto.ed25519 import ALG_EDDSA, Ed25519PrivateKey, thumbprint_kid
from ..crypto.sm2 import ALG_SM2_SM3, SM2PrivateKey
from ..errors import EcertError, ErrorCode, KeyMaterialError
from .cose_key import group_key_from_cose_key, group_key_to_cose_key
from .files import private_from_pem, private_to_pem, read_private, write_file
from .jwk import (
    group_key_jwk,
    issuer_public_from_jwk,
    issuer_public_jwk,
    sm2_private_from_jwk,
    sm2_private_jwk,
)
from .kids import kid_candidates, kid_text
from .material import (
    ALWAYS,
    KID_BYTES,
    GroupKey,
    IssuerSigningKey,
    IssuerVerifyKey,
    KeyState,
    PrivateKey,
    Validity,
    validate_regions,
)
from .ring import KeyRing
from .suite import ALG_NAMES, Suite
from .trust_store import TrustStore

FORMAT = "ecert-keydir/1"
MANIFEST = "manifest.json"
ISSUER_PEM = "issuer.key.pem"
ISSUER_SM2 = "issuer.key.jwk.json"
ISSUER_JWK = "issuer.pub.jwk.json"
GROUP_JWK = "group.key.jwk.json"
RandomBytes = Callable[[int], bytes]


def issuer_pem_name(kid: bytes) -> str:
    return f"issuer-{kid.hex()}.key.pem"


def issuer_sm2_name(kid: bytes) -> str:
    return f"issuer-{kid.hex()}.key.jwk.json"


def issuer_jwk_name(kid: bytes) -> str:
    return f"issuer-{kid.hex()}.pub.jwk.json"


def group_key_name(kid: bytes) -> str:
    return f"group-{kid.hex()}.key.cose"


def new_issuer_key(
    issuer: str,
    regions: frozenset[str] | None = None,
    random_bytes: RandomBytes = os.urandom,
    validity: Validity = ALWAYS,
    state: KeyState = KeyState.PRIMARY,
    *,
    suite: Suite = Suite.ED25519,
) -> IssuerSigningKey:
    """A fresh issuer key of ``suite`` (Ed25519 or SM2); its kid is derived from the
    public key."""
    private: PrivateKey = (SM2PrivateKey.generate(random_bytes) if Suite.parse(suite) is Suite.SM
                           else Ed25519PrivateKey(random_bytes(32)))
    return IssuerSigningKey(
        issuer, thumbprint_kid(private.public_key.raw, KID_BYTES), private,
        validate_regions(regions), validity, state,
    )


def new_group_key(
    group: str,
    random_bytes: RandomBytes = os.urandom,
    validity: Validity = ALWAYS,
    state: KeyState = KeyState.PRIMARY,
    *,
    alg: int = Suite.ED25519.group_alg,
) -> GroupKey:
    """A fresh group key (AES-CCM-16-64-128 unless ``alg`` names an SM4 AEAD), random kid."""
    return GroupKey(group, random_bytes(KID_BYTES), random_bytes(16), validity, state, alg)


@dataclass(frozen=True, slots=True)
class KeyDir:
    """One issuer's key ring and one verifier group's key ring."""

    issuer_ring: KeyRing[IssuerSigningKey]
    group_ring: KeyRing[GroupKey]

    @classmethod
    def of(cls, signing_key: IssuerSigningKey, group_key: GroupKey) -> KeyDir:
        """A directory with one key of each kind."""
        return cls(KeyRing([signing_key]), KeyRing([group_key]))

    @property
    def signing_key(self) -> IssuerSigningKey:
        """The issuer's primary key (the one that mints)."""
        return self.issuer_ring.primary

    @property
    def group_key(self) -> GroupKey:
        """The group's primary key (the one minters encrypt to)."""
        return self.group_ring.primary

    def trust_store(self) -> TrustStore:
        """Every public issuer key and every group key of the directory, states included."""
        return TrustStore([k.public for k in self.issuer_ring], self.group_ring.keys)

    def rotate_issuer(
        self, now: int, random_bytes: RandomBytes = os.urandom,
        regions: frozenset[str] | None = None,
    ) -> KeyDir:
        """A new primary issuer key (same regions unless given); the old one verifies only."""
        old = self.issuer_ring.primary
        new = new_issuer_key(
            old.issuer, old.regions if regions is None else regions, random_bytes,
            Validity(now, None), suite=_suite_of(old),
        )
        return KeyDir(self.issuer_ring.rotate(new, now), self.group_ring)

    def rotate_group(self, now: int, random_bytes: RandomBytes = os.urandom) -> KeyDir:
        """A new primary group key; the old one still decrypts the tokens made before."""
        old = self.group_ring.primary
        new = new_group_key(old.group, random_bytes, Validity(now, None), alg=old.alg)
        return KeyDir(self.issuer_ring, self.group_ring.rotate(new, now))

    def revoke(self, kid: bytes) -> KeyDir:
        """Revoke the issuer or group key with ``kid``."""
        if kid in self.issuer_ring:
            return KeyDir(self.issuer_ring.revoke(kid), self.group_ring)
        return KeyDir(self.issuer_ring, self.group_ring.revoke(kid))


def generate(
    issuer: str = "NHSA",
    group: str = "national",
    regions: frozenset[str] | None = None,
    random_bytes: RandomBytes = os.urandom,
    *,
    suite: Suite = Suite.ED25519,
) -> KeyDir:
    """New keys of ``suite``: an issuer key (kid from its thumbprint; Ed25519, or SM2 for
    the SM suite) and a group key (AES-CCM-16-64-128, or SM4-CCM-16-64-128)."""
    suite = Suite.parse(suite)
    signing = new_issuer_key(issuer, regions, random_bytes, suite=suite)
    return KeyDir.of(signing, new_group_key(group, random_bytes, alg=suite.group_alg))


def _suite_of(key: IssuerSigningKey) -> Suite:
    return Suite.SM if isinstance(key.private_key, SM2PrivateKey) else Suite.ED25519


def _private_file(key: IssuerSigningKey, passphrase: bytes | None) -> tuple[str, str, bytes]:
    """``(per-kid name, fixed name, bytes)`` of an issuer private key's file.

    Ed25519 keys, and SM2 keys with a passphrase, are PKCS#8 PEM (encrypted
    with PBES2 when a passphrase is given; keys/pkcs8.py writes SM2's, which
    OpenSSL 3 reads); an SM2 key without a passphrase is an EC/SM2 JWK with
    ``d``, as before, for tools that read JWK.
    """
    private = key.private_key
    if isinstance(private, SM2PrivateKey) and not passphrase:
        return issuer_sm2_name(key.kid), ISSUER_SM2, _dump(sm2_private_jwk(key.kid, private))
    return issuer_pem_name(key.kid), ISSUER_PEM, private_to_pem(private, passphrase)


def _other_private_name(name: str, kid: bytes) -> str:
    """The per-kid private file of the other format, removed when this one is written (a
    key saved again with a passphrase must not leave its plain copy behind)."""
    return issuer_pem_name(kid) if name == issuer_sm2_name(kid) else issuer_sm2_name(kid)


def _window(v: Validity) -> dict[str, int | None]:
    return {"not_before": v.not_before, "not_after": v.not_after}


def _dump(obj: object) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode()


def save(
    keys: KeyDir, directory: str | os.PathLike[str], passphrase: bytes | None = None
) -> None:
    """Write the key directory; private files get mode 0600, the manifest last."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    issuer_entries: list[dict[str, object]] = []
    for sk in keys.issuer_ring:
        name, _, data = _private_file(sk, passphrase)
        write_file(directory / name, data, 0o600)
        (directory / _other_private_name(name, sk.kid)).unlink(missing_ok=True)
        write_file(directory / issuer_jwk_name(sk.kid), _dump(issuer_public_jwk(sk.public)), 0o644)
        entry: dict[str, object] = {
            "kid": kid_text(sk.kid), "state": sk.state.value, **_window(sk.validity),
            "regions": sorted(sk.regions) if sk.regions is not None else None,
        }
        if sk.public.alg != ALG_EDDSA:
            entry["alg"] = ALG_NAMES[sk.public.alg]
        issuer_entries.append(entry)
    group_entries: list[dict[str, object]] = []
    for gk in keys.group_ring:
        write_file(directory / group_key_name(gk.kid), group_key_to_cose_key(gk), 0o600)
        group_entries.append({"kid": kid_text(gk.kid), "state": gk.state.value,
                              **_window(gk.validity)})
    manifest: dict[str, object] = {
        "format": FORMAT,
        "issuer": keys.issuer_ring.owner,
        "group": keys.group_ring.owner,
        "issuer_keys": issuer_entries,
        "group_keys": group_entries,
        "encrypted": passphrase is not None,
    }
    manifest.update(_save_primary_pair(keys, directory, passphrase))
    write_file(directory / MANIFEST, _dump(manifest), 0o644)


def _save_primary_pair(
    keys: KeyDir, directory: Path, passphrase: bytes | None
) -> dict[str, object]:
    """Write (or remove) the fixed-name copies of the primary keys; return manifest fields."""
    fields: dict[str, object] = {}
    issuer = [k for k in keys.issuer_ring if k.state is KeyState.PRIMARY]
    if issuer:
        sk = issuer[0]
        _, name, data = _private_file(sk, passphrase)
        write_file(directory / name, data, 0o600)
        # The other suite's fixed-name private file, if a rotation changed the suite.
        (directory / (ISSUER_PEM if name == ISSUER_SM2 else ISSUER_SM2)).unlink(missing_ok=True)
        write_file(directory / ISSUER_JWK, _dump(issuer_public_jwk(sk.public)), 0o644)
        fields["issuer_kid"] = kid_text(sk.kid)
        fields["regions"] = sorted(sk.regions) if sk.regions is not None else None
    else:
        (directory / ISSUER_PEM).unlink(missing_ok=True)
        (directory / ISSUER_SM2).unlink(missing_ok=True)
        (directory / ISSUER_JWK).unlink(missing_ok=True)
    group = [k for k in keys.group_ring if k.state is KeyState.PRIMARY]
    if group:
        write_file(directory / GROUP_JWK, _dump(group_key_jwk(group[0])), 0o600)
        fields["group_kid"] = kid_text(group[0].kid)
    else:
        (directory / GROUP_JWK).unlink(missing_ok=True)
    return fields


def _manifest_kid(text: object, directory: Path, file_name: Callable[[bytes], str]) -> bytes:
    """The kid a manifest entry spells (hex, or the base64url of older directories).

    When the text reads both ways, the kid whose key file is present wins.
    """
    candidates = kid_candidates(text)
    if not candidates:
        raise KeyMaterialError(ErrorCode.KEY_FILE, "manifest kid is neither hex nor base64url")
    present = [kid for kid in candidates if (directory / file_name(kid)).exists()]
    return (present or [k for k in candidates if len(k) == KID_BYTES] or list(candidates))[0]


def _entry_binding(
    entry: object, directory: Path, file_name: Callable[[bytes], str]
) -> tuple[dict[str, Any], bytes, KeyState, Validity]:
    if not isinstance(entry, dict):
        raise KeyMaterialError(ErrorCode.KEY_FILE, "manifest key entries are objects")
    try:
        state = KeyState(str(entry.get("state")))
        validity = Validity(entry.get("not_before"), entry.get("not_after"))
    except (ValueError, EcertError):
        raise KeyMaterialError(ErrorCode.KEY_FILE, "manifest key entry is invalid") from None
    return entry, _manifest_kid(entry.get("kid"), directory, file_name), state, validity


def _regions(raw: object) -> frozenset[str] | None:
    if raw is None:
        return None
    if not isinstance(raw, list) or not all(isinstance(r, str) for r in raw):
        raise KeyMaterialError(ErrorCode.KEY_FILE, "regions must be a list or null")
    try:
        return validate_regions(frozenset(raw))
    except EcertError:
        raise KeyMaterialError(ErrorCode.KEY_FILE, "regions are not province prefixes") from None


def _list(manifest: dict[str, Any], name: str) -> list[object]:
    value = manifest.get(name)
    if not isinstance(value, list):
        raise KeyMaterialError(ErrorCode.KEY_FILE, f"manifest.json has no {name} list")
    return value


def _manifest(directory: Path) -> tuple[dict[str, Any], str, str]:
    try:
        manifest = json.loads((directory / MANIFEST).read_text("utf-8"))
    except (OSError, ValueError, RecursionError):
        raise KeyMaterialError(
            ErrorCode.KEY_FILE, f"cannot read {MANIFEST} (is {directory.name}/ a key directory?)"
        ) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise KeyMaterialError(ErrorCode.KEY_FILE, "manifest.json is not an ecert key directory")
    issuer, group = manifest.get("issuer"), manifest.get("group")
    if not isinstance(issuer, str) or not isinstance(group, str):
        raise KeyMaterialError(ErrorCode.KEY_FILE, "manifest.json names no issuer or group")
    return manifest, issuer, group


@dataclass(frozen=True, slots=True)
class PublicKeyDir:
    """What a key directory says publicly: issuer public keys, group key descriptors.

    Read without any private file (for building a trust list on a machine
    that holds no secrets).  ``group_keys`` are ``(kid, state, validity)``.
    """

    issuer_keys: tuple[IssuerVerifyKey, ...]
    group: str
    group_keys: tuple[tuple[bytes, KeyState, Validity], ...]


def load_public(directory: str | os.PathLike[str]) -> PublicKeyDir:
    """The public half of a key directory: manifest and public JWK files only."""
    directory = Path(directory)
    manifest, issuer, group = _manifest(directory)
    issuers: list[IssuerVerifyKey] = []
    for raw in _list(manifest, "issuer_keys"):
        entry, kid, state, validity = _entry_binding(raw, directory, issuer_jwk_name)
        try:
            jwk = json.loads((directory / issuer_jwk_name(kid)).read_text("utf-8"))
        except (OSError, ValueError, RecursionError):
            raise KeyMaterialError(ErrorCode.KEY_FILE, "cannot read an issuer public key") from None
        key = issuer_public_from_jwk(jwk, issuer, _regions(entry.get("regions")), validity, state)
        if key.kid != kid or kid != thumbprint_kid(key.public_key.raw, len(kid)):
            raise KeyMaterialError(ErrorCode.KEY_FILE, "issuer kid does not match the key")
        issuers.append(key)
    groups = tuple(_entry_binding(raw, directory, group_key_name)[1:]
                   for raw in _list(manifest, "group_keys"))
    return PublicKeyDir(tuple(issuers), group, groups)


def _read_issuer_private(
    directory: Path, entry: dict[str, Any], kid: bytes, passphrase: bytes | None
) -> PrivateKey:
    """The private key of a manifest issuer entry: PKCS#8 PEM (Ed25519, or SM2 saved with
    a passphrase), or an SM2 JWK file."""
    alg = entry.get("alg", ALG_NAMES[ALG_EDDSA])
    if alg not in (ALG_NAMES[ALG_EDDSA], ALG_NAMES[ALG_SM2_SM3]):
        raise KeyMaterialError(ErrorCode.KEY_FILE, "manifest names an unknown issuer alg")
    sm2 = alg == ALG_NAMES[ALG_SM2_SM3]
    if not sm2 or (directory / issuer_pem_name(kid)).exists():
        private = private_from_pem(read_private(directory / issuer_pem_name(kid)), passphrase)
        if isinstance(private, SM2PrivateKey) is not sm2:
            raise KeyMaterialError(ErrorCode.KEY_FILE, "the key file is not the manifest's alg")
        return private
    try:
        jwk = json.loads(read_private(directory / issuer_sm2_name(kid)))
    except (ValueError, RecursionError):
        raise KeyMaterialError(ErrorCode.KEY_FILE, "cannot read an SM2 private key") from None
    jwk_kid, private = sm2_private_from_jwk(jwk)
    if jwk_kid != kid:
        raise KeyMaterialError(ErrorCode.KEY_FILE, "issuer kid does not match the key")
    return private


def load(directory: str | os.PathLike[str], passphrase: bytes | None = None) -> KeyDir:
    """Read a key directory, refusing private files that others may read."""
    directory = Path(directory)
    manifest, issuer, group = _manifest(directory)
    signing: list[IssuerSigningKey] = []
    for raw in _list(manifest, "issuer_keys"):
        # Every issuer key has a public JWK file, whatever its private file's format.
        entry, kid, state, validity = _entry_binding(raw, directory, issuer_jwk_name)
        private = _read_issuer_private(directory, entry, kid, passphrase)
        if kid != thumbprint_kid(private.public_key.raw, len(kid)):
            raise KeyMaterialError(ErrorCode.KEY_FILE, "issuer kid does not match the key")
        signing.append(IssuerSigningKey(
            issuer, kid, private, _regions(entry.get("regions")), validity, state))
    groups: list[GroupKey] = []
    for raw in _list(manifest, "group_keys"):
        _, kid, state, validity = _entry_binding(raw, directory, group_key_name)
        gk = group_key_from_cose_key(read_private(directory / group_key_name(kid)),
                                     group, validity, state)
        if gk.kid != kid:
            raise KeyMaterialError(ErrorCode.KEY_FILE, "group kid does not match the key")
        groups.append(gk)
    return KeyDir(KeyRing(signing), KeyRing(groups))
