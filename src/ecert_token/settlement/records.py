"""Signed verification receipts and visit vouchers: what a terminal attests.

A **receipt** says what a terminal verified: which code (a digest of its
token id, never the token), from which issuer, for which business step, at
which institution and terminal, when, with what outcome, the settlement
handle and the amount.  A **voucher** is a receipt of an accepted payment
code plus what the person paid in full while the platform was unreachable;
the person or the institution submits it later for manual reimbursement.

Both are tagged COSE_Sign1 (RFC 9052) signed by the terminal's Ed25519 key::

    protected:    {1: -8 (EdDSA), 3: content type, 4: terminal kid}
    external_aad: "ecert-token receipt v1" or "ecert-token voucher v1"
    payload:      {1: 1, 2: token digest (16 bytes), ? 3: issuer, 4: business type,
                   5: institution, 6: terminal filing number, 7: time, 8: outcome,
                   ? 9: handle, ? 10: amount (fen), 11: sequence,
                   ? 14: device id, ? 15: device counter (a holder's payment binding),
                   voucher only: 12: paid in full (fen), 13: order id}

The content type and the external AAD separate them from each other, from
tokens and from trust lists, so no signature can stand for another kind.
Batches of records (CBOR sequences, JSON lines): :mod:`ecert_token.settlement.batches`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum

from ..codec import cbor, cose
from ..codec.cbor import CBORError
from ..codec.cose import COSEError
from ..crypto.ed25519 import ALG_EDDSA
from ..errors import EcertError, ErrorCode, InvalidArgument
from ..holder.verify import VerifiedPresentation
from ..keys.material import KeyState
from ..keys.terminal import (
    TerminalKey,
    TerminalSigningKey,
    validate_institution,
    validate_terminal_id,
)
from ..model import BusinessType
from ..model.settlement import parse_handle
from ..token.result import VerifiedToken

ACCEPTED = "accepted"
DIGEST_BYTES = 16
MAX_RECORD_BYTES = 4096
MAX_AMOUNT_FEN = 10**12
"""Ten billion yuan: an upper bound that no visit reaches, so sums stay exact."""
_TAG = b"\xd2"
_ALG, _CTY, _KID = 1, 3, 4
_MAX_TIME = 2**40
_OUTCOMES = frozenset({ACCEPTED, *(code.value for code in ErrorCode)})


class RecordKind(StrEnum):
    """Which signed record: a receipt or a voucher (each has its content type and AAD)."""

    RECEIPT = "receipt"
    VOUCHER = "voucher"

    @property
    def content_type(self) -> str:
        return f"application/ecert-{self.value}+cbor"

    @property
    def external_aad(self) -> bytes:
        return f"ecert-token {self.value} v1".encode()


def token_digest(verified: VerifiedToken) -> bytes:
    """The code's identity in a receipt: SHA-256 over the issuer kid and token id, 16 bytes."""
    return hashlib.sha256(b"ecert-token token id v1\x00" + bytes((len(verified.issuer_kid),))
                          + verified.issuer_kid + verified.claims.token_id).digest()[:DIGEST_BYTES]


def text_digest(token: str | bytes) -> bytes:
    """A refused code's identity in a receipt (its id is unknown): SHA-256 of its text."""
    raw = token.encode("ascii", "replace") if isinstance(token, str) else bytes(token)
    return hashlib.sha256(b"ecert-token token text v1\x00" + raw).digest()[:DIGEST_BYTES]


def _uint(value: object, what: str, limit: int = _MAX_TIME) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < limit:
        raise InvalidArgument(f"{what} is out of range")
    return value


