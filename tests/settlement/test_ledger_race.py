"""Several processes race to submit and to settle the same voucher on one SQLite file:
exactly one wins each race, the others get their stable codes."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from ecert_token import BusinessType, Credential, EcertError, FixedClock, Issuer
from ecert_token.keys.keydir import KeyDir
from ecert_token.keys.material import IssuerSigningKey
from ecert_token.keys.terminal import TerminalKey, TerminalSigningKey
from ecert_token.settlement import (
    Person,
    PersonRegistry,
    Receipt,
    RecordVerifier,
    Resolver,
    Voucher,
    VoucherLedger,
    sign_record,
)
from tests.conftest import NOW, running_verifier

WORKERS = 4


def _submit(db: str, terminal: TerminalKey, voucher: bytes) -> str:
    try:
        with VoucherLedger(db, RecordVerifier([terminal]), clock=FixedClock(NOW + 99)) as ledger:
            ledger.submit(voucher)
    except EcertError as exc:
        return exc.code.value
    return "submitted"


def _settle(db: str, terminal: TerminalKey, key: IssuerSigningKey, digest: bytes) -> str:
    try:
        with PersonRegistry(db) as registry, \
                VoucherLedger(db, RecordVerifier([terminal]), clock=FixedClock(NOW + 99)) as ledger:
            ledger.settle(digest, Resolver([key], registry, clock=FixedClock(NOW + 99)))
    except EcertError as exc:
        return exc.code.value
    return "settled"


def test_one_submission_and_one_settlement_win(  # noqa: PLR0917
    tmp_path: Path, keys: KeyDir, settling_issuer: Issuer, credential: Credential,
    till: TerminalSigningKey, citizen: Person,
) -> None:
    db = str(tmp_path / "platform.db")
    with PersonRegistry(db) as registry:
        registry.add(citizen)
    verified = running_verifier(keys.trust_store()).verify(
        settling_issuer.mint(credential, BusinessType.PHARMACY_PURCHASE),
        BusinessType.PHARMACY_PURCHASE, now=NOW)
    receipt = Receipt.of_verified(verified, till, NOW, amount_fen=300)
    voucher = sign_record(Voucher(receipt, 300, "RX-9"), till)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(WORKERS, mp_context=context) as pool:
        submitted = list(pool.map(_submit, [db] * WORKERS, [till.public] * WORKERS,
                                  [voucher] * WORKERS))
        settled = list(pool.map(_settle, [db] * WORKERS, [till.public] * WORKERS,
                                [keys.signing_key] * WORKERS,
                                [receipt.token_digest] * WORKERS))
    assert sorted(submitted) == ["submitted"] + ["voucher_duplicate"] * (WORKERS - 1)
    assert sorted(settled) == ["already_settled"] * (WORKERS - 1) + ["settled"]
