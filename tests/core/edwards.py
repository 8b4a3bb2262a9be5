"""Just enough edwards25519 arithmetic (RFC 8032 §5.1) to check small-order vectors.

Used only by the tests to prove that the published small-order encodings in
``tests/vectors/ed25519_small_order.json`` really are the eight points of the
curve's torsion subgroup, instead of trusting a copied list.
"""

from __future__ import annotations

P = 2**255 - 19
D = (-121665 * pow(121666, P - 2, P)) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)

Point = tuple[int, int]
IDENTITY: Point = (0, 1)


def add(a: Point, b: Point) -> Point:
    """Twisted Edwards addition on -x^2 + y^2 = 1 + d x^2 y^2 (affine)."""
    (x1, y1), (x2, y2) = a, b
    t = D * x1 * x2 * y1 * y2 % P
    x3 = (x1 * y2 + x2 * y1) * pow(1 + t, P - 2, P) % P
    y3 = (y1 * y2 + x1 * x2) * pow(1 - t, P - 2, P) % P
    return x3, y3


def multiply(k: int, point: Point) -> Point:
    result = IDENTITY
    while k:
        if k & 1:
            result = add(result, point)
        point = add(point, point)
        k >>= 1
    return result


def decode(raw: bytes) -> Point:
    """Decode a canonical 32-byte encoding (RFC 8032 §5.1.3); ValueError if none."""
    n = int.from_bytes(raw, "little")
    sign, y = n >> 255, n & ((1 << 255) - 1)
    if y >= P:
        raise ValueError("non-canonical y")
    u, v = (y * y - 1) % P, (D * y * y + 1) % P
    x = u * pow(v, 3, P) * pow(u * pow(v, 7, P), (P - 5) // 8, P) % P
    if v * x * x % P == (-u) % P:
        x = x * SQRT_M1 % P
    elif v * x * x % P != u:
        raise ValueError("not on the curve")
    if x == 0 and sign:
        raise ValueError("negative zero")
    if x & 1 != sign:
        x = P - x
    return x, y


def encode(point: Point) -> bytes:
    x, y = point
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def order(point: Point, limit: int = 8) -> int | None:
    """The order of ``point`` if it is at most ``limit``, else None."""
    current = point
    for k in range(1, limit + 1):
        if current == IDENTITY:
            return k
        current = add(current, point)
    return None
