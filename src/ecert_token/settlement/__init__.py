"""From scan to settlement: handles, the person registry, the resolver, receipts,
vouchers and payment confirmation (issue #14).

This package sits above :mod:`ecert_token.token` (it reads verified tokens and
the platform's keys); the keyless handle composition a terminal needs lives in
:mod:`ecert_token.model.settlement`.
"""

from ..model.settlement import Settlement, compose_handle, credential_ref, parse_handle
from .handles import (
    DEFAULT_RESOLVE_WINDOW,
    CheckedHandle,
    HandleChecker,
    HandleKey,
    settlement_token_ids,
)
from .persons import Person, PersonRegistry
from .resolver import Resolution, Resolver

__all__ = [
    "DEFAULT_RESOLVE_WINDOW",
    "CheckedHandle",
    "HandleChecker",
    "HandleKey",
    "Person",
    "PersonRegistry",
    "Resolution",
    "Resolver",
    "Settlement",
    "compose_handle",
    "credential_ref",
    "parse_handle",
    "settlement_token_ids",
]
