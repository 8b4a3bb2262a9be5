"""The one selection point of compiled code (src/ecert_token/_speedups.py).

The extension's compiled-in value rules (``CONSTANTS``: the algorithm ids and
sizes of both suites, the claim keys) must be the Python ones, and an extension
built from other rules is refused; without the extension the CCM keys of the
group routes are the library's own decrypts.
"""

from __future__ import annotations

import types

import pytest

from ecert_token import _speedups
from ecert_token.crypto import sm2, sm4
from ecert_token.keys.keydir import new_group_key
from ecert_token.keys.routes import build_routes
from ecert_token.model import limits


def test_the_python_rules_name_both_suites() -> None:
    rules = _speedups.constants()
    assert rules["ALG_SM2_SM3"] == sm2.ALG_SM2_SM3 == -65537
    assert rules["ALG_SM4_CCM_16_64_128"] == sm4.ALG_SM4_CCM_16_64_128
    assert rules["ALG_SM4_GCM"] == sm4.ALG_SM4_GCM
    assert (rules["SM4_CCM_NONCE_BYTES"], rules["SM4_CCM_TAG_BYTES"]) == (13, 8)
    assert (rules["SM4_GCM_NONCE_BYTES"], rules["SM4_GCM_TAG_BYTES"]) == (12, 16)
    assert rules["NONCE_BYTES"] == limits.NONCE_BYTES


def test_the_extension_was_built_from_them() -> None:
    if _speedups.extension is None:
        if _speedups.required():
            pytest.fail("ECERT_REQUIRE_SPEEDUPS=1 but the extension is not built")
        pytest.skip("the compiled accelerator is not built or is turned off")
    assert _speedups.constants() == _speedups.extension.CONSTANTS


@pytest.mark.parametrize("rule", ["ALG_SM2_SM3", "SM4_GCM_TAG_BYTES", "ALG_EDDSA"])
def test_an_extension_built_from_other_rules_is_refused(
    rule: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = dict(_speedups.constants(), **{rule: 1})
    fake = types.SimpleNamespace(CONSTANTS=other, REJECTIONS=(), open_token=len)
    monkeypatch.setattr(_speedups, "extension", fake)
    with pytest.raises(ImportError, match="other value rules"):
        _speedups.accelerator(())


def test_without_the_extension_routes_use_the_librarys_decrypts(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_speedups, "extension", None)
    assert _speedups.ccm_key("AES", bytes(16)) is None
    groups = [new_group_key("aes", bytes),
              new_group_key("sm4", lambda n: b"\x01" * n, alg=sm4.ALG_SM4_CCM_16_64_128)]
    routes = build_routes([], groups)
    for gk in groups:
        assert routes.groups[gk.kid].open == gk.aead.raw_decrypt


def test_with_the_extension_ccm_routes_hold_its_keys() -> None:
    if _speedups.extension is None:
        pytest.skip("the compiled accelerator is not built or is turned off")
    groups = [new_group_key("aes", bytes),
              new_group_key("sm4", lambda n: b"\x01" * n, alg=sm4.ALG_SM4_CCM_16_64_128),
              new_group_key("gcm", lambda n: b"\x02" * n, alg=sm4.ALG_SM4_GCM)]
    routes = build_routes([], groups)
    ccm = _speedups.extension.CcmKey
    assert [type(routes.groups[gk.kid].open) is ccm for gk in groups] == [True, True, False]
    assert routes.groups[groups[2].kid].open == groups[2].aead.raw_decrypt
    assert _speedups.ccm_key("DES", bytes(16)) is None
