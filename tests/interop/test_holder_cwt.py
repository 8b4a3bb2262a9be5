"""python-cwt reads holder credentials and verifies a presentation's device signature.

The inputs are the published vectors (docs/vectors/holder/), so another implementation
can run the same check.
"""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import CwtSide

VECTORS = Path(__file__).resolve().parents[2] / "docs" / "vectors" / "holder"


def test_python_cwt_reads_the_credential_and_the_presentation(cwt_side: CwtSide) -> None:
    creds = json.loads((VECTORS / "credentials.json").read_text("utf-8"))
    shown = json.loads((VECTORS / "presentations.json").read_text("utf-8"))
    k = creds["keys"]
    text = shown["checks"][0]["text"]
    got = cwt_side.call(
        "read_holder", credential=creds["open_cose_sign1_hex"],
        sealed=creds["sealed_cose_encrypt0_hex"], issuer_public=k["issuer_public"],
        issuer_kid=k["issuer_kid"], group_key=k["group_key"], group_kid=k["group_kid"],
        presentation=text)
    c = creds["claims"]
    claims = got["claims"]
    assert claims["2"] == c["credential_id"] == "E4Q7ZK2M9PXA"
    assert claims["4"] == c["expires_at"] and claims["6"] == c["issued_at"]
    assert claims["8"] == {"1": {"1": 1, "-1": 6, "-2": {"bytes": c["device_key"]}}}
    # version 2: the compact status reference, the index last in the holder array
    assert "65535" not in claims
    assert claims["-65538"] == [110105, 310, 2, "张*丰", 1, c["status"]["idx"]]
    assert got["sealed_claims"] == claims
    p = got["presentation"]
    # {13: credential}: the algorithm is the cnf key's (python-cwt verified the device
    # signature with the COSE_Key it built from cnf)
    assert p["protected_labels"] == [13] and p["unprotected"] == {}
    assert p["payload"]["-65540"] == 1101
    assert p["payload"]["4"] - p["payload"]["6"] == 60
    # the vectors' first presentation carries exactly the published open credential
    assert p["credential_in_kcwt"] == {"bytes": creds["open_cose_sign1_hex"]}


def test_python_cwt_reads_a_credential_binding_an_sm2_device(cwt_side: CwtSide) -> None:
    """An Ed25519 issuer certifies an SM2 device key: python-cwt verifies the issuer's
    signature and reads the SM2 COSE_Key in ``cnf`` as the format documents it."""
    doc = json.loads((VECTORS / "sm_presentations.json").read_text("utf-8"))
    case = next(c for c in doc["cases"] if c["suites"] == "ed25519/sm")
    k = case["keys"]
    got = cwt_side.call("read_holder_sm2_device", credential=case["credential_cose_sign1_hex"],
                        issuer_public=k["issuer_public"], issuer_kid=k["issuer_kid"],
                        presentation=case["checks"][0]["text"])
    device = bytes.fromhex(k["devices"]["holder"]["public"])
    assert got["claims"]["8"] == {"1": {"1": 2, "-1": -65537, "-2": {"bytes": device[:32].hex()},
                                        "-3": bool(device[63] & 1)}}
    assert got["claims"]["2"] == "E4Q7ZK2M9PXA"
    assert got["presentation"] == {"tag": 18, "alg": None, "protected_labels": [13],
                                   "signature_bytes": 64}
