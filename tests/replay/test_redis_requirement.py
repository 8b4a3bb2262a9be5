"""Without redis-server, Redis tests skip, or fail when ECERT_REQUIRE_REDIS=1 (as in CI)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ONE_REDIS_TEST = "tests/replay/test_redis.py::test_rejects_bad_settings"


def run_without_redis_server(
    tmp_path: Path, require: str | None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "ECERT_REQUIRE_REDIS"}
    env["PATH"] = str(tmp_path)  # an empty directory: no redis-server to be found
    if require is not None:
        env["ECERT_REQUIRE_REDIS"] = require
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", ONE_REDIS_TEST],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )


@pytest.mark.parametrize("require", [None, "0"])
def test_redis_tests_skip_when_not_required(tmp_path: Path, require: str | None) -> None:
    run = run_without_redis_server(tmp_path, require)
    assert run.returncode == 0, run.stdout
    assert "1 skipped" in run.stdout


def test_redis_tests_fail_when_required(tmp_path: Path) -> None:
    run = run_without_redis_server(tmp_path, "1")
    assert run.returncode == 1, run.stdout
    assert "ECERT_REQUIRE_REDIS=1 requires the Redis tests" in run.stdout
