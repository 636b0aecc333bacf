"""XMP: merge the TC260:AIGC property without losing anything, and find it in any form."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labeler.metadata.aigc import AigcLabel, parse_aigc_json
from labeler.metadata.xmp import (
    TC260_NS,
    XPACKET_ID,
    aigc_from_xmp,
    join_extended_xmp,
    merge_aigc,
    merge_aigc_into_xmp,
    split_extended_xmp,
)

RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"


def _tree(packet: bytes) -> ET.Element:
    return ET.fromstring(packet)


def _wrap(
    description_inner: str, attrs: str = "", ns: str = 'xmlns:TC260="http://www.tc260.org.cn/ns/AIGC/1.0/"'
) -> bytes:
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        f'<rdf:Description rdf:about="" {ns} {attrs}>{description_inner}</rdf:Description>'
        "</rdf:RDF></x:xmpmeta>"
    ).encode()


def test_fresh_packet_is_a_wellformed_xpacket(label: AigcLabel) -> None:
    packet = merge_aigc_into_xmp(None, label)
    text = packet.decode("utf-8")
    assert text.startswith('<?xpacket begin="\ufeff" id="' + XPACKET_ID + '"?>')
    assert text.rstrip().endswith('<?xpacket end="w"?>')
    root = _tree(packet)
    assert root.tag == "{adobe:ns:meta/}xmpmeta"
    prop = root.find(f"{RDF}RDF/{RDF}Description/{{{TC260_NS}}}AIGC")
    assert prop is not None and prop.text == label.to_json()
    assert 'xmlns:TC260="http://www.tc260.org.cn/ns/AIGC/1.0/"' in text and "<TC260:AIGC>" in text
    assert aigc_from_xmp(packet) == label.to_json()


def test_merge_keeps_every_foreign_property(foreign_xmp: bytes, label: AigcLabel) -> None:
    result = merge_aigc(foreign_xmp, label)
    assert result.kept_existing and result.note is None
    root = _tree(result.packet)
    text = result.packet.decode("utf-8")
    # Prefixes of the input are kept, namespaces are intact, values unchanged.
    for fragment in ('xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/"', "xmlns:custom=", "Adobe XMP Core 9.1"):
        assert fragment in text
    description = root.find(f"{RDF}RDF/{RDF}Description")
    assert description is not None
    assert description.get("{http://ns.adobe.com/photoshop/1.0/}Credit") == "Studio <North> & Sons"
    creators = [li.text for li in root.iter(f"{RDF}li")]
    assert creators[:2] == ["Ana", "李雷"] and "Sunset" in creators
    assert root.find(".//{urn:example:custom#}Note") is not None
    assert aigc_from_xmp(result.packet) == label.to_json()
    # Merging twice replaces, never duplicates.
    second = AigcLabel("2", "other", "id-2")
    again = merge_aigc_into_xmp(result.packet, second)
    assert len(list(_tree(again).iter(f"{{{TC260_NS}}}AIGC"))) == 1
    assert aigc_from_xmp(again) == second.to_json()
    assert b"keep me" in again and b"Studio &lt;North&gt; &amp; Sons" in again


@pytest.mark.parametrize(
    "existing",
    [
        _wrap("", attrs='TC260:AIGC="{&quot;Label&quot;:&quot;3&quot;}"'),
        _wrap('<aigc:AIGC>{"Label":"3"}</aigc:AIGC>', ns='xmlns:aigc="http://www.tc260.org.cn/ns/AIGC/1.0/"'),
    ],
)
def test_merge_replaces_an_existing_label_in_any_form(existing: bytes, label: AigcLabel) -> None:
    assert aigc_from_xmp(existing) == '{"Label":"3"}'
    packet = merge_aigc_into_xmp(existing, label)
    assert packet.count(b"AIGC>") == 2 and b'"Label":"3"' not in packet and b"&quot;3" not in packet
    assert aigc_from_xmp(packet) == label.to_json()


def test_merge_into_bare_rdf_and_without_description(label: AigcLabel) -> None:
    bare = b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>'
    packet = merge_aigc_into_xmp(bare, label)
    assert _tree(packet).tag == "{adobe:ns:meta/}xmpmeta"
    assert aigc_from_xmp(packet) == label.to_json()


@pytest.mark.parametrize(
    ("existing", "note"),
    [
        (b"<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF", "not well-formed"),
        (b"\xff\xfe\x00garbage", "not well-formed"),
        (b"<foo/>", "no rdf:RDF"),
        (
            b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
            b"<lolz>&lol2;</lolz>",
            "DOCTYPE",
        ),
    ],
)
def test_unusable_existing_xmp_gives_a_fresh_packet(existing: bytes, note: str, label: AigcLabel) -> None:
    result = merge_aigc(existing, label)
    assert not result.kept_existing and result.note is not None and note in result.note
    assert b"lol" not in result.packet and b"garbage" not in result.packet
    assert aigc_from_xmp(result.packet) == label.to_json()


def test_billion_laughs_is_refused_quickly() -> None:
    entities = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    bomb = f'<!DOCTYPE x [<!ENTITY l0 "lol">{entities}]><x:xmpmeta xmlns:x="adobe:ns:meta/">&l9;</x:xmpmeta>'
    started = time.perf_counter()
    assert aigc_from_xmp(bomb.encode()) is None
    assert time.perf_counter() - started < 0.5


def test_aigc_from_xmp_forms() -> None:
    value = '{"Label":"1"}'
    escaped = "{&quot;Label&quot;:&quot;1&quot;}"
    assert aigc_from_xmp(_wrap("", attrs=f'TC260:AIGC="{escaped}"')) == value
    assert aigc_from_xmp(_wrap(f"<TC260:AIGC>{escaped}</TC260:AIGC>")) == value
    lang_alt = f'<TC260:AIGC><rdf:Alt><rdf:li xml:lang="x-default">{value}</rdf:li></rdf:Alt></TC260:AIGC>'
    assert aigc_from_xmp(_wrap(lang_alt)) == value
    # Any prefix bound to the namespace, a near-miss namespace, or AIGC in any namespace at all.
    other_prefix = _wrap(f"<gb:AIGC>{value}</gb:AIGC>", ns='xmlns:gb="http://www.tc260.org.cn/ns/AIGC/1.0/"')
    assert aigc_from_xmp(other_prefix) == value
    variant = _wrap(f"<v:AIGC>{value}</v:AIGC>", ns='xmlns:v="https://www.tc260.org.cn/ns/AIGC/1.0"')
    assert aigc_from_xmp(variant) == value
    anywhere = _wrap(f"<o:AIGC>{value}</o:AIGC>", ns='xmlns:o="urn:other"')
    assert aigc_from_xmp(anywhere) == value
    # The exact namespace wins over the fallbacks, wherever it is.
    both = _wrap(
        '<o:AIGC>{"Label":"9"}</o:AIGC><TC260:AIGC>' + value + "</TC260:AIGC>",
        ns='xmlns:o="urn:other" xmlns:TC260="http://www.tc260.org.cn/ns/AIGC/1.0/"',
    )
    assert aigc_from_xmp(both) == value
    assert aigc_from_xmp(_wrap("<TC260:AIGC>   </TC260:AIGC>")) is None
    assert aigc_from_xmp(_wrap("")) is None


def test_aigc_from_broken_xml_uses_a_text_scan() -> None:
    broken = b"<x:xmpmeta><rdf:Description TC260:AIGC='{&quot;Label&quot;:&quot;1&quot;}'><unclosed>"
    assert aigc_from_xmp(broken) == '{"Label":"1"}'
    element = b'garbage <TC260:AIGC>{"Label":"2","ContentProducer":"a &amp; b"}</TC260:AIGC> <broken'
    assert aigc_from_xmp(element) == '{"Label":"2","ContentProducer":"a & b"}'
    with_doctype = b'<!DOCTYPE x><x TC260:AIGC="{&quot;Label&quot;:&quot;3&quot;}"/>'
    assert aigc_from_xmp(with_doctype) == '{"Label":"3"}'  # not parsed as XML, but still read
    assert aigc_from_xmp(b"xmlns:TC260='http://www.tc260.org.cn/ns/AIGC/1.0/' no value") is None


def test_utf16_packets_are_read(label: AigcLabel) -> None:
    packet = merge_aigc_into_xmp(None, label).decode("utf-8")
    assert aigc_from_xmp(packet.encode("utf-16")) == label.to_json()


def test_extended_split_and_join(foreign_xmp: bytes, label: AigcLabel) -> None:
    packet = merge_aigc_into_xmp(foreign_xmp, label)
    standard, extended, guid = split_extended_xmp(packet, 4000)
    assert guid.encode() in standard and len(guid) == 32
    assert aigc_from_xmp(standard) == label.to_json()
    assert b"TC260:AIGC" not in extended and b"keep me" in extended
    joined = join_extended_xmp(standard, extended)
    assert joined is not None and b"keep me" in joined and b"HasExtendedXMP" not in joined
    assert aigc_from_xmp(joined) == label.to_json()
    assert join_extended_xmp(standard, b"<broken") is None


_unicode = st.text(
    alphabet=st.one_of(st.characters(), st.sampled_from(list("<&\">'中文标识]]>\r\n\t\x00\ufffe"))),
    max_size=30,
)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["1", "2", "3"]), _unicode, _unicode, _unicode, _unicode)
def test_round_trip_with_arbitrary_unicode(label: str, producer: str, pid: str, r1: str, r2: str) -> None:
    original = AigcLabel(label, producer, pid, r1, "平台<&>", "p'id\"", r2)
    packet = merge_aigc_into_xmp(FOREIGN_EXISTING, original)
    ET.fromstring(packet)  # well-formed
    text = aigc_from_xmp(packet)
    assert text is not None
    assert parse_aigc_json(text).label == original
    assert b"keep me" in packet


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_aigc_from_xmp_never_raises(junk: bytes) -> None:
    for data in (junk, b"<x:xmpmeta " + junk, b"<TC260:AIGC>" + junk, b" TC260:AIGC='" + junk):
        result = aigc_from_xmp(data)
        assert result is None or isinstance(result, str)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_merge_never_raises_on_junk(junk: bytes) -> None:
    packet = merge_aigc_into_xmp(junk, AigcLabel("1", "p", "i"))
    ET.fromstring(packet)


FOREIGN_EXISTING = _wrap(
    '<custom:Note xmlns:custom="urn:example:custom#">keep me</custom:Note>',
    attrs='xmlns:dc="http://purl.org/dc/elements/1.1/"',
)
