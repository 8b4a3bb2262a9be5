"""model/region.py: division codes and province prefixes are ASCII digits, nothing else.

``str.isdigit()`` is true for full-width ``１１`` and ``int("１１") == 11``: before
the fix a key scoped to ``１１`` silently served Beijing.
"""

from __future__ import annotations

import cbor2
import pytest

from ecert_token import Region
from ecert_token.errors import ErrorCode, InvalidArgument, TrustListError
from ecert_token.keys import keydir
from ecert_token.keys.material import validate_regions
from ecert_token.model.region import ascii_digits, province_prefix
from ecert_token.trust import build_trust_list
from ecert_token.trust.listing import decode_payload, encode_payload
from tests.conftest import NOW

# Full-width, Arabic-Indic, Devanagari and superscript spellings of 11 / 110105.
FOREIGN_PREFIXES = ["１１", "١١", "११", "1１", "¹¹"]
FOREIGN_REGIONS = ["１１０１０５", "١١٠١٠٥", "11010５"]


@pytest.mark.parametrize("code", FOREIGN_REGIONS)
def test_region_refuses_non_ascii_digits(code: str) -> None:
    with pytest.raises(InvalidArgument, match="ASCII digits"):
        Region(code)


@pytest.mark.parametrize("prefix", FOREIGN_PREFIXES)
def test_province_prefixes_refuse_non_ascii_digits(prefix: str) -> None:
    with pytest.raises(InvalidArgument, match="ASCII digits"):
        province_prefix(prefix)
    with pytest.raises(InvalidArgument, match="ASCII digits"):
        validate_regions(frozenset({prefix}))
    with pytest.raises(InvalidArgument, match="ASCII digits"):
        keydir.generate(regions=frozenset({"31", prefix}))


def test_ascii_prefixes_still_work() -> None:
    assert province_prefix("11") == "11"
    assert validate_regions(frozenset({"11", "61"})) == frozenset({"11", "61"})
    assert ascii_digits("110105", 6) and not ascii_digits("11010", 6)
    with pytest.raises(InvalidArgument, match="unknown province"):
        province_prefix("00")


def test_a_trust_list_carrying_full_width_regions_is_refused() -> None:
    keys = keydir.generate(regions=frozenset({"11"}))
    payload = encode_payload(build_trust_list(
        1, NOW, NOW + 86_400, [keys.signing_key.public], []))
    content = cbor2.loads(payload)
    issuers = next(v for v in content.values() if isinstance(v, list) and v)
    entry = issuers[0]
    regions_key = next(k for k, v in entry.items() if v == ["11"])
    entry[regions_key] = ["１１"]
    with pytest.raises(TrustListError) as info:
        decode_payload(cbor2.dumps(content, canonical=True))
    assert info.value.code is ErrorCode.TRUST_LIST_INVALID
    assert decode_payload(payload).issuer_keys[0].regions == frozenset({"11"})
