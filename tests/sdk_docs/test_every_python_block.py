"""Every Python block of the README and of every docs page runs, in order, as a reader's.

Each page runs in a fresh interpreter, its blocks one after another in one
namespace (a later block uses what an earlier one made, as in a reader's
session), in a directory holding what the README's and the docs' commands
leave behind: ``keys/`` (``ecert keygen``), ``replay.db`` (``ecert replay
init``), ``code.txt`` (``ecert mint``), ``root/`` (``ecert trust keygen``),
``list.cose`` (``ecert trust build`` and ``sign``), ``terminal/`` (``ecert
keys export --group-keys``) and ``code.png`` (``ecert qr``), made here by the
real commands.  A Redis server is
started for pages that need one and named in ``ECERT_REDIS_URL``.
Pages are discovered, so a new page is covered without editing this file.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .examples import ROOT
from .redis import throwaway_redis

EXEMPT = {
    "docs/interop.md": "python-cwt needs cbor2<6: tests/interop runs these blocks in its own venv",
}
"""Pages whose blocks run elsewhere, and where."""

RUNNER = r'''
import re, sys
from pathlib import Path
page = Path(sys.argv[1])
namespace = {"__name__": "__main__"}
for number, block in enumerate(re.findall(r"```python\n(.*?)```", page.read_text("utf-8"), re.S)):
    print(f"-- block {number}", flush=True)
    exec(compile(block, f"{page.name}, python block {number}", "exec"), namespace)
'''


def pages() -> list[str]:
    found = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    return [str(p.relative_to(ROOT)) for p in found
            if "```python\n" in p.read_text("utf-8")]


def ecert(cwd: Path, *args: str, stdin: str | None = None) -> str:
    proc = subprocess.run([str(Path(sys.executable).with_name("ecert")), *args], cwd=cwd,
                          input=stdin, capture_output=True, text=True, timeout=120,
                          check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def reader_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What a reader has after the README's and the docs' commands."""
    home = tmp_path_factory.mktemp("reader")
    ecert(home, "keygen", "--out", "keys/", "--issuer", "NHSA")
    (home / "code.txt").write_text(ecert(home, "mint", "--keys", "keys/", "--cert-id",
                                         "E4Q7ZK2M9PXA", "--region", "110105", "--business",
                                         "01101"))
    ecert(home, "trust", "keygen", "--out", "root/")
    ecert(home, "trust", "build", "--keys", "keys/", "--sequence", "1", "--out", "list.cbor")
    ecert(home, "trust", "sign", "list.cbor", "--root-key", "root/root.key.pem",
          "--out", "list.cose")
    ecert(home, "keys", "export", "--keys", "keys/", "--out", "terminal/", "--group-keys")
    ecert(home, "qr", "--out", "code.png", stdin=(home / "code.txt").read_text())
    return home


def reader_copy(reader_state: Path, tmp_path: Path) -> Path:
    """A copy of the reader's files with a replay.db of its own.

    (A copied SQLite file counts as a restore: its memory would begin now.)
    """
    work = tmp_path / "reader"
    subprocess.run(["cp", "-a", f"{reader_state}/.", str(work)], check=True)
    for stale in work.glob("replay.db*"):
        stale.unlink()
    ecert(work, "replay", "init", "--replay-db", "replay.db", "--now", "1700000000")
    return work


@pytest.fixture
def redis_url(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str | None]:
    page = (ROOT / request.node.callspec.params["page"]).read_text("utf-8")
    if "ECERT_REDIS_URL" not in page:
        yield None
        return
    with throwaway_redis(tmp_path / "redis") as url:
        yield url


def test_pages_are_found() -> None:
    assert {"README.md", "docs/quickstart.md", "docs/guides/terminal-firmware.md"} <= set(pages())


@pytest.mark.parametrize("page", pages())
def test_python_blocks_run_in_order(
    page: str, reader_state: Path, redis_url: str | None, tmp_path: Path
) -> None:
    if page in EXEMPT:
        pytest.skip(EXEMPT[page])
    work = reader_copy(reader_state, tmp_path)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("ECERT_REDIS_URL", None)
    if redis_url is not None:
        env["ECERT_REDIS_URL"] = redis_url
    proc = subprocess.run([sys.executable, "-c", RUNNER, str(ROOT / page)], cwd=work, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    blocks = re.findall(r"^-- block (\d+)$", proc.stdout, re.M)
    assert proc.returncode == 0, f"{page}, after block {blocks[-1:]}:\n{proc.stderr[-3000:]}"


def test_the_terminal_guide_command_runs_verbatim(reader_state: Path, tmp_path: Path) -> None:
    """The guide's ``examples/terminal_loop.py`` command, as written, on the reader's files."""
    guide = (ROOT / "docs" / "guides" / "terminal-firmware.md").read_text("utf-8")
    match = re.search(r"^\$ (\.venv/bin/python examples/terminal_loop\.py .*?)\n(?!\s)", guide,
                      re.M | re.S)
    assert match is not None
    work = reader_copy(reader_state, tmp_path)
    (work / ".venv").symlink_to(Path(sys.prefix))
    (work / "examples").symlink_to(ROOT / "examples")
    proc = subprocess.run(["bash", "-c", match.group(1)], cwd=work, capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("[ACCEPTED] code.png: 张*, credential E4Q7ZK2M9PXA")
