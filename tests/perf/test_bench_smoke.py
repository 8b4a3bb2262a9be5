"""The comparison harness runs end to end in quick mode (no timing is asserted)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from ecert_token.cli.bench_cmd import register
from ecert_token_tools.bench import compare, runner


def test_quick_comparison_writes_a_complete_report(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="ecert")
    register(parser.add_subparsers(dest="command", required=True))
    out = tmp_path / "bench.json"
    args = parser.parse_args(["bench", "--quick", "--no-peers", "--rounds", "2", "--batch",
                              "8", "--json", str(out)])
    assert args.func(args) == 0
    report = json.loads(out.read_text())
    names = {r["name"] for r in report["results"]}
    assert {compare.VERIFY, compare.BARE_VERIFY, compare.MINT, compare.BARE_SIGN} <= names
    assert any(n.startswith("reject: unknown group key") for n in names)
    verdicts = {t["target"]: t["verdict"] for t in report["targets"]}
    assert verdicts["full verify / python-cwt decode (throughput)"] == "NOT MEASURED"
    assert set(verdicts.values()) <= {"PASS", "FAIL", "NOT MEASURED"}
    assert report["growth"] and report["parallel"]["batch"] == 64
    assert report["machine"]["cores"] >= 1 and report["machine"]["python"]
    table = capsys.readouterr().out
    assert "| target |" in table and "Machine:" in table


def test_percentiles_and_interleaving() -> None:
    assert runner.percentile([], 0.5) == 0.0
    assert runner.percentile([1, 2, 3, 4, 100], 0.5) == 3.0
    assert runner.percentile(list(range(1, 101)), 0.99) == 99.0
    calls: list[str] = []
    contenders = [runner.Contender(n, lambda i, n=n: calls.append(n), 4) for n in "abc"]
    stats = runner.run(contenders, rounds=3, batch=2, warmup=0, progress=False)
    assert [s.ops for s in stats] == [6, 6, 6]
    # Rounds rotate the order: a b c, then b c a, then c a b.
    assert calls == list("aabbcc" "bbccaa" "ccaabb")
