"""The one place where compiled code is chosen (as cbor2 5.x chose its C module in
its ``__init__``): every other module asks here and never imports an extension.

The optional C extensions are built by ``setup.py`` where a C compiler exists;
without them the package is pure Python with the same results and the same
errors.  Two environment variables, read once at import:

* ``ECERT_TOKEN_PURE_PYTHON=1``: use no compiled code (to test or measure the
  pure-Python path on a machine that has the extensions);
* ``ECERT_REQUIRE_SPEEDUPS=1``: a missing extension is an ``ImportError``
  instead of a silent fallback (CI sets it, so a broken build cannot pass as
  "pure Python").
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

ENV_PURE_PYTHON = "ECERT_TOKEN_PURE_PYTHON"
ENV_REQUIRE = "ECERT_REQUIRE_SPEEDUPS"


def allowed() -> bool:
    """May compiled extensions be used (the environment does not forbid them)?"""
    return os.environ.get(ENV_PURE_PYTHON, "") in ("", "0")


def required() -> bool:
    """Must the compiled extensions be present (``ECERT_REQUIRE_SPEEDUPS=1``)?"""
    return allowed() and os.environ.get(ENV_REQUIRE, "") == "1"


def _load(name: str) -> ModuleType | None:
    if not allowed():
        return None
    try:
        return importlib.import_module(f"ecert_token.{name}")
    except ImportError:
        if required():
            raise
        return None


base45 = _load("codec._base45")
"""The compiled Base45 codec, or None."""
canonical = _load("codec._canonical")
"""The compiled reader of the canonical COSE_Sign1 + claims layout, or None."""
