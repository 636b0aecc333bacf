from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from labeler import formats
from labeler.errors import (
    CorruptMedia,
    EmptyMedia,
    InvalidOption,
    KeyMissing,
    MediaTooLarge,
    OutputExists,
    OutputNotWritable,
    UnsupportedFormat,
)
from labeler.metadata.reader import read_aigc
from labeler.pipeline import Labeler
from labeler.settings import LabelOptions, Limits
from labeler.store.registry import Registry
from labeler.watermark import derive_watermark_id, detect_image
from labeler.watermark.keys import WatermarkKey
from tests.conftest import image_bytes, png_claiming_size


@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp"])
def test_label_bytes_carries_all_three_labels(fmt: str, key: WatermarkKey) -> None:
    data = image_bytes(fmt)
    result = Labeler(key).label_bytes(data, LabelOptions(producer="acme-gen", produce_id="p-1"))
    assert result.format == fmt
    handler = formats.sniff(result.data)
    assert handler.name == fmt  # same container out as in
    reading = read_aigc(result.data, handler)
    assert reading is not None and reading.parsed.label is not None
    assert reading.parsed.label.to_dict()["ContentProducer"] == "acme-gen"
    assert reading.parsed.label.produce_id == "p-1" and reading.parsed.label.label == "1"
    pixels = handler.decode(result.data, Limits()).pixels
    detection = detect_image(pixels, key)
    assert detection.watermark_id == derive_watermark_id("acme-gen", "p-1") == result.watermark_id
    assert result.visible is not None
    assert result.visible.text_height_px >= 0.05 * min(result.width, result.height)
    assert result.output_sha256 == hashlib.sha256(result.data).hexdigest()


def test_options_switch_each_label_off(key: WatermarkKey) -> None:
    data = image_bytes("png")
    only_meta = Labeler(key).label_bytes(data, LabelOptions(visible=False, watermark=False))
    handler = formats.sniff(only_meta.data)
    original = handler.decode(data, Limits()).pixels
    assert np.array_equal(handler.decode(only_meta.data, Limits()).pixels, original)  # pixels untouched
    assert read_aigc(only_meta.data, handler) is not None
    assert only_meta.watermark_id is None and only_meta.visible is None

    no_meta = Labeler(key).label_bytes(data, LabelOptions(metadata=False, visible=False))
    assert read_aigc(no_meta.data, handler) is None
    assert detect_image(handler.decode(no_meta.data, Limits()).pixels, key).detected

    with pytest.raises(InvalidOption):
        Labeler(key).label_bytes(data, LabelOptions(visible=False, metadata=False, watermark=False))


def test_unique_produce_ids_and_explicit_watermark_id(key: WatermarkKey) -> None:
    data = image_bytes("jpeg")
    a = Labeler(key).label_bytes(data)
    b = Labeler(key).label_bytes(data)
    assert a.produce_id != b.produce_id and a.watermark_id != b.watermark_id
    c = Labeler(key).label_bytes(data, LabelOptions(watermark_id=0xFEEDFACE))
    assert c.watermark_id == 0xFEEDFACE


def test_small_images_skip_only_the_watermark(key: WatermarkKey) -> None:
    result = Labeler(key).label_bytes(image_bytes("png", 200, 300))
    assert result.watermark_id is None and result.watermark_skipped
    assert result.aigc is not None and result.visible is not None


def test_watermarking_needs_a_key() -> None:
    with pytest.raises(KeyMissing):
        Labeler(None).label_bytes(image_bytes("png"))
    assert Labeler(None).label_bytes(image_bytes("png"), LabelOptions(watermark=False)).aigc is not None


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", EmptyMedia),
        (b"hello, this is text and not an image at all", UnsupportedFormat),
        (b"GIF89a" + b"\0" * 100, UnsupportedFormat),
        (png_claiming_size(30000, 30000), MediaTooLarge),
    ],
)
def test_bad_input_raises_stable_errors(data: bytes, error: type[Exception], key: WatermarkKey) -> None:
    with pytest.raises(error):
        Labeler(key).label_bytes(data)


@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp"])
@pytest.mark.parametrize("keep", [0.3, 0.6, 0.95])
def test_truncated_files_are_corrupt(fmt: str, keep: float, key: WatermarkKey) -> None:
    data = image_bytes(fmt)
    with pytest.raises(CorruptMedia):
        Labeler(key).label_bytes(data[: int(len(data) * keep)])


def test_label_file_records_after_writing_and_never_touches_the_input(
    make_image: Callable[..., Path], key: WatermarkKey, registry_path: Path, tmp_path: Path
) -> None:
    source = make_image("jpeg")
    before = hashlib.sha256(source.read_bytes()).hexdigest()
    destination = tmp_path / "out.jpg"
    with Registry.open(registry_path) as registry:
        result = Labeler(key, registry).label_file(source, destination, LabelOptions(produce_id="rec-1"))
        assert hashlib.sha256(source.read_bytes()).hexdigest() == before
        assert destination.read_bytes() == result.data
        (record,) = registry.by_produce_id("rec-1")
        assert record.watermark_id == result.watermark_id
        assert record.output_sha256 == result.output_sha256 and record.input_sha256 == before
        assert record.key_id == key.key_id

        # Refusals leave everything as it was, with nothing half-written and nothing recorded.
        with pytest.raises(OutputExists):
            Labeler(key, registry).label_file(source, destination, LabelOptions(produce_id="rec-2"))
        with pytest.raises(InvalidOption):
            Labeler(key, registry).label_file(source, source)
        with pytest.raises(OutputNotWritable):
            Labeler(key, registry).label_file(source, tmp_path / "missing-dir" / "x.jpg")
        assert registry.by_produce_id("rec-2") == []
        assert destination.read_bytes() == result.data
        assert hashlib.sha256(source.read_bytes()).hexdigest() == before


def test_failed_labeling_leaves_no_output(tmp_path: Path, key: WatermarkKey) -> None:
    source = tmp_path / "broken.png"
    source.write_bytes(image_bytes("png")[:500])
    with pytest.raises(CorruptMedia):
        Labeler(key).label_file(source, tmp_path / "out.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.png", "keys"]
