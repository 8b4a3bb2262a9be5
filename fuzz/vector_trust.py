"""The published vectors (``docs/vectors/*.json``) as the harnesses' trust material and seeds."""

from __future__ import annotations

import json
from pathlib import Path

from ecert_token import KeyState, TrustStore, Validity
from ecert_token.keys.jwk import group_key_from_jwk, issuer_public_from_jwk

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


