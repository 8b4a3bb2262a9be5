"""The ``qr``, ``scan``, ``inspect`` and ``vectors`` commands, end to end.

Commands run through ``ecert_token.cli.main.main`` when it exists and through
a parser built from ``sdk_cmd.register`` otherwise (the SDK branch before the
lead wires ``register`` into ``main``); both print exactly what ``ecert`` prints.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from PIL import Image

from ecert_token import qr
from ecert_token.keys.keydir import KeyDir, save
from tests.conftest import NOW

VECTOR_DIR = Path(__file__).resolve().parents[2] / "docs" / "vectors"

DRIVER = """
import argparse, sys
try:
    from ecert_token.cli.main import main
except ImportError:
    from ecert_token.cli.output import emit_error
    from ecert_token.cli.sdk_cmd import register
    from ecert_token.errors import EcertError

    def main(argv):
        parser = argparse.ArgumentParser(prog="ecert")
        register(parser.add_subparsers(dest="command", required=True))
        args = parser.parse_args(argv)
        try:
            return args.func(args)
        except EcertError as err:
            return emit_error(err)
sys.exit(main(sys.argv[1:]))
"""


def ecert(argv: Sequence[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the command line in a fresh process, as a user would."""
    return subprocess.run(
        [sys.executable, "-c", DRIVER, *argv], input=stdin, capture_output=True, text=True,
        timeout=60, check=False,
    )


@pytest.fixture
def keydir_path(keys: KeyDir, tmp_path: Path) -> Path:
    path = tmp_path / "keys"
    save(keys, path)
    return path


def test_qr_png_and_svg(token: str, tmp_path: Path) -> None:
    png = tmp_path / "code.png"
    run = ecert(["qr", token, "--out", str(png)])
    assert run.returncode == 0, run.stdout + run.stderr
    info = json.loads(run.stdout)
    assert info == {"out": str(png), "kind": "png", "version": 10, "level": "M",
                    "mode": "alphanumeric", "modules": 57, "chars": 279}
    assert qr.scan_image(png) == [token]

    svg = tmp_path / "code.svg"
    run = ecert(["qr", "-", "--out", str(svg), "--level", "q", "--scale", "4"], stdin=token)
    assert run.returncode == 0, run.stdout + run.stderr
    assert json.loads(run.stdout)["version"] == 12
    assert svg.read_text("utf-8").lstrip().startswith("<?xml")


def test_qr_text_and_refusals(token: str, tmp_path: Path) -> None:
    run = ecert(["qr", token, "--text"])
    assert run.returncode == 0
    assert run.stdout == qr.render_text(token, "M")
    run = ecert(["qr", token, "--out", str(tmp_path / "code.gif")])
    assert run.returncode == 1
    assert json.loads(run.stdout)["error"] == "invalid_argument"
    run = ecert(["qr", "not a token", "--text"])
    assert (run.returncode, json.loads(run.stdout)["error"]) == (1, "malformed")


def test_scan_verifies_the_code_in_an_image(
    token: str, keydir_path: Path, tmp_path: Path
) -> None:
    image = tmp_path / "code.png"
    qr.render_png(token, image, level="Q", scale=5)
    base = ["scan", str(image), "--keys", str(keydir_path), "--business", "01101"]
    run = ecert([*base, "--now", str(NOW + 10), "--json"])
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(run.stdout)
    assert result["replay_checked"] is False
    assert (result["cert_type"], result["credential_id"], result["insured_region"],
            result["business_type"]) == ("01", "E4Q7ZK2M9PXA", "110105", "01101")

    run = ecert([*base, "--now", str(NOW + 10)])
    assert run.returncode == 0
    assert run.stdout.startswith("ACCEPTED cert type 01, credential E4Q7ZK2M9PXA, region 110105")

    run = ecert([*base, "--now", str(NOW + 600)])
    assert run.returncode == 1
    assert run.stdout.startswith("REJECTED expired:")
    run = ecert([*base, "--now", str(NOW + 600), "--json"])
    assert (run.returncode, json.loads(run.stdout)["error"]) == (1, "expired")
    run = ecert(["scan", str(image), "--keys", str(keydir_path), "--business", "01301",
                 "--now", str(NOW), "--json"])
    assert json.loads(run.stdout)["error"] == "wrong_business_type"


def test_scan_without_a_code(keydir_path: Path, tmp_path: Path) -> None:
    blank = tmp_path / "blank.png"
    Image.new("L", (120, 120), 255).save(blank)
    run = ecert(["scan", str(blank), "--keys", str(keydir_path), "--business", "01101",
                 "--json"])
    assert run.returncode == 1
    assert json.loads(run.stdout)["error"] == "malformed"


def test_inspect_headers_and_claims_without_key_material(
    token: str, keys: KeyDir, keydir_path: Path
) -> None:
    run = ecert(["inspect", token])
    assert run.returncode == 0
    out = json.loads(run.stdout)
    assert out["verified"] is False and out["claims"] is None
    assert out["encrypt0"]["kid"] == keys.group_key.kid.hex()

    run = ecert(["inspect", token, "--keys", str(keydir_path), "--hex"])
    assert run.returncode == 0, run.stdout + run.stderr
    out = json.loads(run.stdout)
    assert out["verified"] is False
    assert out["claims"]["credential_id"] == "E4Q7ZK2M9PXA"
    for secret in (keys.group_key.secret, keys.signing_key.private_key.seed):
        for form in (secret.hex(), base64.b64encode(secret).decode().rstrip("="),
                     base64.urlsafe_b64encode(secret).decode().rstrip("=")):
            assert form not in run.stdout and form not in run.stderr


def test_vectors_command_shows_progress_and_matches_the_published_files(
    tmp_path: Path,
) -> None:
    out = tmp_path / "vectors"
    run = ecert(["vectors", "--out", str(out)])
    assert run.returncode == 0, run.stderr
    files = json.loads(run.stdout)["files"]
    published = sorted(p.name for p in VECTOR_DIR.glob("*.json"))
    assert sorted(files) == published
    progress = run.stderr.splitlines()
    assert progress[0] == f"[1/{len(files)}] valid"
    assert progress[-1] == f"[{len(files)}/{len(files)}] sm_rejected"
    for name in files:
        assert (out / name).read_bytes() == (VECTOR_DIR / name).read_bytes()


def test_inspect_a_presentation(keys: KeyDir, keydir_path: Path) -> None:
    """``ecert inspect`` reads EP1: text too: an open credential's claims without keys, a
    sealed one's with them; nothing verified, no key material."""
    from tests.sdk.test_inspect import make_presentation

    text, phone = make_presentation(keys, sealed=True)
    run = ecert(["inspect"], stdin=text + "\n")
    assert run.returncode == 0, run.stdout + run.stderr
    out = json.loads(run.stdout)
    assert out["verified"] is False and out["text"]["prefix"] == "EP1:"
    assert out["credential"]["mode"] == "sealed" and out["claims"] is None
    run = ecert(["inspect", text, "--keys", str(keydir_path), "--hex"])
    assert run.returncode == 0, run.stdout + run.stderr
    out = json.loads(run.stdout)
    assert out["decrypted"] is True and out["claims"]["credential_id"] == "E4Q7ZK2M9PXA"
    assert out["presentation"]["business_type"] == "02121"
    for secret in (keys.group_key.secret, keys.signing_key.private_key.seed, phone.seed):
        assert secret.hex() not in run.stdout
    run = ecert(["inspect", "EP1:garbage"])
    assert run.returncode == 1 and json.loads(run.stdout)["error"] == "malformed"
