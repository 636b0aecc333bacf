from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from labeler.demo import travel  # metadata stripped, 0.75x, JPEG 75
from labeler.metadata.aigc import AigcLabel
from labeler.metadata.xmp import merge_aigc_into_xmp
from labeler.pipeline import Labeler
from labeler.settings import LabelOptions
from labeler.store.registry import Registry
from labeler.verification import MetadataFinding, Verdict, Verifier, WatermarkFinding, decide
from labeler.watermark.keys import WatermarkKey
from tests.conftest import image_bytes


def test_verdicts_across_the_life_of_a_file(key: WatermarkKey) -> None:
    registry = Registry.open(":memory:")
    labeled = Labeler(key, registry).label_bytes(image_bytes("png"), LabelOptions(producer="acme", produce_id="x1"))
    verifier = Verifier(key, registry)

    report = verifier.verify_bytes(labeled.data)
    assert report.verdict is Verdict.CONFIRMED and report.metadata.present
    assert report.watermark.detected and report.records[0].produce_id == "x1"

    # Metadata stripped, resized and recompressed: the watermark plus the registry still confirm it.
    travelled = verifier.verify_bytes(travel(labeled.data))
    assert not travelled.metadata.present
    assert travelled.verdict is Verdict.CONFIRMED
    assert travelled.watermark.detection is not None
    assert travelled.watermark.detection.watermark_id == labeled.watermark_id

    # Without the registry the same watermark is only a trace: suspected.
    assert Verifier(key, None).verify_bytes(travel(labeled.data)).verdict is Verdict.SUSPECTED

    # The original carries nothing; the user's declaration makes it "possible".
    original = verifier.verify_bytes(image_bytes("png"))
    assert original.verdict is Verdict.NONE and "checked: metadata, watermark" in original.reason
    assert verifier.verify_bytes(image_bytes("png"), user_declared=True).verdict is Verdict.POSSIBLE


def test_without_a_key_only_metadata_is_checked(key: WatermarkKey) -> None:
    labeled = Labeler(key).label_bytes(image_bytes("jpeg"))
    report = Verifier(None).verify_bytes(labeled.data)
    assert report.verdict is Verdict.CONFIRMED
    assert not report.watermark.checked and report.to_dict()["watermark"]["note"]


@pytest.mark.parametrize(("value", "verdict"), [("1", Verdict.CONFIRMED), ("2", Verdict.POSSIBLE),
                                                ("3", Verdict.SUSPECTED)])
def test_metadata_label_values_map_to_verdicts(value: str, verdict: Verdict) -> None:
    meta = MetadataFinding(present=True, location="XMP TC260:AIGC", label_value=value)
    got, reason, evidence = decide(meta, WatermarkFinding(checked=False), (), False)
    assert got is verdict and reason and evidence


def test_report_serialises_to_json_types(key: WatermarkKey) -> None:
    import json

    labeled = Labeler(key).label_bytes(image_bytes("webp"))
    text = json.dumps(Verifier(key).verify_bytes(labeled.data).to_dict(), ensure_ascii=False)
    decoded = json.loads(text)
    assert decoded["verdict"] == "confirmed"
    assert decoded["watermark"]["watermark_id"] == f"{labeled.watermark_id:016x}"
    assert 0 < decoded["watermark"]["false_positive_probability"] <= 1e-6


def test_another_providers_xmp_label_is_read(key: WatermarkKey) -> None:
    rgb = np.full((300, 400, 3), 90, np.uint8)
    xmp = merge_aigc_into_xmp(None, AigcLabel(label="1", content_producer="other-co", produce_id="o-9"))
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", xmp=xmp)
    report = Verifier(key).verify_bytes(buffer.getvalue())
    assert report.verdict is Verdict.CONFIRMED
    assert report.metadata.fields is not None and report.metadata.fields["ContentProducer"] == "other-co"
