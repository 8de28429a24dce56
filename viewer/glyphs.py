"""Map label glyphs, rendered here so that Vietnamese labels work with no internet.

MapLibre draws text from signed-distance-field (SDF) glyphs fetched as protobuf ranges of 256
code points (``{fontstack}/{start}-{end}.pbf``). We render them from a local TrueType font that
covers Vietnamese (Noto Sans or DejaVu Sans from Debian) with Pillow's FreeType binding, and
compute the SDF with numpy the way MapLibre's TinySDF does (24 px em, 3 px buffer, radius 8,
cutoff 0.25), so the result matches glyphs made by fontnik.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
from django.conf import settings
from PIL import Image, ImageDraw, ImageFont

SIZE = 24
BUFFER = 3
RADIUS = 8.0
CUTOFF = 0.25
# MapLibre places a glyph's bitmap ``top`` below the line's top; fontnik's convention is the
# glyph's ascent minus this offset.
TOP_OFFSET = 26

# What Vietnamese text needs: Latin-1, Latin Extended-A/B (Đ đ Ơ ơ Ư ư), combining marks,
# Latin Extended Additional (ạ … ỹ), punctuation (– — “ ” …).
SETUP_RANGES = (0, 256, 512, 768, 7680, 8192)


class FontMissing(RuntimeError):
    pass


def font_path(fontstack: str) -> Path:
    """The first existing font file configured for ``fontstack`` (settings.VIEWER_FONTS)."""
    candidates = settings.VIEWER_FONTS.get(fontstack)
    if candidates is None:
        raise KeyError(fontstack)
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise FontMissing(
        f"No font file for {fontstack!r}; tried {', '.join(c for c in candidates if c)}. "
        "Install Debian's fonts-dejavu-core (or fonts-noto-core), or set IOC_FONT_REGULAR / "
        "IOC_FONT_BOLD to a TrueType font that covers Vietnamese."
    )


@lru_cache(maxsize=4)
def _font(path: str) -> ImageFont.FreeTypeFont:
    # BASIC layout: one code point at a time, no shaping (MapLibre composes the text itself).
    return ImageFont.truetype(path, SIZE, layout_engine=ImageFont.Layout.BASIC)


def _edt(seed: np.ndarray) -> np.ndarray:
    """Squared Euclidean distance transform with per-pixel seeds (brute force; bitmaps are tiny)."""
    h, w = seed.shape
    ys, xs = np.mgrid[0:h, 0:w]
    points = np.stack([ys.ravel(), xs.ravel()], axis=1).astype(np.float32)
    finite = np.isfinite(seed.ravel())
    if not finite.any():
        return np.full(seed.shape, np.inf, dtype=np.float32)
    sources = points[finite]
    base = seed.ravel()[finite].astype(np.float32)
    d2 = ((points[:, None, :] - sources[None, :, :]) ** 2).sum(axis=2) + base[None, :]
    return d2.min(axis=1).reshape(h, w)


def sdf(coverage: np.ndarray) -> np.ndarray:
    """Anti-aliased coverage (0..1) → MapLibre SDF bytes (192 ≈ the glyph's edge)."""
    inf = np.inf
    outer = np.where(
        coverage >= 1, 0.0, np.where(coverage <= 0, inf, np.maximum(0, 0.5 - coverage) ** 2)
    )
    inner = np.where(
        coverage >= 1, inf, np.where(coverage <= 0, 0.0, np.maximum(0, coverage - 0.5) ** 2)
    )
    distance = np.sqrt(_edt(outer)) - np.sqrt(_edt(inner))
    values = np.round(255 - 255 * (distance / RADIUS + CUTOFF))
    return np.clip(values, 0, 255).astype(np.uint8)


def render_glyph(font: ImageFont.FreeTypeFont, code: int) -> dict | None:
    char = chr(code)
    if code < 32 and code not in (9, 10):
        return None
    try:
        advance = font.getlength(char)
    except (OSError, ValueError, RuntimeError):
        return None
    x0, y0, x1, y1 = font.getbbox(char, anchor="ls")
    width, height = max(0, x1 - x0), max(0, y1 - y0)
    glyph = {"id": code, "advance": round(advance), "left": x0, "top": -y0 - TOP_OFFSET}
    if width == 0 or height == 0:
        return {**glyph, "width": 0, "height": 0, "bitmap": b""}
    image = Image.new("L", (width + 2 * BUFFER, height + 2 * BUFFER), 0)
    ImageDraw.Draw(image).text((BUFFER - x0, BUFFER - y0), char, font=font, fill=255, anchor="ls")
    coverage = np.asarray(image, dtype=np.float32) / 255.0
    return {**glyph, "width": width, "height": height, "bitmap": sdf(coverage).tobytes()}


def _notdef(font: ImageFont.FreeTypeFont) -> bytes:
    """The .notdef box's bitmap: code points the font lacks render as it and are left out,
    so MapLibre shows nothing rather than boxes."""
    return bytes(font.getmask(chr(0x10FFFD)))


# --- protobuf (glyphs.proto of the Mapbox/MapLibre glyph format), encoded by hand ----------
def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, wire: int, payload: bytes | int) -> bytes:
    key = _varint((number << 3) | wire)
    if wire == 0:
        return key + _varint(payload)  # type: ignore[arg-type]
    return key + _varint(len(payload)) + payload  # type: ignore[arg-type]


def _zigzag(value: int) -> int:
    return (value << 1) ^ (value >> 63)


def encode(fontstack: str, start: int, glyphs: list[dict]) -> bytes:
    body = _field(1, 2, fontstack.encode()) + _field(2, 2, f"{start}-{start + 255}".encode())
    for g in glyphs:
        msg = _field(1, 0, g["id"])
        if g["bitmap"]:
            msg += _field(2, 2, g["bitmap"])
        msg += _field(3, 0, g["width"]) + _field(4, 0, g["height"])
        msg += _field(5, 0, _zigzag(g["left"])) + _field(6, 0, _zigzag(g["top"]))
        msg += _field(7, 0, g["advance"])
        body += _field(3, 2, msg)
    return _field(1, 2, body)


def build_range(fontstack: str, start: int) -> bytes:
    """The PBF of code points start..start+255 of ``fontstack``."""
    if start % 256 or not 0 <= start < 65536:
        raise ValueError("a glyph range starts at a multiple of 256 below 65536")
    path = font_path(fontstack)
    font = _font(str(path))
    notdef = _notdef(font)
    glyphs = []
    for code in range(start, start + 256):
        if code > 32 and bytes(font.getmask(chr(code))) == notdef:
            continue
        glyph = render_glyph(font, code)
        if glyph is not None:
            glyphs.append(glyph)
    return encode(fontstack, start, glyphs)


def range_path(fontstack: str, start: int) -> Path:
    return Path(settings.VIEWER_GLYPH_DIR) / fontstack / f"{start}-{start + 255}.pbf"


def ensure_range(fontstack: str, start: int) -> Path:
    """Render a range into settings.VIEWER_GLYPH_DIR once; later calls reuse the file."""
    path = range_path(fontstack, start)
    if not path.is_file():
        data = build_range(fontstack, start)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    return path
