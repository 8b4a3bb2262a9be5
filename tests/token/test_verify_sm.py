"""SM-suite tokens through the pipeline on both implementations (the ``impl`` fixture).

The compiled accelerator takes SM-suite tokens too: SM4-CCM opened in C, SM4-GCM
through the group route's decrypt, SM2 signatures through the issuer route's
backend verify, in every mix with Ed25519 issuers and AES-CCM groups.  For every
token here, and for each of its bytes flipped, each truncation and extension, and
each byte of its signed envelope flipped and sealed again (so the change reaches the
claims reader and the SM2 check behind the AEAD), the outcome with the accelerator
on (the VerifiedToken, or the error code and message) must be exactly the Python
stages'.
"""

from __future__ import annotations

import dataclasses
import itertools

import pytest

from tests.gm import require_gm

require_gm(("gmalglib",))

from ecert_token import (  # noqa: E402
    BusinessType,
    ErrorCode,
    FixedClock,
    Issuer,
    KeyState,
    TokenRejected,
    TrustStore,
    Validity,
    Verifier,
    VerifyPolicy,
)
from ecert_token.codec import cose  # noqa: E402
from ecert_token.crypto.sm2 import SM2PrivateKey, SM2PublicKey  # noqa: E402
from ecert_token.crypto.sm4 import ALG_SM4_CCM_16_64_128, ALG_SM4_GCM  # noqa: E402
from ecert_token.keys.keydir import new_group_key, new_issuer_key  # noqa: E402
from ecert_token.keys.material import GroupKey, IssuerSigningKey  # noqa: E402
from ecert_token.keys.suite import Suite  # noqa: E402
from ecert_token.token import verify as pipeline_module  # noqa: E402
from ecert_token.token.text import from_text, to_text  # noqa: E402
from ecert_token_tools.vectors import sample_person  # noqa: E402

from ..conftest import NOW, Impl, deterministic_random  # noqa: E402
from .reference import outcome  # noqa: E402

REG = BusinessType.HOSPITAL_REGISTRATION
_R = deterministic_random(b"sm tokens on both implementations")
_SEEDS = itertools.count()

SM2 = new_issuer_key("NHSA", random_bytes=_R, suite=Suite.SM)
SM2_ID = IssuerSigningKey("NHSA-ID", b"sm-id", SM2PrivateKey(
    bytes.fromhex("cb0d831b0b655e3baed9134f21d89eb4e6f152ac94c37385065ccf57cde2a43f"),
    b"NHSA-SM issuer 01"))
SM2_REVOKED = new_issuer_key("NHSA-OLD", random_bytes=_R, suite=Suite.SM)
SM2_LATER = new_issuer_key("NHSA-NEXT", random_bytes=_R, suite=Suite.SM)
ED = new_issuer_key("BJ", random_bytes=_R)
SM4_CCM = new_group_key("national", _R, alg=ALG_SM4_CCM_16_64_128)
SM4_GCM = new_group_key("national-gcm", _R, alg=ALG_SM4_GCM)
SM4_REVOKED = new_group_key("old", _R, alg=ALG_SM4_CCM_16_64_128)
AES = new_group_key("beijing", _R)

TRUST = TrustStore(
    [SM2.public, SM2_ID.public, ED.public,
     dataclasses.replace(SM2_REVOKED.public, state=KeyState.REVOKED),
     dataclasses.replace(SM2_LATER.public, validity=Validity(NOW + 600, None))],
    [SM4_CCM, SM4_GCM, AES, dataclasses.replace(SM4_REVOKED, state=KeyState.REVOKED)],
)
PAIRS = {
    "sm2+sm4-ccm": (SM2, SM4_CCM),
    "sm2+sm4-gcm": (SM2, SM4_GCM),
    "sm2-custom-id+sm4-ccm": (SM2_ID, SM4_CCM),
    "sm2+aes-ccm": (SM2, AES),
    "ed25519+sm4-ccm": (ED, SM4_CCM),
    "ed25519+sm4-gcm": (ED, SM4_GCM),
}


def mint(pair: tuple[IssuerSigningKey, GroupKey], now: int = NOW, **kw: object) -> str:
    sk, gk = pair
    seed = next(_SEEDS).to_bytes(4, "big")
    return Issuer(sk, gk, clock=FixedClock(now), random_bytes=deterministic_random(seed)
                  ).mint(sample_person(), REG, **kw)  # type: ignore[arg-type]


TOKENS = {name: mint(pair) for name, pair in PAIRS.items()}


@pytest.fixture(scope="module")
def verifier() -> Verifier:
    return Verifier(TRUST, VerifyPolicy(clock=FixedClock(NOW)))


