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
from labeler.audio.codec import AudioContainer, sniff_audio, sniff_audio_file
from labeler.audio.pipeline import audio_watermark_dict, verify_audio
from labeler.fileio import check_input, file_sha256, read_input
from labeler.metadata.aigc import LABEL_MEANINGS
from labeler.metadata.reader import AigcReading, read_aigc
from labeler.provenance.c2pa import C2paFinding, ManifestStore, read_c2pa
from labeler.provenance.devca import read_pem_file
from labeler.provenance.securitydata import (
    Role,
    SecurityFinding,
    SecurityStatus,
    load_public_keys,
    verify_label,
)
from labeler.provenance.thirdparty import (
    SdWatermarkDetection,
    ThirdPartyMark,
    detect_sd_watermark,
    find_metadata_marks,
    sd_mark,
)
from labeler.provenance.visible_label import VisibleLabelDetection, detect_visible_label, explicit_label_mark
from labeler.settings import Limits, TrustSettings
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
            "mirrored": d.mirrored,
            "right_angle_turns": d.right_angle_turns,
            "coded_bit_agreement": round(d.coded_bit_agreement, 4),
            "chip_snr": round(d.chip_snr, 3),
            "bit_reliability": [round(z, 2) for z in d.bit_reliability],
            "weakest_bit_z": round(min(d.bit_reliability), 2) if d.bit_reliability else None,
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
    c2pa: C2paFinding | None = None
    security: SecurityFinding | None = None
    third_party: tuple[ThirdPartyMark, ...] = ()
    sd_watermark: SdWatermarkDetection | None = None
    #: The propagation platform's SecurityData (ReservedCode2), when it wrote one.
    propagator_security: SecurityFinding | None = None
    #: Images: the visible-label (explicit label) trace search in the corners.
    explicit_label: VisibleLabelDetection | None = None

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
            "c2pa": self.c2pa.to_dict() if self.c2pa else {"present": False},
            "security_data": self.security.to_dict() if self.security else None,
            "third_party": [m.to_dict() for m in self.third_party],
            "sd_watermark": self.sd_watermark.to_dict() if self.sd_watermark else None,
            "propagator_security_data": self.propagator_security.to_dict() if self.propagator_security else None,
            "explicit_label": self.explicit_label.to_dict() if self.explicit_label else None,
        }


