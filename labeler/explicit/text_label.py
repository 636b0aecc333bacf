"""The explicit (visible) image label of GB 45438-2025: a text prompt such as "AI生成" in a corner.

What is drawn: white text with a black outline on a translucent black rounded box, placed in the
chosen corner with a margin of ~2.5% of the short side. Legible on light, dark and busy backgrounds.

The size rule: the text's *ink height* -- rows of the rendered glyph fill (outline excluded) that hold
a pixel at least half covered -- is at least ``options.height_ratio`` x the image's shortest side,
rounded up. The font size is found by rendering and measuring, never by assuming em = ink height.

Only the label's box is read and written; the input array is copied once and never modified.
"""

from __future__ import annotations

import functools
import io
import math
import struct
import unicodedata
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

from labeler.errors import FontError, InvalidInput, InvalidOption
from labeler.settings import Corner, VisibleLabelOptions

BUNDLED_FONT_NAME = "NotoSansCJKsc-Bold-subset.otf"
#: Images whose shortest side is below this cannot carry a legible label.
MIN_SHORT_SIDE = 32
#: Preferred minimum ink height; used when it fits, otherwise the legal height alone is used.
MIN_LEGIBLE_INK_PX = 8
#: Gap between the box and the image edges, as a fraction of the shortest side.
MARGIN_RATIO = 0.025
#: Opacity of the black backing box.
BACKING_OPACITY = 0.55
#: Outline width as a fraction of the font size (at least 1 px).
STROKE_RATIO = 0.06
#: Padding inside the box, as fractions of the text's ink height.
PAD_X_RATIO = 0.4
PAD_Y_RATIO = 0.28
#: Corner radius of the box, as a fraction of its height.
CORNER_RADIUS_RATIO = 0.22
#: A row counts as ink when one of its pixels is at least this covered (0..255).
INK_COVERAGE = 128
TEXT_LEVEL = 255.0
STROKE_LEVEL = 0.0
BACKING_LEVEL = 0.0

_Mask = npt.NDArray[np.float32]


@dataclass(frozen=True)
class PlacedLabel:
    """Where the label went. The box is in output pixels; ``corner`` is a :class:`Corner` value."""

    x: int
    y: int
    width: int
    height: int
    #: Measured ink height of the rendered text fill (outline excluded).
    text_height_px: int
    font_size_px: int
    text: str
    corner: str


# --------------------------------------------------------------------------------------------- fonts


@functools.lru_cache(maxsize=1)
def _bundled_font_bytes() -> bytes:
    try:
        return resources.files("labeler.explicit").joinpath("fonts", BUNDLED_FONT_NAME).read_bytes()
    except OSError as exc:
        raise FontError(
            f"the bundled font {BUNDLED_FONT_NAME} is missing ({exc.strerror or exc}); "
            "reinstall labeler or run `make font`"
        ) from None


@dataclass(frozen=True)
class _FontSource:
    path: Path | None  # None: the bundled font

    @property
    def name(self) -> str:
        return "the bundled font" if self.path is None else f"font {self.path}"

    def open_binary(self) -> BinaryIO:
        if self.path is None:
            return io.BytesIO(_bundled_font_bytes())
        try:
            return self.path.open("rb")
        except FileNotFoundError:
            raise FontError(f"font file {self.path} not found") from None
        except OSError as exc:
            raise FontError(f"cannot read font file {self.path}: {exc.strerror or exc}") from None

    def stamp(self) -> tuple[int, int] | None:
        """(mtime in ns, size) of a font file, None for the bundled font or a path that is not a file (the
        load then raises the precise error)."""
        if self.path is None:
            return None
        try:
            stat = self.path.stat()
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size

    def load(self, size_px: int) -> ImageFont.FreeTypeFont:
        # Basic layout (FreeType only) renders the same everywhere, with or without libraqm; horizontal
        # CJK and Latin label text needs no shaping.
        layout = ImageFont.Layout.BASIC
        if self.path is not None and not self.path.is_file():
            self.open_binary().close()  # raises the precise FontError (missing, a directory, ...)
            raise FontError(f"font path {self.path} is not a file")
        try:
            if self.path is None:
                return ImageFont.truetype(io.BytesIO(_bundled_font_bytes()), size_px, index=0, layout_engine=layout)
            return ImageFont.truetype(str(self.path), size_px, index=0, layout_engine=layout)
        except (OSError, ValueError) as exc:
            raise FontError(f"{self.name} is not a usable TrueType/OpenType font ({exc})") from None


