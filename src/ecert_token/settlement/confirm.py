"""Payment confirmation, online mode: the person approves this amount at this payee.

A payment code by itself is a bearer code.  For a platform-minted code the
platform models the person's approval as an API its backend calls:

1. the hospital or pharmacy system scans and verifies the code, and asks the
   platform to settle ``(handle, amount, payee, order)``;
2. the platform pushes that transaction to the person's app; the person
   approves it there, and the app's backend calls :meth:`Confirmations.approve`
   with exactly what the person saw;
3. the settlement step calls :meth:`Confirmations.consume` with the terminal's
   own transaction: refused as CONFIRMATION_MISSING when nothing was
   approved, TRANSACTION_MISMATCH when any field differs from what the person
   approved, ALREADY_SETTLED the second time.

The offline flows (a holder's device signs what the person confirmed inside
its presentation: two scans, or one scan under a ceiling) are
:mod:`ecert_token.holder.payment`; see docs/settlement.md.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

from ..clock import Clock, system_clock
from ..codec import cbor
from ..codec.cbor import CBORError
from ..errors import EcertError, ErrorCode, InvalidArgument
from ..keys.terminal import validate_institution, validate_terminal_id
from ..model.settlement import parse_handle
from .db import Database, guarded, open_db
from .records import MAX_AMOUNT_FEN

SCHEMA_COMPONENT = "settlement-confirmations"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS settlement_confirmations (
    handle TEXT PRIMARY KEY,
    binding BLOB NOT NULL,
    approved_at INTEGER NOT NULL,
    consumed_at INTEGER
);
"""


@dataclass(frozen=True, slots=True)
class Transaction:
    """What the person approves: amount in fen, payee institution, order, terminal, time.

    ``device_counter`` is the holder device's counter in the offline flows
    (None online).  ``time`` is when the terminal created the transaction.
    """

    amount_fen: int
    payee: str
    order_id: str
    terminal_id: str
    time: int
    device_counter: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.amount_fen, bool) or not isinstance(self.amount_fen, int) or not (
            0 < self.amount_fen < MAX_AMOUNT_FEN
        ):
            raise InvalidArgument("amount must be a positive number of fen")
        validate_institution(self.payee)
        validate_terminal_id(self.terminal_id)
        if not isinstance(self.order_id, str) or not 1 <= len(self.order_id) <= 64 or (
            not self.order_id.isascii() or not self.order_id.isprintable()
        ):
            raise InvalidArgument("an order id is 1 to 64 printable ASCII characters")
        for name, value in (("time", self.time), ("device_counter", self.device_counter)):
            if value is None and name == "device_counter":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**40:
                raise InvalidArgument(f"{name} is out of range")

    def encode(self) -> bytes:
        """Deterministic CBOR ``{1: amount, 2: payee, 3: order, 4: terminal, 5: time,
        ? 6: device counter}``: the bytes a holder's device signs offline."""
        fields: dict[int, object] = {1: self.amount_fen, 2: self.payee, 3: self.order_id,
                                     4: self.terminal_id, 5: self.time}
        if self.device_counter is not None:
            fields[6] = self.device_counter
        return cbor.dumps(fields)

    @property
    def digest(self) -> bytes:
        return hashlib.sha256(b"ecert-token transaction v1\x00" + self.encode()).digest()

    def matches(self, other: Transaction) -> bool:
        """Same amount, payee and order (what the person approved and the terminal charges).

        The terminal and the time may differ between the request and the
        charge (a queue moves to another till); money, payee and order may not.
        """
        return (self.amount_fen, self.payee, self.order_id) == (
            other.amount_fen, other.payee, other.order_id)


_KEY_SETS = (frozenset((1, 2, 3, 4, 5)), frozenset((1, 2, 3, 4, 5, 6)))
"""The key sets :meth:`Transaction.encode` writes: online, and with a device counter."""


def _decode(binding: bytes) -> Transaction:
    """A stored row's binding back as its Transaction.

    The row must hold exactly the keys ``encode`` writes, as integers (a CBOR
    ``true`` or ``1.0`` would otherwise find key 1 in a Python dict); a row
    with a key missing, an extra one, or any other damage is a typed error,
    never a KeyError or a silently different transaction.
    """
    try:
        value = cbor.loads(binding, max_depth=1)
    except CBORError:
        raise _invalid_row() from None
    if type(value) is not dict or not all(type(k) is int for k in value) or (
        frozenset(value) not in _KEY_SETS
    ):
        raise _invalid_row()
    try:
        return Transaction(value[1], value[2], value[3], value[4], value[5], value.get(6))
    except EcertError:
        raise _invalid_row() from None


def _invalid_row() -> EcertError:
    return EcertError(ErrorCode.REGISTRY_UNAVAILABLE, "a stored row is invalid")


class Confirmations(Database):
    """The platform's record of approved payments, by settlement handle (SQLite)."""

    def __init__(self, path: str | os.PathLike[str], *, clock: Clock = system_clock) -> None:
        self._clock = clock
        self._db = open_db(path, SCHEMA_COMPONENT, SCHEMA_VERSION, _SCHEMA)

    def approve(self, handle: str, transaction: Transaction, *, now: int | None = None) -> None:
        """Record that the person approved ``transaction`` for the code of ``handle``.

        Approving the same transaction again is harmless; approving a
        different one for the same code is TRANSACTION_MISMATCH (one code,
        one payment).
        """
        parse_handle(handle)
        if not isinstance(transaction, Transaction):
            raise InvalidArgument("transaction must be a Transaction")
        at = self._clock() if now is None else now
        with guarded(self._db, "cannot write the confirmations") as db:
            db.execute("INSERT OR IGNORE INTO settlement_confirmations (handle, binding,"
                       " approved_at) VALUES (?, ?, ?)", (handle.upper(), transaction.encode(), at))
            row = db.execute("SELECT binding FROM settlement_confirmations WHERE handle = ?",
                             (handle.upper(),)).fetchone()
        if row is None or not _decode(bytes(row[0])).matches(transaction):
            raise EcertError(ErrorCode.TRANSACTION_MISMATCH, "another payment was approved")

    def consume(self, handle: str, charged: Transaction, *, now: int | None = None) -> Transaction:
        """Check the terminal's transaction against the approved one and use it up."""
        parse_handle(handle)
        if not isinstance(charged, Transaction):
            raise InvalidArgument("charged must be a Transaction")
        at = self._clock() if now is None else now
        with guarded(self._db, "cannot read the confirmations") as db:
            row = db.execute("SELECT binding, consumed_at FROM settlement_confirmations"
                             " WHERE handle = ?", (handle.upper(),)).fetchone()
        if row is None:
            raise EcertError(ErrorCode.CONFIRMATION_MISSING)
        approved = _decode(bytes(row[0]))
        if not approved.matches(charged):
            raise EcertError(ErrorCode.TRANSACTION_MISMATCH)
        with guarded(self._db, "cannot write the confirmations") as db:
            cursor = db.execute("UPDATE settlement_confirmations SET consumed_at = ?"
                                " WHERE handle = ? AND consumed_at IS NULL", (at, handle.upper()))
        if cursor.rowcount != 1:
            raise EcertError(ErrorCode.ALREADY_SETTLED)
        return approved
