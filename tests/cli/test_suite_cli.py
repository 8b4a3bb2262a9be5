"""``ecert keygen --suite sm``, minting and verifying with SM keys, trust lists that mix
both suites, and ``ecert demo --suite sm``: the command line in real subprocesses."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from tests.cli.test_cli import NOW, ecert
from tests.gm import require_gm

require_gm()


@pytest.fixture(scope="module")
def sm_keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sm") / "k"
    proc = ecert("keygen", "--out", str(out), "--issuer", "NHSA-SM", "--suite", "sm")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert (summary["suite"], summary["issuer_alg"], summary["group_alg"]) == (
        "sm", "SM2-SM3", "SM4-CCM-16-64-128")
    return out


def _mint(keys: Path) -> str:
    proc = ecert("mint", "--keys", str(keys), "--cert-id", "E4Q7ZK2M9PXA", "--region", "110105",
                 "--business", "01101", "--now", str(NOW))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout.strip()


def test_keygen_writes_sm_jwk_files(sm_keys: Path) -> None:
    public = json.loads((sm_keys / "issuer.pub.jwk.json").read_text("utf-8"))
    assert (public["kty"], public["crv"], public["alg"]) == ("EC", "SM2", "SM2-SM3")
    assert {"x", "y"} <= public.keys() and "d" not in public
    group = json.loads((sm_keys / "group.key.jwk.json").read_text("utf-8"))
    assert (group["kty"], group["alg"]) == ("oct", "SM4-CCM-16-64-128")
    for private in ("issuer.key.jwk.json", "group.key.jwk.json"):
        assert stat.S_IMODE((sm_keys / private).stat().st_mode) == 0o600
    assert not (sm_keys / "issuer.key.pem").exists()


def test_mint_and_verify_with_sm_keys(sm_keys: Path) -> None:
    token = _mint(sm_keys)
    proc = ecert("verify", "--keys", str(sm_keys), "--business", "01101", "--now",
                 str(NOW + 1), token)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["issuer"] == "NHSA-SM"
    damaged = token[:-2] + ("0" if token[-2] != "0" else "1") + token[-1]
    proc = ecert("verify", "--keys", str(sm_keys), "--business", "01101", "--now",
                 str(NOW + 1), damaged)
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["error"] in {"decryption_failed", "malformed"}


def test_trust_list_mixing_suites(sm_keys: Path, tmp_path: Path) -> None:
    ed = tmp_path / "ed"
    assert ecert("keygen", "--out", str(ed), "--issuer", "NHSA-ED").returncode == 0
    assert ecert("trust", "keygen", "--out", str(tmp_path / "root")).returncode == 0
    payload, signed = tmp_path / "tl.cbor", tmp_path / "tl.cose"
    proc = ecert("trust", "build", "--keys", str(sm_keys), "--keys", str(ed), "--sequence", "1",
                 "--issued-at", str(NOW - 60), "--out", str(payload))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert ecert("trust", "sign", str(payload), "--root-key",
                 str(tmp_path / "root" / "root.key.pem"), "--out", str(signed)).returncode == 0
    listed = json.loads(ecert("trust", "inspect", str(signed)).stdout)
    by_issuer = {k["issuer"]: k for k in listed["issuer_keys"]}
    assert by_issuer["NHSA-SM"]["alg"] == "SM2-SM3" and "y" in by_issuer["NHSA-SM"]
    assert by_issuer["NHSA-ED"]["alg"] == "EdDSA" and "y" not in by_issuer["NHSA-ED"]
    group = next(sm_keys.glob("group-*.key.cose"))
    proc = ecert("verify", "--trust-list", str(signed), "--root",
                 str(tmp_path / "root" / "root.pub.cose"), "--group-key", str(group),
                 "--business", "01101", "--now", str(NOW + 1), _mint(sm_keys))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["issuer"] == "NHSA-SM"


def test_demo_with_the_sm_suite() -> None:
    proc = ecert("demo", "--suite", "sm", "--no-qr")
    assert proc.returncode == 0, proc.stderr
    assert "(SM2-SM3)" in proc.stdout and "(SM4-CCM-16-64-128)" in proc.stdout
    assert "ACCEPTED" in proc.stdout and "code=replayed" in proc.stdout
    # holder mode with an SM2 phone: minted offline, accepted, refused once unbound
    assert "ACCEPTED offline" in proc.stdout and "code=credential_revoked" in proc.stdout
    assert ecert("keygen", "--out", "x", "--suite", "sm2").returncode == 2


def test_sm2_root_from_the_command_line(sm_keys: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    made = ecert("trust", "keygen", "--out", str(root), "--suite", "sm")
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["alg"] == "SM2-SM3"
    assert stat.S_IMODE((root / "root.key.jwk.json").stat().st_mode) == 0o600
    payload, signed = tmp_path / "tl.cbor", tmp_path / "tl.cose"
    assert ecert("trust", "build", "--keys", str(sm_keys), "--sequence", "1", "--issued-at",
                 str(NOW - 60), "--out", str(payload)).returncode == 0
    proc = ecert("trust", "sign", str(payload), "--root-key", str(root / "root.key.jwk.json"),
                 "--out", str(signed))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = ecert("trust", "verify", str(signed), "--root", str(root / "root.pub.cose"),
                 "--now", str(NOW))
    assert proc.returncode == 0, proc.stdout + proc.stderr
