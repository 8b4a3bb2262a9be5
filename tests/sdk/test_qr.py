"""QR images: real tokens rendered with segno and read back with zxing-cpp, then verified."""

from __future__ import annotations

import io
import random
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import segno
import zxingcpp
from PIL import Image, ImageFilter

from ecert_token import BusinessType, EcertError, ErrorCode, FamilyAccount, Issuer, Verifier, qr
from tests.sdk.test_inspect import conforms

SVG_NS = "{http://www.w3.org/2000/svg}"

# Measured for the 279-character token of the shared fixtures (see the README).
EXPECTED_VERSIONS = {"L": 8, "M": 10, "Q": 12, "H": 14}


def test_fixture_token_is_the_typical_length(token: str) -> None:
    assert len(token) == 279


@pytest.mark.parametrize("level", qr.LEVELS)
def test_smallest_version_in_alphanumeric_mode(token: str, level: str) -> None:
    info = qr.qr_info(token, level)
    assert info.mode == "alphanumeric"
    assert info.level == level
    assert info.version == EXPECTED_VERSIONS[level] == qr.qr_version(token, level)
    assert info.modules == 17 + 4 * info.version
    # One version smaller cannot hold the token at this level: the version is the smallest.
    with pytest.raises(segno.DataOverflowError):
        segno.make(token, error=level, version=info.version - 1, mode="alphanumeric",
                   boost_error=False)
    assert conforms(info.to_dict(), qr.QrInfoDict)
    assert info.to_dict() == {"version": info.version, "level": level, "mode": "alphanumeric",
                              "modules": info.modules, "chars": len(token)}


@pytest.mark.parametrize("level", ["L", "M", "Q"])
def test_png_round_trip_through_the_scanner(
    token: str, verifier: Verifier, tmp_path: Path, level: str
) -> None:
    path = tmp_path / f"token-{level}.png"
    info = qr.render_png(token, path, level=level)
    assert info.version == EXPECTED_VERSIONS[level]
    with Image.open(path) as img:
        assert img.format == "PNG"
        assert img.size == ((info.modules + 2 * qr.QUIET_ZONE) * qr.DEFAULT_SCALE,) * 2
        found = zxingcpp.read_barcodes(img.convert("L"))
    assert [b.ec_level for b in found] == [level]
    texts = qr.scan_image(path)
    assert texts == [token]
    result = verifier.verify(texts[0], BusinessType.HOSPITAL_REGISTRATION)
    assert result.claims.credential_id == "E4Q7ZK2M9PXA"
    assert result.cert_type.value == "01"


def test_scaled_down_and_blurred_image_still_decodes(
    token: str, verifier: Verifier, tmp_path: Path
) -> None:
    buf = io.BytesIO()
    qr.render_png(token, buf, level="M")
    buf.seek(0)
    with Image.open(buf) as img:
        original = img.convert("L")
    # 520 px -> 260 px (4 px a module), then a Gaussian blur of about a quarter module.
    degraded = original.resize((260, 260), Image.Resampling.BILINEAR).filter(
        ImageFilter.GaussianBlur(1.0)
    )
    path = tmp_path / "degraded.png"
    degraded.save(path)
    texts = qr.scan_tokens(path)
    assert texts == [token]
    assert verifier.verify(texts[0], BusinessType.HOSPITAL_REGISTRATION).subject == "E4Q7ZK2M9PXA"


def test_family_member_token_round_trip(
    issuer: Issuer, family: FamilyAccount, verifier: Verifier, tmp_path: Path
) -> None:
    token = issuer.mint_for_member(family, "K8D2WQ5T7RNB", BusinessType.PHARMACY_PURCHASE)
    path = tmp_path / "member.png"
    qr.render_png(token, path, level="M", scale=4)
    [scanned] = qr.scan_image(path)
    result = verifier.verify(scanned, BusinessType.PHARMACY_PURCHASE)
    assert (result.subject, result.actor) == ("K8D2WQ5T7RNB", "E4Q7ZK2M9PXA")


def test_svg_is_well_formed_with_the_right_size(token: str, tmp_path: Path) -> None:
    path = tmp_path / "token.svg"
    info = qr.render_svg(token, path, level="Q", scale=5)
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG_NS}svg"
    side = (info.modules + 2 * qr.QUIET_ZONE) * 5
    assert (root.get("width"), root.get("height")) == (str(side), str(side))
    assert root.get("viewBox") is None or root.get("viewBox") == f"0 0 {side} {side}"
    assert root.find(f"{SVG_NS}path") is not None
    assert qr.svg_text(token, "Q", 5) == path.read_text("utf-8")


