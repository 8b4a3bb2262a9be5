"""CLI commands of holder credentials: ``device keygen``, ``activate``, ``present``, ``unbind``,
``family add``, ``status build`` and ``pay request``.

Payment confirmation offline (docs/settlement.md#payment-confirmation):
``pay request`` prints the terminal's transaction as QR text (two scans), and
``present --transaction TEXT``, ``present --amount --payee --order`` or
``present --ceiling FEN --payee CODE [--order ID]`` binds what the person
confirmed, with the device counter kept in the device directory.

``register(subparsers)`` adds them to the ``ecert`` parser.  Each prints JSON
on stdout (``present`` prints the presentation text, as ``mint`` prints a
token); failures are :class:`EcertError` and reach ``main``, which prints
``{"error": code, "message": text}`` and exits 1.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..clock import system_clock
from ..errors import InvalidArgument
from ..holder.credential import CredentialFile
from ..holder.device import (
    PUBLIC_FILE,
    load_device,
    load_device_public,
    new_device_key,
    save_device,
)
from ..holder.payment import Ceiling, Charge, DeviceCounter, Terms
from ..holder.presentation import present
from ..keys import keydir
from ..keys.suite import ALG_NAMES, Suite
from ..model import BusinessType, Channel, InsuranceType, Region, mask_name
from ..model.codes import PsnCertType, SubjectKind
from ..registry import Activation, ActivationRegistry, HolderPlatform
from ..registry.platform import DEFAULT_LIST_VALIDITY, DEFAULT_VALID_DAYS
from ..settlement.persons import Person, PersonRegistry
from ..token.policy import DEFAULT_TTL
from .output import EXIT_OK, UsageError, emit
from .trust_cmd import add_passphrase_arg, passphrase

MODE_SETTING = "credential_mode"


def _masked(name: str) -> str:
    return name if "*" in name else mask_name(name)


def _platform(args: argparse.Namespace, registry: ActivationRegistry,
              seal: bool | None = None) -> HolderPlatform:
    """The issuer's platform on ``--keys``; the registry remembers open or sealed mode."""
    keys = keydir.load(Path(args.keys), passphrase(args))
    mode = registry.set_setting_once(MODE_SETTING, "sealed" if seal else "open")
    if seal is not None and (mode == "sealed") != seal:
        raise InvalidArgument(f"this registry issues {mode} credentials")
    return HolderPlatform(registry, keys.signing_key,
                          keys.group_key if mode == "sealed" else None)


def cmd_device_keygen(args: argparse.Namespace) -> int:
    secret = passphrase(args)  # an unset variable is refused before anything is written
    key = new_device_key(suite=Suite.parse(args.suite))
    out = Path(args.out)
    save_device(key, out, secret)
    emit({"device": str(out), "public_key": str(out / PUBLIC_FILE),
          "kid": key.public_key.kid.hex(), "suite": key.suite.value,
          "alg": ALG_NAMES[key.alg], "encrypted": secret is not None})
    return EXIT_OK


def _issued_json(out: Path, issued: Any, mode: str) -> dict[str, object]:
    f: CredentialFile = issued.file
    return {
        "out": str(out), "kind": f.kind, "mode": mode, "credential_id": f.credential_id,
        "actor_id": f.actor_id, "issued_at": issued.record.issued_at, "expires_at": f.expires_at,
        "status": {"uri": f.status_uri, "idx": f.status_idx}, "status_idx": f.status_idx,
        "revoked": list(issued.revoked),
    }


def _person(args: argparse.Namespace) -> Person | None:
    """The person's settlement identity from ``--psn-cert-type --certno --name`` (all three
    or none); ``--name`` is then the full name, which only the registry keeps."""
    given = [args.psn_cert_type is not None, args.certno is not None]
    if not any(given):
        return None
    if not all(given) or args.name is None:
        raise UsageError("--psn-cert-type, --certno and --name come together")
    return Person(args.cert_id, PsnCertType.from_code(args.psn_cert_type), args.certno,
                  args.name, Region(args.region), InsuranceType.from_code(args.insutype))


