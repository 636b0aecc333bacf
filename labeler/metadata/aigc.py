"""The GB 45438-2025 implicit metadata label: the ``AIGC`` JSON object.

Writing is strict (seven string fields, in the standard's order, compact JSON). Reading is tolerant:
files from other providers carry numbers instead of strings, other key spellings, missing keys, a BOM
or HTML-escaped text, and a platform still has to act on them. ``parse_aigc_json`` parses what is
there and lists every deviation from the standard as a human-readable problem.

See docs/compliance.md for the sources of the field names and Label codes.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, replace

#: The standard's field names, in its order.
FIELD_NAMES: tuple[str, ...] = (
    "Label",
    "ContentProducer",
    "ProduceID",
    "ReservedCode1",
    "ContentPropagator",
    "PropagateID",
    "ReservedCode2",
)

#: Label codes: "1" the content is AI-generated/synthesised, "2" possibly, "3" suspected.
LABEL_MEANINGS: dict[str, str] = {
    "1": "AI-generated",
    "2": "possibly AI-generated",
    "3": "suspected AI-generated",
}

#: Reading refuses larger texts: a label is a few hundred bytes; this bounds work on hostile input.
MAX_JSON_CHARS = 1_000_000

_ATTRS: dict[str, str] = {
    "Label": "label",
    "ContentProducer": "content_producer",
    "ProduceID": "produce_id",
    "ReservedCode1": "reserved_code1",
    "ContentPropagator": "content_propagator",
    "PropagateID": "propagate_id",
    "ReservedCode2": "reserved_code2",
}

#: Fields a generation service must fill (Label is checked separately).
_REQUIRED_NON_EMPTY = ("ContentProducer", "ProduceID")


@dataclass(frozen=True)
class AigcLabel:
    """One AIGC label. Field values are kept as given; ``parse_aigc_json`` reports deviations."""

    label: str
    content_producer: str
    produce_id: str
    reserved_code1: str = ""
    content_propagator: str = ""
    propagate_id: str = ""
    reserved_code2: str = ""

    def to_dict(self) -> dict[str, str]:
        """The JSON object with the standard's keys, in the standard's order."""
        return {name: getattr(self, attr) for name, attr in _ATTRS.items()}

    def to_json(self) -> str:
        """Compact JSON, non-ASCII kept as is (the packet is UTF-8)."""
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"))

    def with_propagator(self, propagator: str, propagate_id: str, reserved_code2: str = "") -> AigcLabel:
        """The label a propagation platform writes: the producer's fields plus its own."""
        return replace(self, content_propagator=propagator, propagate_id=propagate_id, reserved_code2=reserved_code2)

    @property
    def meaning(self) -> str | None:
        """Plain-language meaning of ``label``; None for codes outside the standard."""
        return LABEL_MEANINGS.get(self.label)


@dataclass(frozen=True)
class ParsedAigc:
    """Result of tolerant parsing. ``label`` is None only when there is no usable object or Label."""

    label: AigcLabel | None
    problems: tuple[str, ...]
    raw: dict[str, object] | None

    @property
    def compliant(self) -> bool:
        return self.label is not None and not self.problems


def _normalise_key(key: str) -> str:
    return re.sub(r"[^0-9a-z]", "", key.lower())


_CANONICAL_BY_NORMALISED: dict[str, str] = {_normalise_key(name): name for name in FIELD_NAMES}


