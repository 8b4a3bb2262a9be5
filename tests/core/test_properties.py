"""Property tests: valid credentials round-trip; every damaged or foreign input is refused.

The bit-flip and truncation tests are exhaustive over one token (every bit,
every length), not sampled.  Hypothesis runs derandomized, so the suite is
deterministic; the example counts keep it to a few seconds.
"""

from __future__ import annotations

import cbor2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecert_token import (
    BusinessType,
    Channel,
    Credential,
    EcertError,
    ErrorCode,
    FixedClock,
    InsuranceType,
    Issuer,
    Region,
    SubjectKind,
    TokenClaims,
    TokenRejected,
    Verifier,
)
from ecert_token.codec import cose
from ecert_token.codec.base45 import ALPHABET, b45decode, b45encode
from ecert_token.keys.keydir import KeyDir
from ecert_token.model.region import PROVINCE_PREFIXES
from ecert_token.token.text import PREFIX
from tests.conftest import NOW, deterministic_random, running_verifier
from tests.core.forge import seal, sign1, unseal

pytestmark = pytest.mark.usefixtures("impl")  # both implementations (tests/conftest.py)

REGISTRATION = BusinessType.HOSPITAL_REGISTRATION
PROPERTY = settings(max_examples=300, derandomize=True, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
FUZZ = settings(max_examples=1000, derandomize=True, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def only_rejected(verifier: Verifier, token: object,
                  business: BusinessType = REGISTRATION) -> TokenRejected:
    """``token`` must be refused with a TokenRejected (nothing else, and no success)."""
    with pytest.raises(TokenRejected) as info:
        verifier.verify(token, business)  # type: ignore[arg-type]
    assert type(info.value.code) is ErrorCode
    return info.value


def fresh_verifier(keys: KeyDir) -> Verifier:
    """A verifier at NOW with no ids used yet, in a terminal running since before NOW
    (so restart fencing does not refuse the tokens minted at NOW)."""
    return running_verifier(keys.trust_store())


# --- strategies ---------------------------------------------------------------

credential_ids = st.from_regex(r"[0-9A-Za-z_-]{6,32}", fullmatch=True)
regions = st.builds(
    lambda prefix, rest: Region(f"{prefix:02d}{rest:04d}"),
    st.sampled_from(sorted(PROVINCE_PREFIXES)),
    st.integers(0, 9999),
)
visible = st.characters(categories=["Lu", "Ll", "Lo"], max_codepoint=0x9FFF)


@st.composite
def masked_names(draw: st.DrawFn) -> str:
    first = draw(visible)
    stars = "*" * draw(st.integers(1, 14))
    last = draw(st.one_of(st.just(""), visible))
    return first + stars + last


@st.composite
def credentials(draw: st.DrawFn, cid: str | None = None) -> Credential:
    return Credential(
        credential_id=cid or draw(credential_ids),
        region=draw(regions),
        insurance_type=draw(st.sampled_from(InsuranceType)),
        masked_name=draw(masked_names()),
        channel=draw(st.sampled_from(Channel)),
        issued_at=draw(st.integers(0, NOW)),
        subject_kind=draw(st.sampled_from(SubjectKind)),
    )


# --- round trip -----------------------------------------------------------------


@PROPERTY
@given(
    credential=credentials(),
    business=st.sampled_from(BusinessType),
    ttl=st.integers(10, 300),
    actor_id=st.one_of(st.none(), credential_ids),
    channel=st.one_of(st.none(), st.sampled_from(Channel)),
    seed=st.binary(min_size=1, max_size=8),
)
def test_any_valid_credential_round_trips(  # noqa: PLR0917
    keys: KeyDir, credential: Credential, business: BusinessType, ttl: int,
    actor_id: str | None, channel: Channel | None, seed: bytes,
) -> None:
    actor = None
    if actor_id is not None and actor_id != credential.credential_id:
        actor = Credential(actor_id, Region("110105"), InsuranceType.EMPLOYEE_BASIC, "张*",
                           Channel.WECHAT, 0)
    issuer = Issuer(keys.signing_key, keys.group_key, clock=FixedClock(NOW),
                    random_bytes=deterministic_random(seed))
    if business.is_payment and not credential.subject_kind.may_pay:
        # Units, staff, institutions and pharmacies never pay (model/codes.py).
        with pytest.raises(EcertError) as info:
            issuer.mint(credential, business, ttl=ttl, actor=actor, channel=channel)
        assert info.value.code is ErrorCode.WRONG_BUSINESS_TYPE
        return
    token = issuer.mint(credential, business, ttl=ttl, actor=actor, channel=channel)
    result = fresh_verifier(keys).verify(token, business)
    expected = TokenClaims(
        token_id=result.claims.token_id,
        issued_at=NOW,
        expires_at=NOW + ttl,
        credential_id=credential.credential_id,
        subject_kind=credential.subject_kind,
        region=credential.region,
        insurance_type=credential.insurance_type,
        masked_name=credential.masked_name,
        business_type=business,
        channel=channel or credential.channel,
        actor_id=None if actor is None else actor.credential_id,
    )
    assert result.claims == expected
    assert token.startswith(PREFIX)
    assert set(token[len(PREFIX):]) <= set(ALPHABET)


# --- exhaustive damage to one token ------------------------------------------------


def _flips(data: bytes) -> list[bytes]:
    out = []
    for bit in range(len(data) * 8):
        flipped = bytearray(data)
        flipped[bit // 8] ^= 1 << (bit % 8)
        out.append(bytes(flipped))
    return out


def _assert_all_rejected(verifier: Verifier, candidates: list[object]) -> set[ErrorCode]:
    codes = set()
    for candidate in candidates:
        codes.add(only_rejected(verifier, candidate).code)
    return codes


def test_every_bit_flip_of_the_envelope_is_rejected(keys: KeyDir, token: str) -> None:
    verifier = fresh_verifier(keys)
    envelope = b45decode(token[len(PREFIX):])
    flipped = [PREFIX + b45encode(f) for f in _flips(envelope)]
    assert len(flipped) == len(envelope) * 8 > 1000
    codes = _assert_all_rejected(verifier, flipped)  # type: ignore[arg-type]
    assert ErrorCode.DECRYPTION_FAILED in codes
    assert ErrorCode.MALFORMED in codes
    assert ErrorCode.UNKNOWN_KEY in codes
    # None of the rejections consumed the real token's id.
    assert verifier.verify(token, REGISTRATION)


def test_every_bit_flip_of_the_text_is_rejected(keys: KeyDir, token: str) -> None:
    verifier = fresh_verifier(keys)
    raw = token.encode("ascii")
    flipped = _flips(raw)
    codes = _assert_all_rejected(verifier, flipped)  # type: ignore[arg-type]
    as_text = [f.decode("latin-1") for f in flipped]
    codes |= _assert_all_rejected(verifier, as_text)  # type: ignore[arg-type]
    assert codes <= {ErrorCode.MALFORMED, ErrorCode.DECRYPTION_FAILED, ErrorCode.UNKNOWN_KEY}
    assert verifier.verify(token, REGISTRATION)


def test_every_bit_flip_inside_the_aead_is_rejected(keys: KeyDir, token: str) -> None:
    """Re-sealed with the real group key: the signature and inner parsing must hold alone."""
    verifier = fresh_verifier(keys)
    plaintext = unseal(keys.group_key, token)
    resealed = [seal(keys.group_key, f) for f in _flips(plaintext)]
    codes = _assert_all_rejected(verifier, resealed)  # type: ignore[arg-type]
    assert ErrorCode.BAD_SIGNATURE in codes
    assert ErrorCode.MALFORMED in codes
    assert verifier.verify(token, REGISTRATION)


def test_every_truncation_is_rejected(keys: KeyDir, token: str) -> None:
    verifier = fresh_verifier(keys)
    envelope = b45decode(token[len(PREFIX):])
    raw = token.encode("ascii")
    candidates: list[object] = [token[:n] for n in range(len(token))]
    candidates += [raw[:n] for n in range(len(raw))]
    candidates += [PREFIX + b45encode(envelope[:n]) for n in range(len(envelope))]
    candidates += [PREFIX + b45encode(envelope[n:]) for n in range(1, len(envelope))]
    _assert_all_rejected(verifier, candidates)
    assert verifier.verify(token, REGISTRATION)


# --- arbitrary input ----------------------------------------------------------------


@FUZZ
@given(text=st.text(max_size=700))
def test_arbitrary_text_is_rejected(keys: KeyDir, text: str) -> None:
    only_rejected(fresh_verifier(keys), text)
    only_rejected(fresh_verifier(keys), PREFIX + text)


@FUZZ
@given(data=st.binary(max_size=700))
def test_arbitrary_bytes_are_rejected(keys: KeyDir, data: bytes) -> None:
    verifier = fresh_verifier(keys)
    only_rejected(verifier, data)
    only_rejected(verifier, PREFIX.encode() + data)
    only_rejected(verifier, PREFIX + b45encode(data[:390]))
    only_rejected(verifier, PREFIX + b45encode(b"\xd0" + data[:390]))


@FUZZ
@given(body=st.text(alphabet=ALPHABET, max_size=596))
def test_arbitrary_base45_text_is_rejected(keys: KeyDir, body: str) -> None:
    only_rejected(fresh_verifier(keys), PREFIX + body)


scalars = (
    st.none() | st.booleans() | st.integers(-(2**64), 2**64 - 1)
    | st.floats(allow_nan=True, allow_infinity=True) | st.binary(max_size=40)
    | st.text(max_size=20) | st.just(cbor2.undefined)
    | st.builds(cbor2.CBORSimpleValue, st.sampled_from([0, 16, 19, 32, 255]))
    | st.builds(cbor2.CBORTag, st.sampled_from([0, 1, 2, 16, 18, 24, 55799, 65536]),
                st.integers(0, 10))
)
keys_of_maps = st.integers(-70000, 10) | st.text(max_size=4)
structures = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(keys_of_maps, inner, max_size=6),
    max_leaves=25,
)


def _tagged(tag: int, value: object) -> bytes:
    return cbor2.dumps(cbor2.CBORTag(tag, value))


@FUZZ
@given(value=structures)
def test_arbitrary_cbor_envelopes_are_rejected(keys: KeyDir, value: object) -> None:
    """Arbitrary CBOR, tagged as COSE_Encrypt0 or as the envelope's parts."""
    verifier = fresh_verifier(keys)
    g = keys.group_key
    protected = cose.encode_protected(g.alg, g.kid)
    encoded = cbor2.dumps(value)
    for envelope in (
        encoded,
        _tagged(16, value),
        _tagged(16, [protected, value, b"x" * 20]),
        _tagged(16, [protected, {5: value}, b"x" * 20]),
        _tagged(16, [encoded, {5: bytes(13)}, b"x" * 20]),
        _tagged(16, [protected, {5: bytes(13)}, value]),
    ):
        only_rejected(verifier, PREFIX + b45encode(envelope[:390]))


@FUZZ
@given(value=structures)
def test_arbitrary_cbor_behind_a_valid_aead_is_malformed(keys: KeyDir, value: object) -> None:
    """Sealed with the real group key (and signed with the real issuer key where it
    matters), arbitrary structures must fail the strict inner parsing: MALFORMED."""
    verifier = fresh_verifier(keys)
    g, s = keys.group_key, keys.signing_key
    encoded = cbor2.dumps(value)
    sign_protected = cose.encode_protected(s.public.alg, s.kid)
    plaintexts: list[bytes] = [
        encoded,
        _tagged(18, value),
        _tagged(18, [sign_protected, value, b"p", bytes(64)]),
        _tagged(18, [sign_protected, {}, value, bytes(64)]),
        _tagged(18, [sign_protected, {}, b"p", value]),
        sign1(s, encoded),  # arbitrary claims, really signed
        sign1(s, b"\xa0", protected=encoded),  # arbitrary protected header
    ]
    for plaintext in plaintexts:
        err = only_rejected(verifier, seal(g, plaintext))
        assert err.code is ErrorCode.MALFORMED, err.code


@FUZZ
@given(
    sub=st.one_of(credential_ids, scalars),
    exp=st.one_of(st.integers(NOW - 100, NOW + 400), scalars),
    iat=st.one_of(st.integers(NOW - 100, NOW + 100), scalars),
    cti=st.one_of(st.binary(min_size=8, max_size=16), scalars),
    fields=st.lists(scalars, min_size=5, max_size=8),
)
def test_signed_claims_with_arbitrary_values_raise_only_rejections(  # noqa: PLR0917
    keys: KeyDir, sub: object, exp: object, iat: object, cti: object, fields: list[object]
) -> None:
    """Right keys, arbitrary values, a real signature: never anything but TokenRejected."""
    verifier = fresh_verifier(keys)
    payload = cbor2.dumps({2: sub, 4: exp, 6: iat, 7: cti, -65537: fields})
    only_rejected(verifier, seal(keys.group_key, sign1(keys.signing_key, payload)))
