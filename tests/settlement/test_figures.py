"""docs/settlement.md's token-size table is exactly what benchmarks/settlement_size.py prints."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_settlement_size_table_matches_the_script() -> None:
    pytest.importorskip("segno")
    table = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "settlement_size.py")],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout.strip()
    assert table in (ROOT / "docs" / "settlement.md").read_text("utf-8")
    assert all("| +6 |" in row for row in table.splitlines()[2:])
