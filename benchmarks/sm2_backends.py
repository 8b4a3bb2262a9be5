"""SM2 backends compared: sign and verify medians, interleaved in one run.

Why: the ``gm`` extra needs one SM2 implementation, and the choice is made by
measurement on the machine kind that runs the verifiers (docs/sm-suite.md).
Every candidate signs and verifies the same message (the size of a token's
Sig_structure) under the same key and the default signer ID; the candidates
take turns round by round, so a busy machine slows all of them alike.

    pip install gmalglib tongsuopy gmssl-pyx gmssl-fast gmssl   # in a scratch venv
    python benchmarks/sm2_backends.py [--rounds 15] [--ops 40] [--json FILE]

A candidate that is not installed is reported as such.  Each one's answers
are checked first (its own signature verifies; a signature with one bit
flipped does not), so a fast but wrong backend cannot win.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

PRIVATE = bytes.fromhex("3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8")
PUBLIC = bytes.fromhex(
    "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
    "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13"
)
"""The GB/T 32918.5 annex key pair (x || y, 64 bytes)."""
MESSAGE = bytes(range(130))
"""About the size of a token's Sig_structure."""
UID = b"1234567812345678"

Ops = tuple[Callable[[bytes], bytes], Callable[[bytes, bytes], bool]]


def _gmalglib() -> Ops:
    from gmalglib.sm2 import SM2

    signer = SM2(sk=PRIVATE, uid=UID)
    verifier = SM2(pk=b"\x04" + PUBLIC, uid=UID)
    return signer.sign, lambda m, s: bool(verifier.verify(m, s))


def _tongsuopy() -> Ops:
    from tongsuopy.crypto import hashes
    from tongsuopy.crypto.asymciphers import ec
    from tongsuopy.crypto.exceptions import InvalidSignature

    key = ec.derive_private_key(int.from_bytes(PRIVATE, "big"), ec.SM2())
    public = key.public_key()
    algorithm = ec.ECDSA(hashes.SM3())

    def verify(message: bytes, signature: bytes) -> bool:
        try:
            public.verify(signature, message, algorithm)
        except InvalidSignature:
            return False
        return True

    return lambda m: key.sign(m, algorithm), verify


def _gmssl_pyx() -> Ops:
    from gmssl_pyx import sm2_sign, sm2_verify

    return (lambda m: sm2_sign(PRIVATE, PUBLIC, m, UID),
            lambda m, s: bool(sm2_verify(PUBLIC, m, s, UID)))


def _gmssl_fast() -> Ops:
    from gmssl_fast import SM2

    key = SM2(PRIVATE.hex(), "04" + PUBLIC.hex())
    return key.sign, lambda m, s: bool(key.verify(m, s))


def _gmssl_pure() -> Ops:
    import secrets

    from gmssl.sm2 import CryptSM2

    key = CryptSM2(private_key=PRIVATE.hex(), public_key=PUBLIC.hex())

    def sign(message: bytes) -> bytes:
        # gmssl's own default nonce uses random.choice: never for signing.
        k = secrets.randbelow(2**255 - 1) + 1
        return bytes.fromhex(key.sign_with_sm3(message, f"{k:064x}"))

    return sign, lambda m, s: bool(key.verify_with_sm3(s.hex(), m))


CANDIDATES: dict[str, tuple[str, Callable[[], Ops]]] = {
    "gmalglib": ("gmalglib", _gmalglib),
    "tongsuopy": ("tongsuopy", _tongsuopy),
    "gmssl-pyx": ("gmssl-pyx", _gmssl_pyx),
    "gmssl-fast": ("gmssl-fast", _gmssl_fast),
    "gmssl (pure Python)": ("gmssl", _gmssl_pure),
}


def _flip(signature: bytes) -> bytes:
    return signature[:-1] + bytes([signature[-1] ^ 1])


def load() -> tuple[dict[str, Ops], dict[str, str]]:
    """The candidates that import and answer correctly, and why the others are out."""
    ready: dict[str, Ops] = {}
    out: dict[str, str] = {}
    for name, (dist, factory) in CANDIDATES.items():
        try:
            ops = factory()
            sign, verify = ops
            sig = sign(MESSAGE)
            if not verify(MESSAGE, sig) or verify(MESSAGE, _flip(sig)) or verify(
                MESSAGE + b"x", sig
            ):
                out[name] = "answers wrongly"
                continue
        except ImportError:
            out[name] = "not installed"
            continue
        ready[name] = ops
        out[name] = importlib.metadata.version(dist)
    return ready, out


def _per_op(fn: Callable[[], Any], ops: int) -> float:
    start = time.perf_counter()
    for _ in range(ops):
        fn()
    return (time.perf_counter() - start) / ops * 1e6


def run(rounds: int, ops: int) -> dict[str, Any]:
    ready, versions = load()
    signatures = {name: sign(MESSAGE) for name, (sign, _) in ready.items()}
    times: dict[str, dict[str, list[float]]] = {n: {"sign": [], "verify": []} for n in ready}
    for _ in range(rounds):
        for name, (sign, verify) in ready.items():
            # The pure-Python one is ~100x slower: fewer operations per round.
            n = max(2, ops // 20) if name.startswith("gmssl (") else ops
            sig = signatures[name]
            times[name]["sign"].append(_per_op(lambda s=sign: s(MESSAGE), n))  # type: ignore[misc]
            times[name]["verify"].append(
                _per_op(lambda v=verify, g=sig: v(MESSAGE, g), n))  # type: ignore[misc]
    return {
        "machine": f"{platform.machine()} {platform.python_implementation()} "
                   f"{platform.python_version()}",
        "rounds": rounds,
        "versions": versions,
        "median_us": {
            name: {op: round(statistics.median(values), 1) for op, values in t.items()}
            for name, t in times.items()
        },
    }


def markdown(result: dict[str, Any]) -> str:
    """The table docs/sm-suite.md shows (the tests compare it with the recorded JSON)."""
    lines = ["| backend | version | sign (us) | verify (us) | custom ID | raw r‖s |",
             "|---|---|---|---|---|---|"]
    features = {"gmalglib": ("yes", "yes"), "tongsuopy": ("no", "no (DER)"),
                "gmssl-pyx": ("yes", "no (DER)"), "gmssl-fast": ("no", "yes"),
                "gmssl (pure Python)": ("no (Z by hand)", "yes")}
    for name, version in result["versions"].items():
        m = result["median_us"].get(name)
        sign, verify = (f"{m['sign']:,.1f}", f"{m['verify']:,.1f}") if m else ("-", "-")
        custom, raw = features.get(name, ("?", "?"))
        lines.append(f"| {name} | {version} | {sign} | {verify} | {custom} | {raw} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--ops", type=int, default=40)
    parser.add_argument("--json", help="also write the result to this file")
    args = parser.parse_args()
    result = run(args.rounds, args.ops)
    print(f"{result['machine']}, {args.rounds} interleaved rounds, medians per operation")
    print(markdown(result))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(result, fh, indent=2)
            fh.write("\n")


if __name__ == "__main__":
    main()
