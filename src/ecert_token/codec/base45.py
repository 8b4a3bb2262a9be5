"""Base45 (RFC 9285): bytes as QR-alphanumeric text.

Two bytes become three characters, so a QR code stores the result in its
compact alphanumeric mode.  Decoding is strict: only the 45 upper-case
characters, no length of 1 mod 3, and no group whose value is out of range.

Both directions avoid a Python-level loop per character, because Base45 sits
on the verifier's hot path (docs/performance.md):

* decoding maps characters to digit values with ``bytes.translate``, reads
  all groups as one big integer with 24-bit lanes (``a, b, c`` in one lane
  each), computes every ``a + 45*b + 2025*c`` at once with a few big-integer
  operations (no lane can carry into the next: a group is below 2**17), and
  checks every lane for the 65535 limit with one mask;
* encoding looks each 16-bit group up in a table of the 65536 three-character
  groups, built on first use (about 4 MB, so verify-only processes never pay).
"""

from __future__ import annotations

import functools
import struct

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"

_INVALID = 0xFF
_DIGITS = bytes(
    ALPHABET.index(chr(i)) if chr(i) in ALPHABET else _INVALID for i in range(256)
)
"""``bytes.translate`` table: character code -> digit value, 0xFF if not Base45."""

_MASK_CACHE_GROUPS = 200
"""Masks are kept for texts of up to 600 characters (the text layer's limit)."""


class Base45Error(ValueError):
    """The text is not valid Base45 (the token layer maps this to MALFORMED)."""


def _masks(groups: int) -> tuple[int, int, int]:
    """Lane masks for ``groups`` 24-bit lanes: low byte, middle byte, high byte."""
    low = int.from_bytes(b"\x00\x00\xff" * groups, "big")
    return low, low << 8, low << 16


_MASKS = [_masks(g) for g in range(_MASK_CACHE_GROUPS + 1)]


def b45decode(text: str) -> bytes:
    """Decode Base45 text strictly; raise :class:`Base45Error` on any fault."""
    if not isinstance(text, str):
        raise Base45Error("Base45 input must be text")
    groups, rest = divmod(len(text), 3)
    if rest == 1:
        raise Base45Error("length is 1 mod 3")
    try:
        digits = text.encode("ascii").translate(_DIGITS)
    except UnicodeEncodeError:
        raise Base45Error("character outside the Base45 alphabet") from None
    if _INVALID in digits:
        raise Base45Error("character outside the Base45 alphabet")
    size = 3 * groups
    low, middle, high = _MASKS[groups] if groups <= _MASK_CACHE_GROUPS else _masks(groups)
    # Each 24-bit lane holds a*2**16 + b*2**8 + c; turn it into
    # (a + 45*b + 2025*c) * 2**16 in place, then shift the 2**16 away.
    x = int.from_bytes(digits[:size] if rest else digits, "big")
    x = (x + 11519 * (x & middle) + 132710399 * (x & low)) >> 16
    if x & high:
        raise Base45Error("triple above 65535")
    lanes = x.to_bytes(size, "big")
    out = bytearray(2 * groups + (rest >> 1))
    end = 2 * groups
    out[0:end:2] = lanes[1::3]
    out[1:end:2] = lanes[2::3]
    if rest:
        v = digits[-2] + 45 * digits[-1]
        if v > 0xFF:
            raise Base45Error("pair above 255")
        out[-1] = v
    return bytes(out)


@functools.cache
def _group_table() -> list[str]:
    """All 65536 three-character groups, indexed by the group's 16-bit value."""
    pairs = [ALPHABET[i % 45] + ALPHABET[i // 45] for i in range(45 * 45)]
    return [pairs[v % 2025] + ALPHABET[v // 2025] for v in range(0x10000)]


def b45encode(data: bytes) -> str:
    """Encode bytes as Base45 text."""
    table = _group_table()
    n = len(data)
    groups = n >> 1
    values = struct.unpack_from(f">{groups}H", data)
    text = "".join(map(table.__getitem__, values))
    if n & 1:
        v = data[-1]
        text += ALPHABET[v % 45] + ALPHABET[v // 45]
    return text
