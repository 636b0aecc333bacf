"""What a propagation platform does with an upload (CAC Measures, art. 6; GB 45438 §5): verify it, then
add its own ContentPropagator/PropagateID to the implicit label and the explicit label its verdict
calls for. Shared by `labeler propagate` and the gRPC Propagate method.

- confirmed (a valid implicit label, or our watermark with a registry record) → "AI生成", Label "1";
- possible (no implicit label, but the uploader declared AI content) → "可能为AI生成", Label "2";
- suspected (traces only: a watermark without record, other providers' marks, a broken label) →
  "疑似AI生成", Label "3";
- none → the media is returned unchanged (nothing to label; the report says what was checked).

The producer's fields (ContentProducer, ProduceID, ReservedCode1) are kept as found; when there was no
implicit label they are left empty, because the platform is not the producer.

Audio has no text to draw: the explicit label is the rhythm prompt (Morse "AI"), inserted at the start
unless the upload already opens with it; the verdict's wording travels in the Label value (1/2/3) and
the report. Video goes through ``labeler.video.propagating`` (streamed from a path).
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field, replace

from labeler import formats
from labeler.audio.codec import AudioContainer, decode_audio, encode_audio, sniff_audio
from labeler.audio.pipeline import read_audio_aigc
from labeler.errors import InvalidOption
from labeler.explicit.audio_prompt import PromptOptions, add_prompt
from labeler.explicit.text_label import PlacedLabel, draw_visible_label
from labeler.metadata.aigc import AigcLabel
from labeler.metadata.reader import read_aigc
from labeler.metadata.xmp import merge_aigc_into_xmp
from labeler.settings import VisibleLabelOptions
from labeler.verification import Verdict, Verifier, VerifyReport

#: The explicit label and GB 45438 Label value each verdict calls for.
VERDICT_LABELS: dict[Verdict, tuple[str, str]] = {
    Verdict.CONFIRMED: ("AI生成", "1"),
    Verdict.POSSIBLE: ("可能为AI生成", "2"),
    Verdict.SUSPECTED: ("疑似AI生成", "3"),
}


@dataclass(frozen=True)
class PropagateOptions:
    content_propagator: str
    #: None: a unique one is generated.
    propagate_id: str | None = None
    user_declared: bool = False
    visible_label: VisibleLabelOptions = field(default_factory=VisibleLabelOptions)

    def __post_init__(self) -> None:
        if not self.content_propagator.strip():
            raise InvalidOption("content propagator must not be empty")
        if self.propagate_id is not None and not self.propagate_id.strip():
            raise InvalidOption("propagate-id must not be empty when given")


@dataclass(frozen=True)
class PropagateResult:
    data: bytes
    report: VerifyReport
    #: The explicit label drawn; None when the verdict called for none.
    label_text: str | None
    placed: PlacedLabel | None
    aigc: AigcLabel | None
    media_changed: bool
    output_sha256: str

    @property
    def verdict(self) -> Verdict:
        return self.report.verdict


def propagate_bytes(data: bytes, verifier: Verifier, options: PropagateOptions) -> PropagateResult:
    report = verifier.verify_bytes(data, user_declared=options.user_declared)
    wanted = VERDICT_LABELS.get(report.verdict)
    if wanted is None:
        return PropagateResult(data, report, None, None, None, False, hashlib.sha256(data).hexdigest())
    text, label_value = wanted
    container = sniff_audio(data)
    if container is not None:
        return _propagate_audio(data, container, verifier, options, report, text, label_value)
    handler = formats.sniff(data)
    image = handler.decode(data, verifier.limits)
    reading = read_aigc(data, handler)
    aigc = label_for(reading.parsed.label if reading is not None else None, report.verdict, label_value, options)
    image.pixels, placed = draw_visible_label(image.pixels, replace(options.visible_label, text=text))
    output = handler.encode(image, merge_aigc_into_xmp(image.metadata.xmp, aigc))
    return PropagateResult(output, report, text, placed, aigc, True, hashlib.sha256(output).hexdigest())


def label_for(found: AigcLabel | None, verdict: Verdict, label_value: str, options: PropagateOptions) -> AigcLabel:
    """The AIGC label a platform writes: the producer's as found (or an empty one) plus its own fields."""
    base = found if found is not None else AigcLabel(label=label_value, content_producer="", produce_id="")
    if found is not None and verdict is not Verdict.CONFIRMED:
        base = replace(base, label=label_value)  # a broken or foreign label only earns its verdict's value
    return base.with_propagator(options.content_propagator, options.propagate_id or uuid.uuid4().hex)


def _propagate_audio(
    data: bytes, container: AudioContainer, verifier: Verifier, options: PropagateOptions, report: VerifyReport,
    text: str, label_value: str,
) -> PropagateResult:
    decoded = decode_audio(data, verifier.limits, container)
    reading = read_audio_aigc(data, container)
    aigc = label_for(reading.parsed.label if reading is not None else None, report.verdict, label_value, options)
    prompt = (report.audio or {}).get("prompt") or {}
    pcm = decoded.pcm if prompt.get("at_start") else add_prompt(decoded.pcm, decoded.sample_rate, PromptOptions())
    output = encode_audio(decoded, pcm, aigc.to_json())
    return PropagateResult(output, report, text, None, aigc, True, hashlib.sha256(output).hexdigest())
