"""The ``ecert`` command line, end to end, in real subprocesses."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest

NOW = 1_790_000_000


def ecert(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ecert_token.cli.main", *args],
        input=stdin, capture_output=True, text=True, timeout=60, check=False,
    )


@pytest.fixture(scope="module")
def keydir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("keys") / "k"
    proc = ecert("keygen", "--out", str(out), "--issuer", "NHSA-11")
    assert proc.returncode == 0, proc.stderr
    return out


def mint(keydir: Path, *extra: str) -> str:
    proc = ecert("mint", "--keys", str(keydir), "--cert-id", "E4Q7ZK2M9PXA", "--region",
                 "110105", "--business", "01101", "--now", str(NOW), *extra)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout.strip()


def test_keygen_writes_private_files_0600_and_public_jwks(keydir: Path) -> None:
    for private in ("issuer.key.pem", "group.key.jwk.json"):
        assert stat.S_IMODE((keydir / private).stat().st_mode) == 0o600
    okp = json.loads((keydir / "issuer.pub.jwk.json").read_text())
    assert okp["kty"] == "OKP" and okp["crv"] == "Ed25519" and okp["kid"] and "d" not in okp
    oct_ = json.loads((keydir / "group.key.jwk.json").read_text())
    assert oct_["kty"] == "oct" and oct_["kid"] and len(oct_["k"]) == 22
    manifest = json.loads((keydir / "manifest.json").read_text())
    assert manifest["issuer"] == "NHSA-11"


def test_keygen_output_is_json_without_secrets(tmp_path: Path) -> None:
    proc = ecert("keygen", "--out", str(tmp_path / "k2"))
    info = json.loads(proc.stdout)
    secret = json.loads((tmp_path / "k2" / "group.key.jwk.json").read_text())["k"]
    assert info["issuer"] == "NHSA" and secret not in proc.stdout


def test_mint_prints_one_line_token(keydir: Path) -> None:
    token = mint(keydir)
    assert token.startswith("EC1:") and "\n" not in token and len(token) <= 280


def test_verify_prints_claims_and_exits_zero(keydir: Path) -> None:
    token = mint(keydir)
    proc = ecert("verify", "--keys", str(keydir), "--business", "01101", "--now",
                 str(NOW + 10), token)
    assert proc.returncode == 0, proc.stdout
    claims = json.loads(proc.stdout)
    assert claims["credential_id"] == "E4Q7ZK2M9PXA"
    assert claims["insured_region"] == "110105"
    assert claims["cert_type"] == "01"
    assert claims["business_type"] == "01101"
    assert claims["issuer"] == "NHSA-11"


def test_verify_reads_stdin(keydir: Path) -> None:
    token = mint(keydir)
    proc = ecert("verify", "--keys", str(keydir), "--business", "01101", "--now",
                 str(NOW + 1), "-", stdin=token + "\n")
    assert proc.returncode == 0, proc.stdout


def test_expired_now_is_rejected(keydir: Path) -> None:
    token = mint(keydir)
    proc = ecert("verify", "--keys", str(keydir), "--business", "01101", "--now",
                 str(NOW + 3600), token)
    assert proc.returncode != 0
    assert json.loads(proc.stdout)["error"] == "expired"
    assert token[4:40] not in proc.stdout


def test_wrong_business_type_is_rejected(keydir: Path) -> None:
    token = mint(keydir)
    proc = ecert("verify", "--keys", str(keydir), "--business", "01301", "--now", str(NOW), token)
    assert proc.returncode != 0
    assert json.loads(proc.stdout)["error"] == "wrong_business_type"


def test_garbage_is_malformed(keydir: Path) -> None:
    proc = ecert("verify", "--keys", str(keydir), "--business", "01101", "hello world")
    assert proc.returncode != 0
    assert json.loads(proc.stdout)["error"] == "malformed"


def test_bad_arguments_give_invalid_argument(keydir: Path) -> None:
    proc = ecert("mint", "--keys", str(keydir), "--cert-id", "E4Q7ZK2M9PXA", "--region",
                 "000000", "--business", "01101")
    assert proc.returncode != 0
    assert json.loads(proc.stdout)["error"] == "invalid_argument"


def test_missing_key_directory_is_a_key_file_error(tmp_path: Path) -> None:
    proc = ecert("verify", "--keys", str(tmp_path / "none"), "--business", "01101", "x")
    assert proc.returncode != 0
    assert json.loads(proc.stdout)["error"] == "key_file"


def test_replay_db_rejects_second_use_across_processes(keydir: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "replay.db")
    # The replay database is created an hour before the token is minted (a fresh
    # database fences tokens issued before it existed; see the next test).
    init = ecert("replay", "init", "--replay-db", db, "--now", str(NOW - 3600))
    assert init.returncode == 0, init.stdout + init.stderr
    assert json.loads(init.stdout) == {"memory_began": NOW - 3600,
                                       "accepts_tokens_issued_after": NOW - 3600 + 5}
    token = mint(keydir)
    args = ("verify", "--keys", str(keydir), "--business", "01101", "--replay-db", db,
            "--now", str(NOW + 5), token)
    first = ecert(*args)
    second = ecert(*args)
    assert first.returncode == 0, first.stdout + first.stderr
    assert second.returncode != 0
    assert json.loads(second.stdout)["error"] == "replayed"


def test_a_new_replay_db_fences_tokens_issued_before_it(keydir: Path, tmp_path: Path) -> None:
    token = mint(keydir)
    proc = ecert("verify", "--keys", str(keydir), "--business", "01101", "--replay-db",
                 str(tmp_path / "new.db"), "--now", str(NOW + 5), token)
    assert json.loads(proc.stdout)["error"] == "possibly_replayed"


def test_replay_init_keeps_an_existing_database(tmp_path: Path) -> None:
    db = str(tmp_path / "replay.db")
    first = json.loads(ecert("replay", "init", "--replay-db", db, "--now", str(NOW)).stdout)
    again = json.loads(ecert("replay", "init", "--replay-db", db, "--now",
                             str(NOW + 99)).stdout)
    assert first["memory_began"] == again["memory_began"] == NOW


def test_demo_shows_accept_replay_and_expiry() -> None:
    proc = ecert("demo", "--no-qr")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "ACCEPTED" in out
    assert "code=replayed" in out
    assert "code=expired" in out
    assert "code=wrong_business_type" in out


def test_verify_with_a_signed_trust_list(tmp_path: Path) -> None:
    """keygen -> trust keygen/build/sign -> verify from the list plus a provisioned group key."""
    bj = tmp_path / "bj"
    root = tmp_path / "root"
    assert ecert("keygen", "--out", str(bj), "--issuer", "BJ", "--regions", "11").returncode == 0
    assert ecert("trust", "keygen", "--out", str(root)).returncode == 0
    listing, signed = str(tmp_path / "l.cbor"), str(tmp_path / "l.cose")
    assert ecert("trust", "build", "--keys", str(bj), "--sequence", "1", "--out",
                 listing).returncode == 0
    assert ecert("trust", "sign", listing, "--root-key", str(root / "root.key.pem"), "--out",
                 signed).returncode == 0
    (group_file,) = bj.glob("group-*.key.cose")
    token = mint(bj)
    base = ("verify", "--trust-list", signed, "--root", str(root / "root.pub.cose"),
            "--business", "01101", "--now", str(NOW + 1))
    ok = ecert(*base, "--group-key", str(group_file), token)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert json.loads(ok.stdout)["issuer"] == "BJ"
    no_group = ecert(*base, token)
    assert json.loads(no_group.stdout)["error"] == "unknown_key"
    xian = ecert("mint", "--keys", str(bj), "--cert-id", "E4Q7ZK2M9PXA", "--region", "610100",
                 "--business", "01101", "--now", str(NOW))
    assert json.loads(xian.stdout)["error"] == "wrong_region"