def parse_aigc_json(text: str | bytes) -> ParsedAigc:
    """Parse an AIGC JSON text as found in the wild. Never raises."""
    problems: list[str] = []
    if isinstance(text, bytes | bytearray):
        text = _decode(bytes(text), problems)
    if not isinstance(text, str):
        return ParsedAigc(None, ("not text",), None)
    if text.startswith("\ufeff"):
        problems.append("the text starts with a byte-order mark")
        text = text.lstrip("\ufeff")
    text = text.strip().strip("\x00").strip()
    if not text:
        return ParsedAigc(None, (*problems, "the text is empty"), None)
    if len(text) > MAX_JSON_CHARS:
        return ParsedAigc(None, (*problems, f"the text is longer than {MAX_JSON_CHARS} characters"), None)

    value = _loads(text)
    if value is _INVALID and "&" in text:
        unescaped = html.unescape(text)
        value = _loads(unescaped)
        if value is not _INVALID:
            problems.append("the JSON is HTML/XML-escaped a second time (&quot; etc.)")
    if isinstance(value, str):
        inner = _loads(value.strip())
        if isinstance(inner, dict):
            problems.append("the JSON object is wrapped in a JSON string (encoded twice)")
            value = inner
    if value is _INVALID:
        return ParsedAigc(None, (*problems, "not valid JSON"), None)
    if not isinstance(value, dict):
        return ParsedAigc(None, (*problems, f"not a JSON object (it is a JSON {_json_type(value)})"), None)

    value = _unwrap(value, problems)
    raw: dict[str, object] = {str(k): v for k, v in value.items()}
    fields: dict[str, str] = {}
    for key, item in raw.items():
        canonical = _CANONICAL_BY_NORMALISED.get(_normalise_key(key))
        if canonical is None:
            problems.append(f"unexpected key {key!r} (not one of the standard's seven)")
            continue
        if canonical in fields:
            problems.append(f"{canonical} appears more than once (key {key!r} ignored)")
            continue
        if key != canonical:
            problems.append(f"key {key!r} should be spelled {canonical!r}")
        fields[canonical] = _as_string(canonical, item, problems)

    if "Label" not in fields:
        return ParsedAigc(None, (*problems, "no Label key"), raw)
    label_value = fields["Label"]
    if label_value != label_value.strip():
        problems.append(f"Label {label_value!r} has surrounding whitespace")
        label_value = label_value.strip()
    if label_value not in LABEL_MEANINGS:
        problems.append(f"Label {label_value!r} is not one of the standard's codes 1, 2, 3")
    for name in FIELD_NAMES[1:]:
        if name not in fields:
            problems.append(f"{name} is missing (treated as empty)")
    for name in _REQUIRED_NON_EMPTY:
        if name in fields and not fields[name].strip():
            problems.append(f"{name} is empty")

    label = AigcLabel(
        label=label_value,
        content_producer=fields.get("ContentProducer", ""),
        produce_id=fields.get("ProduceID", ""),
        reserved_code1=fields.get("ReservedCode1", ""),
        content_propagator=fields.get("ContentPropagator", ""),
        propagate_id=fields.get("PropagateID", ""),
        reserved_code2=fields.get("ReservedCode2", ""),
    )
    return ParsedAigc(label, tuple(problems), raw)


_INVALID = object()


def _unwrap(value: dict[object, object], problems: list[str]) -> dict[object, object]:
    """``{"AIGC": {...}}`` (seen in EXIF comments and in API responses) -> the inner object."""
    if len(value) != 1:
        return value
    ((key, inner),) = value.items()
    if not isinstance(key, str) or _normalise_key(key) != "aigc":
        return value
    if isinstance(inner, str):
        inner = _loads(inner.strip())
    if isinstance(inner, dict):
        problems.append(f"the label object is wrapped in a {key!r} key")
        return inner
    return value


def _loads(text: str) -> object:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return _INVALID


def _decode(data: bytes, problems: list[str]) -> str:
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        problems.append("the text is UTF-16, not UTF-8")
        return data.decode("utf-16", errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        problems.append("the text is not valid UTF-8")
        return data.decode("utf-8", errors="replace")


def _as_string(name: str, value: object, problems: list[str]) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        problems.append(f"{name} is null instead of a string")
        return ""
    if isinstance(value, bool):
        problems.append(f"{name} is a boolean ({json.dumps(value)}) instead of a string")
        return json.dumps(value)
    if isinstance(value, int | float):
        problems.append(f"{name} is a number ({value!r}) instead of a string")
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)
    problems.append(f"{name} is a JSON {_json_type(value)} instead of a string")
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _json_type(value: object) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    return "number"
