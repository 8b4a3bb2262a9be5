"""SM2 private keys as PKCS#8 (keys/pkcs8.py): the system OpenSSL 3 reads what we write and we
read what it writes (plain, PBES2 with PBKDF2 or scrypt, AES or SM4), a wrong passphrase is
``wrong_passphrase``, and damaged files are ``key_file`` or ``wrong_passphrase``, never another
exception.  OpenSSL is a real process here; CI installs it (.ci/run) and these tests fail
without it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecert_token.crypto.ed25519 import Ed25519PrivateKey
from ecert_token.crypto.sm2 import SM2PrivateKey
from ecert_token.errors import EcertError, ErrorCode, KeyMaterialError
from ecert_token.keys import pkcs8
from ecert_token.keys.files import ed25519_to_pem, private_from_pem, private_to_pem
from ecert_token_tools.vectors import seeded_random

from ..gm import require_gm

require_gm(("gmalglib",))

PASS_ENV = "ECERT_TEST_PASSPHRASE"
FAST = 1000  # PBKDF2 iterations for the many-file tests (the default is 600,000)


def openssl(*args: str, passphrase: str | None = None, data: bytes | None = None) -> bytes:
    env = {**os.environ, PASS_ENV: passphrase} if passphrase is not None else None
    proc = subprocess.run(["openssl", *args], input=data, capture_output=True, env=env,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return proc.stdout


def _key(seed: bytes = b"pkcs8") -> SM2PrivateKey:
    return SM2PrivateKey.generate(seeded_random(seed))


def _public_from_openssl(path: Path, passphrase: str | None = None) -> bytes:
    """The uncompressed public point OpenSSL derives from the private key file."""
    args = ["pkey", "-in", str(path), "-pubout", "-outform", "DER"]
    if passphrase is not None:
        args += ["-passin", f"env:{PASS_ENV}"]
    return openssl(*args, passphrase=passphrase)[-64:]


def test_openssl_is_openssl_3_with_sm2() -> None:
    assert openssl("version").startswith(b"OpenSSL 3")


@pytest.mark.parametrize("passphrase", [None, "correct horse 正确"])
def test_openssl_reads_what_we_write(tmp_path: Path, passphrase: str | None) -> None:
    key = _key()
    path = tmp_path / "k.pem"
    path.write_bytes(pkcs8.sm2_to_pem(key, passphrase.encode() if passphrase else None))
    args = ["pkey", "-in", str(path), "-noout", "-text"]
    if passphrase is not None:
        args += ["-passin", f"env:{PASS_ENV}"]
    text = openssl(*args, passphrase=passphrase).decode()
    assert "Private-Key: (256 bit)" in text and "SM2" in text
    priv = "".join(text.split("priv:")[1].split("pub:")[0].split()).replace(":", "")
    assert int(priv, 16) == int.from_bytes(key.secret, "big")
    assert _public_from_openssl(path, passphrase) == key.public_key.raw
    if passphrase is not None:  # the parameters we promise: PBES2, PBKDF2-HMAC-SHA256, AES-256
        dump = openssl("asn1parse", "-in", str(path)).decode()
        for name in ("PBES2", "PBKDF2", "hmacWithSHA256", "aes-256-cbc"):
            assert name in dump


@pytest.mark.parametrize("how", [
    ["-nocrypt"],
    ["-v2", "aes-256-cbc"],
    ["-v2", "aes-128-cbc", "-v2prf", "hmacWithSHA512"],
    ["-v2", "sm4-cbc"],
    ["-scrypt"],
], ids=["plain", "pbkdf2-aes256", "pbkdf2-sha512-aes128", "pbkdf2-sm4", "scrypt-aes256"])
def test_we_read_what_openssl_writes(tmp_path: Path, how: list[str]) -> None:
    made = tmp_path / "openssl.pem"
    openssl("genpkey", "-algorithm", "SM2", "-out", str(made))
    converted = tmp_path / "pkcs8.pem"
    plain = how == ["-nocrypt"]
    args = ["pkcs8", "-topk8", "-in", str(made), "-out", str(converted), *how]
    if not plain:
        args += ["-passout", f"env:{PASS_ENV}"]
    openssl(*args, passphrase=None if plain else "pw from openssl")
    key = pkcs8.sm2_from_pem(converted.read_bytes(), None if plain else b"pw from openssl")
    assert key.public_key.raw == _public_from_openssl(made)
    assert isinstance(private_from_pem(converted.read_bytes(),
                                       None if plain else b"pw from openssl"), SM2PrivateKey)
    if not plain:
        with pytest.raises(KeyMaterialError) as info:
            pkcs8.sm2_from_pem(converted.read_bytes(), b"pw from openssL")
        assert info.value.code is ErrorCode.WRONG_PASSPHRASE
    # and OpenSSL's own genpkey output (PKCS#8 already) too
    assert pkcs8.sm2_from_pem(made.read_bytes()).public_key.raw == key.public_key.raw


def test_passphrases_and_their_errors() -> None:
    key = _key()
    pem = pkcs8.sm2_to_pem(key, b"right", iterations=FAST)
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----\n")
    assert pkcs8.sm2_from_pem(pem, b"right").secret == key.secret
    cases = [(pem, b"wrong", ErrorCode.WRONG_PASSPHRASE), (pem, None, ErrorCode.KEY_FILE),
             (pkcs8.sm2_to_pem(key), b"right", ErrorCode.KEY_FILE)]
    for data, passphrase, code in cases:
        with pytest.raises(KeyMaterialError) as info:
            pkcs8.sm2_from_pem(data, passphrase)
        assert info.value.code is code
        assert b"right" not in str(info.value).encode() and key.secret.hex() not in str(info.value)
    # Many wrong passphrases: every one is wrong_passphrase, though about 1 in 256 gets
    # through the CBC padding check (then the content does not parse).
    for i in range(300):
        with pytest.raises(KeyMaterialError) as info:
            pkcs8.sm2_from_pem(pem, b"guess %d" % i)
        assert info.value.code is ErrorCode.WRONG_PASSPHRASE


def test_both_suites_through_one_loader() -> None:
    ed = Ed25519PrivateKey(bytes(range(32)))
    for private in (ed, _key()):
        for passphrase in (None, b"pw"):
            loaded = private_from_pem(private_to_pem(private, passphrase), passphrase)
            assert type(loaded) is type(private)
            assert loaded.public_key.raw == private.public_key.raw
    # cryptography's own encrypted Ed25519 PKCS#8 is opened by the same PBES2 reader
    assert private_from_pem(ed25519_to_pem(ed, b"pw"), b"pw").public_key.raw == ed.public_key.raw
    with pytest.raises(KeyMaterialError) as info:
        private_from_pem(ed25519_to_pem(ed, b"pw"), b"pW")
    assert info.value.code is ErrorCode.WRONG_PASSPHRASE


def test_der_encoder_is_canonical() -> None:
    assert pkcs8.der_oid("1.2.156.10197.1.301") == bytes.fromhex("06082a811ccf5501822d")
    assert pkcs8.der_oid(pkcs8.OID_PBES2) == bytes.fromhex("06092a864886f70d01050d")
    assert pkcs8.der_int(0) == b"\x02\x01\x00" and pkcs8.der_int(128) == b"\x02\x02\x00\x80"
    assert pkcs8.der_int(600_000) == bytes.fromhex("02030927c0")
    assert pkcs8.tlv(0x04, bytes(200))[:3] == b"\x04\x81\xc8"
    assert pkcs8.tlv(0x04, bytes(300))[:4] == b"\x04\x82\x01\x2c"
    key = _key()
    der = pkcs8.private_key_info(key)
    assert pkcs8.parse_private_key_info(der).secret == key.secret
    assert pkcs8.names_sm2(der)


def _der_of(pem: bytes) -> bytes:
    return pkcs8.unpem(pem)[1]


ENCRYPTED = pkcs8.sm2_to_pem(_key(b"fuzz"), b"pw", iterations=FAST,
                             random_bytes=seeded_random(b"fuzz salt"))
PLAIN = pkcs8.sm2_to_pem(_key(b"fuzz"))


def test_every_truncation_and_byte_flip_is_a_key_error() -> None:
    """Exhaustive over the plain key's DER and the encrypted one's header part."""
    for pem, passphrase, span in ((PLAIN, None, None), (ENCRYPTED, b"pw", 90)):
        der = _der_of(pem)
        for cut in range(len(der)):
            _only_key_errors(pkcs8.pem("ENCRYPTED PRIVATE KEY" if passphrase else "PRIVATE KEY",
                                       der[:cut]), passphrase)
        for i in range(span or len(der)):
            for bit in (0x01, 0x80):
                bad = der[:i] + bytes((der[i] ^ bit,)) + der[i + 1:]
                label = "ENCRYPTED PRIVATE KEY" if passphrase else "PRIVATE KEY"
                _only_key_errors(pkcs8.pem(label, bad), passphrase)


def _only_key_errors(pem: bytes, passphrase: bytes | None) -> None:
    """Loading either succeeds with the right key or raises a KeyMaterialError of the two
    codes; nothing else escapes."""
    try:
        key = pkcs8.sm2_from_pem(pem, passphrase)
    except KeyMaterialError as exc:
        assert exc.code in (ErrorCode.KEY_FILE, ErrorCode.WRONG_PASSPHRASE)
        return
    # A flip that keeps the key (e.g. in the IV's effect on the first block only when the
    # padding and DER still parse) must not give another key silently.
    assert key.public_key.raw == pkcs8.sm2_from_pem(PLAIN).public_key.raw


@settings(deadline=None, max_examples=300)
@given(st.data())
def test_random_damage_is_a_key_error(data: st.DataObject) -> None:
    encrypted = data.draw(st.booleans())
    der = bytearray(_der_of(ENCRYPTED if encrypted else PLAIN))
    for i in data.draw(st.sets(st.integers(0, len(der) - 1), min_size=1, max_size=4)):
        der[i] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        der += data.draw(st.binary(max_size=8))
    label = "ENCRYPTED PRIVATE KEY" if encrypted else "PRIVATE KEY"
    _only_key_errors(pkcs8.pem(label, bytes(der)), b"pw" if encrypted else None)


@settings(deadline=None, max_examples=200)
@given(st.binary(max_size=300), st.sampled_from(["PRIVATE KEY", "ENCRYPTED PRIVATE KEY"]))
def test_arbitrary_bytes_never_escape(blob: bytes, label: str) -> None:
    for data in (blob, pkcs8.pem(label, blob)):
        try:
            private_from_pem(data, b"pw" if label.startswith("ENC") else None)
        except EcertError as exc:
            assert isinstance(exc, KeyMaterialError)


def _pbes2(kdf: bytes) -> bytes:
    """An EncryptedPrivateKeyInfo with the given key derivation and AES-256-CBC."""
    scheme = pkcs8.seq(pkcs8.der_oid(pkcs8.OID_AES256_CBC), pkcs8.tlv(pkcs8.OCTET_STRING,
                                                                       bytes(16)))
    return pkcs8.pem("ENCRYPTED PRIVATE KEY", pkcs8.seq(
        pkcs8.seq(pkcs8.der_oid(pkcs8.OID_PBES2), pkcs8.seq(kdf, scheme)),
        pkcs8.tlv(pkcs8.OCTET_STRING, bytes(48))))


def test_costly_parameters_are_refused() -> None:
    """A file cannot make the reader spin: iteration counts and scrypt costs are bounded."""
    salt = pkcs8.tlv(pkcs8.OCTET_STRING, bytes(16))
    prf = pkcs8.seq(pkcs8.der_oid(pkcs8.OID_HMAC_SHA256), pkcs8.tlv(pkcs8.NULL, b""))
    pbkdf2 = pkcs8.seq(pkcs8.der_oid(pkcs8.OID_PBKDF2),
                       pkcs8.seq(salt, pkcs8.der_int(2**31 - 1), prf))
    scrypt = pkcs8.seq(pkcs8.der_oid(pkcs8.OID_SCRYPT),
                       pkcs8.seq(salt, pkcs8.der_int(2**24), pkcs8.der_int(8), pkcs8.der_int(1)))
    for kdf in (pbkdf2, scrypt):
        with pytest.raises(KeyMaterialError) as info:
            pkcs8.sm2_from_pem(_pbes2(kdf), b"pw")
        assert info.value.code is ErrorCode.KEY_FILE
    cheap = pkcs8.seq(pkcs8.der_oid(pkcs8.OID_PBKDF2), pkcs8.seq(salt, pkcs8.der_int(1), prf))
    with pytest.raises(KeyMaterialError) as info:  # well-formed, decrypts to noise
        pkcs8.sm2_from_pem(_pbes2(cheap), b"pw")
    assert info.value.code is ErrorCode.WRONG_PASSPHRASE
