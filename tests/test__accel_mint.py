"""The compiled minter (``_accel_mint.c``) held equal to the Python sealing steps
(``Issuer._seal``, token/mint.py): the same text for the same claims, keys and nonce,
or None ("not mine") where the Python path then decides; and the Issuer's errors
are the same on both paths."""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecert_token import (
    BusinessType,
    Channel,
    Credential,
    FixedClock,
    InsuranceType,
    InvalidArgument,
    Issuer,
    Region,
    SubjectKind,
    TokenClaims,
    _speedups,
)
from ecert_token.crypto.ed25519 import Ed25519PrivateKey
from ecert_token.keys.keydir import KeyDir
from ecert_token.keys.material import GroupKey, IssuerSigningKey
from ecert_token.model.region import PROVINCE_PREFIXES
from ecert_token.token import mint

from .conftest import NOW, deterministic_random, running_verifier

pytestmark = pytest.mark.skipif(
    mint._mint_token is None and not _speedups.required(),
    reason="the compiled minter is not built or is turned off",
)

ID_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-"
ids = st.text(ID_CHARS, min_size=6, max_size=32)
visible = st.characters(blacklist_categories=("Cs", "Cc", "Cf", "Zs", "Zl", "Zp", "Co", "Cn"),
                        blacklist_characters="*")
names = st.tuples(st.lists(visible, max_size=2), st.integers(1, 14)).flatmap(
    lambda parts: st.permutations(parts[0] + ["*"] * parts[1])).map("".join)
"""Masked names: one to sixteen characters, at most two of them shown (any script)."""
regions = st.builds(lambda p, rest: Region(f"{p:02d}{rest:04d}"),
                    st.sampled_from(sorted(PROVINCE_PREFIXES)), st.integers(0, 9999))
times = st.one_of(
    st.integers(0x10000, 2**32 - 301),       # the compiled layout's range
    st.integers(0, 0x10000 + 10),            # before it: not mine
    st.integers(2**32 - 300, 2**32 + 300),   # across its end
    st.integers(2**32, 2**40 - 301),         # after it: not mine
)


@st.composite
def claims_and_keys(draw: st.DrawFn) -> tuple[Issuer, TokenClaims, bytes]:
    signing = IssuerSigningKey("NHSA", draw(st.binary(min_size=1, max_size=16)),
                               Ed25519PrivateKey(draw(st.binary(min_size=32, max_size=32))))
    group = GroupKey("national", draw(st.binary(min_size=1, max_size=16)),
                     draw(st.binary(min_size=16, max_size=16)))
    issuer = Issuer(signing, group, clock=FixedClock(NOW))
    subject = draw(ids)
    actor = draw(st.none() | ids.filter(lambda a: a != subject))
    issued_at = draw(times)
    claims = TokenClaims(
        draw(st.binary(min_size=8, max_size=16)), issued_at,
        issued_at + draw(st.integers(1, 300)), subject, draw(st.sampled_from(SubjectKind)),
        draw(regions), draw(st.sampled_from(InsuranceType)), draw(names),
        draw(st.sampled_from(BusinessType)), draw(st.sampled_from(Channel)), actor,
    )
    return issuer, claims, draw(st.binary(min_size=13, max_size=13))


@settings(deadline=None, max_examples=300)
@given(claims_and_keys())
def test_compiled_text_is_the_python_text(case: tuple[Issuer, TokenClaims, bytes]) -> None:
    issuer, claims, nonce = case
    assert issuer._compiled is not None
    compiled = issuer._compiled(claims, nonce)
    expected = issuer._seal(claims, nonce)
    in_layout = claims.issued_at >= 0x10000 and claims.expires_at < 2**32
    assert compiled == (expected if in_layout else None)


def test_tokens_of_both_paths_verify_alike(keys: KeyDir, credential: Credential) -> None:
    """Same random source, same tokens; and they verify."""
    tokens = []
    for compiled in (True, False):
        issuer = Issuer(keys.signing_key, keys.group_key, clock=FixedClock(NOW),
                        random_bytes=deterministic_random(b"both"))
        if not compiled:
            issuer._compiled = None
        tokens.append([issuer.mint(credential, b, ttl=30 + 10 * i)
                       for i, b in enumerate(BusinessType)])
    assert tokens[0] == tokens[1]
    verifier = running_verifier(keys.trust_store())
    for token, business in zip(tokens[0], BusinessType, strict=True):
        assert verifier.verify(token, business).claims.business_type is business


def test_a_wrong_nonce_is_not_mine_and_fails_as_before(keys: KeyDir,
                                                        credential: Credential) -> None:
    issuer = Issuer(keys.signing_key, keys.group_key, clock=FixedClock(NOW))
    claims = TokenClaims(bytes(8), NOW, NOW + 60, credential.credential_id,
                         credential.subject_kind, credential.region,
                         credential.insurance_type, credential.masked_name,
                         BusinessType.HOSPITAL_REGISTRATION, credential.channel)
    assert issuer._compiled is not None
    for nonce in (bytes(12), bytes(14), bytearray(13)):
        assert issuer._compiled(claims, nonce) is None
    messages = set()
    for compiled in (True, False):
        short = Issuer(keys.signing_key, keys.group_key, clock=FixedClock(NOW),
                       random_bytes=lambda n: bytes(min(n, 12)))
        if not compiled:
            short._compiled = None
        with pytest.raises(InvalidArgument) as caught:
            short.mint(credential, BusinessType.HOSPITAL_REGISTRATION)
        messages.add(str(caught.value))
    assert len(messages) == 1


def test_not_claims_is_not_mine(keys: KeyDir) -> None:
    issuer = Issuer(keys.signing_key, keys.group_key, clock=FixedClock(NOW))
    assert issuer._compiled is not None
    assert issuer._compiled(object(), bytes(13)) is None
    assert issuer._compiled(SimpleNamespace(**{f: None for f in TokenClaims.__slots__}),
                            bytes(13)) is None


def test_a_foreign_state_is_a_type_error() -> None:
    assert mint._mint_token is not None
    with pytest.raises(TypeError):
        mint._mint_token((b"", b"short", b"", b"", None, "EC1:"), None, bytes(13))
    with pytest.raises(TypeError):
        mint._mint_token(("x",) * 6, None, bytes(13))


def test_only_the_canonical_suite_is_compiled(keys: KeyDir) -> None:
    assert Issuer(keys.signing_key, keys.group_key)._compiled is not None
    sm4 = GroupKey("national", b"\x01\x02\x03\x04", bytes(16), alg=-65539)
    assert Issuer(keys.signing_key, sm4)._compiled is None


def test_one_urandom_draw_gives_distinct_ids_and_nonces(keys: KeyDir,
                                                        credential: Credential) -> None:
    issuer = Issuer(keys.signing_key, keys.group_key, clock=FixedClock(NOW),
                    random_bytes=os.urandom)
    verifier = running_verifier(keys.trust_store())
    ids = {verifier.verify(issuer.mint(credential, BusinessType.HOSPITAL_REGISTRATION),
                           BusinessType.HOSPITAL_REGISTRATION).claims.token_id
           for _ in range(50)}
    assert len(ids) == 50 and all(len(i) == 8 for i in ids)


def test_an_extension_with_other_rules_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _speedups.extension is not None
    rules = dict(_speedups.extension.MINT_CONSTANTS, NONCE_BYTES=12)
    monkeypatch.setattr(_speedups, "extension",
                        SimpleNamespace(MINT_CONSTANTS=rules, mint_token=mint._mint_token))
    with pytest.raises(ImportError):
        _speedups.minter()
