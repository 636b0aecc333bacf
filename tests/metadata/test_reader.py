"""read_aigc: the label wherever a provider put it, XMP first; never raises on junk."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from labeler.formats import IMAGE_HANDLERS
from labeler.formats.jpeg import JPEG
from labeler.formats.png import PNG
from labeler.metadata.aigc import AigcLabel
from labeler.metadata.reader import read_aigc
from labeler.metadata.xmp import merge_aigc_into_xmp


def test_xmp_label_in_png(png_with: Callable[..., bytes], label: AigcLabel, foreign_xmp: bytes) -> None:
    data = png_with(xmp=merge_aigc_into_xmp(foreign_xmp, label))
    reading = read_aigc(data, PNG)
    assert reading is not None
    assert reading.location == "XMP TC260:AIGC" and reading.json_text == label.to_json()
    assert reading.parsed.label == label and reading.parsed.problems == ()
    assert reading.producer is not None and reading.producer.coded and reading.producer.uscc_valid


def test_plain_aigc_text_chunk(png_with: Callable[..., bytes]) -> None:
    data = png_with(texts={"Software": "gen", "aigc": '{"Label":"1","ContentProducer":"Doubao","ProduceID":"x"}'})
    reading = read_aigc(data, PNG)
    assert reading is not None and reading.location == "PNG text chunk aigc"
    assert reading.parsed.label is not None and reading.parsed.label.content_producer == "Doubao"
    assert reading.producer is not None and not reading.producer.coded


def test_xmp_wins_over_text_chunks(png_with: Callable[..., bytes], label: AigcLabel) -> None:
    data = png_with(texts={"AIGC": '{"Label":"3"}'}, xmp=merge_aigc_into_xmp(None, label))
    reading = read_aigc(data, PNG)
    assert reading is not None and reading.location == "XMP TC260:AIGC" and reading.parsed.label == label


def test_unparseable_xmp_value_falls_through(png_with: Callable[..., bytes]) -> None:
    xmp = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        b'<rdf:Description xmlns:TC260="http://www.tc260.org.cn/ns/AIGC/1.0/"><TC260:AIGC>not json</TC260:AIGC>'
        b"</rdf:Description></rdf:RDF></x:xmpmeta>"
    )
    data = png_with(texts={"AIGC": '{"Label":"2","ContentProducer":"p","ProduceID":"i"}'}, xmp=xmp)
    reading = read_aigc(data, PNG)
    assert reading is not None and reading.location == "PNG text chunk AIGC"
    assert reading.parsed.label is not None and reading.parsed.label.label == "2"


def test_json_in_any_text_value(png_with: Callable[..., bytes]) -> None:
    data = png_with(texts={"Description": 'AIGC: {"Label":"1","ContentProducer":"p","ProduceID":"i"} (auto)'})
    reading = read_aigc(data, PNG)
    assert reading is not None and reading.location == "PNG text chunk Description"
    assert reading.json_text.startswith("{") and reading.parsed.label is not None


def test_exif_user_comment_in_jpeg(jpeg_with: Callable[..., bytes], exif_user_comment: Callable[[str], bytes]) -> None:
    data = jpeg_with(exif=exif_user_comment('{"Label":"1","ContentProducer":"cam-ai","ProduceID":"7"}'))
    reading = read_aigc(data, JPEG)
    assert reading is not None and reading.location == "JPEG EXIF UserComment"
    assert reading.parsed.label is not None and reading.parsed.label.produce_id == "7"


def test_jpeg_comment(jpeg_with: Callable[..., bytes]) -> None:
    data = jpeg_with(comment=b'{"Label":"1","ContentProducer":"c","ProduceID":"d"}')
    reading = read_aigc(data, JPEG)
    assert reading is not None and reading.location == "JPEG COM"


def test_an_aigc_key_without_json_is_reported_with_problems(png_with: Callable[..., bytes]) -> None:
    reading = read_aigc(png_with(texts={"AIGC": '{"label":1}'}), PNG)
    assert reading is not None and reading.parsed.label is not None and reading.parsed.problems
    assert read_aigc(png_with(texts={"AIGC": "yes"}), PNG) is None


def test_no_label(png_with: Callable[..., bytes], jpeg_with: Callable[..., bytes], foreign_xmp: bytes) -> None:
    assert read_aigc(png_with(texts={"Comment": "hello {not json}"}, xmp=foreign_xmp), PNG) is None
    assert read_aigc(jpeg_with(), JPEG) is None


@pytest.mark.filterwarnings("ignore::UserWarning:PIL.TiffImagePlugin")
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_never_raises_on_junk(junk: bytes) -> None:
    for handler in IMAGE_HANDLERS:
        for data in (junk, b"\x89PNG\r\n\x1a\n" + junk, b"\xff\xd8\xff\xe1" + junk, b"RIFF\x00\x00\x00\x00WEBP" + junk):
            result = read_aigc(data, handler)
            assert result is None or result.location


def test_wrapped_label_in_exif_image_description(jpeg_with: Callable[..., bytes]) -> None:
    exif = Image.Exif()
    exif[0x010E] = '{"AIGC":{"Label":"1","ContentProducer":"001191440300192203821610000","ProduceID":"t-1"}}'
    reading = read_aigc(jpeg_with(exif=exif.tobytes()), JPEG)
    assert reading is not None and reading.location == "JPEG EXIF ImageDescription"
    assert reading.parsed.label is not None and reading.parsed.label.produce_id == "t-1"
    assert reading.producer is not None and reading.producer.uscc_valid
