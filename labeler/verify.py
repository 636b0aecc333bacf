"""Verification: the one orchestrator that reads every label a file carries and reaches a verdict.

Verdicts follow the CAC Measures: *confirmed* (a valid implicit label, or our watermark with a registry
record), *possible* (only the user's declaration), *suspected* (traces only: our watermark without a
record), *none*. The report always says what was checked, so "none" is never a silent no.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from labeler import formats
from labeler.audio.codec import AudioContainer, sniff_audio
from labeler.audio.pipeline import audio_watermark_dict, verify_audio
from labeler.fileio import read_input
from labeler.metadata.aigc import LABEL_MEANINGS
from labeler.metadata.reader import AigcReading, read_aigc
from labeler.settings import Limits
from labeler.store.registry import LabelRecord, Registry
from labeler.watermark import DEFAULT_FALSE_POSITIVE_LIMIT, ImageDetection, WatermarkKey, detect_image
from labeler.watermark.audio import AudioDetection


class Verdict(StrEnum):
    CONFIRMED = "confirmed"
    POSSIBLE = "possible"
    SUSPECTED = "suspected"
    NONE = "none"


@dataclass(frozen=True)
class MetadataFinding:
    present: bool
    location: str | None = None
    fields: dict[str, Any] | None = None
    label_value: str | None = None
    meaning: str | None = None
    problems: tuple[str, ...] = ()
    producer_explanation: str | None = None

    @classmethod
    def from_reading(cls, reading: AigcReading | None) -> MetadataFinding:
        if reading is None:
            return cls(present=False)
        parsed = reading.parsed
        label = parsed.label
        problems = list(parsed.problems)
        if reading.producer is not None:
            problems.extend(reading.producer.problems)
        return cls(
            present=True,
            location=reading.location,
            fields=label.to_dict() if label else (dict(parsed.raw) if parsed.raw else None),
            label_value=label.label if label else None,
            meaning=LABEL_MEANINGS.get(label.label) if label else None,
            problems=tuple(problems),
            producer_explanation=reading.producer.explanation if reading.producer else None,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "present": self.present,
            "location": self.location,
            "fields": self.fields,
            "label_value": self.label_value,
            "meaning": self.meaning,
            "problems": list(self.problems),
            "producer_explanation": self.producer_explanation,
        }


@dataclass(frozen=True)
class WatermarkFinding:
    checked: bool
    detection: ImageDetection | None = None
    #: Why it was not checked (no key) when ``checked`` is False.
    note: str | None = None
    #: Audio files: the audio watermark's result (``detection`` stays None).
    audio_detection: AudioDetection | None = None

    @property
    def detected(self) -> bool:
        if self.audio_detection is not None:
            return self.audio_detection.detected
        return self.detection is not None and self.detection.detected

    def to_dict(self) -> dict[str, Any]:
        if self.audio_detection is not None:
            return audio_watermark_dict(self.audio_detection)
        d = self.detection
        if d is None:
            return {"checked": self.checked, "detected": False, "note": self.note}
        return {
            "checked": True,
            "detected": d.detected,
            "watermark_id": f"{d.watermark_id:016x}" if d.watermark_id is not None else None,
            "score": round(d.score, 3),
            "false_positive_probability": d.false_positive_probability,
            "sync_p_value": d.sync_p_value,
            "offset": list(d.offset),
            "scale": d.scale,
            "rotation_degrees": d.rotation_degrees,
            "coded_bit_agreement": round(d.coded_bit_agreement, 4),
            "chip_snr": round(d.chip_snr, 3),
            "reason": d.reason,
        }


def _record_dict(record: LabelRecord) -> dict[str, Any]:
    return {
        "produce_id": record.produce_id,
        "content_producer": record.content_producer,
        "watermark_id": f"{record.watermark_id:016x}" if record.watermark_id is not None else None,
        "output_sha256": record.output_sha256,
        "media_format": record.media_format,
        "label_value": record.label_value,
        "created_at": record.created_at,
    }


@dataclass(frozen=True)
class VerifyReport:
    source: str
    format: str
    width: int
    height: int
    sha256: str
    metadata: MetadataFinding
    watermark: WatermarkFinding
    records: tuple[LabelRecord, ...]
    user_declared: bool
    verdict: Verdict
    reason: str
    evidence: tuple[str, ...] = field(default=())
    #: Audio only: container, sample rate, duration and the audible prompt finding.
    audio: dict[str, Any] | None = None

    @property
    def labelled(self) -> bool:
        return self.verdict is not Verdict.NONE

    def to_dict(self) -> dict[str, Any]:
        extra = {"audio": self.audio} if self.audio is not None else {}
        return extra | {
            "source": self.source,
            "format": self.format,
            "width": self.width,
            "height": self.height,
            "sha256": self.sha256,
            "verdict": self.verdict.value,
            "reason": self.reason,
            "evidence": list(self.evidence),
            "metadata": self.metadata.to_dict(),
            "watermark": self.watermark.to_dict(),
            "registry": [_record_dict(r) for r in self.records],
            "user_declared": self.user_declared,
        }


def decide(
    metadata: MetadataFinding, watermark: WatermarkFinding, records: tuple[LabelRecord, ...], user_declared: bool
) -> tuple[Verdict, str, tuple[str, ...]]:
    """The CAC verdict, its one-line reason and the evidence behind it."""
    evidence: list[str] = []
    if metadata.present:
        evidence.append(f"implicit metadata label in {metadata.location} (Label={metadata.label_value})")
    if watermark.detected and watermark.detection is not None:
        d = watermark.detection
        evidence.append(
            f"labeler watermark {d.watermark_id:016x} (false-positive probability {d.false_positive_probability:.1e})"
        )
    elif watermark.detected and watermark.audio_detection is not None:
        a = watermark.audio_detection
        evidence.append(
            f"labeler audio watermark {a.watermark_id:016x} in {a.segments_detected} of {len(a.segments)} segment(s) "
            f"(false-positive probability {a.false_positive_probability:.1e})"
        )
    if records:
        evidence.append(f"registry record for ProduceID {records[0].produce_id} by {records[0].content_producer}")
    if user_declared:
        evidence.append("the uploader declared the content AI-generated")

    if metadata.present and metadata.label_value == "1":
        return Verdict.CONFIRMED, "implicit metadata label says AI-generated", tuple(evidence)
    if watermark.detected and records:
        return Verdict.CONFIRMED, "labeler watermark decoded and found in the registry", tuple(evidence)
    if metadata.present and metadata.label_value == "2":
        return Verdict.POSSIBLE, "implicit metadata label says possibly AI-generated", tuple(evidence)
    if user_declared:
        return Verdict.POSSIBLE, "declared AI-generated by the user; no implicit label found", tuple(evidence)
    if watermark.detected:
        return Verdict.SUSPECTED, "labeler watermark decoded but no registry record matches", tuple(evidence)
    if metadata.present:
        meaning = metadata.meaning or "an unrecognised label value"
        return Verdict.SUSPECTED, f"implicit metadata label present ({meaning})", tuple(evidence)
    checked = ["metadata"] + (["watermark"] if watermark.checked else [])
    return Verdict.NONE, "no label found (checked: " + ", ".join(checked) + ")", tuple(evidence)


class Verifier:
    """Verifies media. Without a key the watermark is not checked (and the report says so)."""

    def __init__(
        self,
        key: WatermarkKey | None = None,
        registry: Registry | None = None,
        limits: Limits | None = None,
        false_positive_limit: float = DEFAULT_FALSE_POSITIVE_LIMIT,
    ) -> None:
        self.key = key
        self.registry = registry
        self.limits = limits or Limits()
        self.false_positive_limit = false_positive_limit

    def verify_bytes(self, data: bytes, source: str = "<bytes>", user_declared: bool = False) -> VerifyReport:
        audio_container = sniff_audio(data) if data else None
        if audio_container is not None:
            return self._verify_audio(data, audio_container, source, user_declared)
        handler = formats.sniff(data)
        metadata = MetadataFinding.from_reading(read_aigc(data, handler))
        image = handler.decode(data, self.limits)
        sha256 = hashlib.sha256(data).hexdigest()

        if self.key is None:
            watermark = WatermarkFinding(checked=False, note="no watermark key configured")
        else:
            watermark = WatermarkFinding(
                checked=True, detection=detect_image(image.pixels, self.key, self.false_positive_limit)
            )
        records: list[LabelRecord] = []
        if self.registry is not None:
            if watermark.detected and watermark.detection and watermark.detection.watermark_id is not None:
                records.extend(self.registry.by_watermark_id(watermark.detection.watermark_id))
            if not records:
                records.extend(self.registry.by_sha256(sha256))
        verdict, reason, evidence = decide(metadata, watermark, tuple(records), user_declared)
        return VerifyReport(
            source=source,
            format=handler.name,
            width=image.width,
            height=image.height,
            sha256=sha256,
            metadata=metadata,
            watermark=watermark,
            records=tuple(records),
            user_declared=user_declared,
            verdict=verdict,
            reason=reason,
            evidence=evidence,
        )

    def _verify_audio(
        self, data: bytes, container: AudioContainer, source: str, user_declared: bool
    ) -> VerifyReport:
        outcome = verify_audio(data, container, self.key, self.false_positive_limit, self.limits)
        metadata = MetadataFinding.from_reading(outcome.metadata)
        if outcome.watermark is None:
            watermark = WatermarkFinding(checked=False, note="no watermark key configured")
        else:
            watermark = WatermarkFinding(checked=True, audio_detection=outcome.watermark)
        sha256 = hashlib.sha256(data).hexdigest()
        records: list[LabelRecord] = []
        if self.registry is not None:
            if outcome.watermark is not None and outcome.watermark.watermark_id is not None:
                records.extend(self.registry.by_watermark_id(outcome.watermark.watermark_id))
            if not records:
                records.extend(self.registry.by_sha256(sha256))
        verdict, reason, evidence = decide(metadata, watermark, tuple(records), user_declared)
        if outcome.prompt.present:
            evidence = (*evidence, "audible \"AI\" rhythm prompt (Morse) present")
        return VerifyReport(
            source=source, format=container.name, width=0, height=0, sha256=sha256, metadata=metadata,
            watermark=watermark, records=tuple(records), user_declared=user_declared, verdict=verdict,
            reason=reason, evidence=evidence, audio=outcome.info(),
        )

    def verify_file(self, path: Path, user_declared: bool = False) -> VerifyReport:
        return self.verify_bytes(read_input(path, self.limits), str(path), user_declared)
