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


def device_vouchers(keys: KeyDir, issuer: Issuer, credential: Credential,
                    *uses: tuple[TerminalSigningKey, str, int]) -> list[bytes]:
    """One voucher of 500 fen per (terminal, device id as signed, counter), each of its
    own payment code."""
    return [offline_voucher(keys, issuer.mint(credential, PHARMACY), terminal, 500,
                            (device, counter)) for terminal, device, counter in uses]


def version1_ledger(path: Path, records: RecordVerifier, *vouchers: bytes) -> None:
    """A ledger file as version 1 left it: ``tests/settlement/ledger_v1.sql`` and the
    vouchers stored with their device ids as signed (any case), oldest first."""
    raw = sqlite3.connect(path)
    raw.executescript((Path(__file__).parent / "ledger_v1.sql").read_text())
    for n, data in enumerate(vouchers):
        v = records.voucher(data)
        raw.execute("INSERT INTO settlement_vouchers VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
                    (v.receipt.token_digest, v.receipt.terminal_id, v.device_id,
                     v.device_counter, v.paid_in_full_fen, data, NOW + n))
    raw.commit()
    raw.close()


def raw_sql(path: Path, statement: str) -> list[tuple[object, ...]]:
    """One statement on the file, outside the ledger (committed)."""
    raw = sqlite3.connect(path)
    rows = raw.execute(statement).fetchall()
    raw.commit()
    raw.close()
    return rows


def stored(path: Path) -> list[tuple[object, ...]]:
    """(device id, counter, ledger schema version) per stored voucher, oldest first."""
    return raw_sql(path, "SELECT device_id, device_counter, version FROM settlement_vouchers,"
                         " schema_versions WHERE component = 'settlement-vouchers'"
                         " ORDER BY submitted_at")


def test_a_version1_ledger_is_migrated_to_upper_case(  # noqa: PLR0917
    tmp_path: Path, keys: KeyDir, settling_issuer: Issuer, credential: Credential,
    till: TerminalSigningKey, kiosk: TerminalSigningKey, records: RecordVerifier,
    resolver: Resolver,
) -> None:
    """A voucher stored in lower case before the upgrade, the same device counter
    submitted in upper case after it: a duplicate (version 1 took both)."""
    before, other, after = device_vouchers(
        keys, settling_issuer, credential,
        (till, "phone-7f3a", 41), (till, "tab-9", 3), (kiosk, "PHONE-7F3A", 41))
    db = tmp_path / "ledger-v1.db"
    version1_ledger(db, records, before, other)
    with VoucherLedger(db, records, clock=FixedClock(LATER)) as ledger:
        with pytest.raises(EcertError) as info:
            ledger.submit(after)
        assert info.value.code is ErrorCode.VOUCHER_DUPLICATE
        assert len(ledger.pending()) == 2 and ledger.held() == []
        assert ledger.settle(records.voucher(before).receipt.token_digest, resolver)
    assert stored(db) == [("PHONE-7F3A", 41, 2), ("TAB-9", 3, 2)]
    with VoucherLedger(db, records, clock=FixedClock(LATER)) as again:  # idempotent
        assert len(again.pending()) == 1
        with pytest.raises(EcertError) as info:
            again.submit(after)
        assert info.value.code is ErrorCode.VOUCHER_DUPLICATE
    assert stored(db) == [("PHONE-7F3A", 41, 2), ("TAB-9", 3, 2)]


def test_a_collision_found_by_the_migration_is_held(  # noqa: PLR0917
    tmp_path: Path, keys: KeyDir, settling_issuer: Issuer, credential: Credential,
    till: TerminalSigningKey, kiosk: TerminalSigningKey, records: RecordVerifier,
    resolver: Resolver,
) -> None:
    """Two stored vouchers that are one device counter up to case (a double submission
    version 1 let in): both stay, both held, neither settles; the rest of the ledger
    works and a third voucher of that counter is still refused."""
    lower, mixed, fine, third = device_vouchers(
        keys, settling_issuer, credential, (till, "phone-7f3a", 41), (kiosk, "Phone-7F3a", 41),
        (till, "phone-7f3a", 42), (kiosk, "PHONE-7F3A", 41))
    db = tmp_path / "ledger-v1.db"
    version1_ledger(db, records, lower, mixed, fine)
    digests = [records.voucher(v).receipt.token_digest for v in (lower, mixed, fine)]
    with VoucherLedger(db, records, clock=FixedClock(LATER)) as ledger:
        assert ledger.held() == sorted((d, "device_case_collision") for d in digests[:2])
        assert ledger.pending() == [digests[2]]
        for digest in digests[:2]:
            with pytest.raises(EcertError) as info:
                ledger.settle(digest, resolver)
            assert info.value.code is ErrorCode.VOUCHER_DUPLICATE
            assert "phone" not in str(info.value).lower()  # no device id in the message
        with pytest.raises(EcertError) as info:
            ledger.submit(third)
        assert info.value.code is ErrorCode.VOUCHER_DUPLICATE
        ledger.settle(digests[2], resolver)
    assert stored(db) == [("PHONE-7F3A", 41, 2), ("Phone-7F3a", 41, 2), ("PHONE-7F3A", 42, 2)]
    with VoucherLedger(db, records, clock=FixedClock(LATER)) as again:  # idempotent
        assert len(again.held()) == 2 and again.pending() == []


def test_a_failed_migration_changes_nothing(  # noqa: PLR0917
    tmp_path: Path, keys: KeyDir, settling_issuer: Issuer, credential: Credential,
    till: TerminalSigningKey, records: RecordVerifier,
) -> None:
    """A fault part way (here: the held table's name taken by a view, so holding the
    pair fails after the first row was upper-cased): REGISTRY_UNAVAILABLE, the file
    as version 1 left it."""
    vouchers = device_vouchers(keys, settling_issuer, credential,
                               (till, "phone-7f3a", 41), (till, "Phone-7F3a", 41))
    db = tmp_path / "ledger-v1.db"
    version1_ledger(db, records, *vouchers)
    raw_sql(db, "CREATE VIEW settlement_held_vouchers AS SELECT 1")
    with pytest.raises(EcertError) as info:
        VoucherLedger(db, records)
    assert info.value.code is ErrorCode.REGISTRY_UNAVAILABLE
    assert stored(db) == [("phone-7f3a", 41, 1), ("Phone-7F3a", 41, 1)]


def test_a_newer_ledger_is_refused(tmp_path: Path, records: RecordVerifier) -> None:
    db = tmp_path / "ledger-v1.db"
    version1_ledger(db, records)
    raw_sql(db, "UPDATE schema_versions SET version = 3")
    with pytest.raises(EcertError) as info:
        VoucherLedger(db, records)
    assert info.value.code is ErrorCode.REGISTRY_UNAVAILABLE
    tables = raw_sql(db, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    assert tables == [("schema_versions",), ("settlement_vouchers",)]  # nothing written to it