def _source(options: VisibleLabelOptions) -> _FontSource:
    return _FontSource(None if options.font_path is None else Path(options.font_path))


def _describe(chars: list[str]) -> str:
    return ", ".join(f"{c!r} (U+{ord(c):04X})" for c in chars)


def _check_coverage(source: _FontSource, font: ImageFont.FreeTypeFont, text: str) -> None:
    """FontError naming every character of *text* the font has no glyph for."""
    wanted = sorted(set(text), key=ord)
    with source.open_binary() as handle:
        try:
            missing = _missing_from_cmap(handle, wanted)
        except (struct.error, IndexError, ValueError) as exc:
            raise FontError(f"{source.name} has an unusable character map ('cmap' table): {exc}") from None
    if missing is None:  # not a plain sfnt (e.g. WOFF): compare each glyph with .notdef
        missing = _missing_by_rendering(font, wanted)
    if missing:
        ordered = sorted(missing, key=text.index)
        if source.path is None:
            raise FontError(
                f"the bundled font has no glyphs for {_describe(ordered)}; "
                "pass --font (font_path) with a font that covers the label text"
            )
        raise FontError(f"{source.name} has no glyphs for {_describe(ordered)}")


def _load_checked(source: _FontSource, text: str, size_px: int) -> ImageFont.FreeTypeFont:
    font = source.load(size_px)
    _check_coverage(source, font, text)
    return font


def label_font(options: VisibleLabelOptions, size_px: int) -> ImageFont.FreeTypeFont:
    """The label font (``options.font_path`` or the bundled Noto Sans CJK SC Bold subset) at *size_px*.

    Raises FontError when the font cannot be read or lacks glyphs for ``options.text``.
    """
    if size_px < 1:
        raise InvalidOption(f"font size must be at least 1 px, got {size_px}")
    return _load_checked(_source(options), _label_text(options), size_px)


# ------------------------------------------------------------------------------- cmap (no fontTools)

_SFNT_VERSIONS = (b"\x00\x01\x00\x00", b"OTTO", b"true", b"typ1")
_MAX_CMAP_BYTES = 64 * 1024 * 1024


def _read_at(handle: BinaryIO, offset: int, size: int) -> bytes:
    handle.seek(offset)
    data = handle.read(size)
    if len(data) != size:
        raise ValueError("truncated font file")
    return data


def _missing_from_cmap(handle: BinaryIO, chars: list[str]) -> set[str] | None:
    """Characters without a glyph per the font's Unicode cmap; None when the file is not an sfnt."""
    handle.seek(0)
    head = handle.read(12)
    if len(head) < 12:
        return None
    base = 0
    if head[:4] == b"ttcf":  # a collection: Pillow opens face 0, so check face 0
        (base,) = struct.unpack(">I", _read_at(handle, 12, 4))
        head = _read_at(handle, base, 12)
    if head[:4] not in _SFNT_VERSIONS:
        return None
    (num_tables,) = struct.unpack(">H", head[4:6])
    records = _read_at(handle, base + 12, 16 * num_tables)
    for i in range(num_tables):
        tag, _checksum, offset, length = struct.unpack_from(">4sIII", records, 16 * i)
        if tag == b"cmap":
            if length > _MAX_CMAP_BYTES:
                raise ValueError("cmap too large")
            return _missing_in_cmap_table(_read_at(handle, offset, length), chars)
    raise ValueError("no cmap table")


def _missing_in_cmap_table(cmap: bytes, chars: list[str]) -> set[str]:
    _version, count = struct.unpack_from(">HH", cmap, 0)
    offsets: list[int] = []
    for i in range(count):
        platform, encoding, offset = struct.unpack_from(">HHI", cmap, 4 + 8 * i)
        if (platform == 0 or (platform == 3 and encoding in (1, 10))) and offset not in offsets:
            offsets.append(offset)
    if not offsets:
        raise ValueError("no Unicode cmap subtable")
    missing = set(chars)
    for offset in offsets:
        for ch in list(missing):
            if _glyph_id(cmap, offset, ord(ch)):
                missing.discard(ch)
    return missing


