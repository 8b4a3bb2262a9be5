"""The SM suite's speed: SM4 AEADs compared, and a full SM token verification against
the backend's bare SM2 verify and against the Ed25519 suite, interleaved in one run.

    python benchmarks/sm_suite.py [--rounds 15] [--ops 200] [--json FILE]
    python benchmarks/sm_suite.py --instructions [--json FILE]
    python benchmarks/sm_suite.py --sizes [--json FILE]

Figures (medians of per-round means, microseconds per operation):

* AEAD open of a token-sized message (the verifier's decryption): AES-CCM-16-64-128
  (cryptography's AESCCM), SM4-CCM-16-64-128 (this library's CCM over SM4),
  SM4-GCM (cryptography's GCM over SM4), each through the key's Python ``open``; and,
  with the compiled extension, its CCM keys (``(C)`` rows: what a group route holds,
  called from Python here; the accelerator calls the same C function without a
  Python call);
* ``bare SM2 verify``: gmalglib's verify of the very signatures the full check
  then verifies (each token's Sig_structure and signature, extracted beforehand),
  exactly the call the verifier makes, with nothing around it;
* ``SM full check``: ``Verifier.check`` of an SM-suite token (Base45, CBOR,
  SM4-CCM, claims, windows, SM2 signature; no replay mark) and ``SM full
  verify`` (the same plus the in-memory replay mark), each token fresh;
* the same two for the Ed25519 suite;
* ``SM pipeline without the signature``: ``Verifier.check`` of the same SM tokens
  on a second key directory whose SM2 verification is replaced by ``True``
  (everything but the signature, measured directly rather than as a
  difference of two noisy figures);
* holder presentations with an SM2 device key (an Ed25519 issuer, credential
  cached, so the device signature is the one signature): ``bare SM2 verify
  (device)`` over the presentations' Sig_structures, and ``SM2-device
  presentation check``.

The ratio ``bare / full`` says how much of a verification is the signature
itself (the target is >= 0.95: everything else costs at most 5 %).

``--instructions`` counts instructions instead, under valgrind's callgrind (as
benchmarks/stage_costs.py does: two runs of ``SMALL`` and ``SMALL + COUNT``
operations, the difference per operation): a loaded machine blurs wall-clock
ratios, not instruction counts.  Instructions are not time (the SM2
arithmetic runs more instructions per cycle than the interpreter), so the
instruction ratio flatters the Python stages; quote both.

Needs the ``gm`` extra.  Nothing here is asserted by the tests: speed lives in
benchmarks.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from ecert_token import BusinessType, FixedClock, Issuer, Verifier, VerifyPolicy, _speedups
from ecert_token.codec import cose
from ecert_token.codec.base45 import b45decode
from ecert_token.crypto.aead import AesCcmKey
from ecert_token.crypto.sm2 import backend_version
from ecert_token.crypto.sm4 import Sm4CcmKey, Sm4GcmKey
from ecert_token.holder import PresentationVerifier, present
from ecert_token.holder.claims import HolderClaims, StatusRef
from ecert_token.holder.credential import issue
from ecert_token.holder.device import DeviceKey
from ecert_token.holder.presentation import split
from ecert_token.keys import keydir
from ecert_token.keys.keydir import KeyDir
from ecert_token.keys.suite import Suite
from ecert_token.model import Channel, InsuranceType, Region
from ecert_token.token.text import PREFIX
from ecert_token_tools.vectors import sample_person, seeded_random

NOW = 1_790_000_000
BT = BusinessType.HOSPITAL_REGISTRATION


AnyAead = AesCcmKey | Sm4CcmKey | Sm4GcmKey
"""The AEAD keys this benchmark times (each has ``open`` and ``encrypt``)."""


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


def _sm_keys() -> KeyDir:
    return keydir.generate(suite=Suite.SM, random_bytes=seeded_random(b"bench sm"))


def _unsigned_verifier() -> Verifier:
    """A verifier of the same SM keys whose SM2 check is ``True``: the pipeline alone."""
    keys = _sm_keys()
    public = keys.signing_key.public.public_key
    public._verify = lambda message, signature: True  # type: ignore[union-attr]
    return _verifier(keys)


def _presentations(n: int) -> tuple[list[str], PresentationVerifier, DeviceKey]:
    """``n`` presentations of one SM2 device under an Ed25519 issuer, and a terminal whose
    credential cache already holds the credential."""
    ed = keydir.generate(random_bytes=seeded_random(b"bench holder ed"))
    phone = DeviceKey.generate(Suite.SM, seeded_random(b"bench phone"))
    claims = HolderClaims("E4Q7ZK2M9PXA", NOW - 3600, NOW + 86_400, phone.public_key,
                          StatusRef("ec:NHSA", 40_000), Region("110105"),
                          InsuranceType.EMPLOYEE_BASIC, Channel.WECHAT, "张*丰")
    blob = issue(claims, ed.signing_key)
    texts = [present(blob, phone, BT, now=NOW) for _ in range(n)]
    checker = PresentationVerifier(ed.trust_store(), VerifyPolicy())
    checker.check(texts[0], BT, now=NOW)
    return texts, checker, phone


def _bare_device(phone: DeviceKey) -> Callable[[list[bytes]], float]:
    """gmalglib's verify of the presentations' device signatures (``signed`` is
    signature || Sig_structure, as the parser hands it to the cnf key)."""
    from gmalglib.sm2 import SM2

    verify = SM2(pk=b"\x04" + phone.public_key.raw).verify

    def run(signed: list[bytes]) -> float:
        start = time.perf_counter()
        for item in signed:
            verify(item[64:], item[:64])
        return (time.perf_counter() - start) / len(signed) * 1e6

    return run


def _native_ccm(key: bytes) -> dict[str, Any]:
    """The extension's CCM keys (``_accel.CcmKey``) by row name; none without it."""
    if _speedups.extension is None:
        return {}
    return {f"{cipher}-CCM-16-64-128 (C)": _speedups.extension.CcmKey(cipher, key)
            for cipher in ("AES", "SM4")}


