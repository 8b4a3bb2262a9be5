"""The worked example in docs/wire-format.md is the real output of its script."""

from __future__ import annotations

import re
import subprocess
import sys
from types import ModuleType

import pytest

from ecert_token import BusinessType, ErrorCode, TokenRejected, Verifier
from tests.conftest import NOW

from .examples import ROOT, load_file

SCRIPT = ROOT / "docs" / "gen_wire_example.py"
PAGE = ROOT / "docs" / "wire-format.md"


def load_script() -> ModuleType:
    return load_file(SCRIPT, "gen_wire_example")


@pytest.fixture(scope="module")
def gen() -> ModuleType:
    return load_script()


def test_page_holds_the_script_output(gen: ModuleType) -> None:
    page = PAGE.read_text("utf-8")
    start = page.index(gen.BEGIN)
    stop = page.index(gen.END) + len(gen.END)
    assert page[start:stop] == gen.render(), "run: python docs/gen_wire_example.py --write"


def test_example_is_the_fixture_token(gen: ModuleType, token: str) -> None:
    assert gen.example_token(gen.example_keys()) == token


def test_token_on_the_page_verifies_and_expires_as_stated(verifier: Verifier) -> None:
    page = PAGE.read_text("utf-8")
    found = re.findall(r"^EC1:[0-9A-Z $%*+\-./:]+$", page, flags=re.MULTILINE)
    assert len(found) == 1
    text = found[0]
    result = verifier.verify(text, BusinessType.HOSPITAL_REGISTRATION, now=NOW)
    assert result.claims.region.code == "110105"
    assert f"The token is {len(text)} characters" in page
    with pytest.raises(TokenRejected) as err:
        verifier.check(text, BusinessType.HOSPITAL_REGISTRATION, now=NOW + 65)
    assert err.value.code is ErrorCode.EXPIRED
    verifier.check(text, BusinessType.HOSPITAL_REGISTRATION, now=NOW + 64)


def test_script_runs_from_the_command_line() -> None:
    out = subprocess.run(
        [sys.executable, str(SCRIPT)], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert out.rstrip("\n") == load_script().render()


def test_drift_is_caught(gen: ModuleType) -> None:
    dump = gen.Dump(b"\x01\x02")
    with pytest.raises(AssertionError, match="drifted"):
        dump.add(b"\x02", "wrong byte")
    dump.add(b"\x01", "right byte")
    with pytest.raises(AssertionError, match="unannotated"):
        dump.render()