def _glyph_id(cmap: bytes, off: int, cp: int) -> int:
    """Glyph id of code point *cp* in the cmap subtable at *off* (0 = none / unsupported format)."""
    (fmt,) = struct.unpack_from(">H", cmap, off)
    if fmt == 4:
        if cp > 0xFFFF:
            return 0
        seg_x2 = struct.unpack_from(">H", cmap, off + 6)[0]
        segs = seg_x2 // 2
        ends = struct.unpack_from(f">{segs}H", cmap, off + 14)
        starts = struct.unpack_from(f">{segs}H", cmap, off + 16 + seg_x2)
        deltas = struct.unpack_from(f">{segs}h", cmap, off + 16 + 2 * seg_x2)
        range_base = off + 16 + 3 * seg_x2
        ranges = struct.unpack_from(f">{segs}H", cmap, range_base)
        for i in range(segs):
            if cp <= ends[i]:
                if cp < starts[i]:
                    return 0
                if ranges[i] == 0:
                    return (cp + deltas[i]) & 0xFFFF
                address = range_base + 2 * i + ranges[i] + 2 * (cp - starts[i])
                gid = struct.unpack_from(">H", cmap, address)[0]
                return (gid + deltas[i]) & 0xFFFF if gid else 0
        return 0
    if fmt in (12, 13):
        (groups,) = struct.unpack_from(">I", cmap, off + 12)
        for g in range(groups):
            start, end, gid = struct.unpack_from(">III", cmap, off + 16 + 12 * g)
            if start <= cp <= end:
                return int(gid + (cp - start) if fmt == 12 else gid)
        return 0
    if fmt == 6:
        first, entries = struct.unpack_from(">HH", cmap, off + 6)
        if first <= cp < first + entries:
            return int(struct.unpack_from(">H", cmap, off + 10 + 2 * (cp - first))[0])
        return 0
    if fmt == 0:
        return cmap[off + 6 + cp] if cp < 256 else 0
    return 0


def _missing_by_rendering(font: ImageFont.FreeTypeFont, chars: list[str]) -> set[str]:
    notdef = _render(font, "\U0010ffff", 0)[0]
    missing = set()
    for ch in chars:
        if ch.isspace():
            continue
        fill = _render(font, ch, 0)[0]
        if fill.shape == notdef.shape and np.array_equal(fill, notdef):
            missing.add(ch)
    return missing


# ---------------------------------------------------------------------------------------- rendering


def _label_text(options: VisibleLabelOptions) -> str:
    text = options.text.strip()
    bad = [c for c in text if unicodedata.category(c) in ("Cc", "Zl", "Zp")]
    if bad:
        raise InvalidOption(f"label text must be a single line without control characters, got {text!r}")
    return text


def _render(font: ImageFont.FreeTypeFont, text: str, stroke: int) -> tuple[_Mask, _Mask]:
    """(fill, fill+outline) coverage masks in 0..1, cropped to the outline's ink box."""
    box = font.getbbox(text, anchor="ls", stroke_width=stroke)
    left, top, right, bottom = math.floor(box[0]), math.floor(box[1]), math.ceil(box[2]), math.ceil(box[3])
    pad = stroke + 2
    size = (max(1, right - left + 2 * pad), max(1, bottom - top + 2 * pad))
    origin = (pad - left, pad - top)
    fill_img = Image.new("L", size, 0)
    ImageDraw.Draw(fill_img).text(origin, text, font=font, fill=255, anchor="ls")
    fill = np.asarray(fill_img, dtype=np.float32)
    if stroke:
        union_img = Image.new("L", size, 0)
        ImageDraw.Draw(union_img).text(
            origin, text, font=font, fill=255, anchor="ls", stroke_width=stroke, stroke_fill=255
        )
        union = np.maximum(np.asarray(union_img, dtype=np.float32), fill)
    else:
        union = fill
    rows = np.flatnonzero(union.max(axis=1) > 0)
    cols = np.flatnonzero(union.max(axis=0) > 0)
    if rows.size == 0:
        return np.zeros((0, 0), np.float32), np.zeros((0, 0), np.float32)
    crop = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    scale = np.float32(1.0 / 255.0)
    return (fill[crop] * scale).astype(np.float32), (union[crop] * scale).astype(np.float32)


