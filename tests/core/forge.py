"""Build token layers by hand, for tests that feed the verifier crafted input.

The verifier's inner strictness (COSE_Sign1 shape, claims shape) can only be
reached through a valid AEAD layer, so these helpers encrypt arbitrary bytes
with the real group key (``GroupKey.aead``) and sign arbitrary payloads with
the real issuer key: what comes out differs from a minted token only where a
test says so.
"""

from __future__ import annotations

from ecert_token import GroupKey, IssuerSigningKey
from ecert_token.codec import cbor, cose
from ecert_token.codec.cwt import CTI, ECERT, EXP, IAT, SUB
from ecert_token.token.text import from_text, to_text
from tests.conftest import NOW

NONCE = bytes(range(13))
TOKEN_ID = bytes(range(8))


def seal(group: GroupKey, plaintext: bytes, *, protected: bytes | None = None,
         nonce: bytes = NONCE, unprotected: dict[object, object] | None = None) -> str:
    """A token text whose Encrypt0 carries ``plaintext`` under the real group key.

    ``protected`` (serialized) is what the AEAD binds; ``unprotected`` replaces
    the usual ``{5: nonce}`` header when given.
    """
    if protected is None:
        protected = cose.encode_protected(group.alg, group.kid)
    _, ciphertext = group.aead.encrypt(plaintext, cose.enc_structure(protected), lambda _: nonce)
    if unprotected is not None:
        return to_text(b"\xd0" + cbor.dumps([protected, unprotected, ciphertext]))
    return to_text(cose.encode_encrypt0(protected, nonce, ciphertext))


def unseal(group: GroupKey, text: str) -> bytes:
    """The plaintext (the tagged COSE_Sign1) inside a minted token."""
    envelope = cose.decode_encrypt0(from_text(text))
    return group.aead.decrypt(envelope.iv, envelope.ciphertext,
                              cose.enc_structure(envelope.protected))


def sign1(key: IssuerSigningKey, payload: bytes, *, protected: bytes | None = None,
          unprotected: object = None) -> bytes:
    """A tagged COSE_Sign1 over ``payload`` with a real signature of the issuer key."""
    if protected is None:
        protected = cose.encode_protected(key.public.alg, key.kid)
    signature = key.private_key.sign(cose.sig_structure(protected, payload))
    items = [protected, {} if unprotected is None else unprotected, payload, signature]
    return b"\xd2" + cbor.dumps(items)


def ecert_fields(**changes: object) -> list[object]:
    """The private claim's array for a settlement (01301) token; ``f6=...`` adds an actor.

    Keyword ``fN`` replaces position N (or appends when N is the length).
    """
    fields: list[object] = [110105, 310, 1301, 2, "张*丰", 1]
    for index, value in changes.items():
        position = int(index.removeprefix("f"))
        if position == len(fields):
            fields.append(value)
        else:
            fields[position] = value
    return fields


def claims_map(**changes: object) -> dict[object, object]:
    """A valid claims map (issued at NOW, 60 s) with some values replaced.

    Keyword ``kN`` sets claim N and ``mN`` claim -N (``m65537`` is the
    private e-certificate claim).
    """
    claims: dict[object, object] = {
        SUB: "E4Q7ZK2M9PXA",
        EXP: NOW + 60,
        IAT: NOW,
        CTI: TOKEN_ID,
        ECERT: ecert_fields(),
    }
    for key, value in changes.items():
        claims[int(key.removeprefix("k").replace("m", "-"))] = value
    return claims
