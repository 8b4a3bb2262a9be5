"""COSE_Sign1 and COSE_Encrypt0 structure: exactly the shapes this format writes."""

from __future__ import annotations

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecert_token.codec import cbor, cose
from ecert_token.codec.cose import COSEError
from tests.codec.envelopes import long_bstr

KID = b"\x01\x02\x03\x04"
PROTECTED_SIGN = cose.encode_protected(-8, KID)
PROTECTED_ENC = cose.encode_protected(10, KID)
IV = bytes(13)


def _tagged(tag_byte: bytes, items: object) -> bytes:
    return tag_byte + cbor2.dumps(items)


def sign1(items: object) -> bytes:
    return _tagged(b"\xd2", items)


def encrypt0(items: object) -> bytes:
    return _tagged(b"\xd0", items)


# --- deterministic pieces -------------------------------------------------


@pytest.mark.parametrize("length", [0, 1, 23, 24, 255, 256, 65535, 65536])
def test_bstr_head_matches_cbor(length: int) -> None:
    data = bytes(length)
    assert cose.bstr_head(length) + data == cbor2.dumps(data)


def test_structures_to_be_signed_and_encrypted() -> None:
    payload = b"claims"
    assert cose.sig_structure(PROTECTED_SIGN, payload) == cbor2.dumps(
        ["Signature1", PROTECTED_SIGN, b"", payload])
    assert cose.enc_structure(PROTECTED_ENC) == cbor2.dumps(["Encrypt0", PROTECTED_ENC, b""])
    assert bytes.fromhex("a201270444") + KID == PROTECTED_SIGN


def test_round_trips() -> None:
    signed = cose.encode_sign1(PROTECTED_SIGN, b"payload", bytes(64))
    parsed = cose.decode_sign1(signed)
    assert (parsed.header.alg, parsed.header.kid) == (-8, KID)
    assert (parsed.protected, parsed.payload, parsed.signature) == (
        PROTECTED_SIGN, b"payload", bytes(64))
    envelope = cose.encode_encrypt0(PROTECTED_ENC, IV, b"ciphertext")
    opened = cose.decode_encrypt0(envelope)
    assert (opened.header.alg, opened.header.kid, opened.iv, opened.ciphertext) == (
        10, KID, IV, b"ciphertext")
    assert signed[:1] == b"\xd2"
    assert envelope[:1] == b"\xd0"


# --- protected header -----------------------------------------------------

BAD_PROTECTED = {
    "missing alg": {4: KID},
    "missing kid": {1: -8},
    "empty map": {},
    "unknown crit": {1: -8, 2: [99], 4: KID},
    "crit naming alg": {1: -8, 2: [1], 4: KID},
    "content type": {1: -8, 3: 0, 4: KID},
    "iv in protected": {1: -8, 4: KID, 5: IV},
    "private label": {1: -8, 4: KID, -70000: 1},
    "text label": {1: -8, 4: KID, "x": 1},
    "alg as text": {1: "EdDSA", 4: KID},
    "alg as float": {1: -8.0, 4: KID},
    "alg as bool": {1: True, 4: KID},
    "alg null": {1: None, 4: KID},
    "kid as text": {1: -8, 4: "kid"},
    "kid as int": {1: -8, 4: 1},
    "kid empty": {1: -8, 4: b""},
    "kid 17 bytes": {1: -8, 4: bytes(17)},
    "alg label as float": {1.0: -8, 4: KID},
    "alg label as true": {True: -8, 4: KID},
    "kid label as float": {1: -8, 4.0: KID},
    "nested value": {1: [-8], 4: KID},
}


@pytest.mark.parametrize("header", BAD_PROTECTED.values(), ids=BAD_PROTECTED.keys())
def test_protected_header_refused(header: object) -> None:
    with pytest.raises(COSEError):
        cose.parse_protected(cbor2.dumps(header))


