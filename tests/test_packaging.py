"""Packaging metadata says what CI does and what a clone needs.

(The built wheel and sdist are checked in .ci/run: auditwheel, twine check, tar tzf;
the wheel's packages are checked here too.)
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))


def test_license_is_an_spdx_expression_with_the_full_text() -> None:
    project = PROJECT["project"]
    assert project["license"] == "Apache-2.0"
    assert project["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text("utf-8")
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text
    assert not [c for c in project["classifiers"] if c.startswith("License ::")]
    requires = PROJECT["build-system"]["requires"]
    setuptools = next(r for r in requires if r.startswith("setuptools"))
    assert int(re.findall(r">=(\d+)", setuptools)[0]) >= 77  # SPDX license expressions


def test_classifiers_name_every_python_ci_tests() -> None:
    ci = (ROOT / ".ci" / "run").read_text("utf-8")
    tested = {"3.11"} | set(re.findall(r"for v in ((?:3\.\d+ ?)+); do", ci)[0].split())
    assert tested >= {"3.11", "3.12", "3.13"}
    classified = {c.rsplit(" ", 1)[1] for c in PROJECT["project"]["classifiers"]
                  if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)}
    assert classified == tested
    assert PROJECT["project"]["requires-python"] == ">=3.11"


def test_project_urls() -> None:
    urls = PROJECT["project"]["urls"]
    assert {"Homepage", "Documentation", "Source", "Issues", "Changelog"} <= set(urls)
    assert all(u.startswith("https://") for u in urls.values())


def test_gitignore_covers_what_the_readme_creates() -> None:
    created = ["keys/", "keys/manifest.json", "code.txt", "code.png", "replay.db",
               "replay.db-wal", "bench.json", ".venv/", ".venv-3.12/", ".venv-pkg/"]
    proc = subprocess.run(["git", "-C", str(ROOT), "check-ignore", "--no-index", *created],
                          capture_output=True, text=True, check=False)
    assert sorted(proc.stdout.split()) == sorted(created)


def test_docs_extra_segments_chinese_for_search() -> None:
    assert any(d.startswith("jieba") for d in PROJECT["project"]["optional-dependencies"]["docs"])
    site = (ROOT / "mkdocs.yml").read_text("utf-8")
    assert re.search(r"^  font: false$", site, re.M)
    assert re.search(r"lang: \[en, zh\]", site)


# A fresh interpreter imports ecert_token, mints a token, verifies it through the API
# and through `ecert verify`, imports every module of the core package, and reports
# which ecert_token_tools modules it loaded (sys.argv[1] is a scratch directory).
_CORE_ONLY = r"""
import contextlib, importlib, io, json, pkgutil, sys, time
import ecert_token
from ecert_token import (BusinessType, Channel, Credential, InsuranceType, Issuer,
                         MemoryReplayStore, Region, Verifier)
from ecert_token.cli.main import main
from ecert_token.keys import keydir

keys = keydir.generate()
keydir.save(keys, sys.argv[1])
person = Credential(credential_id="E4Q7ZK2M9PXA", region=Region("110105"),
                    insurance_type=InsuranceType.EMPLOYEE_BASIC, masked_name="张*丰",
                    channel=Channel.WECHAT, issued_at=int(time.time()) - 86_400)
reg = BusinessType.HOSPITAL_REGISTRATION
verifier = Verifier(keys.trust_store(), replay_store=MemoryReplayStore(clock=lambda: 0))
issuer = Issuer(keys.signing_key, keys.group_key)
verified = verifier.verify(issuer.mint(person, reg), reg)
out = io.StringIO()
with contextlib.redirect_stdout(out):
    status = main(["verify", "--keys", sys.argv[1], "--business", reg.value,
                   issuer.mint(person, reg)])
for info in pkgutil.walk_packages(ecert_token.__path__, "ecert_token."):
    try:
        importlib.import_module(info.name)
    except ImportError:  # an optional extra that is not installed
        pass
print(json.dumps({
    "api": verified.claims.credential_id == person.credential_id,
    "cli": [status, json.loads(out.getvalue())["credential_id"] == person.credential_id],
    "tools": sorted(m for m in sys.modules if m.split(".")[0] == "ecert_token_tools"),
    "old_places": sorted(m for m in sys.modules
                         if m.startswith(("ecert_token.bench", "ecert_token.vectors"))),
}))
"""


def test_the_core_never_imports_the_tools(tmp_path: Path) -> None:
    """``import ecert_token``, every core module and the verify path load no tool code."""
    proc = subprocess.run([sys.executable, "-c", _CORE_ONLY, str(tmp_path / "keys")],
                          capture_output=True, text=True, check=True, cwd=ROOT)
    report = json.loads(proc.stdout.splitlines()[-1])
    assert report == {"api": True, "cli": [0, True], "tools": [], "old_places": []}


def test_the_cli_loads_the_tools_only_for_their_commands(tmp_path: Path) -> None:
    """``ecert vectors`` runs from the tools package, imported when the command runs."""
    script = (
        "import sys\n"
        "from ecert_token.cli.main import main\n"
        "before = [m for m in sys.modules if m.startswith('ecert_token_tools')]\n"
        f"code = main(['vectors', '--out', {str(tmp_path / 'v')!r}])\n"
        "after = [m for m in sys.modules if m.startswith('ecert_token_tools')]\n"
        "print(code, before, 'ecert_token_tools.vectors' in after, file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True, cwd=ROOT)
    assert proc.stderr.splitlines()[-1] == "0 [] True"
    assert (tmp_path / "v" / "valid.json").is_file()


def test_the_wheel_ships_the_tools_outside_the_core(tmp_path: Path) -> None:
    """The wheel holds ``ecert_token_tools`` (bench, vectors); ``ecert_token`` holds neither."""
    tree = tmp_path / "tree"  # a copy: the build writes build/ and *.egg-info beside it
    tree.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md", "LICENSE", "MANIFEST.in"):
        shutil.copy2(ROOT / name, tree / name)
    shutil.copytree(ROOT / "src", tree / "src", ignore=shutil.ignore_patterns(
        "*.so", "__pycache__", "*.egg-info"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w",
                    str(tmp_path / "dist"), str(tree)], check=True, capture_output=True)
    (wheel,) = (tmp_path / "dist").glob("ecert_token-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for tool in ("ecert_token_tools/__init__.py", "ecert_token_tools/py.typed",
                 "ecert_token_tools/vectors.py", "ecert_token_tools/bench/compare.py",
                 "ecert_token_tools/bench/scenario.py", "ecert_token/cli/bench_cmd.py"):
        assert tool in names, tool
    core = [n for n in names if n.startswith("ecert_token/")]
    assert "ecert_token/token/verify.py" in core
    assert not [n for n in core if n.startswith("ecert_token/bench/")
                or n == "ecert_token/vectors.py"]

