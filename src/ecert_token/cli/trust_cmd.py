"""``ecert trust build|sign|inspect|verify|keygen`` and ``ecert keys rotate|revoke|export``.

:func:`register` adds both command groups to the ``ecert`` parser.  Every
handler prints one JSON document on stdout and returns the exit code; a
failure prints ``{"error": CODE, "message": TEXT}`` and returns 1.
Passphrases are read from an environment variable named on the command line
(``--passphrase-env``), never from the command line itself.

The flow on the platform and on a terminal::

    ecert trust keygen --out root/                        # national root, offline
    ecert trust build --keys bj/ --keys sn/ --sequence 7 --out list.cbor
    ecert trust sign list.cbor --root-key root/root.key.pem --out list.cose
    ecert trust verify list.cose --root root/root.pub.cose --state-dir /var/lib/ecert
    ecert keys rotate --keys bj/ --what issuer            # then build and sign again
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..clock import system_clock
from ..errors import EcertError, ErrorCode, InvalidArgument
from ..keys import keydir
from ..keys.cose_key import issuer_public_to_cose_key
from ..keys.files import read_private, write_file
from ..keys.jwk import b64url, issuer_public_jwk
from ..keys.material import IssuerVerifyKey, Validity
from ..keys.suite import ALG_NAMES, Suite
from ..keys.terminal import load_terminal_public
from ..keys.trust_store import TrustStore
from ..trust import (
    GroupKeyInfo,
    RootSigningKey,
    Staleness,
    TrustList,
    TrustListLoader,
    build_trust_list,
    load_root_signing_key,
    load_trust_root,
    read_unverified,
    save_root,
    verify_trust_list,
)
from ..trust.envelope import sign_payload
from ..trust.listing import decode_payload, encode_payload
from .inputs import kid_arg, positive_int, read_file, unix_time
from .output import EXIT_OK, UsageError, emit

DEFAULT_LIFETIME = 30 * 86_400
ROOT_PEM = "root.key.pem"
ROOT_SM2 = "root.key.jwk.json"
ROOT_PUB = "root.pub.cose"

Handler = Callable[[argparse.Namespace], int]


def passphrase(args: argparse.Namespace) -> bytes | None:
    """The passphrase in the environment variable ``--passphrase-env`` names, if any."""
    name = getattr(args, "passphrase_env", None)
    if not name:
        return None
    value = os.environ.get(name)
    if value is None:
        raise UsageError(f"the passphrase environment variable {name} is not set")
    return value.encode()


def _now(args: argparse.Namespace) -> int:
    now = getattr(args, "now", None)
    return system_clock() if now is None else int(now)


def _window(v: Validity) -> dict[str, int | None]:
    return {"not_before": v.not_before, "not_after": v.not_after}


def _public_coordinates(raw: bytes) -> dict[str, str]:
    """``x`` of an Ed25519 key; ``x`` and ``y`` of an SM2 key (64 bytes), as in their JWKs."""
    if len(raw) == 64:
        return {"x": b64url(raw[:32]), "y": b64url(raw[32:])}
    return {"x": b64url(raw)}


def list_to_dict(tl: TrustList, verified: bool) -> dict[str, Any]:
    """A JSON view of a trust list (public data only)."""
    return {
        "verified": verified,
        "sequence": tl.sequence,
        "issued_at": tl.issued_at,
        "expires_at": tl.expires_at,
        "issuer_keys": [
            {"issuer": k.issuer, "kid": k.kid.hex(), "state": k.state.value,
             "regions": sorted(k.regions) if k.regions is not None else None,
             "alg": ALG_NAMES[k.alg], **_public_coordinates(k.public_key.raw),
             **_window(k.validity)}
            for k in tl.issuer_keys
        ],
        "group_keys": [
            {"group": g.group, "kid": g.kid.hex(), "state": g.state.value, **_window(g.validity)}
            for g in tl.group_keys
        ],
        "terminal_keys": [
            {"terminal_id": t.terminal_id, "institution": t.institution, "kid": t.kid.hex(),
             "state": t.state.value, **_window(t.validity)}
            for t in tl.terminal_keys
        ],
    }


def load_terminal_trust(
    root_path: str | os.PathLike[str],
    list_path: str | os.PathLike[str],
    group_key_paths: Sequence[str | os.PathLike[str]] = (),
    *,
    state_dir: str | os.PathLike[str] | None = None,
    now: int | None = None,
    staleness: Staleness | None = None,
) -> TrustStore:
    """Trust for ``ecert verify --trust-list``: a verified list plus provisioned group keys.

    With ``state_dir`` the highest sequence is persisted and rollback refused
    across runs; the list is then also kept there as the last good one.
    """
    list_path = Path(list_path)
    at = system_clock() if now is None else now
    loader = TrustListLoader(load_trust_root(root_path), state_dir, staleness=staleness,
                             clock=lambda: at)
    try:
        data = list_path.read_bytes()
    except OSError as exc:
        raise EcertError(
            ErrorCode.TRUST_LIST_INVALID,
            f"cannot read the trust list {list_path}: {exc.strerror or 'unreadable'}",
        ) from None
    loader.offer(data)
    loader.provision_files(group_key_paths)
    return loader.trust_store()


def add_trust_source_args(parser: argparse.ArgumentParser) -> None:
    """Options for ``ecert verify`` to take its trust from a signed list instead of --keys."""
    parser.add_argument("--trust-list", help="signed trust list (instead of --keys)")
    parser.add_argument("--root", help="pinned root public key (root.pub.cose)")
    parser.add_argument("--group-key", action="append", default=[],
                        help="provisioned group key file, COSE_Key (repeatable)")
    parser.add_argument("--trust-state", help="directory persisting the highest sequence")


def trust_store_from_args(args: argparse.Namespace, now: int | None = None) -> TrustStore | None:
    """The trust store the ``add_trust_source_args`` options name, None without --trust-list."""
    if not getattr(args, "trust_list", None):
        return None
    if not args.root:
        raise UsageError("--trust-list needs --root")
    return load_terminal_trust(
        Path(args.root), Path(args.trust_list), [Path(p) for p in args.group_key],
        state_dir=Path(args.trust_state) if args.trust_state else None, now=now,
    )


# -- trust ------------------------------------------------------------------


def cmd_trust_keygen(args: argparse.Namespace) -> int:
    """Create the national root key (private PEM 0600, or an SM2 JWK for ``--suite sm``;
    pinned public COSE_Key)."""
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    suite = Suite.parse(args.suite)
    key = RootSigningKey.generate(suite=suite)
    private = out / (ROOT_SM2 if suite is Suite.SM else ROOT_PEM)
    save_root(key, private, out / ROOT_PUB, passphrase(args))
    emit({"root_kid": key.kid.hex(), "private_key": str(private),
          "public_key": str(out / ROOT_PUB), "alg": ALG_NAMES[key.alg]})
    return EXIT_OK


def cmd_trust_build(args: argparse.Namespace) -> int:
    """Collect public issuer keys and group key descriptors into an unsigned payload."""
    issuers: list[IssuerVerifyKey] = []
    groups: list[GroupKeyInfo] = []
    for directory in args.keys:
        public = keydir.load_public(Path(directory))
        issuers.extend(public.issuer_keys)
        known = {g.kid for g in groups}
        groups.extend(GroupKeyInfo(public.group, kid, validity, state)
                      for kid, state, validity in public.group_keys if kid not in known)
    issued_at = _now(args) if args.issued_at is None else args.issued_at
    terminals = [load_terminal_public(Path(t)) for t in args.terminal]
    tl = build_trust_list(args.sequence, issued_at, issued_at + args.valid_for, issuers, groups,
                          terminal_keys=terminals)
    payload = encode_payload(tl)
    write_file(Path(args.out), payload, 0o644)
    emit({**list_to_dict(tl, verified=False), "payload": str(args.out),
           "bytes": len(payload)})
    return EXIT_OK


def cmd_trust_sign(args: argparse.Namespace) -> int:
    """Sign a built payload with the national root key."""
    payload = read_file(args.payload, "payload")
    tl = decode_payload(payload)  # refuse to sign something that would not load
    key = load_root_signing_key(Path(args.root_key), passphrase(args))
    signed = sign_payload(payload, key)
    write_file(Path(args.out), signed, 0o644)
    emit({"signed": str(args.out), "root_kid": key.kid.hex(), "sequence": tl.sequence,
           "bytes": len(signed)})
    return EXIT_OK


def cmd_trust_inspect(args: argparse.Namespace) -> int:
    """Show a signed list's content WITHOUT verifying it."""
    emit(list_to_dict(read_unverified(read_file(args.list, "trust list")), verified=False))
    return EXIT_OK


