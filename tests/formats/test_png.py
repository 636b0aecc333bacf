"""PNG handler: lossless round trip with metadata, pixel modes, hostile and broken files."""

from __future__ import annotations

import contextlib
import io
import struct
import time
import zlib
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, PngImagePlugin

from labeler.errors import CorruptMedia, EmptyMedia, MediaTooLarge, UnsupportedFormat
from labeler.formats import _pillow
from labeler.formats.png import PNG
from labeler.metadata.aigc import AigcLabel
from labeler.metadata.reader import read_aigc
from labeler.metadata.xmp import aigc_from_xmp, merge_aigc_into_xmp
from labeler.settings import Limits

LABEL = AigcLabel(label="1", content_producer="001191440300192203821610000", produce_id="png-1")


def _chunk_types(data: bytes) -> list[bytes]:
    types, pos = [], 8
    while pos + 8 <= len(data):
        (length,) = struct.unpack_from(">I", data, pos)
        types.append(data[pos + 4 : pos + 8])
        pos += 12 + length
    return types


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_round_trip_is_pixel_exact(
    channels: int, make_pixels: Callable[..., np.ndarray], encode_pil: Callable[..., bytes]
) -> None:
    pixels = make_pixels(40, 56, channels)
    image = PNG.decode(encode_pil(pixels, "PNG"), Limits())
    assert image.format == "png" and image.pixels.shape == (40, 56, channels)
    assert image.pixels.dtype == np.uint8 and image.pixels.flags.c_contiguous
    np.testing.assert_array_equal(image.pixels, pixels)
    again = PNG.decode(PNG.encode(image, None), Limits())
    np.testing.assert_array_equal(again.pixels, pixels)


def test_metadata_survives_labeling(
    make_pixels: Callable[..., np.ndarray],
    encode_pil: Callable[..., bytes],
    icc_profile: bytes,
    make_exif: Callable[..., bytes],
    existing_xmp: bytes,
) -> None:
    pixels = make_pixels(30, 50, 3)
    info = PngImagePlugin.PngInfo()
    info.add_text("AIGC", '{"Label":"2","ContentProducer":"other"}')  # another provider's tEXt label
    info.add_text("Comment", "made with love", zip=True)
    info.add_itxt("Title", "标题", lang="zh", tkey="Title")
    info.add_itxt("XML:com.adobe.xmp", existing_xmp.decode("utf-8"), zip=True)
    info.add(b"gAMA", struct.pack(">I", 45455))
    data = encode_pil(
        pixels, "PNG", pnginfo=info, icc_profile=icc_profile, exif=make_exif(orientation=6), dpi=(300, 300)
    )

    image = PNG.decode(data, Limits())
    # Orientation 6 = rotate 90° clockwise to display: pixels are rotated, the tag reset to 1.
    np.testing.assert_array_equal(image.pixels, np.rot90(pixels, k=-1))
    assert image.metadata.icc_profile == icc_profile
    assert image.metadata.exif is not None and Image.Exif().load(image.metadata.exif) is None
    assert image.metadata.xmp is not None and b'tiff:Orientation="1"' in image.metadata.xmp

    out = PNG.encode(image, merge_aigc_into_xmp(image.metadata.xmp, LABEL))
    reread = Image.open(io.BytesIO(out))
    exif = reread.getexif()
    assert exif[0x0112] == 1 and exif[0x010E] == "a description" and exif[0x0131] == "TestSoftware"
    assert reread.info["icc_profile"] == icc_profile
    assert round(reread.info["dpi"][0]) == 300
    assert b"gAMA" in _chunk_types(out)
    texts = PNG.read_text_chunks(out)
    assert texts["AIGC"] == '{"Label":"2","ContentProducer":"other"}'
    assert texts["Comment"] == "made with love" and texts["Title"] == "标题"
    assert "XML:com.adobe.xmp" not in texts  # XMP is reported by read_xmp, not as text
    xmp = PNG.read_xmp(out)
    assert xmp is not None and b"A title" in xmp and b"Camera &amp; Co" in xmp
    assert aigc_from_xmp(xmp) == LABEL.to_json()
    # The XMP is an uncompressed iTXt chunk with the standard keyword, and appears once.
    assert out.count(b"iTXtXML:com.adobe.xmp\x00\x00\x00\x00\x00") == 1
    reading = read_aigc(out, PNG)
    assert reading is not None and reading.location == "XMP TC260:AIGC" and reading.parsed.label == LABEL
    np.testing.assert_array_equal(PNG.decode(out, Limits()).pixels, image.pixels)


