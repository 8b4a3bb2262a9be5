"""The whole deferred path: the platform is down at payment, the person pays in full,
the terminal signs a voucher; later the voucher is submitted, deduplicated and settled
once, against the real SQLite files of the platform."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ecert_token import BusinessType, Credential, EcertError, ErrorCode, FixedClock, Issuer
from ecert_token.keys.keydir import KeyDir
from ecert_token.keys.terminal import TerminalSigningKey
from ecert_token.settlement import (
    Person,
    Receipt,
    RecordVerifier,
    Resolver,
    Voucher,
    VoucherLedger,
    sign_record,
)
from ecert_token.settlement.ledger import VOUCHER_WINDOW
from tests.conftest import NOW, running_verifier

PHARMACY = BusinessType.PHARMACY_PURCHASE
LATER = NOW + 3 * 86_400


def offline_voucher(keys: KeyDir, token: str, terminal: TerminalSigningKey, amount: int,
                    device: tuple[str, int] | None = None) -> bytes:
    """What an offline terminal does: verify with its own replay store, sign a voucher."""
    verified = running_verifier(keys.trust_store()).verify(token, PHARMACY, now=NOW)
    receipt = Receipt.of_verified(verified, terminal, NOW + 2, amount_fen=amount)
    return sign_record(Voucher(receipt, amount, "RX-20260921-0001", *(device or (None, None))),
                       terminal)


def test_deferred_path_end_to_end(  # noqa: PLR0917
    tmp_path: Path, keys: KeyDir, settling_issuer: Issuer, credential: Credential,
    till: TerminalSigningKey, kiosk: TerminalSigningKey, records: RecordVerifier,
    resolver: Resolver, citizen: Person,
) -> None:
    token = settling_issuer.mint(credential, PHARMACY)
    first = offline_voucher(keys, token, till, 12_800)
    # The same payment code at a second offline terminal (its own replay store).
    second = offline_voucher(keys, token, kiosk, 12_800)
    db = tmp_path / "platform.db"  # the same file as the person registry could be
    with VoucherLedger(db, records, clock=FixedClock(LATER)) as ledger:
        voucher = ledger.submit(first)
        assert voucher.paid_in_full_fen == 12_800
        with pytest.raises(EcertError) as info:
            ledger.submit(second)
        assert info.value.code is ErrorCode.VOUCHER_DUPLICATE
        with pytest.raises(EcertError) as info:
            ledger.submit(first)  # the same voucher twice
        assert info.value.code is ErrorCode.VOUCHER_DUPLICATE
        assert ledger.pending() == [voucher.receipt.token_digest]
        settled = ledger.settle(voucher.receipt.token_digest, resolver)
        assert settled.person == citizen and settled.settled_at == LATER
        assert settled.to_dict()["person"] == citizen.to_dict()
        with pytest.raises(EcertError) as info:
            ledger.settle(voucher.receipt.token_digest, resolver)
        assert info.value.code is ErrorCode.ALREADY_SETTLED
        assert ledger.pending() == []
    with VoucherLedger(db, records, clock=FixedClock(LATER)) as reopened:  # it persisted
        with pytest.raises(EcertError) as info:
            reopened.submit(second)
        assert info.value.code is ErrorCode.VOUCHER_DUPLICATE


def test_device_counter_duplicates(  # noqa: PLR0917
    tmp_path: Path, keys: KeyDir, settling_issuer: Issuer, credential: Credential,
    till: TerminalSigningKey, kiosk: TerminalSigningKey, records: RecordVerifier,
) -> None:
    """Two codes (distinct token ids) that carry the same device counter: the second
    voucher is refused; another counter of the same device is fine."""
    one = offline_voucher(keys, settling_issuer.mint(credential, PHARMACY), till, 500,
                          ("phone-7f3a", 41))
    two = offline_voucher(keys, settling_issuer.mint(credential, PHARMACY), kiosk, 500,
                          ("phone-7f3a", 41))
    three = offline_voucher(keys, settling_issuer.mint(credential, PHARMACY), kiosk, 500,
                            ("phone-7f3a", 42))
    with VoucherLedger(tmp_path / "v.db", records, clock=FixedClock(LATER)) as ledger:
        ledger.submit(one)
        with pytest.raises(EcertError) as info:
            ledger.submit(two)
        assert info.value.code is ErrorCode.VOUCHER_DUPLICATE
        ledger.submit(three)
        assert len(ledger.pending()) == 2


def test_device_ids_compare_in_any_case(  # noqa: PLR0917
    tmp_path: Path, keys: KeyDir, settling_issuer: Issuer, credential: Credential,
    till: TerminalSigningKey, kiosk: TerminalSigningKey, records: RecordVerifier,
) -> None:
    """One device counter, its device id typed by hand in lower case at one terminal
    (signed into the voucher as typed): the second voucher is still a duplicate, and
    the ledger keeps the one (upper case) form."""
    one = offline_voucher(keys, settling_issuer.mint(credential, PHARMACY), till, 500,
                          ("PHONE-7F3A", 41))
    two = offline_voucher(keys, settling_issuer.mint(credential, PHARMACY), kiosk, 500,
                          ("phone-7f3a", 41))
    db = tmp_path / "v.db"
    with VoucherLedger(db, records, clock=FixedClock(LATER)) as ledger:
        assert ledger.submit(two).device_id == "phone-7f3a"  # as signed
        with pytest.raises(EcertError) as info:
            ledger.submit(one)
        assert info.value.code is ErrorCode.VOUCHER_DUPLICATE
    with sqlite3.connect(db) as raw:
        assert raw.execute("SELECT device_id FROM settlement_vouchers").fetchall() == [
            ("PHONE-7F3A",)]
    raw.close()


def test_forged_or_too_old_vouchers(  # noqa: PLR0917
    tmp_path: Path, keys: KeyDir, settling_issuer: Issuer, credential: Credential,
    till: TerminalSigningKey, records: RecordVerifier, resolver: Resolver,
) -> None:
    voucher = offline_voucher(keys, settling_issuer.mint(credential, PHARMACY), till, 700)
    with VoucherLedger(tmp_path / "v.db", records, clock=FixedClock(LATER)) as ledger:
        tampered = bytearray(voucher)
        tampered[-3] ^= 0x10
        with pytest.raises(EcertError) as info:
            ledger.submit(bytes(tampered))
        assert info.value.code is ErrorCode.RECEIPT_BAD_SIGNATURE
        assert ledger.pending() == []  # nothing half-written
        digest = ledger.submit(voucher).receipt.token_digest
        with pytest.raises(EcertError) as info:
            ledger.settle(digest, resolver, now=NOW + 60 + VOUCHER_WINDOW + 1)
        assert info.value.code is ErrorCode.HANDLE_EXPIRED
        assert ledger.pending() == [digest]  # still to settle (by hand)
        with pytest.raises(EcertError) as info:
            ledger.settle(b"\x00" * 16, resolver)
        assert info.value.code is ErrorCode.RECEIPT_INVALID
