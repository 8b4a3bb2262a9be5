"""Offline payment confirmation (holder/payment.py): the device-signed binding, both
flows, the terminal's check, the device counter, and what reaches settlement.

The end-to-end test runs two offline terminals with separate SQLite replay
stores: both accept the same payment presentation (neither can know), and the
platform finds it in their receipts and refuses the second voucher.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from pathlib import Path

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecert_token import ErrorCode, FixedClock, TokenRejected, Verifier, VerifyPolicy
from ecert_token.codec import cbor, cose
from ecert_token.codec.base45 import b45decode, b45encode
from ecert_token.errors import EcertError, InvalidArgument
from ecert_token.holder.challenge import verify_presentation
from ecert_token.holder.payment import (
    BINDING,
    COUNTER_FILE,
    LOCK_FILE,
    Ceiling,
    Charge,
    DeviceCounter,
    PaymentBinding,
    bind,
    check_binding,
    device_id,
)
from ecert_token.holder.presentation import PREFIX, parse, present
from ecert_token.keys.keydir import KeyDir
from ecert_token.keys.terminal import new_terminal_key
from ecert_token.model import BusinessType, PsnCertType, Region
from ecert_token.model.codes import InsuranceType
from ecert_token.registry import HolderPlatform
from ecert_token.replay.sqlite import SqliteReplayStore
from ecert_token.settlement import (
    Person,
    PersonRegistry,
    Receipt,
    RecordVerifier,
    Resolver,
    Voucher,
    VoucherLedger,
    double_uses,
    sign_record,
)
from ecert_token.settlement.batches import counter_reuses
from ecert_token_tools.vectors import seeded_random

from ..conftest import NOW
from .conftest import HOLDER, activation, device

PHARMACY = BusinessType.PHARMACY_PURCHASE
REG = BusinessType.HOSPITAL_REGISTRATION
PAYEE = "P11010500017"
TILL = Charge(2_350, PAYEE, "RX-0001", "T1101050001", NOW - 20)


@pytest.fixture
def phone_credential(platform: HolderPlatform) -> tuple[bytes, bytes]:
    """The holder's credential blob and handle key (from activation)."""
    issued = platform.activate(activation(HOLDER, device(b"phone")))
    assert issued.file.handle_key is not None
    return issued.file.sealed, issued.file.handle_key


def _present(cred: tuple[bytes, bytes], terms: Charge | Ceiling | None, counter: int | None,
             business: BusinessType = PHARMACY, seed: bytes = b"p") -> str:
    return present(cred[0], device(b"phone"), business, now=NOW, handle_key=cred[1],
                   payment=terms, counter=counter, random_bytes=seeded_random(seed))


def _checker(keys: KeyDir) -> Verifier:
    return Verifier(keys.trust_store(), VerifyPolicy(clock=FixedClock(NOW)))


# --- the binding: both flows, the terminal's check ---------------------------------


def test_two_scans_the_terminals_own_transaction_is_accepted(
        keys: KeyDir, phone_credential: tuple[bytes, bytes]) -> None:
    shown = Charge.from_text(TILL.text())  # the phone reads the terminal's QR text
    assert shown == TILL
    text = _present(phone_credential, shown, 7)
    verified = _checker(keys).presentations.check(text, PHARMACY, now=NOW, charge=TILL)
    assert verified.payment is not None and verified.payment.counter == 7
    assert verified.payment_checked
    out = verified.to_dict()["payment"]
    assert out == {"form": "exact", "device_id": device_id(device(b"phone").public_key.raw),
                   "device_counter": 7, "ceiling_fen": None, "checked": True}