def test_encode_without_xmp_writes_none(
    make_pixels: Callable[..., np.ndarray], encode_pil: Callable[..., bytes]
) -> None:
    image = PNG.decode(encode_pil(make_pixels(), "PNG"), Limits())
    out = PNG.encode(image, None)
    assert PNG.read_xmp(out) is None and b"XML:com.adobe.xmp" not in out


@pytest.mark.parametrize(
    ("mode", "expected_channels"),
    [("P", 3), ("LA", 4), ("1", 1), ("L", 1), ("RGBA", 4)],
)
def test_pixel_modes(
    mode: str, expected_channels: int, make_pixels: Callable[..., np.ndarray], encode_pil: Callable[..., bytes]
) -> None:
    source_channels = 4 if mode in ("PA", "LA", "RGBA") else 3
    source = Image.fromarray(make_pixels(20, 30, source_channels)).convert(mode)
    image = PNG.decode(encode_pil(source, "PNG"), Limits())
    assert image.pixels.shape == (20, 30, expected_channels) and image.pixels.dtype == np.uint8
    expected = np.asarray(source.convert({1: "L", 3: "RGB", 4: "RGBA"}[expected_channels]))
    np.testing.assert_array_equal(image.pixels.reshape(expected.shape), expected)


def test_modes_pillow_cannot_write_as_png_still_normalise() -> None:
    # PA (palette + alpha) comes from other decoders; I and F (32-bit) from 16-bit sources.
    pa = Image.new("PA", (3, 2))
    assert _pillow.to_pixels(pa, 1).shape == (2, 3, 4)
    wide = Image.fromarray(np.full((2, 3), 70000, dtype=np.int32))
    assert wide.mode == "I" and (_pillow.to_pixels(wide, 1) == 255).all()
    flt = Image.fromarray(np.full((2, 3), 0.5, dtype=np.float32))
    assert flt.mode == "F" and (_pillow.to_pixels(flt, 1) == 128).all()
    cmyk = Image.new("CMYK", (3, 2), (0, 0, 0, 0))
    assert (_pillow.to_pixels(cmyk, 1) == 255).all()


def test_palette_transparency_is_honoured(encode_pil: Callable[..., bytes]) -> None:
    palette_image = Image.new("P", (8, 4))
    palette_image.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    palette_image.paste(1, (0, 0, 4, 4))
    image = PNG.decode(encode_pil(palette_image, "PNG", transparency=0), Limits())
    assert image.pixels.shape == (4, 8, 4)
    assert (image.pixels[:, :4] == [0, 255, 0, 255]).all()
    assert (image.pixels[:, 4:, 3] == 0).all()


def test_grey_with_trns_becomes_rgba(make_pixels: Callable[..., np.ndarray], encode_pil: Callable[..., bytes]) -> None:
    grey = make_pixels(10, 10, 1)[:, :, 0]
    key = int(grey[0, 0])
    image = PNG.decode(encode_pil(Image.fromarray(grey), "PNG", transparency=key), Limits())
    assert image.pixels.shape == (10, 10, 4)
    assert image.pixels[0, 0, 3] == 0 and (image.pixels[grey != key][:, 3] == 255).all()


def test_sixteen_bit_grey_is_scaled_to_eight_bits(encode_pil: Callable[..., bytes]) -> None:
    ramp = np.linspace(0, 65535, 16 * 16).astype(np.uint16).reshape(16, 16)
    image = PNG.decode(encode_pil(Image.fromarray(ramp), "PNG"), Limits())
    assert image.pixels.shape == (16, 16, 1)
    assert image.pixels[0, 0, 0] == 0 and image.pixels[-1, -1, 0] == 255
    np.testing.assert_allclose(image.pixels[:, :, 0], ramp / 257.0, atol=0.51)


