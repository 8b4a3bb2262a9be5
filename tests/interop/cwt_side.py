"""The python-cwt side of the interop tests: runs ONLY in the isolated venv.

python-cwt 3.x pins ``cbor2<6`` while ecert-token needs ``cbor2>=6.1.4``, so
this script never imports ecert_token; it is started as a subprocess with the
interop venv's python (see conftest.py) and speaks JSON on stdin/stdout:

    request:  {"op": "import_jwk" | "read" | "mint", ...}
    response: {"ok": <result>}  or  {"error": "<ExceptionType>: <message>"}

Everything it knows about our format is what docs/interop.md tells another
implementation: the key directory's JWK files, the "EC1:" prefix, Base45
(the independent ``base45`` package), and the COSE/CWT structure.

JSON cannot hold CBOR byte strings or integer map keys, so values cross the
boundary as: bytes -> {"bytes": "<hex>"}, maps -> {"<int key>": value}.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Any

import base45
import cbor2
import cwt
from cwt import COSE, COSEKey

PREFIX = "EC1:"
ISSUER_JWK = "issuer.pub.jwk.json"
GROUP_JWK = "group.key.jwk.json"
ISSUER_PEM = "issuer.key.pem"


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_jwk(keydir: str, name: str) -> dict[str, Any]:
    return json.loads((Path(keydir) / name).read_text("utf-8"))


def cose_key_from_jwk(jwk: dict[str, Any]) -> Any:
    """python-cwt reads a string JWK kid as UTF-8 bytes; ours is base64url of binary."""
    return COSEKey.from_jwk({**jwk, "kid": b64url_decode(jwk["kid"])})


def to_json(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"bytes": value.hex()}
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_json(v) for v in value]
    return value


def from_json(value: Any) -> Any:
    if isinstance(value, dict):
        if value.keys() == {"bytes"}:
            return bytes.fromhex(value["bytes"])
        return {int(k): from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_json(v) for v in value]
    return value


def op_import_jwk(req: dict[str, Any]) -> dict[str, Any]:
    """COSEKey.from_jwk on the key directory's JWKs, as-is and with the kid decoded."""
    out: dict[str, Any] = {}
    for name, field in ((ISSUER_JWK, -2), (GROUP_JWK, -1)):
        jwk = load_jwk(req["keydir"], name)
        as_is = COSEKey.from_jwk(jwk)
        key = cose_key_from_jwk(jwk)
        params = key.to_dict()
        out[name] = {
            "kty": params[1],
            "alg": key.alg,
            "kid": key.kid.hex(),
            "kid_as_is": as_is.kid.hex(),
            "key": params[field].hex(),
            "crv": params.get(-1) if field == -2 else None,
        }
    return out


def op_read(req: dict[str, Any]) -> dict[str, Any]:
    """Decrypt and verify a token text; return both headers and the claims."""
    text: str = req["token"]
    if not text.startswith(PREFIX):
        raise ValueError("not an EC1 token")
    envelope = base45.b45decode(text[len(PREFIX):])
    group_key = cose_key_from_jwk(load_jwk(req["keydir"], GROUP_JWK))
    issuer_key = cose_key_from_jwk(load_jwk(req["keydir"], ISSUER_JWK))

    # Layer by layer, to see every header.
    ctx = COSE.new(verify_kid=True)
    enc_p, enc_u, signed = ctx.decode_with_headers(envelope, [group_key])
    sig_p, sig_u, payload = ctx.decode_with_headers(signed, [issuer_key])
    claims = cbor2.loads(payload)

    # And in one call, the way a python-cwt user would read a nested CWT.
    # no_verify skips python-cwt's wall-clock exp check: the reader applies
    # its own clock (the tests use a fixed one).
    nested = cwt.decode(envelope, keys=[group_key, issuer_key], no_verify=True)
    return {
        "encrypt0": {"tag": cbor2.loads(envelope).tag, "protected": to_json(enc_p),
                     "unprotected": to_json(enc_u)},
        "sign1": {"tag": cbor2.loads(signed).tag, "protected": to_json(sig_p),
                  "unprotected": to_json(sig_u)},
        "claims": to_json(claims),
        "claims_nested": to_json(nested),
    }


