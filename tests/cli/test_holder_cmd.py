"""The holder commands as operators run them: real processes, real SQLite files, a real Redis.

The phone's commands (``device keygen``, ``present``) and the terminal's (``verify``) never see
the registry; the terminal gets only the issuer's public trust and the status list.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import NOW
from ..replay.conftest import need_redis
from ..replay.redis_server import REDIS_NOW, RedisServer

CERT = "E4Q7ZK2M9PXA"


def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "ecert_token.cli.main", *args],
                          capture_output=True, text=True, timeout=120, check=False)
    if ok and proc.returncode != 0:
        pytest.fail(f"ecert {' '.join(args)} failed: {proc.stdout} {proc.stderr}")
    return proc


def out(*args: str) -> dict[str, object]:
    result: dict[str, object] = json.loads(run(*args).stdout)
    return result


def error(*args: str) -> str:
    proc = run(*args, ok=False)
    assert proc.returncode == 1, proc.stderr
    return str(json.loads(proc.stdout)["error"])


@pytest.fixture
def world(tmp_path: Path) -> Path:
    """Issuer keys, a registry, a phone, an activated credential and a status list."""
    run("keygen", "--out", str(tmp_path / "keys"))
    run("device", "keygen", "--out", str(tmp_path / "phone"))
    activated = out("activate", "--keys", str(tmp_path / "keys"), "--registry",
                    str(tmp_path / "reg.db"), "--device", str(tmp_path / "phone"),
                    "--cert-id", CERT, "--region", "110105", "--name", "张三丰",
                    "--now", str(NOW - 3600), "--out", str(tmp_path / "cred.json"))
    idx = activated["status_idx"]  # random below the list size (registry/store.py)
    assert isinstance(idx, int) and 0 <= idx < 2**16 and activated["mode"] == "open"
    return tmp_path


def _present(world: Path, at: int, *extra: str) -> str:
    return run("present", "--credential", str(world / "cred.json"), "--device",
               str(world / "phone"), "--business", "01101", "--now", str(at),
               *extra).stdout.strip()


def _status(world: Path, at: int) -> Path:
    path = world / f"status-{at}.cwt"
    built = out("status", "build", "--keys", str(world / "keys"), "--registry",
                str(world / "reg.db"), "--now", str(at), "--out", str(path))
    assert built["bits"] == 1 and built["uri"] == "ec:NHSA"
    assert built["size"] >= 2 and isinstance(built["revoked"], int)
    return path


def test_device_keygen_files(tmp_path: Path) -> None:
    made = out("device", "keygen", "--out", str(tmp_path / "d"))
    assert stat.S_IMODE(os.stat(tmp_path / "d" / "device.key.pem").st_mode) == 0o600
    jwk = json.loads((tmp_path / "d" / "device.pub.jwk.json").read_text())
    assert jwk["kty"] == "OKP" and jwk["crv"] == "Ed25519" and len(made["kid"]) == 8  # type: ignore[arg-type]
    assert error("device", "keygen", "--out", str(tmp_path / "d")) == "key_file"
    assert stat.S_IMODE(os.stat(tmp_path / "d" / "device.key.pem").st_mode) == 0o600


def test_offline_life_of_a_credential(world: Path) -> None:
    text = _present(world, NOW)
    assert text.startswith("EP1:") and len(text) <= 483
    status = _status(world, NOW - 60)
    verify = ("verify", "--keys", str(world / "keys"), "--business", "01101",
              "--now", str(NOW + 5))
    result = out(*verify, "--status-list", str(status), text)
    assert result["credential_id"] == CERT and result["status_checked"] is True
    assert result["replay_checked"] is False and result["masked_name"] == "张*丰"
    assert out(*verify, text)["status_checked"] is False
    unbound = out("unbind", "--keys", str(world / "keys"), "--registry", str(world / "reg.db"),
                  "--cert-id", CERT, "--now", str(NOW))
    assert unbound["revoked"] == [json.loads((world / "cred.json").read_text())["status"]["idx"]]
    later = _status(world, NOW + 10)
    assert error(*verify[:-1], str(NOW + 20), "--status-list", str(later),
                 _present(world, NOW + 15)) == "credential_revoked"
    stale = ("verify", "--keys", str(world / "keys"), "--business", "01101",
             "--now", str(NOW + 49 * 3600), "--status-list", str(later),
             _present(world, NOW + 49 * 3600))
    assert error(*stale) == "status_list_stale"
    code = run("mint", "--keys", str(world / "keys"), "--cert-id", CERT, "--region", "110105",
               "--business", "01101", "--now", str(NOW + 49 * 3600)).stdout.strip()
    platform = out(*stale[:-1], code)  # a stale status list never touches platform codes
    assert platform["credential_id"] == CERT and "status_checked" not in platform
    assert error("unbind", "--keys", str(world / "keys"), "--registry", str(world / "reg.db"),
                 "--cert-id", CERT) == "credential_not_usable"


def test_reactivation_on_a_new_phone(world: Path) -> None:
    run("device", "keygen", "--out", str(world / "phone2"))
    again = out("activate", "--keys", str(world / "keys"), "--registry", str(world / "reg.db"),
                "--device", str(world / "phone2"), "--cert-id", CERT, "--region", "110105",
                "--now", str(NOW - 1800), "--out", str(world / "cred2.json"))
    first = json.loads((world / "cred.json").read_text())["status"]["idx"]
    assert again["revoked"] == [first] and again["status_idx"] != first
    status = _status(world, NOW - 60)
    built = out("status", "build", "--keys", str(world / "keys"), "--registry",
                str(world / "reg.db"), "--bits", "2", "--now", str(NOW - 50), "--out",
                str(world / "two.cwt"))
    assert built["revoked"] == 1 and built["bits"] == 2 and built["size"] == 2**16
    assert error("verify", "--keys", str(world / "keys"), "--business", "01101", "--now",
                 str(NOW), "--status-list", str(status), _present(world, NOW)) == (
        "credential_revoked")


def test_family_of_five_and_delegated_presentation(world: Path) -> None:
    keys, reg = str(world / "keys"), str(world / "reg.db")
    for i in range(5):
        made = out("family", "add", "--keys", keys, "--registry", reg, "--holder", CERT,
                   "--member", f"MEMBER{i:04d}", "--now", str(NOW - 600),
                   "--out", str(world / f"member{i}.json"))
        assert made["kind"] == "delegation" and made["actor_id"] == CERT
    assert len(made["family"]) == 5  # type: ignore[arg-type]
    proc = run("family", "add", "--keys", keys, "--registry", reg, "--holder", CERT,
               "--member", "MEMBER0005", "--out", str(world / "member5.json"), ok=False)
    assert proc.returncode == 1 and json.loads(proc.stdout)["error"] == "family_full"
    assert not (world / "member5.json").exists()
    text = _present(world, NOW, "--delegation", str(world / "member0.json"))
    result = out("verify", "--keys", keys, "--business", "01101", "--now", str(NOW), text)
    assert result["credential_id"] == "MEMBER0000" and result["actor_id"] == CERT
    run("device", "keygen", "--out", str(world / "stranger"))
    stranger = run("present", "--credential", str(world / "member0.json"), "--device",
                   str(world / "stranger"), "--business", "01101", "--now",
                   str(NOW)).stdout.strip()
    assert error("verify", "--keys", keys, "--business", "01101", "--now", str(NOW),
                 stranger) == "bad_signature"


def test_presentation_replay_across_processes_sqlite(world: Path) -> None:
    db = str(world / "replay.db")
    run("replay", "init", "--replay-db", db, "--now", str(NOW - 3600))
    text = _present(world, NOW)
    verify = ("verify", "--keys", str(world / "keys"), "--business", "01101",
              "--replay-db", db, "--now", str(NOW + 5), text)
    assert out(*verify)["replay_checked"] is True
    assert error(*verify) == "replayed"
    assert out(*verify[:-1], _present(world, NOW + 1))["replay_checked"] is True


def test_presentation_replay_across_processes_redis(world: Path, tmp_path: Path) -> None:
    need_redis()
    now = REDIS_NOW  # Redis decides its horizon by its own clock: a time after the real one
    out("activate", "--keys", str(world / "keys"), "--registry", str(world / "reg.db"),
        "--device", str(world / "phone"), "--cert-id", CERT, "--region", "110105",
        "--now", str(now - 3600), "--out", str(world / "cred.json"))
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        run("replay", "init", "--replay-redis", server.url, "--now", str(now - 3600))
        text = _present(world, now)
        verify = ("verify", "--keys", str(world / "keys"), "--business", "01101",
                  "--replay-redis", server.url, "--now", str(now + 5), text)
        assert out(*verify)["replay_checked"] is True
        assert error(*verify) == "replayed"
    finally:
        server.stop()


def test_usage_and_bad_files(world: Path) -> None:
    assert run("present", "--credential", str(world / "cred.json"), ok=False).returncode == 2
    (world / "junk.json").write_text("{}")
    assert error("present", "--credential", str(world / "junk.json"), "--device",
                 str(world / "phone"), "--business", "01101") == "invalid_argument"
    assert error("present", "--credential", str(world / "cred.json"), "--device",
                 str(world / "phone"), "--business", "01101", "--delegation",
                 str(world / "cred.json")) == "invalid_argument"
    assert error("verify", "--keys", str(world / "keys"), "--business", "01101",
                 "--status-list", str(world / "cred.json"), _present(world, NOW)) == (
        "status_list_invalid")
    assert error("activate", "--keys", str(world / "keys"), "--registry", str(world / "reg.db"),
                 "--device", str(world / "phone"), "--cert-id", CERT, "--region", "110105",
                 "--seal", "--out", str(world / "x.json")) == "invalid_argument"


def test_qr_image_of_a_presentation_scans_and_verifies(world: Path) -> None:
    text = _present(world, NOW)
    image = world / "code.png"
    made = out("qr", text, "--out", str(image))
    assert made["version"] == 13 and made["level"] == "M"  # the acceptable size
    scanned = out("scan", str(image), "--keys", str(world / "keys"), "--business", "01101",
                  "--now", str(NOW + 5), "--json")
    assert scanned["credential_id"] == CERT and scanned["mode"] == "holder"
