"""Trust-list fixtures: a national root, two provincial issuers, a national group key."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ecert_token.keys.keydir import KeyDir, generate, new_issuer_key
from ecert_token.keys.material import IssuerSigningKey
from ecert_token.trust import RootSigningKey, TrustList, build_trust_list, sign_trust_list
from tests.conftest import NOW, deterministic_random

DAY = 86_400


@pytest.fixture(scope="session")
def root() -> RootSigningKey:
    return RootSigningKey.generate(deterministic_random(b"root"))


@pytest.fixture(scope="session")
def beijing() -> KeyDir:
    return generate(issuer="BJ", group="national", regions=frozenset({"11"}),
                    random_bytes=deterministic_random(b"beijing"))


@pytest.fixture(scope="session")
def shaanxi() -> IssuerSigningKey:
    return new_issuer_key("SN", frozenset({"61"}), deterministic_random(b"shaanxi"))


def make_list(beijing: KeyDir, shaanxi: IssuerSigningKey, sequence: int = 1,
              issued_at: int = NOW - 3600, lifetime: int = 30 * DAY) -> TrustList:
    return build_trust_list(
        sequence, issued_at, issued_at + lifetime,
        [beijing.signing_key.public, shaanxi.public], [beijing.group_key],
    )


@pytest.fixture
def signed(root: RootSigningKey, beijing: KeyDir, shaanxi: IssuerSigningKey) -> bytes:
    return sign_trust_list(make_list(beijing, shaanxi), root)


@pytest.fixture(scope="session")
def cwt_python() -> Path:
    """The python of the isolated python-cwt venv (see tests/interop/conftest.py).

    ``ECERT_CWT_PYTHON`` may name one directly; otherwise the interop suite's
    venv is built or reused.  No python-cwt is a failure, not a skip.
    """
    named = os.environ.get("ECERT_CWT_PYTHON")
    if named:
        return Path(named)
    try:
        from tests.interop.conftest import REPO_ROOT, ensure_venv
    except ImportError:
        pytest.fail("python-cwt interop needs tests/interop/conftest.py or ECERT_CWT_PYTHON")
    venv = Path(os.environ.get("ECERT_INTEROP_VENV") or REPO_ROOT / ".venv-interop")
    return ensure_venv(venv)
