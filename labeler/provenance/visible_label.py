"""The explicit-label trace: finds a visible AI label ("AI生成" and common variants) in the corners of a
picture after it has travelled (JPEG, rescaling, small crops, screenshots).

Design (CPU only, OpenCV + Pillow):

* The luma is rescaled so its short side is :data:`WORK_SHORT_SIDE` px; labels are sized relative to the
  short side (GB 45438: text at least 5% of it), so a label's height in work pixels is the same whatever
  the picture's size or how it was rescaled since.
* Templates: each variant text is rendered once with the bundled Noto Sans CJK Bold (the font labeler
  draws with) and cut to its ink box; per text height in :data:`TEXT_HEIGHT_RATIOS` it is resized.
* Matching is on gradients, not intensities: |∂x| and |∂y| of a lightly smoothed picture, as two
  channels, with OpenCV's normalised cross-correlation (``TM_CCOEFF_NORMED``). Gradient magnitudes do
  not care about polarity (white on black or black on white), background, box or outline colour.
* Only the four corner regions (:data:`CORNER_WIDTH` x :data:`CORNER_HEIGHT` of the picture) are
  searched: the rules put the label there, and it keeps the cost and the false-positive rate down.
* The score is the best correlation over corners, texts and sizes; a label is reported at
  :data:`THRESHOLD` or above. The threshold was calibrated by ``benchmarks/visible_label.py`` on
  unmarked real photographs (many crops and rescales, plus the same photos with other text drawn in the
  corners); :data:`CALIBRATION_TRIALS` of them gave no claim, so the false-positive probability per
  picture is below the one-sided 95% Clopper-Pearson bound ``1 - 0.05 ** (1 / N)`` for 0 hits in N.
  It is an empirical bound for pictures like those, not a proof: a photo of a sign reading "AI生成" in
  a corner is a true visible label as far as this detector can know.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from labeler.provenance.thirdparty import ThirdPartyMark
from labeler.video.orientation import frame_orientation

#: The texts searched for: ours first, then variants other providers use.
LABEL_TEXTS: tuple[str, ...] = ("AI生成", "AI 生成", "由AI生成", "AI-generated")
#: Work resolution: the short side after rescaling.
WORK_SHORT_SIDE = 256
#: Ink heights searched, as fractions of the short side (the legal minimum is 5%; 4.4% allows a 12% upscale
#: and the ink-measure difference between texts; 16% covers generous labels).
TEXT_HEIGHT_RATIOS: tuple[float, ...] = tuple(float(r) for r in np.geomspace(0.044, 0.16, 10))
#: The corner regions searched, as fractions of the width and height.
CORNER_WIDTH = 0.45
CORNER_HEIGHT = 0.22
#: Zero-gradient margin added around the picture (fraction of the short side): see detect_visible_label.
EDGE_PAD = 0.05
#: Reported as a label at this normalised correlation or above (calibrated: benchmarks/visible_label.py).
THRESHOLD = 0.65
#: Unmarked pictures in the calibration with no claim at THRESHOLD (benchmarks/visible_label.py).
CALIBRATION_TRIALS = 2400
CORNERS = ("top-left", "top-right", "bottom-left", "bottom-right")


def clopper_pearson_upper(hits: int, trials: int, confidence: float = 0.95) -> float:
    """One-sided upper confidence bound on a rate; closed form for 0 hits, else by bisection."""
    if trials <= 0:
        return 1.0
    if hits == 0:
        return float(1.0 - (1.0 - confidence) ** (1.0 / trials))
    from math import comb

    def tail(p: float) -> float:  # P(X <= hits | p)
        return sum(comb(trials, k) * p**k * (1 - p) ** (trials - k) for k in range(hits + 1))

    lo, hi = hits / trials, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if tail(mid) > 1.0 - confidence:
            lo = mid
        else:
            hi = mid
    return hi


FALSE_POSITIVE_BOUND = clopper_pearson_upper(0, CALIBRATION_TRIALS)


@dataclass(frozen=True)
class VisibleLabelDetection:
    detected: bool
    score: float
    text: str | None
    corner: str | None
    #: Ink height of the best match as a fraction of the short side.
    height_ratio: float | None
    #: Box of the best match in the input's pixels: x, y, width, height.
    box: tuple[int, int, int, int] | None
    threshold: float = THRESHOLD
    false_positive_probability: float = FALSE_POSITIVE_BOUND

    def to_dict(self) -> dict[str, Any]:
        return {
            "checked": True,
            "detected": self.detected,
            "score": round(self.score, 4),
            "threshold": self.threshold,
            "text": self.text,
            "corner": self.corner,
            "height_ratio": round(self.height_ratio, 4) if self.height_ratio is not None else None,
            "box": list(self.box) if self.box is not None else None,
            "false_positive_probability": self.false_positive_probability,
            "false_positive_basis": (
                f"0 claims in {CALIBRATION_TRIALS} unmarked calibration pictures; one-sided 95% Clopper-Pearson bound"
            ),
        }


@functools.lru_cache(maxsize=8)
def _ink_mask(text: str) -> np.ndarray:
    """``text`` rendered large with the bundled font, cut to its ink box (float32 0..1)."""
    from labeler.explicit.text_label import _bundled_font_bytes

    font = ImageFont.truetype(io.BytesIO(_bundled_font_bytes()), 160)
    left, top, right, bottom = (int(v) for v in font.getbbox(text))
    canvas = Image.new("L", (right - left + 20, bottom - top + 20), 0)
    ImageDraw.Draw(canvas).text((10 - left, 10 - top), text, font=font, fill=255)
    mask = np.asarray(canvas, dtype=np.float32) / 255.0
    rows = np.flatnonzero(mask.max(axis=1) >= 0.5)
    cols = np.flatnonzero(mask.max(axis=0) >= 0.5)
    return np.ascontiguousarray(mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1])


def _gradients(luma: np.ndarray) -> np.ndarray:
    """|d/dx| and |d/dy| of a lightly smoothed float32 image, as an HxWx2 float32 array."""
    smooth = cv2.GaussianBlur(luma, (3, 3), 0.8)
    gx = np.abs(cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3))
    gy = np.abs(cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3))
    return cv2.merge([gx, gy])


@functools.lru_cache(maxsize=256)
def _template(text: str, ink_height: int) -> np.ndarray:
    mask = _ink_mask(text)
    width = max(4, round(mask.shape[1] * ink_height / mask.shape[0]))
    small = cv2.resize(mask, (width, ink_height), interpolation=cv2.INTER_AREA)
    # A 2 px border so the text's outer edges are inside the template.
    padded = cv2.copyMakeBorder(small, 2, 2, 2, 2, cv2.BORDER_CONSTANT, value=0.0)
    return _gradients(padded * 255.0)


def _to_luma(pixels: np.ndarray) -> np.ndarray:
    if pixels.ndim == 2:
        return pixels.astype(np.float32, copy=False)
    if pixels.ndim == 3 and pixels.shape[2] >= 3:
        rgb = pixels[..., :3].astype(np.float32)
        return rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    raise ValueError(f"expected a HxW luma or HxWx3 RGB array, got shape {pixels.shape}")


def detect_visible_label(pixels: np.ndarray, threshold: float = THRESHOLD) -> VisibleLabelDetection:
    """Search the four corners of ``pixels`` (HxW luma or HxWxC RGB, any numeric type on a 0..255 scale)
    for a visible AI label. Pure function; pictures too small to hold a legible label report nothing."""
    if pixels.ndim not in (2, 3) or (pixels.ndim == 3 and pixels.shape[2] < 3):
        raise ValueError(f"expected a HxW luma or HxWx3 RGB array, got shape {pixels.shape}")
    height, width = pixels.shape[:2]
    short = min(height, width)
    if short < 32 or max(height, width) > 20 * short:
        return VisibleLabelDetection(False, 0.0, None, None, None, None, threshold)
    scale = WORK_SHORT_SIDE / short
    work_w, work_h = max(1, round(width * scale)), max(1, round(height * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    # Rescale first (both steps are linear): converting a 12 MP picture to float luma costs more than the search.
    source = pixels[..., :3] if pixels.ndim == 3 else pixels
    if source.dtype not in (np.uint8, np.float32):
        source = source.astype(np.float32)
    work = _to_luma(cv2.resize(np.ascontiguousarray(source), (work_w, work_h), interpolation=interpolation))
    region_w, region_h = round(work_w * CORNER_WIDTH), round(work_h * CORNER_HEIGHT)
    # Zero gradient beyond the picture's edges, so a label partly cut off by a crop or a screenshot's
    # selection still matches with the part that remains.
    pad = round(EDGE_PAD * WORK_SHORT_SIDE)
    gradients = cv2.copyMakeBorder(_gradients(work), pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0.0)
    full_w, full_h = work_w + 2 * pad, work_h + 2 * pad
    span_w, span_h = region_w + pad, region_h + pad
    origins = {  # in padded work pixels
        "top-left": (0, 0),
        "top-right": (full_w - span_w, 0),
        "bottom-left": (0, full_h - span_h),
        "bottom-right": (full_w - span_w, full_h - span_h),
    }
    regions = {
        corner: np.ascontiguousarray(gradients[y : y + span_h, x : x + span_w]) for corner, (x, y) in origins.items()
    }
    best = (-1.0, "", "", 0.0, (0, 0, 0, 0))
    for ratio in TEXT_HEIGHT_RATIOS:
        ink = max(6, round(ratio * WORK_SHORT_SIDE))
        for text in LABEL_TEXTS:
            templ = _template(text, ink)
            th, tw = templ.shape[:2]
            if th > span_h or tw > span_w:
                continue
            for corner, region in regions.items():
                scores = cv2.matchTemplate(region, templ, cv2.TM_CCOEFF_NORMED)
                _, peak, _, (px, py) = cv2.minMaxLoc(scores)
                if np.isfinite(peak) and peak > best[0]:
                    ox, oy = origins[corner]
                    best = (float(peak), text, corner, ratio, (ox + px - pad, oy + py - pad, tw, th))
    score, text, corner, ratio, (bx, by, bw, bh) = best
    if score < 0:
        return VisibleLabelDetection(False, 0.0, None, None, None, None, threshold)
    x0, y0 = max(0, bx), max(0, by)  # clipped to the picture
    x1, y1 = min(work_w, bx + bw), min(work_h, by + bh)
    box = (round(x0 / scale), round(y0 / scale), round(max(0, x1 - x0) / scale), round(max(0, y1 - y0) / scale))
    return VisibleLabelDetection(score >= threshold, score, text, corner, ratio, box, threshold)


def explicit_label_mark(detection: VisibleLabelDetection, where: str = "") -> ThirdPartyMark | None:
    """The detection as verify evidence (kind ``explicit_label``), or None when nothing was found."""
    if not detection.detected:
        return None
    return ThirdPartyMark(
        kind="explicit_label",
        location=f"{detection.corner} corner{where}",
        description=f'visible AI label "{detection.text}" (score {detection.score:.2f}, '
        f"text {100 * (detection.height_ratio or 0):.1f}% of the short side)",
        ai_generated=True,
        false_positive_probability=detection.false_positive_probability,
        details=detection.to_dict(),
    )


def detect_visible_label_in_video(path: Path, seconds: float = 3.0, step_seconds: float = 0.5) -> VisibleLabelDetection:
    """The best detection over frames sampled every ``step_seconds`` in the opening ``seconds`` (where
    GB 45438 puts a video's label). Only the opening is decoded. CorruptMedia when it cannot be decoded."""
    from labeler.errors import CorruptMedia

    best = VisibleLabelDetection(False, 0.0, None, None, None, None)
    try:
        with av.open(str(path), "r") as container:
            if not container.streams.video:
                return best
            stream = container.streams.video[0]
            next_time = 0.0
            for frame in container.decode(stream):
                time = float(frame.time or 0.0)
                if time > seconds:
                    break
                if time + 1e-6 < next_time:
                    continue
                next_time = time + step_seconds
                # a rotated or mirrored stream's label is upright and readable as displayed, not as coded
                grey = frame_orientation(frame).to_displayed(frame.to_ndarray(format="gray"))
                found = detect_visible_label(grey)
                if found.score > best.score:
                    best = found
    except av.FFmpegError as exc:
        raise CorruptMedia(f"video decode failed: {exc}") from None
    return best
