"""Labeling: the one orchestrator behind the CLI, the Python API and (later) the gRPC service.

Order matters: visible label first (so the watermark covers it too), then the watermark, then the
metadata written by the encoder (signed with SecurityData when a label key is configured), then the
C2PA manifest (last: it hashes the final bytes), then the registry record of the bytes actually produced.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from labeler import formats
from labeler.audio.codec import AudioContainer, sniff_audio
from labeler.audio.pipeline import label_audio
from labeler.errors import InvalidOption, KeyMissing
from labeler.explicit.audio_prompt import PromptOptions
from labeler.explicit.text_label import PlacedLabel, draw_visible_label
from labeler.fileio import check_output, read_input, same_file, write_output
from labeler.metadata.aigc import AigcLabel
from labeler.metadata.xmp import merge_aigc_into_xmp
from labeler.provenance.securitydata import LabelSigner
from labeler.settings import LabelOptions, Limits
from labeler.store.registry import LabelRecord, Registry
from labeler.watermark import MIN_SHORT_SIDE, WatermarkKey, can_embed, derive_watermark_id, embed_image


def new_produce_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class LabelResult:
    data: bytes
    format: str
    width: int
    height: int
    content_producer: str
    produce_id: str
    label_value: str
    aigc: AigcLabel | None
    visible: PlacedLabel | None
    watermark_id: int | None
    #: Why no watermark was embedded when one was asked for (e.g. the image is too small).
    watermark_skipped: str | None
    key_id: str | None
    input_sha256: str
    output_sha256: str
    #: Audio only: container, codec, sample rate, channels, duration and the audible prompt added.
    audio: dict[str, Any] | None = None
    #: KeyID of the SecurityData signature in ReservedCode1; None when the label is unsigned.
    label_key_id: str | None = None
    #: The C2PA manifest's soft-binding/assertion summary when one was signed in; None otherwise.
    c2pa: dict[str, Any] | None = None
    #: The signed manifest store, kept by watermark ID when the labeling is recorded.
    c2pa_manifest_store: bytes | None = None

    def to_dict(self) -> dict[str, Any]:
        extra = {"audio": self.audio} if self.audio is not None else {}
        return extra | {
            "format": self.format,
            "width": self.width,
            "height": self.height,
            "content_producer": self.content_producer,
            "produce_id": self.produce_id,
            "aigc": self.aigc.to_dict() if self.aigc else None,
            "visible_label": (
                {
                    "text": self.visible.text,
                    "corner": self.visible.corner,
                    "box": [self.visible.x, self.visible.y, self.visible.width, self.visible.height],
                    "text_height_px": self.visible.text_height_px,
                    "text_height_ratio": round(self.visible.text_height_px / min(self.width, self.height), 4),
                }
                if self.visible
                else None
            ),
            "watermark_id": f"{self.watermark_id:016x}" if self.watermark_id is not None else None,
            "watermark_skipped": self.watermark_skipped,
            "input_sha256": self.input_sha256,
            "output_sha256": self.output_sha256,
            "label_key_id": self.label_key_id,
            "c2pa": self.c2pa,
        }


class Labeler:
    """Labels media. ``key`` is needed only when watermarking; ``registry`` None records nothing."""

    def __init__(
        self,
        key: WatermarkKey | None = None,
        registry: Registry | None = None,
        limits: Limits | None = None,
        label_signer: LabelSigner | None = None,
    ) -> None:
        self.key = key
        self.registry = registry
        self.limits = limits or Limits()
        #: When set, the AIGC label carries TC260 SecurityData (signature + content binding) in ReservedCode1.
        self.label_signer = label_signer

    def _check_options(self, options: LabelOptions) -> None:
        if options.watermark and self.key is None:
            raise KeyMissing("watermarking needs a key (run `labeler keys init`, or pass --no-watermark)")
        if not (options.visible or options.metadata or options.watermark):
            raise InvalidOption("nothing to do: visible label, metadata and watermark are all off")

    def label_bytes(self, data: bytes, options: LabelOptions | None = None, record: bool = True) -> LabelResult:
        """Label media in memory. ``record`` False leaves the registry to the caller (see label_file)."""
        options = options or LabelOptions()
        self._check_options(options)
        audio_container = sniff_audio(data)
        if audio_container is not None:
            return self._label_audio(data, audio_container, options, record)
        handler = formats.sniff(data)
        image = handler.decode(data, self.limits)
        produce_id = options.produce_id or new_produce_id()

        placed = None
        if options.visible:
            image.pixels, placed = draw_visible_label(image.pixels, options.visible_label)

        watermark_id = None
        skipped = None
        if options.watermark:
            assert self.key is not None
            if can_embed(image.height, image.width):
                watermark_id = (
                    options.watermark_id
                    if options.watermark_id is not None
                    else derive_watermark_id(options.producer, produce_id)
                )
                image.pixels = embed_image(image.pixels, watermark_id, self.key, options.watermark_strength)
            else:
                skipped = f"image is smaller than {MIN_SHORT_SIDE} px on its short side"

        aigc = None
        xmp = image.metadata.xmp
        if options.metadata:
            aigc = AigcLabel(label=options.label_value, content_producer=options.producer, produce_id=produce_id)
            xmp = merge_aigc_into_xmp(image.metadata.xmp, aigc)
        output = handler.encode(image, xmp)
        if aigc is not None and self.label_signer is not None:
            from labeler.provenance.pipeline_steps import sign_aigc_label

            aigc, output = sign_aigc_label(handler, image, aigc, output, self.label_signer)
        c2pa_summary = c2pa_store = None
        if options.c2pa is not None:  # last: C2PA hashes the final bytes around its own box
            from labeler.provenance.pipeline_steps import sign_c2pa_last

            output, c2pa_summary, c2pa_store = sign_c2pa_last(handler.name, output, aigc, watermark_id, options.c2pa)

        result = LabelResult(
            data=output,
            format=handler.name,
            width=image.width,
            height=image.height,
            content_producer=options.producer,
            produce_id=produce_id,
            label_value=options.label_value,
            aigc=aigc,
            visible=placed,
            watermark_id=watermark_id,
            watermark_skipped=skipped,
            key_id=self.key.key_id if (self.key is not None and watermark_id is not None) else None,
            input_sha256=hashlib.sha256(data).hexdigest(),
            output_sha256=hashlib.sha256(output).hexdigest(),
            label_key_id=self.label_signer.key_id if (aigc is not None and self.label_signer is not None) else None,
            c2pa=c2pa_summary,
            c2pa_manifest_store=c2pa_store,
        )
        if record:
            self.record(result)
        return result

    def _audio_plan(
        self, options: LabelOptions
    ) -> tuple[str, int | None, AigcLabel | None, PromptOptions | None]:
        """ProduceID, watermark ID, AIGC label and prompt of an audio labeling."""
        produce_id = options.produce_id or new_produce_id()
        watermark_id = None
        if options.watermark:
            watermark_id = (
                options.watermark_id
                if options.watermark_id is not None
                else derive_watermark_id(options.producer, produce_id)
            )
        aigc = (
            AigcLabel(label=options.label_value, content_producer=options.producer, produce_id=produce_id)
            if options.metadata
            else None
        )
        prompt = PromptOptions.parse(options.audio_prompt, options.audio_prompt_end) if options.visible else None
        return produce_id, watermark_id, aigc, prompt

    def _label_audio(
        self, data: bytes, container: AudioContainer, options: LabelOptions, record: bool
    ) -> LabelResult:
        produce_id, watermark_id, aigc, prompt = self._audio_plan(options)
        outcome = label_audio(
            data, container, key=self.key, watermark_id=watermark_id, aigc=aigc, prompt=prompt,
            strength=options.watermark_strength, limits=self.limits, label_signer=self.label_signer,
        )
        aigc, output = outcome.aigc, outcome.data
        c2pa_summary = c2pa_store = None
        if options.c2pa is not None:  # last, as for images
            from labeler.provenance.pipeline_steps import sign_c2pa_last

            output, c2pa_summary, c2pa_store = sign_c2pa_last(container.name, output, aigc, watermark_id, options.c2pa)
        result = LabelResult(
            data=output, format=container.name, width=0, height=0, content_producer=options.producer,
            produce_id=produce_id, label_value=options.label_value, aigc=aigc, visible=None,
            watermark_id=watermark_id, watermark_skipped=None,
            key_id=self.key.key_id if (self.key is not None and watermark_id is not None) else None,
            input_sha256=hashlib.sha256(data).hexdigest(), output_sha256=hashlib.sha256(output).hexdigest(),
            audio=outcome.info(),
            label_key_id=self.label_signer.key_id if (aigc is not None and self.label_signer is not None) else None,
            c2pa=c2pa_summary, c2pa_manifest_store=c2pa_store,
        )
        if record:
            self.record(result)
        return result

    def _label_audio_file(
        self, source: Path, destination: Path, container: AudioContainer, options: LabelOptions, force: bool
    ) -> LabelResult:
        """An audio file labeled path to path, streamed (labeler/audio/streaming.py): memory does not grow
        with its length. The result is ``_label_audio``'s with ``data`` empty (the output is on disk)."""
        from labeler.audio.streaming import label_audio_file

        produce_id, watermark_id, aigc, prompt = self._audio_plan(options)
        streamed = label_audio_file(
            source, destination, container, key=self.key, watermark_id=watermark_id, aigc=aigc, prompt=prompt,
            strength=options.watermark_strength, limits=self.limits, label_signer=self.label_signer,
            c2pa=options.c2pa, force=force,
        )
        aigc = streamed.outcome.aigc
        return LabelResult(
            data=b"", format=container.name, width=0, height=0, content_producer=options.producer,
            produce_id=produce_id, label_value=options.label_value, aigc=aigc, visible=None,
            watermark_id=watermark_id, watermark_skipped=None,
            key_id=self.key.key_id if (self.key is not None and watermark_id is not None) else None,
            input_sha256=streamed.input_sha256, output_sha256=streamed.output_sha256,
            audio=streamed.outcome.info(),
            label_key_id=self.label_signer.key_id if (aigc is not None and self.label_signer is not None) else None,
            c2pa=streamed.c2pa, c2pa_manifest_store=streamed.c2pa_manifest_store,
        )

    def record(self, result: LabelResult) -> bool:
        """Store ``result`` in the registry (when there is one); True when stored."""
        if self.registry is None:
            return False
        if result.c2pa is not None:
            from labeler.provenance.pipeline_steps import keep_manifest

            keep_manifest(result.c2pa, result.c2pa_manifest_store, result.watermark_id)
        self.registry.record(
            LabelRecord(
                produce_id=result.produce_id,
                content_producer=result.content_producer,
                watermark_id=result.watermark_id,
                output_sha256=result.output_sha256,
                input_sha256=result.input_sha256,
                media_kind="audio" if result.audio is not None else "image",
                media_format=result.format,
                label_value=result.label_value,
                key_id=result.key_id,
                created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            )
        )
        return True

    def label_file(
        self, source: Path, destination: Path, options: LabelOptions | None = None, force: bool = False
    ) -> LabelResult:
        """Label ``source`` into a new file ``destination``; the source is never modified.

        Audio files are streamed from path to path (labeler/audio/streaming.py): memory stays bounded
        however long they are, and the result's ``data`` is empty (the labeled audio is in
        ``destination``; ``output_sha256`` is its hash). Images are labeled in memory and ``data`` holds
        the bytes written."""
        if same_file(source, destination) or source.resolve() == destination.resolve():
            raise InvalidOption("the output must be a different file from the input (originals are never modified)")
        check_output(destination, force)
        audio_container = _sniff_audio_path(source)
        if audio_container is not None:
            options = options or LabelOptions()
            self._check_options(options)
            result = self._label_audio_file(source, destination, audio_container, options, force)
        else:
            result = self.label_bytes(read_input(source, self.limits), options, record=False)
            write_output(destination, result.data, force=force)
        # Recorded only once the file exists, so the registry never lists output that was not written.
        self.record(result)
        return result


def _sniff_audio_path(source: Path) -> AudioContainer | None:
    """The audio container of ``source`` from its first bytes; None for anything else (and for inputs
    that cannot be read: the in-memory route reports those with its usual errors)."""
    from labeler.audio.codec import sniff_audio_file
    from labeler.fileio import check_input

    check_input(source)  # InputNotFound / InvalidInput, as read_input says them
    try:
        return sniff_audio_file(source)
    except OSError:
        return None
