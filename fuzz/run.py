"""Run the fuzz harnesses for a time or a number of executions, and judge the results.

    python fuzz/run.py --seconds 20                 # every job, 20 s each (CI)
    python fuzz/run.py --runs 10000000 --jobs verify differential
    python fuzz/run.py --runs 10000000 --seconds 3600     # whichever comes first
    python fuzz/run.py --list

A job is a harness with an environment: ``verify`` fuzzes the verifier with the
C extensions, ``verify-pure`` the same harness with ``ECERT_TOKEN_PURE_PYTHON=1``
(the pure-Python pipeline), ``differential`` the compiled readers against
their references, ``trust_list`` and ``key_import`` the loaders.

Each job fuzzes from ``fuzz/seeds/<harness>`` (committed) into
``<out>/<job>/corpus`` (generated, not committed), with a 10 s per-input
timeout and a 2 GB memory limit.  Afterwards the job's kept slowest inputs,
its whole corpus and its seeds are re-timed (best of ``common.RETIME_ROUNDS``
runs each, in a fresh process) and ``<out>/summary.json``
records, per job: executions, crashes (libFuzzer findings: an exception
that is not allowed, a difference, a timeout, an out-of-memory), the slowest
input's best time and whether it is above 10 ms.

Exit status: 1 if any job found something (or did not run), 0 otherwise.
A slow input is reported, and fails the run only with ``--fail-slow`` (CI
does not judge timings on a shared machine).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import common

JOBS: dict[str, tuple[str, dict[str, str]]] = {
    "verify": ("verify", {}),
    "verify-pure": ("verify", {"ECERT_TOKEN_PURE_PYTHON": "1"}),
    "differential": ("differential", {}),
    "trust_list": ("trust_list", {}),
    "key_import": ("key_import", {}),
}
"""job name -> (harness, extra environment)."""

_DONE = re.compile(r"Done (\d+) runs in (\d+) second")
_STAT_RUNS = re.compile(r"stat::number_of_executed_units: (\d+)")


def run_job(job: str, out: Path, seconds: int | None, runs: int | None) -> dict[str, object]:
    harness, extra = JOBS[job]
    directory = out / job
    corpus = directory / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("crash-*"):
        old.unlink()
    env = {**os.environ, **extra, "ECERT_FUZZ_OUT": str(directory)}
    script = common.ROOT / f"fuzz_{harness}.py"
    limit = ([f"-max_total_time={seconds}"] if seconds is not None else []) + (
        [f"-runs={runs}"] if runs is not None else [])
    command = [sys.executable, str(script), str(corpus), str(common.SEEDS / harness), *limit,
               "-timeout=10", "-rss_limit_mb=2048", "-print_final_stats=1",
               f"-artifact_prefix={directory}/"]
    started = time.time()
    log = directory / "fuzz.log"
    with log.open("wb") as fh:
        status = subprocess.run(command, env=env, stdout=fh, stderr=subprocess.STDOUT,
                                check=False).returncode
    text = log.read_text("utf-8", "replace")
    executions = [int(m) for m in _STAT_RUNS.findall(text)] or [
        int(m[0]) for m in _DONE.findall(text)]
    findings = sorted(p.name for p in directory.iterdir()
                      if p.name.startswith(("crash-", "timeout-", "oom-", "leak-")))
    result: dict[str, object] = {
        "job": job,
        "command": " ".join(command),
        "exit_status": status,
        "executions": executions[-1] if executions else 0,
        "wall_seconds": round(time.time() - started),
        "findings": findings,
    }
    result.update(retime(harness, env, [directory / "slowest", corpus, common.SEEDS / harness]))
    return result


def retime(harness: str, env: dict[str, str], directories: list[Path]) -> dict[str, object]:
    """The best time of every kept slow input and every corpus and seed input, run
    again in a fresh process: the slowest of these is the job's slowest input."""
    files = sorted(str(p) for d in directories if d.is_dir() for p in d.iterdir())
    if not files:
        return {"slowest_input": None, "slowest_best_ms": None, "slow": False}
    script = common.ROOT / f"fuzz_{harness}.py"
    done = subprocess.run([sys.executable, str(script), "--retime", *files], env=env,
                          capture_output=True, text=True, check=False)
    try:
        best: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"slowest_input": None, "slowest_best_ms": None, "slow": True,
                "retime_error": done.stderr[-2000:]}
    path, seconds = max(best.items(), key=lambda kv: kv[1])
    return {"slowest_input": path, "slowest_best_ms": round(seconds * 1000, 3),
            "slow": seconds > common.SLOW_SECONDS}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, help="run each job this long (at most)")
    parser.add_argument("--runs", type=int, help="run each job for this many executions "
                        "(at most, with --seconds)")
    parser.add_argument("--jobs", nargs="+", choices=sorted(JOBS), default=list(JOBS))
    parser.add_argument("--out", type=Path, default=common.ROOT / "out")
    parser.add_argument("--fail-slow", action="store_true",
                        help="also fail when an input takes more than 10 ms")
    parser.add_argument("--list", action="store_true", help="list the jobs and exit")
    args = parser.parse_args()
    if args.list:
        print("\n".join(JOBS))
        return 0
    if args.seconds is None and args.runs is None:
        parser.error("give --seconds or --runs")
    args.out.mkdir(parents=True, exist_ok=True)
    results = []
    for job in args.jobs:
        result = run_job(job, args.out, args.seconds, args.runs)
        results.append(result)
        print(json.dumps({k: result[k] for k in (
            "job", "exit_status", "executions", "wall_seconds", "findings",
            "slowest_best_ms", "slow")}), flush=True)
    (args.out / "summary.json").write_text(json.dumps(results, indent=2) + "\n")
    failed = [r["job"] for r in results if r["exit_status"] != 0 or r["findings"]]
    slow = [r["job"] for r in results if r["slow"]]
    if failed:
        print(f"FAILED: {', '.join(map(str, failed))} (see {args.out}/<job>/fuzz.log)")
    if slow:
        print(f"SLOW (> {common.SLOW_SECONDS * 1000:.0f} ms): {', '.join(map(str, slow))}")
    return 1 if failed or (slow and args.fail_slow) else 0


if __name__ == "__main__":
    raise SystemExit(main())
