"""Fixed key material for the trust-list and key-import harnesses (test keys only).

Everything is derived from fixed seeds, so the seeds written by
``make_seeds.py`` match the keys the harnesses pin, on every machine.
"""

from __future__ import annotations

from pathlib import Path

import common

from ecert_token.keys import keydir
from ecert_token.trust.envelope import sign_trust_list
from ecert_token.trust.listing import build_trust_list
from ecert_token.trust.root import RootSigningKey
from ecert_token_tools.vectors import seeded_random

NOW = 1_790_000_000


KEYS = keydir.generate(random_bytes=seeded_random(b"fuzz keys"))
ROOT_KEY = RootSigningKey.generate(seeded_random(b"fuzz root"))
ROOT = ROOT_KEY.root


def signed_list(sequence: int = 5, regions: frozenset[str] | None = None) -> bytes:
    """A valid signed trust list listing the fixture issuer and group."""
    issuer = KEYS.signing_key.public
    if regions is not None:
        import dataclasses

        issuer = dataclasses.replace(issuer, regions=regions)
    tl = build_trust_list(sequence, NOW - 60, NOW + 86_400, [issuer], [KEYS.group_key])
    return sign_trust_list(tl, ROOT_KEY)


def key_directory() -> Path:
    """A fresh temporary key directory holding the fixture keys (unencrypted)."""
    directory = common.scratch_directory("ecert-fuzz-keys-")
    keydir.save(KEYS, directory)
    return directory
