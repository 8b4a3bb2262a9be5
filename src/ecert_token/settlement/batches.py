"""Batches of signed receipts and vouchers, and what the platform reads from them.

A terminal exports its records as a CBOR sequence (RFC 8742: the records one
after another) or as JSON lines (one record per line: its kind, its COSE
bytes in base64url and the fields for reading; the platform trusts only the
COSE bytes and refuses a line whose fields differ from them).  Over verified
receipts, :func:`double_uses` finds a payment code accepted more than once,
for example at two offline terminals, and :func:`counter_reuses` one device
counter in two payments (a holder's payment presentation, or a cloned phone).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Iterator

from ..codec import cbor
from ..codec.cbor import BYTES, CBORError
from ..errors import EcertError, ErrorCode, InvalidArgument
from .records import MAX_RECORD_BYTES, Receipt, RecordKind, RecordVerifier, Voucher


def _invalid(detail: str) -> EcertError:
    return EcertError(ErrorCode.RECEIPT_INVALID, detail)


def cbor_sequence(records: Iterable[bytes]) -> bytes:
    """A batch as a CBOR sequence (RFC 8742): the records one after another."""
    return b"".join(records)


def split_cbor_sequence(data: bytes) -> list[bytes]:
    """The records of a CBOR sequence written by :func:`cbor_sequence`.

    Each record must have this format's layout (a tagged array of a protected
    bstr, an empty map, a payload bstr and a signature bstr, shortest
    headings), which is how a record's end is found; anything else is
    RECEIPT_INVALID.
    """
    if not isinstance(data, bytes):
        raise InvalidArgument("a batch is bytes")
    out: list[bytes] = []
    i = 0
    try:
        while i < len(data):
            start = i
            if data[i:i + 2] != b"\xd2\x84":
                raise _invalid("a batch item is not a tagged COSE_Sign1")
            _, i = cbor.string_span(data, i + 2, BYTES)
            if data[i] != 0xA0:
                raise _invalid("a batch item is not a tagged COSE_Sign1")
            _, i = cbor.string_span(data, i + 1, BYTES)
            _, i = cbor.string_span(data, i, BYTES)
            if i > len(data) or i - start > MAX_RECORD_BYTES:
                raise _invalid("a batch item is truncated or too long")
            out.append(data[start:i])
    except (IndexError, CBORError):
        raise _invalid("a batch item is truncated") from None
    return out


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def json_line(record: bytes, kind: RecordKind, verified: Receipt | Voucher) -> str:
    """One JSON line: the kind, the COSE bytes (base64url) and the fields for reading."""
    return json.dumps({"kind": kind.value, "cose": _b64(record), **verified.to_dict()},
                      ensure_ascii=False, sort_keys=True)


def read_json_lines(text: str, verifier: RecordVerifier) -> Iterator[Receipt | Voucher]:
    """Verify each line's COSE bytes and refuse a line whose fields differ from them."""
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            kind = RecordKind(entry["kind"])
            cose = entry["cose"]
            raw = base64.urlsafe_b64decode(cose + "=" * (-len(cose) % 4))
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise _invalid("a line is not a record") from None
        record = verifier.verify(raw, kind)
        shown = {k: v for k, v in entry.items() if k not in ("kind", "cose")}
        if shown != record.to_dict():
            raise _invalid("a line's fields differ from its signed record")
        yield record


def double_uses(receipts: Iterable[Receipt]) -> dict[bytes, list[str]]:
    """Codes accepted for payment more than once (by one terminal or several): token
    digest -> the terminals, in order.  The platform runs this over the receipts of
    offline terminals to find one payment code used at two of them."""
    seen: dict[bytes, list[str]] = {}
    for r in receipts:
        if r.accepted and r.business_type.is_payment:
            seen.setdefault(r.token_digest, []).append(r.terminal_id)
    return {digest: terminals for digest, terminals in seen.items() if len(terminals) > 1}


def counter_reuses(receipts: Iterable[Receipt]) -> dict[tuple[str, int], list[str]]:
    """Device counters accepted for payment more than once: (device id, counter) -> the
    terminals, in order.  A phone hands each counter value out once, so the same value
    in two accepted payments is one payment presentation used twice (at two offline
    terminals) or a cloned device; vouchers refuse the second (VOUCHER_DUPLICATE)."""
    seen: dict[tuple[str, int], list[str]] = {}
    for r in receipts:
        if r.accepted and r.business_type.is_payment and r.device_id is not None:
            assert r.device_counter is not None
            seen.setdefault((r.device_id.upper(), r.device_counter), []).append(r.terminal_id)
    return {key: terminals for key, terminals in seen.items() if len(terminals) > 1}