@dataclass(frozen=True, slots=True)
class Receipt:
    """What one terminal verified.  ``outcome`` is ``"accepted"`` or an error code value.

    ``repr()`` leaves out the handle (it stands for a person).
    """

    token_digest: bytes
    issuer: str | None
    business_type: BusinessType
    institution: str
    terminal_id: str
    time: int
    outcome: str
    handle: str | None = field(default=None, repr=False)
    amount_fen: int | None = None
    sequence: int = 0
    device_id: str | None = None
    device_counter: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.token_digest, bytes) or len(self.token_digest) != DIGEST_BYTES:
            raise InvalidArgument("a token digest is 16 bytes")
        if self.issuer is not None and (not isinstance(self.issuer, str)
                                        or not 1 <= len(self.issuer) <= 32):
            raise InvalidArgument("issuer must be 1 to 32 characters")
        if not isinstance(self.business_type, BusinessType):
            raise InvalidArgument("business_type must be a BusinessType")
        validate_institution(self.institution)
        validate_terminal_id(self.terminal_id)
        _uint(self.time, "time")
        if not isinstance(self.outcome, str) or self.outcome not in _OUTCOMES:
            raise InvalidArgument("outcome must be 'accepted' or an error code")
        if self.handle is not None:
            parse_handle(self.handle)
        if self.amount_fen is not None:
            _uint(self.amount_fen, "amount", MAX_AMOUNT_FEN)
        _uint(self.sequence, "sequence", 2**63)
        _device(self.device_id, self.device_counter)

    @property
    def accepted(self) -> bool:
        return self.outcome == ACCEPTED

    @classmethod
    def of_verified(
        cls, verified: VerifiedToken, signer: TerminalSigningKey, time: int, *,
        amount_fen: int | None = None, sequence: int = 0,
    ) -> Receipt:
        """The receipt of an accepted code at ``signer``'s terminal; for a holder's
        presentation with a payment binding, the device and its counter too."""
        device: tuple[str | None, int | None] = (None, None)
        if isinstance(verified, VerifiedPresentation) and verified.payment is not None:
            device = verified.device_id, verified.payment.counter
        return cls(token_digest(verified), verified.issuer, verified.claims.business_type,
                   signer.institution, signer.terminal_id, time, ACCEPTED,
                   verified.settlement.mdtrt_cert_no, amount_fen, sequence, *device)

    @classmethod
    def of_rejection(
        cls, token: str | bytes, error: EcertError, business_type: BusinessType,
        signer: TerminalSigningKey, time: int, *, sequence: int = 0,
    ) -> Receipt:
        """The receipt of a refused code (identified by a digest of its text)."""
        return cls(text_digest(token), None, business_type, signer.institution,
                   signer.terminal_id, time, error.code.value, sequence=sequence)

    def fields(self) -> dict[int, object]:
        """The payload map (integer keys) of this receipt."""
        out: dict[int, object] = {1: 1, 2: self.token_digest, 4: self.business_type.wire,
                                  5: self.institution, 6: self.terminal_id, 7: self.time,
                                  8: self.outcome, 11: self.sequence}
        if self.issuer is not None:
            out[3] = self.issuer
        if self.handle is not None:
            out[9] = self.handle
        if self.amount_fen is not None:
            out[10] = self.amount_fen
        if self.device_id is not None:
            out[14] = self.device_id
            out[15] = self.device_counter
        return out

    def to_dict(self) -> dict[str, object]:
        return {"token_digest": self.token_digest.hex(), "issuer": self.issuer,
                "business_type": self.business_type.value, "institution": self.institution,
                "terminal_id": self.terminal_id, "time": self.time, "outcome": self.outcome,
                "handle": self.handle, "amount_fen": self.amount_fen, "sequence": self.sequence,
                "device_id": self.device_id, "device_counter": self.device_counter}


def normal_device_id(device_id: str | None) -> str | None:
    """A device id in the one form vouchers and the ledger compare: upper case (its
    alphabet is a terminal id's, any case accepted; :func:`~ecert_token.holder.payment.device_id`
    writes upper case, a hand-typed id may not be)."""
    return None if device_id is None else device_id.upper()


def _device(device_id: object, counter: object) -> None:
    if (device_id is None) != (counter is None):
        raise InvalidArgument("a device id and its counter come together")
    if device_id is not None:
        if not isinstance(device_id, str):
            raise InvalidArgument("a device id is text")
        validate_terminal_id(device_id.upper())  # same alphabet, any case
        _uint(counter, "device counter", 2**63)


