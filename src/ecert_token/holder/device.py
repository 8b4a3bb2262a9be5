"""The phone's device key: an Ed25519 pair made on the device, the private half never leaves it.

Layout of a device directory (``ecert device keygen --out DIR``)::

    device.key.pem        PKCS#8 PEM private key (0600)
    device.pub.jwk.json   its public key, an OKP/Ed25519 JWK (0644), sent at activation

On a real phone the private key lives in the secure element / keystore; the
files are the SDK's stand-in for it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from ..crypto.ed25519 import Ed25519PrivateKey, Ed25519PublicKey, thumbprint_kid
from ..errors import ErrorCode, KeyMaterialError
from ..keys.files import ed25519_from_pem, ed25519_to_pem, read_private, write_file
from ..keys.jwk import b64url, b64url_decode

PRIVATE_FILE = "device.key.pem"
PUBLIC_FILE = "device.pub.jwk.json"


def new_device_key(random_bytes: Callable[[int], bytes] = os.urandom) -> Ed25519PrivateKey:
    """A fresh device key (32 random bytes as the seed)."""
    return Ed25519PrivateKey(random_bytes(32))


def device_public_jwk(public: Ed25519PublicKey) -> dict[str, str]:
    return {"kty": "OKP", "crv": "Ed25519", "x": b64url(public.raw),
            "kid": b64url(thumbprint_kid(public.raw)), "alg": "EdDSA", "use": "sig"}


def save_device(key: Ed25519PrivateKey, directory: str | os.PathLike[str]) -> None:
    """Write both files; refuses to replace an existing private key."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if (directory / PRIVATE_FILE).exists():
        raise KeyMaterialError(ErrorCode.KEY_FILE, f"{PRIVATE_FILE} already exists")
    write_file(directory / PRIVATE_FILE, ed25519_to_pem(key), 0o600)
    jwk = json.dumps(device_public_jwk(key.public_key), indent=2, sort_keys=True) + "\n"
    write_file(directory / PUBLIC_FILE, jwk.encode(), 0o644)


def load_device(directory: str | os.PathLike[str]) -> Ed25519PrivateKey:
    """The device's private key (refused if others may read the file)."""
    return ed25519_from_pem(read_private(Path(directory) / PRIVATE_FILE))


def load_device_public(directory: str | os.PathLike[str]) -> Ed25519PublicKey:
    """The device's public key from its JWK (what the platform receives at activation)."""
    directory = Path(directory)
    try:
        jwk = json.loads((directory / PUBLIC_FILE).read_text("utf-8"))
    except (OSError, ValueError, RecursionError):
        raise KeyMaterialError(ErrorCode.KEY_FILE, f"cannot read {PUBLIC_FILE}") from None
    if not isinstance(jwk, dict) or jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise KeyMaterialError(ErrorCode.KEY_FILE, "device key must be an OKP Ed25519 JWK")
    return Ed25519PublicKey(b64url_decode(jwk.get("x")))
