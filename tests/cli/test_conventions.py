"""The habits people bring to a command line, checked on the installed ``ecert`` script.

Real subprocesses of the console script the package installs: exit statuses,
pipes and signals are the operating system's, not a simulation.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ecert_token import __version__
from ecert_token.cli.main import build_parser
from ecert_token.keys.jwk import b64url

ECERT = str(Path(sys.executable).with_name("ecert"))
NOW = 1_790_000_000
BOM = "\ufeff"


def run(*args: str, stdin: str | bytes | None = None,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    data = stdin.encode() if isinstance(stdin, str) else stdin
    return subprocess.run([ECERT, *args], input=data, capture_output=True, timeout=60,
                          check=False, env=env)


def no_traceback(proc: subprocess.CompletedProcess[bytes]) -> None:
    err = proc.stderr.decode()
    assert "Traceback" not in err and "Exception ignored" not in err, err


def error_of(proc: subprocess.CompletedProcess[bytes]) -> dict[str, str]:
    no_traceback(proc)
    answer: dict[str, str] = json.loads(proc.stdout)
    assert set(answer) == {"error", "message"}
    return answer


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("conv") / "keys"
    proc = run("keygen", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture(scope="module")
def token(keys: Path) -> str:
    proc = run("mint", "--keys", str(keys), "--cert-id", "E4Q7ZK2M9PXA", "--region", "110105",
               "--business", "01101", "--now", str(NOW))
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.decode().strip()


def verify_args(keys: Path) -> list[str]:
    return ["verify", "--keys", str(keys), "--business", "01101", "--now", str(NOW + 10)]


def test_the_installed_script_is_tested() -> None:
    assert os.access(ECERT, os.X_OK), ECERT


def test_version() -> None:
    proc = run("--version")
    assert proc.returncode == 0
    assert proc.stdout.decode().strip() == f"ecert {__version__}"


# -- exit statuses ---------------------------------------------------------------------------


@pytest.mark.parametrize("args", [
    ["verify", "--business", "01101", "EC1:X"],                      # no key source
    ["verify", "--keys", "k"],                                      # --business missing
    ["mint", "--keys", "k", "--cert-id", "A", "--region", "110105", "--business", "99999"],
    ["mint", "--keys", "k", "--cert-id", "A", "--region", "１１０１０５", "--business", "01101"],
    ["mint", "--keys", "k", "--cert-id", "A", "--region", "110105", "--business", "01101",
     "--ttl", "-5"],
    ["bench", "--rounds", "-5"],
    ["bench", "--batch", "0"],
    ["qr", "EC1:X", "--out", "x.png", "--scale", "0"],
    ["keygen", "--out", "k", "--regions", "１１"],
    ["trust", "build", "--keys", "k", "--sequence", "-1", "--out", "x"],
    ["keys", "revoke", "--keys", "k", "--kid", "not a kid!"],
    ["nosuchcommand"],
    [],
])
def test_usage_errors_exit_2_with_json_and_no_traceback(args: list[str]) -> None:
    proc = run(*args)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert error_of(proc)["error"] == "invalid_argument"
    assert b"usage:" in proc.stderr


def test_an_unquoted_token_is_not_echoed(token: str) -> None:
    """The shell splits a token at its spaces; the error says so without repeating it."""
    pieces = [token[:40], token[40:120], token[120:]]  # as the shell splits at spaces
    proc = run("verify", "--keys", "k", "--business", "01101", *pieces)
    assert proc.returncode == 2
    message = error_of(proc)["message"]
    assert "quote it" in message
    assert not any(part in proc.stdout.decode() + proc.stderr.decode() for part in pieces[1:])


def test_an_unwritable_path_is_named_not_its_temporary_file(keys: Path) -> None:
    proc = run("trust", "build", "--keys", str(keys), "--sequence", "1", "--out", "/proc/x/l")
    message = error_of(proc)["message"]
    assert "/proc/x/l" in message and ".tmp" not in message


def test_an_unknown_code_lists_the_valid_ones() -> None:
    proc = run("mint", "--keys", "k", "--cert-id", "A", "--region", "110105",
               "--business", "99999")
    message = error_of(proc)["message"]
    assert "99999" in message and "01101" in message and "02121" in message


def test_full_width_region_is_refused_clearly() -> None:
    proc = run("keygen", "--out", "k", "--regions", "１１")
    assert "ASCII digits" in error_of(proc)["message"]


def test_a_rejected_token_exits_1(keys: Path, token: str) -> None:
    proc = run(*verify_args(keys), token[:-4] + "AAAA")
    assert proc.returncode == 1
    assert error_of(proc)["error"] in {"decryption_failed", "malformed"}


@pytest.mark.parametrize("args", [
    ["keygen", "--out", "/proc/x"],
    ["keygen", "--out", "/proc/self/status/x"],
    ["vectors", "--out", "/proc/x"],
    ["qr", "EC1:AAAA", "--out", "/proc/x/code.png"],
    ["trust", "keygen", "--out", "/proc/x"],
])
def test_unwritable_paths_fail_cleanly(args: list[str]) -> None:
    proc = run(*args)
    assert proc.returncode == 1
    assert "/proc/x" in error_of(proc)["message"] or "x" in error_of(proc)["message"]


@pytest.mark.parametrize(("args", "named"), [
    (["verify", "--keys", "/nonexistent/keys", "--business", "01101", "EC1:X"], "manifest.json"),
    (["trust", "inspect", "/nonexistent/list.cose"], "/nonexistent/list.cose"),
    (["trust", "sign", "/nonexistent/p.cbor", "--root-key", "r", "--out", "o"],
     "/nonexistent/p.cbor"),
    (["scan", "/nonexistent/code.png", "--keys", "k", "--business", "01101", "--json"],
     "/nonexistent/code.png"),
])
def test_errors_name_the_file_they_could_not_read(args: list[str], named: str) -> None:
    proc = run(*args)
    assert proc.returncode == 1
    assert named in error_of(proc)["message"]


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_exits_130_without_a_traceback(keys: Path) -> None:
    """SIGINT to a real child blocked reading the token from stdin.

    The child starts with SIGINT's default action, as from an interactive shell: a
    suite launched in the background by a non-interactive shell (``cmd &``) inherits
    SIGINT ignored, and then Python rightly installs no KeyboardInterrupt handler."""
    proc = subprocess.Popen([ECERT, *verify_args(keys)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=_default_sigint)  # noqa: PLW1509 - single-threaded test
    try:
        # Wait until it sits in read(0, ...) (Linux: /proc/PID/syscall), so the signal
        # reaches Python's handler and not a half-started interpreter.
        for _ in range(1200):
            try:
                fields = Path(f"/proc/{proc.pid}/syscall").read_text().split()
            except OSError:
                fields = []
            if fields[:2] == ["0", "0x0"]:
                break
            time.sleep(0.05)  # polling for the child to get there, not timing it
        else:
            raise AssertionError("ecert never blocked reading standard input")
        proc.send_signal(signal.SIGINT)
        # Wait with stdin still open: closing it now (as communicate() does at once)
        # could wake the read with an end of file before the signal is handled.
        proc.wait(timeout=30)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130
    assert b"Traceback" not in err


def test_a_closed_pipe_is_not_a_traceback(keys: Path, token: str) -> None:
    """``ecert verify ... | true``: the reader is gone before ecert writes (EPIPE)."""
    read_end, write_end = os.pipe()
    proc = subprocess.Popen([ECERT, *verify_args(keys)], stdin=subprocess.PIPE,
                            stdout=write_end, stderr=subprocess.PIPE)
    os.close(write_end)
    os.close(read_end)  # nobody will ever read what ecert prints
    _, err = proc.communicate(token.encode(), timeout=60)
    assert proc.returncode == 1
    assert b"Traceback" not in err and b"Exception ignored" not in err, err


def test_a_closed_pipe_in_a_real_shell(keys: Path, token: str) -> None:
    bash = shutil.which("bash")
    assert bash is not None
    command = " ".join(verify_args(keys))
    script = f'printf %s "$T" | "$E" {command} | true; exit "${{PIPESTATUS[1]}}"'
    proc = subprocess.run([bash, "-c", script], env={**os.environ, "T": token, "E": ECERT},
                          capture_output=True, timeout=60, check=False)
    assert proc.returncode in (0, 1)  # 0 when `true` exits after ecert wrote
    assert b"Traceback" not in proc.stderr and b"Exception ignored" not in proc.stderr


# -- tokens from stdin, as scanners deliver them -------------------------------------------------


@pytest.mark.parametrize("wrap", [
    "{}", "{}\n", "{}\r\n", "  {}  \r\n", BOM + "{}\r\n", BOM + "  {}\n", "\n{}\n\n",
])
def test_every_token_command_reads_stdin_with_bom_and_whitespace(
    keys: Path, token: str, wrap: str
) -> None:
    stdin = wrap.format(token)
    checked = run(*verify_args(keys), stdin=stdin)
    assert checked.returncode == 0, checked.stdout
    assert json.loads(checked.stdout)["credential_id"] == "E4Q7ZK2M9PXA"
    shown = run("inspect", "--keys", str(keys), stdin=stdin)
    assert shown.returncode == 0, shown.stdout
    assert json.loads(shown.stdout)["claims"]["credential_id"] == "E4Q7ZK2M9PXA"
    art = run("qr", "--text", stdin=stdin)
    assert art.returncode == 0 and "█" in art.stdout.decode()
    assert art.stdout == run("qr", "--text", token).stdout


def test_a_token_argument_with_a_bom_is_the_same_token(keys: Path, token: str) -> None:
    proc = run(*verify_args(keys), BOM + token + "\r\n")
    assert proc.returncode == 0, proc.stdout


# -- JSON on stdout, or text that says so ----------------------------------------------------------


TEXT_COMMANDS = ("mint", "present", "scan", "bench", "demo", "qr", "completion")


def test_text_commands_say_so_and_offer_json() -> None:
    """The commands that print text say so in ``ecert --help``; the others print JSON."""
    helps = {a.dest: a.help or "" for sub in build_parser()._subparsers._group_actions
             for a in sub._choices_actions}  # type: ignore[union-attr, attr-defined]
    for command, text in helps.items():
        assert ("text" in text) is (command in TEXT_COMMANDS), (command, text)
    for command in TEXT_COMMANDS[:-1]:
        assert b"--json" in run(command, "--help").stdout


def test_demo_json() -> None:
    proc = run("demo", "--json")
    assert proc.returncode == 0, proc.stderr
    steps = json.loads(proc.stdout)["steps"]
    assert steps[2]["accepted"]["credential_id"] == "E4Q7ZK2M9PXA"
    assert [s["rejected"]["error"] for s in steps[3:6]] == [
        "replayed", "expired", "wrong_business_type"]
    # The holder mode: a phone bound once, a code minted offline, refused once unbound.
    assert steps[7]["presentation"].startswith("EP1:")
    assert steps[7]["accepted"]["credential_id"] == "E4Q7ZK2M9PXA"
    assert steps[8]["rejected"]["error"] == "credential_revoked"
    # The pharmacy payment: verified offline, approved, resolved and settled online; then a
    # voucher while the platform is down, submitted twice and settled once.
    paid, voucher = steps[9], steps[10]
    assert paid["step"].startswith("10. A pharmacy payment (02121)")
    assert paid["accepted"]["business_type"] == "02121"
    assert len(paid["accepted"]["settlement"]["mdtrt_cert_no"]) == 40
    assert (paid["approved_fen"], paid["settled"], paid["receipt_verified"]) == (2350, True, True)
    assert paid["resolved"] == {"psn_cert_type": "01", "certno": "110105************",
                                "psn_name": "张*丰"}
    assert voucher["rejected"]["error"] == "voucher_duplicate"
    assert voucher["paid_in_full_fen"] == voucher["reimbursed_fen"] == 4800
    # The offline holder payment: two scans, then one ceiling presentation at two tills.
    two_scans, two_tills = steps[11], steps[12]
    assert two_scans["accepted"]["payment"]["checked"] is True
    assert len(two_scans["accepted"]["settlement"]["mdtrt_cert_no"]) == 34
    assert two_tills["rejected"]["error"] == "voucher_duplicate"
    assert len(steps) == 13
    shown = proc.stdout.decode()
    assert "11010519491231002X" not in shown and "张三丰" not in shown
    assert "E12345678" not in shown and "John Smith" not in shown


def test_mint_json(keys: Path, token: str) -> None:
    proc = run("mint", "--keys", str(keys), "--cert-id", "E4Q7ZK2M9PXA", "--region", "110105",
               "--business", "01101", "--now", str(NOW), "--json")
    answer = json.loads(proc.stdout)
    assert answer["token"].startswith("EC1:") and answer["characters"] == len(answer["token"])


def test_qr_text_json(token: str) -> None:
    proc = run("qr", "--text", "--json", token)
    answer = json.loads(proc.stdout)
    assert answer["text"] == run("qr", "--text", token).stdout.decode()
    assert answer["level"] == "M"


@pytest.mark.slow
def test_bench_json_on_stdout() -> None:
    proc = run("bench", "--quick", "--no-peers", "--no-growth", "--no-parallel",
               "--rounds", "1", "--batch", "8", "--json", "-")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["rounds"] == 1 and report["results"]
    assert b"| target |" in proc.stderr


def test_scan_json_is_json_and_text_is_one_line(keys: Path, token: str, tmp_path: Path) -> None:
    image = tmp_path / "code.png"
    assert run("qr", token, "--out", str(image)).returncode == 0
    args = ["scan", str(image), "--keys", str(keys), "--business", "01101", "--now",
            str(NOW + 10)]
    assert json.loads(run(*args, "--json").stdout)["credential_id"] == "E4Q7ZK2M9PXA"
    text = run(*args).stdout.decode()
    assert text.startswith("ACCEPTED") and text.count("\n") == 1


# -- kids -------------------------------------------------------------------------------------


def test_kids_are_lowercase_hex_everywhere_and_both_forms_are_accepted(tmp_path: Path) -> None:
    out = tmp_path / "keys"
    made = json.loads(run("keygen", "--out", str(out)).stdout)
    manifest = json.loads((out / "manifest.json").read_text())
    kid = made["issuer_kid"]
    assert kid == kid.lower() and bytes.fromhex(kid)
    assert manifest["issuer_kid"] == kid == manifest["issuer_keys"][0]["kid"]
    assert manifest["group_kid"] == made["group_kid"] == manifest["group_keys"][0]["kid"]
    rotated = json.loads(run("keys", "rotate", "--keys", str(out), "--what", "issuer").stdout)
    assert rotated["old_kid"] == kid
    # Revoke by the base64url spelling that manifests before 0.2 carried.
    old_form = b64url(bytes.fromhex(kid))
    revoked = run("keys", "revoke", "--keys", str(out), f"--kid={old_form}")  # may start "-"
    assert revoked.returncode == 0, revoked.stdout
    assert json.loads(revoked.stdout) == {"revoked": kid, "kind": "issuer"}
    group = made["group_kid"].upper()
    assert json.loads(run("keys", "revoke", "--keys", str(out), "--kid", group).stdout)[
        "revoked"] == made["group_kid"]
    unknown = run("keys", "revoke", "--keys", str(out), "--kid", "00000000")
    assert unknown.returncode == 1 and error_of(unknown)["error"] == "invalid_argument"


# -- keygen --passphrase-env ------------------------------------------------------------------


def test_keygen_encrypts_private_keys_at_creation(tmp_path: Path) -> None:
    out = tmp_path / "keys"
    env = {**os.environ, "ECERT_PASS": "correct horse"}
    made = run("keygen", "--out", str(out), "--passphrase-env", "ECERT_PASS", env=env)
    assert made.returncode == 0, made.stdout
    assert json.loads(made.stdout)["encrypted"] is True
    assert json.loads((out / "manifest.json").read_text())["encrypted"] is True
    for pem in out.glob("*.key.pem"):
        assert b"ENCRYPTED PRIVATE KEY" in pem.read_bytes()
    mint = ["mint", "--keys", str(out), "--cert-id", "E4Q7ZK2M9PXA", "--region", "110105",
            "--business", "01101", "--now", str(NOW)]
    assert error_of(run(*mint))["error"] == "key_file"           # no passphrase: refused
    minted = run(*mint, "--passphrase-env", "ECERT_PASS", env=env)
    assert minted.returncode == 0, minted.stdout
    checked = run("verify", "--keys", str(out), "--business", "01101", "--now", str(NOW + 5),
                  "--passphrase-env", "ECERT_PASS", stdin=minted.stdout, env=env)
    assert checked.returncode == 0, checked.stdout
    unset = run("keygen", "--out", str(tmp_path / "k2"), "--passphrase-env", "ECERT_NOPE")
    assert unset.returncode == 2 and "ECERT_NOPE" in error_of(unset)["message"]
    assert not (tmp_path / "k2" / "manifest.json").exists()


# -- completion -------------------------------------------------------------------------------


def complete(shell_script: str, words: list[str]) -> list[str]:
    bash = shutil.which("bash")
    assert bash is not None
    line = " ".join(words)
    program = (f"{shell_script}\nCOMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; _ecert\n"
               'printf "%s\\n" "${COMPREPLY[@]}"')
    proc = subprocess.run([bash, "-c", program], capture_output=True, text=True, timeout=30,
                          check=True)
    return proc.stdout.split()


def test_bash_completion_completes_commands_and_options() -> None:
    proc = run("completion", "bash")
    assert proc.returncode == 0
    script = proc.stdout.decode()
    assert "trust" in complete(script, ["ecert", "tr"])
    assert set(complete(script, ["ecert", "trust", ""])) >= {"build", "sign", "verify"}
    assert "--sequence" in complete(script, ["ecert", "trust", "build", "--se"])
    assert "--passphrase-env" in complete(script, ["ecert", "keygen", "--out", "k", "--pa"])
    assert "--version" in complete(script, ["ecert", "--v"])


def test_zsh_completion_follows_the_command_path(tmp_path: Path) -> None:
    """In zsh (arrays from 1, candidates filtered by zsh itself) the same command path.

    ``.ci/run`` installs zsh and sets ECERT_REQUIRE_ZSH=1: there a missing zsh fails.
    """
    script = run("completion", "zsh").stdout.decode()
    assert "bashcompinit" in script and "complete -o default -F _ecert ecert" in script
    zsh = shutil.which("zsh")
    if zsh is None:
        if os.environ.get("ECERT_REQUIRE_ZSH") == "1":
            pytest.fail("zsh is not installed, and ECERT_REQUIRE_ZSH=1 requires it")
        pytest.skip("zsh is not installed")
    program = (script + "\nCOMP_WORDS=(ecert trust build --se); COMP_CWORD=3; _ecert\n"
               "print -l -- $COMPREPLY\necho SPLIT\n"
               "COMP_WORDS=(ecert trust ''); COMP_CWORD=2; _ecert; print -l -- $COMPREPLY\n")
    proc = subprocess.run([zsh, "-f", "-c", program], capture_output=True, text=True,
                          timeout=60, check=False, env={**os.environ, "HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    build, trust = proc.stdout.split("SPLIT\n")
    assert "--sequence" in build.split() and "mint" not in build.split()
    assert {"build", "sign", "verify"} <= set(trust.split()) and "mint" not in trust.split()
