"""Other providers' marks, reported as evidence: the Stable Diffusion reference scripts' invisible
watermark, IPTC/XMP DigitalSourceType, generator parameters that AI tools leave in text metadata, and
AIGC labels beyond the first (other providers' variants, in other places of the file).

The Stable Diffusion scripts (CompVis/stable-diffusion ``scripts/txt2img.py`` and Stability's
reference repositories) mark every output with the ``invisible-watermark`` package's ``dwtDct`` method
and the 17 bytes ``StableDiffusionV1`` (136 bits). That method, as the package implements it: convert
BGR to YUV, crop to a multiple of 4, take the one-level Haar DWT approximation of the U channel
(the Y channel's scale is 0, so it is skipped), cut it into 4x4 blocks in raster order, and in block
``n`` quantise the largest-magnitude coefficient other than the first to ``(|v| // 36 + 0.25 + 0.5 b)
* 36`` for bit ``b = bits[n % 136]``. Reading a block gives 1 when ``|v| mod 36 > 18``; the bit is the
majority over its blocks. Our detector re-implements the reading with NumPy, OpenCV and PyWavelets
(no dependency on the package, whose import pulls in PyTorch) and compares the 136 bits with ``StableDiffusionV1``.

Stability AI's SD 2.x scripts use the same method with the 4 bytes ``SDV2``; both payloads are tested.

False-positive probability: on content without the mark each decoded bit agrees with the reference
with probability 1/2 independently, so ``P(agree >= k) = sum_{i>=k} C(n, i) / 2**n`` (binomial tail,
n = 136 or 32), times 2 for the two payloads tested. We report that number and call the mark detected
when it is at most ``1e-6`` (k >= 97 of 136, or k >= 30 of 32 for SDV2).
Measured on unmarked photos, the agreement stays near 68 (tests/provenance, benchmarks/provenance.py).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
import pywt

from labeler.formats.base import ImageHandler
from labeler.metadata.aigc import parse_aigc_json
from labeler.metadata.xmp import aigc_from_xmp

SD_WATERMARK = b"StableDiffusionV1"
#: Stability AI's SD 2.x reference scripts write ``SDV2`` (32 bits) with the same method.
SD_WATERMARKS: tuple[bytes, ...] = (SD_WATERMARK, b"SDV2")
SD_SCALE = 36.0
SD_BLOCK = 4
#: Detection threshold on the binomial false-positive probability.
SD_FALSE_POSITIVE_LIMIT = 1e-6

#: IPTC digital source types that say a generative model made (part of) the content.
AI_SOURCE_TYPES = frozenset(
    {"trainedalgorithmicmedia", "compositewithtrainedalgorithmicmedia", "algorithmicmedia", "compositesynthetic"}
)
_DST_RE = re.compile(rb"digitalsourcetype/([A-Za-z]+)")
#: XMP packets are scanned up to this many bytes for DigitalSourceType.
_MAX_SCAN = 4 * 1024 * 1024

#: Known AI tools' text-metadata traces: (matcher on key, matcher on value, description).
_GENERATOR_TRACES: tuple[tuple[re.Pattern[str], re.Pattern[str], str], ...] = (
    (
        re.compile(r"^parameters$", re.I),
        re.compile(r"Steps: \d+.*Sampler:", re.S),
        "Stable Diffusion web UI parameters",
    ),
    (re.compile(r"^(prompt|workflow)$", re.I), re.compile(r'"class_type"|"nodes"\s*:'), "ComfyUI workflow"),
    (re.compile(r"^(invokeai_metadata|sd-metadata|dream)$", re.I), re.compile(r"."), "InvokeAI generation metadata"),
    (
        re.compile(r"software", re.I),
        re.compile(r"NovelAI|Midjourney|DALL[·.\- ]?E|Stable Diffusion|Firefly|Imagen|Jimeng|Doubao|Kling", re.I),
        "generator named in Software",
    ),
)


def binomial_tail(agree: int, n: int) -> float:
    """P(X >= agree) for X ~ Binomial(n, 1/2), exact."""
    if agree <= 0:
        return 1.0
    return math.fsum(math.comb(n, i) for i in range(agree, n + 1)) / 2.0**n


@dataclass(frozen=True)
class SdWatermarkDetection:
    checked: bool
    detected: bool = False
    bits_agreeing: int = 0
    n_bits: int = len(SD_WATERMARK) * 8
    false_positive_probability: float = 1.0
    decoded: bytes | None = None
    note: str | None = None
    #: The payload tested (the more significant of StableDiffusionV1 and SDV2).
    payload: bytes = SD_WATERMARK

    def to_dict(self) -> dict[str, Any]:
        return {
            "checked": self.checked,
            "payload": self.payload.decode("ascii"),
            "detected": self.detected,
            "bits_agreeing": self.bits_agreeing,
            "n_bits": self.n_bits,
            "false_positive_probability": self.false_positive_probability,
            "decoded": self.decoded.decode("latin-1") if self.decoded is not None else None,
            "note": self.note,
        }


#: PyWavelets' Haar analysis filter tap (both taps are equal).
_HAAR_TAP = np.float64(pywt.Wavelet("haar").dec_lo[0])


def _haar_approximation(plane: np.ndarray) -> np.ndarray:
    """The LL band of ``pywt.dwt2(plane, "haar")`` for even-sized planes, bit for bit (same taps, same
    order: rows, then columns) and ~5x faster than PyWavelets' generic convolution."""
    x = plane.astype(np.float64)
    rows = _HAAR_TAP * x[0::2, :] + _HAAR_TAP * x[1::2, :]
    return np.asarray(_HAAR_TAP * rows[:, 0::2] + _HAAR_TAP * rows[:, 1::2])