BAD_PROTECTED_BYTES = {
    "empty (COSE's empty header, never written here)": b"",
    "trailing bytes": PROTECTED_SIGN + b"\x00",
    "an array": b"\x82\x01\x27",
    "duplicate label": b"\xa2\x01\x27\x01\x27",
    "indefinite map": b"\xbf\x01\x27\x04\x44" + KID + b"\xff",
    "alg label as simple(1)": b"\xa2\xe1\x27\x04\x44" + KID,
    "tagged label": b"\xa2\xd8\x18\x01\x27\x04\x44" + KID,
}


@pytest.mark.parametrize("raw", BAD_PROTECTED_BYTES.values(), ids=BAD_PROTECTED_BYTES.keys())
def test_protected_header_bytes_refused(raw: bytes) -> None:
    with pytest.raises(COSEError):
        cose.parse_protected(raw)


def test_protected_header_key_order_is_free() -> None:
    """Another encoder may write kid first; the bytes are signed as they are."""
    header = cose.parse_protected(cbor2.dumps({4: KID, 1: -8}))
    assert (header.alg, header.kid) == (-8, KID)


# --- COSE_Sign1 -----------------------------------------------------------

SIG = bytes(64)
SIGN1_ITEMS = cbor2.dumps([PROTECTED_SIGN, {}, b"p", SIG])[1:]  # the items without the head
BAD_SIGN1 = {
    "untagged": cbor2.dumps([PROTECTED_SIGN, {}, b"p", SIG]),
    "tag 16": encrypt0([PROTECTED_SIGN, {}, b"p", SIG]),
    "tag 98 (COSE_Sign)": cbor2.dumps(cbor2.CBORTag(98, [PROTECTED_SIGN, {}, b"p", SIG])),
    "tag 18 in two bytes": b"\xd8\x12" + cbor2.dumps([PROTECTED_SIGN, {}, b"p", SIG]),
    "double tag": b"\xd2\xd2" + cbor2.dumps([PROTECTED_SIGN, {}, b"p", SIG]),
    "three elements": sign1([PROTECTED_SIGN, {}, b"p"]),
    "five elements": sign1([PROTECTED_SIGN, {}, b"p", SIG, b""]),
    "empty array": sign1([]),
    "a map": sign1({1: 2}),
    "a byte string": sign1(b"x"),
    "kid in unprotected": sign1([PROTECTED_SIGN, {4: KID}, b"p", SIG]),
    "alg in unprotected": sign1([PROTECTED_SIGN, {1: -8}, b"p", SIG]),
    "crit in unprotected": sign1([PROTECTED_SIGN, {2: [99]}, b"p", SIG]),
    "unprotected as array": sign1([PROTECTED_SIGN, [], b"p", SIG]),
    "unprotected null": sign1([PROTECTED_SIGN, None, b"p", SIG]),
    "protected as map": sign1([{1: -8, 4: KID}, {}, b"p", SIG]),
    "detached payload": sign1([PROTECTED_SIGN, {}, None, SIG]),
    "payload as text": sign1([PROTECTED_SIGN, {}, "p", SIG]),
    "signature as text": sign1([PROTECTED_SIGN, {}, b"p", "s"]),
    "signature as array": sign1([PROTECTED_SIGN, {}, b"p", [SIG]]),
    "bad protected inside": sign1([cbor2.dumps({1: -8}), {}, b"p", SIG]),
    "trailing bytes": sign1([PROTECTED_SIGN, {}, b"p", SIG]) + b"\x00",
    "indefinite array": b"\xd2\x9f" + SIGN1_ITEMS + b"\xff",
    "over-long array head": b"\xd2\x98\x04" + SIGN1_ITEMS,
    "over-long payload head": b"\xd2\x84" + cbor2.dumps(PROTECTED_SIGN) + b"\xa0\x58\x01p"
    + cbor2.dumps(SIG),
    "nested deeper": sign1([PROTECTED_SIGN, {}, b"p", [[SIG]]]),
    "empty": b"",
    "only the tag": b"\xd2",
}


