"""``ecert settle resolve|approve|charge`` and ``ecert person add|remove``: the
platform's side of settlement (handles -> the person's settlement identity, and
the online payment confirmation), on SQLite files.

``person add`` is this project's way to register a person's settlement
identity; the activation command (``ecert activate ... --psn-cert-type``) can
write the same rows through :class:`~ecert_token.settlement.PersonRegistry`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..clock import system_clock
from ..keys import keydir
from ..model import InsuranceType, PsnCertType, Region
from ..settlement import (
    DEFAULT_RESOLVE_WINDOW,
    Confirmations,
    Person,
    PersonRegistry,
    Resolver,
    Transaction,
)
from .output import EXIT_OK, emit


def cmd_settle_resolve(args: argparse.Namespace) -> int:
    keys = keydir.load(Path(args.keys))
    now = system_clock() if args.now is None else args.now
    with PersonRegistry(args.registry) as registry:
        resolver = Resolver(keys.issuer_ring, registry, window=args.window)
        emit(resolver.resolve(args.handle.strip(), now=now).to_dict())
    return EXIT_OK


def _transaction(args: argparse.Namespace) -> Transaction:
    now = system_clock() if args.now is None else args.now
    return Transaction(args.amount, args.payee, args.order, args.terminal_id, now)


def cmd_settle_approve(args: argparse.Namespace) -> int:
    """The person approved the payment in the app: the platform records it."""
    transaction = _transaction(args)
    with Confirmations(args.db) as confirmations:
        confirmations.approve(args.handle.strip(), transaction, now=transaction.time)
    emit({"approved": True, "transaction_digest": transaction.digest.hex()})
    return EXIT_OK


def cmd_settle_charge(args: argparse.Namespace) -> int:
    """The settlement step: the terminal's own transaction against the approved one."""
    charged = _transaction(args)
    with Confirmations(args.db) as confirmations:
        approved = confirmations.consume(args.handle.strip(), charged, now=charged.time)
    emit({"settled": True, "amount_fen": approved.amount_fen, "payee": approved.payee,
          "order_id": approved.order_id})
    return EXIT_OK


def cmd_person_add(args: argparse.Namespace) -> int:
    person = Person(
        credential_id=args.cert_id,
        psn_cert_type=PsnCertType.from_code(args.psn_cert_type),
        certno=args.certno,
        psn_name=args.name,
        insuplc_admdvs=Region(args.region),
        insutype=InsuranceType.from_code(args.insutype),
    )
    with PersonRegistry(args.registry) as registry:
        registry.add(person)
    # Only what was stored and where; the document number and name are not echoed.
    emit({"registered": True, "credential_id": person.credential_id,
          "psn_cert_type": person.psn_cert_type.value, "registry": str(args.registry)})
    return EXIT_OK


def cmd_person_remove(args: argparse.Namespace) -> int:
    with PersonRegistry(args.registry) as registry:
        removed = registry.remove(args.cert_id)
    emit({"removed": removed, "credential_id": args.cert_id})
    return EXIT_OK


def register(subparsers: Any) -> None:
    """Add ``settle resolve`` and ``person add|remove`` to the ``ecert`` subcommands."""
    p = subparsers.add_parser("settle", help="platform side of settlement: resolve handles")
    sub = p.add_subparsers(dest="settle_command", required=True, metavar="ACTION")
    r = sub.add_parser("resolve", help="a handle (mdtrt_cert_no) -> the person's identity")
    r.add_argument("--keys", required=True, help="the issuer's key directory")
    r.add_argument("--registry", required=True, help="person registry (SQLite file)")
    r.add_argument("--window", type=int, default=DEFAULT_RESOLVE_WINDOW,
                   help=f"seconds after the code's expiry it still resolves "
                        f"(default {DEFAULT_RESOLVE_WINDOW})")
    r.add_argument("--now", type=int, help="resolution time as Unix seconds (default: now)")
    r.add_argument("handle", help="the 40-character handle")
    r.set_defaults(func=cmd_settle_resolve)
    for name, func, text in (
        ("approve", cmd_settle_approve,
         "online confirmation: the person approved this amount at this payee in the app"),
        ("charge", cmd_settle_charge,
         "the settlement step: the terminal's transaction must be the approved one"),
    ):
        c = sub.add_parser(name, help=text)
        c.add_argument("--db", required=True, help="the platform's confirmations (SQLite file)")
        c.add_argument("--handle", required=True, help="the code's handle (mdtrt_cert_no)")
        c.add_argument("--amount", type=int, required=True, help="amount in fen")
        c.add_argument("--payee", required=True, help="payee institution code")
        c.add_argument("--order", required=True, help="order id")
        c.add_argument("--terminal-id", required=True, help="terminal filing number")
        c.add_argument("--now", type=int, help="Unix seconds (default: now)")
        c.set_defaults(func=func)

    p = subparsers.add_parser("person", help="the platform's person registry")
    sub = p.add_subparsers(dest="person_command", required=True, metavar="ACTION")
    a = sub.add_parser("add", help="register a person's settlement identity")
    a.add_argument("--registry", required=True, help="person registry (SQLite file)")
    a.add_argument("--cert-id", required=True, help="pseudonymous credential id")
    a.add_argument("--psn-cert-type", required=True,
                   help="document type psn_cert_type (01-15, 90, 99; 08 foreign passport)")
    a.add_argument("--certno", required=True, help="document number")
    a.add_argument("--name", required=True, help="full name (psn_name)")
    a.add_argument("--region", required=True, help="insured region, six digits")
    a.add_argument("--insutype", default="310", help="insurance type code (default 310)")
    a.set_defaults(func=cmd_person_add)
    d = sub.add_parser("remove", help="forget a person")
    d.add_argument("--registry", required=True, help="person registry (SQLite file)")
    d.add_argument("--cert-id", required=True, help="pseudonymous credential id")
    d.set_defaults(func=cmd_person_remove)
