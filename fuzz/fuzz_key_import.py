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
8. ``b64url_decode`` of the bytes as text.
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
    from ecert_token.keys import keydir
    from ecert_token.keys.cose_key import group_key_from_cose_key, issuer_public_from_cose_key
    from ecert_token.keys.files import ed25519_from_pem
    from ecert_token.keys.jwk import b64url_decode, group_key_from_jwk, issuer_public_from_jwk

NAME = "key_import"
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
)


one_input = common.dispatch(ENTRY_POINTS, EcertError)


if __name__ == "__main__":
    common.main(NAME, one_input)
