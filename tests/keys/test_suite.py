"""The SM suite end to end (keys/suite.py and every layer it reaches).

The suite is a property of the key: SM2 issuer keys and SM4 group keys live in
the same rings, directories, trust stores and trust lists as Ed25519 and
AES-CCM keys, and the verifier takes the algorithm from the key bound to the
kid.  Every SM2 signature a minted token carries is checked again by the
independent pure-Python gmssl (tests/gm.py).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import NOW, deterministic_random
from tests.gm import independent_verify, require_gm

require_gm()

from ecert_token import (  # noqa: E402
    BusinessType,
    Credential,
    FixedClock,
    Issuer,
    TokenRejected,
    TrustStore,
    Verifier,
    VerifyPolicy,
)
from ecert_token.codec import cose  # noqa: E402
from ecert_token.codec.base45 import b45decode  # noqa: E402
from ecert_token.codec.cwt import encode_claims  # noqa: E402
from ecert_token.crypto.aead import ALG_AES_CCM_16_64_128  # noqa: E402
from ecert_token.crypto.ed25519 import ALG_EDDSA  # noqa: E402
from ecert_token.crypto.sm2 import ALG_SM2_SM3, SM2PrivateKey, SM2PublicKey  # noqa: E402
from ecert_token.crypto.sm4 import ALG_SM4_CCM_16_64_128, ALG_SM4_GCM  # noqa: E402
from ecert_token.errors import ErrorCode, InvalidArgument, KeyMaterialError  # noqa: E402
from ecert_token.keys import keydir  # noqa: E402
from ecert_token.keys.cose_key import (  # noqa: E402
    group_key_from_cose_key,
    group_key_to_cose_key,
    issuer_public_from_cose_key,
    issuer_public_to_cose_key,
)
from ecert_token.keys.jwk import (  # noqa: E402
    b64url,
    b64url_decode,
    group_key_from_jwk,
    group_key_jwk,
    issuer_public_from_jwk,
    issuer_public_jwk,
    sm2_private_from_jwk,
    sm2_private_jwk,
)
from ecert_token.keys.keydir import KeyDir, new_group_key, new_issuer_key  # noqa: E402
from ecert_token.keys.material import (  # noqa: E402
    GroupKey,
    IssuerSigningKey,
    IssuerVerifyKey,
    KeyState,
)
from ecert_token.keys.suite import ALG_NAMES, Suite  # noqa: E402
from ecert_token.model import TokenClaims  # noqa: E402
from ecert_token.token.text import PREFIX  # noqa: E402
from ecert_token.trust import RootSigningKey, build_trust_list, sign_trust_list  # noqa: E402
from ecert_token.trust.envelope import verify_trust_list  # noqa: E402
from ecert_token_tools.vectors import sample_person  # noqa: E402

BT = BusinessType.HOSPITAL_REGISTRATION
_SEEDS = itertools.count()


@pytest.fixture(scope="module")
def sm() -> KeyDir:
    return keydir.generate(issuer="NHSA", group="national", suite=Suite.SM,
                           random_bytes=deterministic_random(b"sm keys"))


@pytest.fixture(scope="module")
def ed() -> KeyDir:
    return keydir.generate(issuer="BJ", group="beijing",
                           random_bytes=deterministic_random(b"ed keys"))


def verifier(trust: TrustStore, **policy: object) -> Verifier:
    """A verifier whose replay memory began well before NOW (no restart fencing)."""
    clock = FixedClock(NOW - 900)
    v = Verifier(trust, VerifyPolicy(clock=clock, **policy))  # type: ignore[arg-type]
    clock.now = NOW
    return v


def mint(keys: KeyDir | tuple[IssuerSigningKey, GroupKey], now: int = NOW, **kw: object) -> str:
    sk, gk = (keys.signing_key, keys.group_key) if isinstance(keys, KeyDir) else keys
    seed = next(_SEEDS).to_bytes(4, "big")
    return Issuer(sk, gk, clock=FixedClock(now), random_bytes=deterministic_random(seed)
                  ).mint(sample_person(), BT, **kw)  # type: ignore[arg-type]


def open_token(token: str, group: GroupKey) -> tuple[int, bytes, bytes, bytes]:
    """``(alg, kid, signature, Sig_structure)`` of a token's inner COSE_Sign1."""
    env = cose.decode_encrypt0(b45decode(token[len(PREFIX):]))
    signed = group.aead.decrypt(env.iv, env.ciphertext, cose.enc_structure(env.protected))
    msg = cose.decode_sign1(signed)
    return (msg.header.alg, msg.header.kid, msg.signature,
            cose.sig_structure(msg.protected, msg.payload))


