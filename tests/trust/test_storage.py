"""Key storage: files, modes, passphrases, COSE_Key and JWK round trips, weak keys."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from ecert_token import ErrorCode, InvalidArgument, KeyMaterialError, KeyState, Validity
from ecert_token.codec import cbor
from ecert_token.keys import keydir
from ecert_token.keys.cose_key import (
    group_key_from_cose_key,
    group_key_to_cose_key,
    issuer_public_from_cose_key,
    issuer_public_to_cose_key,
)
from ecert_token.keys.jwk import (
    group_key_from_jwk,
    group_key_jwk,
    issuer_public_from_jwk,
    issuer_public_jwk,
)
from ecert_token.keys.keydir import KeyDir
from ecert_token.trust import RootSigningKey, load_root_signing_key, load_trust_root, save_root
from tests.conftest import NOW, deterministic_random

IDENTITY = b"\x01" + b"\x00" * 31


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def rotated(beijing: KeyDir) -> KeyDir:
    """Two issuer keys (one retired), two group keys (one revoked)."""
    kd = beijing.rotate_issuer(NOW, deterministic_random(b"rot-i"))
    kd = kd.rotate_group(NOW, deterministic_random(b"rot-g"))
    return kd.revoke(beijing.group_key.kid)


def test_keydir_round_trip_with_rings(tmp_path: Path, rotated: KeyDir) -> None:
    keydir.save(rotated, tmp_path)
    loaded = keydir.load(tmp_path)
    assert [(k.kid, k.state, k.validity, k.regions) for k in loaded.issuer_ring] == [
        (k.kid, k.state, k.validity, k.regions) for k in rotated.issuer_ring
    ]
    assert [(k.kid, k.secret, k.state, k.validity) for k in loaded.group_ring] == [
        (k.kid, k.secret, k.state, k.validity) for k in rotated.group_ring
    ]
    assert loaded.signing_key.private_key.seed == rotated.signing_key.private_key.seed
    for path in tmp_path.iterdir():
        secret = path.name.endswith((".pem", ".cose")) or path.name == keydir.GROUP_JWK
        assert _mode(path) == (0o600 if secret else 0o644), path.name
    manifest = json.loads((tmp_path / keydir.MANIFEST).read_text())
    assert len(manifest["issuer_keys"]) == 2
    # The fixed-name primary pair (read by JOSE tools) is the current primary.
    assert json.loads((tmp_path / keydir.ISSUER_JWK).read_text()) == issuer_public_jwk(
        rotated.signing_key.public)


def test_group_key_file_is_cose_key(tmp_path: Path, beijing: KeyDir) -> None:
    keydir.save(beijing, tmp_path)
    raw = (tmp_path / keydir.group_key_name(beijing.group_key.kid)).read_bytes()
    assert cbor.loads(raw, max_depth=1) == {1: 4, 2: beijing.group_key.kid, 3: 10,
                                            -1: beijing.group_key.secret}


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644])
def test_readable_private_files_refused(tmp_path: Path, beijing: KeyDir, mode: int) -> None:
    keydir.save(beijing, tmp_path)
    for name in (keydir.issuer_pem_name(beijing.signing_key.kid),
                 keydir.group_key_name(beijing.group_key.kid)):
        (tmp_path / name).chmod(mode)
        with pytest.raises(KeyMaterialError) as info:
            keydir.load(tmp_path)
        assert info.value.code is ErrorCode.KEY_FILE
        assert "chmod 600" in str(info.value)
        (tmp_path / name).chmod(0o600)
    keydir.load(tmp_path)


def test_passphrase_round_trip(tmp_path: Path, beijing: KeyDir) -> None:
    keydir.save(beijing, tmp_path, passphrase=b"correct horse")
    pem = (tmp_path / keydir.issuer_pem_name(beijing.signing_key.kid)).read_bytes()
    assert b"ENCRYPTED PRIVATE KEY" in pem
    loaded = keydir.load(tmp_path, passphrase=b"correct horse")
    assert loaded.signing_key.private_key.seed == beijing.signing_key.private_key.seed
    for wrong, code in ((b"wrong horse", ErrorCode.WRONG_PASSPHRASE),
                        (None, ErrorCode.KEY_FILE)):
        with pytest.raises(KeyMaterialError) as info:
            keydir.load(tmp_path, passphrase=wrong)
        assert info.value.code is code


def test_root_key_files(tmp_path: Path, root: RootSigningKey) -> None:
    save_root(root, tmp_path / "root.key.pem", tmp_path / "root.pub.cose", b"pw")
    assert _mode(tmp_path / "root.key.pem") == 0o600
    assert load_root_signing_key(tmp_path / "root.key.pem", b"pw").kid == root.kid
    assert load_trust_root(tmp_path / "root.pub.cose") == root.root
    (tmp_path / "root.key.pem").chmod(0o644)
    with pytest.raises(KeyMaterialError):
        load_root_signing_key(tmp_path / "root.key.pem", b"pw")


def test_cose_key_round_trips(beijing: KeyDir) -> None:
    public = beijing.signing_key.public
    data = issuer_public_to_cose_key(public)
    assert cbor.loads(data, max_depth=1) == {1: 1, 2: public.kid, 3: -8, -1: 6,
                                             -2: public.public_key.raw}
    back = issuer_public_from_cose_key(data, "BJ", public.regions, public.validity,
                                       KeyState.PRIMARY)
    assert back == public
    group = beijing.group_key
    assert group_key_from_cose_key(group_key_to_cose_key(group), group.group) == group


def test_jwk_round_trips(beijing: KeyDir) -> None:
    public = beijing.signing_key.public
    jwk = issuer_public_jwk(public)
    assert jwk["kty"] == "OKP" and jwk["crv"] == "Ed25519"
    assert issuer_public_from_jwk(jwk, "BJ", public.regions, state=KeyState.PRIMARY) == public
    group = beijing.group_key
    assert group_key_from_jwk(group_key_jwk(group), "national") == group


def _okp_map(x: bytes) -> dict[int, object]:
    return {1: 1, 2: b"kid1", 3: -8, -1: 6, -2: x}


def test_weak_and_malformed_cose_keys_refused(beijing: KeyDir) -> None:
    with pytest.raises(KeyMaterialError) as info:
        issuer_public_from_cose_key(cbor.dumps(_okp_map(IDENTITY)), "BJ")
    assert info.value.code is ErrorCode.WEAK_KEY
    good_x = beijing.signing_key.public.public_key.raw
    bad_maps = [
        {**_okp_map(good_x), -4: b"\x00" * 32},  # private part
        {**_okp_map(good_x), 1: True},           # bool for kty
        {**_okp_map(good_x), -1: 4},             # X25519 curve
        {**_okp_map(good_x), 3: -7},             # ES256
        {**_okp_map(good_x), 2: b""},            # empty kid
        {**_okp_map(good_x), 99: 0},             # unknown label
        {**_okp_map(good_x), 4: [1]},            # key_ops: sign only
    ]
    for bad in bad_maps:
        with pytest.raises(KeyMaterialError) as info:
            issuer_public_from_cose_key(cbor.dumps(bad), "BJ")
        assert info.value.code is ErrorCode.KEY_FILE
    for raw in (b"", b"\xa1", b"\xa0\x00", b"\x80"):
        with pytest.raises(KeyMaterialError):
            issuer_public_from_cose_key(raw, "BJ")
    sym = {1: 4, 2: b"g", 3: 10, -1: b"k" * 16}
    for bad in ({**sym, -1: b"k" * 32}, {**sym, 3: 1}, {**sym, 1: 1}):
        with pytest.raises(KeyMaterialError):
            group_key_from_cose_key(cbor.dumps(bad), "national")


def test_weak_jwk_refused() -> None:
    jwk = {"kty": "OKP", "crv": "Ed25519", "kid": "a2lkMQ",
           "x": "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}
    with pytest.raises(KeyMaterialError) as info:
        issuer_public_from_jwk(jwk, "BJ")
    assert info.value.code is ErrorCode.WEAK_KEY


def test_validity_rejects_bad_window() -> None:
    with pytest.raises(InvalidArgument):
        Validity(NOW, NOW - 1)
