"""Online payment confirmation: the person approves amount and payee in the app, the
platform records it, the settlement step checks the terminal's own transaction."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecert_token import BusinessType, Credential, EcertError, ErrorCode, FixedClock, Issuer
from ecert_token.codec import cbor
from ecert_token.keys.keydir import KeyDir
from ecert_token.settlement import Confirmations, Resolver, Transaction
from tests.conftest import NOW, running_verifier

PHARMACY = BusinessType.PHARMACY_PURCHASE
SEEN = Transaction(12_800, "P31011500017", "RX-1", "T3101150001", NOW)


def handle_of(keys: KeyDir, issuer: Issuer, credential: Credential) -> str:
    verified = running_verifier(keys.trust_store()).verify(
        issuer.mint(credential, PHARMACY), PHARMACY, now=NOW)
    assert verified.settlement.mdtrt_cert_no is not None
    return verified.settlement.mdtrt_cert_no


def refused(code: ErrorCode, call: object, *args: object) -> None:
    with pytest.raises(EcertError) as info:
        call(*args)  # type: ignore[operator]
    assert info.value.code is code, info.value


def test_approve_then_settle(tmp_path: Path, keys: KeyDir, settling_issuer: Issuer,
                             credential: Credential, resolver: Resolver) -> None:
    handle = handle_of(keys, settling_issuer, credential)
    with Confirmations(tmp_path / "platform.db", clock=FixedClock(NOW)) as platform:
        refused(ErrorCode.CONFIRMATION_MISSING, platform.consume, handle, SEEN)
        platform.approve(handle, SEEN)
        platform.approve(handle, SEEN)  # the app retried: harmless
        refused(ErrorCode.TRANSACTION_MISMATCH, platform.approve, handle,
                dataclasses.replace(SEEN, amount_fen=1))
        for field, value in (("amount_fen", 12_801), ("payee", "P31011500025"),
                             ("order_id", "RX-2")):
            refused(ErrorCode.TRANSACTION_MISMATCH, platform.consume, handle,
                    dataclasses.replace(SEEN, **{field: value}))
        # Another till of the same payee, a few seconds later: same payment.
        charged = dataclasses.replace(SEEN, terminal_id="T3101150009", time=NOW + 20)
        assert platform.consume(handle, charged) == SEEN
        refused(ErrorCode.ALREADY_SETTLED, platform.consume, handle, charged)
        assert resolver.resolve(handle).person.credential_id == credential.credential_id


def test_transaction_binding_bytes() -> None:
    assert cbor.loads(SEEN.encode(), max_depth=1) == {
        1: 12_800, 2: "P31011500017", 3: "RX-1", 4: "T3101150001", 5: NOW}
    counted = dataclasses.replace(SEEN, device_counter=41)
    assert cbor.loads(counted.encode(), max_depth=1)[6] == 41  # type: ignore[index]
    assert counted.digest != SEEN.digest and len(SEEN.digest) == 32


@settings(max_examples=200, derandomize=True, deadline=None)
@given(amount=st.integers(-5, 10**13), order=st.text(max_size=70),
       counter=st.one_of(st.none(), st.integers(-2, 2**41)))
def test_transaction_values(amount: int, order: str, counter: int | None) -> None:
    ok = (0 < amount < 10**12 and 1 <= len(order) <= 64 and order.isascii()
          and order.isprintable() and (counter is None or 0 <= counter < 2**40))
    try:
        Transaction(amount, "P1", order, "T1", NOW, counter)
    except EcertError as exc:
        assert not ok and exc.code is ErrorCode.INVALID_ARGUMENT
    else:
        assert ok


@pytest.mark.parametrize("fields", [
    {1: 12_800, 2: "P31011500017", 3: "RX-1", 4: "T3101150001"},  # the time is missing
    {1: 12_800, 2: "P31011500017", 3: "RX-1", 4: "T3101150001", 5: NOW, 7: 1},  # extra key
    {1: 12_800, 2: "P31011500017", 3: "RX-1", 4: "T3101150001", 5: NOW, 6: 2, "x": 0},
    {True: 12_800, 2: "P31011500017", 3: "RX-1", 4: "T3101150001", 5: NOW},  # key 1 as true
    {1.0: 12_800, 2: "P31011500017", 3: "RX-1", 4: "T3101150001", 5: NOW},  # key 1 as 1.0
    [12_800, "P31011500017", "RX-1", "T3101150001", NOW],  # not a map
])
def test_a_stored_row_with_other_keys_is_a_typed_error(
    tmp_path: Path, keys: KeyDir, settling_issuer: Issuer, credential: Credential,
    fields: object,
) -> None:
    """A confirmation row (written into the real file behind the store's back, as a
    damaged or foreign row would be) whose binding holds other keys than ``encode``
    writes is refused as an invalid stored row, not a KeyError and not a payment
    settled against a silently different transaction."""
    import sqlite3

    path = tmp_path / "platform.db"
    handle = handle_of(keys, settling_issuer, credential)
    with Confirmations(path, clock=FixedClock(NOW)) as platform:
        platform.approve(handle, SEEN)
    with sqlite3.connect(path) as db:
        db.execute("UPDATE settlement_confirmations SET binding = ? WHERE handle = ?",
                   (cbor.dumps(fields), handle))
    db.close()
    with Confirmations(path, clock=FixedClock(NOW)) as platform:
        for call in (platform.consume, platform.approve):
            with pytest.raises(EcertError) as info:
                call(handle, SEEN)
            assert info.value.code is ErrorCode.REGISTRY_UNAVAILABLE, fields
            assert "a stored row is invalid" in str(info.value)
