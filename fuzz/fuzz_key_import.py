"""Fuzz key import (``keys/jwk.py``, ``keys/cose_key.py``, ``keys/keydir.py``, PEM) on bytes.

Only ``EcertError`` may come out.  Byte 0 picks the entry point, the rest is
its input:

0. ``issuer_public_from_cose_key``;  1. ``group_key_from_cose_key``;
2. ``ed25519_from_pem`` without a passphrase;  3. with one;
4. ``issuer_public_from_jwk`` and 5. ``group_key_from_jwk`` on the bytes read
   as JSON (input that is not JSON is skipped: the library takes a parsed
   JWK; the key directory's own JSON reading is fuzzed by 6 and 7);
6. ``keydir.load_public`` and 7. ``keydir.load`` of a directory whose
   ``manifest.json`` is the bytes (the other files are the fixture keys);
8. ``b64url_decode`` of the bytes as text;
9. ``private_from_pem`` without a passphrase and 10. with one: PKCS#8 PEM of
   an Ed25519 or SM2 key, read by ``keys/pkcs8.py``'s own DER reader and PBES2
   decryption (seeds: ``fuzz/make_sm2_seeds.py``).

The harness bounds the key derivation an input may ask for (PBKDF2 at most
``FUZZ_MAX_ITERATIONS`` iterations, scrypt at most ``FUZZ_MAX_SCRYPT_BYTES`` of
memory; more is refused as a key-file error, as the library refuses more than
its own larger limits): a file asking for ten million iterations or a gigabyte
of scrypt is slow by design, and would otherwise be a fuzzer timeout or
out-of-memory finding rather than a defect.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

with common.instrumented():
    from fixtures import key_directory

    from ecert_token import EcertError
    from ecert_token.keys import keydir, pkcs8
    from ecert_token.keys.cose_key import group_key_from_cose_key, issuer_public_from_cose_key
    from ecert_token.keys.files import ed25519_from_pem, private_from_pem
    from ecert_token.keys.jwk import b64url_decode, group_key_from_jwk, issuer_public_from_jwk

NAME = "key_import"
FUZZ_MAX_ITERATIONS = 4096
FUZZ_MAX_SCRYPT_BYTES = 1 << 18
_SCRYPT = pkcs8.Scrypt


def bounded_scrypt(salt: bytes, length: int, n: int, r: int, p: int) -> object:
    """``Scrypt`` for the harness: ValueError (the library's "refused") past the bound."""
    if 128 * r * n * p > FUZZ_MAX_SCRYPT_BYTES:
        raise ValueError("scrypt parameters beyond the fuzz harness' bound")
    return _SCRYPT(salt, length, n, r, p)


pkcs8.MAX_ITERATIONS = FUZZ_MAX_ITERATIONS
pkcs8.Scrypt = bounded_scrypt  # type: ignore[assignment,misc]
DIRECTORY = key_directory()
MANIFEST = DIRECTORY / keydir.MANIFEST


def as_json(data: bytes) -> object:
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        return None


def with_manifest(load: object) -> object:
    def run(data: bytes) -> None:
        MANIFEST.write_bytes(data)
        load(DIRECTORY)  # type: ignore[operator]
    return run


ENTRY_POINTS = (
    lambda data: issuer_public_from_cose_key(data, "NHSA"),
    lambda data: group_key_from_cose_key(data, "national"),
    ed25519_from_pem,
    lambda data: ed25519_from_pem(data, b"fuzz passphrase"),
    lambda data: issuer_public_from_jwk(as_json(data), "NHSA"),  # type: ignore[arg-type]
    lambda data: group_key_from_jwk(as_json(data), "national"),  # type: ignore[arg-type]
    with_manifest(keydir.load_public),
    with_manifest(keydir.load),
    lambda data: b64url_decode(data.decode("utf-8", "surrogateescape")),
    private_from_pem,
    lambda data: private_from_pem(data, b"fuzz passphrase"),
)


one_input = common.dispatch(ENTRY_POINTS, EcertError)


if __name__ == "__main__":
    common.main(NAME, one_input)
