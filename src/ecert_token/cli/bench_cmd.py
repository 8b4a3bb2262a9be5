"""``ecert bench``: the comparison of docs/performance.md, from the command line.

Prints the results and the targets as Markdown tables on stdout (progress
goes to stderr) and, with ``--json FILE``, the full report as JSON.
``--quick`` runs a few small rounds only to prove that everything runs (CI).
"""

from __future__ import annotations

import argparse
from typing import Any


def cmd_bench(args: argparse.Namespace) -> int:
    from ..bench.compare import execute

    return execute(args)


def register(subparsers: Any) -> None:
    """Add ``bench`` to the ``ecert`` subcommands (``subparsers`` from add_subparsers)."""
    from ..bench.compare import add_arguments

    p = subparsers.add_parser(
        "bench", help="benchmark verify and mint against libsodium and peer libraries"
    )
    add_arguments(p)
    p.set_defaults(func=cmd_bench)
