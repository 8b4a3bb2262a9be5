"""SM4 AEADs (crypto/sm4.py): published examples, CCM held to AES-CCM, tamper and truncation.

The CCM construction is generic over the block cipher, so the same code over
AES must give exactly cryptography's AESCCM bytes (every nonce and tag size,
empty and long AAD); over SM4 it must give RFC 8998's SM4-CCM example.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESCCM
from hypothesis import given, settings
from hypothesis import strategies as st

from ecert_token.crypto.aead import DecryptionFailed
from ecert_token.crypto.sm4 import (
    ALG_SM4_CCM_16_64_128,
    ALG_SM4_GCM,
    Ccm,
    Sm4CcmKey,
    Sm4GcmKey,
)
from ecert_token.errors import InvalidArgument

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
SM4 = json.loads((VECTORS / "sm" / "sm4.json").read_text("utf-8"))["vectors"]
AEAD = json.loads((VECTORS / "sm" / "sm4_aead_rfc8998.json").read_text("utf-8"))["vectors"]
RFC3610 = json.loads((VECTORS / "aes_ccm_rfc3610.json").read_text("utf-8"))["vectors"]
KEY = bytes(range(16))


@pytest.mark.parametrize("v", SM4, ids=lambda v: v["name"])
def test_sm4_block_examples(v: dict[str, object]) -> None:
    key = bytes.fromhex(str(v["key"]))
    encryptor = Cipher(algorithms.SM4(key), modes.ECB()).encryptor()
    block = bytes.fromhex(str(v["plaintext"]))
    for _ in range(int(str(v["iterations"]))):
        block = encryptor.update(block)
    assert block.hex() == v["ciphertext"]


@pytest.mark.parametrize("v", AEAD, ids=lambda v: v["name"])
def test_rfc8998_examples(v: dict[str, str]) -> None:
    key, nonce, aad, plaintext = (bytes.fromhex(v[f]) for f in ("key", "nonce", "aad",
                                                                   "plaintext"))
    expected = bytes.fromhex(v["ciphertext"])
    if v["mode"] == "CCM":
        ccm = Ccm(algorithms.SM4(key), len(nonce), int(v["tag_bytes"]))
        assert ccm.encrypt(nonce, plaintext, aad) == expected
        assert ccm.decrypt(nonce, expected, aad) == plaintext
    else:
        gcm = Sm4GcmKey(key)
        assert gcm.raw_decrypt(nonce, expected, aad) == plaintext
        assert gcm.encrypt(plaintext, aad, lambda n: nonce) == (nonce, expected)


@pytest.mark.parametrize("v", RFC3610, ids=lambda v: v["name"])
def test_ccm_over_aes_gives_rfc3610(v: dict[str, str]) -> None:
    nonce = bytes.fromhex(v["nonce"])
    ccm = Ccm(algorithms.AES(bytes.fromhex(v["key"])), len(nonce), 8)
    out = ccm.encrypt(nonce, bytes.fromhex(v["plaintext"]), bytes.fromhex(v["aad"]))
    assert out.hex() == v["ciphertext"]


@settings(max_examples=150, deadline=None)
@given(
    nonce_bytes=st.integers(7, 13), tag_bytes=st.sampled_from([4, 6, 8, 10, 12, 14, 16]),
    plaintext=st.binary(max_size=100),
    aad=st.one_of(st.binary(max_size=70), st.binary(min_size=0xFF00, max_size=0xFF01)),
    data=st.data(),
)
def test_ccm_over_aes_matches_cryptography(
    nonce_bytes: int, tag_bytes: int, plaintext: bytes, aad: bytes, data: st.DataObject
) -> None:
    key = data.draw(st.binary(min_size=16, max_size=16))
    nonce = data.draw(st.binary(min_size=nonce_bytes, max_size=nonce_bytes))
    ours = Ccm(algorithms.AES(key), nonce_bytes, tag_bytes)
    theirs = AESCCM(key, tag_length=tag_bytes)
    sealed = theirs.encrypt(nonce, plaintext, aad)
    assert ours.encrypt(nonce, plaintext, aad) == sealed
    assert ours.decrypt(nonce, sealed, aad) == plaintext


@pytest.mark.parametrize("cls", [Sm4CcmKey, Sm4GcmKey])
def test_round_trip_tamper_and_truncation(cls: type[Sm4CcmKey] | type[Sm4GcmKey]) -> None:
    aead = cls(KEY)
    plaintext, aad = b"signed COSE_Sign1 bytes" * 5, b"Enc_structure"
    nonce, sealed = aead.encrypt(plaintext, aad)
    assert len(nonce) == aead.nonce_bytes
    assert len(sealed) == len(plaintext) + aead.tag_bytes
    assert aead.decrypt(nonce, sealed, aad) == plaintext
    assert aead.open(nonce, sealed, aad) == plaintext
    for i in range(len(sealed)):
        damaged = bytearray(sealed)
        damaged[i] ^= 0x80
        assert aead.open(nonce, bytes(damaged), aad) is None
        with pytest.raises(InvalidTag):
            aead.raw_decrypt(nonce, bytes(damaged), aad)
    for cut in range(len(sealed)):
        assert aead.open(nonce, sealed[:cut], aad) is None
    for i in range(len(nonce)):
        other = bytearray(nonce)
        other[i] ^= 1
        assert aead.open(bytes(other), sealed, aad) is None
    assert aead.open(nonce, sealed, aad + b"x") is None
    assert aead.open(nonce[:-1], sealed, aad) is None
    assert cls(bytes(16)).open(nonce, sealed, aad) is None
    with pytest.raises(DecryptionFailed):
        aead.decrypt(nonce, sealed[:-1], aad)


def test_parameters_and_argument_checks() -> None:
    assert (Sm4CcmKey.alg, Sm4CcmKey.nonce_bytes, Sm4CcmKey.tag_bytes) == (
        ALG_SM4_CCM_16_64_128, 13, 8)
    assert (Sm4GcmKey.alg, Sm4GcmKey.nonce_bytes, Sm4GcmKey.tag_bytes) == (ALG_SM4_GCM, 12, 16)
    for bad in (b"", bytes(15), bytes(32), "k" * 16):
        with pytest.raises(InvalidArgument):
            Sm4CcmKey(bad)  # type: ignore[arg-type]
        with pytest.raises(InvalidArgument):
            Sm4GcmKey(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        Sm4CcmKey(KEY).encrypt(b"x", b"", lambda n: bytes(n - 1))
    for nonce_bytes, tag_bytes in ((6, 8), (14, 8), (13, 5), (13, 18), (13, 2)):
        with pytest.raises(InvalidArgument):
            Ccm(algorithms.SM4(KEY), nonce_bytes, tag_bytes)
    ccm = Ccm(algorithms.SM4(KEY), 13, 8)
    with pytest.raises(InvalidArgument):
        ccm.encrypt(bytes(12), b"", b"")
    with pytest.raises(InvalidArgument):
        ccm.encrypt(bytes(13), bytes(65536), b"")  # L = 2: at most 65535 bytes
    assert ccm.decrypt(bytes(13), ccm.encrypt(bytes(13), bytes(65535), b""), b"") == bytes(65535)


def test_ccm_refuses_a_message_too_long_for_its_length_field() -> None:
    """Data longer than the nonce's length field can count (65,535 bytes for a
    13-byte nonce) is a fault like any other: InvalidTag, as the compiled CcmKey
    answers, not an OverflowError (which it was)."""
    ccm = Ccm(algorithms.SM4(bytes(16)), 13, 8)
    with pytest.raises(InvalidTag):
        ccm.decrypt(bytes(13), bytes(65536 + 8), b"")
    with pytest.raises(InvalidTag):
        ccm.decrypt(bytes(13), bytes(65535 + 8), b"")  # the longest: a wrong tag
