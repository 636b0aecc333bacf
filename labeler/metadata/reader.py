"""Find an AIGC label in a file, wherever a provider put it.

Order: the XMP ``TC260:AIGC`` property (what the standard's image practice uses and what labeler
writes), then the container's text metadata: a key named ``AIGC`` (any case), then any value that
parses as an AIGC JSON object (a Label key is required). Used by Verify on untrusted uploads, so it
never raises.
"""

from __future__ import annotations

from dataclasses import dataclass

from labeler.formats.base import ImageHandler
from labeler.metadata.aigc import ParsedAigc, parse_aigc_json
from labeler.metadata.producer_code import ProducerCode, parse_content_producer
from labeler.metadata.xmp import aigc_from_xmp

#: Text values longer than this are not tried as AIGC JSON (labels are a few hundred bytes).
_MAX_CANDIDATE_CHARS = 64 * 1024


@dataclass(frozen=True)
class AigcReading:
    json_text: str
    #: Where it was found, e.g. "XMP TC260:AIGC", "PNG text chunk AIGC", "JPEG EXIF UserComment".
    location: str
    parsed: ParsedAigc
    producer: ProducerCode | None


def read_aigc(data: bytes, handler: ImageHandler) -> AigcReading | None:
    """The first AIGC label found in ``data`` (a file of ``handler``'s format), or None."""
    try:
        return _read(data, handler)
    except Exception:  # never raise on junk: a reading failure is "no label found"
        return None


def _read(data: bytes, handler: ImageHandler) -> AigcReading | None:
    xmp = handler.read_xmp(data)
    if xmp:
        text = aigc_from_xmp(xmp)
        if text is not None:
            reading = _reading(text, "XMP TC260:AIGC")
            if reading is not None:
                return reading
    chunks = handler.read_text_chunks(data)
    for key, value in chunks.items():
        if _key_name(key).upper() == "AIGC":
            reading = _reading(value, _location(handler, key))
            if reading is not None:
                return reading
    for key, value in chunks.items():
        if len(value) > _MAX_CANDIDATE_CHARS or "{" not in value:
            continue
        parsed = parse_aigc_json(_json_slice(value))
        if parsed.label is not None:
            return _reading(_json_slice(value), _location(handler, key), parsed)
    return None


def _reading(text: str, location: str, parsed: ParsedAigc | None = None) -> AigcReading | None:
    parsed = parsed or parse_aigc_json(text)
    if parsed.raw is None and parsed.label is None:
        return None  # not even a JSON object: keep looking elsewhere
    producer = parse_content_producer(parsed.label.content_producer) if parsed.label is not None else None
    return AigcReading(json_text=text, location=location, parsed=parsed, producer=producer)


def _key_name(key: str) -> str:
    """Handlers number repeated keys as "key#2", "key#3"; the name is what precedes that."""
    return key.split("#", 1)[0].strip()


def _location(handler: ImageHandler, key: str) -> str:
    """Human-readable place, e.g. "PNG text chunk AIGC", "JPEG EXIF UserComment", "JPEG COM"."""
    if handler.name == "png" and not key.startswith("EXIF "):
        return f"PNG text chunk {key}"
    return f"{handler.name.upper()} {key}"


def _json_slice(value: str) -> str:
    """The outermost {...} of a text that may carry a prefix (e.g. "AIGC: {...}")."""
    start = value.find("{")
    end = value.rfind("}")
    if start < 0 or end <= start:
        return value
    return value[start : end + 1]
