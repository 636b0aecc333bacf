"""The OpenCV JPEG path writes Pillow's bytes exactly (Pillow is the reference), and gives way to
Pillow whenever it could not."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from labeler.formats import _opencv_jpeg
from labeler.formats.base import CarriedMetadata, DecodedImage
from labeler.formats.jpeg import JPEG, _walk
from labeler.metadata.aigc import AigcLabel
from labeler.metadata.xmp import merge_aigc_into_xmp
from labeler.settings import Limits


def _pillow(pixels: np.ndarray, params: dict[str, Any]) -> bytes:
    image = Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels)
    out = io.BytesIO()
    image.save(out, "JPEG", **params)
    return out.getvalue()


def _photo_like(height: int, width: int, channels: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (height // 8 + 1, width // 8 + 1, channels), dtype=np.uint8)
    smooth = np.asarray(Image.fromarray(small[:, :, 0] if channels == 1 else small).resize((width, height),
                                                                                           Image.Resampling.BICUBIC))
    noisy = smooth.astype(np.int16).reshape(height, width, channels) + rng.integers(-6, 7, (height, width, channels))
    return np.clip(noisy, 0, 255).astype(np.uint8)


def _input_tables(quality: int, subsampling: int) -> list[list[int]]:
    """The tables a decoded input JPEG of this quality hands the encoder (as JpegHandler's hints do)."""
    encoded = _pillow(_photo_like(16, 16, 3, 0), {"quality": quality, "subsampling": subsampling})
    tables = Image.open(io.BytesIO(encoded)).quantization  # type: ignore[attr-defined]
    return [list(tables[key]) for key in sorted(tables)]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    height=st.integers(1, 90), width=st.integers(1, 90), channels=st.sampled_from([1, 3]),
    quality=st.integers(1, 100), subsampling=st.sampled_from([0, 1, 2]), progressive=st.booleans(),
    from_tables=st.booleans(), seed=st.integers(0, 2**16),
)
def test_bytes_equal_pillows(height: int, width: int, channels: int, quality: int, subsampling: int,
                             progressive: bool, from_tables: bool, seed: int) -> None:
    pixels = _photo_like(height, width, channels, seed)
    params: dict[str, Any] = {"optimize": True, "progressive": progressive}
    if from_tables:
        tables = _input_tables(quality, subsampling)
        params["qtables"] = tables[:1] if channels == 1 else tables
    else:
        params["quality"] = quality
    if channels == 3:
        params["subsampling"] = subsampling
    fast = _opencv_jpeg.encode_like_pillow(pixels, params)
    # Only the saturated chroma tables of the lowest qualities (different luma/chroma quality) with
    # subsampling are left to Pillow.
    assert fast is not None or (from_tables and quality < 5 and channels == 3 and subsampling != 0)
    assert fast is None or fast == _pillow(pixels, params)


def test_metadata_segments_equal_pillows() -> None:
    pixels = _photo_like(200, 300, 3, 1)
    exif = Image.Exif()
    exif[0x010F] = "Camera"
    xmp = merge_aigc_into_xmp(None, AigcLabel(label="1", content_producer="p", produce_id="x"))
    for icc in (b"\x00" * 3000, bytes(range(256)) * 600):  # one ICC chunk, then three
        params = {"optimize": True, "quality": 85, "subsampling": 2, "dpi": (300, 299.6), "comment": b"made here",
                  "icc_profile": icc, "exif": exif.tobytes(), "xmp": xmp,
                  "extra": b"\xff\xe1\x00\x08extra!"}
        assert _opencv_jpeg.encode_like_pillow(pixels, params) == _pillow(pixels, params)


