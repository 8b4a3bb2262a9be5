"""The peer libraries a user would otherwise pick, loaded if installed.

* python-cwt 3.x declares ``cbor2<6``; with cbor2 6 it imports but cannot
  decode (cbor2 6 returns tagged arrays as tuples, python-cwt checks for
  lists).  So it runs with the cbor2 5 it supports, loaded from a separate
  directory *in this same process*: python-cwt's modules are imported while
  ``cbor2`` names the 5.x package, then ``cbor2`` is restored to 6.x for
  ecert-token.  The two do not share module names (cbor2 5's C extension is
  the top-level ``_cbor2`` and imports ``cbor2._types``, which 6.x lacks),
  so both work side by side and the baseline is interleaved with ours.
* pyseto (PASETO v4.public) and PyJWT (EdDSA) install normally.

See docs/performance.md for the installation commands.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from types import ModuleType

CBOR2_5_ENV = "ECERT_BENCH_CBOR2_5"
DEFAULT_CBOR2_5 = Path("benchmarks/.peers/cbor2-5")


def cbor2_5_dir(explicit: str | None) -> Path | None:
    """Where a cbor2 5.x was installed with ``pip install --target``, if anywhere."""
    for candidate in (explicit, os.environ.get(CBOR2_5_ENV), str(DEFAULT_CBOR2_5)):
        if candidate and (Path(candidate) / "cbor2" / "__init__.py").is_file():
            return Path(candidate)
    return None


def load_python_cwt(cbor2_dir: Path | None) -> tuple[ModuleType | None, str]:
    """python-cwt bound to cbor2 5.x from ``cbor2_dir``; (None, reason) if it cannot run."""
    if "cwt" in sys.modules:
        return sys.modules["cwt"], "already imported"
    if cbor2_dir is None:
        try:
            cwt = importlib.import_module("cwt")
        except ImportError as exc:
            return None, f"python-cwt not installed ({exc})"
        return cwt, "with cbor2 6 (no cbor2 5 directory given)"
    def is_cbor2(name: str) -> bool:
        return name == "cbor2" or name.startswith("cbor2.")

    ours = {k: m for k, m in sys.modules.items() if is_cbor2(k)}
    for k in ours:
        del sys.modules[k]
    sys.path.insert(0, str(cbor2_dir))
    try:
        cwt = importlib.import_module("cwt")
    except ImportError as exc:
        return None, f"python-cwt not installed ({exc})"
    finally:
        sys.path.remove(str(cbor2_dir))
        theirs = {k: sys.modules.pop(k) for k in [k for k in sys.modules if is_cbor2(k)]}
        sys.modules.update(ours)
        if "cbor2._types" in theirs:
            sys.modules["cbor2._types"] = theirs["cbor2._types"]
    version = getattr(theirs.get("cbor2"), "__version__", None) or _dist_version(cbor2_dir)
    return cwt, f"with cbor2 {version} from {cbor2_dir}"


def _dist_version(directory: Path) -> str:
    for info in directory.glob("cbor2-*.dist-info"):
        return info.name[len("cbor2-"):-len(".dist-info")]
    return "5.x"
