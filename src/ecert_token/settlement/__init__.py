"""From scan to settlement: handles, the person registry, the resolver, receipts,
vouchers and payment confirmation (issue #14).

This package sits above :mod:`ecert_token.token` (it reads verified tokens and
the platform's keys); the keyless handle composition a terminal needs lives in
:mod:`ecert_token.model.settlement`.
"""

from ..model.settlement import Settlement, compose_handle, credential_ref, parse_handle
from .batches import cbor_sequence, counter_reuses, double_uses, split_cbor_sequence
from .confirm import Confirmations, Transaction
from .handles import (
    DEFAULT_RESOLVE_WINDOW,
    CheckedHandle,
    HandleChecker,
    HandleKey,
    settlement_token_ids,
)
from .ledger import SettledVoucher, VoucherLedger
from .persons import Person, PersonRegistry
from .records import Receipt, RecordKind, RecordVerifier, Voucher, sign_record
from .resolver import Resolution, Resolver

__all__ = [
    "DEFAULT_RESOLVE_WINDOW",
    "CheckedHandle",
    "Confirmations",
    "HandleChecker",
    "HandleKey",
    "Person",
    "PersonRegistry",
    "Receipt",
    "RecordKind",
    "RecordVerifier",
    "Resolution",
    "Resolver",
    "SettledVoucher",
    "Settlement",
    "Transaction",
    "Voucher",
    "VoucherLedger",
    "cbor_sequence",
    "compose_handle",
    "counter_reuses",
    "credential_ref",
    "double_uses",
    "parse_handle",
    "settlement_token_ids",
    "sign_record",
    "split_cbor_sequence",
]
