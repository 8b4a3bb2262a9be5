"""python-cwt in an isolated venv, driven through a subprocess.

python-cwt 3.x pins ``cbor2<6``; ecert-token needs ``cbor2>=6.1.4``.  They
cannot share an environment, so this fixture builds a second venv once (in
``.venv-interop/`` at the repository root, or where ``ECERT_INTEROP_VENV``
points), installs python-cwt and the independent ``base45`` package there,
and runs ``cwt_side.py`` in it with JSON on stdin and stdout.  The venv is
reused while it still imports the pinned versions.

If the venv cannot be built (no network to PyPI, say) the interop tests
fail with the reason: a skipped interop suite would look green while proving
nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ecert_token.keys import keydir
from ecert_token.keys.keydir import KeyDir

REQUIREMENTS = ("cwt==3.*", "base45==0.4.*")
"""What the isolated venv holds; changing this rebuilds the venv."""

REPO_ROOT = Path(__file__).resolve().parents[2]
SIDE_SCRIPT = Path(__file__).with_name("cwt_side.py")
_STAMP = "ecert-interop-requirements.txt"
_CHECK = "import base45, cbor2, cwt; assert cwt.__version__.startswith('3.'), cwt.__version__"


class CwtSideError(Exception):
    """python-cwt refused a request (the message names its exception type)."""


@dataclass(frozen=True)
class CwtSide:
    """Runs one request through ``cwt_side.py`` in the isolated venv."""

    python: Path

    def call(self, op: str, **fields: Any) -> Any:
        proc = subprocess.run(
            [str(self.python), str(SIDE_SCRIPT)],
            input=json.dumps({"op": op, **fields}),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if proc.returncode != 0:
            pytest.fail(f"cwt_side.py crashed (exit {proc.returncode}):\n{proc.stderr}")
        reply = json.loads(proc.stdout)
        if "error" in reply:
            raise CwtSideError(reply["error"])
        return reply["ok"]


def _venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def _usable(venv: Path) -> bool:
    python = _venv_python(venv)
    stamp = venv / _STAMP
    if not python.exists() or not stamp.exists():
        return False
    if stamp.read_text("utf-8") != "\n".join(REQUIREMENTS):
        return False
    return subprocess.run([str(python), "-c", _CHECK], capture_output=True,
                          check=False).returncode == 0


def _run_or_fail(cmd: list[str], what: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        pytest.fail(
            f"interop: cannot {what}; the interop tests need python-cwt 3.x from PyPI "
            f"in an isolated venv (network access to PyPI).\n$ {' '.join(cmd)}\n{tail}",
            pytrace=False,
        )


@contextmanager
def _lock(path: Path) -> Iterator[None]:
    """Serialise venv creation between concurrent pytest runs on one checkout."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no concurrent runs to guard against
        yield
        return
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_venv(venv: Path) -> Path:
    """Build (or reuse) the isolated python-cwt venv; return its python."""
    venv.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(str(venv.resolve()).encode()).hexdigest()[:16]
    with _lock(Path(tempfile.gettempdir()) / f"ecert-interop-{digest}.lock"):
        if not _usable(venv):
            _run_or_fail([sys.executable, "-m", "venv", "--clear", str(venv)],
                         "create the interop venv")
            _run_or_fail(
                [str(_venv_python(venv)), "-m", "pip", "install", "--disable-pip-version-check",
                 "--quiet", *REQUIREMENTS],
                "pip install " + " ".join(REQUIREMENTS),
            )
            (venv / _STAMP).write_text("\n".join(REQUIREMENTS), "utf-8")
            if not _usable(venv):
                pytest.fail("interop: the new venv does not import python-cwt 3.x", pytrace=False)
    return _venv_python(venv)


@pytest.fixture(scope="session")
def cwt_side() -> CwtSide:
    venv = Path(os.environ.get("ECERT_INTEROP_VENV") or REPO_ROOT / ".venv-interop")
    return CwtSide(ensure_venv(venv))


@pytest.fixture(scope="session")
def keydir_path(keys: KeyDir, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared test keys written as a key directory (what ``ecert keygen`` writes)."""
    path = tmp_path_factory.mktemp("interop") / "keys"
    keydir.save(keys, path)
    return path
