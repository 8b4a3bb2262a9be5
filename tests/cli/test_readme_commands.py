"""The README's commands run verbatim in a fresh shell, in a fresh copy of the repository.

The first setup line runs as written (a new ``.venv``, the package installed
into it, the demo); the second (the test suite) is this very suite and is not
run again.  Every later block runs as a reader pastes it: in ``bash`` with a
clean environment (no virtual environment active, the system ``PATH``), from
the copy's root.  The service block runs in the background, as in "a second
terminal"; its fixed port 8000 is the one thing replaced (by a free port).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def bash_blocks() -> list[str]:
    return re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text("utf-8"), re.S)


def console_commands(page: Path) -> list[str]:
    """The ``$ `` commands of each console block of a docs page (continuation lines kept)."""
    blocks = re.findall(r"```console\n(.*?)```", page.read_text("utf-8"), re.S)
    result = []
    for block in blocks:
        commands, continued = [], False
        for line in block.splitlines():
            if line.startswith("$ ") or continued:
                commands.append(line.removeprefix("$ "))
                continued = line.endswith("\\")
        result.append("\n".join(commands))
    return result


def fresh_copy(target: Path) -> None:
    """The files a clone has (tracked and new, not ignored), as they are now."""
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True, check=True, timeout=60,
    ).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def fresh_env(home: Path) -> dict[str, str]:
    env = {"HOME": str(home), "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
    for name in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_CONFIG_FILE",
                 "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "TMPDIR"):
        if name in os.environ:
            env[name] = os.environ[name]
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def shell(block: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", block], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=900, check=False)


def clean(proc: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "command not found" not in proc.stderr, proc.stderr
    assert "No such file or directory" not in proc.stderr, proc.stderr


@pytest.mark.slow
def test_readme_commands_run_verbatim(tmp_path: Path) -> None:
    blocks = bash_blocks()
    setup, _suite, cli, service, client = blocks[:5]
    repo, home = tmp_path / "repo", tmp_path / "home"
    repo.mkdir()
    home.mkdir()
    fresh_copy(repo)
    env = fresh_env(home)

    demo = shell(setup, repo, env)
    assert demo.returncode == 0, demo.stderr[-3000:]
    assert "REJECTED  code=replayed" in demo.stdout

    assert ". .venv/bin/activate" in cli
    done = shell(cli, repo, env)
    clean(done)
    assert '"replay_checked": true' in done.stdout
    assert '"error": "replayed"' in done.stdout
    assert "ACCEPTED cert type 01" in done.stdout
    assert (repo / "code.png").is_file() and (repo / "keys" / "manifest.json").is_file()
    ignored = subprocess.run(["git", "-C", str(ROOT), "check-ignore", "--no-index",
                              "keys/manifest.json", "code.txt", "code.png", "replay.db"],
                             capture_output=True, text=True, check=False).stdout.split()
    assert len(ignored) == 4  # .gitignore covers what the commands made

    # The quickstart's commands, in one shell session as a reader types them (its first
    # block is the setup line again, its last the service: both run above and below).
    quickstart = console_commands(ROOT / "docs" / "quickstart.md")
    assert "python3 -m venv .venv" in quickstart[0] and "uvicorn" in quickstart[-1]
    quick = tmp_path / "quickstart"  # a second copy (keys/ must not exist yet), same venv
    quick.mkdir()
    fresh_copy(quick)
    (quick / ".venv").symlink_to(repo / ".venv")
    session = shell("\n".join(quickstart[1:-1]), quick, env)
    clean(session)
    assert '"error": "wrong_business_type"' in session.stdout
    assert '"replay_checked": true' in session.stdout and '"error": "replayed"' in session.stdout
    assert "ACCEPTED cert type 01" in session.stdout and '"verified": false' in session.stdout

    port = str(free_port())
    server = subprocess.Popen(["bash", "-c", service.replace("8000", port)], cwd=repo, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              start_new_session=True)
    try:
        for _ in range(600):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", int(port))) == 0:
                    break
            if server.poll() is not None:
                output = server.stdout.read().decode() if server.stdout else ""
                raise AssertionError(f"the service exited: {output[-3000:]}")
            time.sleep(0.5)  # waiting for pip and uvicorn to come up, not asserting a time
        else:
            raise AssertionError("the service did not start")
        request = client.replace("8000", port)
        curl = request.split("\n", 1)[1]            # the same code once more: "again"
        both = shell(f"{request}\necho\n{curl}", repo, env)
        clean(both)
        accepted, replayed = both.stdout.replace(" ", "").split("\n", 1)
        assert '"credential_id":"E4Q7ZK2M9PXA"' in accepted, both.stdout
        assert '"code":"replayed"' in replayed and '"status":409' in replayed, both.stdout
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)