@pytest.mark.parametrize("charged", [
    Charge(2_351, PAYEE, "RX-0001", "T1101050001", NOW - 20),      # amount
    Charge(2_350, "P11010500018", "RX-0001", "T1101050001", NOW - 20),  # payee
    Charge(2_350, PAYEE, "RX-0002", "T1101050001", NOW - 20),      # order
    Charge(2_350, PAYEE, "RX-0001", "T1101050002", NOW - 20),      # terminal
    Charge(2_350, PAYEE, "RX-0001", "T1101050001", NOW - 19),      # time
    Charge(2_350, PAYEE, "RX-0001"),                               # terminal and time missing
], ids=["amount", "payee", "order", "terminal", "time", "no-terminal"])
def test_any_difference_from_the_confirmed_transaction_is_a_mismatch(
        keys: KeyDir, phone_credential: tuple[bytes, bytes], charged: Charge) -> None:
    text = _present(phone_credential, TILL, 1)
    with pytest.raises(TokenRejected) as info:
        _checker(keys).presentations.check(text, PHARMACY, now=NOW, charge=charged)
    assert info.value.code is ErrorCode.TRANSACTION_MISMATCH


def test_an_exact_payment_without_terminal_matches_any_till_of_the_payee(
        keys: KeyDir, phone_credential: tuple[bytes, bytes]) -> None:
    text = _present(phone_credential, Charge(2_350, PAYEE, "RX-0001"), 1)
    checker = _checker(keys).presentations
    assert checker.check(text, PHARMACY, now=NOW, charge=TILL).payment_checked
    assert checker.check(text, PHARMACY, now=NOW,
                         charge=Charge(2_350, PAYEE, "RX-0001")).payment_checked


def test_ceiling_one_scan(keys: KeyDir, phone_credential: tuple[bytes, bytes]) -> None:
    checker = _checker(keys).presentations
    text = _present(phone_credential, Ceiling(5_000, PAYEE), 3)
    for amount, order in ((5_000, "A"), (1, "B-any-order")):
        v = checker.check(text, PHARMACY, now=NOW, charge=Charge(amount, PAYEE, order))
        assert v.payment is not None and v.payment.ceiling_fen == 5_000
    for charged in (Charge(5_001, PAYEE, "A"), Charge(100, "P11010500018", "A")):
        with pytest.raises(TokenRejected) as info:
            checker.check(text, PHARMACY, now=NOW, charge=charged)
        assert info.value.code is ErrorCode.TRANSACTION_MISMATCH
    with_order = _present(phone_credential, Ceiling(5_000, PAYEE, "RX-9"), 4)
    checker.check(with_order, PHARMACY, now=NOW, charge=Charge(4_000, PAYEE, "RX-9"))
    with pytest.raises(TokenRejected) as info:
        checker.check(with_order, PHARMACY, now=NOW, charge=Charge(4_000, PAYEE, "RX-8"))
    assert info.value.code is ErrorCode.TRANSACTION_MISMATCH


def test_no_binding_when_the_terminal_asks_for_one_is_confirmation_missing(
        keys: KeyDir, phone_credential: tuple[bytes, bytes]) -> None:
    text = _present(phone_credential, None, None)
    checker = _checker(keys).presentations
    assert checker.check(text, PHARMACY, now=NOW).payment is None  # without a charge: as before
    with pytest.raises(TokenRejected) as info:
        checker.check(text, PHARMACY, now=NOW, charge=TILL)
    assert info.value.code is ErrorCode.CONFIRMATION_MISSING


def test_a_binding_is_for_payment_steps_only(phone_credential: tuple[bytes, bytes]) -> None:
    with pytest.raises(InvalidArgument):
        _present(phone_credential, TILL, 1, business=REG)
    with pytest.raises(InvalidArgument):
        _present(phone_credential, TILL, None)


def _resign(text: str, payload_map: dict[int, object]) -> str:
    """The same presentation with another payload, validly signed by the same device."""
    data = b45decode(text[len(PREFIX):])
    msg = cbor.loads(data[1:], max_depth=8)
    assert isinstance(msg, list)
    protected = msg[0]
    payload = cbor.dumps(payload_map)
    sig = device(b"phone").sign(cose.sig_structure(protected, payload))
    return PREFIX + b45encode(b"\xd2" + cbor.dumps([protected, {}, payload, sig]))


