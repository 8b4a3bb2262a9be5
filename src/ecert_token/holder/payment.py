"""Payment confirmation offline: the person's device signs what it approved.

A payment code by itself is a bearer code.  In the offline flows the holder's
device puts a **payment binding** into its presentation (claim ``-65541`` of
the device-signed payload), so the device signature covers it::

    exact   [counter, digest]               the person approved exactly this payment
    ceiling [counter, digest, ceiling fen]  the person approved up to this amount

    digest  = SHA-256(domain | presentation id | terms)[:8]
    terms   = deterministic CBOR; exact:   {1: amount, 2: payee, 3: order,
                                            ? 4: terminal id, ? 5: time, 6: counter}
                                  ceiling: {1: ceiling, 2: payee, ? 3: order, 6: counter}
    domain  = "ecert-token payment binding v1" 0x00 (exact)
              "ecert-token payment ceiling v1" 0x00 (ceiling)

Two flows (docs/settlement.md#payment-confirmation):

* **two scans**: the terminal shows its transaction as a QR text
  (:meth:`Charge.text`, ``ET1:`` + Base45); the phone reads it, the person
  confirms, and the phone binds that transaction (with terminal and time);
* **one scan with a ceiling**: the person confirmed a ceiling (amount, payee,
  optionally an order) on the phone beforehand; the terminal accepts if its
  own transaction fits.

The terminal recomputes the digest from its **own** transaction
(:func:`check_binding`): a difference is TRANSACTION_MISMATCH, a missing
binding CONFIRMATION_MISSING.  The terms travel as a digest only: the
terminal knows them, and the presentation stays small.  The digest covers the
presentation's random id, which the phone draws after it has seen the
transaction, so a terminal cannot prepare two transactions with one digest
(it would need a second preimage of 64 bits within the presentation's minute).

The **per-device counter** is in the signed binding and travels in clear, so
receipts and vouchers carry it and the platform finds one payment
presentation used at two offline terminals (one voucher per device counter).
The phone keeps it in a small state file in its device directory
(:class:`DeviceCounter`), advanced and written atomically before each payment
presentation, so a counter value is never used twice.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

from ..codec import cbor
from ..codec.base45 import Base45Error, b45decode, b45encode
from ..codec.cbor import CBORError
from ..crypto.ed25519 import thumbprint_kid
from ..errors import ErrorCode, InvalidArgument, TokenRejected
from ..keys.files import write_file

BINDING = -65541
"""The payload claim of the payment binding (private use, next to the business type)."""
DIGEST_BYTES = 8
MAX_COUNTER = 2**40 - 1
MAX_AMOUNT_FEN = 10**12
"""As :data:`ecert_token.settlement.records.MAX_AMOUNT_FEN` (the holder package sits
below settlement)."""
TRANSACTION_PREFIX = "ET1:"
"""The QR text of a terminal's transaction (two-scan flow)."""
MAX_TRANSACTION_CHARS = 300
COUNTER_FILE = "device.counter.json"
LOCK_FILE = "device.counter.lock"
EXACT = "exact"
CEILING = "ceiling"
_EXACT_DOMAIN = b"ecert-token payment binding v1\x00"
_CEILING_DOMAIN = b"ecert-token payment ceiling v1\x00"
_AMOUNT, _PAYEE, _ORDER, _TERMINAL, _TIME, _COUNTER = 1, 2, 3, 4, 5, 6
_CODE_CHARS = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_-")


