"""The published vectors (``docs/vectors/*.json``) as the harnesses' trust material and seeds."""

from __future__ import annotations

import json
from pathlib import Path

import cbor2

from ecert_token import KeyState, TrustStore, Validity
from ecert_token.crypto.ed25519 import ALG_EDDSA, Ed25519PrivateKey
from ecert_token.crypto.sm2 import ALG_SM2_SM3, DEFAULT_ID, SM2PrivateKey
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




def _fixed_nonce(n: int) -> bytes:
    """SM2's signing nonce for the harnesses: fixed, so a fuzz input seals to the same
    bytes every time (these are the vectors' published test keys, nothing else)."""
    return b"\x01" * n


def suites(trust: dict[str, object]) -> tuple[set[str], set[int]]:
    """The issuer key types (JWK ``kty``) and the group algorithms of a ``trust`` block."""
    issuers = {k["public_jwk"]["kty"] for k in trust["issuer_keys"]}  # type: ignore[attr-defined]
    groups = {group_key_from_jwk(k["jwk"], "g").alg
              for k in trust["group_keys"]}  # type: ignore[attr-defined]
    return issuers, groups


class Sealer:
    """Seals arbitrary bytes with one configuration's published test keys (its issuer
    seed number ``issuer`` and group key number ``group``, the first of each unless
    given; Ed25519 or SM2, AES-CCM, SM4-CCM or SM4-GCM, each sealed by the library's
    own primitives), so fuzzed content reaches the stages behind the AEAD (the Sign1
    and claims readers: any member of a verifier group could send these) and behind
    the signature (time, claims values, policy, the replay mark)."""

    def __init__(self, trust: dict[str, object], issuer: int = 0, group: int = 0) -> None:
        entry = trust["issuer_keys"][issuer]  # type: ignore[index]
        public = entry["public_jwk"]
        seed = bytes.fromhex(entry["test_only_private_seed_hex"])
        self.signer: Ed25519PrivateKey | SM2PrivateKey
        if public["kty"] == "EC":
            uid = b64url_decode(public["sm2_id"]) if "sm2_id" in public else DEFAULT_ID
            self.signer, alg = SM2PrivateKey(seed, uid, _fixed_nonce), ALG_SM2_SM3
        else:
            self.signer, alg = Ed25519PrivateKey(seed), ALG_EDDSA
        key = group_key_from_jwk(trust["group_keys"][group]["jwk"], "g")  # type: ignore[index]
        self.aead = key.aead
        self.sign_header = cbor2.dumps({1: alg, 4: b64url_decode(public["kid"])})
        self.seal_header = cbor2.dumps({1: key.alg, 4: key.kid})

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
