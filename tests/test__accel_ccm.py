"""The accelerator's CCM (``_accel.CcmKey``, src/ecert_token/_accel.c) held equal to Python.

The group routes of AES-CCM and SM4-CCM keys hold one of these, and the accelerator
opens every such token with the same C function (``ccm_open``) these tests call through
the object: it must give exactly crypto/sm4.py's ``Ccm`` over SM4 and cryptography's
AESCCM over AES (random inputs, hypothesis), RFC 8998's SM4-CCM example, RFC 3610's
packets and every Wycheproof AES-CCM vector (all parameter sets: the object takes the
CCM parameters the vectors use, the token path only 13-byte nonces and 8-byte tags),
and refuse every altered or truncated input as they do.

Without the extension these tests skip, or fail under ``ECERT_REQUIRE_SPEEDUPS=1`` (CI).
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.ciphers.aead import AESCCM
from hypothesis import given, settings
from hypothesis import strategies as st

from ecert_token import _speedups
from ecert_token.crypto.sm4 import Ccm

if _speedups.extension is None:
    if _speedups.required():
        pytest.fail("ECERT_REQUIRE_SPEEDUPS=1 but the extension is not built", pytrace=False)
    pytest.skip("the compiled accelerator is not built or is turned off",
                allow_module_level=True)

CcmKey = _speedups.extension.CcmKey
VECTORS = Path(__file__).resolve().parent / "vectors"
AEAD = json.loads((VECTORS / "sm" / "sm4_aead_rfc8998.json").read_text("utf-8"))["vectors"]
RFC3610 = json.loads((VECTORS / "aes_ccm_rfc3610.json").read_text("utf-8"))["vectors"]
WYCHEPROOF = json.loads((VECTORS / "wycheproof" / "aes_ccm_test.json").read_text("utf-8"))
CASES = [(group, test) for group in WYCHEPROOF["testGroups"] for test in group["tests"]]
TAGS = [4, 6, 8, 10, 12, 14, 16]


def _python(cipher: str, key: bytes, nonce_bytes: int, tag_bytes: int) -> Ccm:
    algorithm = algorithms.SM4(key) if cipher == "SM4" else algorithms.AES(key)
    return Ccm(algorithm, nonce_bytes, tag_bytes)


@settings(max_examples=300, deadline=None)
@given(
    cipher=st.sampled_from(["SM4", "AES"]),
    nonce_bytes=st.integers(7, 13), tag_bytes=st.sampled_from(TAGS),
    plaintext=st.one_of(st.binary(max_size=120), st.binary(min_size=1000, max_size=1100)),
    aad=st.one_of(st.binary(max_size=70), st.binary(min_size=0xFF00, max_size=0xFF01)),
    data=st.data(),
)
def test_equal_to_the_python_ccm(*, cipher: str, nonce_bytes: int, tag_bytes: int,
                                 plaintext: bytes, aad: bytes, data: st.DataObject) -> None:
    """Sealing gives Python's bytes; opening them gives the plaintext back; any one
    flipped bit, a cut or another AAD is refused by both (InvalidTag)."""
    key = data.draw(st.binary(min_size=16, max_size=16))
    nonce = data.draw(st.binary(min_size=nonce_bytes, max_size=nonce_bytes))
    ours, python = CcmKey(cipher, key, nonce_bytes, tag_bytes), _python(
        cipher, key, nonce_bytes, tag_bytes)
    sealed = python.encrypt(nonce, plaintext, aad)
    assert ours.encrypt(nonce, plaintext, aad) == sealed
    assert ours(nonce, sealed, aad) == ours.decrypt(nonce, sealed, aad) == plaintext
    bit = data.draw(st.integers(0, 8 * len(sealed) - 1))
    damaged = bytearray(sealed)
    damaged[bit // 8] ^= 1 << (bit % 8)
    cut = data.draw(st.integers(0, len(sealed) - 1))
    for args in ((nonce, bytes(damaged), aad), (nonce, sealed[:cut], aad),
                 (nonce, sealed, aad + b"\x00")):
        with pytest.raises(InvalidTag):
            python.decrypt(*args)
        with pytest.raises(InvalidTag):
            ours(*args)


@settings(max_examples=100, deadline=None)
@given(key=st.binary(min_size=16, max_size=16), nonce=st.binary(min_size=13, max_size=13),
       plaintext=st.binary(max_size=300), aad=st.binary(max_size=40))
def test_aes_equal_to_cryptography(key: bytes, nonce: bytes, plaintext: bytes,
                                   aad: bytes) -> None:
    """AES-CCM-16-64-128 as the token path uses it: cryptography's AESCCM bytes."""
    sealed = AESCCM(key, tag_length=8).encrypt(nonce, plaintext, aad)
    assert CcmKey("AES", key).encrypt(nonce, plaintext, aad) == sealed
    assert CcmKey("AES", key)(nonce, sealed, aad) == plaintext


