"""The SM suite's speed: SM4 AEADs compared, and a full SM token verification against
the backend's bare SM2 verify and against the Ed25519 suite, interleaved in one run.

    python benchmarks/sm_suite.py [--rounds 15] [--ops 200] [--json FILE]

Figures (medians of per-round means, microseconds per operation):

* AEAD open of a token-sized message (the verifier's decryption): AES-CCM-16-64-128
  (cryptography's AESCCM), SM4-CCM-16-64-128 (this library's CCM over SM4),
  SM4-GCM (cryptography's GCM over SM4);
* ``bare SM2 verify``: gmalglib's verify of the very signatures the full check
  then verifies (each token's Sig_structure and signature, extracted beforehand),
  exactly the call the verifier makes, with nothing around it;
* ``SM full check``: ``Verifier.check`` of an SM-suite token (Base45, CBOR,
  SM4-CCM, claims, windows, SM2 signature; no replay mark) and ``SM full
  verify`` (the same plus the in-memory replay mark), each token fresh;
* the same two for the Ed25519 suite.

The ratio ``bare / full`` says how much of a verification is the signature
itself (the target is >= 0.95: everything else costs at most 5 %).  Needs the
``gm`` extra.  Nothing here is asserted by the tests: speed lives in benchmarks.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

from ecert_token import BusinessType, FixedClock, Issuer, Verifier, VerifyPolicy
from ecert_token.codec import cose
from ecert_token.codec.base45 import b45decode
from ecert_token.crypto.aead import AesCcmKey
from ecert_token.crypto.sm2 import backend_version
from ecert_token.crypto.sm4 import Sm4CcmKey, Sm4GcmKey
from ecert_token.keys import keydir
from ecert_token.keys.keydir import KeyDir
from ecert_token.keys.suite import Suite
from ecert_token.token.text import PREFIX
from ecert_token_tools.vectors import sample_person, seeded_random

NOW = 1_790_000_000
BT = BusinessType.HOSPITAL_REGISTRATION


def _per_op(fn: Callable[[], Any], ops: int) -> float:
    start = time.perf_counter()
    for _ in range(ops):
        fn()
    return (time.perf_counter() - start) / ops * 1e6


def _per_token(fn: Callable[..., Any], tokens: list[str]) -> float:
    start = time.perf_counter()
    for token in tokens:
        fn(token, BT)
    return (time.perf_counter() - start) / len(tokens) * 1e6


def _tokens(keys: KeyDir, n: int) -> list[str]:
    issuer = Issuer(keys.signing_key, keys.group_key, clock=FixedClock(NOW))
    return [issuer.mint(sample_person(), BT) for _ in range(n)]


def _verifier(keys: KeyDir) -> Verifier:
    clock = FixedClock(NOW - 600)
    verifier = Verifier(keys.trust_store(), VerifyPolicy(clock=clock))
    clock.now = NOW
    return verifier


def _signature_inputs(keys: KeyDir, tokens: list[str]) -> list[tuple[bytes, bytes]]:
    """``(Sig_structure, signature)`` of each token: exactly what the verifier hands the
    backend, computed beforehand so the bare loop does nothing else."""
    out = []
    for token in tokens:
        env = cose.decode_encrypt0(b45decode(token[len(PREFIX):]))
        signed = keys.group_key.aead.decrypt(env.iv, env.ciphertext,
                                             cose.enc_structure(env.protected))
        msg = cose.decode_sign1(signed)
        out.append((cose.sig_structure(msg.protected, msg.payload), msg.signature))
    return out


def _bare_sm2(keys: KeyDir) -> Callable[[list[tuple[bytes, bytes]]], float]:
    """gmalglib's own verify over the given inputs, microseconds per signature."""
    from gmalglib.sm2 import SM2

    verify = SM2(pk=b"\x04" + keys.signing_key.public.public_key.raw).verify

    def run(inputs: list[tuple[bytes, bytes]]) -> float:
        start = time.perf_counter()
        for tbs, signature in inputs:
            verify(tbs, signature)
        return (time.perf_counter() - start) / len(inputs) * 1e6

    return run


