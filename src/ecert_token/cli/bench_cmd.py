"""``ecert bench``: the comparison of docs/performance.md, from the command line.

Prints the results and the targets as Markdown tables on stdout (text for
people; progress goes to stderr) and, with ``--json FILE``, the full report as
JSON; ``--json -`` prints that JSON on stdout instead of the tables (which then
go to stderr).  ``--quick`` runs a few small rounds only to prove that
everything runs (CI).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
from pathlib import Path
from typing import Any

from .output import UsageError


def cmd_bench(args: argparse.Namespace) -> int:
    from ..bench.compare import execute

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
    from ..bench.compare import add_arguments

    p = subparsers.add_parser(
        "bench",
        help="prints text: verify and mint against peers (--json - for JSON)",
    )
    add_arguments(p)
    p.set_defaults(func=cmd_bench)
