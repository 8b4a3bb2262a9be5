"""Challenge mode through the public API: the answer checked, then the verifier's own mark."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import ecert_token
from ecert_token.errors import ErrorCode, TokenRejected
from ecert_token.holder import present
from ecert_token.holder.challenge import new_challenge, verify_with_challenge
from ecert_token.model import BusinessType
from ecert_token.registry import HolderPlatform

from ..conftest import NOW
from .conftest import HOLDER, Terminal, activation, device, seeded_random

REG = BusinessType.HOSPITAL_REGISTRATION
SRC = Path(ecert_token.__file__).parent


def _private_reaches(source: Path) -> list[str]:
    """``x._name`` where ``x`` is not ``self`` or ``cls``: another object's private part."""
    found = []
    for node in ast.walk(ast.parse(source.read_text("utf-8"))):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and (
            not node.attr.startswith("__")
        ) and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
            found.append(f"{source.name}:{node.lineno} {ast.unparse(node)}")
    return found


def test_challenge_mode_uses_no_private_attribute() -> None:
    assert _private_reaches(SRC / "holder" / "challenge.py") == []
    # Nothing outside token/verify.py reaches into a verifier's pipeline.
    reaches = [r for f in sorted(SRC.rglob("*.py")) if f != SRC / "token" / "verify.py"
               for r in _private_reaches(f) if "._pipeline" in r]
    assert reaches == []


def test_the_checker_can_fail(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("pipeline = verifier._pipeline\nself._ok = 1\n", "utf-8")
    assert _private_reaches(probe) == ["probe.py:1 verifier._pipeline"]


def test_an_answer_is_marked_in_the_verifiers_store(platform: HolderPlatform,
                                                    terminal: Terminal) -> None:
    """The mark is the verifier's own: the same answer then fails plain verify too,
    and a presentation refused for its challenge is not marked."""
    phone = device(b"phone")
    blob = platform.activate(activation(HOLDER, phone)).file.sealed
    challenge = new_challenge(seeded_random(b"challenge"))
    wrong = present(blob, phone, REG, now=NOW, challenge=b"\x00" * 8)
    with pytest.raises(TokenRejected) as err:
        verify_with_challenge(terminal.verifier, wrong, REG, challenge, now=NOW)
    assert err.value.code is ErrorCode.CHALLENGE_MISMATCH
    assert terminal.verifier.verify(wrong, REG, now=NOW).subject == HOLDER  # not marked
    answer = present(blob, phone, REG, now=NOW, challenge=challenge)
    result = verify_with_challenge(terminal.verifier, answer, REG, challenge, now=NOW)
    assert result.subject == HOLDER
    with pytest.raises(TokenRejected) as err:
        terminal.verifier.verify(answer, REG, now=NOW)
    assert err.value.code is ErrorCode.REPLAYED
