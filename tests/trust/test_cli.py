"""``trust`` and ``keys`` commands end to end, as real processes."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ecert_token import (
    BusinessType,
    Credential,
    FixedClock,
    InvalidArgument,
    Issuer,
    Region,
)
from ecert_token.cli.trust_cmd import (
    add_trust_source_args,
    load_terminal_trust,
    trust_store_from_args,
)
from ecert_token.keys import keydir
from tests.conftest import NOW, deterministic_random, running_verifier


def ecert(*args: str, env: dict[str, str] | None = None) -> tuple[int, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "ecert_token.cli.main", *args],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, **(env or {})},
    )
    assert proc.stderr == "", proc.stderr
    return proc.returncode, json.loads(proc.stdout)


@pytest.fixture
def platform(tmp_path: Path) -> Path:
    """A root, a Beijing and a Shaanxi key directory sharing one national group key."""
    bj = keydir.generate("BJ", "national", frozenset({"11"}), deterministic_random(b"cli-bj"))
    sn = keydir.generate("SN", "national", frozenset({"61"}), deterministic_random(b"cli-sn"))
    keydir.save(bj, tmp_path / "bj", passphrase=b"pw")
    keydir.save(keydir.KeyDir(sn.issuer_ring, bj.group_ring), tmp_path / "sn")
    code, out = ecert("trust", "keygen", "--out", str(tmp_path / "root"))
    assert code == 0
    assert len(out["root_kid"]) == 8
    return tmp_path


def _build_and_sign(d: Path, seq: int) -> Path:
    code, built = ecert("trust", "build", "--keys", str(d / "bj"), "--keys", str(d / "sn"),
                        "--sequence", str(seq), "--issued-at", str(NOW - 60),
                        "--out", str(d / f"list{seq}.cbor"))
    assert code == 0
    assert built["verified"] is False
    assert {k["issuer"] for k in built["issuer_keys"]} == {"BJ", "SN"}
    assert len(built["group_keys"]) == 1  # the shared national key, listed once
    code, signed = ecert("trust", "sign", str(d / f"list{seq}.cbor"),
                         "--root-key", str(d / "root" / "root.key.pem"),
                         "--out", str(d / f"list{seq}.cose"))
    assert code == 0
    assert signed["sequence"] == seq
    return d / f"list{seq}.cose"


def test_build_sign_verify_inspect_and_rollback(platform: Path) -> None:
    d = platform
    first = _build_and_sign(d, 4)
    verify = ("trust", "verify", "--root", str(d / "root" / "root.pub.cose"),
              "--state-dir", str(d / "state"), "--now", str(NOW))
    code, out = ecert(*verify, str(first))
    assert code == 0
    assert out["verified"] is True
    assert out["sequence"] == 4
    code, out = ecert("trust", "inspect", str(first))
    assert (code, out["verified"], out["sequence"]) == (0, False, 4)

    tampered = d / "tampered.cose"
    data = bytearray(first.read_bytes())
    data[len(data) // 2] ^= 0x04
    tampered.write_bytes(bytes(data))
    code, out = ecert(*verify, str(tampered))
    assert code == 1
    assert out["error"].startswith("trust_list_")

    second = _build_and_sign(d, 5)
    assert ecert(*verify, str(second))[0] == 0
    code, out = ecert(*verify, str(first))  # a new process: the state file remembers 5
    assert (code, out["error"]) == (1, "trust_list_rollback")


def test_rotate_revoke_export(platform: Path, credential: Credential, clock: FixedClock) -> None:
    d = platform
    env = {"ECERT_PW": "pw"}
    code, rotated = ecert("keys", "rotate", "--keys", str(d / "bj"), "--what", "issuer",
                          "--now", str(NOW), "--passphrase-env", "ECERT_PW", env=env)
    assert code == 0
    assert rotated["old_kid"] != rotated["new_kid"]
    code, exported = ecert("keys", "export", "--keys", str(d / "bj"), "--format", "jwk",
                           "--out", str(d / "terminal"), "--group-keys")
    assert code == 0
    states = {k["kid"]: k["state"] for k in exported["issuer_keys"]}
    assert states == {rotated["old_kid"]: "verify_only", rotated["new_kid"]: "primary"}
    assert all(k["jwk"]["kty"] == "OKP" and "d" not in k["jwk"] for k in exported["issuer_keys"])
    group_file = Path(exported["group_keys"][0]["file"])
    assert group_file.stat().st_mode & 0o077 == 0

    # A terminal: pinned root, signed list, the provisioned group key.
    signed = _build_and_sign(d, 1)
    store = load_terminal_trust(d / "root" / "root.pub.cose", signed, [group_file], now=NOW)
    keys = keydir.load(d / "bj", passphrase=b"pw")
    token = Issuer(keys.signing_key, keys.group_key, clock=clock).mint(
        credential, BusinessType.HOSPITAL_REGISTRATION)
    result = running_verifier(store, clock).verify(token, BusinessType.HOSPITAL_REGISTRATION)
    assert result.issuer_kid.hex() == rotated["new_kid"]

    code, out = ecert("keys", "revoke", "--keys", str(d / "bj"), "--kid", rotated["new_kid"],
                      "--passphrase-env", "ECERT_PW", env=env)
    assert (code, out["kind"]) == (0, "issuer")


def test_errors_are_json(platform: Path) -> None:
    d = platform
    code, out = ecert("keys", "rotate", "--keys", str(d / "bj"), "--what", "group",
                      "--passphrase-env", "ECERT_PW", env={"ECERT_PW": "wrong"})
    assert (code, out["error"]) == (1, "wrong_passphrase")
    (d / "root" / "root.key.pem").chmod(0o644)
    (d / "x.cbor").write_bytes(b"\xa0")
    code, out = ecert("trust", "sign", str(d / "x.cbor"), "--root-key",
                      str(d / "root" / "root.key.pem"), "--out", str(d / "x.cose"))
    assert (code, out["error"]) == (1, "trust_list_invalid")
    code, out = ecert("keys", "export", "--keys", str(d / "nowhere"))
    assert (code, out["error"]) == (1, "key_file")


def test_verify_options_for_a_trust_list(platform: Path, credential: Credential,
                                         clock: FixedClock) -> None:
    """What ``ecert verify --trust-list ...`` gets from add_trust_source_args."""
    d = platform
    signed = _build_and_sign(d, 2)
    group_file = next((d / "sn").glob("group-*.key.cose"))
    parser = argparse.ArgumentParser()
    add_trust_source_args(parser)
    assert trust_store_from_args(parser.parse_args([])) is None
    args = parser.parse_args(["--trust-list", str(signed), "--root",
                              str(d / "root" / "root.pub.cose"), "--group-key", str(group_file),
                              "--trust-state", str(d / "state")])
    store = trust_store_from_args(args, now=NOW)
    assert store is not None
    keys = keydir.load(d / "sn")
    shaanxi_person = dataclasses.replace(credential, region=Region("610113"))
    token = Issuer(keys.signing_key, keys.group_key, clock=clock).mint(
        shaanxi_person, BusinessType.HOSPITAL_REGISTRATION)
    assert running_verifier(store, clock).verify(
        token, BusinessType.HOSPITAL_REGISTRATION).issuer == "SN"
    with pytest.raises(InvalidArgument):
        trust_store_from_args(parser.parse_args(["--trust-list", str(signed)]))