def decide(
    metadata: MetadataFinding,
    watermark: WatermarkFinding,
    records: tuple[LabelRecord, ...],
    user_declared: bool,
    *,
    c2pa: C2paFinding | None = None,
    security: SecurityFinding | None = None,
    marks: tuple[ThirdPartyMark, ...] = (),
) -> tuple[Verdict, str, tuple[str, ...]]:
    """The CAC verdict, its one-line reason and the evidence behind it (see docs/provenance.md).

    *Valid implicit label* means: an AIGC metadata label that parses with Label "1" and whose
    SecurityData, when it has any, verifies and is bound to this content (an unsigned label is valid:
    the standard does not require a signature); or an embedded C2PA manifest whose state is Trusted and
    whose c2pa.created action says trainedAlgorithmicMedia (or another AI source type). A signed label
    that is tampered or not bound, a C2PA manifest that is untrusted or invalid, and other providers'
    marks are traces only: *suspected*.
    """
    evidence: list[str] = []
    if metadata.present:
        evidence.append(f"implicit metadata label in {metadata.location} (Label={metadata.label_value})")
    if security is not None and security.status is not SecurityStatus.ABSENT:
        evidence.append(f"AIGC label SecurityData {security.status.value}: {security.reason}")
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
    if c2pa is not None and c2pa.present:
        what = f"C2PA manifest ({c2pa.source or 'embedded'}, {c2pa.state}"
        what += f", signed by {c2pa.common_name} / {c2pa.issuer}" if c2pa.common_name else ""
        source_type = c2pa.digital_source_type.rsplit("/", 1)[-1] if c2pa.digital_source_type else None
        what += f", digitalSourceType {source_type})" if source_type else ")"
        evidence.append(what)
    for mark in marks:
        probability = mark.false_positive_probability
        fp = f" (false-positive probability {probability:.1e})" if probability is not None else ""
        evidence.append(f"{mark.description} in {mark.location}{fp}")
    if user_declared:
        evidence.append("the uploader declared the content AI-generated")

    label_broken = security is not None and security.status in (
        SecurityStatus.TAMPERED,
        SecurityStatus.UNBOUND,
        SecurityStatus.MALFORMED,
    )
    embedded_c2pa = c2pa is not None and c2pa.present and c2pa.source == "embedded"
    if metadata.present and metadata.label_value == "1" and not label_broken:
        signed = " (signature valid and bound to this content)" if security is not None and security.authentic else ""
        return Verdict.CONFIRMED, "implicit metadata label says AI-generated" + signed, tuple(evidence)
    if embedded_c2pa and c2pa is not None and c2pa.trusted and c2pa.ai_generated:
        return Verdict.CONFIRMED, "trusted C2PA manifest declares AI-generated content", tuple(evidence)
    if watermark.detected and records:
        return Verdict.CONFIRMED, "labeler watermark decoded and found in the registry", tuple(evidence)
    if metadata.present and metadata.label_value == "2" and not label_broken:
        return Verdict.POSSIBLE, "implicit metadata label says possibly AI-generated", tuple(evidence)
    if user_declared:
        return Verdict.POSSIBLE, "declared AI-generated by the user; no implicit label found", tuple(evidence)
    if watermark.detected:
        return Verdict.SUSPECTED, "labeler watermark decoded but no registry record matches", tuple(evidence)
    if metadata.present and label_broken and security is not None:
        return Verdict.SUSPECTED, f"implicit metadata label present but its signature is {security.status.value}", (
            tuple(evidence)
        )
    if metadata.present:
        meaning = metadata.meaning or "an unrecognised label value"
        return Verdict.SUSPECTED, f"implicit metadata label present ({meaning})", tuple(evidence)
    if c2pa is not None and c2pa.present and c2pa.ai_generated:
        return Verdict.SUSPECTED, f"C2PA manifest declares AI-generated content but is {c2pa.state}", tuple(evidence)
    ai_marks = [m for m in marks if m.ai_generated]
    if ai_marks and all(m.kind == "explicit_label" for m in ai_marks):  # a trace, never confirmed on its own
        return Verdict.SUSPECTED, "visible AI label found: " + "; ".join(m.description for m in ai_marks), tuple(
            evidence
        )
    if ai_marks:
        return Verdict.SUSPECTED, "other providers' marks: " + "; ".join(m.description for m in ai_marks), tuple(
            evidence
        )
    checked = ["metadata"] + (["watermark"] if watermark.checked else []) + ["C2PA", "other providers' marks"]
    return Verdict.NONE, "no label found (checked: " + ", ".join(checked) + ")", tuple(evidence)


