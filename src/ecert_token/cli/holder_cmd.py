"""CLI commands of holder credentials: ``device keygen``, ``activate``, ``present``, ``unbind``,
``family add`` and ``status build``.

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
from ..holder.presentation import present
from ..keys import keydir
from ..keys.suite import ALG_NAMES, Suite
from ..model import BusinessType, Channel, InsuranceType, Region, mask_name
from ..model.codes import SubjectKind
from ..registry import Activation, ActivationRegistry, HolderPlatform
from ..registry.platform import DEFAULT_LIST_VALIDITY, DEFAULT_VALID_DAYS
from ..token.policy import DEFAULT_TTL
from .output import EXIT_OK, emit
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


def cmd_activate(args: argparse.Namespace) -> int:
    device = load_device_public(Path(args.device))
    request = Activation(
        cert_id=args.cert_id, device_key=device.encoded, region=Region(args.region),
        insurance_type=InsuranceType.from_code(args.insutype), masked_name=_masked(args.name),
        channel=Channel.from_code(args.channel),
        subject_kind=SubjectKind.from_code(args.subject_kind), auth_method=args.auth_method,
    )
    with ActivationRegistry(Path(args.registry)) as registry:
        platform = _platform(args, registry, True if args.seal else None)
        issued = platform.activate(request, valid_days=args.valid_days, now=args.now)
        out = Path(args.out)
        issued.file.save(out)
        emit(_issued_json(out, issued, "sealed" if platform.group_key else "open"))
    return EXIT_OK


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
    text = present(credential.sealed, device, BusinessType.from_code(args.business), now=now,
                   ttl=args.ttl, challenge=challenge)
    if args.json:
        emit({"presentation": text, "characters": len(text)})
    else:
        print(text, flush=True)
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
    p.add_argument("--name", default="张*", help="masked display name (masked if not yet)")
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
    p.add_argument("--json", action="store_true",
                   help="print {\"presentation\": ...} instead of the text")
    add_passphrase_arg(p)
    p.set_defaults(func=cmd_present)

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