def run(rounds: int, ops: int) -> dict[str, Any]:
    sm = _sm_keys()
    ed = keydir.generate(random_bytes=seeded_random(b"bench ed"))
    key, aad, message = os.urandom(16), os.urandom(40), os.urandom(150)
    aeads: dict[str, AnyAead] = {
        "AES-CCM-16-64-128": AesCcmKey(key), "SM4-CCM-16-64-128": Sm4CcmKey(key),
        "SM4-GCM": Sm4GcmKey(key)}
    sealed = {name: a.encrypt(message, aad) for name, a in aeads.items()}
    nonce13 = os.urandom(13)
    natives = _native_ccm(key)
    native_sealed = {name: c.encrypt(nonce13, message, aad) for name, c in natives.items()}
    sm_tokens = _tokens(sm, rounds * ops * 2)
    ed_tokens = _tokens(ed, rounds * ops * 2)
    bare = _bare_sm2(sm)
    check_sm, check_ed = _verifier(sm), _verifier(ed)
    unsigned = _unsigned_verifier()
    texts, holder_check, phone = _presentations(rounds * ops)
    device_signed = [split(t)[6] for t in texts]
    bare_device = _bare_device(phone)
    times: dict[str, list[float]] = {}

    def record(name: str, value: float) -> None:
        times.setdefault(name, []).append(value)

    for r in range(rounds):
        for name, aead in aeads.items():
            nonce, ct = sealed[name]
            record(f"{name} open", _per_op(functools.partial(aead.open, nonce, ct, aad), ops))
            record(f"{name} seal", _per_op(functools.partial(aead.encrypt, message, aad), ops))
        for name, native in natives.items():
            record(f"{name} open",
                   _per_op(functools.partial(native, nonce13, native_sealed[name], aad), ops))
            record(f"{name} seal",
                   _per_op(functools.partial(native.encrypt, nonce13, message, aad), ops))
        sm_a, sm_b, ed_a, ed_b = (tokens[(2 * r + half) * ops:(2 * r + half + 1) * ops]
                                  for tokens in (sm_tokens, ed_tokens) for half in (0, 1))
        # The same signatures the full check below verifies, through the backend alone.
        record("bare SM2 verify (gmalglib)", bare(_signature_inputs(sm, sm_a)))
        record("SM full check", _per_token(lambda t, b: check_sm.check(t, b, now=NOW), sm_a))
        record("SM full verify", _per_token(_verifier(sm).verify, sm_b))
        record("Ed25519 full check",
               _per_token(lambda t, b: check_ed.check(t, b, now=NOW), ed_a))
        record("Ed25519 full verify", _per_token(_verifier(ed).verify, ed_b))
        record("SM pipeline without the signature",
               _per_token(lambda t, b: unsigned.check(t, b, now=NOW), sm_a))
        block = slice(r * ops, (r + 1) * ops)
        record("bare SM2 verify (device)", bare_device(device_signed[block]))
        record("SM2-device presentation check",
               _per_token(lambda t, b: holder_check.check(t, b, now=NOW), texts[block]))
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
            "bare SM2 verify / (bare SM2 verify + SM pipeline without the signature)":
                round(statistics.median(
                    x / (x + y) for x, y in zip(times["bare SM2 verify (gmalglib)"],
                                                times["SM pipeline without the signature"],
                                                strict=True)), 3),
            "bare SM2 verify (device) / SM2-device presentation check":
                ratio("bare SM2 verify (device)", "SM2-device presentation check"),
        },
    }


