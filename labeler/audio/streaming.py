"""Label an audio file from path to path in memory bounded independently of its length.

What ``label_audio`` (labeler/audio/pipeline.py) does in memory, done through a temporary raw float32
file (labeler/audio/raw.py) in the destination's folder:

1. Decode (``AudioReader``: every check ``decode_audio`` makes) into the raw file, after room left for
   the opening prompt, measuring the programme's gated loudness on the way.
2. The audible prompt, level-matched to that loudness, written into the room before the programme (and
   after it with ``at_end``): the programme is shifted, never covered, sample for sample as ``add_prompt``.
3. The watermark embedded window by window (PERIODS_PER_WINDOW periods; audio under 1.5 windows, about
   49 s, is marked whole, exactly as in memory).
4. Encoded from the raw file, block by block, into a temporary file beside the destination with the
   AIGC label in the container's place (``encode_audio_file``); SecurityData signed by encoding again
   with the signed label (the coded content must not change, checked) and C2PA signed file to file, last.
5. Renamed into place only when all of that succeeded: never a half-written output.

Memory: one watermark window (32.6 s of audio, 11.5 MB of 44.1 kHz stereo float32) plus the decoder's and
encoder's buffers, whatever the file's length; the loudness meter keeps one float64 per 100 ms (1.2 MB
for 4 h). Disk: the raw file holds the labeled PCM (10.6 MB per minute of 44.1 kHz stereo) until the
output is written.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from labeler.audio.codec import ENCODE_BLOCK_FRAMES, AudioContainer, AudioReader, encode_audio_file
from labeler.audio.pipeline import AudioLabelOutcome, load_voice
from labeler.audio.raw import LoudnessMeter, RawPcm, watermark_windows
from labeler.errors import OutputNotWritable
from labeler.explicit.audio_prompt import PromptOptions, prompt_samples
from labeler.fileio import file_sha256, replace_with_finished
from labeler.metadata.aigc import AigcLabel
from labeler.provenance.securitydata import LabelSigner
from labeler.provenance.video_steps import temp_beside
from labeler.settings import C2paSettings, Limits
from labeler.watermark.audio import AudioWatermarkSettings
from labeler.watermark.keys import WatermarkKey


@dataclass(frozen=True)
class StreamedAudioLabel:
    """What :func:`label_audio_file` did. ``outcome.data`` is empty: the labeled audio is in the file."""

    outcome: AudioLabelOutcome
    input_sha256: str
    output_sha256: str
    c2pa: dict[str, Any] | None = None
    c2pa_manifest_store: bytes | None = None


def label_audio_file(
    source: Path,
    destination: Path,
    container: AudioContainer,
    *,
    key: WatermarkKey | None,
    watermark_id: int | None,
    aigc: AigcLabel | None,
    prompt: PromptOptions | None,
    strength: float,
    limits: Limits,
    label_signer: LabelSigner | None = None,
    c2pa: C2paSettings | None = None,
    force: bool = False,
    window: int | None = None,
) -> StreamedAudioLabel:
    """Label the audio file ``source`` into ``destination`` (checked by the caller: a different file that
    may be created); ``window`` overrides the watermark window (frames; tests)."""
    if c2pa is not None:
        from labeler.provenance.c2pa import mime_for

        mime_for(container.name)  # before any work: UnsupportedFormat for containers c2pa cannot sign
    prompt = prompt if prompt is not None and prompt.kind != "none" else None
    folder = destination.parent if str(destination.parent) else Path(".")
    temporaries: list[Path] = []
    try:
        with _decode_to_raw(source, container, prompt, limits, folder) as (raw, decoded):
            if watermark_id is not None:
                assert key is not None
                watermark_windows(raw, decoded.sample_rate, watermark_id, key,
                                  AudioWatermarkSettings(strength=strength), window)
            frames = raw.frames

            def encode(label: AigcLabel | None) -> Path:
                path = temp_beside(destination, destination.suffix or container.extensions[0])
                temporaries.append(path)
                encode_audio_file(decoded, raw.blocks(ENCODE_BLOCK_FRAMES), label.to_json() if label else None, path)
                return path

            labeled = encode(aigc)
            if aigc is not None and label_signer is not None:  # SecurityData in ReservedCode1
                from labeler.provenance.pipeline_steps import sign_reencoded_label

                aigc, labeled = sign_reencoded_label(aigc, labeled, container.name, encode, label_signer)
        summary = store = None
        if c2pa is not None:  # last: C2PA hashes the final bytes around its own box
            from labeler.provenance.pipeline_steps import sign_c2pa_file_last

            signed = temp_beside(destination, destination.suffix or container.extensions[0])
            temporaries.append(signed)
            summary, store = sign_c2pa_file_last(container.name, labeled, signed, aigc, watermark_id, c2pa)
            labeled = signed
        output_sha256 = file_sha256(labeled)
        _move_into_place(labeled, destination, force)
    finally:
        for path in temporaries:  # the one moved into place no longer exists
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)
    outcome = AudioLabelOutcome(
        data=b"", decoded=decoded, prompt=prompt, watermark_id=watermark_id,
        duration_seconds=frames / decoded.sample_rate, aigc=aigc,
    )
    return StreamedAudioLabel(outcome, file_sha256(source), output_sha256, summary, store)


@contextlib.contextmanager
def _decode_to_raw(
    source: Path, container: AudioContainer, prompt: PromptOptions | None, limits: Limits, folder: Path
) -> Any:
    """(raw file, stream description): the programme decoded after room for the prompt, the prompt written
    in (and after it with ``at_end``), as ``add_prompt`` lays them out. The raw file is closed on exit."""
    with AudioReader(source, limits, container) as reader:
        rate, channels = reader.sample_rate, reader.channels
        voice = None
        if prompt is not None and prompt.kind == "voice":
            voice = load_voice(str(prompt.voice_path), rate, limits)
        # the prompt's length does not depend on its level: room is left for it before decoding
        room = prompt_samples(rate, 1.0, prompt, voice).size if prompt is not None else 0
        with RawPcm(channels, folder) as raw:
            raw.write(0, np.zeros((room, channels), dtype=np.float32))
            meter = LoudnessMeter(rate, channels)
            for block in reader.blocks():
                raw.append(block)
                if prompt is not None:
                    meter.add(block)
            decoded = reader.decoded()
            reader.close()  # the input is not needed any more
            if prompt is not None:
                mono = prompt_samples(rate, meter.rms(), prompt, voice)
                assert mono.size == room
                samples = np.repeat(mono[:, None], channels, axis=1)
                programme_end = raw.frames
                raw.write(0, samples)
                if prompt.at_end:
                    raw.write(programme_end, samples)
            yield raw, decoded


def _move_into_place(labeled: Path, destination: Path, force: bool) -> None:
    """``labeled`` (a finished temp file beside ``destination``) renamed to it, as ``write_output`` does."""
    try:
        replace_with_finished(labeled, destination, force)
    except OSError as exc:
        raise OutputNotWritable(f"cannot write {destination}: {exc.strerror or exc}") from None