@dataclass(frozen=True, slots=True)
class Voucher:
    """A visit voucher: an accepted payment receipt, what the person paid in full,
    the order, and the presenting device's counter when the code came from one.

    The device and counter are the receipt's (a holder's payment binding);
    given here for a receipt without them, they are added to it.
    """

    receipt: Receipt
    paid_in_full_fen: int
    order_id: str
    device_id: str | None = None
    device_counter: int | None = None

    def __post_init__(self) -> None:
        r = self.receipt
        if not isinstance(r, Receipt) or not r.accepted or not r.business_type.is_payment:
            raise InvalidArgument("a voucher is for an accepted payment-class code")
        if r.handle is None or r.amount_fen is None:
            raise InvalidArgument("a voucher needs the settlement handle and the amount")
        _uint(self.paid_in_full_fen, "paid amount", MAX_AMOUNT_FEN)
        if self.paid_in_full_fen != r.amount_fen:
            raise InvalidArgument("a voucher records the amount paid in full")
        if not isinstance(self.order_id, str) or not 1 <= len(self.order_id) <= 64 or (
            not self.order_id.isascii() or not self.order_id.isprintable()
        ):
            raise InvalidArgument("an order id is 1 to 64 printable ASCII characters")
        _device(self.device_id, self.device_counter)
        if r.device_id is not None:
            if self.device_id is not None and (
                normal_device_id(self.device_id), self.device_counter
            ) != (normal_device_id(r.device_id), r.device_counter):
                raise InvalidArgument("the voucher's device differs from its receipt's")
            object.__setattr__(self, "device_id", r.device_id)
            object.__setattr__(self, "device_counter", r.device_counter)
        elif self.device_id is not None:
            object.__setattr__(self, "receipt", replace(
                r, device_id=self.device_id, device_counter=self.device_counter))

    def fields(self) -> dict[int, object]:
        out = self.receipt.fields()
        out[12] = self.paid_in_full_fen
        out[13] = self.order_id
        return out

    def to_dict(self) -> dict[str, object]:
        return {**self.receipt.to_dict(), "paid_in_full_fen": self.paid_in_full_fen,
                "order_id": self.order_id, "device_id": self.device_id,
                "device_counter": self.device_counter}


def _protected(kind: RecordKind, kid: bytes) -> bytes:
    return cbor.dumps({_ALG: ALG_EDDSA, _CTY: kind.content_type, _KID: kid})


def _to_be_signed(protected: bytes, kind: RecordKind, payload: bytes) -> bytes:
    return cbor.dumps(["Signature1", protected, kind.external_aad, payload])


def sign_record(record: Receipt | Voucher, signer: TerminalSigningKey) -> bytes:
    """The tagged COSE_Sign1 of a receipt or voucher, signed by ``signer``.

    The record must name ``signer``'s terminal and institution.
    """
    kind = RecordKind.VOUCHER if isinstance(record, Voucher) else RecordKind.RECEIPT
    receipt = record.receipt if isinstance(record, Voucher) else record
    if (receipt.terminal_id, receipt.institution) != (signer.terminal_id, signer.institution):
        raise InvalidArgument("a terminal signs only its own records")
    protected = _protected(kind, signer.kid)
    payload = cbor.dumps(record.fields())
    signature = signer.private_key.sign(_to_be_signed(protected, kind, payload))
    return _TAG + cbor.dumps([protected, {}, payload, signature])


def _invalid(detail: str) -> EcertError:
    return EcertError(ErrorCode.RECEIPT_INVALID, detail)


_RECEIPT_REQUIRED = frozenset({1, 2, 4, 5, 6, 7, 8, 11})
_RECEIPT_ALLOWED = _RECEIPT_REQUIRED | {3, 9, 10, 14, 15}
_VOUCHER_REQUIRED = _RECEIPT_REQUIRED | {12, 13}
_VOUCHER_ALLOWED = _RECEIPT_ALLOWED | _VOUCHER_REQUIRED