def test_apng_is_refused(make_pixels: Callable[..., np.ndarray], encode_pil: Callable[..., bytes]) -> None:
    frames = [Image.fromarray(make_pixels(seed=i)) for i in range(3)]
    data = encode_pil(frames[0], "PNG", save_all=True, append_images=frames[1:])
    with pytest.raises(UnsupportedFormat, match="animated PNG"):
        PNG.decode(data, Limits())


def test_header_claiming_huge_size_is_refused_before_decoding(png_header_only: Callable[[int, int], bytes]) -> None:
    data = png_header_only(200_000, 200_000)
    started = time.perf_counter()
    with pytest.raises(MediaTooLarge, match="40000000000 pixels"):
        PNG.decode(data, Limits())
    assert time.perf_counter() - started < 0.5
    with pytest.raises(MediaTooLarge):
        PNG.decode(png_header_only(101, 100), Limits(max_pixels=10_000))


def test_our_limit_applies_above_pillows_own(png_chunk_builder: Callable[[bytes, bytes], bytes]) -> None:
    # 182 MP grey is over Pillow's own bomb limit (2 x 89.5 MP); with a larger configured limit the
    # user's limit rules: the file is judged on its data (a tiny IDAT: truncated), not refused as a bomb.
    ihdr = struct.pack(">IIBBBBB", 14_000, 13_000, 8, 0, 0, 0, 0)
    data = (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk_builder(b"IHDR", ihdr)
        + png_chunk_builder(b"IDAT", zlib.compress(b"\x00" * 64))
        + png_chunk_builder(b"IEND", b"")
    )
    with pytest.raises(CorruptMedia, match="truncated or malformed"):
        PNG.decode(data, Limits(max_pixels=300_000_000))
    with pytest.raises(MediaTooLarge):
        PNG.decode(data, Limits())


@pytest.mark.parametrize(("width", "height"), [(0, 10), (10, 0), (0, 0)])
def test_zero_size_header_is_empty_media(width: int, height: int, png_header_only: Callable[[int, int], bytes]) -> None:
    with pytest.raises(EmptyMedia):
        PNG.decode(png_header_only(width, height), Limits())


@pytest.mark.parametrize("fraction", [0.0005, 0.01, 0.3, 0.6, 0.95, 0.999])
def test_truncated_files_are_corrupt(
    fraction: float, make_pixels: Callable[..., np.ndarray], encode_pil: Callable[..., bytes]
) -> None:
    data = encode_pil(make_pixels(64, 64), "PNG")
    cut = max(9, int(len(data) * fraction))
    with pytest.raises(CorruptMedia):
        PNG.decode(data[:cut], Limits())


def test_missing_iend_is_corrupt(make_pixels: Callable[..., np.ndarray], encode_pil: Callable[..., bytes]) -> None:
    data = encode_pil(make_pixels(), "PNG")
    with pytest.raises(CorruptMedia, match="IEND"):
        PNG.decode(data[:-12], Limits())


def test_bad_crc_and_bad_data_are_corrupt(
    make_pixels: Callable[..., np.ndarray],
    encode_pil: Callable[..., bytes],
    png_chunk_builder: Callable[[bytes, bytes], bytes],
) -> None:
    data = bytearray(encode_pil(make_pixels(), "PNG"))
    idat = data.find(b"IDAT")
    flipped = bytearray(data)
    flipped[idat + 10] ^= 0xFF
    with pytest.raises(CorruptMedia, match="CRC"):
        PNG.decode(bytes(flipped), Limits())
    # Valid CRC but garbage deflate data: Pillow's decoder error becomes CorruptMedia.
    ihdr = struct.pack(">IIBBBBB", 16, 16, 8, 2, 0, 0, 0)
    garbage = (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk_builder(b"IHDR", ihdr)
        + png_chunk_builder(b"IDAT", b"\x78\x9c" + b"\xff" * 40)
        + png_chunk_builder(b"IEND", b"")
    )
    with pytest.raises(CorruptMedia):
        PNG.decode(garbage, Limits())


def test_not_a_png_is_corrupt() -> None:
    with pytest.raises(CorruptMedia):
        PNG.decode(b"GIF89a" + b"\x00" * 40, Limits())


