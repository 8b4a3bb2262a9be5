"""Instruction counts per operation under valgrind's callgrind: stage costs that a
loaded machine cannot blur.

Wall-clock ratios on a shared machine drift with other work; the number of
instructions an operation executes does not.  For each operation this script
runs a fresh interpreter under ``valgrind --tool=callgrind`` twice, with
``SMALL`` and ``SMALL + COUNT`` repetitions, and reports the difference per
repetition (set-up and start-up cancel out).  Instructions are not time
(libsodium's arithmetic runs more instructions per cycle than the
interpreter), so the wall-clock comparison stays ``ecert bench``; this is
what shows where the instructions go and lets two versions be compared.

    python benchmarks/stage_costs.py                 # every operation, C accelerator on
    ECERT_TOKEN_PURE_PYTHON=1 python benchmarks/stage_costs.py
    python benchmarks/stage_costs.py --json out.json verify bare_verify

``--run OP N`` is the worker mode that valgrind executes.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable

SMALL = 20
COUNT = 200


def _operations() -> dict[str, Callable[[int], object]]:
    import nacl.bindings as sodium

    from ecert_token import TokenRejected
    from ecert_token_tools.bench.scenario import NOW, REG, Scenario

    sc = Scenario(SMALL + COUNT + 10, peers=False)
    verifier, tokens, signed, pk = sc.verifier, sc.tokens, sc.signed, sc.public_raw
    secret = sodium.crypto_sign_seed_keypair(sc.keys.signing_key.private_key.seed)[1]
    messages = [m for _, m in sc.messages]
    issuer, credential = sc.issuer, sc.credential
    rejects = sc.rejects

    def rejecting(reason: str) -> Callable[[int], object]:
        inputs = rejects[reason]

        def op(i: int) -> object:
            try:
                verifier.verify(inputs[i % len(inputs)], REG, now=NOW)
            except TokenRejected as exc:
                return exc.code
            raise AssertionError("accepted")

        return op

    ops: dict[str, Callable[[int], object]] = {
        "verify": lambda i: verifier.verify(tokens[i], REG, now=NOW),
        "bare_verify": lambda i: sodium.crypto_sign_open(signed[i % len(signed)], pk),
        "mint": lambda i: issuer.mint(credential, REG, now=NOW),
        "bare_sign": lambda i: sodium.crypto_sign(messages[i % len(messages)], secret),
    }
    for reason in rejects:
        ops["reject: " + reason] = rejecting(reason)
    ops.update(_stages(sc))
    return ops


def _stages(sc: object) -> dict[str, Callable[[int], object]]:
    """The stages of a verification and of a mint, one at a time (this version's
    modules; absent on versions without them)."""
    try:
        from ecert_token.codec import cose
        from ecert_token.codec.base45 import b45decode, b45encode
        from ecert_token.codec.cwt import claims_from_fields, encode_claims, read_claims
        from ecert_token.token import verify as pipeline_module
        from ecert_token.token.result import VerifiedToken
        from ecert_token.token.text import read_text
    except ImportError:
        return {}
    from ecert_token.model import TokenClaims
    from ecert_token.model.construct import construct
    from ecert_token_tools.bench.scenario import NOW

    verifier = sc.verifier  # type: ignore[attr-defined]
    pipeline = verifier._pipeline
    token = sc.tokens[0]  # type: ignore[attr-defined]
    _, body = read_text(token)
    routes = verifier.trust.routes()
    accelerator = pipeline_module._accelerator
    data = b45decode(body)
    envelope = cose.decode_encrypt0(data)
    group = verifier.trust.group_key(envelope.header.kid)
    aad = cose.enc_structure(envelope.protected)
    plaintext = group.aead.open(envelope.iv, envelope.ciphertext, aad)
    signed = cose.decode_sign1(plaintext)
    fields = read_claims(signed.payload)
    issuer = verifier.trust.issuer_key(signed.header.kid)
    claims = claims_from_fields(fields)
    verified = VerifiedToken(claims, issuer.issuer, issuer.kid, group.kid)
    signing = sc.keys.signing_key.private_key  # type: ignore[attr-defined]
    message = cose.sig_structure(signed.protected, signed.payload)
    ops: dict[str, Callable[[int], object]] = {
        "stage 1 text": lambda i: read_text(token),
        "stage 2 Base45 (Python)": lambda i: b45decode(body),
        "stage 3 envelope (Python)": lambda i: cose.decode_encrypt0(data),
        "stage 5 AEAD": lambda i: group.aead.open(envelope.iv, envelope.ciphertext, aad),
        "stage 6 Sign1 (Python)": lambda i: cose.parse_protected(
            cose.sign1_envelope(plaintext)[0]),
        "stage 6 claims map (Python)": lambda i: read_claims(signed.payload),
        "stage 8 signature (Python)": lambda i: issuer.public_key.verify(signed.signature,
                                                                          message),
        "stage 9 claims": lambda i: claims_from_fields(fields),
        "result": lambda i: VerifiedToken(claims, issuer.issuer, issuer.kid, group.kid),
        "stage 11 replay entry": lambda i: pipeline.replay_entry(verified),
        "mint: claims": lambda i: construct(TokenClaims, claims.token_id, NOW, NOW + 60,
                                            claims.credential_id, claims.subject_kind,
                                            claims.region, claims.insurance_type,
                                            claims.masked_name, claims.business_type,
                                            claims.channel, claims.actor_id),
        "mint: encode claims": lambda i: encode_claims(claims),
        "mint: sign": lambda i: signing.sign(message),
        "mint: encrypt": lambda i: group.aead.encrypt(plaintext, aad),
        "mint: Base45": lambda i: b45encode(data),
    }
    if accelerator is not None and routes is not None:
        ops["stages 2-8 accelerator"] = lambda i: accelerator(
            body, routes.groups, routes.issuers, NOW, 5, 300)
    return ops


def _worker(op: str, n: int) -> None:
    run = _operations()[op]
    # The set-up's objects go to the permanent generation, as in a long-running
    # verifier: a full collection that happens to fall in one of the two runs
    # would otherwise move the difference by thousands of instructions per
    # operation.  The collections the operations cause themselves still count.
    gc.collect()
    gc.freeze()
    for i in range(n):
        run(i)


def _instructions(op: str, n: int) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "cg.out")
        subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
             sys.executable, __file__, "--run", op, str(n)],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(out) as f:
            text = f.read()
    match = re.search(r"^(?:summary|totals):\s+(\d+)", text, re.M)
    if match is None:
        raise RuntimeError("no instruction total in the callgrind output")
    return int(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ops", nargs="*", help="operations (default: all)")
    parser.add_argument("--json", help="write the counts as JSON")
    parser.add_argument("--run", nargs=2, metavar=("OP", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        _worker(args.run[0], int(args.run[1]))
        return
    names = args.ops or list(_operations())
    counts = {}
    for name in names:
        small = _instructions(name, SMALL)
        large = _instructions(name, SMALL + COUNT)
        counts[name] = (large - small) / COUNT
        print(f"{name:40s} {counts[name]:12,.0f} instructions", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"pure_python": os.environ.get("ECERT_TOKEN_PURE_PYTHON") == "1",
                       "instructions": counts}, f, indent=2)


if __name__ == "__main__":
    main()