def _receipt_from(fields: Mapping[int, object]) -> Receipt:
    if fields[1] != 1 or type(fields[1]) is not int:
        raise _invalid("unknown record version")
    business = fields[4]
    try:
        if type(business) is not int:
            raise InvalidArgument("business type must be an integer")
        return Receipt(
            fields[2], fields.get(3), BusinessType.from_code(business),  # type: ignore[arg-type]
            fields[5], fields[6], fields[7], fields[8],  # type: ignore[arg-type]
            fields.get(9), fields.get(10), fields[11],  # type: ignore[arg-type]
            fields.get(14), fields.get(15))  # type: ignore[arg-type]
    except EcertError:
        raise _invalid("the record has invalid values") from None


def _payload(data: object, kind: RecordKind) -> Receipt | Voucher:
    required, allowed = ((_VOUCHER_REQUIRED, _VOUCHER_ALLOWED) if kind is RecordKind.VOUCHER
                         else (_RECEIPT_REQUIRED, _RECEIPT_ALLOWED))
    if not cbor.has_int_keys(data) or not required <= data.keys() <= allowed:
        raise _invalid("the record has missing or unknown fields")
    receipt = _receipt_from(data)
    if kind is RecordKind.RECEIPT:
        return receipt
    try:
        return Voucher(receipt, data[12], data[13])
    except EcertError:
        raise _invalid("the voucher has invalid values") from None


class RecordVerifier:
    """The platform's check of receipts and vouchers against trusted terminal keys."""

    def __init__(self, terminals: Iterable[TerminalKey]) -> None:
        keys = list(terminals)
        if not all(isinstance(k, TerminalKey) for k in keys):
            raise InvalidArgument("terminals must be TerminalKey objects")
        self._keys = {k.kid: k for k in keys}

    def verify(self, data: bytes, kind: RecordKind) -> Receipt | Voucher:
        """The record, if ``data`` is a ``kind`` record signed by a trusted terminal.

        Order: shape, the terminal (kid), the signature, then the payload; the
        payload must name the key's own terminal and institution and a time
        inside the key's window.
        """
        if not isinstance(data, bytes) or not 0 < len(data) <= MAX_RECORD_BYTES:
            raise _invalid("not a record of an acceptable size")
        try:
            protected, payload, signature = cose.sign1_envelope(data)
        except COSEError as exc:
            raise _invalid(str(exc)) from None
        try:
            header = cbor.loads(protected, max_depth=1)
        except CBORError:
            raise _invalid("protected header is not strict CBOR") from None
        if not cbor.has_int_keys(header) or header.keys() != {_ALG, _CTY, _KID} or (
            header[_ALG] != ALG_EDDSA or type(header[_ALG]) is not int
        ):
            raise _invalid("unexpected protected header")
        if header[_CTY] != kind.content_type:
            raise _invalid(f"not a {kind.value}")
        kid = header[_KID]
        key = self._keys.get(kid) if type(kid) is bytes else None
        if key is None or key.state is KeyState.REVOKED:
            raise EcertError(ErrorCode.UNKNOWN_TERMINAL)
        if protected != _protected(kind, kid):  # one byte form: the one sign_record writes
            raise _invalid("protected header is not deterministically encoded")
        if not key.public_key.verify(signature, _to_be_signed(protected, kind, payload)):
            raise EcertError(ErrorCode.RECEIPT_BAD_SIGNATURE)
        try:
            fields = cbor.loads(payload, max_depth=1)
        except CBORError:
            raise _invalid("payload is not strict CBOR") from None
        record = _payload(fields, kind)
        receipt = record.receipt if isinstance(record, Voucher) else record
        if (receipt.terminal_id, receipt.institution) != (key.terminal_id, key.institution):
            raise _invalid("the record names another terminal than its key")
        if not key.validity.contains(receipt.time):
            raise EcertError(ErrorCode.UNKNOWN_TERMINAL, "the terminal key was not valid then")
        return record

    def receipt(self, data: bytes) -> Receipt:
        record = self.verify(data, RecordKind.RECEIPT)
        assert isinstance(record, Receipt)
        return record

    def voucher(self, data: bytes) -> Voucher:
        record = self.verify(data, RecordKind.VOUCHER)
        assert isinstance(record, Voucher)
        return record
