"""Holder presentations: verify (cached and uncached credential) against the bare signature,
and minting on the phone side.  The figures in docs/holder-credentials.md.

    python benchmarks/holder_speed.py [--rounds 15] [--json FILE]

Each round times every contender over the same presentations, in turn, so a
busy machine slows them alike; the ratios are medians over the rounds.
"bare" is libsodium's ``crypto_sign_open`` (PyNaCl, as the repository's other
benchmarks call it) over exactly the bytes the device
signature covers (the floor of any presentation check); "cached" verifies
presentations whose credential this terminal has seen before (one
signature); "uncached" with the credential cache off (two signatures).
Targets (issue #13): cached >= 0.85x bare, uncached >= 0.45x.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import nacl.bindings as sodium

from ecert_token.holder.device import new_device_key
from ecert_token.holder.presentation import present, split
from ecert_token.holder.verify import PresentationVerifier
from ecert_token.keys import keydir
from ecert_token.model import BusinessType, Channel, InsuranceType, Region
from ecert_token.registry import Activation, ActivationRegistry, HolderPlatform
from ecert_token.token.policy import VerifyPolicy
from ecert_token_tools.vectors import seeded_random as seeded

NOW = 1_790_000_000
BT = BusinessType.HOSPITAL_REGISTRATION


def build(holders: int, per_holder: int, sealed: bool) -> tuple[list[str], PresentationVerifier,
                                                                 PresentationVerifier, float]:
    keys = keydir.generate(random_bytes=seeded(b"holder-speed keys"))
    tmp = Path(tempfile.mkdtemp())
    platform = HolderPlatform(ActivationRegistry(tmp / "registry.db"), keys.signing_key,
                              keys.group_key if sealed else None)
    rnd = seeded(b"holder-speed")
    texts: list[str] = []
    mint_times: list[float] = []
    for h in range(holders):
        device = new_device_key(rnd)
        issued = platform.activate(Activation(
            f"HOLDER{h:06d}", device.public_key.raw, Region("110105"),
            InsuranceType.EMPLOYEE_BASIC, "张*丰", Channel.WECHAT), now=NOW - 3600)
        for _ in range(per_holder):
            t0 = time.perf_counter()
            texts.append(present(issued.file.sealed, device, BT, now=NOW, random_bytes=rnd))
            mint_times.append(time.perf_counter() - t0)
    policy = VerifyPolicy()
    trust = keys.trust_store()
    cached = PresentationVerifier(trust, policy, cache_size=holders * 2)
    uncached = PresentationVerifier(trust, policy, cache_size=0)
    for text in texts:
        cached.check(text, BT, now=NOW)  # warm the cache
    return texts, cached, uncached, statistics.median(mint_times)


def measure(rounds: int, sealed: bool) -> dict[str, float]:
    texts, cached, uncached, mint = build(100, 20, sealed)
    signed = [(s[6], cached._cache[s[0]].claims.device_key.raw)
              for s in map(split, texts)]

    def bare() -> None:
        open_ = sodium.crypto_sign_open  # raises on a bad signature
        for sm, pk in signed:
            open_(sm, pk)

    def run(verifier: PresentationVerifier) -> Callable[[], None]:
        def go() -> None:
            for text in texts:
                verifier.check(text, BT, now=NOW)
        return go

    contenders = {"bare": bare, "cached": run(cached), "uncached": run(uncached)}
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, fn in contenders.items():
            t0 = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - t0) / len(texts))
    ratios = {name: statistics.median(b / t for b, t in zip(times["bare"], times[name],
                                                             strict=True))
              for name in ("cached", "uncached")}
    return {
        "presentation_chars": statistics.median(len(t) for t in texts),
        "bare_us": statistics.median(times["bare"]) * 1e6,
        "cached_us": statistics.median(times["cached"]) * 1e6,
        "uncached_us": statistics.median(times["uncached"]) * 1e6,
        "cached_ratio": ratios["cached"],
        "uncached_ratio": ratios["uncached"],
        "mint_us": mint * 1e6,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    out = {mode: measure(args.rounds, mode == "sealed") for mode in ("open", "sealed")}
    for mode, fig in out.items():
        print(f"{mode:6} chars {fig['presentation_chars']:.0f}  bare {fig['bare_us']:.1f} us  "
              f"cached {fig['cached_us']:.1f} us ({fig['cached_ratio']:.2f}x)  "
              f"uncached {fig['uncached_us']:.1f} us ({fig['uncached_ratio']:.2f}x)  "
              f"mint {fig['mint_us']:.1f} us")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
