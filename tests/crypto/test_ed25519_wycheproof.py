"""crypto/ed25519.py against Wycheproof's Ed25519 verification vectors.

Every group's public key goes through the library's validation (and through the
JWK importer, which must give the same key); every signature through
``Ed25519PublicKey.verify``: each must answer exactly the vector's ``result``.  Source, commit and
licence: ``tests/vectors/wycheproof/README.md``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ecert_token.crypto.ed25519 import Ed25519PublicKey, validate_public_key
from ecert_token.keys.jwk import issuer_public_from_jwk

SUITE = json.loads(
    (Path(__file__).resolve().parent.parent / "vectors" / "wycheproof" / "ed25519_test.json")
    .read_text("utf-8")
)
GROUPS: list[dict[str, Any]] = SUITE["testGroups"]
CASES = [(group, test) for group in GROUPS for test in group["tests"]]


def test_the_whole_file_is_read() -> None:
    assert SUITE["algorithm"] == "EDDSA"
    assert len(CASES) == SUITE["numberOfTests"] == 151
    assert {t["result"] for _, t in CASES} == {"valid", "invalid"}


@pytest.mark.parametrize("group", GROUPS, ids=[g["publicKey"]["pk"][:16] for g in GROUPS])
def test_public_keys_pass_validation_and_jwk_import(group: dict[str, Any]) -> None:
    raw = bytes.fromhex(group["publicKey"]["pk"])
    assert validate_public_key(raw) == raw
    imported = issuer_public_from_jwk(group["publicKeyJwk"], "NHSA")
    assert imported.public_key == Ed25519PublicKey(raw)


@pytest.mark.parametrize(
    ("group", "test"), CASES, ids=[f"tc{t['tcId']}-{t['result']}" for _, t in CASES]
)
def test_verify_answers_the_vector(group: dict[str, Any], test: dict[str, Any]) -> None:
    key = Ed25519PublicKey(bytes.fromhex(group["publicKey"]["pk"]))
    verdict = key.verify(bytes.fromhex(test["sig"]), bytes.fromhex(test["msg"]))
    assert verdict is (test["result"] == "valid"), test["flags"]

