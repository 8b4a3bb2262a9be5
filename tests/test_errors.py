"""errors.py: every exception the library defines survives pickling, in and across processes."""

from __future__ import annotations

import importlib
import inspect
import multiprocessing
import pickle
import pkgutil

import pytest

import ecert_token
from ecert_token.errors import (
    EcertError,
    ErrorCode,
    InvalidArgument,
    KeyMaterialError,
    StoreUnavailable,
    TokenRejected,
    TrustListError,
)


def library_exceptions() -> list[type[BaseException]]:
    """Every exception class defined anywhere in the package (C extensions aside)."""
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(ecert_token.__path__, "ecert_token."):
        try:
            module = importlib.import_module(info.name)
        except ImportError:  # an optional extra that is not installed
            continue
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, BaseException) and obj.__module__ == module.__name__:
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return [found[name] for name in sorted(found)]


def example(cls: type[BaseException]) -> BaseException:
    """One instance of ``cls``, built from its own signature."""
    if not issubclass(cls, EcertError):
        return cls("a fixed message")
    params = inspect.signature(cls.__init__).parameters
    kwargs: dict[str, object] = {}
    if "code" in params:
        kwargs["code"] = ErrorCode.KEY_FILE
    if "detail" in params:
        kwargs["detail"] = "a fixed detail"
    unknown = set(params) - {"self", "code", "detail"}
    assert not unknown, f"{cls.__qualname__}: add an example for the parameters {unknown}"
    return cls(**kwargs)


def same(a: BaseException, b: BaseException) -> bool:
    if isinstance(a, EcertError):
        assert isinstance(b, EcertError)
        return (type(a), a.code, a.detail, str(a)) == (type(b), b.code, b.detail, str(b))
    return (type(a), a.args) == (type(b), b.args)


def test_the_walk_finds_the_whole_family() -> None:
    found = set(library_exceptions())
    assert {EcertError, TokenRejected, StoreUnavailable, InvalidArgument, KeyMaterialError,
            TrustListError} <= found


@pytest.mark.parametrize("cls", library_exceptions(), ids=lambda c: c.__qualname__)
def test_every_exception_pickles_to_an_equal_one(cls: type[BaseException]) -> None:
    err = example(cls)
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        back = pickle.loads(pickle.dumps(err, protocol))
        assert same(err, back)
        if isinstance(err, EcertError):
            assert back == err
            assert back.to_dict() == err.to_dict()


@pytest.mark.parametrize("code", list(ErrorCode))
def test_token_rejected_with_every_code(code: ErrorCode) -> None:
    err = TokenRejected(code, "a check")
    back = pickle.loads(pickle.dumps(err))
    assert back == err and back.code is code and str(back) == str(err)
    assert pickle.loads(pickle.dumps(TokenRejected(code))).detail is None


def test_equality_and_hash_follow_class_code_and_detail() -> None:
    assert TokenRejected(ErrorCode.EXPIRED) == TokenRejected(ErrorCode.EXPIRED)
    assert TokenRejected(ErrorCode.EXPIRED) != TokenRejected(ErrorCode.REPLAYED)
    assert TokenRejected(ErrorCode.EXPIRED) != EcertError(ErrorCode.EXPIRED)
    assert InvalidArgument("a") != InvalidArgument("b")
    assert len({StoreUnavailable("x"), StoreUnavailable("x")}) == 1


def test_extra_attributes_survive() -> None:
    err = InvalidArgument("fixed")
    err.note = "kept"  # type: ignore[attr-defined]
    assert pickle.loads(pickle.dumps(err)).note == "kept"


def _raise(code: str) -> None:
    raise TokenRejected(ErrorCode(code), "from a worker")


def _store_unavailable() -> None:
    raise StoreUnavailable("down")


def test_errors_cross_a_real_process_pool() -> None:
    """multiprocessing pickles the worker's exception and unpickles it in the parent.

    (Before the fix, the unpickling KeyError killed the pool's result thread and
    the call never returned: the timeout turns that hang into a failure.)
    """
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        with pytest.raises(TokenRejected) as caught:
            pool.apply_async(_raise, ("replayed",)).get(timeout=60)
        assert caught.value == TokenRejected(ErrorCode.REPLAYED, "from a worker")
        with pytest.raises(StoreUnavailable) as down:
            pool.apply_async(_store_unavailable).get(timeout=60)
        assert down.value.code is ErrorCode.STORE_UNAVAILABLE and down.value.detail == "down"


def test_one_registry_code_for_both_registries() -> None:
    """``registry_error`` (holder) became ``registry_unavailable`` (settlement): the old
    name is an alias of the same member and the old value still reads as it."""
    assert ErrorCode.REGISTRY_ERROR is ErrorCode.REGISTRY_UNAVAILABLE
    assert ErrorCode("registry_error") is ErrorCode.REGISTRY_UNAVAILABLE
    assert ErrorCode("registry_unavailable") is ErrorCode.REGISTRY_UNAVAILABLE
    assert "registry_error" not in {code.value for code in ErrorCode}
    err = EcertError(ErrorCode.REGISTRY_ERROR, "cannot read the registry")
    assert err.to_dict()["error"] == "registry_unavailable"
    assert pickle.loads(pickle.dumps(err)) == err
    with pytest.raises(ValueError, match="not_a_code"):
        ErrorCode("not_a_code")
