"""The phone's device key, Ed25519 or SM2: made on the device, the private half never leaves it.

Two objects, one for each side, whatever the suite:

* :class:`DeviceKey` (the phone): ``alg``, ``public_key`` and ``sign(message)``;
* :class:`DevicePublicKey` (the credential's ``cnf``, the terminal): ``alg``,
  ``raw``, ``verify(signature, message)`` and ``verify_signed(signature ||
  message)``, plus its COSE_Key (``cnf``), JWK and registry forms.

Everything that signs as the device (presentations, delegated presentations,
challenge answers, payment bindings) calls ``DeviceKey.sign``; everything that
checks such a signature calls the cnf key's ``verify``: the algorithm is the
key's, bound by the issuer in the credential, never chosen by what is shown.

===========  ==========  =====================================================
suite        COSE alg    signature
===========  ==========  =====================================================
Ed25519      -8 (EdDSA)  Ed25519 (RFC 8032), 64 bytes
SM           -65537      SM2 over SM3 with the default signer ID
                         ``1234567812345678`` (GB/T 32918.2), raw ``r || s``,
                         64 bytes (docs/sm-suite.md)
===========  ==========  =====================================================

Layout of a device directory (``ecert device keygen --out DIR [--suite sm]``)::

    device.key.pem        PKCS#8 PEM private key (0600), optionally passphrase-encrypted
    device.pub.jwk.json   its public key (0644), sent at activation: an OKP/Ed25519 JWK,
                          or an EC/SM2 JWK (``x``, ``y``, ``alg: SM2-SM3``)

On a real phone the private key lives in the secure element / keystore; the
files are the SDK's stand-in for it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..crypto.ed25519 import (
    ALG_EDDSA,
    SIGNATURE_BYTES,
    Ed25519PrivateKey,
    Ed25519PublicKey,
    signature_valid,
    thumbprint_kid,
)
from ..crypto.sm2 import ALG_SM2_SM3, COMPRESSED_BYTES, DEFAULT_ID, SM2PrivateKey, SM2PublicKey
from ..errors import ErrorCode, InvalidArgument, KeyMaterialError
from ..keys.files import private_from_pem, private_to_pem, read_private, write_file
from ..keys.jwk import b64url, b64url_decode
from ..keys.suite import ALG_NAMES, Suite

__all__ = [
    "PRIVATE_FILE",
    "PUBLIC_FILE",
    "DeviceKey",
    "DevicePublicKey",
    "device_public_jwk",
    "load_device",
    "load_device_public",
    "new_device_key",
    "save_device",
]

PRIVATE_FILE = "device.key.pem"
PUBLIC_FILE = "device.pub.jwk.json"
ED25519_BYTES = 32
DEVICE_ALGS = frozenset({ALG_EDDSA, ALG_SM2_SM3})
RandomBytes = Callable[[int], bytes]


class DevicePublicKey:
    """A device's public key: what a credential's ``cnf`` binds and a terminal checks with.

    ``alg`` is the COSE algorithm (-8 EdDSA or -65537 SM2-SM3); ``raw`` is
    the key (Ed25519: 32 bytes; SM2: ``x || y``, 64 bytes).  Keys are
    validated when made (Ed25519: a prime-order point; SM2: on the curve).
    Immutable, equal by ``(alg, raw)``.
    """

    __slots__ = ("_sm2", "alg", "raw")

    alg: int
    raw: bytes
    _sm2: SM2PublicKey | None

    def __init__(self, alg: int, raw: bytes) -> None:
        if alg == ALG_EDDSA:
            sm2 = None
            Ed25519PublicKey(raw)  # validates
        elif alg == ALG_SM2_SM3:
            sm2 = SM2PublicKey(raw)
        else:
            raise InvalidArgument("a device key is Ed25519 (-8) or SM2 (-65537)")
        self._set(alg, raw, sm2)

    def _set(self, alg: int, raw: bytes, sm2: SM2PublicKey | None) -> None:
        object.__setattr__(self, "alg", alg)
        object.__setattr__(self, "raw", raw)
        object.__setattr__(self, "_sm2", sm2)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("DevicePublicKey is immutable")

    @classmethod
    def of(cls, public: Ed25519PublicKey | SM2PublicKey) -> DevicePublicKey:
        """The device key of an already validated Ed25519 or SM2 (default ID) public key."""
        key = cls.__new__(cls)
        if isinstance(public, Ed25519PublicKey):
            key._set(ALG_EDDSA, public.raw, None)
        elif isinstance(public, SM2PublicKey) and public.uid == DEFAULT_ID:
            key._set(ALG_SM2_SM3, public.raw, public)
        else:
            raise InvalidArgument("a device key is Ed25519 or SM2 with the default signer ID")
        return key

    @classmethod
    def ed25519(cls, raw: bytes) -> DevicePublicKey:
        return cls(ALG_EDDSA, raw)

    @classmethod
    def unchecked_ed25519(cls, raw: bytes) -> DevicePublicKey:
        """An Ed25519 key of 32 bytes taken as they are: for a key read from an
        issuer-signed credential, whose every use goes through libsodium's
        ``crypto_sign_open`` (which refuses small-order and non-canonical keys)."""
        key = cls.__new__(cls)
        key._set(ALG_EDDSA, raw, None)
        return key

    @classmethod
    def sm2_compressed(cls, point: bytes) -> DevicePublicKey:
        """The SM2 key of a 33-byte compressed point (``02``/``03`` then ``x``)."""
        return cls.of(SM2PublicKey.from_compressed(point))

    @classmethod
    def from_encoded(cls, data: bytes) -> DevicePublicKey:
        """The key of its :attr:`encoded` form: 32 bytes Ed25519, 33 bytes compressed SM2."""
        if isinstance(data, bytes) and len(data) == ED25519_BYTES:
            return cls.ed25519(data)
        if isinstance(data, bytes) and len(data) == COMPRESSED_BYTES:
            return cls.sm2_compressed(data)
        raise KeyMaterialError(ErrorCode.WEAK_KEY,
                               "a device key is 32 bytes (Ed25519) or 33 (compressed SM2)")

    @property
    def encoded(self) -> bytes:
        """The shortest unambiguous form (the registry stores it): Ed25519's 32 bytes,
        or SM2's 33-byte compressed point; :meth:`from_encoded` reads it back."""
        return self.raw if self._sm2 is None else self._sm2.compressed

    @property
    def suite(self) -> Suite:
        return Suite.ED25519 if self._sm2 is None else Suite.SM

    @property
    def kid(self) -> bytes:
        """A short id (first bytes of a SHA-256 of the key), as issuer kids are made."""
        return thumbprint_kid(self.raw)

    def verify(self, signature: bytes, message: bytes) -> bool:
        """Is ``signature`` this device's over ``message`` (by the key's own algorithm)?"""
        if type(signature) is not bytes or len(signature) != SIGNATURE_BYTES:
            return False
        if self._sm2 is None:
            return signature_valid(signature + message, self.raw)
        return self._sm2.verify(signature, message)

    def verify_signed(self, signed: bytes) -> bool:
        """:meth:`verify` of ``signature || message`` (libsodium's ``crypto_sign_open`` form,
        which the presentation parser hands over)."""
        if self._sm2 is None:
            return signature_valid(signed, self.raw)
        return self._sm2.verify_signed(signed)

    def cose_key(self) -> dict[int, object]:
        """The COSE_Key that ``cnf`` carries (RFC 8747 §3.2, RFC 9053 §7).

        Ed25519: ``{1: 1 (OKP), -1: 6 (Ed25519), -2: x}``; SM2, with the point
        compressed (RFC 9053 §7.1.1, 33 bytes fewer): ``{1: 2 (EC2), -1: -65537
        (sm2p256v1), -2: x, -3: sign bit of y}``.
        """
        if self._sm2 is None:
            return {1: 1, -1: 6, -2: self.raw}
        return {1: 2, -1: ALG_SM2_SM3, -2: self.raw[:32], -3: bool(self.raw[63] & 1)}

    def jwk(self) -> dict[str, str]:
        """The public JWK (RFC 8037 OKP, or EC/SM2 as issuer keys are written)."""
        kid = b64url(self.kid)
        if self._sm2 is None:
            return {"kty": "OKP", "crv": "Ed25519", "x": b64url(self.raw), "kid": kid,
                    "alg": ALG_NAMES[ALG_EDDSA], "use": "sig"}
        return {"kty": "EC", "crv": "SM2", "x": b64url(self.raw[:32]),
                "y": b64url(self.raw[32:]), "kid": kid, "alg": ALG_NAMES[ALG_SM2_SM3],
                "use": "sig"}

    @classmethod
    def from_jwk(cls, jwk: object) -> DevicePublicKey:
        """The key of a public JWK that :meth:`jwk` writes (``key_file`` if not one)."""
        if not isinstance(jwk, dict):
            raise KeyMaterialError(ErrorCode.KEY_FILE, "a device key JWK is a JSON object")
        kty, crv, alg = jwk.get("kty"), jwk.get("crv"), jwk.get("alg")
        if kty == "OKP" and crv == "Ed25519" and alg in (None, ALG_NAMES[ALG_EDDSA]):
            return cls.ed25519(b64url_decode(jwk.get("x")))
        if kty == "EC" and crv == "SM2" and alg in (None, ALG_NAMES[ALG_SM2_SM3]):
            if "sm2_id" in jwk:
                raise KeyMaterialError(ErrorCode.KEY_FILE,
                                       "device keys sign under the default SM2 signer ID")
            x, y = b64url_decode(jwk.get("x")), b64url_decode(jwk.get("y"))
            if len(x) != 32 or len(y) != 32:
                raise KeyMaterialError(ErrorCode.KEY_FILE, "SM2 coordinates are 32 bytes")
            return cls(ALG_SM2_SM3, x + y)
        raise KeyMaterialError(ErrorCode.KEY_FILE,
                               "device key must be an OKP/Ed25519 or EC/SM2 JWK")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DevicePublicKey) and (other.alg, other.raw) == (
            self.alg, self.raw)

    def __hash__(self) -> int:
        return hash((self.alg, self.raw))

    def __repr__(self) -> str:
        return f"DevicePublicKey(alg={self.alg}, kid={self.kid.hex()})"


