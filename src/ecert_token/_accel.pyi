# Stubs of the optional compiled accelerator (src/ecert_token/_accel.c).
from typing import Any

CONSTANTS: dict[str, int]
REJECTIONS: tuple[tuple[str, str | None], ...]
MINT_CONSTANTS: dict[str, int]

def open_token(
    body: str, groups: dict[bytes, Any], issuers: dict[bytes, Any], now: int, leeway: int,
    max_lifetime: int, /,
) -> int | tuple[Any, Any, Any] | None: ...
def b45decode(text: object, /) -> bytes | None: ...
def b45encode(data: object, /) -> str | None: ...
def mint_token(
    state: tuple[bytes, bytes, bytes, bytes, Any, str], claims: object, nonce: bytes, /,
) -> str | None: ...