def test_a_binding_on_an_identity_step_is_refused_even_if_signed(
        keys: KeyDir, phone_credential: tuple[bytes, bytes]) -> None:
    text = _present(phone_credential, TILL, 1)
    claims = parse(text).claims
    forged = _resign(text, {4: claims.expires_at, 6: claims.issued_at, 7: claims.presentation_id,
                            -65540: REG.wire, BINDING: [1, bytes(8)]})
    with pytest.raises(TokenRejected) as info:
        _checker(keys).presentations.check(forged, REG, now=NOW)
    assert info.value.code is ErrorCode.MALFORMED


@pytest.mark.parametrize("value", [
    [1], [1, bytes(8), 5, 6], [0, bytes(8)], [2**40, bytes(8)], [1, bytes(7)], [1, bytes(9)],
    [1, "x" * 8], [-1, bytes(8)], [1, bytes(8), 0], [1, bytes(8), 10**12], {1: 1}, 5,
    [True, bytes(8)], [1, bytes(8), -3],
])
def test_malformed_bindings_are_refused(keys: KeyDir, phone_credential: tuple[bytes, bytes],
                                        value: object) -> None:
    text = _present(phone_credential, TILL, 1)
    c = parse(text).claims
    forged = _resign(text, {4: c.expires_at, 6: c.issued_at, 7: c.presentation_id,
                            -65540: PHARMACY.wire, BINDING: value})
    with pytest.raises(TokenRejected) as info:
        _checker(keys).presentations.check(forged, PHARMACY, now=NOW, charge=TILL)
    assert info.value.code is ErrorCode.MALFORMED


def test_every_bit_of_a_bound_presentation_is_covered(
        keys: KeyDir, phone_credential: tuple[bytes, bytes]) -> None:
    """Flip each bit of the decoded presentation: nothing is accepted as it was."""
    text = _present(phone_credential, TILL, 9)
    raw = b45decode(text[len(PREFIX):])
    checker = _checker(keys).presentations
    original = checker.check(text, PHARMACY, now=NOW, charge=TILL)
    for i in range(len(raw)):
        for bit in (0x01, 0x80):
            tampered = PREFIX + b45encode(raw[:i] + bytes([raw[i] ^ bit]) + raw[i + 1:])
            try:
                v = checker.check(tampered, PHARMACY, now=NOW, charge=TILL)
            except EcertError:
                continue
            raise AssertionError(f"byte {i} bit {bit:#x} accepted: {v == original}")


def test_the_counter_is_signed(keys: KeyDir, phone_credential: tuple[bytes, bytes]) -> None:
    """Another counter with the original signature is refused; the digest covers it too."""
    text = _present(phone_credential, TILL, 9)
    p = parse(text)
    assert p.claims.binding is not None
    other = bind(TILL, 10, p.claims.presentation_id)
    assert other.digest != p.claims.binding.digest
    with pytest.raises(TokenRejected) as info:
        check_binding(PaymentBinding(10, p.claims.binding.digest), TILL, p.claims.presentation_id)
    assert info.value.code is ErrorCode.TRANSACTION_MISMATCH
    raw = bytearray(b45decode(text[len(PREFIX):]))
    head = cbor.dumps(BINDING) + b"\x82\x09"
    at = bytes(raw).index(head) + len(head) - 1
    raw[at] = 0x0A
    with pytest.raises(TokenRejected) as info:
        _checker(keys).presentations.check(PREFIX + b45encode(bytes(raw)), PHARMACY, now=NOW,
                                           charge=TILL)
    assert info.value.code is ErrorCode.BAD_SIGNATURE


amounts = st.integers(1, 10**12 - 1)
codes = st.text("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_-", min_size=1, max_size=20)
orders = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1,
                 max_size=64)