@pytest.mark.parametrize("data", BAD_SIGN1.values(), ids=BAD_SIGN1.keys())
def test_sign1_refused(data: bytes) -> None:
    with pytest.raises(COSEError):
        cose.decode_sign1(data)


# --- COSE_Encrypt0 --------------------------------------------------------

CT = bytes(40)
BAD_ENCRYPT0 = {
    "untagged": cbor2.dumps([PROTECTED_ENC, {5: IV}, CT]),
    "tag 18": sign1([PROTECTED_ENC, {5: IV}, CT]),
    "tag 96 (COSE_Encrypt)": cbor2.dumps(cbor2.CBORTag(96, [PROTECTED_ENC, {5: IV}, CT])),
    "self-describe tag first": b"\xd9\xd9\xf7" + encrypt0([PROTECTED_ENC, {5: IV}, CT]),
    "two elements": encrypt0([PROTECTED_ENC, {5: IV}]),
    "four elements": encrypt0([PROTECTED_ENC, {5: IV}, CT, []]),
    "kid in unprotected": encrypt0([PROTECTED_ENC, {4: KID, 5: IV}, CT]),
    "kid only in unprotected": encrypt0([cbor2.dumps({1: 10}), {4: KID, 5: IV}, CT]),
    "alg in unprotected": encrypt0([PROTECTED_ENC, {1: 10, 5: IV}, CT]),
    "crit in unprotected": encrypt0([PROTECTED_ENC, {2: [99], 5: IV}, CT]),
    "partial iv": encrypt0([PROTECTED_ENC, {6: IV}, CT]),
    "iv and partial iv": encrypt0([PROTECTED_ENC, {5: IV, 6: b"\x01"}, CT]),
    "no iv": encrypt0([PROTECTED_ENC, {}, CT]),
    "iv as text": encrypt0([PROTECTED_ENC, {5: "iv"}, CT]),
    "iv as int": encrypt0([PROTECTED_ENC, {5: 0}, CT]),
    "iv label as float": encrypt0([PROTECTED_ENC, {5.0: IV}, CT]),
    "iv label as simple(5)": b"\xd0\x83" + cbor2.dumps(PROTECTED_ENC) + b"\xa1\xe5"
    + cbor2.dumps(IV) + cbor2.dumps(CT),
    "over-long iv head": b"\xd0\x83" + cbor2.dumps(PROTECTED_ENC) + b"\xa1\x05\x58\x0d" + IV
    + cbor2.dumps(CT),
    "over-long iv label": b"\xd0\x83" + cbor2.dumps(PROTECTED_ENC) + b"\xa1\x18\x05"
    + cbor2.dumps(IV) + cbor2.dumps(CT),
    "over-long ciphertext head": b"\xd0\x83" + cbor2.dumps(PROTECTED_ENC)
    + cbor2.dumps({5: IV}) + b"\x59\x00\x28" + CT,
    "unprotected as array": encrypt0([PROTECTED_ENC, [IV], CT]),
    "protected as map": encrypt0([{1: 10, 4: KID}, {5: IV}, CT]),
    "empty protected": encrypt0([b"", {5: IV}, CT]),
    "ciphertext as text": encrypt0([PROTECTED_ENC, {5: IV}, "ct"]),
    "ciphertext null": encrypt0([PROTECTED_ENC, {5: IV}, None]),
    "trailing bytes": encrypt0([PROTECTED_ENC, {5: IV}, CT]) + b"\x00",
    "duplicate iv": b"\xd0\x83" + cbor2.dumps(PROTECTED_ENC) + b"\xa2\x05" + cbor2.dumps(IV)
    + b"\x05" + cbor2.dumps(IV) + cbor2.dumps(CT),
    "nested deeper": encrypt0([PROTECTED_ENC, {5: [IV]}, CT]),
    "tagged ciphertext": b"\xd0\x83" + cbor2.dumps(PROTECTED_ENC) + cbor2.dumps({5: IV})
    + b"\xd8\x18" + cbor2.dumps(CT),
}


