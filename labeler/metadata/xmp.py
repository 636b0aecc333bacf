"""XMP packets carrying the GB 45438 label as ``TC260:AIGC``.

Writing merges the property into the input's packet so that every other property (and every foreign
namespace) survives labeling. Parsing uses the standard library's ElementTree (expat) on text that has
been checked for DOCTYPE/ENTITY declarations first: XMP never needs them, and refusing them closes the
entity-expansion (billion laughs) and external-entity doors before the parser sees anything.

ElementTree's own serialiser would rename every prefix to ``ns0``, ``ns1``… (or need a process-global
prefix registry), so this module writes XML itself, keeping the input's prefixes; all namespace
declarations move to the root element, which is equivalent XML and what most XMP toolkits emit.
"""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from labeler.errors import InvalidInput
from labeler.metadata.aigc import AigcLabel

TC260_NS = "http://www.tc260.org.cn/ns/AIGC/1.0/"
TC260_PREFIX = "TC260"
RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
X_NS = "adobe:ns:meta/"
XML_NS = "http://www.w3.org/XML/1998/namespace"
XMP_NOTE_NS = "http://ns.adobe.com/xmp/note/"
#: The fixed packet id from the XMP specification.
XPACKET_ID = "W5M0MpCehiHzreSzNTczkc9d"
#: Larger packets are not parsed (reading falls back to a bounded text scan).
MAX_XMP_BYTES = 32 * 1024 * 1024

_AIGC_TAG = f"{{{TC260_NS}}}AIGC"
_RDF = f"{{{RDF_NS}}}RDF"
_DESCRIPTION = f"{{{RDF_NS}}}Description"
_ABOUT = f"{{{RDF_NS}}}about"
_HAS_EXTENDED = f"{{{XMP_NOTE_NS}}}HasExtendedXMP"

_PACKET_BEGIN = f'<?xpacket begin="\ufeff" id="{XPACKET_ID}"?>\n'
_PACKET_END = '\n<?xpacket end="w"?>'


@dataclass(frozen=True)
class XmpMerge:
    """What ``merge_aigc`` did: the packet, and whether the input's properties were kept."""

    packet: bytes
    kept_existing: bool
    #: Why the input packet was not used (malformed, DOCTYPE, no rdf:RDF, ...); None when it was.
    note: str | None


def merge_aigc_into_xmp(existing: bytes | None, aigc: AigcLabel) -> bytes:
    """A full XMP packet holding ``TC260:AIGC`` = the label's JSON plus every property of ``existing``.

    An existing ``TC260:AIGC`` is replaced. A malformed ``existing`` cannot be merged safely; a fresh
    packet is built and nothing of the unparseable input is kept (``merge_aigc`` says so in ``note``).
    """
    return merge_aigc(existing, aigc).packet


def merge_aigc(existing: bytes | None, aigc: AigcLabel) -> XmpMerge:
    """``merge_aigc_into_xmp`` with a report of whether the input packet could be kept."""
    note: str | None = None
    doc: _Doc | None = None
    if existing is not None and existing.strip(b"\x00 \t\r\n"):
        doc, note = _parse(existing)
        if doc is not None and _find_rdf(doc.root) is None:
            doc, note = None, "the input XMP has no rdf:RDF element"
    kept = doc is not None
    if doc is None:
        doc = _fresh_doc()
    root = _ensure_xmpmeta(doc.root)
    rdf = _find_rdf(root)
    assert rdf is not None  # _fresh_doc and the check above guarantee it
    _remove_aigc(rdf)
    target = _first_description(rdf)
    prop = ET.SubElement(target, _AIGC_TAG)
    prop.text = _xml_safe_json(aigc.to_json())
    _indent_new_child(target, prop)
    packet = _serialise_packet(root, doc.namespaces)
    return XmpMerge(packet=packet, kept_existing=kept, note=note)


def aigc_from_xmp(xmp: bytes) -> str | None:
    """The AIGC JSON text from an XMP packet, or None. Never raises.

    Looks, in order, for ``TC260:AIGC`` under any prefix bound to the TC260 namespace (attribute or
    element form), then under near-miss spellings of that namespace, then for a property named
    ``AIGC`` in any namespace. Unparseable packets get a bounded text scan for the same shapes.
    """
    try:
        if not xmp:
            return None
        doc, _ = _parse(xmp)
        if doc is not None:
            return _aigc_from_tree(doc.root)
        return _aigc_from_text(xmp[:MAX_XMP_BYTES])
    except (ValueError, TypeError, RecursionError, MemoryError):
        return None


# --- Extended XMP (JPEG APP1 segments are limited to 64 KiB) --------------------------------------


