"""The README's "Redis Cluster" table is the recorded run of benchmarks/replay_cluster.py."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_readme_table_is_the_recorded_run() -> None:
    pytest.importorskip("redis", reason="the figures script imports the Redis store")
    spec = importlib.util.spec_from_file_location(
        "replay_cluster_bench", ROOT / "benchmarks" / "replay_cluster.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    report = json.loads((ROOT / "docs" / "benchmarks" / "replay-cluster.json").read_text())
    assert module.readme_table(report) in (ROOT / "README.md").read_text()
    lag = report["failover"]
    assert lag["lagging_replica_default"]["accepted_twice"] == 0
    assert lag["automatic_default"]["accepted_twice"] == 0
