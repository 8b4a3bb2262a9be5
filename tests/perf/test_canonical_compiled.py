"""The compiled Sign1 + claims reader answers exactly as the Python reader does.

``read_sign1_python`` is the reference: for every input both give None, or
the same route (the same object), the same signed bytes and the same fields,
of the same types.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecert_token.codec import canonical, cose
from ecert_token.codec.canonical import read_sign1_python
from ecert_token.keys.keydir import KeyDir
from ecert_token.keys.routes import Routes

from .compiled import skip_unless_built
from .conftest import Sealer, claims_map
from .conftest import canonical as canonical_cbor
from .test_fast_paths import INVALID_CLAIMS, VALID_CLAIMS

compiled = canonical.read_sign1 if canonical.IMPLEMENTATION == "C extension" else None
pytestmark = skip_unless_built(compiled, "codec._canonical")


def check_same(plaintext: bytes, openings: dict[bytes, object]) -> object:
    assert compiled is not None
    expected = read_sign1_python(plaintext, openings)
    got = compiled(plaintext, openings)
    assert got == expected
    if got is not None and expected is not None:
        assert got[0] is expected[0]
        assert [type(f) for f in got[2]] == [type(f) for f in expected[2]]
    return got


@pytest.fixture
def openings(keys: KeyDir) -> dict[bytes, object]:
    routes = keys.trust_store().routes()
    assert isinstance(routes, Routes)
    return dict(routes.issuers)


@pytest.mark.parametrize("index", range(len(VALID_CLAIMS + INVALID_CLAIMS)))
def test_claims_variants(index: int, sealer: Sealer, openings: dict[bytes, object]) -> None:
    value = (VALID_CLAIMS + INVALID_CLAIMS)[index]
    check_same(sealer.sign1(canonical_cbor(value)), openings)


def test_the_usual_token_is_read_by_both(sealer: Sealer, openings: dict[bytes, object]) -> None:
    assert check_same(sealer.sign1(canonical_cbor(claims_map())), openings) is not None


def test_every_single_byte_mutation(sealer: Sealer, openings: dict[bytes, object]) -> None:
    plaintext = sealer.sign1(canonical_cbor(claims_map()))
    rnd = random.Random(5)
    for i in range(len(plaintext)):
        for b in {0x00, 0x06, 0x17, 0x18, 0x1A, 0x19, 0x3A, 0x40, 0x57, 0x58, 0x5F, 0x60,
                  0x66, 0x77, 0x78, 0x86, 0x87, 0xA0, 0xA5, 0xFF, rnd.randrange(256)}:
            check_same(plaintext[:i] + bytes([b]) + plaintext[i + 1:], openings)


def test_truncations_and_extensions(sealer: Sealer, openings: dict[bytes, object]) -> None:
    plaintext = sealer.sign1(canonical_cbor(claims_map()))
    for i in range(len(plaintext) + 1):
        check_same(plaintext[:i], openings)
        check_same(plaintext[:i] + b"\x00" + plaintext[i:], openings)


@given(st.binary(max_size=160))
def test_any_bytes_after_the_opening(data: bytes) -> None:
    from ecert_token.keys.keydir import generate

    from ..conftest import deterministic_random

    keys = generate(random_bytes=deterministic_random(b"fuzz"))
    routes = keys.trust_store().routes()
    assert routes is not None
    openings = dict(routes.issuers)
    prot = cose.encode_protected(-8, keys.signing_key.kid)
    for plaintext in (data, b"\xd2\x84" + cose.bstr_head(len(prot)) + prot + b"\xa0\x58" + data):
        check_same(plaintext, openings)


@given(st.text(max_size=9), st.binary(min_size=8, max_size=16))
def test_any_name_and_token_id(name: str, cti: bytes) -> None:
    from ecert_token.keys.keydir import generate

    from ..conftest import deterministic_random

    keys = generate(random_bytes=deterministic_random(b"fuzz"))
    routes = keys.trust_store().routes()
    assert routes is not None
    payload = canonical_cbor(claims_map({7: cti, -65537: [110105, 310, 1101, 2, name, 1]}))
    check_same(Sealer(keys).sign1(payload), dict(routes.issuers))


@given(st.text(alphabet="AZaz09_-\u00e9*", min_size=0, max_size=40),
       st.one_of(st.none(), st.text(alphabet="AZ09_-", max_size=34)),
       st.text(alphabet="*\u5f20\u4e09 ", min_size=0, max_size=20))
def test_ids_actors_and_names_of_any_length(sub: str, actor: str | None, name: str) -> None:
    from ecert_token.keys.keydir import generate

    from ..conftest import deterministic_random

    keys = generate(random_bytes=deterministic_random(b"fuzz"))
    routes = keys.trust_store().routes()
    assert routes is not None
    fields: list[object] = [110105, 310, 1101, 2, name, 1]
    if actor is not None:
        fields.append(actor)
    payload = canonical_cbor(claims_map({2: sub, -65537: fields}))
    check_same(Sealer(keys).sign1(payload), dict(routes.issuers))


def test_inputs_of_other_types(sealer: Sealer, openings: dict[bytes, object]) -> None:
    assert compiled is not None
    plaintext = sealer.sign1(canonical_cbor(claims_map()))
    assert compiled(bytearray(plaintext), openings) is None
    bad_routes = {key: ("route", "not bytes") for key in openings}
    with pytest.raises(TypeError, match="prefix at 1"):
        compiled(plaintext, bad_routes)
    with pytest.raises(TypeError):
        compiled(plaintext, list(openings))  # type: ignore[arg-type]
