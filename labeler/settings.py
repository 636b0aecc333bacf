"""Explicit, frozen settings objects. Nothing in labeler reads global mutable state; callers build these
(the CLI from flags and the environment, the API from arguments) and pass them in."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from labeler.errors import InvalidOption


class Corner(StrEnum):
    TOP_LEFT = "top-left"
    TOP_RIGHT = "top-right"
    BOTTOM_LEFT = "bottom-left"
    BOTTOM_RIGHT = "bottom-right"

    @classmethod
    def parse(cls, value: str | Corner) -> Corner:
        if isinstance(value, Corner):
            return value
        try:
            return cls(value.strip().lower())
        except ValueError:
            choices = ", ".join(c.value for c in cls)
            raise InvalidOption(f"position must be one of {choices}, got {value!r}") from None


#: GB 45438 requires the visible text to be at least 5% of the shortest side.
MIN_TEXT_HEIGHT_RATIO = 0.05


@dataclass(frozen=True)
class Limits:
    """Guards against hostile or accidental input. Defaults suit a generation backend's output."""

    max_bytes: int = 512 * 1024 * 1024
    #: Decompression-bomb guard, checked from the header before any pixel is decoded.
    max_pixels: int = 100_000_000
    #: Longest audio accepted, in seconds (checked from the container header, then while decoding).
    max_audio_seconds: float = 4 * 3600.0

    def __post_init__(self) -> None:
        if self.max_bytes <= 0 or self.max_pixels <= 0 or self.max_audio_seconds <= 0:
            raise InvalidOption("limits must be positive")


@dataclass(frozen=True)
class VisibleLabelOptions:
    text: str = "AI生成"
    position: Corner = Corner.BOTTOM_RIGHT
    #: Text height as a fraction of the image's shortest side; never below the legal 5%.
    height_ratio: float = MIN_TEXT_HEIGHT_RATIO
    #: Any TTF/OTF; None uses the bundled OFL Noto Sans CJK subset.
    font_path: Path | None = None

    def __post_init__(self) -> None:
        if not self.text.strip():
            raise InvalidOption("label text must not be empty")
        if not (MIN_TEXT_HEIGHT_RATIO <= self.height_ratio <= 0.5):
            raise InvalidOption(
                f"label height ratio must be between {MIN_TEXT_HEIGHT_RATIO} and 0.5, got {self.height_ratio}"
            )
        object.__setattr__(self, "position", Corner.parse(self.position))


@dataclass(frozen=True)
class LabelOptions:
    """What one labeling does. ``produce_id`` None means: generate a unique one."""

    producer: str = "labeler"
    produce_id: str | None = None
    #: GB 45438 Label value: "1" AI-generated (what a generation service writes).
    label_value: str = "1"
    visible: bool = True
    metadata: bool = True
    watermark: bool = True
    visible_label: VisibleLabelOptions = field(default_factory=VisibleLabelOptions)
    #: 64-bit watermark ID; None derives it from (producer, produce_id).
    watermark_id: int | None = None
    #: Watermark strength multiplier (1.0 = the tuned default).
    watermark_strength: float = 1.0
    #: Audio's explicit label (used when ``visible``): "morse" (the "AI" rhythm prompt), "voice:PATH", "none".
    audio_prompt: str = "morse"
    #: Audio: repeat the prompt at the end too.
    audio_prompt_end: bool = False

    def __post_init__(self) -> None:
        if not self.producer.strip():
            raise InvalidOption("producer must not be empty")
        if self.produce_id is not None and not self.produce_id.strip():
            raise InvalidOption("produce-id must not be empty when given")
        if self.label_value not in ("1", "2", "3"):
            raise InvalidOption(f"label value must be 1, 2 or 3, got {self.label_value!r}")
        if self.watermark_id is not None and not (0 <= self.watermark_id < 2**64):
            raise InvalidOption("watermark id must fit in 64 bits")
        if not (0.25 <= self.watermark_strength <= 4.0):
            raise InvalidOption("watermark strength must be between 0.25 and 4")
        if self.audio_prompt not in ("morse", "none") and not self.audio_prompt.startswith("voice:"):
            raise InvalidOption(f"audio prompt must be morse, voice:PATH or none, got {self.audio_prompt!r}")
