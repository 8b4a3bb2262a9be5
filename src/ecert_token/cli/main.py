"""Entry point of the ``ecert`` console script.

Every subcommand prints JSON on stdout where it prints results, and
``{"error": CODE, "message": TEXT}`` with a non-zero exit status when it fails.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from ..errors import EcertError, InvalidArgument
from ..keys import keydir
from ..keys.suite import ALG_NAMES, Suite
from ..model import BusinessType, Channel, Credential, InsuranceType, Region, mask_name
from ..model.codes import SubjectKind
from ..settlement.handles import settlement_token_ids
from ..token import Issuer
from ..token.policy import DEFAULT_TTL
from . import bench_cmd, holder_cmd, records_cmd, replay_cmd, sdk_cmd, settle_cmd, trust_cmd
from .output import EXIT_OK, EXIT_USAGE, emit, emit_error
from .verifying import add_verify_arguments, verify_once


def _read_token(value: str | None) -> str:
    if value is None or value == "-":
        return sys.stdin.read().strip()
    return value.strip()


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
    regions = frozenset(args.regions.split(",")) if args.regions else None
    out = Path(args.out)
    backup = None
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        # Replacing keys in use turns every code minted with them into unknown_key.
        if not args.force:
            raise InvalidArgument(_OUT_NOT_EMPTY)
        backup = _backup(out)
    keys = keydir.generate(issuer=args.issuer, group=args.group, regions=regions,
                           suite=Suite.parse(args.suite))
    keydir.save(keys, out)
    emit(
        {
            "backup": str(backup) if backup is not None else None,
            "keys": str(args.out),
            "issuer": keys.signing_key.issuer,
            "issuer_kid": keys.signing_key.kid.hex(),
            "group": keys.group_key.group,
            "group_kid": keys.group_key.kid.hex(),
            "regions": sorted(regions) if regions else None,
            "suite": args.suite,
            "issuer_alg": ALG_NAMES[keys.signing_key.public.alg],
            "group_alg": ALG_NAMES[keys.group_key.alg],
        }
    )
    return EXIT_OK


def cmd_mint(args: argparse.Namespace) -> int:
    keys = keydir.load(Path(args.keys))
    now = args.now
    credential = Credential(
        credential_id=args.cert_id,
        region=Region(args.region),
        insurance_type=InsuranceType.from_code(args.insutype),
        masked_name=args.name if "*" in args.name else mask_name(args.name),
        channel=Channel.from_code(args.channel),
        issued_at=0,
        subject_kind=SubjectKind.from_code(args.subject_kind),
    )
    # Token ids carry the settlement tag, so the handle of the code resolves.
    issuer = Issuer(keys.signing_key, keys.group_key, ttl=args.ttl,
                    token_ids=settlement_token_ids(keys.signing_key))
    print(issuer.mint(credential, BusinessType.from_code(args.business), now=now))
    return EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    result, replay_checked = verify_once(args, _read_token(args.token))
    emit({**result.to_dict(), "replay_checked": replay_checked})
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(qr=not args.no_qr, suite=Suite.parse(args.suite))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ecert",
        description="Mint and verify medical-insurance e-certificate QR tokens (医保电子凭证).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("keygen", help="create a key directory (issuer + verifier group keys)")
    p.add_argument("--out", required=True, help="directory to create")
    p.add_argument("--issuer", default="NHSA", help="issuer code (default NHSA)")
    p.add_argument("--group", default="national", help="verifier group name")
    p.add_argument("--regions", help="comma-separated province prefixes this issuer may serve")
    p.add_argument("--suite", choices=[s.value for s in Suite], default=Suite.ED25519.value,
                   help="ed25519 (Ed25519 + AES-CCM, default) or sm (SM2/SM3 + SM4-CCM; "
                        "needs the gm extra)")
    p.add_argument("--force", action="store_true",
                   help="if --out is not empty, move it to <out>.backup-<time> first")
    p.set_defaults(func=cmd_keygen)

    p = sub.add_parser("mint", help="mint one token and print its text")
    p.add_argument("--keys", required=True, help="key directory")
    p.add_argument("--cert-id", required=True, help="pseudonymous credential id")
    p.add_argument("--region", required=True, help="insured region, six digits (e.g. 110105)")
    p.add_argument("--business", required=True, help="business type code (e.g. 01101)")
    p.add_argument("--channel", default="2",
                   help="channel code: 1, 2, 3 national; 21, 22 local extensions (default 2)")
    p.add_argument("--insutype", default="310",
                   help="insurance type code: " + ", ".join(i.value for i in InsuranceType)
                   + " (default 310)")
    p.add_argument("--name", default="张*", help="masked display name (masked if not yet)")
    p.add_argument("--subject-kind", default="1",
                   help="subject kind code 1-8 (default 1, insured person; only 1 may pay)")
    p.add_argument("--ttl", type=int, default=DEFAULT_TTL, help="lifetime in seconds")
    p.add_argument("--now", type=int, help="issue time as Unix seconds (default: now)")
    p.set_defaults(func=cmd_mint)

    p = sub.add_parser("verify", help="verify a token; print its claims as JSON")
    add_verify_arguments(p)
    p.add_argument("token", nargs="?", help="token text, or - to read stdin (default)")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("demo", help="mint, show, verify; then a replay and an expired code")
    p.add_argument("--no-qr", action="store_true", help="do not draw the QR code")
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except EcertError as err:
        return emit_error(err)
    except KeyboardInterrupt:
        return EXIT_USAGE
    except BrokenPipeError:  # e.g. `ecert verify ... | head`: the reader left
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_USAGE
    return code


if __name__ == "__main__":
    sys.exit(main())