def both(verifier: Verifier, token: str) -> tuple[str, object]:
    """The outcome with this module's implementation, which must be the Python stages'."""
    def check(t: str) -> object:
        return verifier.check(t, REG, now=NOW)

    here = outcome(check, token)
    saved, pipeline_module._accelerator = pipeline_module._accelerator, None
    try:
        python = outcome(check, token)
    finally:
        pipeline_module._accelerator = saved
    assert here == python
    return here


def reseal(token: str, gk: GroupKey, change: object) -> str:
    """The token with its signed envelope changed by ``change`` (bytes -> bytes) and
    sealed again under the same group key and nonce, as any group member could."""
    envelope = cose.decode_encrypt0(from_text(token))
    aad = cose.enc_structure(envelope.protected)
    signed = gk.aead.decrypt(envelope.iv, envelope.ciphertext, aad)
    changed = change(signed)  # type: ignore[operator]
    sealed = gk.aead.encrypt(changed, aad, random_bytes=lambda n: envelope.iv)[1]
    return to_text(cose.encode_encrypt0(envelope.protected, envelope.iv, sealed))


@pytest.mark.parametrize("name", PAIRS)
def test_valid_tokens_are_the_accelerators(name: str, verifier: Verifier, impl: Impl) -> None:
    """Every mix verifies to the same token on both paths; with the accelerator on, it
    answers (never "not mine") for what the Issuer writes."""
    kind, verified = both(verifier, TOKENS[name])
    assert kind == "ok" and verified.issuer == PAIRS[name][0].issuer  # type: ignore[attr-defined]
    accelerator = pipeline_module._accelerator
    if impl.accelerated:
        assert accelerator is not None
        routes = TRUST.routes()
        assert routes is not None
        policy = verifier.policy
        assert accelerator(TOKENS[name][4:], routes.groups, routes.issuers, NOW, policy.leeway,
                           policy.max_lifetime) is not None


@pytest.mark.parametrize("name", PAIRS)
def test_every_byte_flipped(name: str, verifier: Verifier) -> None:
    raw = from_text(TOKENS[name])
    codes = set()
    for i in range(len(raw)):
        for mask in (0x01, 0x80):
            flipped = bytearray(raw)
            flipped[i] ^= mask
            kind, value = both(verifier, to_text(bytes(flipped)))
            assert kind == "error"
            codes.add(value[0])  # type: ignore[index]
    assert ErrorCode.DECRYPTION_FAILED in codes and ErrorCode.UNKNOWN_KEY in codes


@pytest.mark.parametrize("name", PAIRS)
def test_truncations_and_extensions(name: str, verifier: Verifier) -> None:
    token = TOKENS[name]
    raw = from_text(token)
    for cut in range(4, len(token)):
        assert both(verifier, token[:cut])[0] == "error"
    for cut in range(len(raw)):
        assert both(verifier, to_text(raw[:cut]))[0] == "error"
    for extra in (b"\x00", b"\xff" * 8):
        assert both(verifier, to_text(raw + extra))[0] == "error"


@pytest.mark.parametrize("name", ["sm2+sm4-ccm", "sm2+sm4-gcm", "sm2-custom-id+sm4-ccm"])
def test_every_byte_of_the_signed_envelope(name: str, verifier: Verifier) -> None:
    """Each byte of the SM2-signed envelope flipped and sealed again: the change passes
    the AEAD and meets the Sign1 reader, the claims reader or the SM2 check."""
    gk = PAIRS[name][1]
    codes = set()
    assert both(verifier, reseal(TOKENS[name], gk, lambda s: s))[0] == "ok"
    envelope = cose.decode_encrypt0(from_text(TOKENS[name]))
    size = len(envelope.ciphertext) - gk.aead.tag_bytes
    for i in range(size):
        def flip(s: bytes, i: int = i) -> bytes:
            return s[:i] + bytes((s[i] ^ 0x04,)) + s[i + 1:]

        kind, value = both(verifier, reseal(TOKENS[name], gk, flip))
        if kind == "error":
            codes.add(value[0])  # type: ignore[index]
    assert {ErrorCode.BAD_SIGNATURE, ErrorCode.MALFORMED} <= codes


