"""Entry point of the ``ecert`` console script.

Every subcommand prints JSON on stdout where it prints results (``scan``,
``bench``, ``demo`` and ``qr --text`` print text for people and say so in their
help; each offers ``--json``), and ``{"error": CODE, "message": TEXT}`` when it
fails: exit 1 for a rejected token or a failed operation, 2 for a usage error,
130 when interrupted.  No user error ends in a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from .. import __version__
from ..errors import EcertError, InvalidArgument
from ..keys import keydir
from ..keys.suite import ALG_NAMES, Suite
from ..model import BusinessType, Channel, Credential, InsuranceType, mask_name
from ..model.codes import SubjectKind
from ..settlement.handles import settlement_token_ids
from ..token import Issuer
from ..token.policy import DEFAULT_TTL
from . import (
    bench_cmd,
    completion,
    holder_cmd,
    records_cmd,
    replay_cmd,
    sdk_cmd,
    settle_cmd,
    trust_cmd,
)
from .inputs import code_arg, positive_int, read_token, region_arg, regions_arg, unix_time
from .output import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_REJECTED,
    EXIT_USAGE,
    UsageError,
    emit,
    emit_error,
)
from .trust_cmd import add_passphrase_arg, passphrase
from .verifying import (
    add_payment_arguments,
    add_verify_arguments,
    charge_from_args,
    verify_once,
)


class Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as JSON on stdout (usage on stderr), exit 2."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        if message.startswith("unrecognized arguments"):  # never echo what may be a token
            message = ("unrecognized arguments (a token contains spaces: quote it, or give "
                       "it on standard input)")
        emit(UsageError(message).to_dict())
        raise SystemExit(EXIT_USAGE)


_OUT_NOT_EMPTY = (
    "--out names a file or a non-empty directory (it may hold keys in use); give --force "
    "to move its contents to a backup directory and write new keys"
)


def _backup(out: Path) -> Path:
    """Move ``out`` aside to a new sibling ``<name>.backup-<UTC time>[-n]``; return it."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    for n in range(1000):
        backup = out.with_name(f"{out.name}.backup-{stamp}" + (f"-{n}" if n else ""))
        if not backup.exists():
            out.rename(backup)  # atomic, keeps the files' modes
            return backup
    raise InvalidArgument("cannot find a free name for the backup directory")


def cmd_keygen(args: argparse.Namespace) -> int:
    regions = args.regions
    secret = passphrase(args)  # an unset variable is refused before anything is moved
    out = Path(args.out)
    backup = None
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        # Replacing keys in use turns every code minted with them into unknown_key.
        if not args.force:
            raise InvalidArgument(_OUT_NOT_EMPTY)
        backup = _backup(out)
    keys = keydir.generate(issuer=args.issuer, group=args.group, regions=regions,
                           suite=Suite.parse(args.suite))
    keydir.save(keys, out, secret)
    emit(
        {
            "backup": str(backup) if backup is not None else None,
            "keys": str(args.out),
            "issuer": keys.signing_key.issuer,
            "issuer_kid": keys.signing_key.kid.hex(),
            "group": keys.group_key.group,
            "group_kid": keys.group_key.kid.hex(),
            "regions": sorted(regions) if regions else None,
            "encrypted": args.passphrase_env is not None,
            "suite": args.suite,
            "issuer_alg": ALG_NAMES[keys.signing_key.public.alg],
            "group_alg": ALG_NAMES[keys.group_key.alg],
        }
    )
    return EXIT_OK


