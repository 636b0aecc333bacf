"""Fixtures for the explicit-label tests: tiny fonts built on the fly with fontTools (a dev dependency)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fontTools.fontBuilder import FontBuilder
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTCollection, TTFont

from labeler.explicit.text_label import BUNDLED_FONT_NAME

BUNDLED_FONT = Path(__file__).resolve().parents[2] / "labeler" / "explicit" / "fonts" / BUNDLED_FONT_NAME


def _rect_glyph(x0: int, y0: int, x1: int, y1: int, hole: bool = False) -> object:
    pen = TTGlyphPen(None)
    for a, b, c, d in [(x0, y0, x1, y1), *([(x0 + 80, y0 + 80, x1 - 80, y1 - 80)] if hole else [])]:
        points = [(a, b), (c, b), (c, d), (a, d)]
        if (a, b) != (x0, y0):
            points.reverse()  # counter-clockwise inner contour: a hole
        pen.moveTo(points[0])
        for point in points[1:]:
            pen.lineTo(point)
        pen.closePath()
    return pen.glyph()


def build_tiny_font() -> TTFont:
    """A TrueType (glyf) font covering only 'A', 'I' and space, with a format-4 cmap and a boxed .notdef."""
    builder = FontBuilder(1000, isTTF=True)
    order = [".notdef", "space", "A", "I"]
    builder.setupGlyphOrder(order)
    builder.setupCharacterMap({0x20: "space", 0x41: "A", 0x49: "I"})
    empty = TTGlyphPen(None)
    builder.setupGlyf(
        {
            ".notdef": _rect_glyph(50, 0, 550, 700, hole=True),
            "space": empty.glyph(),
            "A": _rect_glyph(40, 0, 560, 720),
            "I": _rect_glyph(100, 0, 260, 720),
        }
    )
    builder.setupHorizontalMetrics({".notdef": (600, 50), "space": (300, 0), "A": (600, 40), "I": (360, 100)})
    builder.setupHorizontalHeader(ascent=880, descent=-120)
    builder.setupNameTable({"familyName": "Tiny Test", "styleName": "Regular"})
    builder.setupOS2(sTypoAscender=880, sTypoDescender=-120, usWinAscent=880, usWinDescent=120)
    builder.setupPost()
    return builder.font


@pytest.fixture(scope="session")
def tiny_ttf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fonts") / "tiny.ttf"
    build_tiny_font().save(str(path))
    return path


@pytest.fixture(scope="session")
def tiny_woff(tmp_path_factory: pytest.TempPathFactory) -> Path:
    font = build_tiny_font()
    font.flavor = "woff"
    path = tmp_path_factory.mktemp("fonts") / "tiny.woff"
    font.save(str(path))
    return path


@pytest.fixture(scope="session")
def tiny_first_ttc(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A collection whose face 0 is the tiny font and face 1 the bundled CJK subset."""
    collection = TTCollection()
    collection.fonts = [build_tiny_font(), TTFont(str(BUNDLED_FONT))]
    path = tmp_path_factory.mktemp("fonts") / "pair.ttc"
    collection.save(str(path))
    return path


@pytest.fixture(scope="session")
def cjk_first_ttc(tmp_path_factory: pytest.TempPathFactory) -> Path:
    collection = TTCollection()
    collection.fonts = [TTFont(str(BUNDLED_FONT)), build_tiny_font()]
    path = tmp_path_factory.mktemp("fonts") / "pair-cjk.ttc"
    collection.save(str(path))
    return path
