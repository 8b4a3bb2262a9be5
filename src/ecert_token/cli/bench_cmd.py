"""``ecert bench``: the comparison of docs/performance.md, from the command line.

Prints the results and the targets as Markdown tables on stdout (text for
people; progress goes to stderr) and, with ``--json FILE``, the full report as
JSON; ``--json -`` prints that JSON on stdout instead of the tables (which then
go to stderr).  ``--quick`` runs a few small rounds only to prove that
everything runs (CI).

The benchmark itself is ``ecert_token_tools.bench`` (outside the core
package): it is imported only when the command runs, so building the ``ecert``
parser or verifying a token never loads it.  The flags are declared here, and
``benchmarks/compare.py`` uses the same declaration.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
from pathlib import Path
from typing import Any

from .output import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``ecert bench`` (and of ``benchmarks/compare.py``)."""
    parser.add_argument("--json", metavar="FILE", help="write the full report as JSON")
    parser.add_argument("--quick", action="store_true",
                        help="a few small rounds: proves the benchmark runs (CI)")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 30)")
    parser.add_argument("--batch", type=int, help="operations per contender per round")
    parser.add_argument("--no-peers", action="store_true", help="skip the peer libraries")
    parser.add_argument("--no-parallel", action="store_true", help="skip verify_many")
    parser.add_argument("--no-growth", action="store_true",
                        help="skip the cost-growth runs (replay window, trust store size)")
    parser.add_argument("--cbor2-5", metavar="DIR",
                        help="a cbor2 5.x installed with pip --target, for python-cwt")


def cmd_bench(args: argparse.Namespace) -> int:
    from ecert_token_tools.bench.compare import execute

    for name in ("rounds", "batch"):
        value = getattr(args, name, None)
        if value is not None and value < 1:
            raise UsageError(f"--{name} must be a positive whole number")
    if args.json != "-":
        return execute(args)
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "bench.json"
        with contextlib.redirect_stdout(sys.stderr):
            code = execute(argparse.Namespace(**{**vars(args), "json": str(report)}))
        sys.stdout.write(report.read_text("utf-8"))
        sys.stdout.flush()
    return code


def register(subparsers: Any) -> None:
    """Add ``bench`` to the ``ecert`` subcommands (``subparsers`` from add_subparsers)."""
    p = subparsers.add_parser(
        "bench",
        help="prints text: verify and mint against peers (--json - for JSON)",
    )
    add_arguments(p)
    p.set_defaults(func=cmd_bench)
