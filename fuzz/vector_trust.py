"""The published vectors (``docs/vectors/*.json``) as the harnesses' trust material and seeds."""

from __future__ import annotations

import json
from pathlib import Path

import cbor2

from ecert_token import KeyState, TrustStore, Validity
from ecert_token.crypto.aead import AesCcmKey
from ecert_token.crypto.ed25519 import Ed25519PrivateKey
from ecert_token.keys.jwk import b64url_decode, group_key_from_jwk, issuer_public_from_jwk

VECTORS = Path(__file__).resolve().parent.parent / "docs" / "vectors"
NOW = 1_790_000_000
"""The vectors' "now"; the harnesses' fixed clock."""


def vector_files() -> list[dict[str, object]]:
    return [json.loads(p.read_text("utf-8")) for p in sorted(VECTORS.glob("*.json"))]


def trust_configurations() -> list[dict[str, object]]:
    """The distinct ``trust`` blocks of the vector files, in file-name order."""
    seen: dict[str, dict[str, object]] = {}
    for document in vector_files():
        trust = document["trust"]
        seen.setdefault(json.dumps(trust, sort_keys=True), trust)
    return list(seen.values())


def trust_store(trust: dict[str, object]) -> TrustStore:
    """A verifier's trust store from a vector file's ``trust`` block (public halves)."""
    issuers = [
        issuer_public_from_jwk(
            k["public_jwk"], k["issuer"],
            None if k["regions"] is None else frozenset(k["regions"]),
            Validity(k["not_before"], k["not_after"]), KeyState(k["state"]),
        )
        for k in trust["issuer_keys"]  # type: ignore[attr-defined]
    ]
    groups = [
        group_key_from_jwk(k["jwk"], k["group"], Validity(k["not_before"], k["not_after"]),
                           KeyState(k["state"]))
        for k in trust["group_keys"]  # type: ignore[attr-defined]
    ]
    return TrustStore(issuers, groups)




class Sealer:
    """Seals arbitrary bytes with one configuration's published test keys (its first
    issuer seed and group key), so fuzzed content reaches the stages behind the AEAD
    (the Sign1 and claims readers: any member of a verifier group could send these)
    and behind the signature (time, claims values, policy, the replay mark)."""

    def __init__(self, trust: dict[str, object]) -> None:
        issuer = trust["issuer_keys"][0]  # type: ignore[index]
        group = trust["group_keys"][0]["jwk"]  # type: ignore[index]
        self.signer = Ed25519PrivateKey(bytes.fromhex(issuer["test_only_private_seed_hex"]))
        self.aead = AesCcmKey(b64url_decode(group["k"]))
        self.sign_header = cbor2.dumps({1: -8, 4: b64url_decode(issuer["public_jwk"]["kid"])})
        self.seal_header = cbor2.dumps({1: 10, 4: b64url_decode(group["kid"])})

    def signed(self, claims: bytes) -> bytes:
        """A tagged COSE_Sign1 of ``claims`` (any bytes) by the issuer."""
        to_be_signed = cbor2.dumps(["Signature1", self.sign_header, b"", claims])
        signature = self.signer.sign(to_be_signed)
        return b"\xd2" + cbor2.dumps([self.sign_header, {}, claims, signature])

    def sealed(self, plaintext: bytes) -> bytes:
        """A tagged COSE_Encrypt0 of ``plaintext`` (any bytes) to the group, fixed nonce."""
        aad = cbor2.dumps(["Encrypt0", self.seal_header, b""])
        nonce, ciphertext = self.aead.encrypt(plaintext, aad, random_bytes=bytes)
        return b"\xd0" + cbor2.dumps([self.seal_header, {5: nonce}, ciphertext])
