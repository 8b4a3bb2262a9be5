"""Key material, trust store, JWK export/import, key files and key directories."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from ecert_token import (
    EcertError,
    ErrorCode,
    GroupKey,
    InvalidArgument,
    IssuerSigningKey,
    IssuerVerifyKey,
    KeyMaterialError,
    KeyState,
    Region,
    TrustStore,
    Validity,
)
from ecert_token.crypto.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from ecert_token.keys import jwk, keydir
from ecert_token.keys.files import ed25519_from_pem, ed25519_to_pem, read_private, write_file
from ecert_token.keys.keydir import KeyDir
from ecert_token.keys.material import validate_regions
from tests.conftest import deterministic_random
from tests.core.vectors import load

RFC8032 = load("ed25519_rfc8032.json")["vectors"][0]
SMALL_ORDER = [v["hex"] for v in load("ed25519_small_order.json")["small_order"]]
def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _fresh(seed: bytes = b"k", regions: frozenset[str] | None = None) -> KeyDir:
    return keydir.generate("NHSA", "national", regions, deterministic_random(seed))


# --- key directories ------------------------------------------------------
# These tests do not assume the file layout (it grows with key rotation):
# private files are the 0600 ones, and a file "load reads" is one without
# which load fails.


def _saved(directory: Path, keys: KeyDir | None = None,
           passphrase: bytes | None = None) -> KeyDir:
    keys = keys or _fresh()
    keydir.save(keys, directory, passphrase)
    return keys


def _private_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if _mode(p) == 0o600)


def _files_load_needs(directory: Path) -> list[Path]:
    """Files without which ``keydir.load`` fails (each tried alone)."""
    needed = []
    for path in sorted(directory.iterdir()):
        saved = path.read_bytes(), _mode(path)
        path.unlink()
        try:
            keydir.load(directory)
        except KeyMaterialError as err:
            assert err.code is ErrorCode.KEY_FILE
            needed.append(path)
        finally:
            write_file(path, saved[0], saved[1])
    return needed


def test_generate_is_reproducible_with_injected_randomness() -> None:
    a, b = _fresh(b"same"), _fresh(b"same")
    assert a.signing_key.kid == b.signing_key.kid
    assert a.group_key.secret == b.group_key.secret
    assert _fresh(b"other").group_key.secret != a.group_key.secret
    assert len(a.signing_key.kid) == 4
    assert len(a.group_key.kid) == 4


@pytest.mark.parametrize("passphrase", [None, b"correct horse"])
@pytest.mark.parametrize("regions", [None, frozenset({"11", "61"})])
def test_keydir_round_trip(
    tmp_path: Path, passphrase: bytes | None, regions: frozenset[str] | None
) -> None:
    keys = _saved(tmp_path, _fresh(regions=regions), passphrase)
    loaded = keydir.load(tmp_path, passphrase)
    assert loaded.signing_key.kid == keys.signing_key.kid
    assert loaded.signing_key.issuer == "NHSA"
    assert loaded.signing_key.regions == regions
    assert loaded.signing_key.private_key.seed == keys.signing_key.private_key.seed
    assert loaded.group_key == keys.group_key
    assert loaded.group_key.secret == keys.group_key.secret
    manifest = json.loads((tmp_path / keydir.MANIFEST).read_text())
    assert manifest["encrypted"] is (passphrase is not None)
    pems = [p.read_bytes() for p in tmp_path.iterdir() if p.suffix == ".pem"]
    assert pems
    assert all((b"ENCRYPTED" in pem) is (passphrase is not None) for pem in pems)


def test_keydir_file_modes(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        keys = _saved(tmp_path)
    finally:
        os.umask(old)
    modes = {p.name: _mode(p) for p in tmp_path.iterdir()}
    assert set(modes.values()) == {0o600, 0o644}, modes
    assert modes[keydir.MANIFEST] == 0o644
    needed_private = [p for p in _files_load_needs(tmp_path) if p.name != keydir.MANIFEST]
    assert len(needed_private) >= 2  # at least the issuer key and the group key
    assert all(_mode(p) == 0o600 for p in needed_private)
    assert keydir.load(tmp_path).group_key == keys.group_key


def test_keydir_secrets_only_in_private_files(tmp_path: Path) -> None:
    keys = _saved(tmp_path)
    seed = keys.signing_key.private_key.seed
    secret = keys.group_key.secret
    markers = (seed, secret, jwk.b64url(seed).encode(), jwk.b64url(secret).encode(),
               seed.hex().encode(), secret.hex().encode(), b"PRIVATE KEY")
    for path in tmp_path.iterdir():
        if _mode(path) != 0o600:
            content = path.read_bytes()
            assert not any(m in content for m in markers), path.name
    public = json.loads((tmp_path / keydir.ISSUER_JWK).read_text())
    assert set(public) == {"kty", "crv", "x", "kid", "alg", "use"}


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644, 0o610, 0o601, 0o720])
def test_keydir_refuses_private_files_others_can_read(tmp_path: Path, mode: int) -> None:
    _saved(tmp_path)
    needed = [p for p in _files_load_needs(tmp_path) if _mode(p) == 0o600]
    assert needed
    for path in needed:
        path.chmod(mode)
        with pytest.raises(KeyMaterialError) as info:
            keydir.load(tmp_path)
        assert info.value.code is ErrorCode.KEY_FILE, path.name
        assert str(tmp_path) not in str(info.value)
        path.chmod(0o600)
    # Every private file too wide at once: refused as well.
    for path in _private_files(tmp_path):
        path.chmod(mode)
    with pytest.raises(KeyMaterialError):
        keydir.load(tmp_path)


@pytest.mark.parametrize("mode", [0o600, 0o400, 0o700])
def test_read_private_accepts_owner_only_modes(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "secret"
    write_file(path, b"data", mode)
    assert _mode(path) == mode
    assert read_private(path) == b"data"


def test_read_private_refuses_missing_file(tmp_path: Path) -> None:
    with pytest.raises(KeyMaterialError) as info:
        read_private(tmp_path / "absent")
    assert info.value.code is ErrorCode.KEY_FILE


def test_write_file_replaces_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "f"
    write_file(path, b"one", 0o600)
    write_file(path, b"two", 0o600)
    assert path.read_bytes() == b"two"
    assert [p.name for p in tmp_path.iterdir()] == ["f"]


def test_keydir_wrong_or_missing_passphrase(tmp_path: Path) -> None:
    _saved(tmp_path, passphrase=b"right")
    for passphrase, code in ((b"wrong", ErrorCode.WRONG_PASSPHRASE), (None, ErrorCode.KEY_FILE)):
        with pytest.raises(KeyMaterialError) as info:
            keydir.load(tmp_path, passphrase)
        assert info.value.code is code


def test_keydir_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(KeyMaterialError) as info:
        keydir.load(tmp_path / "absent")
    assert info.value.code is ErrorCode.KEY_FILE


@pytest.mark.parametrize(
    "changes", [{"format": "ecert-keydir/0"}, {"format": None}, {"issuer": ""}, {"group": None}]
)
def test_keydir_refuses_bad_manifest(tmp_path: Path, changes: dict[str, object]) -> None:
    _saved(tmp_path)
    path = tmp_path / keydir.MANIFEST
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))
    with pytest.raises(EcertError):
        keydir.load(tmp_path)


@pytest.mark.parametrize("content", [b"", b"not json", b"[1]", b"\xff\xfe", b"{}", b"null"])
def test_keydir_refuses_garbage_files(tmp_path: Path, content: bytes) -> None:
    keys = _saved(tmp_path)
    for path in _files_load_needs(tmp_path):
        saved = path.read_bytes()
        path.write_bytes(content)
        with pytest.raises(KeyMaterialError) as info:
            keydir.load(tmp_path)
        assert info.value.code is ErrorCode.KEY_FILE, path.name
        path.write_bytes(saved)
    assert keydir.load(tmp_path).signing_key.kid == keys.signing_key.kid


def test_pem_round_trip_and_refusals() -> None:
    key = Ed25519PrivateKey(bytes.fromhex(RFC8032["seed"]))
    assert ed25519_from_pem(ed25519_to_pem(key)).seed == key.seed
    assert ed25519_from_pem(ed25519_to_pem(key, b"pw"), b"pw").seed == key.seed
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    p256 = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())
    for data in (p256, b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", b""):
        with pytest.raises(KeyMaterialError) as info:
            ed25519_from_pem(data)
        assert info.value.code is ErrorCode.KEY_FILE


# --- JWK --------------------------------------------------------------------


def test_issuer_jwk_matches_rfc8037_example() -> None:
    key = Ed25519PrivateKey(bytes.fromhex(RFC8032["seed"]))
    signing = IssuerSigningKey("NHSA", b"\x01\x02\x03\x04", key)
    exported = jwk.issuer_public_jwk(signing.public)
    # RFC 8037 Appendix A.2: the public key of RFC 8032 test 1.
    assert exported["x"] == "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
    assert exported == {"kty": "OKP", "crv": "Ed25519", "x": exported["x"], "kid": "AQIDBA",
                        "alg": "EdDSA", "use": "sig"}


def test_jwk_round_trip() -> None:
    keys = _fresh(regions=frozenset({"11"}))
    public = jwk.issuer_public_from_jwk(
        json.loads(json.dumps(jwk.issuer_public_jwk(keys.signing_key.public))),
        "NHSA", frozenset({"11"}), state=KeyState.PRIMARY)
    assert public == keys.signing_key.public
    group = jwk.group_key_from_jwk(json.loads(json.dumps(jwk.group_key_jwk(keys.group_key))),
                                   "national")
    assert group == keys.group_key
    assert group.secret == keys.group_key.secret
    assert "=" not in "".join(jwk.group_key_jwk(keys.group_key).values())


@pytest.mark.parametrize("hex_key", SMALL_ORDER)
def test_jwk_import_refuses_small_order_keys(hex_key: str) -> None:
    weak = {"kty": "OKP", "crv": "Ed25519", "x": jwk.b64url(bytes.fromhex(hex_key)), "kid": "AQ"}
    with pytest.raises(KeyMaterialError) as info:
        jwk.issuer_public_from_jwk(weak, "NHSA")
    assert info.value.code is ErrorCode.WEAK_KEY


GOOD_X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"


@pytest.mark.parametrize(
    "bad",
    [
        {"kty": "EC", "crv": "P-256", "x": GOOD_X, "kid": "AQ"},
        {"kty": "OKP", "crv": "X25519", "x": GOOD_X, "kid": "AQ"},
        {"kty": "OKP", "crv": "Ed25519", "x": GOOD_X, "kid": "AQ", "d": GOOD_X},
        {"kty": "OKP", "crv": "Ed25519", "x": 5, "kid": "AQ"},
        {"kty": "OKP", "crv": "Ed25519", "x": "✗", "kid": "AQ"},
        {"kty": "OKP", "crv": "Ed25519", "kid": "AQ"},
        {"kty": "OKP", "crv": "Ed25519", "x": GOOD_X},
        ["kty", "OKP"],
    ],
)
def test_issuer_jwk_refusals(bad: object) -> None:
    with pytest.raises(EcertError):
        jwk.issuer_public_from_jwk(bad, "NHSA")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "bad",
    [
        {"kty": "OKP", "k": "AAAAAAAAAAAAAAAAAAAAAA", "kid": "AQ"},
        {"kty": "oct", "k": "AAAA", "kid": "AQ"},
        {"kty": "oct", "k": jwk.b64url(bytes(32)), "kid": "AQ"},
        {"kty": "oct", "kid": "AQ"},
        {"kty": "oct", "k": "AAAAAAAAAAAAAAAAAAAAAA"},
        {"kty": "oct", "k": "AAAAAAAAAAAAAAAAAAAAAA", "kid": ""},
    ],
)
def test_group_jwk_refusals(bad: dict[str, object]) -> None:
    with pytest.raises(EcertError):
        jwk.group_key_from_jwk(bad, "national")


# --- material and trust store -------------------------------------------------


def _public(seed: bytes, kid: bytes = b"kid1", **kw: object) -> IssuerVerifyKey:
    key = Ed25519PrivateKey(deterministic_random(seed)(32))
    return IssuerVerifyKey("NHSA", kid, key.public_key, **kw)  # type: ignore[arg-type]


def test_trust_store_refuses_duplicate_kids() -> None:
    with pytest.raises(InvalidArgument):
        TrustStore([_public(b"a"), _public(b"b")])
    with pytest.raises(InvalidArgument):
        TrustStore([_public(b"a"), _public(b"a")])
    group = GroupKey("national", b"kid1", bytes(16))
    with pytest.raises(InvalidArgument):
        TrustStore([], [group, GroupKey("regional", b"kid1", bytes(range(16)))])
    # The same kid may name one issuer key and one group key.
    store = TrustStore([_public(b"a")], [group])
    assert len(store) == 2
    assert store.issuer_key(b"kid1") == _public(b"a")
    assert store.group_key(b"kid1") is group
    assert store.issuer_key(b"kid2") is None
    assert store.group_key(b"kid2") is None
    assert store.issuer_keys == (_public(b"a"),)
    assert store.group_keys == (group,)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"kid": b""},
        {"kid": bytes(17)},
        {"kid": "kid1"},
        {"regions": frozenset()},
        {"regions": {"11"}},
        {"regions": frozenset({"1"})},
        {"regions": frozenset({"00"})},
        {"regions": frozenset({"110000"})},
        {"regions": frozenset({11})},
        {"state": "revoked"},
    ],
)
def test_issuer_key_binding_validated(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidArgument):
        _public(b"a", **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["", "a" * 33, "NHSA 1", "国家", None, 1])
def test_names_validated(name: object) -> None:
    key = Ed25519PrivateKey(bytes(32)).public_key
    with pytest.raises(InvalidArgument):
        IssuerVerifyKey(name, b"kid", key)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        GroupKey(name, b"kid", bytes(16))  # type: ignore[arg-type]


def test_issuer_key_regions() -> None:
    national = _public(b"a")
    beijing = _public(b"a", regions=frozenset({"11"}))
    assert national.allows(Region("610100"))
    assert beijing.allows(Region("110105"))
    assert not beijing.allows(Region("610100"))
    assert validate_regions(None) is None


def test_validity_window() -> None:
    window = Validity(100, 200)
    assert not window.contains(99)
    assert window.contains(100)
    assert window.contains(200)
    assert not window.contains(201)
    assert Validity().contains(0)
    assert Validity(not_before=5).contains(10**12)
    for bad in ({"not_before": 2, "not_after": 1}, {"not_before": -1}, {"not_after": True},
                {"not_before": 1.5}):
        with pytest.raises(InvalidArgument):
            Validity(**bad)


def test_key_reprs_hide_secrets() -> None:
    keys = _fresh()
    seed_hex = keys.signing_key.private_key.seed.hex()
    secret_hex = keys.group_key.secret.hex()
    for text in (repr(keys.signing_key), repr(keys.group_key), repr(keys), str(keys)):
        assert seed_hex not in text
        assert secret_hex not in text
        assert repr(keys.group_key.secret) not in text


def test_group_key_state_and_signing_public_half() -> None:
    keys = _fresh()
    assert keys.group_key.state is KeyState.PRIMARY
    assert keys.signing_key.public.state is KeyState.PRIMARY
    assert isinstance(keys.signing_key.public.public_key, Ed25519PublicKey)
    with pytest.raises(InvalidArgument):
        GroupKey("national", b"kid", bytes(16), state="primary")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        GroupKey("national", b"kid", bytes(15))


@pytest.mark.parametrize("text", ["AQID", "AQ", "AQI", "", "_-8"])
def test_b64url_accepts_the_unpadded_form(text: str) -> None:
    assert jwk.b64url(jwk.b64url_decode(text)) == text


@pytest.mark.parametrize(
    "text", ["A!QID", "AQ ID", "AQID\n", "AQ==", "AQI=", "AQ+D", "AQ/D", "AR", "AQJ", "A",
             "ÄQID", None, 5, b"AQID"],
)
def test_b64url_refuses_other_forms(text: object) -> None:
    """Regression: junk characters, padding, '+', '/' and stray bits were accepted."""
    with pytest.raises(KeyMaterialError) as info:
        jwk.b64url_decode(text)
    assert info.value.code is ErrorCode.KEY_FILE


def test_deeply_nested_manifest_is_a_key_file_error(tmp_path: Path) -> None:
    """json.loads raises RecursionError on deep nesting; the loader reports KEY_FILE."""
    from pathlib import Path as _Path

    from ecert_token.errors import EcertError, ErrorCode
    from ecert_token.keys import keydir as _keydir

    d = _Path(tmp_path)
    (d / "manifest.json").write_text("[" * 200_000 + "]" * 200_000)
    try:
        _keydir.load(d)
    except EcertError as err:
        assert err.code is ErrorCode.KEY_FILE
    else:
        raise AssertionError("a nested manifest was accepted")


def test_concurrent_writers_of_one_file_never_collide(tmp_path: Path) -> None:
    """write_file's temporary name is unique per call, so threads saving one file
    each leave a complete file and no temporary behind."""
    import threading

    from ecert_token.keys.files import write_file

    target = tmp_path / "key.bin"
    errors: list[BaseException] = []

    def save(i: int) -> None:
        try:
            for _ in range(20):
                write_file(target, bytes([i]) * 4096, 0o600)
        except BaseException as exc:  # collected: the test must see any failure
            errors.append(exc)

    threads = [threading.Thread(target=save, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    data = target.read_bytes()
    assert len(data) == 4096 and len(set(data)) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["key.bin"]
