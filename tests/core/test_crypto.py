"""Ed25519 (libsodium) and AES-CCM-16-64-128, against published vectors and weak inputs."""

from __future__ import annotations

import pytest

from ecert_token import ErrorCode, InvalidArgument, KeyMaterialError
from ecert_token.crypto.aead import KEY_BYTES, NONCE_BYTES, TAG_BYTES, AesCcmKey, DecryptionFailed
from ecert_token.crypto.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
    thumbprint_kid,
    validate_public_key,
)
from tests.core import edwards
from tests.core.vectors import load

ED25519 = load("ed25519_rfc8032.json")["vectors"]
SMALL = load("ed25519_small_order.json")
CCM = load("aes_ccm_rfc3610.json")["vectors"]
L = 2**252 + 27742317777372353535851937790883648493
"""Order of the prime subgroup (RFC 8032 §5.1)."""


# --- Ed25519 --------------------------------------------------------------


@pytest.mark.parametrize("vector", ED25519, ids=[v["name"] for v in ED25519])
def test_rfc8032_vectors(vector: dict[str, str]) -> None:
    key = Ed25519PrivateKey(bytes.fromhex(vector["seed"]))
    message = bytes.fromhex(vector["message"])
    signature = bytes.fromhex(vector["signature"])
    assert key.public_key.raw.hex() == vector["public"]
    assert key.sign(message) == signature
    assert key.seed.hex() == vector["seed"]
    public = Ed25519PublicKey(bytes.fromhex(vector["public"]))
    assert public.verify(signature, message)
    assert not public.verify(signature, message + b"\x00")


def _key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey(bytes.fromhex(ED25519[0]["seed"]))


@pytest.mark.parametrize("length", [0, 1, 32, 63, 65, 128])
def test_wrong_length_signature_is_false(length: int) -> None:
    key = _key()
    signature = key.sign(b"m")
    candidate = (signature * 3)[:length]
    assert not key.public_key.verify(candidate, b"m")


