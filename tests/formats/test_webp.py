"""WebP handler: lossless stays lossless, lossy at quality 90, metadata chunks, hostile files."""

from __future__ import annotations

import contextlib
import io
import struct
import time
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from labeler.errors import CorruptMedia, EmptyMedia, MediaTooLarge, UnsupportedFormat
from labeler.formats.webp import WEBP
from labeler.metadata.aigc import AigcLabel
from labeler.metadata.reader import read_aigc
from labeler.metadata.xmp import aigc_from_xmp, merge_aigc_into_xmp
from labeler.settings import Limits

LABEL = AigcLabel(label="1", content_producer="webp-co", produce_id="webp-1")


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


@pytest.mark.parametrize("channels", [3, 4])
def test_lossless_round_trip_is_pixel_exact(
    channels: int, make_pixels: Callable[..., np.ndarray], encode_pil: Callable[..., bytes]
) -> None:
    pixels = make_pixels(40, 52, channels)
    if channels == 4:
        pixels[:8, :8, 3] = 0  # fully transparent corner: RGB there must survive too (exact=True)
    data = encode_pil(pixels, "WEBP", lossless=True, exact=True)
    image = WEBP.decode(data, Limits())
    assert image.encode_hints["lossless"] is True
    np.testing.assert_array_equal(image.pixels, pixels)
    out = WEBP.encode(image, None)
    assert b"VP8L" in out[:40]
    np.testing.assert_array_equal(WEBP.decode(out, Limits()).pixels, pixels)


@pytest.mark.parametrize("channels", [3, 4])
def test_lossy_round_trip_is_close(
    channels: int, make_pixels: Callable[..., np.ndarray], encode_pil: Callable[..., bytes]
) -> None:
    pixels = make_pixels(48, 64, channels)
    image = WEBP.decode(encode_pil(pixels, "WEBP", quality=85), Limits())
    assert image.encode_hints["lossless"] is False and image.pixels.shape == (48, 64, channels)
    assert _psnr(image.pixels, pixels) > 25
    out = WEBP.encode(image, None)
    again = WEBP.decode(out, Limits())
    assert again.encode_hints["lossless"] is False
    assert _psnr(again.pixels, image.pixels) > 30
    if channels == 4:
        np.testing.assert_array_equal(again.pixels[..., 3], pixels[..., 3])  # alpha is lossless by default


def test_metadata_survives_labeling(
    make_pixels: Callable[..., np.ndarray],
    encode_pil: Callable[..., bytes],
    icc_profile: bytes,
    make_exif: Callable[..., bytes],
    existing_xmp: bytes,
) -> None:
    pixels = make_pixels(30, 44)
    data = encode_pil(
        pixels, "WEBP", lossless=True, icc_profile=icc_profile, exif=make_exif(orientation=3), xmp=existing_xmp
    )
    image = WEBP.decode(data, Limits())
    np.testing.assert_array_equal(image.pixels, pixels[::-1, ::-1])  # orientation 3: rotate 180
    assert image.metadata.icc_profile == icc_profile
    assert image.metadata.xmp is not None and b"A title" in image.metadata.xmp

    out = WEBP.encode(image, merge_aigc_into_xmp(image.metadata.xmp, LABEL))
    reread = Image.open(io.BytesIO(out))
    exif = reread.getexif()
    assert exif[0x0112] == 1 and exif[0x010E] == "a description"
    assert reread.info["icc_profile"] == icc_profile
    # The EXIF chunk holds bare TIFF data (no JPEG "Exif\0\0" header), as the WebP container specifies.
    exif_at = out.find(b"EXIF")
    assert out[exif_at + 8 : exif_at + 12] in (b"II*\x00", b"MM\x00*")
    xmp = WEBP.read_xmp(out)
    assert xmp is not None and b"A title" in xmp
    assert aigc_from_xmp(xmp) == LABEL.to_json()
    reading = read_aigc(out, WEBP)
    assert reading is not None and reading.parsed.label == LABEL and reading.location == "XMP TC260:AIGC"
    np.testing.assert_array_equal(WEBP.decode(out, Limits()).pixels, image.pixels)


def test_animated_webp_is_refused(make_pixels: Callable[..., np.ndarray], encode_pil: Callable[..., bytes]) -> None:
    frames = [Image.fromarray(make_pixels(seed=i)) for i in range(3)]
    data = encode_pil(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=100)
    with pytest.raises(UnsupportedFormat, match="animated WebP"):
        WEBP.decode(data, Limits())


def test_header_claiming_huge_size_is_refused_before_decoding(
    riff_webp: Callable[[list[tuple[bytes, bytes]]], bytes],
) -> None:
    vp8x = bytes([0x10, 0, 0, 0]) + (20_000 - 1).to_bytes(3, "little") + (20_000 - 1).to_bytes(3, "little")
    data = riff_webp([(b"VP8X", vp8x), (b"VP8L", b"\x2f" + b"\x00" * 20)])
    started = time.perf_counter()
    with pytest.raises(MediaTooLarge, match="20000x20000"):
        WEBP.decode(data, Limits())
    assert time.perf_counter() - started < 0.5


