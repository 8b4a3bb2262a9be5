"""QR images of tokens: render (segno) and scan (zxing-cpp).

An optional adapter: install ``ecert-token[qr]`` (segno, zxing-cpp, Pillow).
The libraries are imported when first used, so the core never needs them.

A token's text is ``EC1:`` plus Base45, all in the QR alphanumeric set, so the
symbol is encoded in alphanumeric mode (5.5 bits a character instead of 8).
The smallest QR version that holds the token at the chosen error-correction
level is used: no Micro QR, and no silent raising of the level, so the level
asked for is the level printed.
"""

from __future__ import annotations

import importlib
import io
import os
import warnings
from dataclasses import dataclass
from typing import Any, BinaryIO, TypedDict

from .codec.base45 import Base45Error, b45decode
from .errors import EcertError, ErrorCode, InvalidArgument
from .model.limits import MAX_TEXT_CHARS as _MAX_PRESENTATION
from .model.limits import PRESENTATION_PREFIX
from .token.text import PREFIX, TextError, from_text

LEVELS = ("L", "M", "Q", "H")
"""QR error-correction levels: about 7, 15, 25 and 30 % of the symbol recoverable."""

DEFAULT_LEVEL = "M"
DEFAULT_SCALE = 8
"""Pixels per module in PNG output; 57 modules at level M give a 520 px image."""

QUIET_ZONE = 4
"""Modules of white border around the symbol, as ISO/IEC 18004 requires."""

MAX_SCAN_PIXELS = 40_000_000
"""Largest image ``scan_image`` decodes (a 40-megapixel photo); bigger ones are refused."""

_INSTALL_HINT = "install ecert-token[qr] for QR images"

Output = str | os.PathLike[str] | BinaryIO


class QrInfoDict(TypedDict):
    """:meth:`QrInfo.to_dict`."""

    version: int
    level: str
    mode: str
    modules: int
    chars: int


@dataclass(frozen=True, slots=True)
class QrInfo:
    """What a token's QR symbol looks like at one level."""

    version: int
    level: str
    mode: str
    modules: int
    chars: int

    def to_dict(self) -> QrInfoDict:
        return {
            "version": self.version,
            "level": self.level,
            "mode": self.mode,
            "modules": self.modules,
            "chars": self.chars,
        }


def _optional(name: str) -> Any:
    """Import a module of the ``qr`` extra, or say how to install it."""
    try:
        return importlib.import_module(name)
    except ImportError:
        raise EcertError(ErrorCode.INVALID_ARGUMENT, _INSTALL_HINT) from None


def _segno() -> Any:
    return _optional("segno")


def _imaging() -> tuple[Any, Any]:
    return _optional("PIL.Image"), _optional("zxingcpp")


def _check_level(level: object) -> str:
    if not isinstance(level, str) or level.upper() not in LEVELS:
        raise InvalidArgument("level must be one of L, M, Q, H")
    return level.upper()


def _check_token(token: object) -> str:
    """Only the text of a token of this format, or of a holder presentation, is rendered
    (prefix and Base45 checked)."""
    if not isinstance(token, str):
        raise InvalidArgument("token must be text")
    try:
        if token.startswith(PRESENTATION_PREFIX) and len(token) <= _MAX_PRESENTATION:
            b45decode(token[len(PRESENTATION_PREFIX):])
        else:
            from_text(token)
    except (TextError, Base45Error):
        raise EcertError(ErrorCode.MALFORMED, "not the text of a token") from None
    return token


def _make(token: object, level: object) -> Any:
    segno = _segno()
    text = _check_token(token)
    lvl = _check_level(level)
    try:
        return segno.make(text, error=lvl, mode="alphanumeric", micro=False, boost_error=False)
    except (ValueError, segno.DataOverflowError):
        raise InvalidArgument("token does not fit a QR code at this level") from None