def cmd_activate(args: argparse.Namespace) -> int:
    device = load_device_public(Path(args.device))
    person = _person(args)
    name = mask_name(person.psn_name) if person else _masked(args.name or "张*")
    request = Activation(
        cert_id=args.cert_id, device_key=device.encoded, region=Region(args.region),
        insurance_type=InsuranceType.from_code(args.insutype), masked_name=name,
        channel=Channel.from_code(args.channel),
        subject_kind=SubjectKind.from_code(args.subject_kind), auth_method=args.auth_method,
    )
    with ActivationRegistry(Path(args.registry)) as registry:
        platform = _platform(args, registry, True if args.seal else None)
        if person is None:
            issued = platform.activate(request, valid_days=args.valid_days, now=args.now)
        else:
            issued = _activate_person(platform, request, person, args)
        out = Path(args.out)
        issued.file.save(out)
        emit({**_issued_json(out, issued, "sealed" if platform.group_key else "open"),
              "person_registered": person is not None})
    return EXIT_OK


def _activate_person(platform: HolderPlatform, request: Activation, person: Person,
                     args: argparse.Namespace) -> Any:
    """Register the person's identity in the registry file, then activate; a failed
    activation puts back what the registry held before (nothing half-written)."""
    with PersonRegistry(args.registry) as persons:
        before = persons.get(person.credential_id)
        persons.put(person)
        try:
            return platform.activate(request, valid_days=args.valid_days, now=args.now)
        except BaseException:
            if before is None:
                persons.remove(person.credential_id)
            else:
                persons.put(before)
            raise


def cmd_present(args: argparse.Namespace) -> int:
    credential = CredentialFile.load(Path(args.credential))
    if args.delegation:
        delegation = CredentialFile.load(Path(args.delegation))
        if delegation.kind != "delegation" or delegation.actor_id != credential.credential_id:
            raise InvalidArgument("the delegation is not one for this credential's holder")
        credential = delegation
    challenge = None
    if args.challenge:
        try:
            challenge = bytes.fromhex(args.challenge)
        except ValueError:
            raise InvalidArgument("--challenge must be hex") from None
    device = load_device(Path(args.device), passphrase(args))
    now = system_clock() if args.now is None else args.now
    business = BusinessType.from_code(args.business)
    terms = _terms(args)
    counter = None
    if terms is not None:
        if not business.is_payment:
            raise UsageError("a payment confirmation is for payment-class business types")
        counter = DeviceCounter(Path(args.device)).next()
    text = present(credential.sealed, device, business, now=now, ttl=args.ttl,
                   challenge=challenge, handle_key=credential.handle_key, payment=terms,
                   counter=counter)
    if args.json:
        emit({"presentation": text, "characters": len(text), "device_counter": counter,
              "confirmed": _confirmed(terms)})
    else:
        print(text, flush=True)
    return EXIT_OK


def _terms(args: argparse.Namespace) -> Terms | None:
    """What the person confirmed on the phone: the terminal's transaction (two scans),
    an exact payment, or a ceiling (one scan)."""
    if args.transaction is not None:
        if any(v is not None for v in (args.amount, args.ceiling, args.payee, args.order)):
            raise UsageError("--transaction carries the payment; give nothing else with it")
        return Charge.from_text(args.transaction.strip())
    if args.amount is not None and args.ceiling is not None:
        raise UsageError("give --amount or --ceiling, not both")
    if args.amount is not None:
        if args.payee is None or args.order is None:
            raise UsageError("--amount, --payee and --order come together")
        return Charge(args.amount, args.payee, args.order)
    if args.ceiling is not None:
        if args.payee is None:
            raise UsageError("--ceiling needs --payee")
        return Ceiling(args.ceiling, args.payee, args.order)
    if args.payee is not None or args.order is not None:
        raise UsageError("--payee and --order need --amount or --ceiling")
    return None


def _confirmed(terms: Terms | None) -> dict[str, object] | None:
    """What the phone showed the person and bound (for the app's display and logs of the
    phone itself; no personal data)."""
    if terms is None:
        return None
    if isinstance(terms, Ceiling):
        return {"form": "ceiling", "ceiling_fen": terms.max_fen, "payee": terms.payee,
                "order_id": terms.order_id}
    return {"form": "exact", "amount_fen": terms.amount_fen, "payee": terms.payee,
            "order_id": terms.order_id, "terminal_id": terms.terminal_id, "time": terms.time}