class DeviceKey:
    """The phone's private device key (Ed25519 or SM2), which signs as the device."""

    __slots__ = ("_private", "public_key")

    _private: Ed25519PrivateKey | SM2PrivateKey
    public_key: DevicePublicKey

    def __init__(self, private: Ed25519PrivateKey | SM2PrivateKey) -> None:
        if isinstance(private, Ed25519PrivateKey):
            public = DevicePublicKey.of(private.public_key)
        elif isinstance(private, SM2PrivateKey):
            public = DevicePublicKey.of(private.public_key)  # refuses a custom signer ID
        else:
            raise InvalidArgument("a device key is an Ed25519 or SM2 private key")
        object.__setattr__(self, "_private", private)
        object.__setattr__(self, "public_key", public)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("DeviceKey is immutable")

    @classmethod
    def generate(cls, suite: Suite | str = Suite.ED25519,
                 random_bytes: RandomBytes = os.urandom) -> DeviceKey:
        """A fresh key of ``suite``: Ed25519 from 32 random bytes, or SM2 (rejection
        sampling of ``d``, default signer ID)."""
        if Suite.parse(suite) is Suite.SM:
            return cls(SM2PrivateKey.generate(random_bytes))
        return cls(Ed25519PrivateKey(random_bytes(32)))

    @property
    def alg(self) -> int:
        """The COSE algorithm of this key's signatures (-8 or -65537)."""
        return self.public_key.alg

    @property
    def suite(self) -> Suite:
        return self.public_key.suite

    @property
    def seed(self) -> bytes:
        """The 32 private bytes (Ed25519 seed, or SM2 ``d``); handle with care."""
        return self._private.seed

    @property
    def private_key(self) -> Ed25519PrivateKey | SM2PrivateKey:
        """The underlying key object; handle with care."""
        return self._private

    def sign(self, message: bytes) -> bytes:
        """The device's 64-byte signature of ``message`` (Ed25519, or SM2 raw ``r || s``)."""
        return self._private.sign(message)

    def to_pem(self, passphrase: bytes | None = None) -> bytes:
        """PKCS#8 PEM (encrypted with PBES2 when a passphrase is given)."""
        return private_to_pem(self._private, passphrase)

    @classmethod
    def from_pem(cls, data: bytes, passphrase: bytes | None = None) -> DeviceKey:
        """The key of a PKCS#8 PEM that :meth:`to_pem` (or OpenSSL) wrote; the key's
        algorithm (Ed25519, or the curve ``sm2``) says which suite."""
        return cls(private_from_pem(data, passphrase))

    def __repr__(self) -> str:
        return f"DeviceKey(public={self.public_key!r})"