def test_zero_size_vp8_header_is_empty_media(riff_webp: Callable[[list[tuple[bytes, bytes]]], bytes]) -> None:
    frame = b"\x00\x00\x00" + b"\x9d\x01\x2a" + struct.pack("<HH", 0, 16) + b"\x00" * 16
    with pytest.raises(EmptyMedia):
        WEBP.decode(riff_webp([(b"VP8 ", frame)]), Limits())


@pytest.mark.parametrize("fraction", [0.01, 0.2, 0.5, 0.9, 0.999])
def test_truncated_files_are_corrupt(
    fraction: float, make_pixels: Callable[..., np.ndarray], encode_pil: Callable[..., bytes]
) -> None:
    data = encode_pil(make_pixels(64, 64), "WEBP", quality=80)
    with pytest.raises(CorruptMedia):
        WEBP.decode(data[: max(12, int(len(data) * fraction))], Limits())


def test_malformed_bitstream_is_corrupt(
    riff_webp: Callable[[list[tuple[bytes, bytes]]], bytes],
    webp_chunks: Callable[[bytes], list[tuple[bytes, bytes]]],
    make_pixels: Callable[..., np.ndarray],
    encode_pil: Callable[..., bytes],
) -> None:
    chunks = webp_chunks(encode_pil(make_pixels(), "WEBP", quality=80))
    fourcc, payload = chunks[0]
    assert fourcc == b"VP8 "
    # A consistent container around a bitstream cut to a third, and one whose first partition
    # claims more bytes than there are: libwebp's errors become CorruptMedia.
    for broken in (payload[: len(payload) // 3], b"\xf0\xff\xff" + payload[3:]):
        with pytest.raises(CorruptMedia):
            WEBP.decode(riff_webp([(fourcc, broken)]), Limits())
    with pytest.raises(CorruptMedia):
        WEBP.decode(riff_webp([(b"ICCP", b"x" * 10)]), Limits())


def test_read_text_chunks_finds_exif_and_custom_chunks(
    riff_webp: Callable[[list[tuple[bytes, bytes]]], bytes],
    webp_chunks: Callable[[bytes], list[tuple[bytes, bytes]]],
    make_pixels: Callable[..., np.ndarray],
    encode_pil: Callable[..., bytes],
    make_exif: Callable[..., bytes],
) -> None:
    label_json = '{"Label":"1","ContentProducer":"riff-co","ProduceID":"r-1"}'
    comment = b"ASCII\x00\x00\x00" + b"hello"
    chunks = webp_chunks(encode_pil(make_pixels(), "WEBP", exif=make_exif(user_comment=comment)))
    data = riff_webp([*chunks, (b"AIGC", label_json.encode())])
    texts = WEBP.read_text_chunks(data)
    assert texts["AIGC"] == label_json
    assert texts["EXIF UserComment"] == "hello" and texts["EXIF ImageDescription"] == "a description"
    reading = read_aigc(data, WEBP)
    assert reading is not None and reading.location == "WEBP AIGC"
    assert reading.parsed.label is not None and reading.parsed.label.produce_id == "r-1"
    WEBP.decode(data, Limits())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_readers_never_raise_on_junk(junk: bytes) -> None:
    for data in (junk, b"RIFF" + junk[:4] + b"WEBP" + junk[4:]):
        result = WEBP.read_xmp(data)
        assert result is None or isinstance(result, bytes)
        assert isinstance(WEBP.read_text_chunks(data), dict)


@pytest.mark.filterwarnings("ignore::UserWarning:PIL.TiffImagePlugin")
@settings(max_examples=60, deadline=None)
@given(st.data())
def test_never_raises_unexpectedly_on_mutated_files(data: st.DataObject) -> None:
    base = bytearray(_SAMPLE)
    for _ in range(data.draw(st.integers(1, 8))):
        base[data.draw(st.integers(0, len(base) - 1))] = data.draw(st.integers(0, 255))
    mutated = bytes(base[: data.draw(st.integers(12, len(base)))])
    WEBP.read_xmp(mutated)
    WEBP.read_text_chunks(mutated)
    with contextlib.suppress(CorruptMedia, EmptyMedia, MediaTooLarge, UnsupportedFormat):
        WEBP.decode(mutated, Limits())


def _sample() -> bytes:
    exif = Image.Exif()
    exif[0x010E] = "d"
    out = io.BytesIO()
    Image.fromarray(np.arange(16 * 16 * 3, dtype=np.uint8).reshape(16, 16, 3)).save(
        out, "WEBP", exif=exif.tobytes(), xmp=b"<x:xmpmeta xmlns:x='adobe:ns:meta/'/>"
    )
    return out.getvalue()


_SAMPLE = _sample()
