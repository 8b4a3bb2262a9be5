"""The holder commands with SM2 device keys and passphrase-protected SM2 keys, as operators run
them: real processes, real SQLite files, and the system OpenSSL reading the key files."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from ..conftest import NOW
from ..gm import require_gm
from .test_holder_cmd import CERT, error, out, run

require_gm()

ENV = "ECERT_TEST_PW"


def _env(value: str = "pass phrase") -> dict[str, str]:
    return {**os.environ, ENV: value}


def run_env(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ecert_token.cli.main", *args],
                          capture_output=True, text=True, timeout=120, check=False, env=env)


def test_sm2_device_end_to_end_with_encrypted_keys(tmp_path: Path) -> None:
    """keygen --suite sm and device keygen --suite sm with --passphrase-env; activate,
    present, verify; the files are PKCS#8 that OpenSSL opens; a wrong passphrase is
    wrong_passphrase (exit 1)."""
    env = _env()
    made = json.loads(run_env("keygen", "--out", str(tmp_path / "keys"), "--suite", "sm",
                              "--passphrase-env", ENV, env=env).stdout)
    assert made["encrypted"] is True and made["issuer_alg"] == "SM2-SM3"
    phone = json.loads(run_env("device", "keygen", "--out", str(tmp_path / "phone"), "--suite",
                               "sm", "--passphrase-env", ENV, env=env).stdout)
    assert (phone["suite"], phone["alg"], phone["encrypted"]) == ("sm", "SM2-SM3", True)
    key_file = tmp_path / "phone" / "device.key.pem"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    jwk = json.loads((tmp_path / "phone" / "device.pub.jwk.json").read_text())
    assert (jwk["kty"], jwk["crv"], jwk["alg"]) == ("EC", "SM2", "SM2-SM3")
    for path in (key_file, tmp_path / "keys" / "issuer.key.pem"):
        shown = subprocess.run(["openssl", "pkey", "-in", str(path), "-passin", f"env:{ENV}",
                                "-noout", "-text"], capture_output=True, text=True, env=env,
                               timeout=60, check=False)
        assert shown.returncode == 0 and "Private-Key: (256 bit)" in shown.stdout, shown.stderr

    keys = ("--keys", str(tmp_path / "keys"), "--passphrase-env", ENV)
    activated = json.loads(run_env(
        "activate", *keys, "--registry", str(tmp_path / "reg.db"), "--device",
        str(tmp_path / "phone"), "--cert-id", CERT, "--region", "110105", "--now",
        str(NOW - 3600), "--out", str(tmp_path / "cred.json"), env=env).stdout)
    assert activated["kind"] == "credential"
    present = ("present", "--credential", str(tmp_path / "cred.json"), "--device",
               str(tmp_path / "phone"), "--business", "01101", "--now", str(NOW), "--json")
    shown = json.loads(run_env(*present, "--passphrase-env", ENV, env=env).stdout)
    text = shown["presentation"]
    assert text.startswith("EP1:") and shown["characters"] == len(text)
    verified = json.loads(run_env("verify", *keys, "--business", "01101", "--now",
                                  str(NOW + 5), text, env=env).stdout)
    assert verified["credential_id"] == CERT and verified["mode"] == "holder"
    wrong = run_env(*present, "--passphrase-env", ENV, env=_env("not it"))
    assert wrong.returncode == 1 and json.loads(wrong.stdout)["error"] == "wrong_passphrase"
    missing = run_env(*present, env=env)
    assert missing.returncode == 1 and json.loads(missing.stdout)["error"] == "key_file"


def test_mixed_suites_from_the_command_line(tmp_path: Path) -> None:
    """An Ed25519 issuer certifies an SM2 phone, and an SM issuer an Ed25519 phone."""
    for issuer_suite, device_suite in (("ed25519", "sm"), ("sm", "ed25519")):
        d = tmp_path / f"{issuer_suite}-{device_suite}"
        run("keygen", "--out", str(d / "keys"), "--suite", issuer_suite)
        made = out("device", "keygen", "--out", str(d / "phone"), "--suite", device_suite)
        assert made["suite"] == device_suite and made["encrypted"] is False
        out("activate", "--keys", str(d / "keys"), "--registry", str(d / "reg.db"), "--device",
            str(d / "phone"), "--cert-id", CERT, "--region", "110105", "--now",
            str(NOW - 3600), "--out", str(d / "cred.json"))
        text = run("present", "--credential", str(d / "cred.json"), "--device",
                   str(d / "phone"), "--business", "01101", "--now",
                   str(NOW)).stdout.strip()
        verify = ("verify", "--keys", str(d / "keys"), "--business", "01101", "--now",
                  str(NOW + 5))
        assert out(*verify, text)["credential_id"] == CERT
        # another phone of the same suite cannot present this credential
        run("device", "keygen", "--out", str(d / "thief"), "--suite", device_suite)
        stolen = run("present", "--credential", str(d / "cred.json"), "--device",
                     str(d / "thief"), "--business", "01101", "--now",
                     str(NOW)).stdout.strip()
        assert error(*verify, stolen) == "bad_signature"
    bad = run("device", "keygen", "--out", str(tmp_path / "x"), "--suite", "rsa", ok=False)
    assert bad.returncode == 2
