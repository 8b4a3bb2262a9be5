"""The switch for the optional C extensions (Base45, batch signature checks).

Both are built by ``setup.py`` where a C compiler exists and are optional:
without them the package is pure Python with the same results.  Setting
``ECERT_TOKEN_PURE_PYTHON=1`` in the environment before import turns them
off, to measure or test the pure-Python code on a machine that has them.
"""

from __future__ import annotations

import os

ENV_PURE_PYTHON = "ECERT_TOKEN_PURE_PYTHON"


def allowed() -> bool:
    """May the compiled extensions be used (the environment does not forbid them)?"""
    return os.environ.get(ENV_PURE_PYTHON, "") in ("", "0")
