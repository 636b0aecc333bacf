"""The explicit-label trace: a visible "AI生成" label found in a corner after the picture travelled,
and not found on unlabeled photos (detection rates and speed are measured in benchmarks/visible_label.py)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from labeler.explicit.text_label import draw_visible_label
from labeler.pipeline import Labeler
from labeler.provenance.thirdparty import ThirdPartyMark
from labeler.provenance.visible_label import (
    CALIBRATION_TRIALS,
    FALSE_POSITIVE_BOUND,
    clopper_pearson_upper,
    detect_visible_label,
    explicit_label_mark,
)
from labeler.settings import Corner, LabelOptions, VisibleLabelOptions
from labeler.verification import MetadataFinding, Verdict, Verifier, WatermarkFinding, decide
from tests.helpers import jpeg_roundtrip, natural_image, sample_photos


def _travel(pixels: np.ndarray) -> np.ndarray:
    """JPEG 50, then resized to half size (what a re-upload does)."""
    coded = jpeg_roundtrip(pixels, 50)
    h, w = coded.shape[:2]
    return cv2.resize(coded, (w // 2, h // 2), interpolation=cv2.INTER_AREA)


@pytest.mark.parametrize("corner", list(Corner))
def test_our_label_is_found_after_jpeg50_and_resize(corner: Corner) -> None:
    photo = sample_photos()[0] if sample_photos() else natural_image(480, 640)
    labeled, placed = draw_visible_label(photo, VisibleLabelOptions(position=corner))
    found = detect_visible_label(_travel(labeled))
    assert found.detected and found.corner == corner.value, found
    assert (found.text is not None and "生成" in found.text) or found.text == "AI-generated"
    # the box is near the label actually drawn (in the travelled picture's half-size pixels)
    assert found.box is not None
    x, y = found.box[0] * 2, found.box[1] * 2
    assert placed.x - 8 <= x <= placed.x + placed.width and placed.y - 8 <= y <= placed.y + placed.height


def test_unlabeled_photos_and_crops_are_not_claimed() -> None:
    pictures = [*sample_photos(), natural_image(480, 640, seed=1), natural_image(720, 540, seed=2)]
    rng = np.random.default_rng(5)
    for photo in list(pictures):
        h, w = photo.shape[:2]
        ch, cw = int(h * rng.uniform(0.4, 0.9)), int(w * rng.uniform(0.4, 0.9))
        pictures.append(jpeg_roundtrip(np.ascontiguousarray(photo[h - ch :, w - cw :]), 70))
    for picture in pictures:
        found = detect_visible_label(picture)
        assert not found.detected, found
        assert found.score < found.threshold


def test_tiny_and_odd_inputs_report_nothing() -> None:
    assert not detect_visible_label(np.zeros((20, 20), np.uint8)).detected
    assert not detect_visible_label(np.zeros((40, 2000), np.uint8)).detected
    flat = detect_visible_label(np.full((300, 400, 3), 128, np.uint8))
    assert not flat.detected
    with pytest.raises(ValueError):
        detect_visible_label(np.zeros((10, 10, 2)))


def test_clopper_pearson_bound() -> None:
    assert clopper_pearson_upper(0, CALIBRATION_TRIALS) == pytest.approx(FALSE_POSITIVE_BOUND)
    assert clopper_pearson_upper(0, 2000) == pytest.approx(1 - 0.05 ** (1 / 2000))
    assert clopper_pearson_upper(0, 2000) < clopper_pearson_upper(1, 2000) < clopper_pearson_upper(5, 2000)
    assert clopper_pearson_upper(1, 10) == pytest.approx(0.3942, abs=1e-3)  # tables: 1 of 10, one-sided 95%
    assert clopper_pearson_upper(0, 0) == 1.0


def test_verify_reports_the_visible_label_as_a_trace_only() -> None:
    # Labeled with the visible label alone (no metadata, no watermark): only the trace remains.
    photo = sample_photos()[1] if len(sample_photos()) > 1 else natural_image(480, 640)
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(photo).save(buffer, "PNG")
    result = Labeler().label_bytes(buffer.getvalue(), LabelOptions(watermark=False, metadata=False), record=False)
    labeled = np.asarray(Image.open(io.BytesIO(result.data)).convert("RGB"))
    buffer = io.BytesIO()
    Image.fromarray(_travel(labeled)).save(buffer, "JPEG", quality=85)
    report = Verifier().verify_bytes(buffer.getvalue())
    assert report.verdict is Verdict.SUSPECTED and "visible AI label" in report.reason
    assert report.explicit_label is not None and report.explicit_label.detected
    as_dict = report.to_dict()
    assert as_dict["explicit_label"]["detected"] and as_dict["explicit_label"]["false_positive_probability"] < 0.01
    assert any(m["kind"] == "explicit_label" for m in as_dict["third_party"])
    assert any("visible AI label" in e and "false-positive probability" in e for e in report.evidence)

    plain = io.BytesIO()
    Image.fromarray(photo).save(plain, "PNG")
    unlabeled = Verifier().verify_bytes(plain.getvalue())
    assert unlabeled.verdict is Verdict.NONE and unlabeled.explicit_label is not None
    assert not unlabeled.explicit_label.detected


def test_decide_never_confirms_on_a_visible_label_alone() -> None:
    found = detect_visible_label(_travel(draw_visible_label(natural_image(480, 640), VisibleLabelOptions())[0]))
    mark = explicit_label_mark(found)
    assert isinstance(mark, ThirdPartyMark) and mark.kind == "explicit_label"
    none_meta, no_wm = MetadataFinding(present=False), WatermarkFinding(checked=True)
    assert decide(none_meta, no_wm, (), False, marks=(mark,))[0] is Verdict.SUSPECTED
    assert decide(none_meta, no_wm, (), True, marks=(mark,))[0] is Verdict.POSSIBLE
    assert explicit_label_mark(detect_visible_label(natural_image(480, 640))) is None