def test_signed_envelope_changes_reach_each_rejection(verifier: Verifier) -> None:
    token = TOKENS["sm2+sm4-ccm"]

    def header(alg: int, kid: bytes) -> object:
        def change(s: bytes) -> bytes:
            signed = cose.decode_sign1(s)
            return cose.encode_sign1(cose.encode_protected(alg, kid), signed.payload,
                                     signed.signature)
        return change

    cases = {
        ErrorCode.MALFORMED: header(-8, SM2.kid),  # Ed25519's alg under an SM2 kid
        ErrorCode.UNKNOWN_KEY: header(SM2.public.alg, b"nobody"),
        ErrorCode.BAD_SIGNATURE: header(SM2.public.alg, SM2_ID.kid),  # another SM2 key
    }
    for code, change in cases.items():
        kind, value = both(verifier, reseal(token, SM4_CCM, change))
        assert kind == "error" and value[0] is code  # type: ignore[index]
    # A signature cut to fewer bytes: the layout is not the canonical one.
    kind, value = both(verifier, reseal(token, SM4_CCM, lambda s: s[:-1]))
    assert kind == "error"


@pytest.mark.parametrize(("pair", "now", "code"), [
    ((SM2_REVOKED, SM4_CCM), NOW, ErrorCode.KEY_REVOKED),
    ((SM2, SM4_REVOKED), NOW, ErrorCode.KEY_REVOKED),
    ((SM2_LATER, SM4_CCM), NOW, ErrorCode.KEY_NOT_VALID),
    ((SM2, SM4_GCM), NOW - 3600, ErrorCode.EXPIRED),
    ((SM2, SM4_CCM), NOW + 3600, ErrorCode.NOT_YET_VALID),
])
def test_key_and_time_rejections(pair: tuple[IssuerSigningKey, GroupKey], now: int,
                                 code: ErrorCode, verifier: Verifier) -> None:
    kind, value = both(verifier, mint(pair, now=now))
    assert kind == "error" and value[0] is code  # type: ignore[index]


def test_a_failing_backend_is_a_bad_signature(verifier: Verifier, impl: Impl) -> None:
    """An SM2 backend that raises ValueError or TypeError for a signature refuses it
    (as SM2PublicKey.verify answers False); any other error is not swallowed."""
    public = SM2.public.public_key
    assert isinstance(public, SM2PublicKey)
    saved = public._verify
    for error in (ValueError, TypeError):
        def broken(message: bytes, signature: bytes, error: type = error) -> bool:
            raise error("cannot read")

        public._verify = broken
        try:
            store = TrustStore([SM2.public], [SM4_CCM])
            check = Verifier(store, VerifyPolicy(clock=FixedClock(NOW)))
            kind, value = both(check, TOKENS["sm2+sm4-ccm"])
            assert kind == "error" and value[0] is ErrorCode.BAD_SIGNATURE  # type: ignore[index]
        finally:
            public._verify = saved

    def crash(message: bytes, signature: bytes) -> bool:
        raise RuntimeError("backend crashed")

    public._verify = crash
    try:
        check = Verifier(TrustStore([SM2.public], [SM4_CCM]), VerifyPolicy(clock=FixedClock(NOW)))
        with pytest.raises(RuntimeError, match="backend crashed"):
            check.check(TOKENS["sm2+sm4-ccm"], REG, now=NOW)
    finally:
        public._verify = saved
    with pytest.raises(TokenRejected):
        verifier.check(TOKENS["sm2+sm4-ccm"][:-3] + "000", REG, now=NOW)


def test_an_issuer_route_replaced_during_the_sm2_check_is_held() -> None:
    """The accelerator holds the issuer route while the SM2 check runs: that check
    calls Python (and the Ed25519 one releases the GIL), so the caller's routes may be
    replaced meanwhile.  The answer's key must be the route's, still alive (on the
    code before this test, it was freed during the call and the answer held a
    dangling pointer: a crash under PYTHONMALLOC=debug)."""
    import gc
    import weakref

    from ecert_token import _speedups
    from ecert_token.token.text import PREFIX

    if _speedups.extension is None:
        pytest.skip("about the accelerator")
    open_token = _speedups.extension.open_token
    routes = TrustStore([SM2.public], [SM4_CCM]).routes()
    assert routes is not None
    groups, issuers = dict(routes.groups), dict(routes.issuers)
    (kid, route), = issuers.items()
    verify = route.public

    class Key:
        pass

    key = Key()
    alive = weakref.ref(key)

    def replacing(message: bytes, signature: bytes) -> bool:
        issuers[kid] = None  # the route loses the caller's last reference
        gc.collect()
        return bool(verify(message, signature))

    issuers[kid] = tuple(route._replace(public=replacing, key=key))
    del key, route
    answer = open_token(TOKENS["sm2+sm4-ccm"][len(PREFIX):], groups, issuers, NOW, 300, 86400)
    assert type(answer) is tuple
    assert alive() is not None and answer[1] is alive()
