"""Base45 (RFC 9285): bytes as QR-alphanumeric text.

Two bytes become three characters, so a QR code stores the result in its
compact alphanumeric mode.  Decoding is strict: only the 45 upper-case
characters, no length of 1 mod 3, and no group whose value is out of range.
"""

from __future__ import annotations

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
_PAIRS = [ALPHABET[i // 45] + ALPHABET[i % 45] for i in range(45 * 45)]


class Base45Error(ValueError):
    """The text is not valid Base45 (the token layer maps this to MALFORMED)."""


def b45encode(data: bytes) -> str:
    """Encode bytes as Base45 text."""
    out: list[str] = []
    append = out.append
    n = len(data)
    for i in range(0, n - 1, 2):
        v = data[i] * 256 + data[i + 1]
        c, rest = divmod(v, 2025)
        append(_PAIRS[rest][1] + _PAIRS[rest][0] + ALPHABET[c])
    if n % 2:
        v = data[-1]
        append(ALPHABET[v % 45] + ALPHABET[v // 45])
    return "".join(out)


def b45decode(text: str) -> bytes:
    """Decode Base45 text strictly; raise :class:`Base45Error` on any fault."""
    n = len(text)
    if n % 3 == 1:
        raise Base45Error("length is 1 mod 3")
    value = _VALUE
    out = bytearray()
    try:
        for i in range(0, n - 2, 3):
            v = value[text[i]] + value[text[i + 1]] * 45 + value[text[i + 2]] * 2025
            if v > 0xFFFF:
                raise Base45Error("triple above 65535")
            out.append(v >> 8)
            out.append(v & 0xFF)
        if n % 3 == 2:
            v = value[text[-2]] + value[text[-1]] * 45
            if v > 0xFF:
                raise Base45Error("pair above 255")
            out.append(v)
    except KeyError:
        raise Base45Error("character outside the Base45 alphabet") from None
    return bytes(out)
