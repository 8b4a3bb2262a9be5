"""Mint against the bare libsodium sign, interleaved, alone (the mint rows of
``ecert bench`` without the other contenders: quicker, for comparing versions).

    python benchmarks/mint_speed.py [--rounds 20] [--batch 400] [--json FILE]
    PYTHONPATH=<other checkout>/src python benchmarks/mint_speed.py   # another version

Prints the paired throughput ratio (median over rounds of mint's throughput over
the bare sign's in the same round, as ``ecert bench`` computes it) and the median
latencies of both; the target of issue 11 is a ratio of at least 0.8.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys

import nacl.bindings as sodium

from ecert_token_tools.bench.runner import Contender, paired_ratio, run
from ecert_token_tools.bench.scenario import NOW, REG, Scenario


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--batch", type=int, default=400)
    parser.add_argument("--json", help="write the figures as JSON")
    args = parser.parse_args()
    sc = Scenario(300, peers=False)
    issuer, credential = sc.issuer, sc.credential
    secret = sodium.crypto_sign_seed_keypair(sc.keys.signing_key.private_key.seed)[1]
    messages = [m for _, m in sc.messages]
    sign = sodium.crypto_sign
    contenders = [
        Contender("ecert mint", lambda i: issuer.mint(credential, REG, now=NOW), 256, "mint"),
        Contender("libsodium Ed25519 sign (PyNaCl)", lambda i: sign(messages[i], secret),
                  len(messages), "mint"),
    ]
    gc.collect()
    mint, bare = run(contenders, args.rounds, args.batch, progress=False)
    ratio = paired_ratio(mint, bare)
    figures = {"mint / bare sign (throughput)": None if ratio is None else round(ratio, 3),
               "mint median us": round(mint.median_us, 2),
               "bare sign median us": round(bare.median_us, 2),
               "bare sign / mint (median latencies)": round(bare.median_us / mint.median_us, 3),
               "compiled minter": getattr(issuer, "_compiled", None) is not None}
    print(json.dumps(figures))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rounds": args.rounds, "batch": args.batch, **figures,
                       "results": [mint.to_dict(), bare.to_dict()]}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
