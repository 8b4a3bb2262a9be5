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
  checks every lane for the 65535 limit with one mask, and deletes each
  lane's zero high byte with one strided ``del``;
* encoding works the same way backwards: every group in a 64-bit lane, the
  divisions by 2025 and 45 done for all lanes at once as multiplications by
  a reciprocal (exact over the whole 16-bit range), the digits turned into
  characters with ``bytes.translate``.  (A 65536-entry lookup table was
  slower: its 4 MB miss the CPU caches.)

The compiled accelerator (``ecert_token._accel``) has its own Base45 decoder
for the tokens it reads; the tests hold it to this one.
"""

from __future__ import annotations

import functools

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
    # Every lane is now 00 hi lo: drop the zero bytes by position, in one pass.
    out = bytearray(x.to_bytes(size, "big"))
    del out[::3]
    if rest:
        v = digits[-2] + 45 * digits[-1]
        if v > 0xFF:
            raise Base45Error("pair above 255")
        out.append(v)
    return bytes(out)


def _encode_masks(groups: int) -> tuple[int, int, int, int]:
    """64-bit-lane masks: high byte of a group, low byte, six bits, and 1 in three bytes."""
    def lanes(pattern: bytes) -> int:
        return int.from_bytes(pattern * groups, "big")

    return (lanes(b"\0\0\0\0\0\0\xff\0"), lanes(b"\0\0\0\0\0\0\0\xff"),
            lanes(b"\0\0\0\0\0\0\0\x3f"), lanes(b"\0\0\0\0\0\x01\x01\x01"))


_cached_encode_masks = functools.lru_cache(maxsize=None)(_encode_masks)
"""Token-sized masks, built on first use (so only minters pay) and kept."""
_CHARS = bytes(ALPHABET.encode()[i - 1] if 1 <= i <= 45 else 0 for i in range(256))
"""``bytes.translate`` table: digit value + 1 -> its character (0 stays 0)."""


def b45encode(data: bytes) -> str:
    """Encode bytes as Base45 text."""
    n = len(data)
    groups = n >> 1
    high, low, six, ones = (
        _cached_encode_masks(groups) if groups <= _MASK_CACHE_GROUPS else _encode_masks(groups)
    )
    # Spread each two-byte group into a 64-bit lane (latin-1 -> UTF-32 turns
    # every byte into four), then divide every lane at once by multiplying
    # with a reciprocal: exact for all values below 65536 (v // 2025) and
    # 2025 (r // 45), checked by the tests over the whole range.
    x = int.from_bytes(bytes(data[:2 * groups]).decode("latin-1").encode("utf-32-be"), "big")
    v = ((x >> 24) & high) | (x & low)
    c = ((v * 132561) >> 28) & six
    r = v - 2025 * c
    b = ((r * 2913) >> 17) & six
    a = r - 45 * b
    # Digits plus one in the low three bytes of every lane, zeros elsewhere:
    # deleting the zero bytes leaves exactly the characters, in order.
    lanes = ((a << 16) + (b << 8) + c + ones).to_bytes(8 * groups, "big")
    text = lanes.translate(_CHARS, b"\0").decode("ascii")
    if n & 1:
        v = data[-1]
        text += ALPHABET[v % 45] + ALPHABET[v // 45]
    return text