@pytest.mark.parametrize("data", BAD_ENCRYPT0.values(), ids=BAD_ENCRYPT0.keys())
def test_encrypt0_refused(data: bytes) -> None:
    with pytest.raises(COSEError):
        cose.decode_encrypt0(data)


def test_encrypt0_unprotected_alternatives_decode_to_the_same_values() -> None:
    """The refused framings above really are other encodings of a valid envelope.

    (So the deterministic-encoding check, not some other check, refuses them.)
    """
    canonical = cose.encode_encrypt0(PROTECTED_ENC, IV, CT)
    for name in ("iv label as simple(5)", "over-long iv head", "over-long iv label",
                 "over-long ciphertext head"):
        value = cbor2.loads(BAD_ENCRYPT0[name][1:])
        assert value == cbor.loads(canonical[1:], max_depth=2), name


# --- the layout readers are the strict decoders -----------------------------
#
# decode_sign1 / decode_encrypt0 read the deterministic layout byte by byte.
# Their definition is the general one: one strict CBOR item (codec.cbor.loads)
# of the right shape that re-encodes to the same bytes.  These tests hold the
# two equal on every single-byte change, insertion, deletion and truncation
# of valid messages (and on random bytes), both ways: accepted with the same
# parts, or refused by both.


def _strict_parts(data: bytes, tag: bytes, size: int) -> tuple[object, ...] | None:
    """The general definition: the parts, or None if it refuses ``data``."""
    if data[:1] != tag:
        return None
    try:
        items = cbor.loads(data[1:], max_depth=2)
    except cbor.CBORError:
        return None
    if type(items) is not list or len(items) != size:
        return None
    return tuple(items)


def _sign1_reference(data: bytes) -> tuple[bytes, bytes, bytes] | None:
    items = _strict_parts(data, b"\xd2", 4)
    if items is None:
        return None
    protected, unprotected, payload, signature = items
    if (type(protected) is not bytes or type(payload) is not bytes
            or type(signature) is not bytes or type(unprotected) is not dict or unprotected
            or cose.encode_sign1(protected, payload, signature) != data):
        return None
    return protected, payload, signature


def _encrypt0_reference(data: bytes) -> tuple[bytes, bytes, bytes] | None:
    items = _strict_parts(data, b"\xd0", 3)
    if items is None:
        return None
    protected, unprotected, ciphertext = items
    if (type(protected) is not bytes or type(ciphertext) is not bytes
            or type(unprotected) is not dict or unprotected.keys() != {cose.IV}):
        return None
    iv = unprotected[cose.IV]
    if type(iv) is not bytes or cose.encode_encrypt0(protected, iv, ciphertext) != data:
        return None
    return protected, iv, ciphertext


def _read(decode: object, data: bytes) -> tuple[bytes, bytes, bytes] | None:
    try:
        if decode is cose.decode_sign1:
            m = cose.decode_sign1(data)
            return m.protected, m.payload, m.signature
        e = cose.decode_encrypt0(data)
        return e.protected, e.iv, e.ciphertext
    except COSEError:
        return None


def _variants(data: bytes) -> list[bytes]:
    out = [data[:n] for n in range(len(data))] + [data + b"\x00", data + data]
    for i in range(len(data)):
        for value in {0x00, 0x17, 0x18, 0x19, 0x40, 0x58, 0x59, 0xA0, 0xA1, 0xFF,
                      data[i] ^ 0x01, data[i] ^ 0x20, (data[i] + 1) & 0xFF}:
            out.append(data[:i] + bytes((value,)) + data[i + 1:])
        out.append(data[:i] + data[i + 1:])
        out.append(data[:i] + b"\x00" + data[i:])
    return out


