"""Differential fuzzing: the compiled accelerator against the pipeline's Python path.

THE PAIRS UNDER TEST ARE NAMED IN ``PAIRS`` BELOW, AND NOWHERE ELSE.  When the
compiled code changes (issue #11: one accelerator whose contract is "None or
exactly the pipeline's result"), change the rows of that table; the rest of
this file only knows the two contracts:

* ``SAME``: both give the same answer for every input, None included (equal
  values of equal types, the same key objects), or both raise the same error;
* ``NONE_OR_SAME``: the accelerator may answer None ("not mine"); any other
  answer must equal the reference's, and where the reference raises, the
  accelerator answers None or raises the same error.

"The same error" is the same exception type and, for ``EcertError``, the same
``code`` and detail.  Every input goes through every row.  A compiled side that is not
built makes the harness refuse to start (it would compare Python with itself).
``python fuzz/fuzz_differential.py --self-test`` shows the harness failing on
a planted wrong accelerator in every row (CI runs it before fuzzing).

Each row's ``args`` turns the fuzzer's bytes into the pair's arguments: for
``open_token`` (stages 2 to 8 of ``token/verify.py``) a token body, or a Sign1
plaintext or claims sealed with the published vectors' test keys of either suite
(see ``token_body``), so inputs reach the readers behind the AEAD and behind the
signature, on every route the accelerator has: AES-CCM and SM4-CCM opened in C,
SM4-GCM through the route's decrypt, Ed25519 by libsodium, SM2 through the
backend; text for the Base45 decoder; data for the Base45 encoder; and for the
CCM pair, a key, nonce, AAD and sealed bytes for the extension's CCM key against
crypto/sm4.py's ``Ccm`` (SM4) or cryptography's AESCCM (AES).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

with common.instrumented():
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers import algorithms
    from cryptography.hazmat.primitives.ciphers.aead import AESCCM
    from vector_trust import NOW, Sealer, suites, trust_configurations, trust_store

    from ecert_token import (
        BusinessType,
        Channel,
        EcertError,
        FixedClock,
        InsuranceType,
        Issuer,
        Region,
        SubjectKind,
        TokenClaims,
        Verifier,
        VerifyPolicy,
        _speedups,
    )
    from ecert_token.codec import base45
    from ecert_token.crypto.sm4 import ALG_SM4_CCM_16_64_128, ALG_SM4_GCM, Ccm
    from ecert_token.keys.jwk import b64url_decode
    from ecert_token.keys.material import GroupKey, IssuerSigningKey
    from ecert_token.model.limits import ALG_AES_CCM_16_64_128
    from ecert_token.token import verify as pipeline

SAME = "same answer, None included"
NONE_OR_SAME = "None, or the reference's answer"


class Pair(NamedTuple):
    name: str
    accelerated: Callable[..., Any] | None
    reference: Callable[..., Any]
    contract: str
    args: Callable[[bytes], tuple[Any, ...]]


_TRUST = next(t for t in trust_configurations() if suites(t) == (
    {"OKP", "EC"}, {ALG_AES_CCM_16_64_128, ALG_SM4_CCM_16_64_128, ALG_SM4_GCM}))
"""The vectors' trust block holding both suites (Ed25519 and SM2 issuers; AES-CCM,
SM4-CCM and SM4-GCM groups): sm_rejected.json's, a superset of the Ed25519 vectors' keys."""
_STORE = trust_store(_TRUST)
_ROUTES = _STORE.routes()
_POLICY = VerifyPolicy(clock=FixedClock(NOW))
_STAGES = Verifier(_STORE, _POLICY)._pipeline  # its I/O-free core
_EXTENSION = _speedups.extension


def _indices(kty: str, alg: int) -> tuple[int, int]:
    """The positions in ``_TRUST`` of the first issuer key of type ``kty`` and of the
    first group key of algorithm ``alg``."""
    issuers = [k["public_jwk"]["kty"] for k in _TRUST["issuer_keys"]]  # type: ignore[attr-defined]
    groups = [suites({"issuer_keys": [], "group_keys": [k]})[1].pop()
              for k in _TRUST["group_keys"]]  # type: ignore[attr-defined]
    return issuers.index(kty), groups.index(alg)


def _sealer(kty: str, alg: int) -> Sealer:
    return Sealer(_TRUST, *_indices(kty, alg))


_SEALERS = {  # mode byte -> (sealer, sign the rest first?)
    1: (_sealer("OKP", ALG_AES_CCM_16_64_128), False),
    2: (_sealer("OKP", ALG_AES_CCM_16_64_128), True),
    3: (_sealer("EC", ALG_SM4_CCM_16_64_128), False),
    4: (_sealer("EC", ALG_SM4_CCM_16_64_128), True),
    5: (_sealer("EC", ALG_SM4_GCM), True),
    6: (_sealer("EC", ALG_SM4_GCM), False),
    7: (_sealer("OKP", ALG_SM4_CCM_16_64_128), True),
    8: (_sealer("EC", ALG_AES_CCM_16_64_128), True),
}


def accelerator_open(body: str) -> object:
    """The accelerator on a token's Base45 body, its numbered rejections raised as
    the pipeline raises them."""
    assert pipeline._accelerator is not None and _ROUTES is not None
    answer = pipeline._accelerator(body, _ROUTES.groups, _ROUTES.issuers, NOW,
                                   _POLICY.leeway, _POLICY.max_lifetime)
    if type(answer) is int:
        raise pipeline._reject(answer)
    return answer


def pipeline_open(body: str) -> object:
    """The pipeline's Python stages 2 to 8 on the same body (accelerator off)."""
    saved, pipeline._accelerator = pipeline._accelerator, None
    try:
        return _STAGES._open(body, NOW)
    finally:
        pipeline._accelerator = saved