def test_read_xmp_variants(png_chunk_builder: Callable[[bytes, bytes], bytes], existing_xmp: bytes) -> None:
    head = b"\x89PNG\r\n\x1a\n" + png_chunk_builder(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
    tail = png_chunk_builder(b"IEND", b"")
    compressed = png_chunk_builder(b"iTXt", b"XML:com.adobe.xmp\x00\x01\x00\x00\x00" + zlib.compress(existing_xmp))
    assert PNG.read_xmp(head + compressed + tail) == existing_xmp
    as_text = png_chunk_builder(b"tEXt", b"XML:com.adobe.xmp\x00" + existing_xmp)
    assert PNG.read_xmp(head + as_text + tail) == existing_xmp
    hexed = existing_xmp.hex()
    raw_profile = f"\nxmp\n{len(existing_xmp):8d}\n{hexed}\n".encode("ascii")
    magick = png_chunk_builder(b"zTXt", b"Raw profile type xmp\x00\x00" + zlib.compress(raw_profile))
    assert PNG.read_xmp(head + magick + tail) == existing_xmp
    assert PNG.read_xmp(head + tail) is None


def test_read_text_chunks_handles_all_kinds_and_exif(
    png_chunk_builder: Callable[[bytes, bytes], bytes], make_exif: Callable[..., bytes]
) -> None:
    head = b"\x89PNG\r\n\x1a\n" + png_chunk_builder(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
    comment = b"ASCII\x00\x00\x00" + b'{"Label":"1"}'
    body = (
        png_chunk_builder(b"tEXt", b"AIGC\x00plain")
        + png_chunk_builder(b"tEXt", b"AIGC\x00again")
        + png_chunk_builder(b"zTXt", b"Note\x00\x00" + zlib.compress(b"zipped"))
        + png_chunk_builder(b"iTXt", b"Desc\x00\x01\x00en\x00\x00" + zlib.compress("描述".encode()))
        + png_chunk_builder(b"eXIf", make_exif(user_comment=comment)[6:])
        + png_chunk_builder(b"zTXt", b"Bomb\x00\x00" + zlib.compress(b"\x00" * (20 * 1024 * 1024)))
    )
    texts = PNG.read_text_chunks(head + body + png_chunk_builder(b"IEND", b""))
    assert texts["AIGC"] == "plain" and texts["AIGC#2"] == "again"
    assert texts["Note"] == "zipped" and texts["Desc"] == "描述"
    assert texts["EXIF UserComment"] == '{"Label":"1"}' and texts["EXIF ImageDescription"] == "a description"
    assert "Bomb" not in texts  # inflating past the bound is refused


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_readers_never_raise_on_junk(junk: bytes) -> None:
    for data in (junk, b"\x89PNG\r\n\x1a\n" + junk):
        assert PNG.read_xmp(data) is None or isinstance(PNG.read_xmp(data), bytes)
        assert isinstance(PNG.read_text_chunks(data), dict)


@pytest.mark.filterwarnings("ignore::UserWarning:PIL.TiffImagePlugin")
@settings(max_examples=60, deadline=None)
@given(st.data())
def test_readers_never_raise_on_mutated_files(data: st.DataObject) -> None:
    base = bytearray(_SAMPLE)
    for _ in range(data.draw(st.integers(1, 8))):
        index = data.draw(st.integers(0, len(base) - 1))
        base[index] = data.draw(st.integers(0, 255))
    mutated = bytes(base[: data.draw(st.integers(8, len(base)))])
    PNG.read_xmp(mutated)
    PNG.read_text_chunks(mutated)
    with contextlib.suppress(CorruptMedia, EmptyMedia, MediaTooLarge, UnsupportedFormat):
        PNG.decode(mutated, Limits())


def _sample() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("AIGC", '{"Label":"1"}')
    info.add_itxt("XML:com.adobe.xmp", "<x:xmpmeta xmlns:x='adobe:ns:meta/'/>", zip=True)
    out = io.BytesIO()
    Image.fromarray(np.arange(96, dtype=np.uint8).reshape(4, 8, 3)).save(out, "PNG", pnginfo=info)
    return out.getvalue()


_SAMPLE = _sample()