def test_suites_give_their_algorithms(sm: KeyDir, ed: KeyDir) -> None:
    assert (sm.signing_key.public.alg, sm.group_key.alg) == (ALG_SM2_SM3, ALG_SM4_CCM_16_64_128)
    assert (ed.signing_key.public.alg, ed.group_key.alg) == (ALG_EDDSA, ALG_AES_CCM_16_64_128)
    assert isinstance(sm.signing_key.public.public_key, SM2PublicKey)
    assert Suite.parse("sm") is Suite.SM
    for bad in ("SM", "sm2", None, 1):
        with pytest.raises(InvalidArgument):
            Suite.parse(bad)
    with pytest.raises(InvalidArgument):
        GroupKey("g", b"k", bytes(16), alg=ALG_EDDSA)
    with pytest.raises(InvalidArgument):
        IssuerSigningKey("i", b"k", b"not a key")  # type: ignore[arg-type]


def test_sm_token_round_trip_and_independent_signature_check(sm: KeyDir) -> None:
    token = mint(sm)
    result = verifier(sm.trust_store()).verify(token, BT)
    assert (result.issuer, result.issuer_kid, result.group_kid) == (
        "NHSA", sm.signing_key.kid, sm.group_key.kid)
    alg, kid, signature, tbs = open_token(token, sm.group_key)
    assert (alg, kid) == (ALG_SM2_SM3, sm.signing_key.kid)
    public = sm.signing_key.public.public_key.raw
    assert independent_verify(public, tbs, signature)
    assert not independent_verify(public, tbs, signature, b"another signer id")


def test_custom_signer_id_end_to_end() -> None:
    uid = b"NHSA-issuer-01@gov.cn"
    private = SM2PrivateKey.generate(deterministic_random(b"custom id"), uid=uid)
    kid = b"\x01\x02\x03\x04"
    sk = IssuerSigningKey("NHSA", kid, private)
    gk = new_group_key("g", deterministic_random(b"g"), alg=ALG_SM4_GCM)
    token = mint((sk, gk))
    assert verifier(TrustStore([sk.public], [gk])).verify(token, BT).issuer == "NHSA"
    _, _, signature, tbs = open_token(token, gk)
    assert independent_verify(private.public_key.raw, tbs, signature, uid)
    # The same point bound to the default ID (a terminal with the wrong ID) refuses it.
    wrong = dataclasses.replace(sk.public, public_key=SM2PublicKey(private.public_key.raw))
    with pytest.raises(TokenRejected) as err:
        verifier(TrustStore([wrong], [gk])).verify(token, BT)
    assert err.value.code is ErrorCode.BAD_SIGNATURE
    assert not independent_verify(private.public_key.raw, tbs, signature)
    # The ID travels with the key: JWK member sm2_id, COSE_Key label -65537, trust lists.
    jwk = issuer_public_jwk(sk.public)
    assert b64url_decode(jwk["sm2_id"]) == uid
    assert issuer_public_from_jwk(jwk, "NHSA", state=sk.state) == sk.public
    cose_key = issuer_public_to_cose_key(sk.public)
    assert issuer_public_from_cose_key(cose_key, "NHSA", state=sk.state) == sk.public
    root = RootSigningKey.generate(deterministic_random(b"root for ids"))
    listed = verify_trust_list(sign_trust_list(build_trust_list(
        1, NOW - 60, NOW + 600, [sk.public], [gk]), root), root.root, NOW)
    assert verifier(listed.trust_store([gk])).verify(mint((sk, gk)), BT).issuer == "NHSA"
    _, private_back = sm2_private_from_jwk(sm2_private_jwk(kid, private))
    assert private_back.uid == uid
    assert "sm2_id" not in issuer_public_jwk(sm_default_key())
    for bad in ("", b64url(b"1234567812345678"), b64url(b"x" * 8192), 7):
        with pytest.raises(KeyMaterialError):
            issuer_public_from_jwk({**jwk, "sm2_id": bad}, "NHSA")


def sm_default_key() -> IssuerVerifyKey:
    return new_issuer_key("D", None, deterministic_random(b"default id"), suite=Suite.SM).public


