"""Write the committed seed corpora ``fuzz/seeds/<harness>/`` (small, deterministic).

    python fuzz/make_seeds.py

Seeds are valid inputs in each harness' input layout, so mutation starts from
inputs that pass the early checks: the published vector tokens
(``docs/vectors``), their decrypted Sign1 and their Base45 text, a signed trust
list and its payload, and the fixture keys in every import format.  Rerunning
gives the same files, except the passphrase-encrypted PEM (OpenSSL picks its salt
and IV at random), which then gets a new name.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.ciphers.aead import AESCCM
from fixtures import KEYS, ROOT, key_directory, signed_list
from make_sm2_seeds import sm2_pkcs8_seeds
from vector_trust import trust_configurations, vector_files

from ecert_token import BusinessType
from ecert_token.crypto.sm4 import Ccm
from ecert_token.keys import keydir
from ecert_token.keys.cose_key import (
    group_key_to_cose_key,
    issuer_public_to_cose_key,
)
from ecert_token.keys.files import ed25519_to_pem
from ecert_token.keys.jwk import b64url, group_key_jwk, issuer_public_jwk
from ecert_token.trust.envelope import parse_envelope

SEEDS = Path(__file__).resolve().parent / "seeds"
BUSINESS_TYPES = tuple(BusinessType)


def verify_seeds() -> list[bytes]:
    configurations = [json.dumps(t, sort_keys=True) for t in trust_configurations()]
    seeds = []
    for document in vector_files():
        trust = configurations.index(json.dumps(document["trust"], sort_keys=True))
        for check in document["checks"]:  # type: ignore[attr-defined]
            bt = BUSINESS_TYPES.index(BusinessType(check["business_type"]))
            token = check["token"].encode("utf-8", "surrogateescape")
            seeds.append(bytes((trust, bt)) + token)
            seeds.append(bytes((trust, bt | 0x80)) + token)
            layers = check.get("layers")
            if layers:  # the plaintext (0b001) and the claims (0b010), sealed by the harness
                seeds.append(bytes((trust, bt | 0x20)) + bytes.fromhex(layers["cose_sign1_hex"]))
                seeds.append(bytes((trust, bt | 0x40)) + bytes.fromhex(layers["claims_cbor_hex"]))
    return seeds


def differential_seeds() -> list[bytes]:
    """In the accelerator pair's layout (``fuzz_differential.token_body``): 0 + a token's
    Base45 body; for an Ed25519 vector 1 + its Sign1 plaintext and 2 + its claims (AES-CCM),
    for an SM-suite vector 3 and 6 + its Sign1 plaintext, 4, 5, 7 and 8 + its claims (each
    sealing of the harness); and in the CCM pair's layout (``ccm_args``) sealed messages of
    a token's size under both ciphers, valid and with one flipped bit."""
    seeds = []
    for document in vector_files():
        sm = str(document["name"]).startswith("sm")
        for check in document["checks"]:  # type: ignore[attr-defined]
            layers = check.get("layers")
            if layers:
                sign1, claims = (bytes.fromhex(layers[k])
                                 for k in ("cose_sign1_hex", "claims_cbor_hex"))
                seeds += ([bytes((m,)) + sign1 for m in (3, 6)]
                          + [bytes((m,)) + claims for m in (4, 5, 7, 8)]) if sm else [
                    b"\x01" + sign1, b"\x02" + claims]
            if check["token"].startswith("EC1:"):
                seeds.append(b"\x00" + check["token"][4:].encode("latin-1", "replace"))
    key, nonce, aad = bytes(range(16)), bytes(range(13)), b"\x83hEncrypt0" + bytes(12)
    for cipher, name in ((0, "SM4"), (1, "AES")):
        ccm: Any = (Ccm(algorithms.SM4(key), 13, 8) if name == "SM4"
                    else AESCCM(key, tag_length=8))
        sealed = ccm.encrypt(nonce, bytes(range(150)), aad)
        head = bytes((cipher,)) + key + nonce + bytes((len(aad),)) + aad
        seeds += [head + sealed, head + sealed[:-1] + bytes((sealed[-1] ^ 1,))]
    return seeds


def trust_list_seeds() -> list[bytes]:
    lists = [signed_list(), signed_list(7, frozenset({"11", "61"}))]
    payloads = [parse_envelope(x).payload for x in lists]
    state = json.dumps({"format": "ecert-trust-state/1", "sequence": 5,
                        "digest": hashlib.sha256(lists[0]).hexdigest(),
                        "root_kid": ROOT.kid.hex()}).encode()
    return [
        *(b"\x00" + x for x in lists), *(b"\x01" + p for p in payloads),
        *(b"\x02" + x for x in lists), *(b"\x03" + p for p in payloads),
        b"\x04" + state, *(b"\x05" + x for x in lists), b"\x06" + ROOT.to_cose_key(),
    ]


def key_import_seeds() -> list[bytes]:
    issuer, group = KEYS.signing_key, KEYS.group_key
    directory = key_directory()
    manifest = (directory / keydir.MANIFEST).read_bytes()
    shutil.rmtree(directory)
    return [
        b"\x00" + issuer_public_to_cose_key(issuer.public),
        b"\x01" + group_key_to_cose_key(group),
        b"\x02" + ed25519_to_pem(issuer.private_key),
        b"\x03" + ed25519_to_pem(issuer.private_key, b"fuzz passphrase"),
        b"\x04" + json.dumps(issuer_public_jwk(issuer.public)).encode(),
        b"\x05" + json.dumps(group_key_jwk(group)).encode(),
        b"\x06" + manifest,
        b"\x07" + manifest,
        b"\x08" + b64url(issuer.kid).encode(),
        *sm2_pkcs8_seeds(),  # entry points 9 and 10 (make_sm2_seeds.py)
    ]


def write(name: str, seeds: list[bytes]) -> None:
    directory = SEEDS / name
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    for seed in seeds:
        (directory / hashlib.sha256(seed).hexdigest()).write_bytes(seed)


def main() -> None:
    write("verify", verify_seeds())
    write("differential", differential_seeds())
    write("trust_list", trust_list_seeds())
    write("key_import", key_import_seeds())


if __name__ == "__main__":
    main()