def _ink_height(fill: _Mask) -> int:
    rows = np.flatnonzero(fill.max(axis=1) >= INK_COVERAGE / 255.0) if fill.size else np.zeros(0, np.intp)
    return int(rows[-1] - rows[0] + 1) if rows.size else 0


def _size_for_ink(source: _FontSource, text: str, target: int, probe: ImageFont.FreeTypeFont) -> int:
    """The smallest font size whose measured ink height is at least *target* px."""
    reference = _ink_height(_render(probe, text, 0)[0])
    if reference == 0:
        raise InvalidOption(f"label text {text!r} renders no visible glyphs")
    size = max(1, math.ceil(target * probe.size / reference))
    measured = _ink_height(_render(source.load(size), text, 0)[0])
    for _ in range(64):  # step up until the rule holds after rasterisation
        if measured >= target:
            break
        size += 1
        measured = _ink_height(_render(source.load(size), text, 0)[0])
    else:
        raise FontError(f"{source.name} does not scale: cannot render {text!r} {target} px tall")
    while size > 1 and _ink_height(_render(source.load(size - 1), text, 0)[0]) >= target:
        size -= 1  # and take the smallest size that still meets it
    return size


def _rounded_box_alpha(height: int, width: int, radius: float) -> _Mask:
    """Antialiased rounded-rectangle coverage (0..1) from a signed distance."""
    ys = np.arange(height, dtype=np.float32)[:, None] + 0.5
    xs = np.arange(width, dtype=np.float32)[None, :] + 0.5
    dx = np.maximum(np.abs(xs - width / 2.0) - (width / 2.0 - radius), 0.0)
    dy = np.maximum(np.abs(ys - height / 2.0) - (height / 2.0 - radius), 0.0)
    distance = np.sqrt(dx * dx + dy * dy) - radius
    return np.clip(0.5 - distance, 0.0, 1.0).astype(np.float32)


@dataclass(frozen=True)
class _Layout:
    font_size: int
    ink_height: int
    fill: _Mask
    union: _Mask
    width: int
    height: int
    pad_x: int
    pad_y: int
    #: The whole label as (premultiplied grey level 0..255, alpha 0..1), from ``_label_layer``.
    level: _Mask
    alpha: _Mask


@functools.lru_cache(maxsize=64)
def _cached_layout(source: _FontSource, stamp: tuple[int, int] | None, text: str, target: int) -> _Layout:
    """The laid-out label for a font, text and ink height. Sizing renders the text several times and
    costs more than the rest of the drawing, while a service labels thousands of pictures with the same
    few sizes. ``stamp`` (a font file's mtime and size) makes an edited font file a new entry."""
    del stamp  # part of the cache key only
    return _layout(source, text, target, _load_checked(source, text, 100))


def _layout(source: _FontSource, text: str, target: int, probe: ImageFont.FreeTypeFont) -> _Layout:
    size = _size_for_ink(source, text, target, probe)
    font = source.load(size)
    stroke = max(1, round(size * STROKE_RATIO))
    fill, union = _render(font, text, stroke)
    ink = _ink_height(fill)
    pad_x = max(2, round(PAD_X_RATIO * ink))
    pad_y = max(1, round(PAD_Y_RATIO * ink))
    height, width = union.shape[0] + 2 * pad_y, union.shape[1] + 2 * pad_x
    level, alpha = _label_layer(height, width, pad_x, pad_y, fill, union)
    for mask in (fill, union, level, alpha):
        mask.setflags(write=False)  # layouts are cached and shared
    return _Layout(
        font_size=size, ink_height=ink, fill=fill, union=union, width=width, height=height,
        pad_x=pad_x, pad_y=pad_y, level=level, alpha=alpha,
    )


