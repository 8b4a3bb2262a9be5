"""Every path parameter of the library takes a ``str`` as well as a ``Path``."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

import ecert_token
import ecert_token_tools
from ecert_token.keys import keydir
from ecert_token.trust import (
    RootSigningKey,
    TrustListLoader,
    build_trust_list,
    load_root_signing_key,
    load_trust_root,
    save_root,
    sign_trust_list,
)
from tests.conftest import NOW, deterministic_random


def _public_callables() -> list[tuple[str, object]]:
    found: list[tuple[str, object]] = []
    modules = [*pkgutil.walk_packages(ecert_token.__path__, "ecert_token."),
               *pkgutil.walk_packages(ecert_token_tools.__path__, "ecert_token_tools.")]
    for info in modules:
        parts = info.name.split(".")
        if parts[1] == "bench" or any(part.startswith("_") for part in parts):  # not API
            continue
        try:
            module = importlib.import_module(info.name)
        except ImportError:
            continue
        for name, obj in vars(module).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
                continue
            if inspect.isfunction(obj):
                found.append((f"{info.name}.{name}", obj))
            elif inspect.isclass(obj):
                found.extend(
                    (f"{info.name}.{name}.{m}", f) for m, f in vars(obj).items()
                    if inspect.isfunction(f) and (m == "__init__" or not m.startswith("_"))
                )
    return found


def test_no_public_parameter_is_annotated_path_only() -> None:
    """An annotation naming ``Path`` must also take ``str`` (``str | os.PathLike[str]``)."""
    narrow = []
    for name, func in _public_callables():
        for param in inspect.signature(func).parameters.values():  # type: ignore[arg-type]
            note = str(param.annotation)
            if "Path" in note and "PathLike" not in note:
                narrow.append(f"{name}({param.name}: {note})")
    assert not narrow, narrow


def test_key_directories_and_trust_files_by_str(tmp_path: Path) -> None:
    keys = keydir.generate(random_bytes=deterministic_random(b"paths"))
    directory = str(tmp_path / "keys")
    keydir.save(keys, directory)
    assert keydir.load(directory).signing_key.kid == keys.signing_key.kid
    assert keydir.load_public(directory).issuer_keys[0].kid == keys.signing_key.kid
    root = RootSigningKey.generate()
    save_root(root, str(tmp_path / "root.pem"), str(tmp_path / "root.cose"))
    assert load_root_signing_key(str(tmp_path / "root.pem")).kid == root.kid
    pinned = load_trust_root(str(tmp_path / "root.cose"))
    signed = sign_trust_list(
        build_trust_list(1, NOW, NOW + 86_400, [keys.signing_key.public], []), root)
    (tmp_path / "list.cose").write_bytes(signed)
    loader = TrustListLoader(pinned, str(tmp_path / "state"), clock=lambda: NOW)
    assert loader.offer_file(str(tmp_path / "list.cose")).sequence == 1
    assert (tmp_path / "state").is_dir()
