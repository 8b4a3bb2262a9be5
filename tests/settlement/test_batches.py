"""Batches: CBOR sequences and JSON lines of signed records, and one payment code used
at two offline terminals found in their receipts."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecert_token import Credential, EcertError, ErrorCode, Issuer
from ecert_token.keys.keydir import KeyDir
from ecert_token.keys.terminal import TerminalSigningKey
from ecert_token.settlement import (
    Receipt,
    RecordKind,
    RecordVerifier,
    cbor_sequence,
    double_uses,
    sign_record,
    split_cbor_sequence,
)
from ecert_token.settlement.batches import json_line, read_json_lines
from tests.conftest import NOW, running_verifier
from tests.settlement.test_records import PHARMACY, accepted


def test_batches_and_double_use_at_two_offline_terminals(  # noqa: PLR0917
    keys: KeyDir, settling_issuer: Issuer, credential: Credential, till: TerminalSigningKey,
    kiosk: TerminalSigningKey, records: RecordVerifier,
) -> None:
    """One payment code scanned at two offline terminals with separate replay stores:
    both accept it (neither can know), and the platform finds it in their receipts."""
    token = settling_issuer.mint(credential, PHARMACY)
    signed = []
    for terminal in (till, kiosk):
        verified = running_verifier(keys.trust_store()).verify(token, PHARMACY, now=NOW)
        signed.append(sign_record(Receipt.of_verified(verified, terminal, NOW, amount_fen=990),
                                  terminal))
    other = accepted(keys, settling_issuer, credential, till, 100)
    signed.append(sign_record(other, till))
    batch = cbor_sequence(signed)
    assert split_cbor_sequence(batch) == signed
    receipts = [records.receipt(r) for r in split_cbor_sequence(batch)]
    doubles = double_uses(receipts)
    assert list(doubles.values()) == [[till.terminal_id, kiosk.terminal_id]]
    lines = "\n".join(json_line(r, RecordKind.RECEIPT, v) for r, v in zip(signed, receipts,
                                                                          strict=True))
    assert list(read_json_lines(lines, records)) == receipts
    edited = json.loads(lines.splitlines()[0])
    edited["amount_fen"] = 1
    with pytest.raises(EcertError) as info:
        list(read_json_lines(json.dumps(edited), records))
    assert info.value.code is ErrorCode.RECEIPT_INVALID
    with pytest.raises(EcertError) as info:
        split_cbor_sequence(batch[:-1])
    assert info.value.code is ErrorCode.RECEIPT_INVALID


@settings(max_examples=300, derandomize=True, deadline=None)
@given(data=st.binary(max_size=200))
def test_garbage_batches_are_receipt_invalid(data: bytes) -> None:
    try:
        split_cbor_sequence(data)
    except EcertError as exc:
        assert exc.code is ErrorCode.RECEIPT_INVALID
    texts = ["[]", '{"kind": "receipt"}', '{"kind": 1, "cose": 2}', data.decode("latin-1")]
    for text in [t for t in texts if t.strip()]:
        with pytest.raises(EcertError) as info:
            list(read_json_lines(text + "\n", RecordVerifier([])))
        assert info.value.code in {ErrorCode.RECEIPT_INVALID, ErrorCode.UNKNOWN_TERMINAL}
