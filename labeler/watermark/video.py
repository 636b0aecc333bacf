"""The video watermark: the image mark on every frame's luma plane, decoded from many frames at once.

Embedding. The keyed chip pattern depends only on the watermark ID, the key and the resolution, so a
:class:`FrameMarker` computes it once and each frame costs one content mask and one saturating add on
the Y plane (chroma is never touched, so no colour conversion of whole frames).

Detection. Every frame carries the same pattern at the same geometry, so whitened working-size planes
of sampled frames are averaged (the mark adds coherently, picture content and codec noise do not)
and the average is decoded once. Segments of ``segment_seconds`` are decoded on their own to report
which seconds carry the mark.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from labeler.watermark.image import (
    DEFAULT_FALSE_POSITIVE_LIMIT,
    ImageDetection,
    can_embed,
    detect_whitened,
    embed_luma_plane,
    whitened_working_luma,
    working_pattern,
)
from labeler.watermark.keys import WatermarkKey


class FrameMarker:
    """Marks Y planes of one resolution; the pattern is computed on first use and reused."""

    def __init__(self, watermark_id: int, key: WatermarkKey, strength: float = 1.0) -> None:
        self.watermark_id = watermark_id
        self.key = key
        self.strength = strength
        self._patterns: dict[tuple[int, int], np.ndarray] = {}

    def pattern_for(self, height: int, width: int) -> np.ndarray:
        size = (height, width)
        pattern = self._patterns.get(size)
        if pattern is None:
            pattern = working_pattern(self.watermark_id, self.key, height, width)
            self._patterns[size] = pattern
        return pattern

    def mark(self, luma: np.ndarray) -> np.ndarray:
        """A marked copy of the uint8 HxW Y plane (unchanged copy when too small to carry the mark)."""
        height, width = luma.shape
        if not can_embed(height, width):
            return luma.copy()
        return embed_luma_plane(luma, self.pattern_for(height, width), self.strength)


@dataclass(frozen=True)
class SegmentDetection:
    start_seconds: float
    end_seconds: float
    frames: int
    detected: bool
    watermark_id: int | None
    score: float


@dataclass(frozen=True)
class VideoDetection:
    detected: bool
    watermark_id: int | None
    score: float
    false_positive_probability: float
    frames_sampled: int
    reason: str
    segments: list[SegmentDetection] = field(default_factory=list)

    @property
    def marked_seconds(self) -> float:
        return sum(s.end_seconds - s.start_seconds for s in self.segments if s.detected)


class _Accumulator:
    def __init__(self) -> None:
        self.total: np.ndarray | None = None
        self.count = 0

    def add(self, plane: np.ndarray) -> None:
        if self.total is None:
            self.total = plane.astype(np.float32).copy()
        elif self.total.shape == plane.shape:
            self.total += plane
        else:  # a resolution change mid-stream: keep the geometry seen first
            return
        self.count += 1

    def mean(self) -> np.ndarray | None:
        return None if self.total is None else self.total / np.float32(self.count)


def detect_frames(
    frames: Iterable[tuple[float, np.ndarray]],
    key: WatermarkKey,
    segment_seconds: float = 1.0,
    false_positive_limit: float = DEFAULT_FALSE_POSITIVE_LIMIT,
) -> VideoDetection:
    """Detect the mark in ``(timestamp seconds, uint8 Y plane)`` pairs (already sampled by the caller).

    The overall claim comes from all frames averaged; each segment is also decoded alone. Every decode
    is one hypothesis, so the overall false-positive bound uses the limit divided by the number of
    decodes tried (segments only inform where, the claim is the overall one).
    """
    overall = _Accumulator()
    by_segment: dict[int, _Accumulator] = {}
    for seconds, luma in frames:
        if min(luma.shape) < 64:
            continue
        plane = whitened_working_luma(luma)
        overall.add(plane)
        by_segment.setdefault(int(seconds // segment_seconds), _Accumulator()).add(plane)
    mean = overall.mean()
    if mean is None:
        return VideoDetection(False, None, 0.0, 1.0, 0, "no decodable frames")
    result: ImageDetection = detect_whitened(mean, key, false_positive_limit)
    segments = []
    for index in sorted(by_segment):
        acc = by_segment[index]
        seg_mean = acc.mean()
        assert seg_mean is not None
        seg = detect_whitened(seg_mean, key, false_positive_limit)
        segments.append(
            SegmentDetection(
                start_seconds=index * segment_seconds,
                end_seconds=(index + 1) * segment_seconds,
                frames=acc.count,
                detected=seg.detected and (not result.detected or seg.watermark_id == result.watermark_id),
                watermark_id=seg.watermark_id,
                score=seg.score,
            )
        )
    return VideoDetection(
        detected=result.detected,
        watermark_id=result.watermark_id,
        score=result.score,
        false_positive_probability=result.false_positive_probability,
        frames_sampled=overall.count,
        reason=result.reason,
        segments=segments,
    )
