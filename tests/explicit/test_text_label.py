from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFont

from labeler.errors import FontError, InvalidOption
from labeler.explicit.build_font import LABEL_WORDINGS, character_set
from labeler.explicit.text_label import PlacedLabel, draw_visible_label, label_font
from labeler.settings import MIN_TEXT_HEIGHT_RATIO, Corner, VisibleLabelOptions
from tests.explicit.conftest import BUNDLED_FONT
from tests.helpers import natural_image

GOLDEN = Path(__file__).resolve().parent / "golden" / "label_320x240.png"
#: Flat dark grey: the box (black, 50%) and outline (black) only darken it, so every pixel that got
#: brighter than the input is glyph fill.
BACKGROUND = 60


def luma(pixels: np.ndarray) -> np.ndarray:
    if pixels.ndim == 2:
        return pixels.astype(np.float64)
    if pixels.shape[2] < 3:
        return pixels[:, :, 0].astype(np.float64)
    return pixels[:, :, :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])


def glyph_mask(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    return luma(after) > luma(before) + 20


def ink_height(mask: np.ndarray) -> int:
    rows = np.flatnonzero(mask.any(axis=1))
    return int(rows[-1] - rows[0] + 1) if rows.size else 0


def label(pixels: np.ndarray, **kwargs: object) -> tuple[np.ndarray, PlacedLabel]:
    return draw_visible_label(pixels, VisibleLabelOptions(**kwargs))  # type: ignore[arg-type]


def flat(height: int, width: int, channels: int = 3, value: int = BACKGROUND) -> np.ndarray:
    return np.full((height, width, channels), value, np.uint8)


# ------------------------------------------------------------------------------------- size rule

SIZES = [(64, 64), (480, 640), (640, 480), (1080, 1920), (3000, 4000), (200, 3000), (1200, 300)]


@pytest.mark.parametrize("ratio", [MIN_TEXT_HEIGHT_RATIO, 0.08])
@pytest.mark.parametrize("text", ["AI生成", "人工智能生成", "AI"])
@pytest.mark.parametrize(("height", "width"), SIZES)
def test_measured_ink_height_meets_the_size_rule(height: int, width: int, text: str, ratio: float) -> None:
    image = flat(height, width)
    out, placed = label(image, text=text, height_ratio=ratio)
    required = ratio * min(height, width)
    # The label sits bottom-right; look at the bottom band only (keeps the 12 MP cases fast) and check
    # that nothing above the band changed.
    band = min(height, max(64, min(height, width) // 2))
    assert np.array_equal(out[: height - band : 7], image[: height - band : 7])
    measured = ink_height(glyph_mask(image[-band:], out[-band:]))
    assert measured >= required, (measured, required, placed)
    assert placed.text_height_px >= math.ceil(required - 1e-9)
    # Not wildly oversized either: the legibility floor only matters on small images.
    assert measured <= max(required * 1.25 + 2, 12)
    assert placed.text == text and placed.font_size_px > 0


@settings(max_examples=25, deadline=None)
@given(
    height=st.integers(min_value=32, max_value=900),
    width=st.integers(min_value=200, max_value=900),
    ratio=st.floats(min_value=0.05, max_value=0.12),
)
def test_size_rule_holds_for_arbitrary_sizes(height: int, width: int, ratio: float) -> None:
    image = flat(height, width, 1)
    out, _ = label(image, height_ratio=ratio)
    # Whole pixels: a ratio a rounding error above 5% (0.05000000000000001 x 240) still means 12 px.
    assert ink_height(glyph_mask(image, out)) >= math.ceil(ratio * min(height, width) - 1e-9)


def test_size_is_measured_not_assumed_latin_gets_a_larger_font_than_cjk() -> None:
    image = flat(480, 640)
    _, cjk = label(image, text="人工智能生成")
    _, latin = label(image, text="AI")
    assert latin.font_size_px > cjk.font_size_px  # caps are shorter than CJK ideographs per em
    assert abs(latin.text_height_px - cjk.text_height_px) <= 1


# ----------------------------------------------------------------------------- placement, dtypes


@pytest.mark.parametrize("corner", list(Corner))
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_corner_placement_and_untouched_input(corner: Corner, channels: int) -> None:
    height, width = 300, 500
    image = natural_image(height, width, seed=7, channels=3)
    if channels == 1:
        image = image[:, :, :1].copy()
    elif channels == 4:
        image = np.dstack([image, np.full((height, width), 90, np.uint8)])
    before = image.copy()
    out, placed = label(image, position=corner)

    assert np.array_equal(image, before), "input was modified"
    assert out.shape == image.shape and out.dtype == np.uint8
    assert placed.corner == corner.value

    short = min(height, width)
    left_gap, top_gap = placed.x, placed.y
    right_gap, bottom_gap = width - placed.x - placed.width, height - placed.y - placed.height
    near_x = left_gap if "left" in corner.value else right_gap
    near_y = top_gap if "top" in corner.value else bottom_gap
    for gap in (near_x, near_y):
        assert 1 <= gap <= 0.03 * short + 1
    assert min(left_gap, right_gap) == near_x and min(top_gap, bottom_gap) == near_y

    changed = np.argwhere(np.any((out != image).reshape(height, width, -1), axis=2))
    assert changed.size
    assert changed[:, 0].min() >= placed.y and changed[:, 0].max() < placed.y + placed.height
    assert changed[:, 1].min() >= placed.x and changed[:, 1].max() < placed.x + placed.width


def test_two_dimensional_grey_is_supported() -> None:
    image = np.full((200, 300), 170, np.uint8)
    out, _ = label(image)
    assert out.shape == (200, 300)
    assert ink_height(glyph_mask(image, out)) >= 0.05 * 200


def test_grey_label_is_drawn_in_grey_levels_matching_rgb() -> None:
    grey = flat(240, 320, 1, 150)
    rgb = flat(240, 320, 3, 150)
    out_grey, _ = label(grey)
    out_rgb, _ = label(rgb)
    assert np.array_equal(out_grey[:, :, 0], out_rgb[:, :, 0])
    assert np.array_equal(out_rgb[:, :, 0], out_rgb[:, :, 2])


def test_rgba_alpha_is_raised_in_the_box() -> None:
    image = np.zeros((240, 320, 4), np.uint8)  # fully transparent
    out, placed = label(image)
    box = out[placed.y : placed.y + placed.height, placed.x : placed.x + placed.width]
    inner = box[placed.height // 4 : -placed.height // 4, 2:-2, 3]
    assert inner.min() >= 0.45 * 255  # at least the backing's opacity everywhere inside the box
    opaque_white = (box[:, :, 3] == 255) & (luma(box) > 240)  # glyph fill: white and opaque
    assert opaque_white.sum() > placed.text_height_px * 4
    # Alpha never drops anywhere.
    opaque = np.full((240, 320, 4), 255, np.uint8)
    out2, _ = label(opaque)
    assert (out2[:, :, 3] == 255).all()


def test_output_is_a_new_array_even_for_non_contiguous_views() -> None:
    base = natural_image(400, 600, seed=1)
    view = base[::2, ::2]
    before = view.copy()
    out, _ = label(view)
    assert out is not view and not np.shares_memory(out, base)
    assert np.array_equal(view, before)


# ------------------------------------------------------------------------------------ legibility


def _contrast(image: np.ndarray) -> float:
    out, placed = label(image, text="人工智能生成")
    box = (slice(placed.y, placed.y + placed.height), slice(placed.x, placed.x + placed.width))
    y = luma(out[box])
    # Glyph fill is (near) white; the backing around it is the box area away from the text.
    glyph = y > 235
    grow = np.zeros_like(glyph)
    reach = max(3, placed.text_height_px // 4)
    for dy in range(-reach, reach + 1):
        for dx in range(-reach, reach + 1):
            grow |= np.roll(np.roll(glyph, dy, axis=0), dx, axis=1)
    pad = max(2, placed.height // 6)
    inside = np.zeros_like(glyph)
    inside[pad:-pad, pad:-pad] = True
    backing = inside & ~grow
    assert glyph.sum() > 20 and backing.sum() > 20
    return float(y[glyph].mean() - y[backing].mean())


@pytest.mark.parametrize("kind", ["white", "black", "noise", "photo"])
def test_glyphs_stand_out_from_the_backing(kind: str) -> None:
    rng = np.random.default_rng(5)
    if kind == "white":
        image = flat(360, 480, 3, 255)
    elif kind == "black":
        image = flat(360, 480, 3, 0)
    elif kind == "noise":
        image = rng.integers(0, 256, size=(360, 480, 3), dtype=np.uint8)
    else:
        image = natural_image(360, 480, seed=11)
    assert _contrast(image) >= 100


def test_white_background_glyphs_have_a_dark_outline() -> None:
    image = flat(360, 480, 3, 255)
    out, placed = label(image)
    box = luma(out[placed.y : placed.y + placed.height, placed.x : placed.x + placed.width])
    assert box.min() < 30  # the black outline, darker than the grey backing (~128)
    assert box.max() > 250


# ---------------------------------------------------------------------------------------- errors


def test_empty_text_is_rejected_by_the_options() -> None:
    with pytest.raises(InvalidOption):
        VisibleLabelOptions(text="  ")


def test_multiline_text_is_rejected() -> None:
    with pytest.raises(InvalidOption, match="single line"):
        label(flat(240, 320), text="AI\n生成")


def test_text_too_long_for_a_narrow_image() -> None:
    with pytest.raises(InvalidOption, match="does not fit"):
        label(flat(800, 200), text="本内容由人工智能生成", height_ratio=0.2)
    with pytest.raises(InvalidOption, match="does not fit"):
        label(flat(640, 480), text="本内容由人工智能生成" * 2)


@pytest.mark.parametrize(("height", "width"), [(31, 500), (500, 20), (1, 1), (16, 16)])
def test_tiny_images_are_rejected(height: int, width: int) -> None:
    with pytest.raises(InvalidOption, match="too small"):
        label(flat(height, width))


def test_small_but_allowed_image() -> None:
    image = flat(32, 64)
    out, _ = label(image, text="AI")
    assert ink_height(glyph_mask(image, out)) >= 0.05 * 32


def test_bundled_font_missing_glyphs_names_them_and_suggests_font() -> None:
    with pytest.raises(FontError, match="--font") as info:
        label(flat(240, 320), text="AI生成我们")
    assert "U+6211" in str(info.value) and "U+4EEC" in str(info.value)
    assert "U+751F" not in str(info.value)
    assert info.value.code == "FONT_ERROR"


def test_user_font_missing_glyphs(tiny_ttf: Path) -> None:
    _, placed = label(flat(240, 320), text="AI", font_path=tiny_ttf)
    assert placed.text_height_px >= 12
    with pytest.raises(FontError, match=r"U\+751F") as info:
        label(flat(240, 320), text="AI生成", font_path=tiny_ttf)
    assert str(tiny_ttf) in str(info.value)


def test_woff_font_missing_glyphs_found_by_rendering(tiny_woff: Path) -> None:
    try:
        ImageFont.truetype(str(tiny_woff), 20)
    except OSError:
        pytest.skip("this FreeType cannot read WOFF")
    label(flat(240, 320), text="A I", font_path=tiny_woff)
    with pytest.raises(FontError, match=r"U\+751F"):
        label(flat(240, 320), text="AI生", font_path=tiny_woff)


def test_collection_uses_face_zero(tiny_first_ttc: Path, cjk_first_ttc: Path) -> None:
    with pytest.raises(FontError, match=r"U\+751F"):
        label(flat(240, 320), text="AI生成", font_path=tiny_first_ttc)
    _, placed = label(flat(240, 320), text="AI生成", font_path=cjk_first_ttc)
    assert placed.text_height_px >= 12


@pytest.mark.parametrize("kind", ["missing", "directory", "garbage", "empty", "truncated"])
def test_bad_font_paths(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "font.ttf"
    if kind == "directory":
        path.mkdir()
    elif kind == "garbage":
        path.write_bytes(b"this is not a font at all" * 10)
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        path.write_bytes(BUNDLED_FONT.read_bytes()[:600])
    with pytest.raises(FontError) as info:
        label(flat(240, 320), font_path=path)
    assert str(path) in str(info.value)


def test_label_font(tiny_ttf: Path) -> None:
    font = label_font(VisibleLabelOptions(), 40)
    assert isinstance(font, ImageFont.FreeTypeFont) and font.size == 40
    assert font.getname() == ("Noto Sans CJK SC", "Bold")
    assert label_font(VisibleLabelOptions(text="AI", font_path=tiny_ttf), 12).getname()[0] == "Tiny Test"
    with pytest.raises(FontError):
        label_font(VisibleLabelOptions(text="AI生成", font_path=tiny_ttf), 12)
    with pytest.raises(InvalidOption):
        label_font(VisibleLabelOptions(), 0)


@pytest.mark.parametrize("wording", LABEL_WORDINGS)
def test_bundled_font_covers_every_wording(wording: str) -> None:
    _, placed = label(flat(600, 1600), text=wording)
    assert placed.text == wording


def test_bundled_font_is_small_and_licensed() -> None:
    fonts = BUNDLED_FONT.parent
    assert BUNDLED_FONT.stat().st_size < 200_000
    assert "SIL OPEN FONT LICENSE Version 1.1" in (fonts / "OFL.txt").read_text(encoding="utf-8")
    provenance = (fonts / "PROVENANCE.md").read_text(encoding="utf-8")
    assert "fonts-noto-cjk" in provenance and character_set() in provenance


# ------------------------------------------------------------------------------------------ golden


def gradient(height: int, width: int) -> np.ndarray:
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    red = 255 * xs / (width - 1)
    green = 255 * ys / (height - 1)
    blue = 255 * (1 - (xs + ys) / (width + height - 2))
    return np.rint(np.dstack([red, green, blue])).astype(np.uint8)


def test_golden_label_320x240() -> None:
    out, _ = label(gradient(240, 320))
    if os.environ.get("LABELER_REGENERATE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(out).save(GOLDEN, optimize=True)
        pytest.skip(f"regenerated {GOLDEN.name}")
    expected = np.asarray(Image.open(GOLDEN).convert("RGB"))
    assert expected.shape == out.shape
    diff = np.abs(expected.astype(np.int16) - out.astype(np.int16))
    assert int(diff.max()) <= 2, f"max abs diff {diff.max()} at {np.argwhere(diff > 2)[:5].tolist()}"


def test_layouts_are_reused_but_an_edited_font_file_is_read_again(tmp_path: Path, tiny_ttf: Path) -> None:
    # Layouts are cached per font, text and size; replacing the font file must not serve the old layout.
    font = tmp_path / "font.ttf"
    font.write_bytes(BUNDLED_FONT.read_bytes())
    first, placed = label(flat(240, 320), text="AI生成", font_path=font)
    again, _ = label(flat(240, 320), text="AI生成", font_path=font)
    assert np.array_equal(first, again) and placed.text_height_px >= 12
    font.write_bytes(tiny_ttf.read_bytes())  # a font without the CJK glyphs
    stat = font.stat()
    os.utime(font, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    with pytest.raises(FontError, match=r"U\+751F"):
        label(flat(240, 320), text="AI生成", font_path=font)