def test_mixed_trust_store_and_batches(sm: KeyDir, ed: KeyDir) -> None:
    trust = TrustStore([sm.signing_key.public, ed.signing_key.public],
                       [sm.group_key, ed.group_key])
    # The compiled accelerator takes every mix of the suites (Ed25519 or SM2 issuers,
    # AES-CCM or SM4-CCM groups), each key with its own algorithm, and answers what the
    # Python stages answer.
    from ecert_token.token import verify as pipeline

    routes = trust.routes()
    accelerator = pipeline._accelerator
    if accelerator is not None and routes is not None:
        stages = verifier(trust)._pipeline
        for pair in (sm, ed, (ed.signing_key, sm.group_key), (sm.signing_key, ed.group_key)):
            body = mint(pair)[len(PREFIX):]
            answer = accelerator(body, routes.groups, routes.issuers, NOW,
                                 stages.policy.leeway, stages.policy.max_lifetime)
            pipeline._accelerator = None
            try:
                assert answer is not None and answer == stages._open(body, NOW)
            finally:
                pipeline._accelerator = accelerator
    crossed = (ed.signing_key, sm.group_key), (sm.signing_key, ed.group_key)
    tokens = [mint(sm, ttl=60 + i) for i in range(20)] + [mint(ed, ttl=60 + i) for i in range(20)]
    tokens += [mint(pair, ttl=61) for pair in crossed]
    tokens.append(tokens[0])
    v = verifier(trust)
    results = v.verify_many(tokens, BT, workers=2)
    assert [type(r) for r in results[:-1]] == [type(results[0])] * (len(tokens) - 1)
    assert results[0].issuer == "NHSA" and results[25].issuer == "BJ"  # type: ignore[union-attr]
    assert isinstance(results[-1], TokenRejected) and results[-1].code is ErrorCode.REPLAYED
    bad = tokens[1][:-3] + ("A" if tokens[1][-3] != "A" else "B") + tokens[1][-2:]
    assert isinstance(verifier(trust).verify_many([bad] * 20, BT, workers=1)[0], TokenRejected)


def test_replay_and_windows(sm: KeyDir) -> None:
    token = mint(sm)
    v = verifier(sm.trust_store())
    v.verify(token, BT)
    with pytest.raises(TokenRejected) as err:
        v.verify(token, BT)
    assert err.value.code is ErrorCode.REPLAYED
    with pytest.raises(TokenRejected) as err:
        verifier(sm.trust_store()).verify(mint(sm, now=NOW - 600), BT)
    assert err.value.code is ErrorCode.EXPIRED


def test_rotation_keeps_the_suite(sm: KeyDir) -> None:
    old_token = mint(sm, now=NOW - 10)
    rotated = sm.rotate_issuer(NOW - 5, deterministic_random(b"r1")).rotate_group(
        NOW - 5, deterministic_random(b"r2"))
    assert rotated.signing_key.public.alg == ALG_SM2_SM3
    assert rotated.group_key.alg == ALG_SM4_CCM_16_64_128
    assert rotated.signing_key.kid != sm.signing_key.kid
    v = verifier(rotated.trust_store())
    assert v.verify(old_token, BT).issuer_kid == sm.signing_key.kid
    assert v.verify(mint(rotated), BT).issuer_kid == rotated.signing_key.kid
    revoked = rotated.revoke(sm.signing_key.kid)
    with pytest.raises(TokenRejected) as err:
        verifier(revoked.trust_store()).verify(mint(sm, now=NOW - 10, ttl=120), BT)
    assert err.value.code is ErrorCode.KEY_REVOKED


def _forged(sk: IssuerSigningKey, gk: GroupKey, sign_alg: int, enc_alg: int) -> str:
    """A token whose headers name ``sign_alg`` / ``enc_alg`` with the keys' kids."""
    from ecert_token.token.text import to_text

    claims = TokenClaims(b"\x11" * 8, NOW, NOW + 60, sample_person().credential_id,
                         sample_person().subject_kind, sample_person().region,
                         sample_person().insurance_type, sample_person().masked_name, BT,
                         sample_person().channel)
    protected = cose.encode_protected(sign_alg, sk.kid)
    payload = encode_claims(claims)
    signed = cose.encode_sign1(protected, payload,
                               sk.private_key.sign(cose.sig_structure(protected, payload)))
    enc_protected = cose.encode_protected(enc_alg, gk.kid)
    nonce, ciphertext = gk.aead.encrypt(signed, cose.enc_structure(enc_protected))
    return to_text(cose.encode_encrypt0(enc_protected, nonce, ciphertext))


