"""Status list size and load time at one province (25 million credentials) and an estimate
for 10^9, at 1% and 10% revoked.  The figures in docs/holder-credentials.md.

    python benchmarks/holder_status_list.py [--credentials 25000000] [--json FILE]

Revoked credentials are spread uniformly at random (seeded), the worst case
for compression (unbinding is not clustered by index).  "load" is what a
terminal does when a new list arrives: parse, verify the issuer's signature,
decompress (``StatusListLoader.offer``).  A lookup is one shift and mask.
The 10^9 row scales the measured figures linearly (size and load time are
linear in the number of credentials); at that scale lists are split per
province (one URI each), so a terminal loads only its provinces' lists.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import zlib
from pathlib import Path

from ecert_token.holder.claims import StatusRef
from ecert_token.holder.status_loader import StatusListLoader
from ecert_token.holder.statuslist import StatusList, sign_status_list
from ecert_token.keys import keydir

NOW = 1_790_000_000


def bit_array(n: int, fraction: float, seed: int) -> bytes:
    out = bytearray((n + 7) // 8)
    rng = random.Random(seed)
    for idx in rng.sample(range(n), int(n * fraction)):
        out[idx >> 3] |= 1 << (idx & 7)
    return bytes(out)


def measure(n: int, fraction: float) -> dict[str, float]:
    keys = keydir.generate()
    data = bit_array(n, fraction, seed=13)
    t0 = time.perf_counter()
    signed = sign_status_list(StatusList("ec:NHSA/11", NOW, NOW + 172_800, 43_200, 1, data),
                              keys.signing_key)
    build_s = time.perf_counter() - t0
    loads = []
    loader = StatusListLoader(keys.trust_store())
    for _ in range(3):
        loader = StatusListLoader(keys.trust_store())
        t0 = time.perf_counter()
        loader.offer(signed, now=NOW)
        loads.append(time.perf_counter() - t0)
    ref = StatusRef("ec:NHSA/11", n // 2)
    t0 = time.perf_counter()
    rounds = 100_000
    for _ in range(rounds):
        loader.status_of(ref, "NHSA", NOW - 10, NOW + 1)
    lookup_us = (time.perf_counter() - t0) / rounds * 1e6
    return {"credentials": n, "revoked_fraction": fraction, "raw_bytes": len(data),
            "signed_bytes": len(signed), "zlib_ratio": len(zlib.compress(data, 1)) / len(data),
            "build_s": build_s, "load_s": min(loads), "lookup_us": lookup_us}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--credentials", type=int, default=25_000_000)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    rows = []
    for fraction in (0.01, 0.10):
        r = measure(args.credentials, fraction)
        scale = 1e9 / args.credentials
        r["estimate_1e9_signed_mb"] = r["signed_bytes"] * scale / 1e6
        r["estimate_1e9_load_s"] = r["load_s"] * scale
        rows.append(r)
        print(f"{args.credentials:,} credentials, {fraction:.0%} revoked: list "
              f"{r['signed_bytes'] / 1e6:.2f} MB signed ({r['raw_bytes'] / 1e6:.2f} MB raw), "
              f"build {r['build_s']:.2f} s, load {r['load_s'] * 1000:.0f} ms, "
              f"lookup {r['lookup_us']:.2f} us; 10^9 estimate "
              f"{r['estimate_1e9_signed_mb']:.0f} MB, load {r['estimate_1e9_load_s']:.1f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
