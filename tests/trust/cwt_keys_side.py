"""python-cwt's view of our key exports: runs ONLY in the isolated interop venv.

python-cwt 3.x pins ``cbor2<6``, so this script never imports ecert_token.
Request (JSON on stdin)::

    {"cose_key": hex, "jwk": {...} | null, "message": hex, "signature": hex | null,
     "nonce": hex | null, "aad": hex | null}

For an OKP key it imports the COSE_Key (and the JWK), checks our signature
with each, and returns python-cwt's own COSE_Key export.  For a symmetric
key it encrypts ``message`` with python-cwt so we can decrypt it.
"""

from __future__ import annotations

import json
import sys

import cbor2
from cwt import COSEKey


def main() -> None:
    req = json.load(sys.stdin)
    key = COSEKey.new(cbor2.loads(bytes.fromhex(req["cose_key"])))
    message = bytes.fromhex(req["message"])
    out: dict[str, object] = {"kty": key.kty, "alg": key.alg, "kid": key.kid.hex(),
                              "export": cbor2.dumps(key.to_dict()).hex()}
    if req.get("signature"):
        signature = bytes.fromhex(req["signature"])
        key.verify(message, signature)  # raises on failure
        out["cose_key_verifies"] = True
        if req.get("jwk"):
            jwk_key = COSEKey.from_jwk(req["jwk"])
            jwk_key.verify(message, signature)
            out["jwk_verifies"] = True
            out["jwk_x"] = jwk_key.to_dict()[-2].hex()
    else:
        nonce, aad = bytes.fromhex(req["nonce"]), bytes.fromhex(req["aad"])
        out["ciphertext"] = key.encrypt(message, nonce, aad).hex()
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    try:
        main()
    except Exception as exc:  # report python-cwt's refusal as data
        json.dump({"error": f"{type(exc).__name__}: {exc}"}, sys.stdout)
