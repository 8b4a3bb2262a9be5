"""Every verifier test runs on both implementations (the ``impl`` fixture); and
helpers that seal arbitrary bytes as a token.

``seal`` signs and encrypts any payload with the test keys, with every
envelope field overridable, so tests reach the claims and COSE parsers with
inputs the Issuer would never write (non-canonical encodings, trailing
bytes, wrong types) yet that pass the AEAD and the signature.
"""

from __future__ import annotations

import cbor2
import pytest

from ecert_token.codec import cose
from ecert_token.keys.keydir import KeyDir
from ecert_token.token.text import to_text

from ..conftest import Impl, deterministic_random


@pytest.fixture(scope="module", autouse=True)
def _both_implementations(impl: Impl) -> Impl:
    return impl


class Sealer:
    def __init__(self, keys: KeyDir) -> None:
        self.keys = keys
        self.random = deterministic_random(b"perf-seal")

    def sign1(self, payload: bytes, *, protected: bytes | None = None,
              sign: bytes | None = None) -> bytes:
        sk = self.keys.signing_key
        prot = protected if protected is not None else cose.encode_protected(-8, sk.kid)
        sig = sk.private_key.sign(cose.sig_structure(prot, payload))
        return sign if sign is not None else cose.encode_sign1(prot, payload, sig)

    def encrypt0(self, plaintext: bytes, *, protected: bytes | None = None,
                 iv: bytes | None = None) -> bytes:
        gk = self.keys.group_key
        prot = protected if protected is not None else cose.encode_protected(10, gk.kid)
        nonce = iv if iv is not None else self.random(13)
        ct = gk.aead._aead.encrypt(nonce, plaintext, cose.enc_structure(prot))
        return cose.encode_encrypt0(prot, nonce, ct)

    def token(self, payload: bytes, **kw: bytes) -> str:
        return to_text(self.encrypt0(self.sign1(payload)))

    def token_from_plaintext(self, plaintext: bytes) -> str:
        return to_text(self.encrypt0(plaintext))


@pytest.fixture
def sealer(keys: KeyDir) -> Sealer:
    return Sealer(keys)


def claims_map(overrides: dict[object, object] | None = None) -> dict[object, object]:
    """A valid claims map (as encode_claims writes it), fields overridable."""
    from ..conftest import NOW

    value: dict[object, object] = {
        2: "E4Q7ZK2M9PXA",
        4: NOW + 60,
        6: NOW,
        7: bytes(range(8)),
        -65537: [110105, 310, 1101, 2, "张*丰", 1],
    }
    value.update(overrides or {})
    return value


def canonical(value: object) -> bytes:
    return cbor2.dumps(value, canonical=True)
