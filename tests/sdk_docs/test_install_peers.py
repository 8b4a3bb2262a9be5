"""benchmarks/install_peers.sh installs into the interpreter the reader runs, not python3."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .examples import ROOT


@pytest.mark.slow
def test_install_peers_goes_into_the_repository_venv(tmp_path: Path) -> None:
    """A fresh shell (no venv active) in a clone with ./.venv: the peers land in ./.venv."""
    (tmp_path / "benchmarks").mkdir()
    shutil.copy(ROOT / "benchmarks" / "install_peers.sh", tmp_path / "benchmarks")
    subprocess.run([sys.executable, "-m", "venv", str(tmp_path / ".venv")], check=True,
                   timeout=120)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHON")}
    env["PATH"] = "/usr/local/bin:/usr/bin:/bin"
    proc = subprocess.run(["sh", "benchmarks/install_peers.sh"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"into {tmp_path / '.venv'}" in proc.stderr
    venv_python = tmp_path / ".venv" / "bin" / "python"
    check = ("import importlib.metadata as m; "
             "print(*(m.version(d) for d in ('cwt', 'pyseto', 'pyjwt')))")
    found = subprocess.run([str(venv_python), "-c", check], capture_output=True, text=True,
                           timeout=60, check=True)
    assert len(found.stdout.split()) == 3
    assert list((tmp_path / "benchmarks" / ".peers" / "cbor2-5").glob("cbor2*"))