def test_algorithm_confusion_is_refused(sm: KeyDir, ed: KeyDir) -> None:
    trust = TrustStore([sm.signing_key.public, ed.signing_key.public],
                       [sm.group_key, ed.group_key])
    honest = _forged(sm.signing_key, sm.group_key, ALG_SM2_SM3, ALG_SM4_CCM_16_64_128)
    assert verifier(trust).verify(honest, BT).issuer == "NHSA"
    cases = [
        (sm.signing_key, sm.group_key, ALG_EDDSA, ALG_SM4_CCM_16_64_128),   # SM2 kid, EdDSA alg
        (ed.signing_key, ed.group_key, ALG_SM2_SM3, ALG_AES_CCM_16_64_128),  # Ed25519 kid, SM2
        (sm.signing_key, sm.group_key, ALG_SM2_SM3, ALG_AES_CCM_16_64_128),  # SM4 kid, AES alg
        (ed.signing_key, ed.group_key, ALG_EDDSA, ALG_SM4_CCM_16_64_128),    # AES kid, SM4 alg
        (sm.signing_key, sm.group_key, ALG_SM2_SM3, ALG_SM4_GCM),            # CCM kid, GCM alg
    ]
    for sk, gk, sign_alg, enc_alg in cases:
        with pytest.raises(TokenRejected) as err:
            verifier(trust).verify(_forged(sk, gk, sign_alg, enc_alg), BT)
        assert err.value.code is ErrorCode.MALFORMED, (sign_alg, enc_alg)


def test_every_byte_flip_and_truncation_is_a_rejection(sm: KeyDir) -> None:
    token = mint(sm)
    v = verifier(sm.trust_store())
    raw = b45decode(token[len(PREFIX):])
    from ecert_token.token.text import to_text

    codes = set()
    for i in range(len(raw)):
        damaged = bytearray(raw)
        damaged[i] ^= 0x04
        with pytest.raises(TokenRejected) as err:
            v.verify(to_text(bytes(damaged)), BT)
        codes.add(err.value.code)
    for cut in range(0, len(raw), 7):
        with pytest.raises(TokenRejected):
            v.verify(to_text(raw[:cut]), BT)
    assert ErrorCode.DECRYPTION_FAILED in codes
    assert v.verify(token, BT).issuer == "NHSA"  # the damaged copies consumed nothing


def test_bad_signature_under_a_valid_envelope(sm: KeyDir) -> None:
    """Re-encrypt a Sign1 whose signature is damaged: only the SM2 check can catch it."""
    sk, gk = sm.signing_key, sm.group_key
    token = mint(sm)
    env = cose.decode_encrypt0(b45decode(token[len(PREFIX):]))
    signed = gk.aead.decrypt(env.iv, env.ciphertext, cose.enc_structure(env.protected))
    msg = cose.decode_sign1(signed)
    for i in (0, 31, 32, 63):
        sig = bytearray(msg.signature)
        sig[i] ^= 1
        inner = cose.encode_sign1(msg.protected, msg.payload, bytes(sig))
        nonce, ct = gk.aead.encrypt(inner, cose.enc_structure(env.protected))
        from ecert_token.token.text import to_text

        forged = to_text(cose.encode_encrypt0(env.protected, nonce, ct))
        with pytest.raises(TokenRejected) as err:
            verifier(TrustStore([sk.public], [gk])).verify(forged, BT)
        assert err.value.code is ErrorCode.BAD_SIGNATURE
        results = verifier(TrustStore([sk.public], [gk])).verify_many([forged] * 20, BT)
        assert all(isinstance(r, TokenRejected) and r.code is ErrorCode.BAD_SIGNATURE
                   for r in results)


@settings(max_examples=15, deadline=None)
@given(ttl=st.integers(10, 300), business=st.sampled_from(list(BusinessType)),
       gcm=st.booleans(), seed=st.binary(min_size=1, max_size=8))
