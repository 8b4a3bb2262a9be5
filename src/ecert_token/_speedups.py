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
from collections.abc import Callable
from types import ModuleType
from typing import Any, TypeVar

_In = TypeVar("_In")
_Out = TypeVar("_Out")

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


extension = _load("_accel")
"""The one compiled extension (``_accel.c``), or None."""


def constants() -> dict[str, int]:
    """The values the extension must have been compiled with (``model/limits.py``
    and the claim keys of ``codec/cwt.py``)."""
    from .codec import cwt
    from .crypto import sm2, sm4
    from .model import limits

    return {
        "ALG_EDDSA": limits.ALG_EDDSA,
        "ALG_AES_CCM_16_64_128": limits.ALG_AES_CCM_16_64_128,
        "ALG_SM2_SM3": sm2.ALG_SM2_SM3,
        "ALG_SM4_CCM_16_64_128": sm4.ALG_SM4_CCM_16_64_128,
        "ALG_SM4_GCM": sm4.ALG_SM4_GCM,
        "NONCE_BYTES": limits.NONCE_BYTES,
        "TAG_BYTES": limits.TAG_BYTES,
        "SM4_CCM_NONCE_BYTES": sm4.Sm4CcmKey.nonce_bytes,
        "SM4_CCM_TAG_BYTES": sm4.Sm4CcmKey.tag_bytes,
        "SM4_GCM_NONCE_BYTES": sm4.Sm4GcmKey.nonce_bytes,
        "SM4_GCM_TAG_BYTES": sm4.Sm4GcmKey.tag_bytes,
        "SM2_SIGNATURE_BYTES": sm2.SIGNATURE_BYTES,
        "SIGNATURE_BYTES": limits.SIGNATURE_BYTES,
        "PUBLIC_KEY_BYTES": limits.PUBLIC_KEY_BYTES,
        "MAX_KID_BYTES": limits.MAX_KID_BYTES,
        "CLAIM_SUB": cwt.SUB,
        "CLAIM_EXP": cwt.EXP,
        "CLAIM_IAT": cwt.IAT,
        "CLAIM_CTI": cwt.CTI,
        "CLAIM_ECERT": cwt.ECERT,
    }


def accelerator(rejections: tuple[tuple[str, str | None], ...]) -> Callable[..., Any] | None:
    """The extension's ``open_token`` (stages 2 to 8 of ``token/verify.py`` for the
    canonical layout), or None without the extension.

    ``rejections`` is the pipeline's table of numbered rejections; an extension
    compiled with another table or other constants is refused (``ImportError``),
    for its answers would not be the pipeline's.
    """
    if extension is None:
        return None
    if constants() != extension.CONSTANTS or rejections != extension.REJECTIONS:
        raise ImportError("ecert_token._accel was built from other value rules; rebuild it")
    open_token: Callable[..., Any] = extension.open_token
    return open_token


def minter() -> Callable[..., str | None] | None:
    """The extension's ``mint_token`` (``Issuer``'s sealing steps for the canonical
    layout: exactly the Python path's text, or None), or None without the extension.

    An extension compiled with other value rules is refused (``ImportError``).
    """
    if extension is None:
        return None
    expected = constants()
    if any(expected.get(name) != value for name, value in extension.MINT_CONSTANTS.items()):
        raise ImportError("ecert_token._accel was built from other value rules; rebuild it")
    mint_token: Callable[..., str | None] = extension.mint_token
    return mint_token


def ccm_key(cipher: str, key: bytes) -> Callable[[bytes, bytes, bytes], bytes] | None:
    """The extension's CCM-16-64-128 key over ``cipher`` (``"AES"`` or ``"SM4"``), the
    key expanded once, or None without the extension (or if its OpenSSL lacks the cipher).

    Called as ``(nonce, ciphertext || tag, aad)`` it answers the plaintext or raises
    cryptography's ``InvalidTag``, as ``AesCcmKey.raw_decrypt`` and ``crypto/sm4.py``'s
    ``Ccm.decrypt`` do (the tests hold them equal); a group route holding one is
    opened inside the accelerator, with no Python call (``keys/routes.py``).
    """
    if extension is None:
        return None
    try:
        made: Callable[[bytes, bytes, bytes], bytes] = extension.CcmKey(cipher, key)
    except ValueError:
        return None
    return made


def _or_python(name: str, python: Callable[[_In], _Out]) -> Callable[[_In], _Out]:
    """The extension's function ``name`` where it answers (exactly ``python``'s
    answer, or None for what it does not take, in which case ``python`` runs), else
    ``python`` itself."""
    if extension is None:
        return python
    compiled: Callable[[_In], _Out | None] = getattr(extension, name)

    def chosen(value: _In) -> _Out:
        answer = compiled(value)
        return answer if answer is not None else python(value)

    chosen.__name__ = chosen.__qualname__ = name
    return chosen


def _choose_b45encode() -> Callable[[bytes], str]:
    from .codec.base45 import b45encode as python

    return _or_python("b45encode", python)


b45encode = _choose_b45encode()
"""Base45 encoding for minting: the extension's (exactly the Python one's answer,
or None for what it does not take), else ``codec.base45.b45encode``."""


def _choose_b45decode() -> Callable[[str], bytes]:
    from .codec.base45 import b45decode as python

    return _or_python("b45decode", python)


b45decode = _choose_b45decode()
"""Base45 decoding outside the accelerator's own path (holder presentations): the
extension's (exactly the Python one's bytes, or None where the Python one raises; the
differential fuzz harness and tests/codec hold them equal), else
``codec.base45.b45decode``, which then decides and raises ``Base45Error``."""
