"""Cipher suites: which algorithms a new key directory's keys use.

A suite only decides what ``generate`` makes; afterwards each key carries its
own algorithm (keys/material.py) and a token never chooses it.

* ``ed25519`` (the default): Ed25519 signatures (COSE -8) and
  AES-CCM-16-64-128 encryption (COSE 10);
* ``sm``, the commercial-cryptography (国密) suite: SM2 signatures over SM3
  with the signer identity (COSE -65537) and SM4-CCM-16-64-128 encryption
  (COSE -65539); SM4-GCM (COSE -65538) is accepted for group keys too.

The SM ids are from COSE's private-use range (below -65536): they are agreed
between the platform and its terminals, not registered (docs/sm-suite.md).
"""

from __future__ import annotations

from enum import StrEnum

from ..crypto.aead import ALG_AES_CCM_16_64_128
from ..crypto.ed25519 import ALG_EDDSA
from ..crypto.sm2 import ALG_SM2_SM3
from ..crypto.sm4 import ALG_SM4_CCM_16_64_128, ALG_SM4_GCM
from ..errors import InvalidArgument


class Suite(StrEnum):
    """The algorithms of newly generated keys."""

    ED25519 = "ed25519"
    SM = "sm"

    @classmethod
    def parse(cls, value: object) -> Suite:
        for suite in cls:
            if value == suite.value:
                return suite
        raise InvalidArgument("suite must be 'ed25519' or 'sm'")

    @property
    def signature_alg(self) -> int:
        return ALG_SM2_SM3 if self is Suite.SM else ALG_EDDSA

    @property
    def group_alg(self) -> int:
        return ALG_SM4_CCM_16_64_128 if self is Suite.SM else ALG_AES_CCM_16_64_128


ALG_NAMES: dict[int, str] = {
    ALG_EDDSA: "EdDSA",
    ALG_SM2_SM3: "SM2-SM3",
    ALG_AES_CCM_16_64_128: "AES-CCM-16-64-128",
    ALG_SM4_CCM_16_64_128: "SM4-CCM-16-64-128",
    ALG_SM4_GCM: "SM4-GCM",
}
"""COSE alg -> the name JWK files and tools use for it."""
ALG_IDS = {name: alg for alg, name in ALG_NAMES.items()}
GROUP_ALGS = frozenset({ALG_AES_CCM_16_64_128, ALG_SM4_CCM_16_64_128, ALG_SM4_GCM})