def test_hypothesis_round_trip(ttl: int, business: BusinessType, gcm: bool, seed: bytes) -> None:
    sk = new_issuer_key("NHSA", None, deterministic_random(seed), suite=Suite.SM)
    gk = new_group_key("g", deterministic_random(seed + b"g"),
                       alg=ALG_SM4_GCM if gcm else ALG_SM4_CCM_16_64_128)
    token = Issuer(sk, gk, clock=FixedClock(NOW)).mint(sample_person(), business, ttl=ttl)
    v = verifier(TrustStore([sk.public], [gk]), business_types=frozenset(BusinessType))
    result = v.verify(token, business)
    assert result.claims.expires_at - result.claims.issued_at == ttl
    assert result.claims.business_type is business
    _, _, signature, tbs = open_token(token, gk)
    assert independent_verify(sk.public.public_key.raw, tbs, signature)


def test_jwk_and_cose_key_forms(sm: KeyDir) -> None:
    vk, gk = sm.signing_key.public, sm.group_key
    jwk = issuer_public_jwk(vk)
    raw = vk.public_key.raw
    assert jwk == {"kty": "EC", "crv": "SM2", "x": b64url(raw[:32]), "y": b64url(raw[32:]),
                   "kid": b64url(vk.kid), "alg": "SM2-SM3", "use": "sig"}
    assert issuer_public_from_jwk(jwk, "NHSA", state=vk.state) == vk
    assert group_key_jwk(gk)["alg"] == "SM4-CCM-16-64-128"
    assert group_key_from_jwk(group_key_jwk(gk), "national") == gk
    gcm = new_group_key("g", deterministic_random(b"gcm"), alg=ALG_SM4_GCM)
    assert group_key_from_jwk(group_key_jwk(gcm), "g").alg == ALG_SM4_GCM
    assert issuer_public_from_cose_key(issuer_public_to_cose_key(vk), "NHSA",
                                       state=vk.state) == vk
    assert group_key_from_cose_key(group_key_to_cose_key(gk), "national") == gk
    assert group_key_from_cose_key(group_key_to_cose_key(gcm), "g").alg == ALG_SM4_GCM
    off_curve = {**jwk, "y": b64url(bytes(32))}
    with pytest.raises(KeyMaterialError) as err:
        issuer_public_from_jwk(off_curve, "NHSA")
    assert err.value.code is ErrorCode.WEAK_KEY
    for bad in ({**jwk, "alg": "EdDSA"}, {**jwk, "crv": "P-256"}, {**jwk, "x": b64url(raw)},
                {**jwk, "d": "AA"}):
        with pytest.raises(KeyMaterialError):
            issuer_public_from_jwk(bad, "NHSA")
    for bad_group in ({**group_key_jwk(gk), "alg": "SM4-CBC"}, {**group_key_jwk(gk), "alg": []}):
        with pytest.raises(KeyMaterialError):
            group_key_from_jwk(bad_group, "national")


def test_key_directory_round_trip(sm: KeyDir, tmp_path: Path) -> None:
    rotated = sm.rotate_issuer(NOW, deterministic_random(b"kd"))
    keydir.save(rotated, tmp_path)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert "issuer.key.jwk.json" in names and "issuer.key.pem" not in names
    assert (tmp_path / "issuer.key.jwk.json").stat().st_mode & 0o077 == 0
    loaded = keydir.load(tmp_path)
    assert [k.public for k in loaded.issuer_ring] == [k.public for k in rotated.issuer_ring]
    assert loaded.group_ring == rotated.group_ring
    public = keydir.load_public(tmp_path)
    assert [k.alg for k in public.issuer_keys] == [ALG_SM2_SM3, ALG_SM2_SM3]
    token = mint(loaded)
    assert verifier(rotated.trust_store()).verify(token, BT).issuer == "NHSA"
    manifest = json.loads((tmp_path / "manifest.json").read_text("utf-8"))
    assert {e.get("alg") for e in manifest["issuer_keys"]} == {"SM2-SM3"}
    group_jwk = json.loads((tmp_path / "group.key.jwk.json").read_text("utf-8"))
    assert (group_jwk["kty"], group_jwk["alg"]) == ("oct", "SM4-CCM-16-64-128")
    # With a passphrase: encrypted PKCS#8 (keys/pkcs8.py), no plain copy left behind.
    keydir.save(rotated, tmp_path, passphrase=b"secret")
    assert not list(tmp_path.glob("issuer*.key.jwk.json"))
    for pem in tmp_path.glob("issuer*.key.pem"):
        assert pem.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    locked = keydir.load(tmp_path, passphrase=b"secret")
    assert [k.private_key.secret for k in locked.issuer_ring] == [  # type: ignore[union-attr]
        k.private_key.secret for k in rotated.issuer_ring]  # type: ignore[union-attr]
    with pytest.raises(KeyMaterialError) as wrong:
        keydir.load(tmp_path, passphrase=b"Secret")
    assert wrong.value.code is ErrorCode.WRONG_PASSPHRASE
    keydir.save(rotated, tmp_path)  # and back to plain JWK files, no encrypted copy left
    assert not list(tmp_path.glob("issuer*.key.pem"))
    # A private JWK whose public part does not match its d is refused.
    path = tmp_path / keydir.issuer_sm2_name(rotated.signing_key.kid)
    jwk = json.loads(path.read_text("utf-8"))
    other = SM2PrivateKey.generate(deterministic_random(b"other")).public_key.raw
    path.write_text(json.dumps({**jwk, "x": b64url(other[:32]), "y": b64url(other[32:])}))
    with pytest.raises(KeyMaterialError):
        keydir.load(tmp_path)