def _amount(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < MAX_AMOUNT_FEN:
        raise InvalidArgument(f"{what} must be a positive number of fen")
    return value


def _code(value: object, what: str, longest: int) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= longest or not (
        set(value) <= _CODE_CHARS
    ):
        raise InvalidArgument(f"{what} is 1 to {longest} of [0-9A-Z_-]")
    return value


def _order(value: object) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= 64 or not (
        value.isascii() and value.isprintable()
    ):
        raise InvalidArgument("an order id is 1 to 64 printable ASCII characters")
    return value


def _counter(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_COUNTER:
        raise InvalidArgument("a device counter is 1 to 2**40-1")
    return value


@dataclass(frozen=True, slots=True)
class Charge:
    """A terminal's own transaction: what it charges, to whom, for which order.

    ``terminal_id`` and ``time`` are set in the two-scan flow (the terminal
    showed them in its QR text, and the phone bound them); a terminal that
    charges without having shown a transaction leaves them out.
    """

    amount_fen: int
    payee: str
    order_id: str
    terminal_id: str | None = None
    time: int | None = None

    def __post_init__(self) -> None:
        _amount(self.amount_fen, "amount")
        _code(self.payee, "a payee institution code", 20)
        _order(self.order_id)
        if (self.terminal_id is None) != (self.time is None):
            raise InvalidArgument("a terminal id and a time come together")
        if self.terminal_id is not None:
            _code(self.terminal_id, "a terminal filing number", 32)
            if isinstance(self.time, bool) or not isinstance(self.time, int) or not (
                0 <= self.time < 2**40
            ):
                raise InvalidArgument("time must be a Unix time in whole seconds")

    def terms(self, counter: int) -> bytes:
        """The deterministic CBOR the exact binding's digest covers."""
        fields: dict[int, object] = {_AMOUNT: self.amount_fen, _PAYEE: self.payee,
                                     _ORDER: self.order_id, _COUNTER: counter}
        if self.terminal_id is not None:
            fields[_TERMINAL] = self.terminal_id
            fields[_TIME] = self.time
        return cbor.dumps(fields)

    def without_terminal(self) -> Charge:
        """The same amount, payee and order, without the terminal and time."""
        return Charge(self.amount_fen, self.payee, self.order_id)

    def text(self) -> str:
        """The QR text a terminal shows in the two-scan flow: ``ET1:`` + Base45 of the
        deterministic CBOR ``{1: amount, 2: payee, 3: order, 4: terminal, 5: time}``."""
        if self.terminal_id is None:
            raise InvalidArgument("a transaction shown to the phone names its terminal and time")
        fields = {_AMOUNT: self.amount_fen, _PAYEE: self.payee, _ORDER: self.order_id,
                  _TERMINAL: self.terminal_id, _TIME: self.time}
        return TRANSACTION_PREFIX + b45encode(cbor.dumps(fields))

    @classmethod
    def from_text(cls, text: object) -> Charge:
        """The transaction a terminal showed (:meth:`text`); InvalidArgument if it is not one."""
        if not isinstance(text, str) or not text.startswith(TRANSACTION_PREFIX) or (
            len(text) > MAX_TRANSACTION_CHARS
        ):
            raise InvalidArgument("not a transaction text (ET1:)")
        try:
            value = cbor.loads(b45decode(text[len(TRANSACTION_PREFIX):]), max_depth=1)
        except (Base45Error, CBORError):
            raise InvalidArgument("not a transaction text (ET1:)") from None
        # Keys exactly ints first: a CBOR true (or 1.0) compares and hashes equal to 1.
        if not cbor.has_int_keys(value) or value.keys() != {_AMOUNT, _PAYEE, _ORDER,
                                                             _TERMINAL, _TIME}:
            raise InvalidArgument("a transaction text has the wrong fields")
        charge = cls(value[_AMOUNT], value[_PAYEE], value[_ORDER], value[_TERMINAL],
                     value[_TIME])
        if charge.text() != text:
            raise InvalidArgument("a transaction text must be in its canonical form")
        return charge


@dataclass(frozen=True, slots=True)
class Ceiling:
    """What the person confirmed beforehand: up to ``max_fen`` at ``payee``
    (and only for ``order_id`` when given)."""

    max_fen: int
    payee: str
    order_id: str | None = None

    def __post_init__(self) -> None:
        _amount(self.max_fen, "a ceiling")
        _code(self.payee, "a payee institution code", 20)
        if self.order_id is not None:
            _order(self.order_id)

    def terms(self, counter: int) -> bytes:
        """The deterministic CBOR the ceiling binding's digest covers."""
        fields: dict[int, object] = {_AMOUNT: self.max_fen, _PAYEE: self.payee,
                                     _COUNTER: counter}
        if self.order_id is not None:
            fields[_ORDER] = self.order_id
        return cbor.dumps(fields)


Terms = Charge | Ceiling


class PaymentDict(TypedDict):
    """The ``"payment"`` member of a verified presentation's ``to_dict()``."""

    form: str
    device_id: str
    device_counter: int
    ceiling_fen: int | None
    checked: bool


@dataclass(frozen=True, slots=True)
class PaymentBinding:
    """The binding as it travels: the counter, the digest of the terms, and the
    ceiling for the one-scan flow (None: the exact payment)."""

    counter: int
    digest: bytes
    ceiling_fen: int | None = None

    def __post_init__(self) -> None:
        _counter(self.counter)
        if not isinstance(self.digest, bytes) or len(self.digest) != DIGEST_BYTES:
            raise InvalidArgument("a binding digest is 8 bytes")
        if self.ceiling_fen is not None:
            _amount(self.ceiling_fen, "a ceiling")

    @property
    def form(self) -> str:
        return EXACT if self.ceiling_fen is None else CEILING

    def value(self) -> list[object]:
        """The claim's value (CBOR array)."""
        out: list[object] = [self.counter, self.digest]
        if self.ceiling_fen is not None:
            out.append(self.ceiling_fen)
        return out

    @classmethod
    def of_value(cls, value: object) -> PaymentBinding:
        """The binding of a decoded claim value; InvalidArgument unless it has the exact
        shape (two or three items: counter, 8-byte digest, ceiling)."""
        if type(value) is not list or len(value) not in (2, 3) or type(value[0]) is not int or (
            type(value[1]) is not bytes or (len(value) == 3 and type(value[2]) is not int)
        ):
            raise InvalidArgument("a payment binding is [counter, digest, ? ceiling]")
        return cls(value[0], value[1], value[2] if len(value) == 3 else None)


def _digest(domain: bytes, presentation_id: bytes, terms: bytes) -> bytes:
    return hashlib.sha256(domain + presentation_id + terms).digest()[:DIGEST_BYTES]


def bind(terms: Terms, counter: int, presentation_id: bytes) -> PaymentBinding:
    """The phone's binding of ``terms`` (what the person confirmed) to one presentation."""
    _counter(counter)
    if isinstance(terms, Charge):
        return PaymentBinding(counter, _digest(_EXACT_DOMAIN, presentation_id,
                                               terms.terms(counter)))
    if isinstance(terms, Ceiling):
        return PaymentBinding(counter, _digest(_CEILING_DOMAIN, presentation_id,
                                               terms.terms(counter)), terms.max_fen)
    raise InvalidArgument("terms must be a Charge or a Ceiling")


def _mismatch(detail: str) -> TokenRejected:
    return TokenRejected(ErrorCode.TRANSACTION_MISMATCH, detail)


def check_binding(binding: PaymentBinding | None, charge: Charge,
                  presentation_id: bytes) -> None:
    """The terminal's check: ``binding`` (device-signed, already verified) must cover
    ``charge``, the terminal's own transaction.

    Exact: the digest of the charge (with its terminal and time, or without
    them) must be the bound one.  Ceiling: the amount must not exceed the
    ceiling, and the digest of (ceiling, the charge's payee, its order or no
    order) must be the bound one.  CONFIRMATION_MISSING without a binding,
    TRANSACTION_MISMATCH for any difference.
    """
    if binding is None:
        raise TokenRejected(ErrorCode.CONFIRMATION_MISSING, "the presentation binds no payment")
    n = binding.counter
    if binding.ceiling_fen is None:
        candidates = [charge] if charge.terminal_id is None else [
            charge, charge.without_terminal()]
        if not any(hmac.compare_digest(
                _digest(_EXACT_DOMAIN, presentation_id, c.terms(n)), binding.digest)
                for c in candidates):
            raise _mismatch("another payment was confirmed")
        return
    if charge.amount_fen > binding.ceiling_fen:
        raise _mismatch("the amount is above the confirmed ceiling")
    ceilings = (Ceiling(binding.ceiling_fen, charge.payee, charge.order_id),
                Ceiling(binding.ceiling_fen, charge.payee))
    if not any(hmac.compare_digest(
            _digest(_CEILING_DOMAIN, presentation_id, c.terms(n)), binding.digest)
            for c in ceilings):
        raise _mismatch("the ceiling was confirmed for another payee or order")


def device_id(device_key: bytes) -> str:
    """A device's id in receipts and vouchers: 8 bytes of its key's thumbprint, hex."""
    return thumbprint_kid(device_key, 8).hex().upper()


class DeviceCounter:
    """The phone's per-device payment counter, kept in ``device.counter.json``.

    :meth:`next` takes an exclusive lock (``device.counter.lock``, so two
    processes of one phone never read the same value), reads the last value,
    writes the next one atomically (temporary file, fsync, rename) and only
    then returns it: a crash can skip a value but never hand one out twice.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.path = Path(directory) / COUNTER_FILE
        self._lock_path = Path(directory) / LOCK_FILE

    def current(self) -> int:
        """The last value handed out (0: none yet)."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return 0
        except OSError:
            raise InvalidArgument("cannot read the device counter") from None
        try:
            value = json.loads(data)["counter"]
        except (ValueError, KeyError, TypeError, RecursionError):
            raise InvalidArgument("the device counter file is damaged") from None
        if isinstance(value, bool) or not isinstance(value, int) or not (
            0 <= value <= MAX_COUNTER
        ):
            raise InvalidArgument("the device counter file is damaged")
        return value

    def next(self) -> int:
        """The next counter value, persisted before it is returned."""
        try:
            lock = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            raise InvalidArgument("cannot lock the device counter") from None
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            value = self.current() + 1
            _counter(value)
            try:
                write_file(self.path, (json.dumps({"counter": value}) + "\n").encode(), 0o600)
            except OSError:
                raise InvalidArgument("cannot write the device counter") from None
            return value
        finally:
            os.close(lock)  # closing the descriptor releases the lock
