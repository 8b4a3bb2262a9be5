"""``ecert keygen`` never replaces keys in use silently (issue #10, defect 5): codes
minted with the old keys would all become ``unknown_key``.  Real subprocesses."""

from __future__ import annotations

import json
from pathlib import Path

from .test_cli import NOW, ecert, mint


def verify(keys: Path, token: str) -> dict[str, object]:
    proc = ecert("verify", "--keys", str(keys), "--business", "01101", "--now", str(NOW + 5),
                 token)
    result: dict[str, object] = json.loads(proc.stdout)
    return result


def test_refuses_a_key_directory_in_use(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    assert ecert("keygen", "--out", str(keys)).returncode == 0
    before = {p.name: p.read_bytes() for p in keys.iterdir()}
    token = mint(keys)
    proc = ecert("keygen", "--out", str(keys))
    assert proc.returncode == 1
    error = json.loads(proc.stdout)
    assert error["error"] == "invalid_argument"
    assert "non-empty directory" in error["message"] and "--force" in error["message"]
    assert {p.name: p.read_bytes() for p in keys.iterdir()} == before  # untouched
    assert verify(keys, token)["credential_id"] == "E4Q7ZK2M9PXA"


def test_refuses_any_non_empty_directory_or_a_file(tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    assert ecert("keygen", "--out", str(other)).returncode == 1
    assert (other / "notes.txt").read_text() == "mine"
    plain = tmp_path / "file"
    plain.write_text("x")
    assert ecert("keygen", "--out", str(plain)).returncode == 1
    empty = tmp_path / "empty"
    empty.mkdir()
    assert ecert("keygen", "--out", str(empty)).returncode == 0  # an empty one is fine


def test_force_keeps_the_old_keys_in_a_backup(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    assert ecert("keygen", "--out", str(keys)).returncode == 0
    before = {p.name: p.read_bytes() for p in keys.iterdir()}
    token = mint(keys)
    proc = ecert("keygen", "--out", str(keys), "--force")
    assert proc.returncode == 0, proc.stdout
    out = json.loads(proc.stdout)
    backup = Path(out["backup"])
    assert backup.parent == tmp_path and backup.name.startswith("keys.backup-")
    assert {p.name: p.read_bytes() for p in backup.iterdir()} == before
    assert verify(keys, token)["error"] == "unknown_key"  # new keys in place
    assert verify(backup, token)["credential_id"] == "E4Q7ZK2M9PXA"  # old ones kept
    second = json.loads(ecert("keygen", "--out", str(keys), "--force").stdout)
    assert second["backup"] != out["backup"]  # a second backup never overwrites the first
    assert json.loads(ecert("keygen", "--out", str(tmp_path / "new")).stdout)["backup"] is None
