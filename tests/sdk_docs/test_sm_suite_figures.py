"""Every SM-suite figure in README.md and docs/sm-suite.md comes from a script's output:
the token sizes from ``benchmarks/token_size.py --suite sm`` (deterministic), the speed
and backend tables from the recorded JSON of ``benchmarks/sm_suite.py`` and
``benchmarks/sm2_backends.py`` (docs/benchmarks/)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.gm import require_gm

require_gm()

ROOT = Path(__file__).resolve().parents[2]
PAGE = (ROOT / "docs" / "sm-suite.md").read_text("utf-8")
README = (ROOT / "README.md").read_text("utf-8")


def _script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "benchmarks" / name)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _json(name: str) -> dict[str, object]:
    data: dict[str, object] = json.loads((ROOT / "docs" / "benchmarks" / name).read_text())
    return data


def test_size_table_is_the_scripts_output() -> None:
    pytest.importorskip("segno")
    table = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "token_size.py"), "--suite", "sm"],
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout.strip()
    assert table in PAGE
    typical, _, family = table.splitlines()[2:5]
    assert "| 291 | 191 |" in typical and "**10**" in typical and "**10**" in family
    assert "| 306 |" in family
    assert "**291 characters** (191 bytes" in README and "(306 characters)" in README


def test_speed_and_backend_tables_are_the_recorded_runs() -> None:
    suite, backends = _json("sm-suite.json"), _json("sm2-backends.json")
    sm_suite = _script("sm_suite.py")
    assert sm_suite.markdown_aead(suite) in PAGE
    assert sm_suite.markdown_speed(suite) in PAGE
    assert _script("sm2_backends.py").markdown(backends) in PAGE
    ratios = suite["ratios"]
    assert isinstance(ratios, dict)
    assert f"runs at {ratios['bare SM2 verify / SM full verify']} of the speed" in README
    assert f"0.95; {ratios['bare SM2 verify / SM full check']} without" in README
    assert f"about {ratios['SM full verify / Ed25519 full verify']:.0f} times" in README


def test_the_pages_python_example_runs_as_written() -> None:
    block = PAGE.split("```python\n", 1)[1].split("```\n", 1)[0]
    run = subprocess.run([sys.executable, "-c", block], capture_output=True, text=True,
                         check=True, timeout=60)
    assert run.stdout.strip() == "NHSA 291"


def test_instruction_and_holder_size_tables_are_the_scripts_output() -> None:
    """The callgrind table is the recorded JSON's; the SM2-device presentation sizes are
    deterministic, so the script is run again and its table must be on the page."""
    pytest.importorskip("segno")
    sm_suite = _script("sm_suite.py")
    instructions = _json("sm-suite-instructions.json")
    assert sm_suite.markdown_instructions(instructions) in PAGE
    ratios = instructions["ratios"]
    assert isinstance(ratios, dict)
    assert f"and at {ratios['bare SM2 verify / SM full verify']} of it counted" in README
    table = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "sm_suite.py"), "--sizes"],
        capture_output=True, text=True, check=True, timeout=300,
    ).stdout.strip()
    assert table in PAGE
    assert _json("sm-holder-size.json") == sm_suite.sizes()
    row = next(line for line in table.splitlines()
               if line.startswith("| ed25519 issuer, sm device, status index 40,000 |"))
    assert f"an SM2 device is {row.split('|')[2].strip()} characters" in README