def cmd_trust_verify(args: argparse.Namespace) -> int:
    """Verify a signed list against the pinned root (and the persisted sequence)."""
    now = _now(args)
    root = load_trust_root(Path(args.root))
    data = read_file(args.list, "trust list")
    if args.state_dir:
        staleness = Staleness(args.warn_after, args.refuse_after)
        tl = TrustListLoader(root, Path(args.state_dir), staleness=staleness,
                             clock=lambda: now).offer(data)
    else:
        tl = verify_trust_list(data, root, now)
    emit(list_to_dict(tl, verified=True))
    return EXIT_OK


# -- keys -------------------------------------------------------------------


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    """Rotate the issuer or group key of a key directory; the old key verifies only."""
    directory, secret, now = Path(args.keys), passphrase(args), _now(args)
    keys = keydir.load(directory, secret)
    if args.what == "issuer":
        old_kid = keys.signing_key.kid
        keys = keys.rotate_issuer(now)
        new_kid = keys.signing_key.kid
    else:
        old_kid = keys.group_key.kid
        keys = keys.rotate_group(now)
        new_kid = keys.group_key.kid
    keydir.save(keys, directory, secret)
    emit({"rotated": args.what, "old_kid": old_kid.hex(), "new_kid": new_kid.hex(),
           "at": now})
    return EXIT_OK


