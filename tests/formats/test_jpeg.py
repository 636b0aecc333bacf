"""JPEG handler: quality-matched round trip with metadata, Extended XMP, modes, hostile files."""

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
from PIL import Image, JpegImagePlugin

from labeler.errors import CorruptMedia, EmptyMedia, MediaTooLarge, UnsupportedFormat
from labeler.formats.base import CarriedMetadata, DecodedImage
from labeler.formats.jpeg import JPEG
from labeler.metadata.aigc import AigcLabel
from labeler.metadata.reader import read_aigc
from labeler.metadata.xmp import aigc_from_xmp, merge_aigc_into_xmp
from labeler.settings import Limits

LABEL = AigcLabel(label="1", content_producer="Example AI 图像", produce_id="jpeg-1")


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


def _app1_xmp_segments(data: bytes) -> list[bytes]:
    found, pos = [], 2
    while pos + 4 <= len(data) and data[pos] == 0xFF and data[pos + 1] != 0xDA:
        (length,) = struct.unpack_from(">H", data, pos + 2)
        payload = data[pos + 4 : pos + 2 + length]
        if data[pos + 1] == 0xE1 and payload.startswith(b"http://ns.adobe.com/xap/1.0/\x00"):
            found.append(payload[29:])
        pos += 2 + length
    return found


@pytest.mark.parametrize("channels", [1, 3])
def test_round_trip_is_close(
    channels: int, make_pixels: Callable[..., np.ndarray], encode_pil: Callable[..., bytes]
) -> None:
    pixels = make_pixels(64, 80, channels)
    data = encode_pil(pixels, "JPEG", quality=90)
    image = JPEG.decode(data, Limits())
    assert image.format == "jpeg" and image.pixels.shape == (64, 80, channels)
    reference = np.asarray(Image.open(io.BytesIO(data))).reshape(image.pixels.shape)
    np.testing.assert_array_equal(image.pixels, reference)  # the same libjpeg decode
    assert _psnr(image.pixels, pixels) > 25  # noisy saturated test image at quality 90
    again = JPEG.decode(JPEG.encode(image, None), Limits())
    assert _psnr(again.pixels, image.pixels) > 38  # re-encoding with the same tables loses little


@pytest.mark.parametrize(("quality", "subsampling"), [(60, 2), (85, 1), (95, 0)])
def test_output_reuses_input_tables_and_subsampling(
    quality: int, subsampling: int, make_pixels: Callable[..., np.ndarray], encode_pil: Callable[..., bytes]
) -> None:
    data = encode_pil(make_pixels(32, 48), "JPEG", quality=quality, subsampling=subsampling)
    source = Image.open(io.BytesIO(data))
    image = JPEG.decode(data, Limits())
    assert image.encode_hints["subsampling"] == subsampling
    output = Image.open(io.BytesIO(JPEG.encode(image, None)))
    assert isinstance(output, JpegImagePlugin.JpegImageFile) and isinstance(source, JpegImagePlugin.JpegImageFile)
    assert output.quantization == source.quantization
    assert JpegImagePlugin.get_sampling(output) == subsampling


def test_defaults_without_hints(make_pixels: Callable[..., np.ndarray], encode_pil: Callable[..., bytes]) -> None:
    image = DecodedImage(format="png", pixels=make_pixels(32, 32), metadata=CarriedMetadata())
    output = Image.open(io.BytesIO(JPEG.encode(image, None)))
    reference = Image.open(io.BytesIO(encode_pil(make_pixels(32, 32), "JPEG", quality=92)))
    assert isinstance(output, JpegImagePlugin.JpegImageFile) and isinstance(reference, JpegImagePlugin.JpegImageFile)
    assert output.quantization == reference.quantization
    assert JpegImagePlugin.get_sampling(output) == 2  # 4:2:0


def test_alpha_is_flattened_on_white(make_pixels: Callable[..., np.ndarray]) -> None:
    rgba = make_pixels(16, 16, 4)
    rgba[..., 3] = 0
    image = DecodedImage(format="png", pixels=rgba, metadata=CarriedMetadata())
    decoded = JPEG.decode(JPEG.encode(image, None), Limits())
    assert decoded.pixels.shape == (16, 16, 3) and decoded.pixels.min() > 240


