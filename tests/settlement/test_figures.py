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


def test_payment_size_table_matches_the_script() -> None:
    """docs/settlement.md's payment-size table is what benchmarks/payment_size.py prints,
    and it says honestly which presentations fit 483 characters."""
    pytest.importorskip("segno")
    table = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "payment_size.py")],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout.strip()
    assert table in (ROOT / "docs" / "settlement.md").read_text("utf-8")
    rows = [r for r in table.splitlines() if r.startswith("| no binding")]
    assert rows and all(r.endswith("| yes |") for r in rows)
