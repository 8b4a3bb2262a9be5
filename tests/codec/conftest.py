"""Every codec test runs on both implementations (the ``impl`` fixture)."""

from __future__ import annotations

import pytest

from ..conftest import Impl


@pytest.fixture(scope="module", autouse=True)
def _both_implementations(impl: Impl) -> Impl:
    return impl
