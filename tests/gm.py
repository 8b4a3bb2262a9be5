"""The SM suite's test support: the ``gm`` requirement and an independent SM2 verifier.

``require_gm()`` at the top of a test module skips it when the ``gm`` extra
(gmalglib) or the independent pure-Python ``gmssl`` is missing, and under
``ECERT_REQUIRE_GM=1`` (CI) fails it instead, so CI cannot pass by skipping.

:func:`independent_verify` checks an SM2 signature with the pure-Python
``gmssl`` package (another implementation of the curve arithmetic, sharing no
code with gmalglib): it computes Z and e itself from GB/T 32918.2, with
gmssl's SM3 and gmssl's curve constants, then asks gmssl to verify e.
gmssl's own ``verify_with_sm3`` only knows the default ID, which is why Z is
computed here; its signing (``random.choice`` nonces) is never used.
"""

from __future__ import annotations

import importlib.util
import os

import pytest

REQUIRE_ENV = "ECERT_REQUIRE_GM"
DEFAULT_ID = b"1234567812345678"


def require_gm(modules: tuple[str, ...] = ("gmalglib", "gmssl")) -> None:
    """Skip the calling module without the SM backends, or fail it in CI."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if not missing:
        return
    reason = f"{' and '.join(missing)} not installed (pip install -e '.[dev,gm]')"
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason}, and {REQUIRE_ENV}=1 requires the SM-suite tests",
                    pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def _sm3(data: bytes) -> bytes:
    from gmssl import func, sm3

    return bytes.fromhex(sm3.sm3_hash(func.bytes_to_list(data)))


def independent_z(public_raw: bytes, uid: bytes = DEFAULT_ID) -> bytes:
    """Z_A by gmssl's SM3 over gmssl's sm2p256v1 constants."""
    from gmssl.sm2 import default_ecc_table as t

    curve = bytes.fromhex(t["a"] + t["b"] + t["g"])
    return _sm3((len(uid) * 8).to_bytes(2, "big") + uid + curve + public_raw)


def independent_verify(
    public_raw: bytes, message: bytes, signature: bytes, uid: bytes = DEFAULT_ID
) -> bool:
    """Does pure-Python gmssl accept ``signature`` (r || s) of ``message`` under ``uid``?"""
    from gmssl.sm2 import CryptSM2

    if len(signature) != 64 or len(public_raw) != 64:
        return False
    e = _sm3(independent_z(public_raw, uid) + message)
    checker = CryptSM2(private_key=None, public_key="")
    # Set after construction: gmssl's constructor runs ``public_key.lstrip("04")``, which
    # strips every leading '0' and '4' digit of x, not only an 04 prefix.
    checker.public_key = public_raw.hex()
    return bool(checker.verify(signature.hex(), e))
