"""Label and verify audio files: the audio branch behind ``Labeler.label_bytes`` and ``Verifier.verify_bytes``.

Order, as for images: the audible prompt first (so the watermark covers it too), then the watermark,
then the container is written with the AIGC label in its metadata.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from labeler.audio.codec import (
    AIGC_KEY,
    AudioContainer,
    AudioReader,
    DecodedAudio,
    decode_audio,
    encode_audio,
    read_audio_tags,
    resample_pcm,
)
from labeler.errors import EmptyMedia, InputNotFound, InvalidOption, LabelerError
from labeler.explicit.audio_prompt import PromptDetection, PromptEnds, PromptOptions, add_prompt, detect_prompt
from labeler.metadata.aigc import AigcLabel, parse_aigc_json
from labeler.metadata.producer_code import parse_content_producer
from labeler.metadata.reader import AigcReading
from labeler.provenance.securitydata import LabelSigner
from labeler.settings import Limits
from labeler.watermark.audio import (
    AudioDetection,
    AudioWatermarkSettings,
    StreamingAudioDetector,
    embed_audio,
)
from labeler.watermark.keys import WatermarkKey


def _stream_info(decoded: DecodedAudio, duration_seconds: float) -> dict[str, Any]:
    return {
        "container": decoded.container.name,
        "codec": decoded.codec,
        "sample_rate": decoded.sample_rate,
        "channels": decoded.channels,
        "duration_s": round(duration_seconds, 3),
    }


@dataclass(frozen=True)
class AudioLabelOutcome:
    data: bytes
    decoded: DecodedAudio
    prompt: PromptOptions | None
    watermark_id: int | None
    duration_seconds: float
    #: The AIGC label as written (with its SecurityData when signed).
    aigc: AigcLabel | None = None

    def info(self) -> dict[str, Any]:
        return {
            **_stream_info(self.decoded, self.duration_seconds),
            "prompt": (
                {"kind": self.prompt.kind, "at_end": self.prompt.at_end} if self.prompt is not None else None
            ),
            "aigc_location": self.decoded.container.aigc_location,
        }


def load_voice(path_text: str, sample_rate: int, limits: Limits) -> np.ndarray:
    path = Path(path_text)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputNotFound(f"voice prompt {path} does not exist") from None
    except OSError as exc:
        raise InvalidOption(f"cannot read voice prompt {path}: {exc.strerror or exc}") from None
    try:
        voice = decode_audio(data, limits)
    except LabelerError as exc:
        raise InvalidOption(f"voice prompt {path}: {exc.message}") from None
    if voice.duration > 10:
        raise InvalidOption(f"voice prompt {path} lasts {voice.duration:.1f} s (at most 10 s)")
    return resample_pcm(voice.pcm, voice.sample_rate, sample_rate)


def label_audio(
    data: bytes,
    container: AudioContainer,
    *,
    key: WatermarkKey | None,
    watermark_id: int | None,
    aigc: AigcLabel | None,
    prompt: PromptOptions | None,
    strength: float,
    limits: Limits,
    label_signer: LabelSigner | None = None,
) -> AudioLabelOutcome:
    decoded = decode_audio(data, limits, container)
    pcm = decoded.pcm
    if prompt is not None and prompt.kind != "none":
        voice = None
        if prompt.kind == "voice":
            assert prompt.voice_path is not None
            voice = load_voice(str(prompt.voice_path), decoded.sample_rate, limits)
        pcm = add_prompt(pcm, decoded.sample_rate, prompt, voice)
        # The decoded samples are not needed any more (only the stream's parameters): drop them rather than
        # hold the programme twice.
        decoded = replace(decoded, pcm=decoded.pcm[:0])
    if watermark_id is not None:
        assert key is not None
        # in place: an hour of audio is not held twice (the decoded copy is not needed after this)
        pcm = embed_audio(pcm, decoded.sample_rate, watermark_id, key, AudioWatermarkSettings(strength=strength),
                          in_place=True)
    output = encode_audio(decoded, pcm, aigc.to_json() if aigc is not None else None)
    if aigc is not None and label_signer is not None:  # SecurityData in ReservedCode1 (labeler/provenance/)
        from labeler.provenance.pipeline_steps import sign_reencoded_label

        aigc, output = sign_reencoded_label(
            aigc, output, container.name, lambda signed: encode_audio(decoded, pcm, signed.to_json()), label_signer
        )
    return AudioLabelOutcome(
        data=output,
        decoded=decoded,
        prompt=prompt if prompt is not None and prompt.kind != "none" else None,
        watermark_id=watermark_id,
        duration_seconds=pcm.shape[0] / decoded.sample_rate,
        aigc=aigc,
    )


def read_audio_aigc(data: bytes | Path, container: AudioContainer) -> AigcReading | None:
    """The AIGC label in the container's metadata: a tag named AIGC (any case) first, then any tag
    whose text is an AIGC JSON object. Never raises."""
    try:
        tags = read_audio_tags(data, container)
        ordered = sorted(tags.items(), key=lambda item: not item[0].rsplit(" ", 1)[-1].upper().endswith(AIGC_KEY))
        for location, text in ordered:
            if "{" not in text or len(text) > 64 * 1024:
                continue
            start, end = text.find("{"), text.rfind("}")
            parsed = parse_aigc_json(text[start : end + 1])
            named = location.rsplit(" ", 1)[-1].upper().endswith(AIGC_KEY)
            if parsed.label is None and not (named and parsed.raw is not None):
                continue
            producer = parse_content_producer(parsed.label.content_producer) if parsed.label is not None else None
            return AigcReading(json_text=text, location=location, parsed=parsed, producer=producer)
    except Exception:
        return None
    return None


@dataclass(frozen=True)
class AudioVerifyOutcome:
    #: The stream's description (no samples: verification never holds the decoded programme).
    decoded: DecodedAudio
    metadata: AigcReading | None
    watermark: AudioDetection | None
    prompt: PromptDetection
    duration_seconds: float

    def info(self) -> dict[str, Any]:
        return {**_stream_info(self.decoded, self.duration_seconds), "prompt": self.prompt.to_dict()}


def verify_audio(
    data: bytes | Path, container: AudioContainer, key: WatermarkKey | None, false_positive_limit: float,
    limits: Limits,
) -> AudioVerifyOutcome:
    """Metadata, watermark and prompt of an audio file (its bytes, or its path: then never read whole),
    decoded block by block: the watermark detector and the prompt's two ends keep what they need (memory
    bounded whatever the duration; decoding an hour of stereo whole took 1.4 GB)."""
    if (data.stat().st_size if isinstance(data, Path) else len(data)) == 0:
        raise EmptyMedia("the file is empty (0 bytes)")
    reading = read_audio_aigc(data, container)
    with AudioReader(data, limits, container) as reader:
        settings = AudioWatermarkSettings(false_positive_limit=false_positive_limit)
        detector = StreamingAudioDetector(reader.sample_rate, key, settings) if key is not None else None
        ends = PromptEnds(reader.sample_rate)
        for block in reader.blocks():
            if detector is not None:
                detector.feed(block)
            ends.feed(block)
        decoded = reader.decoded()
        frames = reader.frames
    detection = detector.finish() if detector is not None else None
    return AudioVerifyOutcome(
        decoded, reading, detection, detect_prompt(ends.pcm(), decoded.sample_rate), frames / decoded.sample_rate
    )


def audio_watermark_dict(detection: AudioDetection) -> dict[str, Any]:
    return {
        "checked": True,
        "detected": detection.detected,
        "watermark_id": f"{detection.watermark_id:016x}" if detection.watermark_id is not None else None,
        "false_positive_probability": detection.false_positive_probability,
        "segments_detected": detection.segments_detected,
        "segments": [s.to_dict() for s in detection.segments],
        "reason": detection.reason,
    }