def test_every_single_bit_flip_of_a_signature_fails() -> None:
    key = _key()
    signature = key.sign(b"message")
    for bit in range(len(signature) * 8):
        flipped = bytearray(signature)
        flipped[bit // 8] ^= 1 << (bit % 8)
        assert not key.public_key.verify(bytes(flipped), b"message"), bit


def test_non_canonical_s_is_refused() -> None:
    """S + L verifies the same equation; libsodium refuses S >= L (malleability)."""
    key = _key()
    signature = key.sign(b"m")
    s = int.from_bytes(signature[32:], "little")
    malleated = signature[:32] + (s + L).to_bytes(32, "little")
    assert key.public_key.verify(signature, b"m")
    assert not key.public_key.verify(malleated, b"m")


def test_small_order_vectors_are_the_torsion_subgroup() -> None:
    """Recompute the eight small-order points instead of trusting the file."""
    points = [edwards.decode(bytes.fromhex(v["hex"])) for v in SMALL["small_order"]]
    assert len(set(points)) == 8
    for point, vector in zip(points, SMALL["small_order"], strict=True):
        assert edwards.order(point) == vector["order"]
        assert edwards.encode(point).hex() == vector["hex"]
    assert sorted(v["order"] for v in SMALL["small_order"]) == [1, 2, 4, 4, 8, 8, 8, 8]
    # Closed under addition: it is the whole group of order 8.
    assert {edwards.add(a, b) for a in points for b in points} == set(points)
    # A real public key is not of small order.
    assert edwards.order(edwards.decode(_key().public_key.raw)) is None


WEAK = [pytest.param(v["hex"], id=f"order {v['order']} {v['hex'][:8]}")
        for v in SMALL["small_order"]]
WEAK += [pytest.param(v["hex"], id=v["why"]) for v in SMALL["non_canonical"]]


@pytest.mark.parametrize("hex_key", WEAK)
def test_weak_public_keys_are_refused_at_load(hex_key: str) -> None:
    raw = bytes.fromhex(hex_key)
    for load_key in (Ed25519PublicKey, validate_public_key):
        with pytest.raises(KeyMaterialError) as info:
            load_key(raw)
        assert info.value.code is ErrorCode.WEAK_KEY


@pytest.mark.parametrize("raw", [b"", bytes(31), bytes(33), "00" * 32, None, bytearray(32)])
def test_malformed_public_keys_are_refused(raw: object) -> None:
    with pytest.raises(KeyMaterialError) as info:
        Ed25519PublicKey(raw)  # type: ignore[arg-type]
    assert info.value.code is ErrorCode.WEAK_KEY


def test_point_off_the_curve_is_refused() -> None:
    # y = 2 has no x on edwards25519 (checked with the arithmetic helper).
    raw = (2).to_bytes(32, "little")
    with pytest.raises(ValueError, match="not on the curve"):
        edwards.decode(raw)
    with pytest.raises(KeyMaterialError):
        Ed25519PublicKey(raw)


@pytest.mark.parametrize("seed", [b"", bytes(31), bytes(33), "00" * 32, None])
def test_seed_must_be_32_bytes(seed: object) -> None:
    with pytest.raises(InvalidArgument):
        Ed25519PrivateKey(seed)  # type: ignore[arg-type]


def test_key_objects_compare_and_do_not_print_secrets() -> None:
    key = _key()
    again = Ed25519PrivateKey.generate(key.seed)
    assert again.public_key == key.public_key
    assert hash(again.public_key) == hash(key.public_key)
    assert Ed25519PrivateKey.generate().public_key != key.public_key
    assert key.seed.hex() not in repr(key)
    assert thumbprint_kid(key.public_key.raw).hex() in repr(key)
    assert key.public_key.raw.hex() not in repr(key.public_key)


def test_thumbprint_kid() -> None:
    raw = _key().public_key.raw
    assert len(thumbprint_kid(raw)) == 4
    assert len(thumbprint_kid(raw, 8)) == 8
    assert thumbprint_kid(raw, 8)[:4] == thumbprint_kid(raw)
    assert thumbprint_kid(raw) != thumbprint_kid(bytes.fromhex(ED25519[1]["public"]))


# --- AES-CCM-16-64-128 ----------------------------------------------------


@pytest.mark.parametrize("vector", CCM, ids=[v["name"] for v in CCM])
def test_rfc3610_vectors(vector: dict[str, str]) -> None:
    key = AesCcmKey(bytes.fromhex(vector["key"]))
    nonce = bytes.fromhex(vector["nonce"])
    aad = bytes.fromhex(vector["aad"])
    plaintext = bytes.fromhex(vector["plaintext"])
    out_nonce, ciphertext = key.encrypt(plaintext, aad, lambda n: nonce)
    assert out_nonce == nonce
    assert ciphertext.hex() == vector["ciphertext"]
    assert len(ciphertext) == len(plaintext) + TAG_BYTES
    assert key.decrypt(nonce, ciphertext, aad) == plaintext


KEY = AesCcmKey(bytes(range(KEY_BYTES)))
NONCE = bytes(range(NONCE_BYTES))
SEALED = KEY.encrypt(b"plaintext", b"aad", lambda n: NONCE)[1]


@pytest.mark.parametrize("length", [0, 7, 8, 11, 12, 14, 15, 16])
def test_decrypt_refuses_wrong_nonce_lengths(length: int) -> None:
    """AESCCM itself takes 7 to 13 byte nonces; COSE fixes 13."""
    with pytest.raises(DecryptionFailed):
        KEY.decrypt(bytes(length), SEALED, b"aad")


@pytest.mark.parametrize("length", [12, 14])
def test_encrypt_refuses_wrong_random_lengths(length: int) -> None:
    with pytest.raises(InvalidArgument):
        KEY.encrypt(b"x", b"", lambda n: bytes(length))


@pytest.mark.parametrize("secret", [b"", bytes(15), bytes(17), bytes(32), "k" * 16, None])
def test_key_length(secret: object) -> None:
    with pytest.raises(InvalidArgument):
        AesCcmKey(secret)  # type: ignore[arg-type]


def test_decrypt_refuses_tampering() -> None:
    assert KEY.decrypt(NONCE, SEALED, b"aad") == b"plaintext"
    cases = [
        (NONCE, SEALED, b"aae"),
        (NONCE[:-1] + b"\x00", SEALED, b"aad"),
        (NONCE, SEALED[:-1], b"aad"),
        (NONCE, SEALED[: TAG_BYTES - 1], b"aad"),
        (NONCE, b"", b"aad"),
        (NONCE, SEALED + b"\x00", b"aad"),
    ]
    for nonce, ciphertext, aad in cases:
        with pytest.raises(DecryptionFailed):
            KEY.decrypt(nonce, ciphertext, aad)
    other = AesCcmKey(bytes(16))
    with pytest.raises(DecryptionFailed):
        other.decrypt(NONCE, SEALED, b"aad")
    for bit in range(len(SEALED) * 8):
        flipped = bytearray(SEALED)
        flipped[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(DecryptionFailed):
            KEY.decrypt(NONCE, bytes(flipped), b"aad")
