"""`labeler verify` for video files: the container's AIGC tag, the per-frame watermark aggregated over
sampled frames (with which seconds carry it), the soundtrack's watermark and prompt, the registry
record, and the CAC verdict — as a report of
the same shape the CLI prints for images and audio. Videos are read from their path (streamed), never
loaded whole."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from labeler.audio.pipeline import audio_watermark_dict
from labeler.fileio import file_sha256 as file_sha256  # re-exported (video labeling and propagation use it)
from labeler.metadata.aigc import LABEL_MEANINGS, parse_aigc_json
from labeler.provenance.video_verify import video_provenance
from labeler.provenance.visible_label import detect_visible_label_in_video, explicit_label_mark
from labeler.settings import Limits, TrustSettings
from labeler.store.registry import Registry
from labeler.verification import Verdict, _record_dict
from labeler.video.containers import sniff_video
from labeler.video.limits import check_video_header
from labeler.video.soundtrack import verify_soundtrack
from labeler.video.transcode import _open_input, detect_video_file, read_aigc
from labeler.watermark import WatermarkKey


def verify_video_file(
    path: Path, key: WatermarkKey | None, registry: Registry | None, user_declared: bool = False,
    trust: TrustSettings | None = None, limits: Limits | None = None,
) -> dict[str, Any]:
    with open(path, "rb") as handle:
        container = sniff_video(handle.read(64))
    inp, _ = _open_input(path)
    with inp:
        stream = inp.streams.video[0] if inp.streams.video else None
        if stream is not None:  # before any frame is decoded (the label check, the watermark, the sound)
            check_video_header(inp, stream, limits or Limits())
        width, height = (stream.codec_context.width, stream.codec_context.height) if stream else (0, 0)
    raw = read_aigc(path)
    parsed = parse_aigc_json(json.dumps(raw, ensure_ascii=False)) if raw is not None else None
    label = parsed.label if parsed is not None else None
    metadata: dict[str, Any] = {"present": label is not None}
    if label is not None and parsed is not None:
        metadata.update(location=f"{container.name if container else 'video'} container tag AIGC",
                        fields=label.to_dict(), label_value=label.label, meaning=LABEL_MEANINGS.get(label.label),
                        problems=list(parsed.problems))

    watermark: dict[str, Any] = {"checked": key is not None}
    records: list[dict[str, Any]] = []
    evidence: list[str] = []
    detection = detect_video_file(path, key, limits=limits) if key is not None else None
    if detection is not None:
        segments = [{"start_s": s.start_seconds, "end_s": s.end_seconds, "frames": s.frames, "detected": s.detected,
                     "score": round(s.score, 2)} for s in detection.segments]
        watermark.update(
            detected=detection.detected,
            watermark_id=f"{detection.watermark_id:016x}" if detection.watermark_id is not None else None,
            score=detection.score, false_positive_probability=detection.false_positive_probability,
            frames_sampled=detection.frames_sampled, reason=detection.reason, segments=segments,
            segments_detected=sum(s["detected"] for s in segments),
            key_frames_sampled=detection.key_frames_sampled, hypotheses=detection.hypotheses,
            rotation_degrees=90 * detection.right_angle_turns, mirrored=detection.mirrored,
            right_angle_turns=detection.right_angle_turns,
        )
        if detection.detected and detection.watermark_id is not None:
            evidence.append(f"labeler watermark {detection.watermark_id:016x} in "
                            f"{watermark['segments_detected']} of {len(segments)} second(s) "
                            f"(false-positive probability {detection.false_positive_probability:.1e})")
            if registry is not None:
                records = [_record_dict(r) for r in registry.by_watermark_id(detection.watermark_id)]
    else:
        watermark.update(detected=False, note="no watermark key configured")
    soundtrack, sound_id, prompt_found = _soundtrack_report(path, key)
    if sound_id is not None and soundtrack is not None:
        evidence.append(f"labeler audio watermark {sound_id:016x} in the soundtrack (false-positive probability "
                        f"{soundtrack['watermark']['false_positive_probability']:.1e})")
        if registry is not None and not records:
            records = [_record_dict(r) for r in registry.by_watermark_id(sound_id)]
    if prompt_found:
        evidence.append("audible \"AI\" rhythm prompt at the start of the soundtrack")
    mark_found = bool(watermark.get("detected")) or sound_id is not None
    if label is not None:
        evidence.insert(0, f"implicit metadata label in {metadata['location']} (Label={label.label})")
    if records:
        evidence.append(f"registry record for ProduceID {records[0]['produce_id']}")
    wm_id = detection.watermark_id if detection is not None and detection.detected else None
    provenance = video_provenance(path, container.name if container else "video", label, wm_id,
                                  trust or TrustSettings())
    evidence.extend(provenance.evidence)
    c2pa_finding = provenance.c2pa
    if not records and registry is not None and c2pa_finding.valid and c2pa_finding.ours and c2pa_finding.soft_binding:
        # a valid manifest of ours finds the registry record by its soft binding, without a watermark key
        try:
            soft_id = int(c2pa_finding.soft_binding["value"], 16)
        except ValueError:
            soft_id = -1
        if 0 <= soft_id < 2**64:
            records = [_record_dict(r) for r in registry.by_watermark_id(soft_id)]
    visible = detect_visible_label_in_video(path)
    visible_mark = explicit_label_mark(visible, " of the opening frames")
    if visible_mark is not None:
        fp = visible_mark.false_positive_probability or 0.0
        evidence.append(f"{visible_mark.description} in {visible_mark.location} (false-positive probability {fp:.1e})")
    if user_declared:
        evidence.append("the uploader declared the content AI-generated")

    broken = provenance.label_broken
    security = provenance.security
    if label is not None and label.label == "1" and not broken:
        signed = " (signature valid and bound to this content)" if security is not None and security.authentic else ""
        verdict, reason = Verdict.CONFIRMED, "implicit metadata label says AI-generated" + signed
    elif provenance.c2pa_confirms:
        verdict, reason = Verdict.CONFIRMED, "trusted C2PA manifest declares AI-generated content"
    elif mark_found and records:
        verdict, reason = Verdict.CONFIRMED, "labeler watermark decoded and found in the registry"
    elif label is not None and label.label == "2" and not broken:
        verdict, reason = Verdict.POSSIBLE, "implicit metadata label says possibly AI-generated"
    elif user_declared:
        verdict, reason = Verdict.POSSIBLE, "declared AI-generated by the user; no implicit label found"
    elif mark_found:
        verdict, reason = Verdict.SUSPECTED, "labeler watermark decoded but no registry record matches"
    elif label is not None and broken and security is not None:
        verdict = Verdict.SUSPECTED
        reason = f"implicit metadata label present but its signature is {security.status.value}"
    elif label is not None:
        verdict, reason = Verdict.SUSPECTED, f"implicit metadata label present ({metadata.get('meaning')})"
    elif visible_mark is not None:  # a trace, never confirmed on its own
        verdict, reason = Verdict.SUSPECTED, f"visible AI label found: {visible_mark.description}"
    elif prompt_found:  # likewise
        verdict, reason = Verdict.SUSPECTED, "audible AI prompt found at the start of the soundtrack"
    elif provenance.c2pa.present and provenance.c2pa.ai_generated:
        verdict = Verdict.SUSPECTED
        reason = f"C2PA manifest declares AI-generated content but is {provenance.c2pa.state}"
    else:
        verdict, reason = Verdict.NONE, ("no label found (checked: container metadata, per-frame watermark, "
                                         "soundtrack watermark and prompt, visible label, C2PA)")
    return {
        "source": str(path), "format": container.name if container else "video", "width": width, "height": height,
        "sha256": file_sha256(path), "metadata": metadata, "watermark": watermark, "registry": records,
        "user_declared": user_declared, "verdict": verdict.value, "reason": reason, "evidence": evidence,
        **provenance.to_dict(), "explicit_label": visible.to_dict(), "soundtrack": soundtrack,
    }


def _soundtrack_report(path: Path, key: WatermarkKey | None) -> tuple[dict[str, Any] | None, int | None, bool]:
    """The soundtrack section of the report, the audio watermark ID it decoded, and whether the prompt
    is there (None, None, False without a usable soundtrack)."""
    findings = verify_soundtrack(path, key)
    if findings is None:
        return None, None, False
    section: dict[str, Any] = {
        "sample_rate": findings.sample_rate, "duration_s": findings.duration_seconds,
        "prompt": findings.prompt.to_dict(),
        "watermark": audio_watermark_dict(findings.watermark) if findings.watermark is not None
        else {"checked": False, "detected": False, "note": "no watermark key configured"},
    }
    detection = findings.watermark
    found = detection.watermark_id if detection is not None and detection.detected else None
    return section, found, findings.prompt.present_at_start
