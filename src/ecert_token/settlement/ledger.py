"""The platform's voucher ledger: submitted once, settled once (SQLite).

When the platform was unreachable at payment, the person paid in full and the
terminal signed a voucher (:mod:`ecert_token.settlement.records`).  Later the
person or the institution submits it; the platform

1. verifies the terminal's signature (:class:`~.records.RecordVerifier`);
2. refuses a second voucher for the same code (token digest) and, when the
   code came from a holder's device, for the same device counter: one payment
   code used at two offline terminals gives two vouchers, and the second is
   refused here (VOUCHER_DUPLICATE);
3. settles it once: resolves the handle to the person (with a long window,
   the voucher comes days later) and marks it settled (ALREADY_SETTLED after).

A submission and a settlement are each one SQLite statement, so two
processes racing on the same voucher cannot both win.

Device ids are compared in one form, upper case (how
:func:`~ecert_token.holder.payment.device_id` writes them): a voucher whose
device id was typed by hand in lower case still collides with another voucher
of the same device counter.

Schema version 2 (this one) stores every device id in that form.  Version 1
stored the id as it came (before device ids were normalised), and SQLite's
``UNIQUE (device_id, device_counter)`` compares exact text, so ``abc…``/5
stored before the upgrade and ``ABC…``/5 after it would both be taken.
Opening a version-1 file upper-cases its device ids (in Python, as
:func:`normal_device_id` does: SQLite's ``upper()`` is ASCII only), in the
opening's one transaction.  Two stored vouchers that become the same device
counter are a double submission already in the file: neither is dropped nor
chosen.  Both stay (one takes the upper-case id, the other keeps the case it
had), both are **held** (``settlement_held_vouchers``, reason
``device_case_collision``): :meth:`VoucherLedger.settle` refuses them
(VOUCHER_DUPLICATE), :meth:`VoucherLedger.pending` leaves them out and
:meth:`VoucherLedger.held` lists them for an operator to review; every other
voucher settles as before.  See docs/settlement.md#ledger-upgrade.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass

from ..clock import Clock, system_clock
from ..errors import EcertError, ErrorCode, InvalidArgument
from .db import Database, guarded, open_db
from .persons import Person
from .records import RecordVerifier, Voucher, normal_device_id
from .resolver import Resolver

SCHEMA_COMPONENT = "settlement-vouchers"
SCHEMA_VERSION = 2
VOUCHER_WINDOW = 90 * 86_400
"""A voucher's handle resolves for 90 days after the code expired."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS settlement_vouchers (
    token_digest BLOB PRIMARY KEY,
    terminal_id TEXT NOT NULL,
    device_id TEXT,
    device_counter INTEGER,
    amount_fen INTEGER NOT NULL,
    voucher BLOB NOT NULL,
    submitted_at INTEGER NOT NULL,
    settled_at INTEGER,
    UNIQUE (device_id, device_counter)
);
"""
_HELD = """
CREATE TABLE IF NOT EXISTS settlement_held_vouchers (
    token_digest BLOB PRIMARY KEY REFERENCES settlement_vouchers (token_digest),
    reason TEXT NOT NULL,
    held_at INTEGER NOT NULL
) WITHOUT ROWID
"""
HELD_CASE_COLLISION = "device_case_collision"
"""Why a voucher is held: another stored voucher has its device id (up to case) and counter."""


def _normalise_device_ids(db: sqlite3.Connection, now: int) -> None:
    """Version 1 -> 2: device ids in upper case; colliding vouchers held, none dropped.

    In each group of vouchers with one device id (up to case) and counter, a row
    already in upper case keeps it, else the oldest takes it; the others keep
    their case (the UNIQUE constraint allows one upper-case row), and a group of
    two or more is held.
    """
    db.execute(_HELD)
    rows = db.execute("SELECT token_digest, device_id, device_counter FROM settlement_vouchers"
                      " WHERE device_id IS NOT NULL ORDER BY submitted_at, token_digest")
    groups: dict[tuple[str, int], list[tuple[bytes, str]]] = {}
    for digest, device, counter in rows.fetchall():
        normal = normal_device_id(device)
        assert normal is not None
        groups.setdefault((normal, counter), []).append((bytes(digest), device))
    for (normal, _), members in groups.items():
        if all(device != normal for _, device in members):
            db.execute("UPDATE settlement_vouchers SET device_id = ? WHERE token_digest = ?",
                       (normal, members[0][0]))
        if len(members) > 1:
            db.executemany("INSERT INTO settlement_held_vouchers VALUES (?, ?, ?)",
                           [(digest, HELD_CASE_COLLISION, now) for digest, _ in members])


@dataclass(frozen=True, slots=True)
class SettledVoucher:
    """A settled voucher: the visit, the person to reimburse, when."""

    voucher: Voucher
    person: Person
    settled_at: int

    def to_dict(self) -> dict[str, object]:
        return {"voucher": self.voucher.to_dict(), "person": self.person.to_dict(),
                "settled_at": self.settled_at}


class VoucherLedger(Database):
    """Submitted and settled vouchers in a SQLite file (may share the registry's)."""

    def __init__(self, path: str | os.PathLike[str], verifier: RecordVerifier, *,
                 clock: Clock = system_clock) -> None:
        if not isinstance(verifier, RecordVerifier):
            raise InvalidArgument("verifier must be a RecordVerifier")
        self.verifier = verifier
        self._clock = clock
        self._db = open_db(path, SCHEMA_COMPONENT, SCHEMA_VERSION, _SCHEMA + _HELD + ";",
                           {1: lambda db: _normalise_device_ids(db, self._clock())})

    def submit(self, data: bytes, *, now: int | None = None) -> Voucher:
        """Verify and record a voucher; VOUCHER_DUPLICATE for a second one of the same
        code or device counter (nothing is written then)."""
        voucher = self.verifier.voucher(data)
        r = voucher.receipt
        at = self._clock() if now is None else now
        with guarded(self._db, "cannot write the ledger", ErrorCode.VOUCHER_DUPLICATE) as db:
            db.execute(
                "INSERT INTO settlement_vouchers (token_digest, terminal_id, device_id,"
                " device_counter, amount_fen, voucher, submitted_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (r.token_digest, r.terminal_id, normal_device_id(voucher.device_id),
                 voucher.device_counter, voucher.paid_in_full_fen, data, at),
            )
        return voucher

    def settle(self, token_digest: bytes, resolver: Resolver, *,
               now: int | None = None, window: int = VOUCHER_WINDOW) -> SettledVoucher:
        """Resolve the voucher's handle and mark it settled, once."""
        at = self._clock() if now is None else now
        with guarded(self._db, "cannot read the ledger") as db:
            row = db.execute(
                "SELECT voucher, reason FROM settlement_vouchers"
                " LEFT JOIN settlement_held_vouchers USING (token_digest)"
                " WHERE token_digest = ?", (token_digest,)).fetchone()
        if row is None:
            raise EcertError(ErrorCode.RECEIPT_INVALID, "no such voucher was submitted")
        if row[1] is not None:
            raise EcertError(ErrorCode.VOUCHER_DUPLICATE,
                             "the voucher is held for review: another stored voucher has"
                             " the same device counter")
        voucher = self.verifier.voucher(bytes(row[0]))
        handle = voucher.receipt.handle
        assert handle is not None
        person = resolver.resolve(handle, now=at, window=window).person
        with guarded(self._db, "cannot write the ledger") as db:
            cursor = db.execute(
                "UPDATE settlement_vouchers SET settled_at = ?"
                " WHERE token_digest = ? AND settled_at IS NULL", (at, token_digest))
        if cursor.rowcount != 1:
            raise EcertError(ErrorCode.ALREADY_SETTLED)
        return SettledVoucher(voucher, person, at)

    def pending(self) -> list[bytes]:
        """Token digests of submitted vouchers not settled yet, oldest first."""
        with guarded(self._db, "cannot read the ledger") as db:
            rows = db.execute("SELECT token_digest FROM settlement_vouchers"
                              " WHERE settled_at IS NULL AND token_digest NOT IN"
                              " (SELECT token_digest FROM settlement_held_vouchers)"
                              " ORDER BY submitted_at").fetchall()
        return [bytes(r[0]) for r in rows]

    def held(self) -> list[tuple[bytes, str]]:
        """Vouchers held for an operator's review (token digest, reason), settled or
        not: a double submission found when the ledger was upgraded (module docstring)."""
        with guarded(self._db, "cannot read the ledger") as db:
            rows = db.execute("SELECT token_digest, reason FROM settlement_held_vouchers"
                              " ORDER BY token_digest").fetchall()
        return [(bytes(r[0]), str(r[1])) for r in rows]
