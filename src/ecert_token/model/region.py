"""Insured region (参保地医保区划): a six-digit GB/T 2260 division code."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InvalidArgument

# First two digits of GB/T 2260 codes: the provinces, autonomous regions and
# municipalities, Taiwan (71), Hong Kong (81), Macau (82).  Province-level
# (省本级/省直) insurance schemes use codes inside their province, such as
# 619900 for Shaanxi's, not a 99 prefix (DOMAIN.md).
PROVINCE_PREFIXES = frozenset(
    {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46,
     50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82}
)


@dataclass(frozen=True, slots=True, order=True)
class Region:
    """A validated six-digit administrative-division code such as ``110105``."""

    code: str

    def __post_init__(self) -> None:
        code = self.code
        if not (isinstance(code, str) and len(code) == 6 and code.isascii() and code.isdigit()):
            raise InvalidArgument("region must be a six-digit division code")
        if int(code[:2]) not in PROVINCE_PREFIXES:
            raise InvalidArgument("region has an unknown province prefix")

    @classmethod
    def of(cls, value: Region | str | int) -> Region:
        """Accept a Region, a code string or its integer form."""
        if isinstance(value, Region):
            return value
        if isinstance(value, bool):
            raise InvalidArgument("region must be a six-digit division code")
        if isinstance(value, int):
            value = str(value)
        return cls(value)

    @property
    def province(self) -> str:
        """The two-digit province prefix, for example ``"11"`` for Beijing."""
        return self.code[:2]

    @property
    def province_region(self) -> Region:
        """The province-level code, for example ``110000`` for ``110105``."""
        return Region(self.code[:2] + "0000")

    @property
    def wire(self) -> int:
        """Integer form carried in tokens (six digits never start with 0)."""
        return int(self.code)

    def __str__(self) -> str:
        return self.code
