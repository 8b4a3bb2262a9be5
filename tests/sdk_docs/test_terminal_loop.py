"""examples/terminal_loop.py: verify codes read by a scanner and print the settlement fields."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from ecert_token import BusinessType, Credential, FamilyAccount, Issuer
from ecert_token.keys.cose_key import group_key_to_cose_key
from ecert_token.keys.files import write_file
from ecert_token.keys.keydir import KeyDir
from ecert_token.replay import SqliteReplayStore
from ecert_token.trust import (
    GroupKeyInfo,
    RootSigningKey,
    build_trust_list,
    save_root,
    sign_trust_list,
)
from tests.conftest import NOW

from .examples import EXAMPLES, load

LOOP = EXAMPLES / "terminal_loop.py"


@pytest.fixture(scope="module")
def loop() -> ModuleType:
    return load("terminal_loop.py", "ecert_example_terminal_loop")


@pytest.fixture
def terminal(keys: KeyDir, tmp_path: Path) -> list[str]:
    """A terminal's trust: the pinned root, a signed list and its provisioned group key."""
    root = RootSigningKey.generate()
    save_root(root, tmp_path / "root.key.pem", tmp_path / "root.pub.cose")
    listed = build_trust_list(1, NOW - 60, NOW + 30 * 86_400, [keys.signing_key.public],
                              [GroupKeyInfo(keys.group_key.group, keys.group_key.kid,
                                            keys.group_key.validity, keys.group_key.state)])
    (tmp_path / "list.cose").write_bytes(sign_trust_list(listed, root))
    group_file = tmp_path / "group.key.cose"
    write_file(group_file, group_key_to_cose_key(keys.group_key), 0o600)
    return ["--root", str(tmp_path / "root.pub.cose"), "--trust-list",
            str(tmp_path / "list.cose"), "--group-key", str(group_file)]


@pytest.fixture
def replay_db(tmp_path: Path) -> Path:
    """A terminal's SQLite replay file, in use since an hour before NOW."""
    path = tmp_path / "replay.db"
    SqliteReplayStore(path, clock=lambda: NOW - 3600).close()
    return path


def run(loop: ModuleType, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = loop.main(list(args))
    return code, capsys.readouterr().out


def test_text_scans_verified_and_formatted(
    loop: ModuleType, *, capsys: pytest.CaptureFixture[str], terminal: list[str], token: str,
    tmp_path: Path, replay_db: Path,
) -> None:
    scans = tmp_path / "scanner.txt"
    scans.write_text(f"{token}\n\n{token}\nEC1:NOTATOKEN\n", "utf-8")
    code, out = run(loop, capsys, *terminal, "--business", "01101",
                    "--now", str(NOW), "--json", "--replay-db", str(replay_db), str(scans))
    assert code == 1
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["ok"] for line in lines] == [True, False, False]
    assert lines[0]["settlement"] == {
        "mdtrt_cert_type": "01",
        "mdtrt_cert_no": token,
        "insuplc_admdvs": "110105",
        "insutype": "310",
        "business_type": "01101",
    }
    assert lines[0]["masked_name"] == "张*丰"
    assert lines[0]["replay_checked"] is True
    assert lines[1]["error"] == "replayed"
    assert lines[2]["error"] == "malformed"
    assert all(line["source"] == str(scans) for line in lines)


def test_readable_output_and_exit_zero(
    loop: ModuleType, *, capsys: pytest.CaptureFixture[str], terminal: list[str], issuer: Issuer,
    family: FamilyAccount, tmp_path: Path,
) -> None:
    child = family.members[0].credential_id
    scans = tmp_path / "scans"
    scans.mkdir()
    member_code = issuer.mint_for_member(family, child, BusinessType.PHARMACY_PURCHASE)
    (scans / "a.txt").write_text(member_code + "\n", "utf-8")
    (scans / "notes.md").write_text("not a scan\n", "utf-8")  # ignored: not a scan file
    code, out = run(loop, capsys, *terminal, "--business", "02121",
                    "--now", str(NOW), str(scans))
    assert code == 0
    assert (f"[ACCEPTED] {scans / 'a.txt'}: 张*, credential {child}, shown by E4Q7ZK2M9PXA"
            " (replay not checked)") in out
    assert "  mdtrt_cert_type  01\n" in out
    assert f"  mdtrt_cert_no    {member_code}\n" in out
    assert "  insuplc_admdvs   110105\n" in out
    assert "  insutype         390\n" in out
    assert "  business_type    02121\n" in out


def test_unreadable_and_empty_sources_are_refusals(
    loop: ModuleType, capsys: pytest.CaptureFixture[str], terminal: list[str], tmp_path: Path,
) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("\n", "utf-8")
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\xff\xfe\x00")
    code, out = run(loop, capsys, *terminal, "--business", "01101", "--now", str(NOW),
                    str(empty), str(binary), str(tmp_path / "missing.txt"),
                    str(tmp_path / "missing.png"))
    assert code == 1
    assert out.count("[REFUSED]") == 4
    assert out.count("cannot read the file") == 3
    assert "no code found" in out
    assert "cannot read the file" in out