def test_metadata_survives_labeling(
    make_pixels: Callable[..., np.ndarray],
    encode_pil: Callable[..., bytes],
    icc_profile: bytes,
    make_exif: Callable[..., bytes],
    existing_xmp: bytes,
) -> None:
    pixels = make_pixels(40, 60)
    data = encode_pil(
        pixels,
        "JPEG",
        quality=90,
        icc_profile=icc_profile,
        exif=make_exif(orientation=8),
        xmp=existing_xmp,
        comment=b"a comment",
        progressive=True,
        dpi=(240, 240),
    )
    image = JPEG.decode(data, Limits())
    assert image.pixels.shape == (60, 40, 3)  # orientation 8: rotated 90 degrees counter-clockwise
    decoded_by_pillow = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    np.testing.assert_array_equal(image.pixels, np.rot90(decoded_by_pillow, k=1))
    assert image.metadata.icc_profile == icc_profile
    assert image.metadata.xmp is not None and b"A title" in image.metadata.xmp
    assert b'tiff:Orientation="1"' in image.metadata.xmp

    out = JPEG.encode(image, merge_aigc_into_xmp(image.metadata.xmp, LABEL))
    reread = Image.open(io.BytesIO(out))
    exif = reread.getexif()
    assert exif[0x0112] == 1 and exif[0x010E] == "a description" and exif[0x0131] == "TestSoftware"
    assert reread.info["icc_profile"] == icc_profile
    assert reread.info.get("progressive") and reread.info["comment"] == b"a comment"
    assert round(reread.info["dpi"][0]) == 240
    xmp = JPEG.read_xmp(out)
    assert xmp is not None and b"A title" in xmp and b"Camera &amp; Co" in xmp
    assert aigc_from_xmp(xmp) == LABEL.to_json()
    assert len(_app1_xmp_segments(out)) == 1
    reading = read_aigc(out, JPEG)
    assert reading is not None and reading.location == "XMP TC260:AIGC" and reading.parsed.label == LABEL
    assert reading.producer is not None and not reading.producer.coded
    decoded = JPEG.decode(out, Limits())
    assert decoded.pixels.shape == (60, 40, 3)  # not rotated a second time
    assert JPEG.read_text_chunks(out)["COM"] == "a comment"


def test_large_xmp_goes_to_extended_xmp(
    make_pixels: Callable[..., np.ndarray], encode_pil: Callable[..., bytes], existing_xmp: bytes
) -> None:
    history = "".join(f"<rdf:li>step {i} {'x' * 40}</rdf:li>" for i in range(3000))
    big = existing_xmp.replace(
        b"<dc:title>",
        f"<dc:description><rdf:Seq>{history}</rdf:Seq></dc:description><dc:title>".encode(),
    )
    image = JPEG.decode(encode_pil(make_pixels(), "JPEG"), Limits())
    packet = merge_aigc_into_xmp(big, LABEL)
    assert len(packet) > 65_536
    out = JPEG.encode(image, packet)
    standard = _app1_xmp_segments(out)
    assert len(standard) == 1 and len(standard[0]) < 65_000
    # A reader without Extended XMP support still finds the label in the standard packet.
    assert aigc_from_xmp(standard[0]) == LABEL.to_json()
    assert out.count(b"http://ns.adobe.com/xmp/extension/\x00") >= 2
    joined = JPEG.read_xmp(out)
    assert joined is not None and b"step 2999" in joined and b"A title" in joined
    assert aigc_from_xmp(joined) == LABEL.to_json()
    np.testing.assert_array_equal(JPEG.decode(out, Limits()).pixels.shape, image.pixels.shape)


def test_cmyk_becomes_rgb_and_drops_the_profile(
    make_pixels: Callable[..., np.ndarray], encode_pil: Callable[..., bytes]
) -> None:
    cmyk = Image.fromarray(make_pixels(24, 24)).convert("CMYK")
    image = JPEG.decode(encode_pil(cmyk, "JPEG", quality=95, icc_profile=b"not really a CMYK profile"), Limits())
    assert image.pixels.shape == (24, 24, 3)
    assert image.metadata.icc_profile is None
    expected = np.asarray(Image.open(io.BytesIO(encode_pil(cmyk, "JPEG", quality=95))).convert("RGB"))
    assert _psnr(image.pixels, expected) > 40


def test_header_claiming_huge_size_is_refused_before_decoding(
    jpeg_header_only: Callable[[int, int], bytes],
) -> None:
    started = time.perf_counter()
    with pytest.raises(MediaTooLarge, match="65000x65000"):
        JPEG.decode(jpeg_header_only(65_000, 65_000), Limits())
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize(("width", "height"), [(0, 16), (16, 0)])
def test_zero_size_frame_is_empty_media(width: int, height: int, jpeg_header_only: Callable[[int, int], bytes]) -> None:
    with pytest.raises(EmptyMedia):
        JPEG.decode(jpeg_header_only(width, height), Limits())


