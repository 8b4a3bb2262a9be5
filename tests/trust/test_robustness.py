"""No input, however broken, raises anything but an EcertError of the right family."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecert_token import EcertError, KeyMaterialError, TrustListError
from ecert_token.codec import cbor
from ecert_token.keys import keydir
from ecert_token.keys.cose_key import group_key_from_cose_key, issuer_public_from_cose_key
from ecert_token.trust import RootSigningKey, TrustRoot, verify_trust_list
from ecert_token.trust.envelope import sign_payload
from tests.conftest import NOW

FAST = settings(max_examples=300, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture])

# CBOR-able values of the kinds a hostile list could hold.
scalars = st.one_of(st.integers(-(2**64) + 1, 2**64 - 1), st.booleans(), st.none(),
                    st.binary(max_size=40), st.text(max_size=10))
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.integers(-8, 8), inner, max_size=6)),
    max_leaves=20,
)


@FAST
@given(data=st.binary(max_size=300))
def test_arbitrary_bytes_as_trust_list(root: RootSigningKey, data: bytes) -> None:
    with pytest.raises(TrustListError):
        verify_trust_list(data, root.root, NOW)
    with pytest.raises(TrustListError):
        verify_trust_list(b"\xd2" + data, root.root, NOW)


@FAST
@given(payload=values)
def test_root_signed_garbage_payload(root: RootSigningKey, payload: object) -> None:
    """Even a root signature over nonsense yields only TrustListError."""
    with pytest.raises(TrustListError):
        verify_trust_list(sign_payload(cbor.dumps(payload), root), root.root, NOW)


@FAST
@given(entry=st.dictionaries(st.integers(1, 7), values, max_size=7))
def test_root_signed_garbage_entries(root: RootSigningKey, entry: dict[int, object]) -> None:
    payload = {1: 1, 2: 1, 3: NOW - 10, 4: NOW + 10, 5: [entry], 6: [entry]}
    with contextlib.suppress(TrustListError):
        verify_trust_list(sign_payload(cbor.dumps(payload), root), root.root, NOW)


@FAST
@given(value=values)
def test_arbitrary_cose_keys(value: object) -> None:
    data = cbor.dumps(value)
    for load in (lambda: issuer_public_from_cose_key(data, "BJ"),
                 lambda: group_key_from_cose_key(data, "national"),
                 lambda: TrustRoot.from_cose_key(data)):
        with contextlib.suppress(KeyMaterialError):
            load()


@settings(max_examples=100, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=st.lists(st.dictionaries(
    st.sampled_from(["kid", "state", "not_before", "not_after", "regions"]),
    st.one_of(st.none(), st.booleans(), st.integers(-5, 2**41), st.text(max_size=8),
              st.lists(st.text(max_size=3), max_size=3)),
), max_size=2))
def test_garbage_manifest(tmp_path: Path, entries: list[dict[str, object]]) -> None:
    manifest = {"format": keydir.FORMAT, "issuer": "BJ", "group": "national",
                "issuer_keys": entries, "group_keys": entries}
    (tmp_path / keydir.MANIFEST).write_text(json.dumps(manifest))
    for load in (keydir.load, keydir.load_public):
        with contextlib.suppress(EcertError):
            load(tmp_path)