def test_gives_way_to_pillow_when_it_cannot_match() -> None:
    pixels = _photo_like(32, 32, 3, 2)
    custom = [[(i % 7) + 2 for i in range(64)], [(i % 5) + 3 for i in range(64)]]  # not IJG tables
    assert _opencv_jpeg.encode_like_pillow(pixels, {"optimize": True, "qtables": custom}) is None
    assert _opencv_jpeg.encode_like_pillow(pixels, {"optimize": False, "quality": 90}) is None
    assert _opencv_jpeg.encode_like_pillow(pixels, {"optimize": True, "quality": 90, "smooth": 5}) is None
    rgba = np.dstack([pixels, np.full((32, 32, 1), 128, np.uint8)])
    assert _opencv_jpeg.encode_like_pillow(rgba, {"optimize": True, "quality": 90}) is None


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_handler_output_is_the_same_either_way(channels: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """JpegHandler.encode with the OpenCV path on and off (custom tables take Pillow's path anyway)."""
    pixels = _photo_like(120, 160, channels if channels != 4 else 3, 3)
    if channels == 4:
        pixels = np.dstack([pixels, np.linspace(0, 255, 160, dtype=np.uint8)[None, :, None].repeat(120, 0)])
    image = DecodedImage(format="jpeg", pixels=pixels, metadata=CarriedMetadata(icc_profile=b"\x01" * 100),
                         encode_hints={"qtables": _input_tables(75, 1), "subsampling": 1, "comment": b"c"})
    results: list[bytes | None] = []

    def recording(pixels: np.ndarray, params: dict[str, Any]) -> bytes | None:
        results.append(_opencv_jpeg.encode_like_pillow(pixels, params))
        return results[-1]

    monkeypatch.setattr("labeler.formats.jpeg.encode_like_pillow", recording)
    with_opencv = JPEG.encode(image, b"<x:xmpmeta xmlns:x='adobe:ns:meta/'/>")
    assert (results[0] is not None) == (channels != 4)  # RGBA is flattened by Pillow
    monkeypatch.setattr("labeler.formats.jpeg.encode_like_pillow", lambda *_: None)
    assert JPEG.encode(image, b"<x:xmpmeta xmlns:x='adobe:ns:meta/'/>") == with_opencv


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    height=st.integers(1, 90), width=st.integers(1, 90), channels=st.sampled_from([1, 3]),
    quality=st.integers(1, 100), subsampling=st.sampled_from([0, 1, 2]), progressive=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_decoded_pixels_equal_pillows(height: int, width: int, channels: int, quality: int, subsampling: int,
                                      progressive: bool, seed: int) -> None:
    params: dict[str, Any] = {"quality": quality, "progressive": progressive}
    if channels == 3:
        params["subsampling"] = subsampling
    data = _pillow(_photo_like(height, width, channels, seed), params)
    markers = [segment.marker for segment in _walk(data)[0]]
    fast = _opencv_jpeg.decode_like_pillow(data, markers, grey=channels == 1)
    reference = np.asarray(Image.open(io.BytesIO(data)))
    assert fast is not None
    assert np.array_equal(fast, reference.reshape(fast.shape)) and fast.shape[:2] == reference.shape[:2]


def test_decoding_gives_way_to_pillow() -> None:
    data = _pillow(_photo_like(16, 16, 3, 0), {"quality": 90})
    assert _opencv_jpeg.decode_like_pillow(data, [0xE0, 0xEE, 0xDB, 0xC0, 0xC4, 0xDA], grey=False) is None  # Adobe
    assert _opencv_jpeg.decode_like_pillow(data, [0xE0, 0xDB, 0xC9, 0xDA], grey=False) is None  # arithmetic
    assert _opencv_jpeg.decode_like_pillow(b"\xff\xd8garbage", [0xC0], grey=False) is None


def test_handler_decode_is_the_same_either_way(monkeypatch: pytest.MonkeyPatch) -> None:
    for channels, params in ((3, {"quality": 80, "subsampling": 1}), (1, {"quality": 60, "progressive": True})):
        data = _pillow(_photo_like(70, 50, channels, 4), params)
        fast = JPEG.decode(data, Limits())
        with monkeypatch.context() as patch:
            patch.setattr("labeler.formats.jpeg.decode_like_pillow", lambda *_, **__: None)
            reference = JPEG.decode(data, Limits())
        assert np.array_equal(fast.pixels, reference.pixels) and fast.pixels.shape == reference.pixels.shape
        assert fast.encode_hints == reference.encode_hints
