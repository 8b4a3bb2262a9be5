"""Trusted construction of frozen model objects on the verifier's hot path.

The model's dataclasses validate every field in ``__post_init__`` and are
frozen, so building one costs a validation pass plus one
``object.__setattr__`` call per field.  That is right for API users, and the
public constructors stay exactly as they are.  The decoder, however, has
already checked every value with the same rules (types, ranges, code tables),
so it builds objects through a *twin*: a plain class with the same
``__slots__``, hence the same memory layout, whose attributes are set with
ordinary (fast) stores; the finished object then has its ``__class__``
switched to the real, frozen class.  Python allows that switch exactly when
the two layouts are compatible, and it is checked once, at import.

Only code that has done the model's validation itself may use this.
"""

from __future__ import annotations

from typing import Any


def twin_of(cls: type[object]) -> type[Any]:
    """A mutable class with the same ``__slots__`` (same layout) as frozen ``cls``.

    Use: ``obj = object.__new__(twin); obj.field = ...; obj.__class__ = cls``.
    """
    slots = cls.__dict__.get("__slots__")
    if not isinstance(slots, tuple) or "__dict__" in slots or "__weakref__" in slots:
        raise TypeError(f"{cls.__name__} is not a plain slots class")
    twin: type[Any] = type(f"_{cls.__name__}Twin", (), {"__slots__": slots})
    probe = object.__new__(twin)
    probe.__class__ = cls  # raises TypeError now if the layouts ever diverge
    return twin