_VALID = [
    ("sign1", cose.decode_sign1, _sign1_reference,
     cose.encode_sign1(PROTECTED_SIGN, b"claims" * 5, SIG)),
    ("sign1 empty payload", cose.decode_sign1, _sign1_reference,
     cose.encode_sign1(PROTECTED_SIGN, b"", SIG)),
    ("sign1 300-byte payload", cose.decode_sign1, _sign1_reference,
     cose.encode_sign1(PROTECTED_SIGN, bytes(range(256)) + bytes(44), SIG)),
    ("encrypt0", cose.decode_encrypt0, _encrypt0_reference,
     cose.encode_encrypt0(PROTECTED_ENC, IV, CT)),
    ("encrypt0 30-byte ciphertext", cose.decode_encrypt0, _encrypt0_reference,
     cose.encode_encrypt0(PROTECTED_ENC, IV, bytes(30))),
]


@pytest.mark.parametrize(("decode", "reference", "data"), [v[1:] for v in _VALID],
                         ids=[v[0] for v in _VALID])
def test_layout_reader_equals_the_strict_decoder(
        decode: object, reference: object, data: bytes) -> None:
    assert callable(reference)
    assert _read(decode, data) == reference(data) is not None
    accepted = 0
    for variant in _variants(data):
        expected = reference(variant)
        if expected is not None:  # the protected header is checked on top of the envelope
            try:
                cose.parse_protected(expected[0])
            except COSEError:
                expected = None
        assert _read(decode, variant) == expected, variant.hex()
        accepted += expected is not None
    assert accepted > 0  # some variants are still valid messages (changed payload bytes)


@given(st.binary(max_size=80), st.sampled_from([b"\xd2\x84", b"\xd0\x83", b"\xd2", b""]))
@settings(deadline=None, max_examples=300)
def test_layout_reader_equals_the_strict_decoder_on_random_bytes(
        tail: bytes, head: bytes) -> None:
    data = head + tail
    for decode, reference in ((cose.decode_sign1, _sign1_reference),
                              (cose.decode_encrypt0, _encrypt0_reference)):
        expected = reference(data)
        if expected is not None:
            try:
                cose.parse_protected(expected[0])
            except COSEError:
                expected = None
        assert _read(decode, data) == expected


# --- the one COSE_Sign1 envelope reader (tokens, trust and status lists, records) ---

# The protected headers of the four kinds of signed object: the envelope reader
# returns them unread (each kind's own parser requires its own header).
PROTECTED_KINDS = {
    "token": PROTECTED_SIGN,
    "trust list": cbor2.dumps({1: -8, 3: "application/ecert-trust-list+cbor", 4: KID}),
    "status list": cbor2.dumps({1: -8, 4: KID, 16: "application/statuslist+cwt"}),
    "receipt": cbor2.dumps({1: -8, 3: "application/ecert-receipt+cbor", 4: KID}),
}


@pytest.mark.parametrize("protected", PROTECTED_KINDS.values(), ids=PROTECTED_KINDS.keys())
@pytest.mark.parametrize("size", [0, 1, 23, 24, 255, 256, 65_535, 65_536])
def test_sign1_envelope_round_trips(protected: bytes, size: int) -> None:
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    data = cose.encode_sign1(protected, payload, SIG)
    assert data == b"\xd2" + cbor2.dumps([protected, {}, payload, SIG])
    parts = cose.sign1_envelope(data)
    assert parts == (protected, payload, SIG)
    assert all(type(part) is bytes for part in parts)