def new_device_key(random_bytes: RandomBytes = os.urandom,
                   suite: Suite | str = Suite.ED25519) -> DeviceKey:
    """A fresh device key (Ed25519 by default: 32 random bytes as the seed)."""
    return DeviceKey.generate(suite, random_bytes)


def device_public_jwk(public: DevicePublicKey | Ed25519PublicKey) -> dict[str, str]:
    """The public JWK of a device key."""
    if isinstance(public, Ed25519PublicKey):
        public = DevicePublicKey.of(public)
    return public.jwk()


def save_device(key: DeviceKey | Ed25519PrivateKey, directory: str | os.PathLike[str],
                passphrase: bytes | None = None) -> None:
    """Write both files; refuses to replace an existing private key."""
    if not isinstance(key, DeviceKey):
        key = DeviceKey(key)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if (directory / PRIVATE_FILE).exists():
        raise KeyMaterialError(ErrorCode.KEY_FILE, f"{PRIVATE_FILE} already exists")
    write_file(directory / PRIVATE_FILE, key.to_pem(passphrase), 0o600)
    jwk = json.dumps(key.public_key.jwk(), indent=2, sort_keys=True) + "\n"
    write_file(directory / PUBLIC_FILE, jwk.encode(), 0o644)


def load_device(directory: str | os.PathLike[str],
                passphrase: bytes | None = None) -> DeviceKey:
    """The device's private key (refused if others may read the file)."""
    return DeviceKey.from_pem(read_private(Path(directory) / PRIVATE_FILE), passphrase)


def load_device_public(directory: str | os.PathLike[str]) -> DevicePublicKey:
    """The device's public key from its JWK (what the platform receives at activation)."""
    directory = Path(directory)
    try:
        jwk: Any = json.loads((directory / PUBLIC_FILE).read_text("utf-8"))
    except (OSError, ValueError, RecursionError):
        raise KeyMaterialError(ErrorCode.KEY_FILE, f"cannot read {PUBLIC_FILE}") from None
    return DevicePublicKey.from_jwk(jwk)
