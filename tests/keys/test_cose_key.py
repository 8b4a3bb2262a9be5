"""COSE_Key maps (keys/cose_key.py): labels are exact integers."""

from __future__ import annotations

import pytest

from ecert_token.codec import cbor
from ecert_token.errors import ErrorCode, KeyMaterialError
from ecert_token.keys.cose_key import (
    group_key_from_cose_key,
    group_key_to_cose_key,
    issuer_public_cose_map,
    public_from_map,
)
from ecert_token.keys.keydir import KeyDir


def _relabel(value: object, label: int, new: object) -> dict[object, object]:
    assert isinstance(value, dict)
    return {new if k == label and type(k) is int else k: v for k, v in value.items()}


@pytest.mark.parametrize(("label", "new"), [(1, True), (1, 1.0), (3, 3.0)])
def test_a_label_that_only_compares_equal_is_refused(keys: KeyDir, label: int,
                                                     new: object) -> None:
    """``true`` or ``1.0`` for kty (1), ``3.0`` for alg (3): Python takes them for the
    integer in a key set, so both kinds of key used to load (checked on the old code)."""
    secret = _relabel(cbor.loads(group_key_to_cose_key(keys.group_key), max_depth=2), label, new)
    with pytest.raises(KeyMaterialError) as info:
        group_key_from_cose_key(cbor.dumps(secret), "national")
    assert info.value.code is ErrorCode.KEY_FILE
    public = _relabel(issuer_public_cose_map(keys.signing_key.public), label, new)
    with pytest.raises(KeyMaterialError) as info:
        public_from_map(public)
    assert info.value.code is ErrorCode.KEY_FILE


def test_a_float_key_ops_label_is_refused(keys: KeyDir) -> None:
    value = {**issuer_public_cose_map(keys.signing_key.public), 4.0: [2]}
    with pytest.raises(KeyMaterialError):
        public_from_map(value)
    assert public_from_map({**issuer_public_cose_map(keys.signing_key.public), 4: [2]})
