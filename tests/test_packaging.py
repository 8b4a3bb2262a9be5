"""Packaging metadata says what CI does and what a clone needs.

(The built wheel and sdist are checked in .ci/run: auditwheel, twine check, tar tzf.)
"""

from __future__ import annotations

import re
import subprocess
import tomllib
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
