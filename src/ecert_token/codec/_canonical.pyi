from collections.abc import Mapping
from typing import Any

_Fields = tuple[str, int, int, bytes, int, int, int, int, str, int, str | None, bool]

def read_sign1(
    plaintext: bytes, openings: Mapping[bytes, Any], /
) -> tuple[Any, bytes, _Fields] | None: ...