def token_body(data: bytes) -> tuple[str]:
    """Byte 0 says what the rest is (``_SEALERS``): 0 (or any other value) the Base45
    body itself (as Latin-1 text); 1, 3, 6 a Sign1 plaintext sealed to an AES-CCM,
    SM4-CCM or SM4-GCM group; 2, 4, 5, 7, 8 claims signed (Ed25519, SM2, SM2, Ed25519,
    SM2) and sealed (AES-CCM, SM4-CCM, SM4-GCM, SM4-CCM, AES-CCM), so fuzzed bytes
    reach the readers behind the AEAD and behind the signature of both suites."""
    mode, rest = data[:1], data[1:]
    sealing = _SEALERS.get(mode[0]) if mode else None
    if sealing is not None:
        sealer, sign = sealing
        return (base45.b45encode(sealer.sealed(sealer.signed(rest) if sign else rest)),)
    return (rest.decode("latin-1"),)


def _minter() -> Issuer:
    """An Issuer with the vectors' first Ed25519 issuer seed and AES-CCM group key (the
    layout the compiled minter takes)."""
    i, g = _indices("OKP", ALG_AES_CCM_16_64_128)
    issuer, group = _TRUST["issuer_keys"][i], _TRUST["group_keys"][g]["jwk"]  # type: ignore[index]
    return Issuer(
        IssuerSigningKey("fuzz", b64url_decode(issuer["public_jwk"]["kid"]),
                         Sealer(_TRUST, i, g).signer),
        GroupKey("fuzz", b64url_decode(group["kid"]), b64url_decode(group["k"])))


_MINTER = _minter()


def _field(cls: type[Any], byte: int) -> Any:
    members = list(cls)
    return members[byte % len(members)]


def mint_args(data: bytes) -> tuple[TokenClaims, bytes]:
    """Claims and a nonce from the fuzzer's bytes, NOT validated by the model (the
    minter must answer None or the Python text for any field values): times near and
    inside the compiled layout's range, any token id, any text (Latin-1, or UTF-8
    with lone surrogates), codes and a region of any six digits; a 13-byte nonce, or
    another length: the first byte's bits choose."""
    head, rest = (data + bytes(24))[:24], data[24:]
    flags = head[0]
    issued_at = 0x10000 - 1000 + int.from_bytes(head[1:6], "big") % (2**32 - 0x10000 + 2000)
    expires_at = issued_at + int.from_bytes(head[6:8], "big") - 1000
    texts = [t.decode("utf-8", "surrogateescape") if flags & 4 else t.decode("latin-1")
             for t in rest.split(b"\xff")]
    subject, name, actor = [*texts, "", "", ""][:3]
    claims = object.__new__(TokenClaims)
    region = object.__new__(Region)
    object.__setattr__(region, "code", f"{int.from_bytes(head[8:11], 'big') % 10**6:06d}")
    values = (rest[:flags % 32], issued_at, expires_at, subject, _field(SubjectKind, head[11]),
              region, _field(InsuranceType, head[12]), name, _field(BusinessType, head[13]),
              _field(Channel, head[14]), actor if flags & 1 else None)
    for slot, value in zip(TokenClaims.__slots__, values, strict=True):
        object.__setattr__(claims, slot, value)
    nonce = head[15:24] + bytes(4) if not flags & 2 else head[15:15 + flags % 16]
    return claims, nonce
def ccm_args(data: bytes) -> tuple[str, bytes, bytes, bytes, bytes]:
    """Byte 0: the cipher (even SM4, odd AES); bytes 1-16 the key, 17-29 the nonce,
    byte 30 the AAD length; then the AAD and the sealed bytes (ciphertext || tag)."""
    head = data[:31].ljust(31, b"\x00")
    cipher = "AES" if head[0] & 1 else "SM4"
    aad_end = 31 + head[30]
    return cipher, head[1:17], head[17:30], data[31:aad_end], data[aad_end:]