PATHS = ("bare SM2 verify (gmalglib)", "SM full check", "SM full verify", "Ed25519 full check",
         "Ed25519 full verify", "SM pipeline without the signature", "bare SM2 verify (device)",
         "SM2-device presentation check")

# --- presentation sizes with SM2 device keys (--sizes; deterministic) ---------------
SIZE_INDICES = (40_000, 20_000_000)
"""Status indices: one of the default 2**16 list (random indices are 3 CBOR bytes), one
of a province-sized list (5 bytes); sequential indices reach the same sizes at scale."""


def _qr_m(chars: int) -> int | None:
    try:
        from ecert_token.qr import qr_version
    except ImportError:  # pragma: no cover - without the qr extra
        return None
    return qr_version("EP1:" + "0" * (chars - 4), "M")


def sizes() -> dict[str, Any]:
    """Open presentations for every issuer/device suite pair, and two alternatives."""
    out: dict[str, Any] = {}
    for issuer_suite in (Suite.ED25519, Suite.SM):
        keys = keydir.generate(suite=issuer_suite, random_bytes=seeded_random(b"size keys"))
        for device_suite in (Suite.ED25519, Suite.SM):
            phone = DeviceKey.generate(device_suite, seeded_random(b"size phone"))
            for idx in SIZE_INDICES:
                claims = HolderClaims("E4Q7ZK2M9PXA", NOW - 3600, NOW + 86_400,
                                      phone.public_key, StatusRef(None, idx),
                                      Region("110105"), InsuranceType.EMPLOYEE_BASIC,
                                      Channel.WECHAT, "张*丰")
                text = present(issue(claims, keys.signing_key), phone, BT, now=NOW,
                               random_bytes=seeded_random(b"size"))
                name = (f"{issuer_suite.value} issuer, {device_suite.value} device, "
                        f"status index {idx:,}")
                out[name] = {"chars": len(text), "bytes": len(b45decode(text[4:])),
                             "qr_m": _qr_m(len(text))}
            # Before: a version-1 credential (the Token Status List draft's status claim)
            # and the header naming the algorithm (docs/holder-credentials.md).
            idx = SIZE_INDICES[1]
            claims = HolderClaims("E4Q7ZK2M9PXA", NOW - 3600, NOW + 86_400, phone.public_key,
                                  StatusRef("ec:NHSA", idx), Region("110105"),
                                  InsuranceType.EMPLOYEE_BASIC, Channel.WECHAT, "张*丰")
            text = present(issue(claims, keys.signing_key), phone, BT, now=NOW,
                           random_bytes=seeded_random(b"size"), name_alg=True)
            out[f"before: {issuer_suite.value} issuer, {device_suite.value} device, status "
                f"index {idx:,}, version-1 credential, alg in the header"] = {
                "chars": len(text), "bytes": len(b45decode(text[4:])), "qr_m": _qr_m(len(text))}

    def estimate(name: str, delta: int, base_row: str = "ed25519 issuer, sm device") -> None:
        base = out[f"{base_row}, status index {SIZE_INDICES[0]:,}"]["bytes"]
        n = base + delta
        chars = 4 + n // 2 * 3 + n % 2 * 2
        out[name] = {"chars": chars, "bytes": n, "qr_m": _qr_m(chars)}

    estimate("estimate: ed25519 issuer, sm device, uncompressed y in cnf (32 bytes, not a "
             "sign bit)", 33)
    return out


def markdown_sizes(table: dict[str, Any]) -> str:
    lines = ["| open presentation | characters | bytes | QR version (M) |", "|---|---|---|---|"]
    lines += [f"| {name} | {v['chars']} | {v['bytes']} | {v['qr_m']} |"
              for name, v in table.items()]
    return "\n".join(lines)


# --- instruction counts (--instructions) -------------------------------------------
SMALL = 10
COUNT = 100


