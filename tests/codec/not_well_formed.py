"""The vendored CBOR inputs that are not well-formed, and a token sealer to carry them.

Read from ``tests/vectors/cbor_not_well_formed/`` (source and licences in its
README): RFC 8949 Appendix F.1 and the CBOR WG's "bad" set.
"""

from __future__ import annotations

import json
from pathlib import Path

import cbor2

from ecert_token.keys.keydir import KeyDir
from ecert_token.token.text import to_text

from ..conftest import NOW

SUITE = Path(__file__).resolve().parent.parent / "vectors" / "cbor_not_well_formed"


def appendix_f() -> list[tuple[str, bytes]]:
    doc = json.loads((SUITE / "rfc8949_appendix_f.json").read_text("utf-8"))
    return [(f"rfc8949-F1-{g['heading'][:24]}-{x}", bytes.fromhex(x))
            for g in doc["groups"] for x in g["examples"]]


def cbor_wg_bad() -> list[tuple[str, bytes]]:
    doc = cbor2.loads((SUITE / "cbor-wg-rfc8949-bad.cbor").read_bytes())
    assert doc["fail"] is True
    return [(f"cbor-wg-{t['description']}"[:60], t["encoded"]) for t in doc["tests"]]


INPUTS = appendix_f() + cbor_wg_bad()
IDS = [name for name, _ in INPUTS]
DATA = [data for _, data in INPUTS]


def claims_prefix() -> bytes:
    """A valid canonical claims map (as the minter writes it) up to its last value:
    ``{2: id, 4: exp, 6: iat, 7: cti, -65537: `` and then the caller's bytes."""
    whole = cbor2.dumps({2: "E4Q7ZK2M9PXA", 4: NOW + 60, 6: NOW, 7: bytes(range(8)),
                         -65537: [110105, 310, 1101, 2, "张*丰", 1]}, canonical=True)
    last = cbor2.dumps([110105, 310, 1101, 2, "张*丰", 1])
    assert whole.endswith(last)
    return whole[:-len(last)]


def sign1(keys: KeyDir, payload: bytes) -> bytes:
    """A COSE_Sign1 over ``payload`` by the test issuer, built here with cbor2 alone."""
    sk = keys.signing_key
    protected = cbor2.dumps({1: -8, 4: sk.kid}, canonical=True)
    to_sign = cbor2.dumps(["Signature1", protected, b"", payload])
    signature = sk.private_key.sign(to_sign)
    return b"\xd2" + cbor2.dumps([protected, {}, payload, signature])


def token(keys: KeyDir, plaintext: bytes) -> str:
    """``plaintext`` encrypted to the test group as a COSE_Encrypt0, in text form."""
    gk = keys.group_key
    protected = cbor2.dumps({1: 10, 4: gk.kid}, canonical=True)
    aad = cbor2.dumps(["Encrypt0", protected, b""])
    nonce, ciphertext = gk.aead.encrypt(plaintext, aad, random_bytes=bytes)
    return to_text(b"\xd0" + cbor2.dumps([protected, {5: nonce}, ciphertext]))