def dwtdct_block_bits(pixels: np.ndarray, scale: float = SD_SCALE) -> np.ndarray | None:
    """One embedded bit reading per 4x4 block of the U channel's Haar approximation, in the order the
    invisible-watermark ``dwtDct`` method cycles its payload through them (float64 0/1); None when the
    image is below the method's 256x256-pixel minimum."""
    if pixels.ndim != 3 or pixels.shape[2] < 3:
        rgb = np.repeat(pixels.reshape(pixels.shape[0], pixels.shape[1], 1)[..., :1], 3, axis=2)
    else:
        rgb = pixels[..., :3]
    rows, cols = rgb.shape[0] // 4 * 4, rgb.shape[1] // 4 * 4
    if rgb.shape[0] * rgb.shape[1] < 256 * 256 or rows == 0 or cols == 0:
        return None
    yuv = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2YUV)  # = BGR2YUV of the reversed channels
    # PyWavelets' arithmetic, not (a+b+c+d)/2: the LL values sit on multiples of 18 often, and the mark's
    # reading (|v| mod 36 > 18) then depends on the last bit of the float rounding, so only the same
    # arithmetic as the embedder's reproduces its bits exactly.
    approx = _haar_approximation(yuv[:rows, :cols, 1])
    br, bc = approx.shape[0] // SD_BLOCK, approx.shape[1] // SD_BLOCK
    grid = approx[: br * SD_BLOCK, : bc * SD_BLOCK].reshape(br, SD_BLOCK, bc, SD_BLOCK)
    blocks = grid.transpose(0, 2, 1, 3).reshape(br * bc, SD_BLOCK * SD_BLOCK)
    pos = np.argmax(np.abs(blocks[:, 1:]), axis=1) + 1
    values = np.abs(blocks[np.arange(blocks.shape[0]), pos])
    return np.asarray((np.mod(values, scale) > 0.5 * scale).astype(np.float64))


def bits_from_blocks(block_bits: np.ndarray, n_bits: int) -> np.ndarray:
    """Majority vote of the block readings for each of ``n_bits`` payload bits (bool array)."""
    index = np.arange(block_bits.size) % n_bits
    sums = np.bincount(index, weights=block_bits, minlength=n_bits)
    counts = np.bincount(index, minlength=n_bits)
    means = np.divide(sums, counts, out=np.zeros(n_bits), where=counts > 0)
    return np.asarray(means * 255 > 127)


def decode_dwtdct_bits(pixels: np.ndarray, n_bits: int, scale: float = SD_SCALE) -> np.ndarray | None:
    """The invisible-watermark ``dwtDct`` reading of ``n_bits`` bits from RGB uint8 pixels (bool array),
    or None when the image is below the method's 256x256-pixel minimum."""
    block_bits = dwtdct_block_bits(pixels, scale)
    return None if block_bits is None else bits_from_blocks(block_bits, n_bits)


def detect_sd_watermark(
    pixels: np.ndarray, false_positive_limit: float = SD_FALSE_POSITIVE_LIMIT
) -> SdWatermarkDetection:
    """Test for each payload of :data:`SD_WATERMARKS`; the result with the smallest false-positive
    probability. The probability is multiplied by the number of payloads tested (Bonferroni), so it
    stays an upper bound on the chance of any false match."""
    block_bits = dwtdct_block_bits(pixels)  # shared by every payload: only the vote's period differs
    if block_bits is None:
        return SdWatermarkDetection(checked=False, note="smaller than the method's 256x256 pixels")
    best: SdWatermarkDetection | None = None
    for payload in SD_WATERMARKS:
        reference = np.unpackbits(np.frombuffer(payload, dtype=np.uint8)).astype(bool)
        bits = bits_from_blocks(block_bits, reference.size)
        agree = int(np.count_nonzero(bits == reference))
        p_value = min(1.0, binomial_tail(agree, reference.size) * len(SD_WATERMARKS))
        found = SdWatermarkDetection(
            checked=True,
            detected=p_value <= false_positive_limit,
            bits_agreeing=agree,
            n_bits=int(reference.size),
            false_positive_probability=p_value,
            decoded=np.packbits(bits.astype(np.uint8)).tobytes(),
            payload=payload,
        )
        if best is None or found.false_positive_probability < best.false_positive_probability:
            best = found
    assert best is not None
    return best