def op_mint(req: dict[str, Any]) -> str:
    """Assemble a token with python-cwt from the key directory and given claims.

    ``variant`` bends the headers for negative tests: "kid_unprotected" moves
    the kid of ``layer`` ("sign1" or "encrypt0") to the unprotected header,
    "crit" adds a critical private header to that layer's protected header.
    """
    keydir = req["keydir"]
    issuer_jwk = load_jwk(keydir, ISSUER_JWK)
    group_key = cose_key_from_jwk(load_jwk(keydir, GROUP_JWK))
    signing_key = COSEKey.from_pem(
        (Path(keydir) / ISSUER_PEM).read_bytes(), alg="EdDSA",
        kid=b64url_decode(issuer_jwk["kid"]),
    )
    claims = from_json(req["claims"])
    cwt.Claims.validate(claims)  # python-cwt's own check of the registered claims

    variant = req.get("variant", "strict")
    layer = req.get("layer")
    if variant not in ("strict", "kid_unprotected", "crit") or (
        variant != "strict" and layer not in ("sign1", "encrypt0")
    ):
        raise ValueError("unknown variant or layer")

    def headers(alg: int, kid: bytes, this_layer: str) -> tuple[dict[int, Any], dict[int, Any]]:
        protected: dict[int, Any] = {1: alg, 4: kid}
        unprotected: dict[int, Any] = {}
        if layer == this_layer and variant == "kid_unprotected":
            protected = {1: alg}
            unprotected = {4: kid}
        elif layer == this_layer and variant == "crit":
            protected = {1: alg, 2: [-70000], 4: kid, -70000: True}
        return protected, unprotected

    ctx = COSE.new()
    sig_p, sig_u = headers(signing_key.alg, signing_key.kid, "sign1")
    signed = ctx.encode_and_sign(cbor2.dumps(claims), signing_key, protected=sig_p,
                                 unprotected=sig_u)
    enc_p, enc_u = headers(group_key.alg, group_key.kid, "encrypt0")
    enc_u[5] = bytes.fromhex(req["iv"])
    envelope = ctx.encode_and_encrypt(signed, group_key, protected=enc_p, unprotected=enc_u)
    return PREFIX + base45.b45encode(envelope).decode("ascii")


def op_read_holder(req: dict[str, Any]) -> dict[str, Any]:
    """Read a holder credential (open and sealed) and check a presentation's device signature.

    Keys come as COSE_Key parameters (hex); the device key is taken from the
    credential's ``cnf`` claim, as a terminal does.
    """
    issuer = COSEKey.new({1: 1, -1: 6, -2: bytes.fromhex(req["issuer_public"]), 3: -8,
                          2: bytes.fromhex(req["issuer_kid"])})
    claims = cwt.decode(bytes.fromhex(req["credential"]), keys=[issuer], no_verify=True)
    out: dict[str, Any] = {"claims": to_json(claims)}
    if req.get("sealed"):
        group = COSEKey.new({1: 4, -1: bytes.fromhex(req["group_key"]), 3: 10,
                             2: bytes.fromhex(req["group_kid"])})
        sealed = cwt.decode(bytes.fromhex(req["sealed"]), keys=[group, issuer], no_verify=True)
        out["sealed_claims"] = to_json(sealed)
    text: str = req["presentation"]
    if not text.startswith("EP1:"):
        raise ValueError("not an EP1 presentation")
    device = COSEKey.new({1: 1, -1: 6, -2: claims[8][1][-2], 3: -8})
    protected, unprotected, payload = COSE.new().decode_with_headers(
        base45.b45decode(text[4:]), device)
    out["presentation"] = {"protected_labels": sorted(protected),
                           "credential_in_kcwt": to_json(cbor2.dumps(protected[13])),
                           "unprotected": to_json(unprotected),
                           "payload": to_json(cbor2.loads(payload))}
    return out


def op_read_holder_sm2_device(req: dict[str, Any]) -> dict[str, Any]:
    """Read an Ed25519 issuer's credential whose ``cnf`` is an SM2 device key (compressed
    EC2 COSE_Key with the private-use curve -65537), verifying the issuer's signature.

    python-cwt has no SM2, so the presentation's device signature is not checked here
    (gmssl does that in tests/holder/test_sm_device.py); its structure is read with cbor2.
    """
    issuer = COSEKey.new({1: 1, -1: 6, -2: bytes.fromhex(req["issuer_public"]), 3: -8,
                          2: bytes.fromhex(req["issuer_kid"])})
    claims = cwt.decode(bytes.fromhex(req["credential"]), keys=[issuer], no_verify=True)
    text: str = req["presentation"]
    message = cbor2.loads(base45.b45decode(text[4:]))
    protected = cbor2.loads(message.value[0])
    return {"claims": to_json(claims),
            "presentation": {"tag": message.tag, "alg": protected.get(1),
                             "protected_labels": sorted(protected),
                             "signature_bytes": len(message.value[3])}}


OPS = {"import_jwk": op_import_jwk, "read": op_read, "mint": op_mint,
       "read_holder": op_read_holder, "read_holder_sm2_device": op_read_holder_sm2_device}


def main() -> int:
    try:
        req = json.load(sys.stdin)
        result = OPS[req["op"]](req)
    except Exception as exc:  # reported to the test, which decides what it means
        json.dump({"error": f"{type(exc).__name__}: {exc}"}, sys.stdout)
        return 0
    json.dump({"ok": result}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
