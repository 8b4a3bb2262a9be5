"""The README's token-size table is exactly what benchmarks/token_size.py prints."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_token_size_table_matches_the_script() -> None:
    pytest.importorskip("segno")
    table = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "token_size.py")],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout.strip()
    assert table in (ROOT / "README.md").read_text("utf-8")
    typical = table.splitlines()[2]
    assert "| 279 |" in typical and "**10**" in typical
