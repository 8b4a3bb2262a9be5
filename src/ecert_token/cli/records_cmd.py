"""``ecert terminal keygen``, ``ecert receipts record|export|verify`` and
``ecert voucher issue|submit|settle``: what a terminal signs, and the platform's
check of it (issue #14).

A terminal keeps its receipts in a log file, a CBOR sequence of signed
records; ``receipts export`` writes a batch as a CBOR sequence or JSON lines;
the platform verifies batches with the terminals' public keys, given as files
(``--terminal-pub``) or through the signed trust list (``--trust-list`` and
``--root``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..clock import system_clock
from ..errors import EcertError, ErrorCode, InvalidArgument, TokenRejected
from ..holder.payment import Charge
from ..keys import keydir
from ..keys.files import write_file
from ..keys.terminal import (
    TerminalKey,
    TerminalSigningKey,
    load_terminal,
    load_terminal_public,
    new_terminal_key,
    save_terminal,
)
from ..model import BusinessType
from ..model.settlement import SettlementDict
from ..settlement import (
    PersonRegistry,
    Receipt,
    RecordKind,
    RecordVerifier,
    Resolver,
    Voucher,
    VoucherLedger,
    counter_reuses,
    double_uses,
    sign_record,
    split_cbor_sequence,
)
from ..settlement.batches import json_line, read_json_lines
from ..settlement.records import normal_device_id
from ..trust import load_trust_root, verify_trust_list
from .output import EXIT_OK, EXIT_REJECTED, UsageError, emit
from .verifying import add_verify_arguments, verify_once


def _now(args: argparse.Namespace) -> int:
    return system_clock() if args.now is None else int(args.now)


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError:
        raise EcertError(ErrorCode.RECEIPT_INVALID, f"cannot read the {what}") from None


def _terminals(args: argparse.Namespace) -> RecordVerifier:
    """The trusted terminal keys: public files, or the terminals of a signed trust list."""
    keys: list[TerminalKey] = [load_terminal_public(Path(p)) for p in args.terminal_pub]
    if args.trust_list:
        if not args.root:
            raise InvalidArgument("--trust-list needs --root")
        tl = verify_trust_list(_read(args.trust_list, "trust list"),
                               load_trust_root(Path(args.root)), _now(args))
        keys.extend(tl.terminal_keys)
    if not keys:
        raise InvalidArgument("give --terminal-pub FILE or --trust-list FILE --root FILE")
    return RecordVerifier(keys)


def _add_terminal_trust(p: argparse.ArgumentParser) -> None:
    p.add_argument("--terminal-pub", action="append", default=[],
                   help="a trusted terminal's terminal.pub.json or directory (repeatable)")
    p.add_argument("--trust-list", help="signed trust list naming the terminals")
    p.add_argument("--root", help="pinned root public key (root.pub.cose)")


def _scan(args: argparse.Namespace, terminal: TerminalSigningKey, at: int,
          sequence: int, charge: Charge | None = None) -> tuple[Receipt, SettlementDict | None]:
    """Verify the token as ``ecert verify`` does (a holder presentation against the
    terminal's transaction ``charge``); the receipt of what happened."""
    token = args.token.strip()
    business = BusinessType.from_code(args.business)
    try:
        verified, _ = verify_once(args, token, charge)
    except TokenRejected as exc:
        return Receipt.of_rejection(token, exc, business, terminal, at, sequence=sequence), None
    receipt = Receipt.of_verified(verified, terminal, at, amount_fen=args.amount,
                                  sequence=sequence)
    return receipt, verified.settlement.to_dict()


# --- terminal ----------------------------------------------------------------


def cmd_terminal_keygen(args: argparse.Namespace) -> int:
    key = new_terminal_key(args.terminal_id, args.institution)
    save_terminal(key, Path(args.out))
    emit({**key.public.to_json(), "directory": str(args.out)})
    return EXIT_OK


# --- receipts ----------------------------------------------------------------


def cmd_receipts_record(args: argparse.Namespace) -> int:
    terminal = load_terminal(Path(args.terminal))
    log = Path(args.log)
    previous = split_cbor_sequence(log.read_bytes()) if log.exists() else []
    charge = None
    if args.order is not None or args.transaction is not None:
        if args.amount is None or args.order is None:
            raise UsageError("a payment check needs --amount and --order")
        charge = _voucher_charge(args, terminal)
    receipt, settlement = _scan(args, terminal, _now(args), len(previous), charge)
    with log.open("ab") as out:
        out.write(sign_record(receipt, terminal))
    emit({"outcome": receipt.outcome, "receipt": receipt.to_dict(), "settlement": settlement,
          "log": str(log), "records": len(previous) + 1})
    return EXIT_OK if receipt.accepted else EXIT_REJECTED


def cmd_receipts_export(args: argparse.Namespace) -> int:
    terminal = load_terminal(Path(args.terminal))
    verifier = RecordVerifier([terminal.public])  # export only what this terminal signed
    records = split_cbor_sequence(_read(args.log, "receipt log"))
    if args.format == "cbor-seq":
        data = b"".join(records)
    else:
        data = "".join(json_line(r, RecordKind.RECEIPT, verifier.receipt(r)) + "\n"
                       for r in records).encode()
    write_file(Path(args.out), data, 0o644)
    emit({"records": len(records), "format": args.format, "out": str(args.out)})
    return EXIT_OK


def cmd_receipts_verify(args: argparse.Namespace) -> int:
    verifier = _terminals(args)
    data = _read(args.batch, "batch")
    if data[:1] == b"\xd2":
        receipts = [verifier.receipt(r) for r in split_cbor_sequence(data)]
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise EcertError(ErrorCode.RECEIPT_INVALID, "a batch is CBOR or JSON lines") from None
        receipts = [r for r in read_json_lines(text, verifier) if isinstance(r, Receipt)]
    outcomes: dict[str, int] = {}
    for r in receipts:
        outcomes[r.outcome] = outcomes.get(r.outcome, 0) + 1
    doubles = double_uses(receipts)
    reuses = counter_reuses(receipts)
    emit({"verified": len(receipts), "outcomes": outcomes,
          "double_uses": [{"token_digest": d.hex(), "terminals": t} for d, t in doubles.items()],
          "counter_reuses": [{"device_id": dev, "device_counter": n, "terminals": t}
                             for (dev, n), t in reuses.items()]})
    return EXIT_OK


# --- vouchers ------------------------------------------------------------------


def _voucher_charge(args: argparse.Namespace, terminal: TerminalSigningKey) -> Charge:
    """The terminal's transaction (vouchers, and receipts of a payment check): the one it
    showed (``--transaction``), else the amount and order charged at this terminal's
    institution."""
    if args.transaction is None:
        return Charge(args.amount, terminal.institution, args.order)
    charge = Charge.from_text(args.transaction.strip())
    if (charge.amount_fen, charge.payee, charge.order_id, charge.terminal_id) != (
        args.amount, terminal.institution, args.order, terminal.terminal_id
    ):
        raise InvalidArgument("--transaction is not this terminal's amount and order")
    return charge


def cmd_voucher_issue(args: argparse.Namespace) -> int:
    terminal = load_terminal(Path(args.terminal))
    receipt, _ = _scan(args, terminal, _now(args), 0, _voucher_charge(args, terminal))
    if not receipt.accepted:
        raise TokenRejected(ErrorCode(receipt.outcome))
    device = (normal_device_id(args.device_id), args.device_counter)  # typed in any case
    voucher = Voucher(receipt, args.amount, args.order, *device)
    write_file(Path(args.out), sign_record(voucher, terminal), 0o644)
    emit({"voucher": voucher.to_dict(), "out": str(args.out)})
    return EXIT_OK


def cmd_voucher_submit(args: argparse.Namespace) -> int:
    with VoucherLedger(args.ledger, _terminals(args)) as ledger:
        voucher = ledger.submit(_read(args.voucher, "voucher"), now=_now(args))
    emit({"submitted": True, "token_digest": voucher.receipt.token_digest.hex(),
          "paid_in_full_fen": voucher.paid_in_full_fen})
    return EXIT_OK


def cmd_voucher_settle(args: argparse.Namespace) -> int:
    try:
        digest = bytes.fromhex(args.token_digest)
    except ValueError:
        raise InvalidArgument("the token digest is 32 hex digits") from None
    keys = keydir.load(Path(args.keys))
    with PersonRegistry(args.registry) as registry, \
            VoucherLedger(args.ledger, _terminals(args)) as ledger:
        settled = ledger.settle(digest, Resolver(keys.issuer_ring, registry), now=_now(args))
    emit(settled.to_dict())
    return EXIT_OK


def register(subparsers: Any) -> None:
    """Add ``terminal``, ``receipts`` and ``voucher`` to the ``ecert`` subcommands."""
    p = subparsers.add_parser("terminal", help="a terminal's own signing key")
    sub = p.add_subparsers(dest="terminal_command", required=True, metavar="ACTION")
    k = sub.add_parser("keygen", help="create a terminal key (signs receipts and vouchers)")
    k.add_argument("--out", required=True, help="directory to create")
    k.add_argument("--terminal-id", required=True, help="national terminal filing number")
    k.add_argument("--institution", required=True, help="designated institution code")
    k.set_defaults(func=cmd_terminal_keygen)

    p = subparsers.add_parser("receipts", help="signed verification receipts")
    sub = p.add_subparsers(dest="receipts_command", required=True, metavar="ACTION")
    r = sub.add_parser("record", help="verify a token and sign a receipt of the outcome")
    add_verify_arguments(r)
    r.add_argument("--terminal", required=True, help="this terminal's key directory")
    r.add_argument("--log", required=True, help="receipt log (CBOR sequence, appended)")
    r.add_argument("--amount", type=int, help="amount in fen (payment steps)")
    r.add_argument("--order", help="order id: a holder presentation's payment binding must "
                   "cover --amount and --order at this terminal's institution")
    r.add_argument("--transaction", help="the transaction text (ET1:) this terminal showed "
                   "(two scans), with --amount and --order")
    r.add_argument("token", help="token text")
    r.set_defaults(func=cmd_receipts_record)
    e = sub.add_parser("export", help="a batch of this terminal's receipts")
    e.add_argument("--terminal", required=True, help="this terminal's key directory")
    e.add_argument("--log", required=True, help="receipt log")
    e.add_argument("--format", choices=("cbor-seq", "jsonl"), default="cbor-seq")
    e.add_argument("--out", required=True, help="batch file")
    e.set_defaults(func=cmd_receipts_export)
    v = sub.add_parser("verify", help="the platform's check of a batch (CBOR seq or JSON lines)")
    _add_terminal_trust(v)
    v.add_argument("--now", type=int, help="Unix seconds, for the trust list (default: now)")
    v.add_argument("batch", help="batch file")
    v.set_defaults(func=cmd_receipts_verify)

    p = subparsers.add_parser("voucher", help="visit vouchers when the platform is down")
    sub = p.add_subparsers(dest="voucher_command", required=True, metavar="ACTION")
    i = sub.add_parser("issue", help="verify a payment code offline and sign a voucher")
    add_verify_arguments(i)
    i.add_argument("--terminal", required=True, help="this terminal's key directory")
    i.add_argument("--amount", type=int, required=True, help="amount paid in full, in fen")
    i.add_argument("--order", required=True, help="the institution's order id")
    i.add_argument("--transaction", help="the transaction text (ET1:) this terminal showed "
                   "(two scans); a holder presentation must bind it")
    i.add_argument("--device-id", help="presenting device id (default: from the presentation's "
                   "payment binding)")
    i.add_argument("--device-counter", type=int,
                   help="presenting device's counter (default: from the payment binding)")
    i.add_argument("--out", required=True, help="voucher file (COSE_Sign1)")
    i.add_argument("token", help="token text")
    i.set_defaults(func=cmd_voucher_issue)
    s = sub.add_parser("submit", help="the platform records a voucher (once)")
    _add_terminal_trust(s)
    s.add_argument("--ledger", required=True, help="voucher ledger (SQLite file)")
    s.add_argument("--now", type=int, help="Unix seconds (default: now)")
    s.add_argument("voucher", help="voucher file")
    s.set_defaults(func=cmd_voucher_submit)
    t = sub.add_parser("settle", help="the platform settles a submitted voucher (once)")
    _add_terminal_trust(t)
    t.add_argument("--ledger", required=True, help="voucher ledger (SQLite file)")
    t.add_argument("--keys", required=True, help="the issuer's key directory")
    t.add_argument("--registry", required=True, help="person registry (SQLite file)")
    t.add_argument("--now", type=int, help="Unix seconds (default: now)")
    t.add_argument("token_digest", help="the voucher's token digest (hex, from submit)")
    t.set_defaults(func=cmd_voucher_settle)