charges = st.builds(Charge, amounts, codes, orders) | st.builds(
    Charge, amounts, codes, orders, codes, st.integers(0, 2**40 - 1))


@settings(deadline=None, max_examples=200)
@given(charge=charges, counter=st.integers(1, 2**40 - 1), pid=st.binary(min_size=8, max_size=8),
       other=charges)
def test_binding_property(charge: Charge, counter: int, pid: bytes, other: Charge) -> None:
    b = bind(charge, counter, pid)
    assert PaymentBinding.of_value(cbor.loads(cbor.dumps(b.value()), max_depth=2)) == b
    check_binding(b, charge, pid)
    if charge.terminal_id is not None:
        assert Charge.from_text(charge.text()) == charge
    same = (other.amount_fen, other.payee, other.order_id) == (
        charge.amount_fen, charge.payee, charge.order_id) and (
        charge.terminal_id is None or (other.terminal_id, other.time) == (
            charge.terminal_id, charge.time))
    if not same:
        with pytest.raises(TokenRejected) as info:
            check_binding(b, other, pid)
        assert info.value.code is ErrorCode.TRANSACTION_MISMATCH


@settings(deadline=None, max_examples=200)
@given(terms=st.builds(Ceiling, amounts, codes, st.none() | orders), amount=amounts,
       counter=st.integers(1, 99), pid=st.binary(min_size=8, max_size=8))
def test_ceiling_property(terms: Ceiling, amount: int, counter: int, pid: bytes) -> None:
    ceiling, payee, order = terms.max_fen, terms.payee, terms.order_id
    b = bind(terms, counter, pid)
    charge = Charge(amount, payee, order or "ANY-ORDER")
    if amount <= ceiling:
        check_binding(b, charge, pid)
    else:
        with pytest.raises(TokenRejected):
            check_binding(b, charge, pid)


@settings(deadline=None, max_examples=200)
@given(st.text(max_size=120) | st.binary(max_size=120).map(lambda b: "ET1:" + b45encode(b)))
def test_transaction_text_never_fails_otherwise(text: str) -> None:
    with contextlib.suppress(InvalidArgument):
        Charge.from_text(text)


def test_transaction_text_refuses_noncanonical_and_wrong_fields() -> None:
    good = TILL.text()
    body = cbor.loads(b45decode(good[4:]), max_depth=1)
    assert isinstance(body, dict)
    for bad in ({**body, 6: 1}, {k: v for k, v in body.items() if k != 5}):
        with pytest.raises(InvalidArgument):
            Charge.from_text("ET1:" + b45encode(cbor.dumps(bad)))
    with pytest.raises(InvalidArgument):
        Charge(1, PAYEE, "X").text()  # a shown transaction names its terminal
    with pytest.raises(InvalidArgument):
        Charge(1, PAYEE, "X", "T1", None)


def test_transaction_text_keys_must_be_exactly_integers() -> None:
    """A CBOR ``true`` (simple value 21) where the amount's key 1 belongs compares and
    hashes equal to 1 in Python: the key check refuses it as a wrong field, before any
    value is read (it used to pass the key check and be refused only later, as a text
    not in its canonical form)."""
    body = cbor.loads(b45decode(TILL.text()[4:]), max_depth=1)
    assert isinstance(body, dict)
    # The map with key true (0xf5) in place of 1, in canonical key order (cbor2).
    raw = cbor2.dumps({True if k == 1 else k: v for k, v in body.items()}, canonical=True)
    assert b"\xf5" in raw and cbor.loads(raw, max_depth=1).keys() == body.keys()
    with pytest.raises(InvalidArgument) as caught:
        Charge.from_text("ET1:" + b45encode(raw))
    assert caught.value.detail == "a transaction text has the wrong fields"


# --- the device counter ----------------------------------------------------------------