def _operations() -> dict[str, Callable[[int], Callable[[], object]]]:
    """Each operation's set-up for ``n`` repetitions, returning the loop to count."""

    def bare(n: int) -> Callable[[], object]:
        keys = _sm_keys()
        inputs = _signature_inputs(keys, _tokens(keys, SMALL + COUNT))[:n]
        verify = keys.signing_key.public.public_key._verify  # type: ignore[union-attr]
        return lambda: [verify(tbs, sig) for tbs, sig in inputs]

    def tokens(make: Callable[[], Verifier], method: str) -> Callable[[int], Callable[[], object]]:
        def setup(n: int) -> Callable[[], object]:
            toks = _tokens(_sm_keys(), SMALL + COUNT)[:n]
            v = make()
            if method == "check":
                return lambda: [v.check(t, BT, now=NOW) for t in toks]
            return lambda: [v.verify(t, BT) for t in toks]
        return setup

    def device_bare(n: int) -> Callable[[], object]:
        texts, _, phone = _presentations(SMALL + COUNT)
        signed = [split(t)[6] for t in texts][:n]
        from gmalglib.sm2 import SM2

        verify = SM2(pk=b"\x04" + phone.public_key.raw).verify
        return lambda: [verify(s[64:], s[:64]) for s in signed]

    def device_check(n: int) -> Callable[[], object]:
        texts, checker, _ = _presentations(SMALL + COUNT)
        return lambda: [checker.check(t, BT, now=NOW) for t in texts[:n]]

    return {
        "bare SM2 verify (gmalglib)": bare,
        "SM full check": tokens(lambda: _verifier(_sm_keys()), "check"),
        "SM full verify": tokens(lambda: _verifier(_sm_keys()), "verify"),
        "SM pipeline without the signature": tokens(_unsigned_verifier, "check"),
        "bare SM2 verify (device)": device_bare,
        "SM2-device presentation check": device_check,
    }


def markdown_instructions(result: dict[str, Any]) -> str:
    lines = ["| path | instructions per operation |", "|---|---|"]
    lines += [f"| {name} | {value:,} |" for name, value in result["instructions"].items()]
    lines += [f"| ratio: {name} | {value} |" for name, value in result["ratios"].items()]
    return "\n".join(lines)


def _worker(op: str, n: int) -> None:
    loop = _operations()[op](n)  # set-up is the same for both counts; only the loop differs
    loop()


def _instructions(op: str, n: int) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "cg.out")
        subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
             sys.executable, __file__, "--run", op, str(n)],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(out, encoding="utf-8") as f:
            text = f.read()
    match = re.search(r"^(?:summary|totals):\s+(\d+)", text, re.M)
    if match is None:
        raise RuntimeError("no instruction total in the callgrind output")
    return int(match.group(1))


def instructions() -> dict[str, Any]:
    counts = {}
    for name in _operations():
        counts[name] = round((_instructions(name, SMALL + COUNT) - _instructions(name, SMALL))
                             / COUNT)
        print(f"{name:40s} {counts[name]:12,d} instructions", flush=True)

    def ratio(a: str, b: str) -> float:
        return round(counts[a] / counts[b], 3)

    return {
        "machine": f"{platform.machine()} {platform.python_implementation()} "
                   f"{platform.python_version()}",
        "backend": backend_version(),
        "method": f"callgrind, ({SMALL + COUNT} - {SMALL}) operations, per operation",
        "instructions": counts,
        "ratios": {
            "bare SM2 verify / SM full check": ratio("bare SM2 verify (gmalglib)",
                                                     "SM full check"),
            "bare SM2 verify / SM full verify": ratio("bare SM2 verify (gmalglib)",
                                                      "SM full verify"),
            "bare SM2 verify (device) / SM2-device presentation check":
                ratio("bare SM2 verify (device)", "SM2-device presentation check"),
        },
    }


def markdown_aead(result: dict[str, Any]) -> str:
    m = result["median_us"]
    lines = ["| AEAD | open (us) | seal (us) | nonce + tag bytes |", "|---|---|---|---|"]
    sizes = {"AES-CCM-16-64-128": "13 + 8", "SM4-CCM-16-64-128": "13 + 8", "SM4-GCM": "12 + 16",
             "AES-CCM-16-64-128 (C)": "13 + 8", "SM4-CCM-16-64-128 (C)": "13 + 8"}
    for name in (n for n in sizes if n + " open" in m):
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
    parser.add_argument("--instructions", action="store_true",
                        help="count instructions under callgrind instead of timing")
    parser.add_argument("--sizes", action="store_true",
                        help="presentation sizes with SM2 device keys (deterministic)")
    parser.add_argument("--run", nargs=2, metavar=("OP", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        _worker(args.run[0], int(args.run[1]))
        return
    if args.sizes:
        table = sizes()
        print(markdown_sizes(table))
        _write_json(args.json, table)
        return
    if args.instructions:
        counted = instructions()
        print(markdown_instructions(counted))
        _write_json(args.json, counted)
        return
    result = run(args.rounds, args.ops)
    print(f"{result['machine']}, {result['backend']}, {args.rounds} interleaved rounds")
    print(markdown_aead(result))
    print()
    print(markdown_speed(result))
    _write_json(args.json, result)


def _write_json(path: str | None, data: dict[str, Any]) -> None:
    if path:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2)
            fh.write("\n")


if __name__ == "__main__":
    main()
