"""model/construct.py: ``construct`` and ``constructor`` build the same ordinary frozen
objects as the dataclass constructor, with the class's own checks."""

from __future__ import annotations

from dataclasses import FrozenInstanceError

import pytest

from ecert_token import (
    BusinessType,
    Channel,
    InsuranceType,
    InvalidArgument,
    Region,
    SubjectKind,
    TokenClaims,
)
from ecert_token.codec.cose import Header
from ecert_token.model.construct import construct, constructor

VALUES = (b"\x01" * 8, 1_790_000_000, 1_790_000_060, "E4Q7ZK2M9PXA", SubjectKind.INSURED_PERSON,
          Region("110105"), InsuranceType.EMPLOYEE_BASIC, "张*丰",
          BusinessType.HOSPITAL_SETTLEMENT, Channel.WECHAT, None)


@pytest.mark.parametrize("build", [lambda *v: construct(TokenClaims, *v),
                                   constructor(TokenClaims)], ids=["construct", "constructor"])
def test_same_object_as_the_dataclass_and_same_checks(build: object) -> None:
    assert callable(build)
    made = build(*VALUES)
    plain = TokenClaims(*VALUES)
    assert type(made) is TokenClaims
    assert made == plain and hash(made) == hash(plain) and repr(made) == repr(plain)
    with pytest.raises(FrozenInstanceError):
        made.token_id = b"x" * 8  # type: ignore[misc]
    with pytest.raises(InvalidArgument) as by_build:
        build(b"short", *VALUES[1:])
    with pytest.raises(InvalidArgument) as by_class:
        TokenClaims(b"short", *VALUES[1:])  # type: ignore[arg-type]
    assert str(by_build.value) == str(by_class.value)


def test_constructor_of_a_class_without_post_init() -> None:
    assert constructor(Header)(-8, b"kid") == Header(-8, b"kid") == construct(Header, -8, b"kid")