def cmd_keys_revoke(args: argparse.Namespace) -> int:
    """Revoke one key (issuer or group) of a key directory by its hex kid."""
    directory, secret = Path(args.keys), passphrase(args)
    keys = keydir.load(directory, secret)
    held = [kid for kid in args.kid if kid in keys.issuer_ring or kid in keys.group_ring]
    if not held:
        raise InvalidArgument("no key of the directory has this kid")
    kid = held[0]
    keys = keys.revoke(kid)
    keydir.save(keys, directory, secret)
    kind = "issuer" if kid in keys.issuer_ring else "group"
    emit({"revoked": kid.hex(), "kind": kind})
    return EXIT_OK


def cmd_keys_export(args: argparse.Namespace) -> int:
    """Export public issuer keys (JWK or COSE_Key); optionally group keys for terminals."""
    source = Path(args.keys)
    public = keydir.load_public(source)
    out = Path(args.out) if args.out else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    exported: list[dict[str, object]] = []
    for key in public.issuer_keys:
        item: dict[str, object] = {"kid": key.kid.hex(), "state": key.state.value}
        if args.format == "jwk":
            item["jwk"] = jwk = issuer_public_jwk(key)
            name, data = f"issuer-{key.kid.hex()}.pub.jwk.json", json.dumps(jwk).encode()
        else:
            data = issuer_public_to_cose_key(key)
            item["cose_key"] = data.hex()
            name = f"issuer-{key.kid.hex()}.pub.cose"
        if out is not None:
            write_file(out / name, data, 0o644)
            item["file"] = str(out / name)
        exported.append(item)
    result: dict[str, object] = {"issuer_keys": exported}
    if args.group_keys:
        if out is None:
            raise InvalidArgument("--group-keys needs --out (secrets are never printed)")
        files = []
        for kid, state, _ in public.group_keys:
            name = keydir.group_key_name(kid)
            write_file(out / name, read_private(source / name), 0o600)
            files.append({"kid": kid.hex(), "state": state.value, "file": str(out / name)})
        result["group_keys"] = files
    emit(result)
    return EXIT_OK


# -- wiring -----------------------------------------------------------------