def cmd_mint(args: argparse.Namespace) -> int:
    keys = keydir.load(Path(args.keys), passphrase(args))
    now = args.now
    credential = Credential(
        credential_id=args.cert_id,
        region=args.region,
        insurance_type=args.insutype,
        masked_name=args.name if "*" in args.name else mask_name(args.name),
        channel=args.channel,
        issued_at=0,
        subject_kind=args.subject_kind,
    )
    # Token ids carry the settlement tag, so the handle of the code resolves.
    issuer = Issuer(keys.signing_key, keys.group_key, ttl=args.ttl,
                    token_ids=settlement_token_ids(keys.signing_key))
    token = issuer.mint(credential, args.business, now=now)
    if args.json:
        emit({"token": token, "characters": len(token)})
    else:
        print(token, flush=True)
    return EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    charge = charge_from_args(args)
    result, replay_checked = verify_once(args, read_token(args.token), charge)
    out: dict[str, object] = {**result.to_dict(), "replay_checked": replay_checked}
    if charge is not None and "payment" not in out:
        # A platform code carries no device binding: its payment is confirmed online.
        out["payment"] = {"checked": False, "confirmation": "online"}
    emit(out)
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(qr=not args.no_qr, as_json=args.json, suite=Suite.parse(args.suite))


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="ecert",
        description="Mint and verify medical-insurance e-certificate QR tokens (医保电子凭证).",
        epilog="Exit status: 0 success, 1 rejected token or failed operation, 2 usage error, "
               "130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"ecert {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("keygen", help="create a key directory (issuer + verifier group keys)")
    p.add_argument("--out", required=True, help="directory to create")
    p.add_argument("--issuer", default="NHSA", help="issuer code (default NHSA)")
    p.add_argument("--group", default="national", help="verifier group name")
    p.add_argument("--regions", type=regions_arg,
                   help="comma-separated province prefixes this issuer may serve")
    add_passphrase_arg(p)
    p.add_argument("--suite", choices=[s.value for s in Suite], default=Suite.ED25519.value,
                   help="ed25519 (Ed25519 + AES-CCM, default) or sm (SM2/SM3 + SM4-CCM; "
                        "needs the gm extra)")
    p.add_argument("--force", action="store_true",
                   help="if --out is not empty, move it to <out>.backup-<time> first")
    p.set_defaults(func=cmd_keygen)

    p = sub.add_parser("mint", help="prints text: mint one token (--json for JSON)")
    p.add_argument("--keys", required=True, help="key directory")
    p.add_argument("--cert-id", required=True, help="pseudonymous credential id")
    p.add_argument("--region", required=True, type=region_arg,
                   help="insured region, six digits (e.g. 110105)")
    p.add_argument("--business", required=True, type=code_arg(BusinessType, "business type"),
                   help="business type code (e.g. 01101)")
    p.add_argument("--channel", default="2", type=code_arg(Channel, "channel"),
                   help="channel code: 1, 2, 3 national; 21, 22 local extensions (default 2)")
    p.add_argument("--insutype", default="310", type=code_arg(InsuranceType, "insurance type"),
                   help="insurance type code: " + ", ".join(i.value for i in InsuranceType)
                   + " (default 310)")
    p.add_argument("--name", default="张*", help="masked display name (masked if not yet)")
    p.add_argument("--subject-kind", default="1", type=code_arg(SubjectKind, "subject kind"),
                   help="subject kind code 1-8 (default 1, insured person; only 1 may pay)")
    p.add_argument("--ttl", type=positive_int, default=DEFAULT_TTL, help="lifetime in seconds")
    p.add_argument("--now", type=unix_time, help="issue time as Unix seconds (default: now)")
    add_passphrase_arg(p)
    p.add_argument("--json", action="store_true", help="print {\"token\": ...} instead of the text")
    p.set_defaults(func=cmd_mint)

    p = sub.add_parser("verify", help="verify a token; print its claims as JSON")
    add_verify_arguments(p)
    add_payment_arguments(p)
    p.add_argument("token", nargs="?", help="token text; none or - reads stdin")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser(
        "demo", help="prints text: one code's life, mint to replay (--json for JSON)"
    )
    p.add_argument("--no-qr", action="store_true", help="do not draw the QR code")
    p.add_argument("--json", action="store_true", help="print the steps as JSON instead of text")
    p.add_argument("--suite", choices=[s.value for s in Suite], default=Suite.ED25519.value,
                   help="cipher suite of the demo's keys (sm: SM2/SM3 + SM4-CCM)")
    p.set_defaults(func=cmd_demo)

    sdk_cmd.register(sub)
    trust_cmd.register(sub)
    bench_cmd.register(sub)
    replay_cmd.register(sub)
    settle_cmd.register(sub)
    records_cmd.register(sub)
    holder_cmd.register(sub)
    completion.register(sub, build_parser)
    return parser


def _os_error(exc: OSError) -> InvalidArgument:
    """A file the user named could not be read or written: say which and why."""
    where = f" {exc.filename}" if exc.filename else ""
    return InvalidArgument(f"cannot use{where}: {exc.strerror or type(exc).__name__}")


def main(argv: Sequence[str] | None = None) -> int:
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        try:
            code: int = args.func(args)
        except UsageError as err:
            print(f"usage: see `ecert {args.command} --help`", file=sys.stderr)
            return emit_error(err)
        except EcertError as err:
            return emit_error(err)
        except BrokenPipeError:
            raise
        except OSError as exc:  # e.g. `keygen --out /proc/x`
            return emit_error(_os_error(exc))
        sys.stdout.flush()
        return code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `ecert verify ... | true`: the reader left
        # Later writes (and the interpreter's final flush) go nowhere instead of failing.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_REJECTED


if __name__ == "__main__":
    sys.exit(main())
