"""The video watermark: the image mark on every frame's luma plane, decoded from many frames at once.

Embedding. The keyed chip pattern depends only on the watermark ID, the key and the resolution, so a
:class:`FrameMarker` computes it once and each frame costs one content mask and one saturating add on
the Y plane (chroma is never touched, so no colour conversion of whole frames).

Detection. Every frame carries the same pattern at the same geometry, so whitened working-size planes
of sampled frames are averaged (the mark adds coherently, picture content and codec noise do not):
the key frames' average and every sampled frame's, each at the unchanged geometry and then through
the lattice search (crops, rescales). Segments of ``segment_seconds`` are decoded on their own to
report which seconds carry the mark.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from labeler.watermark.image import (
    DEFAULT_FALSE_POSITIVE_LIMIT,
    can_embed,
    detect_planes,
    detect_whitened,
    embed_luma_plane,
    working_luma,
    working_pattern,
)
from labeler.watermark.keys import WatermarkKey
from labeler.watermark.masking import Scratch
from labeler.watermark.sync import whiten


class FrameMarker:
    """Marks Y planes of one resolution; the pattern is computed on first use and reused."""

    def __init__(self, watermark_id: int, key: WatermarkKey, strength: float = 1.0) -> None:
        self.watermark_id = watermark_id
        self.key = key
        self.strength = strength
        self._patterns: dict[tuple[int, int], np.ndarray] = {}
        self._scratch = Scratch()  # one marker serves one thread (the transcode's marking worker)

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
        return embed_luma_plane(luma, self.pattern_for(height, width), self.strength, self._scratch)


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
    key_frames_sampled: int = 0
    #: Decoding hypotheses counted in the false-positive bound.
    hypotheses: int = 1
    #: The frames had been mirrored left to right (when ``mirrored``) and then turned clockwise by this many
    #: quarter turns, e.g. by a transcode that applied a phone video's display matrix to the pixels.
    right_angle_turns: int = 0
    mirrored: bool = False

    @property
    def marked_seconds(self) -> float:
        return sum(s.end_seconds - s.start_seconds for s in self.segments if s.detected)


class FrameSample(NamedTuple):
    """One decoded frame handed to the detector: its time, its uint8 HxW Y plane, and whether the codec
    coded it on its own (an I/IDR frame: re-encoders keep the mark best there, see :func:`detect_frames`)."""

    seconds: float
    luma: np.ndarray
    key_frame: bool = False


class _Accumulator:
    """Running sums of working-size luma and whitened planes of frames sharing one geometry."""

    def __init__(self) -> None:
        self.work: np.ndarray | None = None
        self.whitened: np.ndarray | None = None
        self.count = 0

    def add(self, work: np.ndarray, whitened: np.ndarray) -> None:
        if self.work is None or self.whitened is None:
            self.work, self.whitened = work.astype(np.float32), whitened.astype(np.float32)
        elif self.whitened.shape == whitened.shape:
            self.work += work
            self.whitened += whitened
        else:  # a resolution change mid-stream: keep the geometry seen first
            return
        self.count += 1

    def mean(self) -> tuple[np.ndarray, np.ndarray]:
        assert self.work is not None and self.whitened is not None and self.count
        scale = np.float32(1.0 / self.count)
        return self.work * scale, self.whitened * scale


class _FrameSets:
    """All sampled frames, and the key frames alone, of one stretch of video."""

    def __init__(self) -> None:
        self.every = _Accumulator()
        self.key = _Accumulator()

    def add(self, work: np.ndarray, whitened: np.ndarray, key_frame: bool) -> None:
        self.every.add(work, whitened)
        if key_frame:
            self.key.add(work, whitened)

    def planes(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Key frames first (when they are a proper subset), then every frame."""
        planes = [self.key.mean()] if 0 < self.key.count < self.every.count else []
        if self.every.count:
            planes.append(self.every.mean())
        return planes


def detect_frames(
    frames: Iterable[FrameSample],
    key: WatermarkKey,
    segment_seconds: float = 1.0,
    false_positive_limit: float = DEFAULT_FALSE_POSITIVE_LIMIT,
    geometry_search: bool = True,
    prior_hypotheses: int = 0,
) -> VideoDetection:
    """Detect the mark in sampled frames (already chosen by the caller).

    Two averages are decoded: the key frames alone and every sampled frame. Encoders code an I frame
    from scratch, so it carries the mark at the encoder's full quality; predicted frames of moving
    content carry copies of it shifted by their motion vectors, which average to a blur (measured on a
    panning clip re-encoded at H.264 CRF 23: sync z 12.3 from the single I frame, 5.5 from 73 B frames
    averaged). Each plane is decoded at the unchanged geometry, then (``geometry_search``) through its
    lattice candidates, which finds crops and rescales. Every geometry is also tried turned by right
    angles and mirrored (``image.search_planes``): a player or transcoder that applied the stream's
    display matrix to the pixels (ffmpeg does by default) turns the mark, and mirrors it for a front
    camera's mirrored matrix.
    The claim is union-bounded over every hypothesis, plus ``prior_hypotheses`` tried earlier on the
    same video. Segments of ``segment_seconds`` are decoded alone at the geometry and orientation found,
    to report which seconds carry the mark.
    """
    overall = _FrameSets()
    by_segment: dict[int, _FrameSets] = {}
    for sample in frames:
        if min(sample.luma.shape) < 64:
            continue
        work = working_luma(sample.luma)
        whitened = whiten(work)
        overall.add(work, whitened, sample.key_frame)
        segment = by_segment.setdefault(int(sample.seconds // segment_seconds), _FrameSets())
        segment.add(work, whitened, sample.key_frame)
    planes = overall.planes()
    if not planes:
        return VideoDetection(False, None, 0.0, 1.0, 0, "no decodable frames", hypotheses=prior_hypotheses)
    result, geometry, hypotheses = detect_planes(planes, key, false_positive_limit, geometry_search, prior_hypotheses)
    segments = []
    for index in sorted(by_segment):
        sets = by_segment[index]
        decodes = [detect_whitened(whitened, key, false_positive_limit, geometry, result.orientation)
                   for _, whitened in sets.planes()]
        found = [d for d in decodes if d.detected and (not result.detected or d.watermark_id == result.watermark_id)]
        best = found[0] if found else max(decodes, key=lambda d: d.score)
        segments.append(
            SegmentDetection(
                start_seconds=index * segment_seconds,
                end_seconds=(index + 1) * segment_seconds,
                frames=sets.every.count,
                detected=bool(found),
                watermark_id=best.watermark_id,
                score=best.score,
            )
        )
    return VideoDetection(
        detected=result.detected,
        watermark_id=result.watermark_id,
        score=result.score,
        false_positive_probability=result.false_positive_probability,
        frames_sampled=overall.every.count,
        reason=result.reason,
        segments=segments,
        key_frames_sampled=overall.key.count,
        hypotheses=hypotheses,
        right_angle_turns=result.right_angle_turns,
        mirrored=result.mirrored,
    )