def _add(sub: Any, name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(name, help=help_text)
    parser.set_defaults(func=handler)
    return parser


def add_passphrase_arg(p: argparse.ArgumentParser) -> None:
    """``--passphrase-env VAR``: the private keys' passphrase is in that variable."""
    p.add_argument("--passphrase-env", metavar="VAR",
                   help="environment variable holding the private keys' passphrase")


def register(subparsers: Any) -> None:
    """Add ``trust`` and ``keys`` command groups to an argparse subparsers object."""
    trust = subparsers.add_parser("trust", help="national root and signed trust lists")
    tsub = trust.add_subparsers(dest="trust_command", required=True, metavar="COMMAND")

    p = _add(tsub, "keygen", cmd_trust_keygen, "create the national root key")
    p.add_argument("--out", required=True, help="directory for root.key.pem and root.pub.cose")
    p.add_argument("--suite", choices=[s.value for s in Suite], default=Suite.ED25519.value,
                   help="ed25519 (default) or sm: an SM2 root (root.key.jwk.json)")
    add_passphrase_arg(p)

    p = _add(tsub, "build", cmd_trust_build, "build an unsigned trust list from key dirs")
    p.add_argument("--keys", action="append", required=True, help="key directory (repeatable)")
    p.add_argument("--terminal", action="append", default=[],
                   help="terminal public key (terminal.pub.json or its directory; repeatable)")
    p.add_argument("--sequence", type=unix_time, required=True, help="must grow with every list")
    p.add_argument("--issued-at", type=unix_time, help="Unix seconds (default: now)")
    p.add_argument("--valid-for", type=positive_int, default=DEFAULT_LIFETIME,
                   help="seconds until the list expires (default 30 days)")
    p.add_argument("--out", required=True, help="payload file (CBOR)")
    p.add_argument("--now", type=unix_time, help=argparse.SUPPRESS)

    p = _add(tsub, "sign", cmd_trust_sign, "sign a built payload with the root key")
    p.add_argument("payload", help="payload file from 'trust build'")
    p.add_argument("--root-key", required=True, help="root.key.pem (SM2: root.key.jwk.json)")
    p.add_argument("--out", required=True, help="signed list file (COSE_Sign1)")
    add_passphrase_arg(p)

    p = _add(tsub, "inspect", cmd_trust_inspect, "show a signed list WITHOUT verifying it")
    p.add_argument("list", help="signed list file")

    p = _add(tsub, "verify", cmd_trust_verify, "verify a signed list against the root")
    p.add_argument("list", help="signed list file")
    p.add_argument("--root", required=True, help="pinned root public key (root.pub.cose)")
    p.add_argument("--state-dir", help="persist the highest sequence here (refuses rollback)")
    p.add_argument("--warn-after", type=positive_int, default=Staleness().warn_after,
                   help="seconds after issue to warn that the list is stale")
    p.add_argument("--refuse-after", type=positive_int, default=Staleness().refuse_after,
                   help="seconds after issue to refuse the list")
    p.add_argument("--now", type=unix_time, help="Unix seconds (default: now)")

    keys = subparsers.add_parser("keys", help="rotate, revoke and export keys of a key directory")
    ksub = keys.add_subparsers(dest="keys_command", required=True, metavar="COMMAND")

    p = _add(ksub, "rotate", cmd_keys_rotate, "new primary key; the old one only verifies")
    p.add_argument("--keys", required=True, help="key directory")
    p.add_argument("--what", choices=("issuer", "group"), required=True)
    p.add_argument("--now", type=unix_time, help="rotation time, Unix seconds (default: now)")
    add_passphrase_arg(p)

    p = _add(ksub, "revoke", cmd_keys_revoke, "revoke a key by kid; its tokens fail at once")
    p.add_argument("--keys", required=True, help="key directory")
    p.add_argument("--kid", required=True, type=kid_arg,
                   help="kid in hex, as printed (base64url from older manifests also works)")
    add_passphrase_arg(p)

    p = _add(ksub, "export", cmd_keys_export, "export public keys (JWK or COSE_Key)")
    p.add_argument("--keys", required=True, help="key directory")
    p.add_argument("--format", choices=("jwk", "cose"), default="jwk")
    p.add_argument("--out", help="directory to write key files to")
    p.add_argument("--group-keys", action="store_true",
                   help="also copy the group keys (secret, 0600) to --out for terminals")


