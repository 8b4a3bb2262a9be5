"""Our COSE_Key and JWK exports read by python-cwt, and python-cwt's read by us."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ecert_token.codec import cbor
from ecert_token.crypto.aead import AesCcmKey
from ecert_token.keys.cose_key import (
    group_key_from_cose_key,
    group_key_to_cose_key,
    issuer_public_from_cose_key,
    issuer_public_to_cose_key,
)
from ecert_token.keys.jwk import issuer_public_jwk
from ecert_token.keys.keydir import KeyDir
from ecert_token.trust import RootSigningKey, TrustRoot

pytestmark = pytest.mark.interop
SIDE = Path(__file__).with_name("cwt_keys_side.py")
MESSAGE = b"ecert-token key interop".hex()


def cwt(python: Path, **request: Any) -> dict[str, Any]:
    proc = subprocess.run([str(python), str(SIDE)], input=json.dumps(request),
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    reply: dict[str, Any] = json.loads(proc.stdout)
    assert "error" not in reply, reply["error"]
    return reply


def test_issuer_public_key(cwt_python: Path, beijing: KeyDir) -> None:
    sk = beijing.signing_key
    signature = sk.private_key.sign(bytes.fromhex(MESSAGE))
    reply = cwt(cwt_python, cose_key=issuer_public_to_cose_key(sk.public).hex(),
                jwk=issuer_public_jwk(sk.public), message=MESSAGE, signature=signature.hex())
    assert reply["cose_key_verifies"] and reply["jwk_verifies"]
    assert (reply["kty"], reply["alg"], reply["kid"]) == (1, -8, sk.kid.hex())
    assert reply["jwk_x"] == sk.public.public_key.raw.hex()
    # python-cwt's own export (it adds key_ops) imports back to the same key.
    back = issuer_public_from_cose_key(bytes.fromhex(reply["export"]), "BJ", sk.regions,
                                       state=sk.state)
    assert back == sk.public


def test_root_public_key(cwt_python: Path, root: RootSigningKey) -> None:
    signature = root.private_key.sign(bytes.fromhex(MESSAGE))
    reply = cwt(cwt_python, cose_key=root.root.to_cose_key().hex(), message=MESSAGE,
                signature=signature.hex())
    assert reply["cose_key_verifies"]
    assert TrustRoot.from_cose_key(bytes.fromhex(reply["export"])) == root.root


def test_group_key(cwt_python: Path, beijing: KeyDir) -> None:
    gk = beijing.group_key
    nonce, aad = bytes(range(13)), b"aad"
    reply = cwt(cwt_python, cose_key=group_key_to_cose_key(gk).hex(), message=MESSAGE,
                nonce=nonce.hex(), aad=aad.hex())
    assert (reply["kty"], reply["alg"], reply["kid"]) == (4, 10, gk.kid.hex())
    plain = AesCcmKey(gk.secret).decrypt(nonce, bytes.fromhex(reply["ciphertext"]), aad)
    assert plain.hex() == MESSAGE
    exported = bytes.fromhex(reply["export"])
    assert cbor.loads(exported, max_depth=2)[-1] == gk.secret  # type: ignore[index]
    assert group_key_from_cose_key(exported, "national") == gk
