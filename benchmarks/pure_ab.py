"""Pure-Python verify, two source trees interleaved: the before/after figures of
docs/performance.md's pure-Python section.

Runs the comparison of ``ecert bench`` (``ecert_token_tools.bench.compare``, no
peers, no parallel or growth runs) with ``ECERT_TOKEN_PURE_PYTHON=1`` on each
tree in turn, ``--pairs`` times, alternating which goes first, so both see the
same machine load; reports the median over the runs of each one's
"full verify / bare libsodium verify" ratio (itself the median over its
interleaved rounds) and of its verify and bare-verify median latencies.

    git worktree add /tmp/before <commit>    # or: git archive <commit> src | tar -x -C DIR
    python benchmarks/pure_ab.py --before /tmp/before/src --after src [--pairs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

TARGET = "full verify / bare libsodium verify (throughput)"
VERIFY = "ecert verify (full)"
BARE = "libsodium Ed25519 verify (PyNaCl)"


def run(src: str, rounds: int, batch: int) -> dict[str, float]:
    """One comparison run in pure-Python mode on the package tree ``src``."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "bench.json")
        code = "import sys; from ecert_token_tools.bench.compare import main; sys.exit(main())"
        subprocess.run(
            [sys.executable, "-c", code, "--no-peers", "--no-parallel", "--no-growth",
             "--rounds", str(rounds), "--batch", str(batch), "--json", out],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env=dict(os.environ, PYTHONPATH=os.path.abspath(src), ECERT_TOKEN_PURE_PYTHON="1"))
        with open(out) as f:
            report = json.load(f)
    ratio = next(t["value"] for t in report["targets"] if t["target"] == TARGET)
    medians = {r["name"]: r["median_us"] for r in report["results"]}
    return {"ratio": ratio, "verify_us": medians[VERIFY], "bare_us": medians[BARE]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="the earlier tree's src directory")
    parser.add_argument("--after", required=True, help="the later tree's src directory")
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--batch", type=int, default=300)
    parser.add_argument("--json", help="write every run and the medians as JSON")
    args = parser.parse_args()
    runs: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
    for pair in range(args.pairs):
        order = ("before", "after") if pair % 2 == 0 else ("after", "before")
        for label in order:
            runs[label].append(run(getattr(args, label), args.rounds, args.batch))
            print(f"pair {pair + 1} {label}: {runs[label][-1]}", file=sys.stderr, flush=True)
    summary = {label: {key: statistics.median(r[key] for r in rs) for key in rs[0]}
               for label, rs in runs.items()}
    for label, values in summary.items():
        print(f"{label:6s} verify/bare {values['ratio']:.3f}  verify {values['verify_us']:.1f} µs"
              f"  bare {values['bare_us']:.1f} µs  (medians of {args.pairs} runs)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"runs": runs, "medians": summary, "rounds": args.rounds,
                       "batch": args.batch}, f, indent=2)


if __name__ == "__main__":
    main()
