"""The published test vectors (docs/vectors/*.json) hold against this library and regenerate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESCCM

from ecert_token import ErrorCode
from ecert_token.keys.jwk import b64url_decode
from ecert_token_tools import vectors

VECTOR_DIR = Path(__file__).resolve().parents[2] / "docs" / "vectors"
FILES = sorted(VECTOR_DIR.glob("*.json"))
OUTCOMES = {vectors.VALID} | {code.value for code in ErrorCode}


def _load(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return doc


def test_the_published_set_is_complete() -> None:
    names = {p.stem for p in FILES}
    assert len(FILES) == len(vectors.BUILDERS)
    for required in ("valid", "expired", "not_yet_valid", "replayed", "tampered",
                     "wrong_business_type", "unknown_key", "wrong_region", "bad_signature",
                     "malformed", "family_member"):
        assert required in names
    seen = {c["expected"]["outcome"] for p in FILES for c in _load(p)["checks"]}
    assert {"valid", "expired", "not_yet_valid", "replayed", "decryption_failed",
            "wrong_business_type", "unknown_key", "wrong_region", "bad_signature",
            "malformed"} <= seen


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_vector_file_against_the_library(path: Path) -> None:
    doc = _load(path)
    assert doc["format"] == vectors.FORMAT
    assert doc["name"] == path.stem
    assert "TEST KEYS ONLY" in doc["trust"]["warning"]
    for key in doc["trust"]["issuer_keys"]:
        assert vectors.seed_matches(key)
        assert "d" not in key["public_jwk"]
    results = vectors.check_document(doc)
    assert len(results) == len(doc["checks"]) > 0
    for check, (outcome, claims) in zip(doc["checks"], results, strict=True):
        expected = check["expected"]
        assert expected["outcome"] in OUTCOMES
        assert (outcome, claims) == (expected["outcome"], expected["claims"]), check["description"]


def test_replayed_lists_one_token_twice() -> None:
    first, second = _load(VECTOR_DIR / "replayed.json")["checks"]
    assert first["token"] == second["token"]
    assert (first["expected"]["outcome"], second["expected"]["outcome"]) == ("valid", "replayed")


def test_family_member_names_subject_and_actor() -> None:
    [check] = _load(VECTOR_DIR / "family_member.json")["checks"]
    claims = check["expected"]["claims"]
    assert (claims["credential_id"], claims["actor_id"]) == ("K8D2WQ5T7RNB", "E4Q7ZK2M9PXA")


def _valid_checks() -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """The Ed25519 suite's valid checks (the SM suite's: tests/keys/test_suite.py)."""
    return [(_load(p), c) for p in FILES for c in _load(p)["checks"]
            if c["expected"]["outcome"] == "valid" and not p.stem.startswith("sm_")]


@pytest.mark.parametrize("doc_check", _valid_checks(), ids=lambda dc: dc[1]["description"][:40])
def test_layers_read_by_an_independent_decoder(doc_check: tuple[dict[str, Any], dict[str, Any]]
                                               ) -> None:
    """What a vendor's decoder does: cbor2 + OpenSSL AES-CCM and Ed25519, none of our codec."""
    doc, check = doc_check
    layers = check["layers"]
    tag = cbor2.loads(bytes.fromhex(layers["cose_encrypt0_hex"]))
    assert tag.tag == 16
    protected, unprotected, ciphertext = tag.value
    assert unprotected == {5: bytes.fromhex(layers["nonce_hex"])}
    group_jwk = doc["trust"]["group_keys"][0]["jwk"]
    assert cbor2.loads(protected) == {1: 10, 4: b64url_decode(group_jwk["kid"])}
    aad = cbor2.dumps(["Encrypt0", protected, b""])
    signed = AESCCM(b64url_decode(group_jwk["k"]), tag_length=8).decrypt(
        unprotected[5], ciphertext, aad
    )
    assert signed.hex() == layers["cose_sign1_hex"]
    sign1 = cbor2.loads(signed)
    assert sign1.tag == 18
    s_protected, s_unprotected, payload, signature = sign1.value
    assert s_unprotected == {}
    assert payload.hex() == layers["claims_cbor_hex"]
    issuer = next(k for k in doc["trust"]["issuer_keys"]
                  if b64url_decode(k["public_jwk"]["kid"]) == cbor2.loads(s_protected)[4])
    public = Ed25519PublicKey.from_public_bytes(b64url_decode(issuer["public_jwk"]["x"]))
    public.verify(signature, cbor2.dumps(["Signature1", s_protected, b"", payload]))
    claims = cbor2.loads(payload)
    expected = check["expected"]["claims"]
    assert claims[2] == expected["credential_id"]
    assert (claims[6], claims[4]) == (expected["issued_at"], expected["expires_at"])
    assert claims[-65537][0] == int(expected["insured_region"])
    assert claims[-65537][2] == int(expected["business_type"])


def test_regenerating_gives_byte_identical_files(tmp_path: Path) -> None:
    steps: list[tuple[int, int, str]] = []
    paths = vectors.write_vectors(tmp_path / "out", lambda i, n, name: steps.append((i, n, name)))
    assert sorted(p.name for p in paths) == [p.name for p in FILES]
    for path in paths:
        assert path.read_bytes() == (VECTOR_DIR / path.name).read_bytes(), path.name
    total = len(vectors.BUILDERS)
    assert steps == [(i, total, p.stem) for i, p in enumerate(paths, 1)]