def _label_layer(
    height: int, width: int, pad_x: int, pad_y: int, fill: _Mask, union: _Mask
) -> tuple[_Mask, _Mask]:
    """(premultiplied grey level 0..255, alpha 0..1) of the whole label: box, outline, then fill."""
    box = _rounded_box_alpha(height, width, CORNER_RADIUS_RATIO * height)
    alpha = BACKING_OPACITY * box
    level = BACKING_LEVEL * alpha
    rows = slice(pad_y, pad_y + union.shape[0])
    cols = slice(pad_x, pad_x + union.shape[1])
    for cover, value in ((union, STROKE_LEVEL), (fill, TEXT_LEVEL)):
        alpha[rows, cols] = cover + alpha[rows, cols] * (1.0 - cover)
        level[rows, cols] = value * cover + level[rows, cols] * (1.0 - cover)
    return level.astype(np.float32), alpha.astype(np.float32)


def _check_pixels(pixels: np.ndarray) -> None:
    if not isinstance(pixels, np.ndarray) or pixels.dtype != np.uint8:
        raise InvalidInput("pixels must be a uint8 NumPy array")
    if pixels.ndim == 2:
        return
    if pixels.ndim != 3 or pixels.shape[2] not in (1, 3, 4):
        raise InvalidInput(f"pixels must be HxW or HxWxC with C in 1, 3, 4; got shape {pixels.shape}")


def draw_visible_label(pixels: np.ndarray, options: VisibleLabelOptions) -> tuple[np.ndarray, PlacedLabel]:
    """Draw the visible label into a copy of *pixels* (uint8 HxW[xC], C = 1 grey, 3 RGB, 4 RGBA).

    Raises InvalidOption when the image is too small or the text cannot fit at the required height,
    FontError when the font is unusable or lacks glyphs for the text.
    """
    _check_pixels(pixels)
    height, width = pixels.shape[:2]
    short = min(height, width)
    if short < MIN_SHORT_SIDE:
        raise InvalidOption(
            f"a {width}x{height} image is too small to carry a legible label "
            f"(the shortest side must be at least {MIN_SHORT_SIDE} px)"
        )
    text = _label_text(options)
    source = _source(options)
    stamp = source.stamp()
    legal = math.ceil(options.height_ratio * short - 1e-9)
    margin = max(1, round(MARGIN_RATIO * short))

    layout: _Layout | None = None
    for target in dict.fromkeys((max(legal, MIN_LEGIBLE_INK_PX), legal)):
        layout = _cached_layout(source, stamp, text, target)
        if layout.width + 2 * margin <= width and layout.height + 2 * margin <= height:
            break
    else:
        assert layout is not None
        raise InvalidOption(
            f"label text {text!r} does not fit a {width}x{height} image at the required text height "
            f"({legal} px = {options.height_ratio:.0%} of the shortest side): it needs a "
            f"{layout.width}x{layout.height} px box; use a shorter text such as 'AI生成' or a larger image"
        )

    corner = options.position
    x = margin if corner in (Corner.TOP_LEFT, Corner.BOTTOM_LEFT) else width - margin - layout.width
    y = margin if corner in (Corner.TOP_LEFT, Corner.TOP_RIGHT) else height - margin - layout.height

    out = pixels.copy()
    region = (out if out.ndim == 3 else out[:, :, None])[y : y + layout.height, x : x + layout.width]
    level, alpha = layout.level[:, :, None], layout.alpha[:, :, None]
    if region.shape[2] == 4:
        colour = region[:, :, :3].astype(np.float32)
        under = region[:, :, 3:].astype(np.float32) / 255.0
        keep = under * (1.0 - alpha)
        out_alpha = alpha + keep
        blended = np.where(out_alpha > 0, (level + colour * keep) / np.maximum(out_alpha, 1e-6), colour)
        region[:, :, :3] = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
        region[:, :, 3:] = np.clip(np.rint(out_alpha * 255.0), 0, 255).astype(np.uint8)
    else:
        blended = level + region.astype(np.float32) * (1.0 - alpha)
        region[...] = np.clip(np.rint(blended), 0, 255).astype(np.uint8)

    placed = PlacedLabel(
        x=int(x),
        y=int(y),
        width=layout.width,
        height=layout.height,
        text_height_px=layout.ink_height,
        font_size_px=layout.font_size,
        text=text,
        corner=corner.value,
    )
    return out, placed