class Verifier:
    """Verifies media. Without a key the watermark is not checked (and the report says so)."""

    def __init__(
        self,
        key: WatermarkKey | None = None,
        registry: Registry | None = None,
        limits: Limits | None = None,
        false_positive_limit: float = DEFAULT_FALSE_POSITIVE_LIMIT,
        trust: TrustSettings | None = None,
    ) -> None:
        self.key = key
        self.registry = registry
        self.limits = limits or Limits()
        self.false_positive_limit = false_positive_limit
        self.trust = trust or TrustSettings()
        self._label_keys = load_public_keys(self.trust.label_keys)
        anchors = self.trust.c2pa_trust_anchors
        self._anchors = read_pem_file(anchors, "C2PA trust anchors") if anchors is not None else None

    def verify_bytes(self, data: bytes, source: str = "<bytes>", user_declared: bool = False) -> VerifyReport:
        audio_container = sniff_audio(data) if data else None
        if audio_container is not None:
            return self._verify_audio(data, audio_container, source, user_declared)
        handler = formats.sniff(data)
        reading = read_aigc(data, handler)
        metadata = MetadataFinding.from_reading(reading)
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
        security = propagator_security = None
        if reading is not None and reading.parsed.label is not None:
            label = reading.parsed.label
            security = verify_label(label, data, handler.name, self._label_keys)
            if label.reserved_code2.strip():
                propagator_security = verify_label(label, data, handler.name, self._label_keys, Role.PROPAGATOR)
        c2pa = self._c2pa(data, handler.name, watermark, records)
        sd = detect_sd_watermark(image.pixels)
        marks = find_metadata_marks(data, handler)
        sd_found = sd_mark(sd)
        if sd_found is not None:
            marks.append(sd_found)
        visible = detect_visible_label(image.pixels)
        visible_mark = explicit_label_mark(visible)
        if visible_mark is not None:
            marks.append(visible_mark)
        verdict, reason, evidence = decide(
            metadata, watermark, tuple(records), user_declared, c2pa=c2pa, security=security, marks=tuple(marks)
        )
        if propagator_security is not None:
            evidence = (
                *evidence,
                f"propagator SecurityData {propagator_security.status.value}: {propagator_security.reason}",
            )
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
            c2pa=c2pa,
            security=security,
            third_party=tuple(marks),
            sd_watermark=sd,
            propagator_security=propagator_security,
            explicit_label=visible,
        )

    def _verify_audio(
        self, data: bytes | Path, container: AudioContainer, source: str, user_declared: bool
    ) -> VerifyReport:
        """``data`` is the file's bytes, or its path (then it is never read whole: hours-long files)."""
        outcome = verify_audio(data, container, self.key, self.false_positive_limit, self.limits)
        metadata = MetadataFinding.from_reading(outcome.metadata)
        if outcome.watermark is None:
            watermark = WatermarkFinding(checked=False, note="no watermark key configured")
        else:
            watermark = WatermarkFinding(checked=True, audio_detection=outcome.watermark)
        sha256 = file_sha256(data) if isinstance(data, Path) else hashlib.sha256(data).hexdigest()
        records: list[LabelRecord] = []
        if self.registry is not None:
            if outcome.watermark is not None and outcome.watermark.watermark_id is not None:
                records.extend(self.registry.by_watermark_id(outcome.watermark.watermark_id))
            if not records:
                records.extend(self.registry.by_sha256(sha256))
        security = None
        if outcome.metadata is not None and outcome.metadata.parsed.label is not None:
            security = verify_label(outcome.metadata.parsed.label, data, container.name, self._label_keys)
        c2pa = self._c2pa(data, container.name, watermark, records)
        verdict, reason, evidence = decide(
            metadata, watermark, tuple(records), user_declared, c2pa=c2pa, security=security
        )
        if outcome.prompt.present:
            evidence = (*evidence, "audible \"AI\" rhythm prompt (Morse) present")
        return VerifyReport(
            source=source, format=container.name, width=0, height=0, sha256=sha256, metadata=metadata,
            watermark=watermark, records=tuple(records), user_declared=user_declared, verdict=verdict,
            reason=reason, evidence=evidence, audio=outcome.info(), c2pa=c2pa, security=security,
        )
    def _c2pa(
        self, data: bytes | Path, media_format: str, watermark: WatermarkFinding, records: list[LabelRecord]
    ) -> C2paFinding:
        """The embedded manifest; when there is none but our watermark decodes, the manifest kept under
        its ID (the soft binding). A valid manifest of ours with no record yet finds it by soft binding."""
        finding = read_c2pa(data, media_format, self._anchors)
        wm_id = watermark.detection.watermark_id if watermark.detected and watermark.detection else None
        if watermark.detected and watermark.audio_detection is not None:
            wm_id = watermark.audio_detection.watermark_id
        if not finding.present and wm_id is not None and self.trust.manifest_dir is not None:
            store = ManifestStore(self.trust.manifest_dir).load(wm_id)
            if store is not None:
                recovered = read_c2pa(data, media_format, self._anchors, manifest_store=store)
                if recovered.soft_binding and recovered.soft_binding.get("value") == f"{wm_id:016x}":
                    finding = recovered
        if finding.valid and finding.ours and not records and self.registry is not None and finding.soft_binding:
            try:
                soft_id = int(finding.soft_binding["value"], 16)
            except ValueError:
                soft_id = -1
            if 0 <= soft_id < 2**64:
                records.extend(self.registry.by_watermark_id(soft_id))
        return finding

    def verify_file(self, path: Path, user_declared: bool = False, source: str | None = None) -> VerifyReport:
        """Audio is verified from the path (decoded block by block, hashed in blocks, never read whole, so
        ``max_bytes`` does not apply: ``max_audio_seconds`` bounds it, as for streamed labeling); anything
        else from the file's bytes. ``source`` names the file in the report (default: the path)."""
        name = str(path) if source is None else source
        if check_input(path) > 0:
            container = sniff_audio_file(path)
            if container is not None:
                return self._verify_audio(path, container, name, user_declared)
        return self.verify_bytes(read_input(path, self.limits), name, user_declared)
