"""VerifyPolicy (token/policy.py): durations as whole seconds or timedelta."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from ecert_token import InvalidArgument, VerifyPolicy


def test_durations_accept_timedelta_and_keep_seconds() -> None:
    policy = VerifyPolicy(leeway=timedelta(seconds=7), max_lifetime=timedelta(minutes=2))
    assert policy.leeway == 7 and type(policy.leeway) is int
    assert policy.max_lifetime == 120 and type(policy.max_lifetime) is int
    assert policy == VerifyPolicy(leeway=7, max_lifetime=120)
    assert dataclasses.replace(policy, leeway=timedelta(0)).leeway == 0


@pytest.mark.parametrize("kwargs", [
    {"leeway": timedelta(seconds=1.5)}, {"leeway": timedelta(seconds=31)},
    {"leeway": timedelta(seconds=-1)}, {"max_lifetime": timedelta(minutes=6)},
    {"max_lifetime": timedelta(seconds=9)}, {"max_lifetime": timedelta(microseconds=1)},
    {"leeway": 1.0}, {"leeway": True}, {"max_lifetime": "60"},
])
def test_durations_out_of_range_or_not_whole_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidArgument):
        VerifyPolicy(**kwargs)  # type: ignore[arg-type]
