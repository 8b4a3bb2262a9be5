"""The compiled batch signature check: libsodium's answers, with the GIL released.

``open_many`` must answer exactly what ``sign_open`` answers one at a time,
and ``verify_many`` must give the same results whether it checks signatures
by groups (compiled) or one by one (pure Python).  Where the extension is not
built these tests skip, unless ``ECERT_REQUIRE_SPEEDUPS=1`` (set by CI).
"""

from __future__ import annotations

import random
import threading

import pytest

from ecert_token import (
    BusinessType,
    Credential,
    Issuer,
    TokenRejected,
    VerifiedToken,
    Verifier,
    VerifyPolicy,
)
from ecert_token.codec import cose
from ecert_token.crypto import ed25519
from ecert_token.crypto.ed25519 import NULL, Ed25519PrivateKey, sign_open
from ecert_token.keys.keydir import KeyDir
from ecert_token.token import batch

from ..conftest import NOW, running_store
from .compiled import skip_unless_built
from .conftest import Sealer, canonical, claims_map

open_many = ed25519.open_many
pytestmark = skip_unless_built(open_many, "crypto._ed25519_batch")

REG = BusinessType.HOSPITAL_REGISTRATION


def one_by_one(signed: list[bytes], keys: list[bytes]) -> bytes:
    return bytes(int(sign_open(NULL, NULL, s, len(s), k) == 0) for s, k in zip(signed, keys,
                                                                            strict=True))


def signed_messages(count: int, seed: int) -> tuple[list[bytes], list[bytes]]:
    rnd = random.Random(seed)
    signers = [Ed25519PrivateKey.generate(rnd.randbytes(32)) for _ in range(3)]
    signed, keys = [], []
    for i in range(count):
        key = signers[i % 3]
        message = rnd.randbytes(rnd.randrange(0, 300))
        item = key.sign(message) + message
        kind = i % 6
        if kind == 1 and item:  # one flipped bit anywhere
            at = rnd.randrange(len(item))
            item = item[:at] + bytes([item[at] ^ (1 << rnd.randrange(8))]) + item[at + 1:]
        elif kind == 2:  # truncated, possibly below 64 bytes
            item = item[:rnd.randrange(len(item) + 1)]
        signed.append(item)
        keys.append(signers[(i + (kind == 3)) % 3].public_key.raw)  # kind 3: another key
    return signed, keys


@pytest.mark.parametrize("seed", range(4))
def test_same_answers_as_one_at_a_time(seed: int) -> None:
    assert open_many is not None
    signed, keys = signed_messages(300, seed)
    answer = open_many(signed, keys)
    assert answer == one_by_one(signed, keys)
    assert 0 < sum(answer) < len(answer)


def test_edge_inputs() -> None:
    assert open_many is not None
    signed, keys = signed_messages(6, 9)
    assert open_many([], []) == b""
    assert open_many([signed[0]], [keys[0]]) == b"\x01"
    # Not exactly bytes, or a key of the wrong size: refused without calling libsodium.
    assert open_many([bytearray(signed[0]), signed[0], signed[0]],
                     [keys[0], keys[0][:31], keys[0] + b"\x00"]) == b"\x00\x00\x00"
    with pytest.raises(ValueError, match="differ in length"):
        open_many(signed, keys[:-1])
    with pytest.raises(TypeError):
        open_many(tuple(signed), keys)  # type: ignore[arg-type]


def test_the_gil_is_released_during_the_checks() -> None:
    """Another thread runs Python while one thread is inside open_many."""
    assert open_many is not None
    signed, keys = signed_messages(6, 3)
    signed, keys = signed * 400, keys * 400  # 2,400 checks: tens of milliseconds
    inside = threading.Event()
    done = threading.Event()

    def worker() -> None:
        inside.set()
        open_many(signed, keys)
        done.set()

    thread = threading.Thread(target=worker)
    thread.start()
    inside.wait()
    spins = 0
    while not done.is_set():
        spins += 1
    thread.join()
    # With the GIL held for the whole call this thread could not run until the end.
    assert spins > 1000


def corpus(keys: KeyDir, issuer: Issuer, credential: Credential, sealer: Sealer,
           n: int) -> list[str | bytes]:
    expired = Issuer(keys.signing_key, keys.group_key, clock=lambda: NOW - 600)
    prot = cose.encode_protected(-8, keys.signing_key.kid)
    payload = canonical(claims_map())
    bad_signature = sealer.token_from_plaintext(cose.encode_sign1(prot, payload, bytes(64)))
    tokens: list[str | bytes] = []
    for i in range(n):
        kind = i % 6
        if kind == 1:
            tokens.append(bad_signature)
        elif kind == 2:
            tokens.append(expired.mint(credential, REG))
        elif kind == 3:
            tokens.append(issuer.mint(credential, BusinessType.HOSPITAL_SETTLEMENT))
        elif kind == 4:
            tokens.append("EC1:" + issuer.mint(credential, REG)[4:-3] + "000")
        else:
            tokens.append(issuer.mint(credential, REG))
    tokens.append(tokens[0])  # repeated in the batch
    return tokens


def outcome(result: VerifiedToken | TokenRejected) -> object:
    return result if isinstance(result, VerifiedToken) else (result.code, str(result))


@pytest.mark.parametrize("size", [1, batch.GROUP - 1, batch.GROUP, batch.GROUP + 1, 200])
@pytest.mark.parametrize("workers", [1, 2])
def test_verify_many_grouped_and_one_by_one_agree(  # noqa: PLR0917 - fixtures
    keys: KeyDir, issuer: Issuer, credential: Credential, sealer: Sealer, size: int,
    workers: int, monkeypatch: pytest.MonkeyPatch,
) -> None:
    tokens = corpus(keys, issuer, credential, sealer, size)

    def run() -> list[object]:
        verifier = Verifier(keys.trust_store(), VerifyPolicy(clock=lambda: NOW),
                            running_store())
        return [outcome(r) for r in verifier.verify_many(tokens, REG, workers=workers)]

    grouped = run()
    monkeypatch.setattr(batch, "open_many", None)
    assert run() == grouped
    codes = {o[0].value for o in grouped if isinstance(o, tuple)}  # type: ignore[index]
    if size >= 6:
        assert codes >= {"bad_signature", "expired", "wrong_business_type",
                         "decryption_failed", "replayed"}