def _check_scale(value: object, what: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= 100:
        raise InvalidArgument(f"{what} must be an integer from {low} to 100")
    return value


def qr_info(token: str, level: str = DEFAULT_LEVEL) -> QrInfo:
    """Version, mode and size (modules a side, without quiet zone) of ``token``'s symbol."""
    qr = _make(token, level)
    width, _ = qr.symbol_size(scale=1, border=0)
    return QrInfo(int(qr.version), str(qr.error), str(qr.mode), int(width), len(token))


def qr_version(token: str, level: str = DEFAULT_LEVEL) -> int:
    """The smallest QR version (1 to 40) that holds ``token`` at ``level``."""
    return qr_info(token, level).version


KINDS = ("png", "svg")
_KIND_OPTIONS: dict[str, dict[str, object]] = {"png": {}, "svg": {"xmldecl": True, "svgns": True}}


def render(
    token: str,
    out: Output,
    kind: str = "png",
    *,
    level: str = DEFAULT_LEVEL,
    scale: int = DEFAULT_SCALE,
    border: int = QUIET_ZONE,
) -> QrInfo:
    """Write ``token`` as a ``png`` or ``svg`` image to a path or binary file.

    The image is ``(modules + 2 * border) * scale`` pixels (SVG user units) a
    side, black on white.
    """
    if kind not in KINDS:
        raise InvalidArgument("image kind must be png or svg")
    qr = _make(token, level)
    target: Any = os.fspath(out) if isinstance(out, str | os.PathLike) else out
    try:
        qr.save(target, kind=kind, scale=_check_scale(scale, "scale", 1),
                border=_check_scale(border, "border", 0), **_KIND_OPTIONS[kind])
    except OSError:
        raise InvalidArgument("cannot write the output file") from None
    return qr_info(token, level)


def render_png(token: str, out: Output, level: str = DEFAULT_LEVEL,
               scale: int = DEFAULT_SCALE, border: int = QUIET_ZONE) -> QrInfo:
    """Write ``token`` as a black-and-white PNG (see :func:`render`)."""
    return render(token, out, "png", level=level, scale=scale, border=border)


def render_svg(token: str, out: Output, level: str = DEFAULT_LEVEL,
               scale: int = DEFAULT_SCALE, border: int = QUIET_ZONE) -> QrInfo:
    """Write ``token`` as an SVG document (see :func:`render`)."""
    return render(token, out, "svg", level=level, scale=scale, border=border)


def svg_text(token: str, level: str = DEFAULT_LEVEL, scale: int = DEFAULT_SCALE) -> str:
    """The SVG document as a string, for web pages that inline it."""
    buf = io.BytesIO()
    render_svg(token, buf, level, scale)
    return buf.getvalue().decode("utf-8")


def render_text(token: str, level: str = DEFAULT_LEVEL, border: int = QUIET_ZONE) -> str:
    """The symbol as terminal text: Unicode half blocks, two module rows per line.

    Dark modules are drawn as spaces on a light background, so it scans from a
    terminal with a dark theme; the quiet zone is drawn too.
    """
    qr = _make(token, level)
    out = io.StringIO()
    qr.terminal(out=out, border=_check_scale(border, "border", 0), compact=True)
    return out.getvalue()


def _open_image(source: Output | Any, image_mod: Any) -> Any:
    """A loaded PIL image; refuses unreadable files and decompression bombs.

    Pillow's warnings about damaged files are silenced (the outcome is an
    error or a readable image either way); its decompression-bomb warning is
    turned into a refusal.
    """
    unreadable = (OSError, ValueError, SyntaxError, image_mod.DecompressionBombWarning,
                  image_mod.DecompressionBombError)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warnings.simplefilter("error", image_mod.DecompressionBombWarning)
        if isinstance(source, image_mod.Image):
            img = source
        else:
            target: Any = os.fspath(source) if isinstance(source, str | os.PathLike) else source
            try:
                img = image_mod.open(target)
            except unreadable:
                raise InvalidArgument("cannot read the image") from None
        if img.width * img.height > MAX_SCAN_PIXELS:
            raise InvalidArgument("image is too large to scan")
        try:
            img.load()
        except unreadable:
            raise InvalidArgument("cannot read the image") from None
    return img


def scan_image(source: str | os.PathLike[str] | BinaryIO | Any) -> list[str]:
    """Decode every QR code in an image (path, binary file or PIL image); texts in order.

    Returns an empty list if the image holds no readable QR code.  The texts
    are not checked: pass them to :meth:`ecert_token.Verifier.verify`.
    """
    image_mod, zxingcpp = _imaging()
    img = _open_image(source, image_mod)
    try:
        gray = img.convert("L")
        found = zxingcpp.read_barcodes(gray, formats=zxingcpp.BarcodeFormat.QRCode)
    except (OSError, ValueError):
        raise InvalidArgument("cannot read the image") from None
    return [str(b.text) for b in found if b.valid]


def scan_tokens(source: str | os.PathLike[str] | BinaryIO | Any) -> list[str]:
    """The e-certificate codes in an image: the scanned texts that carry the ``EC1:`` prefix
    (platform codes) or the ``EP1:`` prefix (holder presentations)."""
    return [t for t in scan_image(source) if t.startswith((PREFIX, PRESENTATION_PREFIX))]