def _text_art_to_image(art: str) -> Image.Image:
    """Rebuild pixels from half-block art: each character is two modules, one above the other."""
    lines = art.rstrip("\n").split("\n")
    width = len(lines[0])
    img = Image.new("L", (width, 2 * len(lines)), 255)
    upper_light = {"█": (True, True), "▀": (True, False), "▄": (False, True), " ": (False, False)}
    for y, line in enumerate(lines):
        for x, ch in enumerate(line):
            top, bottom = upper_light[ch]
            # Light foreground on a dark terminal: a drawn half is a light module.
            img.putpixel((x, 2 * y), 255 if top else 0)
            img.putpixel((x, 2 * y + 1), 255 if bottom else 0)
    return img.resize((width * 6, 2 * len(lines) * 6), Image.Resampling.NEAREST)


def test_terminal_text_is_a_scannable_symbol(token: str) -> None:
    art = qr.render_text(token, level="M")
    lines = art.rstrip("\n").split("\n")
    side = qr.qr_info(token, "M").modules + 2 * qr.QUIET_ZONE
    assert len(lines) == (side + 1) // 2
    assert {len(line) for line in lines} == {side}
    assert set(art) <= set("█▀▄ \n")
    assert qr.scan_image(_text_art_to_image(art)) == [token]


def test_bad_level_and_non_token_text_are_refused(token: str, tmp_path: Path) -> None:
    with pytest.raises(EcertError) as err:
        qr.qr_version(token, "X")
    assert err.value.code is ErrorCode.INVALID_ARGUMENT
    for bad in ("https://example.com/", "EC1:abc", "", token + "!"):
        with pytest.raises(EcertError) as err:
            qr.render_png(bad, tmp_path / "x.png")
        assert err.value.code is ErrorCode.MALFORMED
    with pytest.raises(EcertError) as err:
        qr.render_png(token, tmp_path / "missing-dir" / "x.png")
    assert err.value.code is ErrorCode.INVALID_ARGUMENT
    with pytest.raises(EcertError) as err:
        qr.render_png(token, tmp_path / "x.png", scale=0)
    assert err.value.code is ErrorCode.INVALID_ARGUMENT


def test_scanning_images_without_tokens(tmp_path: Path) -> None:
    blank = tmp_path / "blank.png"
    Image.new("L", (200, 200), 255).save(blank)
    assert qr.scan_image(blank) == []
    foreign = tmp_path / "foreign.png"
    segno.make("HTTPS://EXAMPLE.COM/", error="M").save(foreign, scale=6)
    assert qr.scan_image(foreign) == ["HTTPS://EXAMPLE.COM/"]
    assert qr.scan_tokens(foreign) == []


def test_unreadable_images_are_refused(tmp_path: Path) -> None:
    not_image = tmp_path / "token.png"
    not_image.write_bytes(b"EC1:not an image at all")
    for source in (not_image, tmp_path / "does-not-exist.png", io.BytesIO(b"\x89PNG\r\n\x1a\n")):
        with pytest.raises(EcertError) as err:
            qr.scan_image(source)
        assert err.value.code is ErrorCode.INVALID_ARGUMENT


def test_missing_extra_gives_an_install_hint() -> None:
    code = (
        "import sys; sys.modules['segno'] = None; sys.modules['zxingcpp'] = None\n"
        "sys.modules['PIL'] = None\n"
        "import ecert_token.cli.sdk_cmd  # the commands load without the extra\n"
        "from ecert_token import qr\n"
        "from ecert_token.errors import EcertError\n"
        "for call in (lambda: qr.qr_version('EC1:00'), lambda: qr.scan_image('x.png')):\n"
        "    try:\n"
        "        call()\n"
        "    except EcertError as err:\n"
        "        print(err.code.value, '|', err)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    lines = out.stdout.splitlines()
    assert len(lines) == 2
    for line in lines:
        assert line.startswith("invalid_argument |")
        assert "install ecert-token[qr]" in line


def _damaged(data: bytes, rnd: random.Random) -> bytes:
    d = bytearray(data)
    op = rnd.randrange(3)
    if op == 0:
        return bytes(d[: rnd.randrange(len(d))])
    if op == 1:
        for _ in range(rnd.randrange(1, 8)):
            d[rnd.randrange(len(d))] = rnd.randrange(256)
        return bytes(d)
    at = rnd.randrange(len(d))
    return bytes(d[:at]) + rnd.randbytes(20) + bytes(d[at:])


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "BMP", "TIFF"])
def test_damaged_image_files_raise_only_ecert_errors(token: str, fmt: str) -> None:
    buf = io.BytesIO()
    qr.render_png(token, buf, scale=2)
    buf.seek(0)
    original = io.BytesIO()
    with Image.open(buf) as img:
        img.convert("L").save(original, format=fmt)
    rnd = random.Random(fmt)
    for _ in range(60):
        try:
            texts = qr.scan_image(io.BytesIO(_damaged(original.getvalue(), rnd)))
        except EcertError as err:
            assert err.code is ErrorCode.INVALID_ARGUMENT
        else:
            assert all(isinstance(t, str) for t in texts)