def test_trust_list_mixes_suites(sm: KeyDir, ed: KeyDir) -> None:
    root = RootSigningKey.generate(deterministic_random(b"root"))
    tl = build_trust_list(1, NOW - 60, NOW + 86_400, [sm.signing_key.public, ed.signing_key.public],
                          [sm.group_key, ed.group_key])
    loaded = verify_trust_list(sign_trust_list(tl, root), root.root, NOW)
    assert [k.alg for k in loaded.issuer_keys] == [ALG_SM2_SM3, ALG_EDDSA]
    trust = loaded.trust_store([sm.group_key, ed.group_key])
    assert verifier(trust).verify(mint(sm), BT).issuer == "NHSA"
    assert verifier(trust).verify(mint(ed), BT).issuer == "BJ"
    verify_only = dataclasses.replace(sm.signing_key.public, state=KeyState.REVOKED)
    tl2 = build_trust_list(2, NOW - 60, NOW + 86_400, [verify_only], [sm.group_key])
    trust2 = verify_trust_list(sign_trust_list(tl2, root), root.root, NOW).trust_store(
        [sm.group_key])
    with pytest.raises(TokenRejected) as err:
        verifier(trust2).verify(mint(sm), BT)
    assert err.value.code is ErrorCode.KEY_REVOKED


def test_names_cover_every_algorithm() -> None:
    assert set(ALG_NAMES) == {ALG_EDDSA, ALG_SM2_SM3, ALG_AES_CCM_16_64_128,
                              ALG_SM4_CCM_16_64_128, ALG_SM4_GCM}
    assert all(alg < -65536 for alg in (ALG_SM2_SM3, ALG_SM4_CCM_16_64_128, ALG_SM4_GCM))


def test_sm_token_size(sm: KeyDir, ed: KeyDir) -> None:
    """Five-byte private-use alg ids in both headers: 8 bytes more than the Ed25519 suite."""
    assert len(b45decode(mint(sm)[len(PREFIX):])) == len(b45decode(mint(ed)[len(PREFIX):])) + 8
    assert isinstance(Credential, type)


def test_published_sm_vectors_read_independently() -> None:
    """docs/vectors/sm_valid.json as a vendor reads it: cbor2, SM4 from OpenSSL (GCM
    directly; CCM through the construction held to AESCCM and RFC 8998), gmssl for SM2."""
    import cbor2
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    from ecert_token.crypto.sm4 import Ccm
    from ecert_token.keys.jwk import b64url_decode

    doc = json.loads((Path(__file__).resolve().parents[2] / "docs" / "vectors" / "sm_valid.json"
                      ).read_text("utf-8"))
    groups = {b64url_decode(g["jwk"]["kid"]): g["jwk"] for g in doc["trust"]["group_keys"]}
    issuers = {}
    for issuer in doc["trust"]["issuer_keys"]:
        jwk = issuer["public_jwk"]
        issuers[b64url_decode(jwk["kid"])] = (
            b64url_decode(jwk["x"]) + b64url_decode(jwk["y"]),
            b64url_decode(jwk["sm2_id"]) if "sm2_id" in jwk else b"1234567812345678")
    seen_algs, seen_ids = set(), set()
    for check in doc["checks"]:
        env = cbor2.loads(from_text_bytes(check["token"]))
        protected, unprotected, ciphertext = env.value
        header = cbor2.loads(protected)
        jwk = groups[header[4]]
        key, nonce = b64url_decode(jwk["k"]), unprotected[5]
        aad = cbor2.dumps(["Encrypt0", protected, b""])
        seen_algs.add((header[1], jwk["alg"]))
        if jwk["alg"] == "SM4-GCM":
            decryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce, ciphertext[-16:])).decryptor()
            decryptor.authenticate_additional_data(aad)
            signed = decryptor.update(ciphertext[:-16]) + decryptor.finalize()
        else:
            signed = Ccm(algorithms.SM4(key), 13, 8).decrypt(nonce, ciphertext, aad)
        s_protected, _, payload, signature = cbor2.loads(signed).value
        s_header = cbor2.loads(s_protected)
        assert s_header[1] == ALG_SM2_SM3
        public, uid = issuers[s_header[4]]
        seen_ids.add(uid)
        tbs = cbor2.dumps(["Signature1", s_protected, b"", payload])
        assert independent_verify(public, tbs, signature, uid)
        assert cbor2.loads(payload)[2] == check["expected"]["claims"]["credential_id"]
    assert seen_algs == {(ALG_SM4_CCM_16_64_128, "SM4-CCM-16-64-128"), (ALG_SM4_GCM, "SM4-GCM")}
    assert seen_ids == {b"1234567812345678", b"NHSA-SM issuer 01"}


