"""Explicit, frozen settings objects. Nothing in labeler reads global mutable state; callers build these
(the CLI from flags and the environment, the API from arguments) and pass them in."""

from __future__ import annotations

from collections.abc import Callable
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
    #: Video: the largest frame (8192x4320, the most H.264/H.265 level 6.2 allows), the longest duration
    #: and the most frames (4 h at 60 fps). A few KB of skipped frames can declare hours of 8K: checked
    #: from the header, then frame by frame, so such a file is refused instead of re-encoded for hours.
    max_video_pixels: int = 8192 * 4320
    max_video_seconds: float = 4 * 3600.0
    max_video_frames: int = 4 * 3600 * 60

    def __post_init__(self) -> None:
        if min(self.max_bytes, self.max_pixels, self.max_audio_seconds, self.max_video_pixels,
               self.max_video_seconds, self.max_video_frames) <= 0:
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
class C2paSettings:
    """How to sign C2PA manifests: a PEM chain (end-entity first) plus either its PEM private key or a
    ``sign_callback`` (bytes to sign -> signature, e.g. a KMS call) for ``algorithm``."""

    cert_chain: Path | None = None
    private_key: Path | None = None
    sign_callback: Callable[[bytes], bytes] | None = field(default=None, compare=False)
    #: es256, es384, es512, ps256, ps384, ps512 or ed25519 (must match the key).
    algorithm: str = "es256"
    #: RFC 3161 time-stamp authority; None signs without a time stamp.
    tsa_url: str | None = None
    #: Where signed manifest stores are kept by watermark ID (durable Content Credentials); None: not kept.
    manifest_dir: Path | None = None

    def __post_init__(self) -> None:
        if self.cert_chain is None:
            raise InvalidOption("C2PA signing needs a certificate chain")
        if self.private_key is None and self.sign_callback is None:
            raise InvalidOption("C2PA signing needs a private key or a signing callback")
        if self.tsa_url is not None and not self.tsa_url.startswith(("http://", "https://")):
            raise InvalidOption(f"the TSA URL must be http(s), got {self.tsa_url!r}")


@dataclass(frozen=True)
class TrustSettings:
    """What a verifier trusts: C2PA trust anchors (PEM bundle), Ed25519 keys that sign AIGC labels
    (PEM files), and the manifest store used to recover stripped Content Credentials."""

    c2pa_trust_anchors: Path | None = None
    label_keys: tuple[Path, ...] = ()
    manifest_dir: Path | None = None


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
    #: Sign a C2PA manifest into the output (last step); None: no C2PA.
    c2pa: C2paSettings | None = None

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