def extended_xmp_guid(standard: bytes) -> str | None:
    """The ``xmpNote:HasExtendedXMP`` GUID of a standard packet, if it names one."""
    match = re.search(rb"HasExtendedXMP\s*(?:=\s*[\"']|>)\s*([0-9A-Fa-f]{32})", standard[:MAX_XMP_BYTES])
    return match.group(1).decode("ascii").upper() if match else None


def join_extended_xmp(standard: bytes, extended: bytes) -> bytes | None:
    """One packet with the extended part's rdf:Descriptions appended to the standard part's.

    None when either part cannot be parsed (the caller then keeps the standard packet alone).
    """
    main, _ = _parse(standard)
    extra, _ = _parse(extended)
    if main is None or extra is None:
        return None
    main_root = _ensure_xmpmeta(main.root)
    main_rdf = _find_rdf(main_root)
    extra_rdf = _find_rdf(extra.root)
    if main_rdf is None or extra_rdf is None:
        return None
    for element in main_rdf.iter():
        element.attrib.pop(_HAS_EXTENDED, None)
        for child in [c for c in element if c.tag == _HAS_EXTENDED]:
            element.remove(child)
    for description in [c for c in extra_rdf if c.tag == _DESCRIPTION]:
        main_rdf.append(description)
    return _serialise_packet(main_root, main.namespaces + extra.namespaces)


def split_extended_xmp(packet: bytes, max_standard: int) -> tuple[bytes, bytes, str]:
    """Split a packet too large for one JPEG segment into (standard, extended, GUID).

    The standard part keeps ``TC260:AIGC`` (so readers without Extended XMP support still find the
    label) and points at the extended part, which holds everything else (XMP spec part 3, 1.1.3.1).
    """
    doc, note = _parse(packet)
    if doc is None:
        raise InvalidInput(f"cannot split the XMP packet for JPEG: {note}")
    root = _ensure_xmpmeta(doc.root)
    rdf = _find_rdf(root)
    aigc = _aigc_from_tree(root)
    if rdf is not None:
        _remove_aigc(rdf)
    extended = _serialise(root, doc.namespaces).encode("utf-8")
    guid = hashlib.md5(extended, usedforsecurity=False).hexdigest().upper()
    std_doc = _fresh_doc()
    std_root = std_doc.root
    std_rdf = _find_rdf(std_root)
    assert std_rdf is not None
    description = _first_description(std_rdf)
    note_el = ET.SubElement(description, _HAS_EXTENDED)
    note_el.text = guid
    _indent_new_child(description, note_el)
    if aigc is not None:
        prop = ET.SubElement(description, _AIGC_TAG)
        prop.text = _xml_safe_json(aigc)
        _indent_new_child(description, prop)
    standard = _serialise_packet(std_root, [*std_doc.namespaces, ("xmpNote", XMP_NOTE_NS)])
    if len(standard) > max_standard:
        raise InvalidInput("the AIGC label alone is too large for a JPEG XMP segment")
    return standard, extended, guid


# --- parsing ---------------------------------------------------------------------------------------


@dataclass
class _Doc:
    root: ET.Element
    #: (prefix, uri) declarations in document order.
    namespaces: list[tuple[str, str]]


