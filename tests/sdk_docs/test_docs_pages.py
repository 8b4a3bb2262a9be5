"""The documentation says what the code does: its examples run, its option tables are complete."""

from __future__ import annotations

import argparse
import contextlib
import io
import re

import pytest

from ecert_token.cli.main import build_parser

from .examples import ROOT

DOCS = ROOT / "docs"
DOCUMENTED = (
    "keygen", "mint", "verify", "demo", "qr", "scan", "inspect", "vectors", "trust", "keys",
    "bench", "replay", "person", "settle", "terminal", "receipts", "voucher",
    "device", "activate", "present", "unbind", "family", "status", "completion",
)


def python_blocks(page: str) -> list[str]:
    text = (DOCS / page).read_text("utf-8")
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


def test_quickstart_python_example_runs_as_shown() -> None:
    block = next(b for b in python_blocks("quickstart.md") if "keydir.generate" in b)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(block, "quickstart.md", "exec"), {})
    assert out.getvalue().splitlines() == ["01 E4Q7ZK2M9PXA 110105", "replayed"]


def children(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def subcommands() -> dict[str, argparse.ArgumentParser]:
    found = children(build_parser())
    assert found, "ecert has no subcommands"
    return found


def long_options(parser: argparse.ArgumentParser) -> list[str]:
    """The --options of a command and of its own subcommands (``trust build``...)."""
    own = [opt for action in parser._actions for opt in action.option_strings
           if opt.startswith("--") and opt != "--help"]
    return own + [opt for child in children(parser).values() for opt in long_options(child)]


def section(name: str) -> str:
    text = (DOCS / "cli.md").read_text("utf-8")
    match = re.search(rf"^## {name}\n(.*?)(?=^## |\Z)", text, flags=re.MULTILINE | re.DOTALL)
    assert match, f"docs/cli.md has no section for `ecert {name}`"
    return match.group(1)


@pytest.mark.parametrize("name", DOCUMENTED)
def test_cli_reference_lists_every_option(name: str) -> None:
    commands = subcommands()
    if name not in commands:
        pytest.skip(f"`ecert {name}` is not part of this build")
    body = section(name)
    options = long_options(commands[name])
    missing = [opt for opt in options if f"`{opt}" not in body and f" {opt}" not in body]
    for sub in children(commands[name]):
        assert f"ecert {name} {sub}" in body, f"docs/cli.md: no example of `ecert {name} {sub}`"
    assert not missing, f"docs/cli.md, ecert {name}: undocumented {missing}"


def test_every_command_has_a_section() -> None:
    for name in subcommands():
        section(name)


def test_bench_options_documented() -> None:
    """`ecert bench`'s flags (shared with benchmarks/compare.py) are all documented."""
    from ecert_token.cli.bench_cmd import add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    body = section("bench")
    missing = [opt for opt in long_options(parser) if f"`{opt}" not in body]
    assert not missing, f"docs/cli.md, ecert bench: undocumented {missing}"


PUBLIC_PACKAGES = ("ecert_token", "ecert_token.keys", "ecert_token.trust", "ecert_token.replay",
                   "ecert_token.model", "ecert_token.token", "ecert_token.aio", "ecert_token.qr")


def test_every_public_name_is_in_the_api_reference() -> None:
    """Each name a public package exports in ``__all__`` is in api.md: its own ``:::``
    entry, or the whole module that defines it (an entry without ``members: false``)."""
    import importlib

    api = (DOCS / "api.md").read_text("utf-8")
    entries = re.findall(r"^::: (\S+)\n((?:    .*\n)*)", api, re.M)
    named = {target.rsplit(".", 1)[-1] for target, _ in entries}
    whole = {target for target, options in entries if "members: false" not in options}
    missing = []
    for package in PUBLIC_PACKAGES:
        try:
            module = importlib.import_module(package)
        except ImportError:  # an extra that is not installed
            continue
        for name in getattr(module, "__all__", ()):
            home = getattr(getattr(module, name, None), "__module__", None)
            if not name.startswith("__") and name not in named and home not in whole:
                missing.append(f"{package}.{name}")
    assert not missing, f"docs/api.md lacks {missing}"