def cmd_pay_request(args: argparse.Namespace) -> int:
    """The terminal's side of the two-scan flow: its transaction as QR text."""
    now = system_clock() if args.now is None else args.now
    charge = Charge(args.amount, args.payee, args.order, args.terminal_id, now)
    text = charge.text()
    emit({"transaction": text, "characters": len(text), "amount_fen": charge.amount_fen,
          "payee": charge.payee, "order_id": charge.order_id,
          "terminal_id": charge.terminal_id, "time": charge.time})
    return EXIT_OK


def cmd_unbind(args: argparse.Namespace) -> int:
    with ActivationRegistry(Path(args.registry)) as registry:
        revoked = _platform(args, registry).unbind(args.cert_id, now=args.now)
    emit({"cert_id": args.cert_id, "unbound": True, "revoked": revoked})
    return EXIT_OK


def cmd_family_add(args: argparse.Namespace) -> int:
    with ActivationRegistry(Path(args.registry)) as registry:
        platform = _platform(args, registry)
        known = registry.latest(args.member)
        holder = registry.active_device(args.holder)
        base = known or holder
        region = Region(args.region) if args.region else (
            base.region if base else None)
        if region is None:
            raise InvalidArgument("give --region for a member the registry does not know")
        member = Activation(
            cert_id=args.member, device_key=bytes(32), region=region,
            insurance_type=(InsuranceType.from_code(args.insutype) if args.insutype
                            else base.insurance_type if base else InsuranceType.EMPLOYEE_BASIC),
            masked_name=_masked(args.name) if args.name else (known.masked_name if known
                                                              else "*"),
            channel=holder.channel if holder else Channel.WECHAT,
            auth_method="family-binding",
        )
        issued = platform.add_family_member(args.holder, member, now=args.now)
        out = Path(args.out)
        issued.file.save(out)
        emit({**_issued_json(out, issued, "sealed" if platform.group_key else "open"),
              "family": registry.family(args.holder)})
    return EXIT_OK


def cmd_status_build(args: argparse.Namespace) -> int:
    with ActivationRegistry(Path(args.registry)) as registry:
        data, sl = _platform(args, registry).status_list(
            bits=args.bits, now=args.now, valid_for=args.valid_for)
    out = Path(args.out)
    try:
        out.write_bytes(data)
    except OSError:
        raise InvalidArgument("cannot write the status list file") from None
    revoked = int.from_bytes(sl.data, "big").bit_count()  # the registry sets one bit each
    emit({"out": str(out), "uri": sl.uri, "bits": sl.bits, "size": sl.size,
          "revoked": revoked, "bytes": len(data), "issued_at": sl.issued_at,
          "expires_at": sl.expires_at, "ttl": sl.ttl})
    return EXIT_OK


def _issuer_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--keys", required=True, help="issuer key directory")
    p.add_argument("--registry", required=True, help="activation registry (SQLite file)")
    add_passphrase_arg(p)


