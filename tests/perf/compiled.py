"""Which optional C extensions the compiled-path tests need, and what to do without them."""

from __future__ import annotations

import os

import pytest

from ecert_token._speedups import allowed


def skip_unless_built(module: object, what: str) -> pytest.MarkDecorator:
    """Skip where ``what`` was not built (or ECERT_TOKEN_PURE_PYTHON turned it off);
    with ``ECERT_REQUIRE_SPEEDUPS=1`` (CI) a missing extension is an error instead."""
    if module is None and allowed() and os.environ.get("ECERT_REQUIRE_SPEEDUPS") == "1":
        raise RuntimeError(f"ECERT_REQUIRE_SPEEDUPS=1 but {what} is not built")
    return pytest.mark.skipif(module is None, reason=f"{what} not built or turned off")