@dataclass(frozen=True)
class ThirdPartyMark:
    """One piece of evidence from outside labeler. ``ai_generated``: the mark says AI made the content."""

    kind: str
    location: str
    description: str
    ai_generated: bool
    #: Chance that the detector reports this mark on content without it; None for metadata read as
    #: written (its presence is certain; whether it tells the truth is a separate question).
    false_positive_probability: float | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "location": self.location,
            "description": self.description,
            "ai_generated": self.ai_generated,
            "false_positive_probability": self.false_positive_probability,
            "details": self.details,
        }


def digital_source_types(xmp: bytes | None) -> list[str]:
    """IPTC DigitalSourceType terms named in an XMP packet (e.g. ``trainedAlgorithmicMedia``)."""
    if not xmp:
        return []
    found: list[str] = []
    for match in _DST_RE.finditer(xmp[:_MAX_SCAN]):
        term = match.group(1).decode("ascii")
        if term not in found:
            found.append(term)
    return found


def _aigc_labels(xmp: bytes | None, chunks: dict[str, str], handler_name: str) -> list[tuple[str, dict[str, Any]]]:
    labels: list[tuple[str, dict[str, Any]]] = []
    if xmp:
        text = aigc_from_xmp(xmp)
        parsed = parse_aigc_json(text) if text is not None else None
        if parsed is not None and parsed.label is not None:
            labels.append(("XMP TC260:AIGC", parsed.label.to_dict()))
    for key, value in chunks.items():
        if len(value) > 64 * 1024 or "{" not in value:
            continue
        start, end = value.find("{"), value.rfind("}")
        parsed = parse_aigc_json(value[start : end + 1]) if end > start else None
        if parsed is not None and parsed.label is not None:
            labels.append((f"{handler_name.upper()} {key}", parsed.label.to_dict()))
    return labels


def find_metadata_marks(data: bytes, handler: ImageHandler) -> list[ThirdPartyMark]:
    """Marks in the file's metadata. Never raises (junk metadata is no mark)."""
    marks: list[ThirdPartyMark] = []
    try:
        xmp = handler.read_xmp(data)
        chunks = handler.read_text_chunks(data)
    except Exception:
        return marks
    for term in digital_source_types(xmp):
        marks.append(
            ThirdPartyMark(
                kind="iptc-digital-source-type",
                location="XMP Iptc4xmpExt:DigitalSourceType",
                description=f"IPTC DigitalSourceType {term}",
                ai_generated=term.lower() in AI_SOURCE_TYPES,
                details={"term": term},
            )
        )
    for key, value in chunks.items():
        name = key.split("#", 1)[0].strip()
        for key_re, value_re, description in _GENERATOR_TRACES:
            if key_re.search(name) and value_re.search(value[:64 * 1024]):
                marks.append(
                    ThirdPartyMark(
                        kind="generator-metadata",
                        location=f"{handler.name.upper()} {key}",
                        description=description,
                        ai_generated=True,
                        details={"excerpt": value[:120]},
                    )
                )
                break
    labels = _aigc_labels(xmp, chunks, handler.name)
    for location, fields in labels[1:]:  # the first is the metadata finding itself
        marks.append(
            ThirdPartyMark(
                kind="aigc-label",
                location=location,
                description=f"another AIGC label (ContentProducer {fields.get('ContentProducer') or '?'})",
                ai_generated=fields.get("Label") == "1",
                details=fields,
            )
        )
    return marks


def sd_mark(detection: SdWatermarkDetection) -> ThirdPartyMark | None:
    if not detection.detected:
        return None
    return ThirdPartyMark(
        kind="sd-invisible-watermark",
        location="pixels (U channel, Haar DWT)",
        description=(
            f"Stable Diffusion invisible watermark {detection.payload.decode('ascii')!r} "
            f"({detection.bits_agreeing}/{detection.n_bits} bits agree)"
        ),
        ai_generated=True,
        false_positive_probability=detection.false_positive_probability,
        details={
            "payload": detection.payload.decode("ascii"),
            "bits_agreeing": detection.bits_agreeing,
            "n_bits": detection.n_bits,
        },
    )
