"""The one constructor that builds frozen model objects without ``dataclass.__init__``.

A frozen dataclass sets each field through ``object.__setattr__`` (its own
``__setattr__`` refuses), which costs about as much as the rest of a
verification's Python steps together.  :func:`construct` builds the object
through a *twin*: a plain class with the same ``__slots__`` (so the same memory
layout) whose ``__init__`` stores the fields directly; then switches the
object's ``__class__`` to the frozen class (Python allows that exactly when the
layouts match, which is checked when the twin is made) and runs the class's
own ``__post_init__`` validation, if it has one.  The result is an ordinary
instance of the frozen class, equal to one built by its constructor, and the
value rules are the class's own: nothing is restated here.

This module holds the library's only ``__class__`` assignments: :func:`construct`,
and :func:`constructor`, the same steps kept as one function per class for the
readers on the verifier's hot path (one lookup less per object).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["construct", "constructor"]

_T = TypeVar("_T")
_twins: dict[type[Any], tuple[type[Any], Any]] = {}


def _twin(cls: type[Any]) -> tuple[type[Any], Any]:
    slots = cls.__dict__.get("__slots__")
    if not isinstance(slots, tuple) or not slots or "__dict__" in slots or (
        "__weakref__" in slots
    ):
        raise TypeError(f"{cls.__name__} is not a plain slots class")
    args = ", ".join(slots)
    body = "".join(f"    self.{name} = {name}\n" for name in slots)
    namespace: dict[str, Any] = {"__slots__": slots}
    exec(f"def __init__(self, {args}):\n{body}", namespace)  # noqa: S102 - slot names only
    twin = type(f"_{cls.__name__}Twin", (), namespace)
    probe: Any = object.__new__(twin)
    probe.__class__ = cls  # raises TypeError now if the layouts ever diverge
    found = _twins[cls] = (twin, getattr(cls, "__post_init__", None))
    return found


def constructor(cls: type[_T]) -> Callable[..., _T]:
    """The function ``construct(cls, ...)`` runs, for a caller on a hot path to keep
    (one lookup saved per object): ``constructor(cls)(*values)`` is
    ``construct(cls, *values)``."""
    twin, post_init = _twins.get(cls) or _twin(cls)
    if post_init is None:
        def build(*values: object) -> _T:
            obj = twin(*values)
            obj.__class__ = cls
            built: _T = obj
            return built
    else:
        def build(*values: object) -> _T:
            obj = twin(*values)
            obj.__class__ = cls
            post_init(obj)
            built: _T = obj
            return built
    return build


def construct(cls: type[_T], *values: object) -> _T:
    """``cls(*values)`` for a frozen slots dataclass, with its ``__post_init__`` checks.

    ``values`` are the fields in declaration order, all of them (defaults are not
    filled in).
    """
    twin, post_init = _twins.get(cls) or _twin(cls)
    obj = twin(*values)
    obj.__class__ = cls
    if post_init is not None:
        post_init(obj)
    built: _T = obj
    return built