_DTD = re.compile(r"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_XML_DECL = re.compile(r"^\s*<\?xml\b[^>]*\?>")
_XMPMETA_OPEN = re.compile(r"<(?:[\w.-]+:)?x[am]pmeta\b")
_XMPMETA_CLOSE = re.compile(r"</(?:[\w.-]+:)?x[am]pmeta\s*>")
_RDF_OPEN = re.compile(r"<(?:[\w.-]+:)?RDF\b")
_RDF_CLOSE = re.compile(r"</(?:[\w.-]+:)?RDF\s*>")


def _to_text(data: bytes) -> str:
    if data[:4] in (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff"):
        return data.decode("utf-32", errors="replace")
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return data.decode("utf-16", errors="replace")
    if data[:2] == b"<\x00":
        return data.decode("utf-16-le", errors="replace")
    if data[:2] == b"\x00<":
        return data.decode("utf-16-be", errors="replace")
    return data.decode("utf-8", errors="replace")


def _parse(data: bytes) -> tuple[_Doc | None, str | None]:
    """Parse a packet; (None, reason) when it cannot be used."""
    if len(data) > MAX_XMP_BYTES:
        return None, f"the XMP packet is larger than {MAX_XMP_BYTES} bytes"
    text = _to_text(data).lstrip("\ufeff").strip("\x00 \t\r\n")
    if _DTD.search(text):
        return None, "the XMP packet declares a DOCTYPE or ENTITY (refused)"
    text = _XML_DECL.sub("", text, count=1)
    last_error = "the XMP packet is empty"
    for candidate in _candidates(text):
        try:
            return _parse_text(candidate), None
        except (ET.ParseError, ValueError, RecursionError) as exc:
            last_error = f"the XMP packet is not well-formed XML ({exc})"
    return None, last_error


def _candidates(text: str) -> Iterator[str]:
    if text:
        yield text
    for opener, closer in ((_XMPMETA_OPEN, _XMPMETA_CLOSE), (_RDF_OPEN, _RDF_CLOSE)):
        start = opener.search(text)
        if start is None:
            continue
        ends = list(closer.finditer(text, start.start()))
        if ends:
            yield text[start.start() : ends[-1].end()]


def _parse_text(text: str) -> _Doc:
    parser: ET.XMLPullParser[Any] = ET.XMLPullParser(events=("start-ns", "start"))
    parser.feed(text)
    parser.close()
    root: ET.Element | None = None
    namespaces: list[tuple[str, str]] = []
    events: Iterator[Any] = parser.read_events()
    for event, payload in events:
        if event == "start-ns" and isinstance(payload, tuple) and len(payload) == 2:
            namespaces.append((str(payload[0]), str(payload[1])))
        elif root is None and isinstance(payload, ET.Element):
            root = payload
    if root is None:
        raise ValueError("no root element")
    return _Doc(root=root, namespaces=namespaces)


def _split_tag(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        uri, _, local = tag[1:].partition("}")
        return uri, local
    return "", tag


def _is_tc260_variant(uri: str) -> bool:
    return "tc260.org.cn/ns/aigc" in uri.lower()


def _aigc_from_tree(root: ET.Element) -> str | None:
    exact: str | None = None
    variant: str | None = None
    anywhere: str | None = None
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        for name, value in element.attrib.items():
            uri, local = _split_tag(name)
            if local.upper() != "AIGC" or not value.strip():
                continue
            if name == _AIGC_TAG:
                return value
            if _is_tc260_variant(uri):
                variant = variant or value
            else:
                anywhere = anywhere or value
        uri, local = _split_tag(element.tag)
        if local.upper() != "AIGC":
            continue
        value = "".join(element.itertext())
        if not value.strip():
            continue
        if element.tag == _AIGC_TAG:
            exact = exact or value
        elif _is_tc260_variant(uri):
            variant = variant or value
        else:
            anywhere = anywhere or value
    return exact or variant or anywhere


_TEXT_WINDOW = 1024 * 1024
_TEXT_MAX_HITS = 32
_ATTR_AT = re.compile(r"\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")
_ELEM_AT = re.compile(r"(?![\w.-])[^<>]*>([^<]*)<")


def _aigc_from_text(data: bytes) -> str | None:
    """Bounded scan for ``prefix:AIGC="…"`` or ``<prefix:AIGC>…<``; TC260-prefixed hits win."""
    text = _to_text(data)
    best: str | None = None
    position = 0
    for _ in range(_TEXT_MAX_HITS):
        index = text.find("AIGC", position)
        if index < 0:
            break
        position = index + 4
        window = text[position : position + _TEXT_WINDOW]
        before = text[max(0, index - 64) : index]
        prefix_match = re.search(r"([<\s])([\w.-]+:)?$", before)
        if prefix_match is None:
            continue
        value: str | None = None
        if prefix_match.group(1) == "<":
            elem = _ELEM_AT.match(window)
            if elem:
                value = elem.group(1)
        else:
            attr = _ATTR_AT.match(window)
            if attr:
                value = attr.group(1) if attr.group(1) is not None else attr.group(2)
        if value is None or not value.strip():
            continue
        value = _xml_unescape(value)
        if (prefix_match.group(2) or "").upper() == "TC260:":
            return value
        best = best or value
    return best


_ENTITY = re.compile(r"&(#x[0-9A-Fa-f]{1,6}|#[0-9]{1,7}|lt|gt|amp|quot|apos);")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'"}


def _xml_unescape(text: str) -> str:
    def repl(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in _NAMED:
            return _NAMED[name]
        code = int(name[2:], 16) if name.startswith("#x") else int(name[1:])
        return chr(code) if 0 < code <= 0x10FFFF else match.group(0)

    return _ENTITY.sub(repl, text)


# --- building --------------------------------------------------------------------------------------


def _fresh_doc() -> _Doc:
    root = ET.Element(f"{{{X_NS}}}xmpmeta", {f"{{{X_NS}}}xmptk": "labeler"})
    root.text = "\n "
    rdf = ET.SubElement(root, _RDF)
    rdf.text = "\n  "
    rdf.tail = "\n"
    description = ET.SubElement(rdf, _DESCRIPTION, {_ABOUT: ""})
    description.text = "\n   "
    description.tail = "\n "
    return _Doc(root=root, namespaces=[("x", X_NS), ("rdf", RDF_NS), (TC260_PREFIX, TC260_NS)])


def _ensure_xmpmeta(root: ET.Element) -> ET.Element:
    _, local = _split_tag(root.tag) if isinstance(root.tag, str) else ("", "")
    if local in ("xmpmeta", "xapmeta"):
        return root
    wrapper = ET.Element(f"{{{X_NS}}}xmpmeta", {f"{{{X_NS}}}xmptk": "labeler"})
    wrapper.text = "\n "
    wrapper.append(root)
    root.tail = "\n"
    return wrapper


def _find_rdf(root: ET.Element) -> ET.Element | None:
    if root.tag == _RDF:
        return root
    return next(root.iter(_RDF), None)


def _first_description(rdf: ET.Element) -> ET.Element:
    for child in rdf:
        if child.tag == _DESCRIPTION:
            return child
    about = ""
    description = ET.SubElement(rdf, _DESCRIPTION, {_ABOUT: about})
    description.text = "\n   "
    _indent_new_child(rdf, description)
    return description


def _remove_aigc(rdf: ET.Element) -> None:
    for element in list(rdf.iter()):
        element.attrib.pop(_AIGC_TAG, None)
        for child in [c for c in element if c.tag == _AIGC_TAG]:
            element.remove(child)


def _indent_new_child(parent: ET.Element, child: ET.Element) -> None:
    """Cosmetic: put an appended child on its own line like its siblings."""
    siblings = list(parent)
    if len(siblings) >= 2:
        previous = siblings[-2]
        child.tail = previous.tail
        previous.tail = parent.text if parent.text and not parent.text.strip() else "\n   "
    else:
        child.tail = "\n  "
        if not parent.text or not parent.text.strip():
            parent.text = "\n   "


_XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_safe_json(text: str) -> str:
    """JSON text with characters XML 1.0 cannot carry written as \\u escapes (same JSON value)."""
    return _XML_INVALID.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


# --- serialising -----------------------------------------------------------------------------------


def _serialise_packet(root: ET.Element, declared: list[tuple[str, str]]) -> bytes:
    body = _serialise(root, declared)
    return (_PACKET_BEGIN + body + _PACKET_END).encode("utf-8")


def _serialise(root: ET.Element, declared: list[tuple[str, str]]) -> str:
    prefixes = _prefix_map(root, declared)
    out: list[str] = []
    _write(root, prefixes, out, is_root=True)
    return "".join(out)


def _prefix_map(root: ET.Element, declared: list[tuple[str, str]]) -> dict[str, str]:
    """uri -> prefix: fixed ones for x/rdf/TC260, the input's own prefixes otherwise, unique."""
    mapping: dict[str, str] = {XML_NS: "xml", X_NS: "x", RDF_NS: "rdf", TC260_NS: TC260_PREFIX}
    used = set(mapping.values())
    candidates = list(declared)
    for element in root.iter():
        if isinstance(element.tag, str):
            candidates.append(("", _split_tag(element.tag)[0]))
            candidates.extend(("", _split_tag(name)[0]) for name in element.attrib)
    counter = 0
    for prefix, uri in candidates:
        if not uri or uri in mapping:
            continue
        if not prefix or prefix in used or prefix.lower().startswith("xml") or ":" in prefix:
            counter += 1
            while f"ns{counter}" in used:
                counter += 1
            prefix = f"ns{counter}"
        mapping[uri] = prefix
        used.add(prefix)
    return mapping


def _qname(name: str, prefixes: dict[str, str]) -> str:
    uri, local = _split_tag(name)
    return f"{prefixes[uri]}:{local}" if uri else local


def _write(element: ET.Element, prefixes: dict[str, str], out: list[str], is_root: bool = False) -> None:
    stack: list[tuple[ET.Element, bool]] = [(element, False)]
    while stack:
        node, closing = stack.pop()
        tag = _qname(str(node.tag), prefixes)
        if closing:
            out.append(f"</{tag}>")
            if node.tail:
                out.append(_escape_text(node.tail))
            continue
        parts = [f"<{tag}"]
        if is_root and node is element:
            for uri, prefix in prefixes.items():
                if uri != XML_NS:
                    parts.append(f' xmlns:{prefix}="{_escape_attr(uri)}"')
        for name, value in node.attrib.items():
            parts.append(f' {_qname(name, prefixes)}="{_escape_attr(value)}"')
        children = list(node)
        if not children and not node.text:
            parts.append("/>")
            out.append("".join(parts))
            if node.tail:
                out.append(_escape_text(node.tail))
            continue
        parts.append(">")
        out.append("".join(parts))
        if node.text:
            out.append(_escape_text(node.text))
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(children))


def _escape_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")


def _escape_attr(text: str) -> str:
    return _escape_text(text).replace('"', "&quot;").replace("\n", "&#10;").replace("\t", "&#9;")