def from_text_bytes(token: str) -> bytes:
    return b45decode(token[len(PREFIX):])



def test_an_sm2_root_signs_trust_lists(sm: KeyDir, ed: KeyDir, tmp_path: Path) -> None:
    """An SM-only deployment: the trust list is signed with SM2 too; a list is verified
    only with the pinned root's algorithm."""
    from ecert_token.errors import TrustListError
    from ecert_token.trust import load_root_signing_key, load_trust_root, save_root
    from ecert_token.trust.root import TrustRoot

    root = RootSigningKey.generate(deterministic_random(b"sm root"), suite=Suite.SM)
    assert root.alg == ALG_SM2_SM3 and root.root.alg == ALG_SM2_SM3
    tl = build_trust_list(1, NOW - 60, NOW + 86_400, [sm.signing_key.public], [sm.group_key])
    signed = sign_trust_list(tl, root)
    loaded = verify_trust_list(signed, root.root, NOW)
    assert verifier(loaded.trust_store([sm.group_key])).verify(mint(sm), BT).issuer == "NHSA"
    # The envelope's signature is SM2 over the Sig_structure with the list's external_aad.
    import cbor2

    from ecert_token.trust.envelope import EXTERNAL_AAD

    protected, _, payload, signature = cbor2.loads(signed).value
    assert cbor2.loads(protected)[1] == ALG_SM2_SM3
    assert independent_verify(root.root.public_key.raw,
                              cbor2.dumps(["Signature1", protected, EXTERNAL_AAD, payload]),
                              signature)
    # Files: the private key an SM2 JWK (0600), the pinned key an EC2 COSE_Key.
    save_root(root, tmp_path / "root.key.jwk.json", tmp_path / "root.pub.cose")
    assert (tmp_path / "root.key.jwk.json").stat().st_mode & 0o077 == 0
    assert load_root_signing_key(tmp_path / "root.key.jwk.json").root == root.root
    assert load_trust_root(tmp_path / "root.pub.cose") == root.root
    save_root(root, tmp_path / "x", tmp_path / "y", passphrase=b"pw")  # encrypted PKCS#8
    assert (tmp_path / "x").read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert load_root_signing_key(tmp_path / "x", b"pw").root == root.root
    with pytest.raises(KeyMaterialError) as wrong:
        load_root_signing_key(tmp_path / "x", b"pW")
    assert wrong.value.code is ErrorCode.WRONG_PASSPHRASE
    # An Ed25519 root under the same kid does not verify an SM2-signed list, nor the reverse.
    ed_root = RootSigningKey.generate(deterministic_random(b"ed root"))
    impostor = TrustRoot(root.kid, ed_root.root.public_key)
    with pytest.raises(TrustListError) as err:
        verify_trust_list(signed, impostor, NOW)
    assert err.value.code is ErrorCode.TRUST_LIST_BAD_SIGNATURE
    ed_signed = sign_trust_list(tl, ed_root)
    with pytest.raises(TrustListError) as err:
        verify_trust_list(ed_signed, TrustRoot(ed_root.kid, root.root.public_key), NOW)
    assert err.value.code is ErrorCode.TRUST_LIST_BAD_SIGNATURE
    assert verify_trust_list(ed_signed, ed_root.root, NOW).sequence == 1