@pytest.mark.parametrize("v", [v for v in AEAD if v["mode"] == "CCM"], ids=lambda v: v["name"])
def test_rfc8998_sm4_ccm_example(v: dict[str, str]) -> None:
    key, nonce, aad, plaintext, expected = (bytes.fromhex(v[f]) for f in (
        "key", "nonce", "aad", "plaintext", "ciphertext"))
    ccm = CcmKey("SM4", key, len(nonce), int(v["tag_bytes"]))
    assert ccm.encrypt(nonce, plaintext, aad) == expected
    assert ccm(nonce, expected, aad) == plaintext


@pytest.mark.parametrize("v", RFC3610, ids=lambda v: v["name"])
def test_rfc3610_packets(v: dict[str, str]) -> None:
    nonce = bytes.fromhex(v["nonce"])
    ccm = CcmKey("AES", bytes.fromhex(v["key"]), len(nonce), 8)
    sealed = bytes.fromhex(v["ciphertext"])
    assert ccm.encrypt(nonce, bytes.fromhex(v["plaintext"]), bytes.fromhex(v["aad"])) == sealed
    assert ccm(nonce, sealed, bytes.fromhex(v["aad"])) == bytes.fromhex(v["plaintext"])


def test_every_wycheproof_vector_is_read() -> None:
    assert WYCHEPROOF["algorithm"] == "AES-CCM" and len(CASES) == 552


@pytest.mark.parametrize(
    ("group", "test"), CASES,
    ids=[f"tc{t['tcId']}-k{g['keySize']}-n{g['ivSize']}-t{g['tagSize']}" for g, t in CASES],
)
def test_wycheproof_aes_ccm(group: dict[str, Any], test: dict[str, Any]) -> None:
    """Valid vectors open to their message and seal to their bytes; invalid ones are
    refused: a parameter set CCM does not define by the constructor (ValueError), a
    modified tag by InvalidTag."""
    key, iv, aad, msg, ct, tag = (bytes.fromhex(test[k])
                                  for k in ("key", "iv", "aad", "msg", "ct", "tag"))
    try:
        ccm = CcmKey("AES", key, len(iv), len(tag))
    except ValueError:
        assert test["result"] == "invalid"
        assert {"InvalidNonceSize", "InvalidTagSize", "InsecureTagSize"} & set(test["flags"])
        return
    if test["result"] == "valid":
        assert ccm(iv, ct + tag, aad) == msg
        assert ccm.encrypt(iv, msg, aad) == ct + tag
    else:
        with pytest.raises(InvalidTag):
            ccm(iv, ct + tag, aad)


def test_arguments_are_checked() -> None:
    for args in (("DES", bytes(16)), ("AES", bytes(15)), ("SM4", bytes(32)),
                 ("SM4", bytes(16), 6, 8), ("SM4", bytes(16), 14, 8),
                 ("SM4", bytes(16), 13, 5), ("SM4", bytes(16), 13, 18)):
        with pytest.raises(ValueError):
            CcmKey(*args)
    ccm = CcmKey("SM4", bytes(16))
    with pytest.raises(ValueError):
        ccm.encrypt(bytes(12), b"", b"")
    with pytest.raises(ValueError):
        ccm.encrypt(bytes(13), bytes(65536), b"")  # L = 2: at most 65535 bytes
    with pytest.raises(TypeError):
        ccm(bytes(13), "text", b"")
    for nonce, data in ((bytes(12), bytes(20)), (bytes(13), bytes(7))):
        with pytest.raises(InvalidTag):
            ccm(nonce, data, b"")


def test_one_key_shared_by_threads() -> None:
    """One key object (as one group route) used by several threads at once gives
    every thread the right answers: its OpenSSL contexts are only used under the GIL."""
    key = os.urandom(16)
    ours, python = CcmKey("SM4", key), _python("SM4", key, 13, 8)
    cases = []
    for i in range(200):
        nonce, plaintext, aad = os.urandom(13), os.urandom(i), os.urandom(i % 30)
        cases.append((nonce, plaintext, aad, python.encrypt(nonce, plaintext, aad)))
    failures: list[int] = []

    def work() -> None:
        for _ in range(20):
            for i, (nonce, plaintext, aad, sealed) in enumerate(cases):
                if ours(nonce, sealed, aad) != plaintext or ours.encrypt(
                        nonce, plaintext, aad) != sealed:
                    failures.append(i)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