@pytest.mark.parametrize(
    ("keys_name", "business", "code"),
    [("keys", "99999", "invalid_argument"), ("missing", "01101", "key_file")],
)
def test_usage_errors_exit_2(
    loop: ModuleType, *, capsys: pytest.CaptureFixture[str], terminal: list[str], tmp_path: Path,
    keys_name: str, business: str, code: str,
) -> None:
    root = terminal[terminal.index("--root") + 1]
    args = [*terminal, "--root", str(tmp_path / keys_name) if keys_name == "missing" else root]
    status = loop.main([*args, "--business", business, "--now", str(NOW), str(tmp_path)])
    assert status == 2
    assert json.loads(capsys.readouterr().err)["error"] == code


def test_runs_as_a_program(terminal: list[str], issuer: Issuer, credential: Credential,
                           tmp_path: Path) -> None:
    scans = tmp_path / "scan.txt"
    scans.write_text(issuer.mint(credential, BusinessType.HOSPITAL_SETTLEMENT) + "\n", "utf-8")
    done = subprocess.run(
        [sys.executable, str(LOOP), *terminal, "--business", "01301",
         "--now", str(NOW), "--json", str(scans)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["settlement"]["business_type"] == "01301"
    assert result["settlement"]["mdtrt_cert_type"] == "01"


def test_scans_rendered_images(
    terminal: list[str], issuer: Issuer, credential: Credential, tmp_path: Path
) -> None:
    """Real QR images at levels L, M and Q, decoded by zxing-cpp in a separate process."""
    from PIL import Image

    from ecert_token import qr

    scans = tmp_path / "scans"
    scans.mkdir()
    tokens: dict[str, str] = {}
    for level in ("L", "M", "Q"):
        tokens[level] = issuer.mint(credential, BusinessType.HOSPITAL_REGISTRATION)
        qr.render(tokens[level], scans / f"code-{level}.png", "png", level=level, scale=4)
    Image.new("L", (120, 120), 255).save(scans / "blank.png")
    done = subprocess.run(
        [sys.executable, str(LOOP), *terminal, "--business", "01101",
         "--now", str(NOW), "--json", str(scans)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 1, done.stderr  # the blank image is refused
    results = {Path(r["source"]).name: r for r in map(json.loads, done.stdout.splitlines())}
    assert results["blank.png"] == {
        "source": str(scans / "blank.png"), "ok": False, "error": "invalid_argument",
        "message": "invalid argument: no code found",
    }
    for level, token in tokens.items():
        result = results[f"code-{level}.png"]
        assert result["ok"], result
        assert result["settlement"]["mdtrt_cert_no"] == token
        assert result["settlement"]["insuplc_admdvs"] == "110105"


def test_replay_db_remembers_across_runs(
    loop: ModuleType, *, capsys: pytest.CaptureFixture[str], terminal: list[str], token: str,
    tmp_path: Path, replay_db: Path,
) -> None:
    scans = tmp_path / "scan.txt"
    scans.write_text(token + "\n", "utf-8")
    args = [*terminal, "--business", "01101", "--now", str(NOW), "--json",
            "--replay-db", str(replay_db), str(scans)]
    first, out = run(loop, capsys, *args)
    assert (first, json.loads(out)["ok"]) == (0, True)
    second, out = run(loop, capsys, *args)  # a new process would see the same file
    assert (second, json.loads(out)["error"]) == (1, "replayed")
    # A database created now is new memory: it cannot vouch for a code issued now.
    third, out = run(loop, capsys, *args[:-2], str(tmp_path / "new.db"), str(scans))
    assert (third, json.loads(out)["error"]) == (1, "possibly_replayed")


def test_the_terminal_guide_and_the_example_agree() -> None:
    """Both load a signed trust list and provisioned group keys; neither a key directory."""
    guide = (EXAMPLES.parent / "docs" / "guides" / "terminal-firmware.md").read_text("utf-8")
    command = re.search(r"\$ \.venv/bin/python examples/terminal_loop\.py (.*?)\n(?!\s)",
                        guide, re.S)
    assert command is not None, "the guide shows no terminal_loop.py command"
    shown = set(re.findall(r"(--[a-z-]+)", command.group(1)))
    source = LOOP.read_text("utf-8")
    accepted = set(re.findall(r'add_argument\("(--[a-z-]+)"', source))
    assert shown <= accepted, shown - accepted
    assert {"--root", "--trust-list", "--group-key"} <= shown
    assert "--keys" not in accepted and "keydir" not in source
    loader_block = guide.split("```python", 1)[1].split("```", 1)[0]
    assert "keydir" not in loader_block and "provision_files" in loader_block
    assert "provision_files" in source and "load_trust_root" in source