def test_device_counter_persists_atomically(tmp_path: Path) -> None:
    counter = DeviceCounter(tmp_path)
    assert counter.current() == 0
    assert [counter.next() for _ in range(3)] == [1, 2, 3]
    assert DeviceCounter(tmp_path).next() == 4  # another process, same phone
    assert json.loads((tmp_path / COUNTER_FILE).read_text()) == {"counter": 4}
    assert oct((tmp_path / COUNTER_FILE).stat().st_mode & 0o777) == "0o600"
    assert sorted(p.name for p in tmp_path.iterdir()) == [COUNTER_FILE, LOCK_FILE]  # no temp
    (tmp_path / COUNTER_FILE).write_text("{\"counter\": -1}")
    with pytest.raises(InvalidArgument):
        counter.next()
    (tmp_path / COUNTER_FILE).write_text("not json")
    with pytest.raises(InvalidArgument):
        counter.next()


def test_device_counter_that_cannot_be_written_hands_out_nothing(tmp_path: Path) -> None:
    """A real write fault (the state path is taken by a directory, so the rename fails,
    as root too): no value is returned, and no temporary file is left behind."""
    (tmp_path / COUNTER_FILE).mkdir()
    with pytest.raises(InvalidArgument):
        DeviceCounter(tmp_path).next()
    assert sorted(p.name for p in tmp_path.iterdir()) == [COUNTER_FILE, LOCK_FILE]


_TAKE = """
import sys
from ecert_token.holder.payment import DeviceCounter
counter = DeviceCounter(sys.argv[1])
print(" ".join(str(counter.next()) for _ in range(int(sys.argv[2]))))
"""


def test_device_counter_racing_processes_never_share_a_value(tmp_path: Path) -> None:
    """Four real processes of one phone take 25 values each at the same time: 100
    different values (without the lock two of them read the same last value)."""
    procs = [subprocess.Popen([sys.executable, "-c", _TAKE, str(tmp_path), "25"],
                              stdout=subprocess.PIPE, text=True) for _ in range(4)]
    values = [int(v) for p in procs for v in p.communicate(timeout=120)[0].split()]
    assert all(p.returncode == 0 for p in procs)
    assert sorted(values) == list(range(1, 101))


# --- from scan to settlement: two offline terminals ---------------------------------


def _sqlite_terminal(keys: KeyDir, path: Path) -> Verifier:
    clock = FixedClock(NOW - 3600)  # a till that has been running for an hour
    store = SqliteReplayStore(path, max_lifetime=305, clock=clock, leeway=5)
    clock.now = NOW
    return Verifier(keys.trust_store(), VerifyPolicy(clock=clock), store)


