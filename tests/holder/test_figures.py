"""docs/holder-credentials.md's size tables are exactly what benchmarks/holder_size.py
prints (deterministic), the JSON is the script's, and every presentation kind fits the
acceptable 483 characters at a province's and at 10^9 scale."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_holder_size_tables_match_the_script(tmp_path: Path) -> None:
    pytest.importorskip("segno")
    out = tmp_path / "holder-size.json"
    table = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "holder_size.py"), "--json", str(out)],
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout.strip()
    assert table in (ROOT / "docs" / "holder-credentials.md").read_text("utf-8")
    assert out.read_text("utf-8") == (
        ROOT / "docs" / "benchmarks" / "holder-size.json").read_text("utf-8")
    rows = json.loads(out.read_text("utf-8"))["scale"]
    now = {name: r for name, r in rows.items() if name.startswith("now |")}
    assert len(now) == 36 and all(r["within_483"] and r["chars"] <= 483 for r in now.values())
    assert any(not r["within_483"] for name, r in rows.items() if name.startswith("before |"))
