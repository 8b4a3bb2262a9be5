"""keys/kids.py: one spelling shown (lowercase hex), both ever written accepted."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ecert_token.keys import keydir
from ecert_token.keys.jwk import b64url
from ecert_token.keys.kids import kid_candidates, kid_text
from tests.conftest import deterministic_random


def test_kid_text_is_lowercase_hex() -> None:
    assert kid_text(b"\xab\x01\xff\x10") == "ab01ff10"


@pytest.mark.parametrize("kid", [b"\xab\x01\xff\x10", b"\x00\x00\x00\x00", bytes(range(16))])
def test_hex_and_base64url_both_read_back(kid: bytes) -> None:
    assert kid_candidates(kid.hex())[0] == kid
    assert kid_candidates(kid.hex().upper())[0] == kid
    assert kid in kid_candidates(b64url(kid))


@pytest.mark.parametrize("text", ["", "zz!", "a", " ab01ff10", "ab01ff10=", "é", 7, None])
def test_neither_form_gives_nothing(text: object) -> None:
    assert kid_candidates(text) == ()


def test_manifest_spells_kids_in_lowercase_hex(tmp_path: Path) -> None:
    keys = keydir.generate(random_bytes=deterministic_random(b"kids"))
    keydir.save(keys, tmp_path)
    manifest = json.loads((tmp_path / keydir.MANIFEST).read_text())
    assert manifest["issuer_kid"] == keys.signing_key.kid.hex()
    assert manifest["group_kid"] == keys.group_key.kid.hex()
    assert [e["kid"] for e in manifest["issuer_keys"]] == [keys.signing_key.kid.hex()]
    assert [e["kid"] for e in manifest["group_keys"]] == [keys.group_key.kid.hex()]


def _as_written_before_0_2(directory: Path) -> None:
    """Rewrite the manifest's kids as the base64url that versions before 0.2 wrote."""
    path = directory / keydir.MANIFEST
    manifest = json.loads(path.read_text())
    for name in ("issuer_keys", "group_keys"):
        for entry in manifest[name]:
            entry["kid"] = b64url(bytes.fromhex(entry["kid"]))
    path.write_text(json.dumps(manifest))


@pytest.mark.parametrize("seed", [b"old-1", b"old-2", b"old-3", b"old-4", b"old-5"])
def test_directories_with_base64url_kids_still_load(tmp_path: Path, seed: bytes) -> None:
    keys = keydir.generate(random_bytes=deterministic_random(seed)).rotate_issuer(
        1_700_000_000, deterministic_random(seed + b"r"))
    keydir.save(keys, tmp_path)
    _as_written_before_0_2(tmp_path)
    back = keydir.load(tmp_path)
    assert [k.kid for k in back.issuer_ring] == [k.kid for k in keys.issuer_ring]
    assert [k.kid for k in back.group_ring] == [k.kid for k in keys.group_ring]
    public = keydir.load_public(tmp_path)
    assert [k.kid for k in public.issuer_keys] == [k.kid for k in keys.issuer_ring]


def test_an_ambiguous_kid_resolves_to_the_key_file_present(tmp_path: Path) -> None:
    """A 4-byte kid whose base64url text is also hex: "adedAA" reads both ways."""
    kid = bytes.fromhex("69d79d00")
    text = b64url(kid)
    assert kid_candidates(text)[0] != kid and kid in kid_candidates(text)
    keys = keydir.generate(random_bytes=deterministic_random(b"amb"))
    group = keys.group_key
    forged = type(group)(group.group, kid, os.urandom(16), group.validity, group.state)
    keys = keydir.KeyDir(keys.issuer_ring, type(keys.group_ring)([forged]))
    keydir.save(keys, tmp_path)
    _as_written_before_0_2(tmp_path)
    assert keydir.load(tmp_path).group_key.kid == kid
