from __future__ import annotations

import importlib.util
import io
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from labeler import formats
from labeler.provenance.thirdparty import (
    SD_WATERMARK,
    binomial_tail,
    decode_dwtdct_bits,
    detect_sd_watermark,
    digital_source_types,
    find_metadata_marks,
)
from tests.helpers import natural_image

REFERENCE_BITS = np.unpackbits(np.frombuffer(SD_WATERMARK, dtype=np.uint8))


def _quantise(block: np.ndarray, bit: int) -> np.ndarray:
    flat = block.flatten()
    pos = int(np.argmax(np.abs(flat[1:]))) + 1
    value = flat[pos]
    flat[pos] = np.sign(value or 1.0) * (abs(value) // 36 + 0.25 + 0.5 * bit) * 36
    return flat.reshape(block.shape)


def embed_dwtdct_independently(rgb: np.ndarray, payload: bytes = SD_WATERMARK) -> np.ndarray:
    """An independent writer of the dwtDct mark from its published description (not the detector's
    code), used when the invisible-watermark package is not installed."""
    import cv2
    import pywt

    bits = np.unpackbits(np.frombuffer(payload, dtype=np.uint8))
    yuv = cv2.cvtColor(np.ascontiguousarray(rgb[..., ::-1]), cv2.COLOR_BGR2YUV)
    rows, cols = yuv.shape[0] // 4 * 4, yuv.shape[1] // 4 * 4
    ca, (h, v, d) = pywt.dwt2(yuv[:rows, :cols, 1], "haar")
    n = 0
    for i in range(ca.shape[0] // 4):
        for j in range(ca.shape[1] // 4):
            ca[i * 4 : i * 4 + 4, j * 4 : j * 4 + 4] = _quantise(ca[i * 4 : i * 4 + 4, j * 4 : j * 4 + 4],
                                                                 int(bits[n % bits.size]))
            n += 1
    yuv[:rows, :cols, 1] = np.clip(np.round(pywt.idwt2((ca, (h, v, d)), "haar")), 0, 255)
    return np.ascontiguousarray(cv2.cvtColor(yuv, cv2.COLOR_YUV2BGR)[..., ::-1])


def _reference_module() -> ModuleType | None:
    """invisible-watermark's maxDct module, loaded by file so its package __init__ (PyTorch) is skipped."""
    spec = importlib.util.find_spec("imwatermark")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "maxDct.py"
    module_spec = importlib.util.spec_from_file_location("imwatermark_maxdct", path)
    if module_spec is None or module_spec.loader is None:
        return None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def test_independent_writer_is_detected_with_tiny_false_positive_probability() -> None:
    marked = embed_dwtdct_independently(natural_image(512, 512, seed=3))
    detection = detect_sd_watermark(marked)
    assert detection.detected
    assert detection.bits_agreeing >= 120
    assert detection.false_positive_probability < 1e-20


def test_reference_package_interop_when_installed() -> None:
    module = _reference_module()
    if module is None:
        pytest.skip("invisible-watermark is not installed (optional, bench/test only)")
    image = natural_image(512, 640, seed=4)
    encoded_bgr = module.EmbedMaxDct(list(REFERENCE_BITS), wmLen=136).encode(np.ascontiguousarray(image[..., ::-1]))
    ours = decode_dwtdct_bits(np.ascontiguousarray(encoded_bgr[..., ::-1]), 136)
    theirs = module.EmbedMaxDct([], wmLen=136).decode(encoded_bgr)
    assert ours is not None
    assert np.array_equal(ours, np.asarray(theirs))  # bit-exact with the reference reader
    assert detect_sd_watermark(np.ascontiguousarray(encoded_bgr[..., ::-1])).detected


def test_unmarked_images_are_not_detected_and_agreement_is_near_half() -> None:
    agreements = []
    for seed in range(8):
        image = natural_image(320, 320, seed=100 + seed)
        assert not detect_sd_watermark(image).detected
        bits = decode_dwtdct_bits(image, 136)
        assert bits is not None
        agreements.append(int(np.count_nonzero(bits == REFERENCE_BITS.astype(bool))))
    assert 50 <= float(np.mean(agreements)) <= 86


def test_flat_image_is_not_detected() -> None:
    for value in (0, 128, 255):
        assert not detect_sd_watermark(np.full((300, 300, 3), value, np.uint8)).detected


def test_small_image_is_not_checked() -> None:
    detection = detect_sd_watermark(natural_image(100, 100))
    assert not detection.checked and not detection.detected


def test_binomial_tail() -> None:
    assert binomial_tail(0, 136) == 1.0
    assert binomial_tail(136, 136) == pytest.approx(2.0**-136)
    assert binomial_tail(69, 136) == pytest.approx(0.5 - 0.5 * 0.06815, abs=0.02)
    assert binomial_tail(96, 136) < 1e-6 < binomial_tail(95, 136)


def _png_with(text: dict[str, str], xmp: str | None = None) -> bytes:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    for key, value in text.items():
        info.add_text(key, value)
    if xmp is not None:
        info.add_itxt("XML:com.adobe.xmp", xmp)
    buffer = io.BytesIO()
    Image.fromarray(natural_image(64, 64)).save(buffer, "PNG", pnginfo=info)
    return buffer.getvalue()


XMP_DST = """<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
 Iptc4xmpExt:DigitalSourceType="http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"/>
</rdf:RDF></x:xmpmeta>"""


def test_iptc_digital_source_type() -> None:
    assert digital_source_types(XMP_DST.encode()) == ["trainedAlgorithmicMedia"]
    data = _png_with({}, XMP_DST)
    marks = find_metadata_marks(data, formats.sniff(data))
    assert [m.kind for m in marks] == ["iptc-digital-source-type"]
    assert marks[0].ai_generated
    camera = XMP_DST.replace("trainedAlgorithmicMedia", "digitalCapture")
    data = _png_with({}, camera)
    assert not find_metadata_marks(data, formats.sniff(data))[0].ai_generated


def test_generator_traces_and_second_aigc_label() -> None:
    data = _png_with(
        {
            "parameters": "a cat\nSteps: 20, Sampler: Euler a, CFG scale: 7",
            "AIGC": '{"Label":"1","ContentProducer":"other-provider","ProduceID":"x"}',
            "Comment": '{"Label": 1, "ContentProducer": "variant", "ProduceID": 7}',
        }
    )
    marks = find_metadata_marks(data, formats.sniff(data))
    kinds = [m.kind for m in marks]
    assert "generator-metadata" in kinds
    assert kinds.count("aigc-label") == 1  # the first label is the metadata finding itself
    assert all(m.false_positive_probability is None for m in marks)


def test_plain_file_has_no_marks() -> None:
    data = _png_with({"Title": "holiday"})
    assert find_metadata_marks(data, formats.sniff(data)) == []


def test_sdv2_payload_is_detected_too() -> None:
    marked = embed_dwtdct_independently(natural_image(400, 400, seed=5), payload=b"SDV2")
    detection = detect_sd_watermark(marked)
    assert detection.detected and detection.payload == b"SDV2" and detection.n_bits == 32
    assert detection.false_positive_probability <= 2 * 2.0**-32 * 1.0001


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 80), st.integers(1, 80), st.integers(0, 2**32 - 1))
def test_haar_approximation_is_pywavelets_bit_for_bit(half_rows: int, half_cols: int, seed: int) -> None:
    import pywt

    from labeler.provenance.thirdparty import _haar_approximation

    plane = np.random.default_rng(seed).integers(0, 256, (2 * half_rows, 2 * half_cols), dtype=np.uint8)
    assert np.array_equal(_haar_approximation(plane), pywt.dwt2(plane, "haar")[0])