@pytest.mark.parametrize("fraction", [0.001, 0.05, 0.2, 0.5, 0.8, 0.99])
def test_truncated_files_are_corrupt(
    fraction: float, make_pixels: Callable[..., np.ndarray], encode_pil: Callable[..., bytes]
) -> None:
    data = encode_pil(make_pixels(96, 96), "JPEG", quality=90)
    with pytest.raises(CorruptMedia):
        JPEG.decode(data[: max(3, int(len(data) * fraction))], Limits())


def test_missing_end_marker_is_corrupt(
    make_pixels: Callable[..., np.ndarray], encode_pil: Callable[..., bytes]
) -> None:
    data = encode_pil(make_pixels(), "JPEG")
    with pytest.raises(CorruptMedia, match="end-of-image"):
        JPEG.decode(data[:-2], Limits())


def test_broken_marker_structure_is_corrupt(
    encode_pil: Callable[..., bytes], make_pixels: Callable[..., np.ndarray]
) -> None:
    data = bytearray(encode_pil(make_pixels(), "JPEG"))
    data[2] = 0x00  # the first marker is no longer a marker
    with pytest.raises(CorruptMedia):
        JPEG.decode(bytes(data), Limits())
    with pytest.raises(CorruptMedia):
        JPEG.decode(b"\x89PNG\r\n\x1a\n", Limits())


def test_read_text_chunks_finds_comments_exif_and_app_segments(
    make_pixels: Callable[..., np.ndarray], encode_pil: Callable[..., bytes], make_exif: Callable[..., bytes]
) -> None:
    label_json = '{"Label":"1","ContentProducer":"x","ProduceID":"y"}'
    exif = Image.Exif()
    exif[0x9C9C] = "XP 注释".encode("utf-16-le") + b"\x00\x00"
    exif[0x010E] = "desc"
    exif.get_ifd(0x8769)[0x9286] = b"UNICODE\x00" + label_json.encode("utf-16-le")
    data = encode_pil(make_pixels(), "JPEG", exif=exif.tobytes(), comment=b"first")
    app11 = b"AIGC\x00" + label_json.encode()
    data = data[:2] + b"\xff\xeb" + struct.pack(">H", len(app11) + 2) + app11 + data[2:]
    texts = JPEG.read_text_chunks(data)
    assert texts["COM"] == "first"
    assert texts["EXIF XPComment"] == "XP 注释" and texts["EXIF ImageDescription"] == "desc"
    assert texts["EXIF UserComment"] == label_json
    assert label_json in texts["APP11"]
    JPEG.decode(data, Limits())  # still a valid JPEG


def test_not_animated_but_mpo_style_trailer_is_fine(
    make_pixels: Callable[..., np.ndarray], encode_pil: Callable[..., bytes]
) -> None:
    data = encode_pil(make_pixels(), "JPEG") + encode_pil(make_pixels(seed=1), "JPEG")
    assert JPEG.decode(data, Limits()).pixels.shape == (48, 64, 3)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_readers_never_raise_on_junk(junk: bytes) -> None:
    for data in (junk, b"\xff\xd8\xff" + junk, b"\xff\xd8\xff\xe1" + junk):
        result = JPEG.read_xmp(data)
        assert result is None or isinstance(result, bytes)
        assert isinstance(JPEG.read_text_chunks(data), dict)


@pytest.mark.filterwarnings("ignore::UserWarning:PIL.TiffImagePlugin")
@settings(max_examples=60, deadline=None)
@given(st.data())
def test_never_raises_unexpectedly_on_mutated_files(data: st.DataObject) -> None:
    base = bytearray(_SAMPLE)
    for _ in range(data.draw(st.integers(1, 8))):
        base[data.draw(st.integers(0, len(base) - 1))] = data.draw(st.integers(0, 255))
    mutated = bytes(base[: data.draw(st.integers(3, len(base)))])
    JPEG.read_xmp(mutated)
    JPEG.read_text_chunks(mutated)
    with contextlib.suppress(CorruptMedia, EmptyMedia, MediaTooLarge, UnsupportedFormat):
        JPEG.decode(mutated, Limits())


def _sample() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 3
    exif[0x010E] = "d"
    out = io.BytesIO()
    Image.fromarray(np.arange(16 * 16 * 3, dtype=np.uint8).reshape(16, 16, 3)).save(
        out, "JPEG", exif=exif.tobytes(), xmp=b"<x:xmpmeta xmlns:x='adobe:ns:meta/'/>", comment=b"c"
    )
    return out.getvalue()


_SAMPLE = _sample()