def run(rounds: int, ops: int) -> dict[str, Any]:
    sm = keydir.generate(suite=Suite.SM, random_bytes=seeded_random(b"bench sm"))
    ed = keydir.generate(random_bytes=seeded_random(b"bench ed"))
    key, aad, message = os.urandom(16), os.urandom(40), os.urandom(150)
    aeads = {"AES-CCM-16-64-128": AesCcmKey(key), "SM4-CCM-16-64-128": Sm4CcmKey(key),
             "SM4-GCM": Sm4GcmKey(key)}
    sealed = {name: a.encrypt(message, aad) for name, a in aeads.items()}
    sm_tokens = _tokens(sm, rounds * ops * 2)
    ed_tokens = _tokens(ed, rounds * ops * 2)
    bare = _bare_sm2(sm)
    check_sm, check_ed = _verifier(sm), _verifier(ed)
    times: dict[str, list[float]] = {}

    def record(name: str, value: float) -> None:
        times.setdefault(name, []).append(value)

    for r in range(rounds):
        for name, aead in aeads.items():
            nonce, ct = sealed[name]
            record(f"{name} open", _per_op(lambda a=aead, n=nonce, c=ct: a.open(n, c, aad), ops))
            record(f"{name} seal", _per_op(lambda a=aead: a.encrypt(message, aad), ops))
        sm_a, sm_b, ed_a, ed_b = (tokens[(2 * r + half) * ops:(2 * r + half + 1) * ops]
                                  for tokens in (sm_tokens, ed_tokens) for half in (0, 1))
        # The same signatures the full check below verifies, through the backend alone.
        record("bare SM2 verify (gmalglib)", bare(_signature_inputs(sm, sm_a)))
        record("SM full check", _per_token(lambda t, b: check_sm.check(t, b, now=NOW), sm_a))
        record("SM full verify", _per_token(_verifier(sm).verify, sm_b))
        record("Ed25519 full check",
               _per_token(lambda t, b: check_ed.check(t, b, now=NOW), ed_a))
        record("Ed25519 full verify", _per_token(_verifier(ed).verify, ed_b))
    medians = {name: round(statistics.median(values), 2) for name, values in times.items()}

    def ratio(a: str, b: str) -> float:
        """The median over rounds of ``a / b`` measured side by side in each round (a
        shared machine slows neighbouring blocks alike; whole-run medians drift)."""
        return round(statistics.median(x / y for x, y in zip(times[a], times[b], strict=True)),
                     3)

    return {
        "machine": f"{platform.machine()} {platform.python_implementation()} "
                   f"{platform.python_version()}",
        "backend": backend_version(),
        "rounds": rounds,
        "ops_per_round": ops,
        "median_us": medians,
        "ratios": {
            "bare SM2 verify / SM full check": ratio("bare SM2 verify (gmalglib)",
                                                     "SM full check"),
            "bare SM2 verify / SM full verify": ratio("bare SM2 verify (gmalglib)",
                                                      "SM full verify"),
            "SM full verify / Ed25519 full verify": ratio("SM full verify",
                                                          "Ed25519 full verify"),
        },
    }


AEADS = ("AES-CCM-16-64-128", "SM4-CCM-16-64-128", "SM4-GCM")
PATHS = ("bare SM2 verify (gmalglib)", "SM full check", "SM full verify", "Ed25519 full check",
         "Ed25519 full verify")


def markdown_aead(result: dict[str, Any]) -> str:
    m = result["median_us"]
    lines = ["| AEAD | open (us) | seal (us) | nonce + tag bytes |", "|---|---|---|---|"]
    sizes = {"AES-CCM-16-64-128": "13 + 8", "SM4-CCM-16-64-128": "13 + 8", "SM4-GCM": "12 + 16"}
    for name in AEADS:
        lines.append(f"| {name} | {m[name + ' open']:.2f} | {m[name + ' seal']:.2f} | "
                     f"{sizes[name]} |")
    return "\n".join(lines)


def markdown_speed(result: dict[str, Any]) -> str:
    m = result["median_us"]
    lines = ["| path | median (us) |", "|---|---|"]
    lines += [f"| {name} | {m[name]:,.1f} |" for name in PATHS]
    lines += [f"| ratio: {name} | {value} |" for name, value in result["ratios"].items()]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--ops", type=int, default=200)
    parser.add_argument("--json", help="also write the result to this file")
    args = parser.parse_args()
    result = run(args.rounds, args.ops)
    print(f"{result['machine']}, {result['backend']}, {args.rounds} interleaved rounds")
    print(markdown_aead(result))
    print()
    print(markdown_speed(result))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(result, fh, indent=2)
            fh.write("\n")


if __name__ == "__main__":
    main()
