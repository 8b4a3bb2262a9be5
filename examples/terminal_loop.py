"""A counter terminal's loop: scan -> verify -> the fields of the settlement request.

    python examples/terminal_loop.py --keys KEYDIR --business 01101 scans/ more.png codes.txt

Each path is a QR image (PNG, JPEG, ...; read with :func:`ecert_token.qr.scan_image`,
which needs the ``qr`` extra), a ``.txt`` file with one token text per line (a
handheld scanner in keyboard mode writes exactly that), or a directory of such
files.  Every code is verified for the business step the counter performs; an
accepted one prints what the counter sends to open the visit and settle:

* ``mdtrt_cert_type``: ``01``, the e-certificate token;
* ``mdtrt_cert_no``: the token text itself;
* ``insuplc_admdvs``: the insured region;
* ``insutype``: the insurance type;
* the business type.

``--json`` prints one JSON object per code instead.  The exit status is 0 when
every code was accepted, 1 when any was refused, 2 for a usage error.

A counter runs with ``--replay-db FILE``: the replay memory in a SQLite file
that outlives the process, so a code is accepted once across runs and
restarts.  A new file's memory begins when it is created and it refuses codes
that could have been used before that (``possibly_replayed``), so create it
when the terminal is installed.  Without ``--replay-db`` a one-shot run has no
memory worth the name: like ``ecert scan`` it runs every check except the
replay mark and says so ("replay not checked").
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ecert_token import (
    BusinessType,
    EcertError,
    InvalidArgument,
    ReplayStore,
    VerifiedToken,
    Verifier,
    VerifyPolicy,
    qr,
)
from ecert_token.keys import keydir
from ecert_token.replay import SqliteReplayStore

TEXT_SUFFIXES = frozenset({".txt"})
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"})


@dataclass(frozen=True, slots=True)
class Scan:
    """One code read from a source, or the reason none could be read."""

    source: str
    text: str | None = None
    error: EcertError | None = None


def settlement_fields(result: VerifiedToken, token: str) -> dict[str, str]:
    """The fields of the settlement request that come from the verified code."""
    claims = result.claims
    return {
        "mdtrt_cert_type": result.cert_type.value,
        "mdtrt_cert_no": token,
        "insuplc_admdvs": claims.region.code,
        "insutype": claims.insurance_type.value,
        "business_type": claims.business_type.value,
    }


def scans(paths: Sequence[Path]) -> Iterator[Scan]:
    """Every code in the given files and directories, in order."""
    for path in paths:
        if path.is_dir():
            children = sorted(p for p in path.iterdir()
                              if p.suffix.lower() in TEXT_SUFFIXES | IMAGE_SUFFIXES)
            yield from scans(children)
            continue
        if not path.is_file():
            yield Scan(str(path), error=InvalidArgument("cannot read the file"))
            continue
        try:
            if path.suffix.lower() in TEXT_SUFFIXES:
                texts = [line.strip() for line in path.read_text("utf-8").splitlines()]
            else:
                texts = qr.scan_image(path)
        except EcertError as err:
            yield Scan(str(path), error=err)
            continue
        except (OSError, UnicodeDecodeError):
            yield Scan(str(path), error=InvalidArgument("cannot read the file"))
            continue
        texts = [t for t in texts if t]
        if not texts:
            yield Scan(str(path), error=InvalidArgument("no code found"))
        for text in texts:
            yield Scan(str(path), text=text)


def replay_store(path: str, policy: VerifyPolicy) -> ReplayStore:
    store: ReplayStore = SqliteReplayStore(
        Path(path), max_lifetime=policy.max_lifetime + policy.leeway, clock=policy.clock,
        leeway=policy.leeway,  # every verifier sharing the file must use the same leeway
    )
    return store


def show(
    scan: Scan, outcome: VerifiedToken | EcertError, as_json: bool, replay_checked: bool
) -> None:
    if isinstance(outcome, EcertError):
        if as_json:
            print(json.dumps({"source": scan.source, "ok": False, **outcome.to_dict()},
                             ensure_ascii=False))
        else:
            print(f"[REFUSED] {scan.source}: {outcome.code.value} ({outcome})")
        return
    assert scan.text is not None
    fields = settlement_fields(outcome, scan.text)
    c = outcome.claims
    if as_json:
        print(json.dumps({"source": scan.source, "ok": True, "settlement": fields,
                          "credential_id": c.credential_id, "masked_name": c.masked_name,
                          "actor_id": c.actor_id, "replay_checked": replay_checked},
                         ensure_ascii=False))
        return
    print(f"[ACCEPTED] {scan.source}: {c.masked_name}, credential {c.credential_id}"
          + (f", shown by {c.actor_id}" if c.actor_id else "")
          + ("" if replay_checked else " (replay not checked)"))
    for name, value in fields.items():
        print(f"  {name:<16} {value}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", required=True, help="key directory (ecert keygen)")
    parser.add_argument("--business", required=True, help="business step, e.g. 01101")
    parser.add_argument("--json", action="store_true", help="one JSON object per code")
    parser.add_argument("--now", type=int, help="verification time, Unix seconds (for tests)")
    parser.add_argument("--replay-db", help="SQLite file that keeps replay memory across runs")
    parser.add_argument("paths", nargs="+", type=Path, help="images, .txt files, directories")
    args = parser.parse_args(argv)
    try:
        business = BusinessType.from_code(args.business)
        policy = VerifyPolicy() if args.now is None else VerifyPolicy(clock=lambda: args.now)
        store = None if args.replay_db is None else replay_store(args.replay_db, policy)
        verifier = Verifier(keydir.load(Path(args.keys)).trust_store(), policy, store)
    except EcertError as err:
        print(json.dumps(err.to_dict(), ensure_ascii=False), file=sys.stderr)
        return 2
    refused = 0
    for scan in scans(args.paths):
        outcome: VerifiedToken | EcertError
        if scan.error is not None:
            outcome = scan.error
        else:
            assert scan.text is not None
            try:
                if store is None:
                    outcome = verifier.check(scan.text, business, now=policy.clock())
                else:
                    outcome = verifier.verify(scan.text, business)
            except EcertError as err:
                outcome = err
        refused += isinstance(outcome, EcertError)
        show(scan, outcome, args.json, replay_checked=store is not None)
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(main())
