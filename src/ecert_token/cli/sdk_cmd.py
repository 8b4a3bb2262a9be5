"""CLI commands of the SDK adapters: ``qr``, ``scan``, ``inspect`` and ``vectors``.

``register(subparsers)`` adds them to the ``ecert`` parser.  Each handler
returns an exit status and prints JSON on stdout (``scan`` and ``qr --text``
print text for people unless ``--json``); failures are :class:`EcertError` and
reach the caller, which prints ``{"error": code, "message": text}``.  ``qr``
and ``inspect`` read the token from stdin when none is given.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from .. import qr
from ..errors import EcertError, ErrorCode, InvalidArgument, TokenRejected
from ..inspect import inspect_code
from ..keys import keydir
from .inputs import positive_int, read_token
from .output import EXIT_OK, EXIT_REJECTED, emit
from .trust_cmd import add_passphrase_arg, passphrase
from .verifying import add_verify_arguments, verify_once


def cmd_qr(args: argparse.Namespace) -> int:
    token = read_token(args.token)
    if args.text:
        art = qr.render_text(token, level=args.level)
        if args.json:
            emit({"text": art, "level": args.level, "characters": len(token)})
        else:
            print(art, end="", flush=True)
        return EXIT_OK
    out = Path(args.out)
    kind = out.suffix.lower().lstrip(".")
    if kind not in qr.KINDS:
        raise InvalidArgument("--out must end in .png or .svg")
    info = qr.render(token, out, kind, level=args.level, scale=args.scale)
    emit({"out": str(out), "kind": kind, **info.to_dict()})
    return EXIT_OK


def _one_token(image: Path) -> str:
    if not os.access(image, os.R_OK) or not image.is_file():
        raise InvalidArgument(f"cannot read the image {image}")
    tokens = list(dict.fromkeys(qr.scan_tokens(image)))
    if not tokens:
        raise TokenRejected(ErrorCode.MALFORMED, "no e-certificate QR code in the image")
    if len(tokens) > 1:
        raise InvalidArgument("the image holds more than one e-certificate code")
    return tokens[0]


def cmd_scan(args: argparse.Namespace) -> int:
    try:
        token = _one_token(Path(args.image))
        result, replay_checked = verify_once(args, token)
    except EcertError as err:
        if args.json:
            raise
        print(f"REJECTED {err.code.value}: {err}", flush=True)
        return EXIT_REJECTED
    if args.json:
        emit({**result.to_dict(), "replay_checked": replay_checked})
        return EXIT_OK
    c = result.claims
    actor = f", shown by {c.actor_id}" if c.actor_id else ""
    print(
        f"ACCEPTED cert type {result.cert_type.value}, credential {c.credential_id}{actor}, "
        f"region {c.region}, insurance {c.insurance_type.value}, name {c.masked_name}, "
        f"business {c.business_type.value}, expires {c.expires_at}"
        + ("" if replay_checked else " (replay not checked)"),
        flush=True,
    )
    return EXIT_OK


def cmd_inspect(args: argparse.Namespace) -> int:
    trust = keydir.load(Path(args.keys), passphrase(args)).trust_store() if args.keys else None
    emit(inspect_code(read_token(args.token), trust).to_dict(include_bytes=args.hex))
    return EXIT_OK


def cmd_vectors(args: argparse.Namespace) -> int:
    from ecert_token_tools.vectors import write_vectors  # a tool: loaded only here

    def progress(done: int, total: int, name: str) -> None:
        print(f"[{done}/{total}] {name}", file=sys.stderr, flush=True)

    paths = write_vectors(Path(args.out), progress)
    emit({"out": str(args.out), "files": [p.name for p in paths]})
    return EXIT_OK


def _level(value: str) -> str:
    if value.upper() not in ("L", "M", "Q", "H"):
        raise argparse.ArgumentTypeError("level must be L, M, Q or H")
    return value.upper()


def register(subparsers: Any) -> None:
    """Add ``qr``, ``scan``, ``inspect`` and ``vectors`` to the ``ecert`` subparsers."""
    p = subparsers.add_parser(
        "qr", help="a token as a PNG or SVG QR image, or as text (--text, --json)"
    )
    p.add_argument("token", nargs="?", help="token text; none or - reads stdin")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--out", help="image file to write; .png or .svg")
    where.add_argument("--text", action="store_true",
                       help="print the code as terminal text (not JSON; add --json for JSON)")
    p.add_argument("--json", action="store_true", help="with --text: the text inside JSON")
    p.add_argument("--level", type=_level, default="M", help="error correction L, M, Q or H")
    p.add_argument("--scale", type=positive_int, default=8, help="pixels per module (default 8)")
    p.set_defaults(func=cmd_qr)

    p = subparsers.add_parser(
        "scan", help="prints text: verify the code in a QR image (--json for JSON)"
    )
    p.add_argument("image", help="PNG, JPEG or other image file")
    add_verify_arguments(p)
    p.add_argument("--json", action="store_true",
                   help="print the result as JSON (default: one line of text)")
    p.set_defaults(func=cmd_scan)

    p = subparsers.add_parser(
        "inspect", help="show a token's or a presentation's headers (and claims, not verified)")
    p.add_argument("token", nargs="?", help="token or presentation text; none or - reads stdin")
    p.add_argument("--keys", help="key directory: decrypt and show the claims (of a token, "
                                  "or of a sealed credential)")
    add_passphrase_arg(p)
    p.add_argument("--hex", action="store_true", help="add the hex of each layer")
    p.set_defaults(func=cmd_inspect)

    p = subparsers.add_parser("vectors", help="write the published test vectors")
    p.add_argument("--out", required=True, help="directory to write the JSON files to")
    p.set_defaults(func=cmd_vectors)
