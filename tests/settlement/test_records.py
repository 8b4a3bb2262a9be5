"""Signed receipts and vouchers: round trips, every tampered byte refused, forged
and cross-kind records refused, batches as CBOR sequences and JSON lines, and one
payment code used at two offline terminals found in their receipts."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecert_token import BusinessType, Credential, EcertError, ErrorCode, Issuer, TokenRejected
from ecert_token.keys.keydir import KeyDir
from ecert_token.keys.material import KeyState, Validity
from ecert_token.keys.terminal import TerminalKey, TerminalSigningKey, new_terminal_key
from ecert_token.settlement import (
    Receipt,
    RecordKind,
    RecordVerifier,
    Voucher,
    sign_record,
)
from tests.codec.envelopes import loosely_framed
from tests.conftest import NOW, deterministic_random, running_verifier

PHARMACY = BusinessType.PHARMACY_PURCHASE
REFUSED = {ErrorCode.RECEIPT_INVALID, ErrorCode.RECEIPT_BAD_SIGNATURE, ErrorCode.UNKNOWN_TERMINAL}


def accepted(keys: KeyDir, issuer: Issuer, credential: Credential,
             signer: TerminalSigningKey, amount: int = 2_350) -> Receipt:
    verified = running_verifier(keys.trust_store()).verify(
        issuer.mint(credential, PHARMACY), PHARMACY, now=NOW)
    return Receipt.of_verified(verified, signer, NOW + 1, amount_fen=amount, sequence=7)


def test_receipt_round_trip(keys: KeyDir, settling_issuer: Issuer, credential: Credential,
                            till: TerminalSigningKey, records: RecordVerifier) -> None:
    receipt = accepted(keys, settling_issuer, credential, till)
    assert receipt.accepted and receipt.handle is not None and receipt.issuer == "NHSA"
    signed = sign_record(receipt, till)
    assert records.receipt(signed) == receipt
    assert credential.credential_id not in repr(receipt) and receipt.handle not in repr(receipt)


def test_a_refused_code_gets_a_receipt_too(keys: KeyDir, settling_issuer: Issuer,
                                           credential: Credential, till: TerminalSigningKey,
                                           records: RecordVerifier) -> None:
    token = settling_issuer.mint(credential, BusinessType.HOSPITAL_REGISTRATION)
    with pytest.raises(TokenRejected) as info:
        running_verifier(keys.trust_store()).verify(token, PHARMACY, now=NOW)
    receipt = Receipt.of_rejection(token, info.value, PHARMACY, till, NOW)
    assert records.receipt(sign_record(receipt, till)).outcome == "wrong_business_type"


def test_every_flipped_bit_is_refused(keys: KeyDir, settling_issuer: Issuer,
                                      credential: Credential, till: TerminalSigningKey,
                                      records: RecordVerifier) -> None:
    signed = sign_record(accepted(keys, settling_issuer, credential, till), till)
    for bit in range(len(signed) * 8):
        damaged = bytearray(signed)
        damaged[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(EcertError) as info:
            records.receipt(bytes(damaged))
        assert info.value.code in REFUSED, (bit, info.value)


def test_forged_receipts(keys: KeyDir, settling_issuer: Issuer, credential: Credential,
                         till: TerminalSigningKey, records: RecordVerifier) -> None:
    receipt = accepted(keys, settling_issuer, credential, till)
    # An impostor with the same filing number but its own key: not trusted.
    impostor = new_terminal_key(till.terminal_id, till.institution, deterministic_random(b"x"))
    with pytest.raises(EcertError) as info:
        records.receipt(sign_record(receipt, impostor))
    assert info.value.code is ErrorCode.UNKNOWN_TERMINAL
    # The impostor's signature under the trusted kid: the signature fails.
    forged = sign_record(receipt, impostor).replace(impostor.kid, till.kid)
    with pytest.raises(EcertError) as info:
        records.receipt(forged)
    assert info.value.code is ErrorCode.RECEIPT_BAD_SIGNATURE
    # A trusted terminal cannot sign in another terminal's name.
    other = new_terminal_key("T9999", "H11010500001", deterministic_random(b"other"))
    with pytest.raises(EcertError):
        sign_record(receipt, other)


def test_a_revoked_or_expired_terminal_key(keys: KeyDir, settling_issuer: Issuer,
                                           credential: Credential,
                                           till: TerminalSigningKey) -> None:
    signed = sign_record(accepted(keys, settling_issuer, credential, till), till)
    public = till.public
    for key in (TerminalKey(public.terminal_id, public.institution, public.kid,
                            public.public_key, state=KeyState.REVOKED),
                TerminalKey(public.terminal_id, public.institution, public.kid,
                            public.public_key, Validity(None, NOW))):
        with pytest.raises(EcertError) as info:
            RecordVerifier([key]).receipt(signed)
        assert info.value.code is ErrorCode.UNKNOWN_TERMINAL


def test_a_voucher_is_not_a_receipt_nor_the_reverse(
    keys: KeyDir, settling_issuer: Issuer, credential: Credential, till: TerminalSigningKey,
    records: RecordVerifier,
) -> None:
    receipt = accepted(keys, settling_issuer, credential, till)
    voucher = Voucher(receipt, 2_350, "ORDER-1")
    signed_voucher, signed_receipt = sign_record(voucher, till), sign_record(receipt, till)
    assert records.voucher(signed_voucher) == voucher
    for data, kind in ((signed_voucher, RecordKind.RECEIPT), (signed_receipt, RecordKind.VOUCHER)):
        with pytest.raises(EcertError) as info:
            records.verify(data, kind)
        assert info.value.code is ErrorCode.RECEIPT_INVALID


@pytest.mark.parametrize(("paid", "order", "device"), [
    (2_349, "O-1", None), (2_350, "", None), (2_350, "订单", None), (2_350, "O-1", ("d1", None)),
])
def test_invalid_vouchers(  # noqa: PLR0917
    keys: KeyDir, settling_issuer: Issuer, credential: Credential,
    till: TerminalSigningKey, paid: int, order: str,
    device: tuple[str, int | None] | None) -> None:
    receipt = accepted(keys, settling_issuer, credential, till)
    with pytest.raises(EcertError) as info:
        Voucher(receipt, paid, order, *(device or (None, None)))
    assert info.value.code is ErrorCode.INVALID_ARGUMENT


@settings(max_examples=300, derandomize=True, deadline=None)
@given(data=st.binary(max_size=200))
def test_garbage_is_refused_with_a_record_code(data: bytes) -> None:
    verifier = RecordVerifier([new_terminal_key("T1", "P1", deterministic_random(b"g")).public])
    for kind in RecordKind:
        with pytest.raises(EcertError) as info:
            verifier.verify(data, kind)
        assert info.value.code in REFUSED


@settings(max_examples=150, derandomize=True, deadline=None)
@given(digest=st.binary(min_size=16, max_size=16),
       issuer=st.one_of(st.none(), st.from_regex(r"[A-Z]{1,8}", fullmatch=True)),
       business=st.sampled_from(BusinessType),
       time=st.integers(0, 2**40 - 1),
       outcome=st.sampled_from(["accepted", *(c.value for c in ErrorCode)]),
       amount=st.one_of(st.none(), st.integers(0, 10**12 - 1)),
       sequence=st.integers(0, 2**63 - 1))
def test_any_receipt_round_trips(  # noqa: PLR0917
    digest: bytes, issuer: str | None, business: BusinessType, time: int, outcome: str,
    amount: int | None, sequence: int,
) -> None:
    signer = new_terminal_key("T1", "P1", deterministic_random(b"rt"))
    receipt = Receipt(digest, issuer, business, "P1", "T1", time, outcome, None, amount,
                      sequence)
    assert RecordVerifier([signer.public]).receipt(sign_record(receipt, signer)) == receipt


def _signed_payload(signer: TerminalSigningKey, kind: RecordKind, payload: object) -> bytes:
    """A record whose payload is anything, validly signed by a trusted terminal."""
    from ecert_token.codec import cbor
    from ecert_token.settlement.records import _protected, _to_be_signed

    protected = _protected(kind, signer.kid)
    body = cbor.dumps(payload)
    signature = signer.private_key.sign(_to_be_signed(protected, kind, body))
    return b"\xd2" + cbor.dumps([protected, {}, body, signature])


FIELD_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-2, 2**64), st.text(max_size=50),
    st.binary(max_size=20), st.lists(st.integers(), max_size=2),
    st.sampled_from(["accepted", "T1", "P1", "replayed", "AFVLCO54E4ECDXI4DBUZEW47KHWBORVCCC37FMQJ",
                     2121, 1301, 1101, bytes(16)]),
)


@settings(max_examples=400, derandomize=True, deadline=None)
@given(payload=st.dictionaries(st.integers(0, 16), FIELD_VALUES, max_size=16),
       kind=st.sampled_from(RecordKind))
def test_signed_garbage_payloads_are_receipt_invalid(payload: dict[int, object],
                                                     kind: RecordKind) -> None:
    """A trusted terminal signing nonsense: refused as RECEIPT_INVALID, never another error."""
    signer = new_terminal_key("T1", "P1", deterministic_random(b"pl"))
    data = _signed_payload(signer, kind, payload)
    try:
        RecordVerifier([signer.public]).verify(data, kind)
    except EcertError as exc:
        assert exc.code is ErrorCode.RECEIPT_INVALID


@pytest.mark.parametrize(("field", "value"), [(8, [1]), (8, b"accepted"), (14, 7), (14, b"d"),
                                             (15, "3"), (13, 5)])
def test_wrong_types_in_a_signed_voucher(  # noqa: PLR0917
    keys: KeyDir, settling_issuer: Issuer, credential: Credential, till: TerminalSigningKey,
    field: int, value: object,
) -> None:
    voucher = Voucher(accepted(keys, settling_issuer, credential, till), 2_350, "O-1",
                      "phone-1", 3)
    payload = voucher.fields()
    payload[field] = value
    with pytest.raises(EcertError) as info:
        RecordVerifier([till.public]).voucher(_signed_payload(till, RecordKind.VOUCHER, payload))
    assert info.value.code is ErrorCode.RECEIPT_INVALID


def test_a_loosely_framed_record_is_refused(keys: KeyDir, settling_issuer: Issuer,
                                            credential: Credential, till: TerminalSigningKey,
                                            records: RecordVerifier) -> None:
    """One byte form only: the same signed receipt with a longer length head is invalid
    (it used to verify, since the signature does not cover the framing)."""
    signed = sign_record(accepted(keys, settling_issuer, credential, till), till)
    with pytest.raises(EcertError) as info:
        records.receipt(loosely_framed(signed))
    assert info.value.code is ErrorCode.RECEIPT_INVALID


def _signed_with_header(signer: TerminalSigningKey, kind: RecordKind, header: bytes,
                        payload: bytes) -> bytes:
    """A record with any protected header bytes, validly signed by a trusted terminal."""
    from ecert_token.codec import cose
    from ecert_token.settlement.records import _to_be_signed

    return cose.encode_sign1(header, payload,
                             signer.private_key.sign(_to_be_signed(header, kind, payload)))


@pytest.mark.parametrize("alg_label", [True, 1.0])
def test_a_header_label_that_only_compares_equal_is_refused(  # noqa: PLR0917
    keys: KeyDir, settling_issuer: Issuer, credential: Credential, till: TerminalSigningKey,
    records: RecordVerifier, alg_label: object,
) -> None:
    """``{true: -8, 3: cty, 4: kid}``: Python takes ``true`` (and ``1.0``) for the alg
    label 1 in a key set; such a header used to verify (checked on the old code)."""
    from ecert_token.codec import cbor

    receipt = accepted(keys, settling_issuer, credential, till)
    header = cbor.dumps({alg_label: -8, 3: RecordKind.RECEIPT.content_type, 4: till.kid})
    data = _signed_with_header(till, RecordKind.RECEIPT, header, cbor.dumps(receipt.fields()))
    with pytest.raises(EcertError) as info:
        records.receipt(data)
    assert info.value.code is ErrorCode.RECEIPT_INVALID


def test_a_header_not_in_deterministic_form_is_refused(
    keys: KeyDir, settling_issuer: Issuer, credential: Credential, till: TerminalSigningKey,
    records: RecordVerifier,
) -> None:
    """The same header fields in another order, or with an over-long integer head, signed
    by the terminal: one record has one byte form, so both are invalid (both used to
    verify, checked on the old code)."""
    import cbor2

    from ecert_token.codec import cbor
    from ecert_token.settlement.records import _protected

    receipt = accepted(keys, settling_issuer, credential, till)
    payload = cbor.dumps(receipt.fields())
    canonical = _protected(RecordKind.RECEIPT, till.kid)
    assert records.receipt(_signed_with_header(till, RecordKind.RECEIPT, canonical,
                                               payload)) == receipt
    assert canonical[:2] == b"\xa3\x01"
    reordered = cbor2.dumps({4: till.kid, 3: RecordKind.RECEIPT.content_type, 1: -8})
    long_head = b"\xa3\x18\x01" + canonical[2:]  # the label 1 written in two bytes
    for header in (reordered, long_head):
        assert cbor.loads(header, max_depth=1) == cbor.loads(canonical, max_depth=1)
        data = _signed_with_header(till, RecordKind.RECEIPT, header, payload)
        with pytest.raises(EcertError) as info:
            records.receipt(data)
        assert info.value.code is ErrorCode.RECEIPT_INVALID


def test_a_voucher_matches_its_receipts_device_in_any_case(
    keys: KeyDir, settling_issuer: Issuer, credential: Credential, till: TerminalSigningKey,
) -> None:
    """The voucher's device id typed by hand in lower case is the receipt's device
    (device ids compare in upper case, as the ledger does); another counter is not."""
    receipt = replace(accepted(keys, settling_issuer, credential, till),
                      device_id="PHONE-7F3A", device_counter=41)
    voucher = Voucher(receipt, 2_350, "O-1", "phone-7f3a", 41)
    assert (voucher.device_id, voucher.device_counter) == ("PHONE-7F3A", 41)  # the receipt's
    with pytest.raises(EcertError) as info:
        Voucher(receipt, 2_350, "O-1", "phone-7f3a", 42)
    assert info.value.code is ErrorCode.INVALID_ARGUMENT