# Everything decode_sign1 refuses for its envelope, the envelope reader refuses too
# (its protected-header check is the caller's own, see the test after this one).
ENVELOPE_FAULTS = {k: v for k, v in BAD_SIGN1.items() if k != "bad protected inside"} | {
    "over-long protected head": b"\xd2\x84" + long_bstr(PROTECTED_SIGN) + b"\xa0"
    + cbor2.dumps(b"p") + cbor2.dumps(SIG),
    "over-long signature head": b"\xd2\x84" + cbor2.dumps(PROTECTED_SIGN) + b"\xa0"
    + cbor2.dumps(b"p") + long_bstr(SIG),
    "payload head in four bytes": b"\xd2\x84" + cbor2.dumps(PROTECTED_SIGN) + b"\xa0"
    + long_bstr(b"p") + cbor2.dumps(SIG),
    "indefinite payload": b"\xd2\x84" + cbor2.dumps(PROTECTED_SIGN) + b"\xa0\x5f\x41p\xff"
    + cbor2.dumps(SIG),
    "indefinite empty unprotected": b"\xd2\x84" + cbor2.dumps(PROTECTED_SIGN) + b"\xbf\xff"
    + cbor2.dumps(b"p") + cbor2.dumps(SIG),
    "unprotected as two-byte empty map": b"\xd2\x84" + cbor2.dumps(PROTECTED_SIGN)
    + b"\xb8\x00" + cbor2.dumps(b"p") + cbor2.dumps(SIG),
    "tag 17 (COSE_Mac0)": b"\xd1\x84" + SIGN1_ITEMS,
    "tag 18 inside the array": sign1([PROTECTED_SIGN, {}, cbor2.CBORTag(18, b"p"), SIG]),
    "tagged payload": b"\xd2\x84" + cbor2.dumps(PROTECTED_SIGN) + b"\xa0\xd8\x18"
    + cbor2.dumps(b"p") + cbor2.dumps(SIG),
    "array head of five with four items": b"\xd2\x85" + SIGN1_ITEMS,
    "array head of four with five items": b"\xd2\x84" + SIGN1_ITEMS + b"\x40",
    "items cut short": sign1([PROTECTED_SIGN, {}, b"p", SIG])[:-1],
    "not bytes": "\xd2\x84",
}


@pytest.mark.parametrize("data", ENVELOPE_FAULTS.values(), ids=ENVELOPE_FAULTS.keys())
def test_sign1_envelope_refused(data: bytes) -> None:
    with pytest.raises(COSEError):
        cose.sign1_envelope(data)


def test_sign1_envelope_leaves_the_protected_header_to_the_caller() -> None:
    data = BAD_SIGN1["bad protected inside"]
    assert cose.sign1_envelope(data)[0] == cbor2.dumps({1: -8})
    with pytest.raises(COSEError):
        cose.decode_sign1(data)


def test_sign1_envelope_refusals_are_other_encodings_of_a_valid_envelope() -> None:
    """The non-deterministic framings decode (leniently) to the valid envelope's items,
    so it is the one-byte-form rule, not a shape check, that refuses them."""
    canonical = [PROTECTED_SIGN, {}, b"p", SIG]
    for name in ("over-long protected head", "over-long signature head",
                 "payload head in four bytes", "indefinite empty unprotected",
                 "unprotected as two-byte empty map", "over-long array head"):
        assert cbor2.loads(ENVELOPE_FAULTS[name][1:]) == canonical, name


def test_every_truncation_and_extension_of_an_envelope_is_refused() -> None:
    data = cose.encode_sign1(PROTECTED_SIGN, b"payload", SIG)
    for end in range(len(data)):
        with pytest.raises(COSEError):
            cose.sign1_envelope(data[:end])
    for extra in (b"\x00", b"\x40", b"\xa0", data):
        with pytest.raises(COSEError):
            cose.sign1_envelope(data + extra)


@settings(max_examples=500, deadline=None, derandomize=True)
@given(st.one_of(st.binary(max_size=200), st.binary(max_size=120).map(lambda b: b"\xd2" + b),
                 st.binary(max_size=120).map(lambda b: b"\xd2\x84" + b)))
def test_sign1_envelope_accepts_only_its_own_encoding(data: bytes) -> None:
    """Any bytes: refused with COSEError, or exactly the encoding of the parts returned."""
    try:
        parts = cose.sign1_envelope(data)
    except COSEError:
        return
    assert cose.encode_sign1(*parts) == data