def ccm_accelerated(cipher: str, key: bytes, nonce: bytes, aad: bytes, sealed: bytes) -> object:
    """The extension's CCM key: the plaintext or None (InvalidTag), and its seal of that."""
    assert _EXTENSION is not None
    ccm = _EXTENSION.CcmKey(cipher, key)
    try:
        return ccm(nonce, sealed, aad), ccm.encrypt(nonce, sealed, aad)
    except InvalidTag:
        return None, ccm.encrypt(nonce, sealed, aad)


def ccm_reference(cipher: str, key: bytes, nonce: bytes, aad: bytes, sealed: bytes) -> object:
    """crypto/sm4.py's Ccm over SM4, cryptography's AESCCM over AES: the same two."""
    ccm: Ccm | AESCCM = (Ccm(algorithms.SM4(key), 13, 8) if cipher == "SM4"
                         else AESCCM(key, tag_length=8))
    try:
        return ccm.decrypt(nonce, sealed, aad), ccm.encrypt(nonce, sealed, aad)
    except InvalidTag:
        return None, ccm.encrypt(nonce, sealed, aad)


# ---------------------------------------------------------------------------
# THE TABLE: (name, accelerated, reference, contract, arguments from bytes)
PAIRS = (
    Pair("accelerator.open_token",
         accelerator_open if pipeline._accelerator is not None else None,
         pipeline_open, NONE_OR_SAME, token_body),
    Pair("accelerator.b45decode", getattr(_EXTENSION, "b45decode", None), base45.b45decode,
         NONE_OR_SAME, lambda data: (data.decode("latin-1"),)),
    Pair("accelerator.b45encode", getattr(_EXTENSION, "b45encode", None), base45.b45encode,
         NONE_OR_SAME, lambda data: (data,)),
    Pair("accelerator.mint_token", _MINTER._compiled, _MINTER._seal, NONE_OR_SAME, mint_args),
    Pair("accelerator.CcmKey", ccm_accelerated if _EXTENSION is not None else None,
         ccm_reference, SAME, ccm_args),
)
# ---------------------------------------------------------------------------

NAME = "differential"


class Difference(AssertionError):
    """The two sides of a pair disagree: a finding."""


def outcome(function: Callable[..., Any], args: tuple[Any, ...]) -> tuple[str, Any]:
    """``("answer", value)`` or ``("error", (type, code))``."""
    try:
        return "answer", function(*args)
    except EcertError as err:
        return "error", (type(err), err.code, err.detail)
    except Exception as err:  # compared, not judged: the reference decides what is right
        return "error", (type(err), None)


def same_answer(got: object, expected: object) -> bool:
    """Equal, of equal types all the way down, and the same objects where the
    reference hands out objects it was given (the Sign1 reader's route)."""
    if type(got) is not type(expected):
        return False
    if isinstance(expected, tuple):
        if len(got) != len(expected):  # type: ignore[arg-type]
            return False
        return all(same_answer(g, e) for g, e in zip(got, expected, strict=True))  # type: ignore[call-overload]
    if isinstance(expected, (bytes, str, int, float, bool)) or expected is None:
        return got == expected
    return got is expected or got == expected


def check(pair: Pair, data: bytes) -> None:
    args = pair.args(data)
    kind, value = outcome(pair.accelerated, args)  # type: ignore[arg-type]
    ref_kind, ref_value = outcome(pair.reference, args)
    if pair.contract == NONE_OR_SAME and kind == "answer" and value is None:
        return
    if kind != ref_kind or (
        not same_answer(value, ref_value) if kind == "answer" else value != ref_value
    ):
        raise Difference(f"{pair.name}: accelerated {kind} {value!r} != reference "
                         f"{ref_kind} {ref_value!r} ({pair.contract})")


def one_input(data: bytes) -> None:
    for pair in PAIRS:
        check(pair, data)


def require_compiled() -> None:
    missing = [p.name for p in PAIRS if p.accelerated is None]
    if missing:
        raise SystemExit(f"the compiled side of {', '.join(missing)} is not built or is "
                         "turned off (ECERT_TOKEN_PURE_PYTHON); nothing to compare")


def self_test() -> None:
    """Prove the harness can fail: for every row, an accelerator that answers
    wrongly, and one that raises where the reference answers, are caught."""
    def wrong(*_args: object) -> bytes:
        return b"not the reference's answer"

    def raises(*_args: object) -> None:
        raise RuntimeError("not the reference's error")

    for pair in PAIRS:
        for bad in (wrong, raises):
            for data in (b"BB8", b"%69 VD92EX0"):
                try:
                    check(pair._replace(accelerated=bad), data)
                except Difference:
                    break
            else:
                raise SystemExit(f"self-test: a wrong {pair.name} went unnoticed")
    print(f"self-test: a wrong accelerator is caught in each of {len(PAIRS)} pairs")


if __name__ == "__main__":
    require_compiled()
    if sys.argv[1:] == ["--self-test"]:
        self_test()
        raise SystemExit(0)
    common.main(NAME, one_input)
