"""pytest-benchmark view of the hot path, one stage at a time.

    python -m pytest benchmarks/bench_verify.py --benchmark-only      # measure
    python -m pytest benchmarks/bench_verify.py --benchmark-disable   # CI: only run

The ratios that matter (verify against the bare signature and the peers)
come from ``benchmarks/compare.py``, which interleaves the contenders in one
run; this file shows where the time of one verification goes.
"""

from __future__ import annotations

import itertools
from typing import Any

import nacl.bindings as sodium
import pytest

from ecert_token.codec import cose
from ecert_token.codec.base45 import b45decode, b45encode
from ecert_token.codec.cwt import claims_from_fields, decode_claims, read_claims
from ecert_token.replay.base import ReplayEntry
from ecert_token.replay.memory import MemoryReplayStore
from ecert_token.token import verify as pipeline_module
from ecert_token_tools.bench.scenario import NOW, REG, Scenario

TOKENS = 3000


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return Scenario(TOKENS, peers=False)


@pytest.fixture(scope="module")
def parts(scenario: Scenario) -> dict[str, Any]:
    text = scenario.tokens[0]
    raw = b45decode(text[4:])
    env = cose.decode_encrypt0(raw)
    iv, ct, aad = env.iv, env.ciphertext, cose.enc_structure(env.protected)
    plaintext = scenario.keys.group_key.aead.decrypt(iv, ct, aad)
    signed = cose.decode_sign1(plaintext)
    sm = signed.signature + cose.sig_structure(signed.protected, signed.payload)
    return {"text": text, "raw": raw, "iv": iv, "ct": ct, "aad": aad,
            "plaintext": plaintext, "payload": signed.payload, "sm": sm}


def test_full_verify(benchmark: Any, scenario: Scenario) -> None:
    verifier = scenario.new_verifier()
    tokens = itertools.cycle(scenario.tokens)  # wraps only past TOKENS rounds
    benchmark.pedantic(lambda: verifier.verify(next(tokens), REG, now=NOW),
                       rounds=min(TOKENS, 2000), iterations=1, warmup_rounds=0)


def test_check_without_replay_mark(benchmark: Any, scenario: Scenario, parts: dict[str, Any]
                                   ) -> None:
    verifier = scenario.new_verifier()
    benchmark(verifier.check, parts["text"], REG, now=NOW)


def test_bare_libsodium_verify(benchmark: Any, scenario: Scenario, parts: dict[str, Any]
                               ) -> None:
    benchmark(sodium.crypto_sign_open, parts["sm"], scenario.public_raw)


def test_base45_decode(benchmark: Any, parts: dict[str, Any]) -> None:
    benchmark(b45decode, parts["text"][4:])


def test_base45_encode(benchmark: Any, parts: dict[str, Any]) -> None:
    benchmark(b45encode, parts["raw"])


def test_decode_encrypt0(benchmark: Any, parts: dict[str, Any]) -> None:
    benchmark(cose.decode_encrypt0, parts["raw"])


def test_aes_ccm_decrypt(benchmark: Any, scenario: Scenario, parts: dict[str, Any]) -> None:
    benchmark(scenario.keys.group_key.aead.decrypt, parts["iv"], parts["ct"], parts["aad"])


def test_decode_sign1(benchmark: Any, parts: dict[str, Any]) -> None:
    benchmark(cose.decode_sign1, parts["plaintext"])


def test_read_claims(benchmark: Any, parts: dict[str, Any]) -> None:
    benchmark(read_claims, parts["payload"])


def test_accelerator_stages_2_to_8(benchmark: Any, scenario: Scenario,
                                   parts: dict[str, Any]) -> None:
    """The compiled accelerator (where built): Base45 to signature in one call."""
    accelerate = pipeline_module._accelerator
    routes = scenario.verifier.trust.routes()
    if accelerate is None or routes is None:
        pytest.skip("the accelerator is not built")
    benchmark(accelerate, parts["text"][4:], routes.groups, routes.issuers, NOW, 5, 300)


def test_claims_checks(benchmark: Any, parts: dict[str, Any]) -> None:
    """Stage 9: every claim value checked by the model, and the TokenClaims."""
    benchmark(claims_from_fields, read_claims(parts["payload"]))


def test_replay_mark_in_memory(benchmark: Any) -> None:
    store = MemoryReplayStore(max_lifetime=305, clock=lambda: NOW - 3600)
    ids = (i.to_bytes(8, "big") for i in itertools.count())
    benchmark(lambda: store.check_and_mark(ReplayEntry("NHSA", next(ids), NOW - 6, NOW + 65), NOW))


def test_claims_general_path(benchmark: Any, parts: dict[str, Any]) -> None:
    benchmark(decode_claims, parts["payload"])


def test_mint(benchmark: Any, scenario: Scenario) -> None:
    benchmark(scenario.issuer.mint, scenario.credential, REG, now=NOW)


def test_verify_many_batch_of_256(benchmark: Any, scenario: Scenario) -> None:
    tokens = scenario.tokens[:256]
    benchmark(lambda: scenario.new_verifier().verify_many(tokens, REG, now=NOW))
