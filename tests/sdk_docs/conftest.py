"""Fixtures of the docs-and-examples tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecert_token.keys import keydir
from ecert_token.keys.keydir import KeyDir


@pytest.fixture
def key_dir(keys: KeyDir, tmp_path: Path) -> Path:
    """The shared test keys written as a key directory (what ``ecert keygen`` makes)."""
    directory = tmp_path / "keys"
    keydir.save(keys, directory)
    return directory
