"""What the numbers were measured on: CPU, cores, Python and library versions."""

from __future__ import annotations

import os
import platform
from importlib import metadata
from pathlib import Path

LIBRARIES = ("ecert-token", "pynacl", "cryptography", "cbor2", "cwt", "pyseto", "pyjwt")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def speedups() -> dict[str, str]:
    """Which optional C extensions ran (each is "C extension" or "pure Python")."""
    from ecert_token import _speedups

    return {"accelerator": "C extension" if _speedups.extension is not None else "pure Python"}


def describe(extra: dict[str, str | None] | None = None) -> dict[str, object]:
    """A JSON-ready description of this machine and the library versions."""
    libs: dict[str, str | None] = {name: version(name) for name in LIBRARIES}
    libs.update(extra or {})
    try:
        from cryptography.hazmat.backends.openssl import backend

        libs["openssl"] = backend.openssl_version_text()
    except (ImportError, AttributeError):
        pass
    return {
        "cpu": cpu_model(),
        "speedups": speedups(),
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "libraries": libs,
    }