def test_one_payment_presentation_at_two_offline_terminals_is_found_at_settlement(
        tmp_path: Path, keys: KeyDir, platform: HolderPlatform) -> None:
    db = tmp_path / "platform.db"
    with PersonRegistry(db) as persons:
        persons.put(Person(HOLDER, PsnCertType.FOREIGN_PASSPORT, "E12345678", "John Smith",
                           Region("110105"), InsuranceType.EMPLOYEE_BASIC))
    issued = platform.activate(activation(HOLDER, device(b"phone")))
    assert issued.file.handle_key is not None
    counter = DeviceCounter(tmp_path / "phone")
    (tmp_path / "phone").mkdir()
    # One scan under a ceiling the person confirmed on the phone before the visit.
    text = present(issued.file.sealed, device(b"phone"), PHARMACY, now=NOW,
                   handle_key=issued.file.handle_key, payment=Ceiling(10_000, PAYEE),
                   counter=counter.next(), random_bytes=seeded_random(b"pay"))
    tills = [new_terminal_key(f"T110105000{i}", PAYEE, seeded_random(bytes([i])))
             for i in (1, 2)]
    receipts, vouchers = [], []
    for i, till in enumerate(tills):
        terminal = _sqlite_terminal(keys, tmp_path / f"replay-{i}.db")  # separate stores
        charge = Charge(4_800, PAYEE, f"RX-{i}")
        verified = verify_presentation(terminal, text, PHARMACY, charge=charge)
        # The same till cannot take it twice (its own replay store).
        with pytest.raises(TokenRejected) as info:
            verify_presentation(terminal, text, PHARMACY, charge=charge)
        assert info.value.code is ErrorCode.REPLAYED
        receipt = Receipt.of_verified(verified, till, NOW, amount_fen=4_800)
        assert (receipt.device_id, receipt.device_counter) == (verified.device_id, 1)
        receipts.append(RecordVerifier([till.public]).receipt(sign_record(receipt, till)))
        vouchers.append(sign_record(Voucher(receipt, 4_800, f"RX-{i}"), till))

    platform_view = RecordVerifier([t.public for t in tills])
    assert list(double_uses(receipts).values()) == [["T1101050001", "T1101050002"]]
    assert counter_reuses(receipts) == {(receipts[0].device_id, 1): ["T1101050001",
                                                                     "T1101050002"]}
    with PersonRegistry(db) as persons, VoucherLedger(db, platform_view) as ledger:
        submitted = ledger.submit(vouchers[0], now=NOW + 86_400)
        assert (submitted.device_id, submitted.device_counter) == (receipts[0].device_id, 1)
        with pytest.raises(EcertError) as err:
            ledger.submit(vouchers[1], now=NOW + 86_400)
        assert err.value.code is ErrorCode.VOUCHER_DUPLICATE
        resolver = Resolver(keys.issuer_ring, persons)
        settled = ledger.settle(submitted.receipt.token_digest, resolver, now=NOW + 2 * 86_400)
        assert settled.person.certno == "E12345678"
        assert settled.person.psn_name == "John Smith"


def test_a_counter_reused_in_another_presentation_is_found(
        tmp_path: Path, keys: KeyDir, phone_credential: tuple[bytes, bytes]) -> None:
    """A cloned phone (or a rolled-back counter file) shows two presentations with one
    counter: different token digests, one device counter; the ledger refuses the second."""
    texts = [_present(phone_credential, Ceiling(900, PAYEE), 5, seed=s) for s in (b"a", b"b")]
    till = new_terminal_key("T1101050001", PAYEE, seeded_random(b"till"))
    checker = _checker(keys).presentations
    receipts = [Receipt.of_verified(checker.check(t, PHARMACY, now=NOW,
                                                  charge=Charge(900, PAYEE, "O")), till, NOW,
                                    amount_fen=900) for t in texts]
    assert receipts[0].token_digest != receipts[1].token_digest
    assert not double_uses(receipts)
    assert list(counter_reuses(receipts).values()) == [["T1101050001", "T1101050001"]]
    with VoucherLedger(tmp_path / "l.db", RecordVerifier([till.public])) as ledger:
        ledger.submit(sign_record(Voucher(receipts[0], 900, "O"), till))
        with pytest.raises(EcertError) as err:
            ledger.submit(sign_record(Voucher(receipts[1], 900, "O"), till))
        assert err.value.code is ErrorCode.VOUCHER_DUPLICATE


def test_a_voucher_cannot_claim_another_device_than_its_receipt(
        keys: KeyDir, phone_credential: tuple[bytes, bytes]) -> None:
    till = new_terminal_key("T1101050001", PAYEE, seeded_random(b"till"))
    v = _checker(keys).presentations.check(_present(phone_credential, TILL, 2), PHARMACY,
                                           now=NOW, charge=TILL)
    receipt = Receipt.of_verified(v, till, NOW, amount_fen=2_350)
    with pytest.raises(InvalidArgument):
        Voucher(receipt, 2_350, "RX-0001", "OTHERDEVICE", 2)
    assert Voucher(receipt, 2_350, "RX-0001", receipt.device_id, 2).device_counter == 2