def register(subparsers: Any) -> None:
    """Add the holder-credential commands to the ``ecert`` subparsers."""
    p = subparsers.add_parser("device", help="the phone's device key")
    device = p.add_subparsers(dest="device_command", required=True, metavar="COMMAND")
    q = device.add_parser("keygen", help="create a device key pair")
    q.add_argument("--out", required=True, help="directory for device.key.pem and its JWK")
    q.add_argument("--suite", choices=[s.value for s in Suite], default=Suite.ED25519.value,
                   help="ed25519 (default) or sm: an SM2 device key (SM2 over SM3)")
    add_passphrase_arg(q)
    q.set_defaults(func=cmd_device_keygen)

    p = subparsers.add_parser("activate", help="bind a device: issue a holder credential")
    _issuer_args(p)
    p.add_argument("--device", required=True, help="device directory (its public JWK is read)")
    p.add_argument("--cert-id", required=True, help="pseudonymous credential id")
    p.add_argument("--region", required=True, help="insured region, six digits")
    p.add_argument("--insutype", default="310", help="insurance type code (default 310)")
    p.add_argument("--name", help="the display name, masked in the credential (default 张*); "
                   "with --psn-cert-type the full name, kept only in the registry")
    p.add_argument("--psn-cert-type",
                   help="the person's document type (01-15, 90, 99; 07/08 foreigners): "
                   "registers the settlement identity (with --certno, --name)")
    p.add_argument("--certno", help="the person's document number (with --psn-cert-type)")
    p.add_argument("--channel", default="2", help="channel code (default 2, WeChat)")
    p.add_argument("--subject-kind", default="1", help="subject kind code (default 1)")
    p.add_argument("--auth-method", default="face+password",
                   help="how the channel authenticated the person (recorded)")
    p.add_argument("--valid-days", type=int, default=DEFAULT_VALID_DAYS,
                   help=f"credential validity in days (default {DEFAULT_VALID_DAYS})")
    p.add_argument("--seal", action="store_true",
                   help="seal credentials to the verifier group (fixed per registry)")
    p.add_argument("--now", type=int, help="activation time as Unix seconds")
    p.add_argument("--out", required=True, help="credential file to write")
    p.set_defaults(func=cmd_activate)

    p = subparsers.add_parser(
        "present", help="prints text: mint a presentation offline, the QR text (--json for JSON)")
    p.add_argument("--credential", required=True, help="the holder's credential file")
    p.add_argument("--device", required=True, help="device directory (private key)")
    p.add_argument("--business", required=True, help="business type code (e.g. 01101)")
    p.add_argument("--delegation", help="a family member's delegation file: show their code")
    p.add_argument("--challenge", help="the terminal's challenge (hex), for challenge mode")
    p.add_argument("--ttl", type=int, default=DEFAULT_TTL, help="lifetime in seconds")
    p.add_argument("--now", type=int, help="time as Unix seconds (default: now)")
    p.add_argument("--transaction",
                   help="the terminal's transaction text (ET1:) the person confirmed (two scans)")
    p.add_argument("--amount", type=int, help="confirmed amount in fen (with --payee, --order)")
    p.add_argument("--ceiling", type=int,
                   help="confirmed ceiling in fen (with --payee, optional --order): one scan")
    p.add_argument("--payee", help="payee institution code")
    p.add_argument("--order", help="order id")
    p.add_argument("--json", action="store_true",
                   help="print {\"presentation\": ...} instead of the text")
    add_passphrase_arg(p)
    p.set_defaults(func=cmd_present)

    p = subparsers.add_parser("pay", help="offline payment confirmation (terminal side)")
    pay = p.add_subparsers(dest="pay_command", required=True, metavar="COMMAND")
    q = pay.add_parser("request", help="the terminal's transaction as QR text (two scans)")
    q.add_argument("--amount", type=int, required=True, help="amount in fen")
    q.add_argument("--payee", required=True, help="payee institution code")
    q.add_argument("--order", required=True, help="order id")
    q.add_argument("--terminal-id", required=True, help="terminal filing number")
    q.add_argument("--now", type=int, help="time as Unix seconds (default: now)")
    q.set_defaults(func=cmd_pay_request)

    p = subparsers.add_parser("unbind", help="unbind a person's phone (revokes its credential)")
    _issuer_args(p)
    p.add_argument("--cert-id", required=True, help="the person's credential id")
    p.add_argument("--now", type=int, help="time as Unix seconds")
    p.set_defaults(func=cmd_unbind)

    p = subparsers.add_parser("family", help="family accounts (at most five members)")
    family = p.add_subparsers(dest="family_command", required=True, metavar="COMMAND")
    q = family.add_parser("add", help="bind a member and write the delegation")
    _issuer_args(q)
    q.add_argument("--holder", required=True, help="the holder's credential id")
    q.add_argument("--member", required=True, help="the member's credential id")
    q.add_argument("--region", help="the member's insured region (default: known or holder's)")
    q.add_argument("--insutype", help="the member's insurance type (default: known or holder's)")
    q.add_argument("--name", help="the member's masked name (default: known or '*')")
    q.add_argument("--now", type=int, help="time as Unix seconds")
    q.add_argument("--out", required=True, help="delegation file to write")
    q.set_defaults(func=cmd_family_add)

    p = subparsers.add_parser("status", help="status lists of holder credentials")
    status = p.add_subparsers(dest="status_command", required=True, metavar="COMMAND")
    q = status.add_parser("build", help="build and sign the status list from the registry")
    _issuer_args(q)
    q.add_argument("--bits", type=int, choices=(1, 2), default=1, help="bits per credential")
    q.add_argument("--valid-for", type=int, default=DEFAULT_LIST_VALIDITY,
                   help=f"seconds until the list expires (default {DEFAULT_LIST_VALIDITY})")
    q.add_argument("--now", type=int, help="issue time as Unix seconds")
    q.add_argument("--out", required=True, help="file to write")
    q.set_defaults(func=cmd_status_build)

