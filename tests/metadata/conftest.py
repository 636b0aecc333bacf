"""Fixtures for the metadata tests: labels, XMP packets, and small images carrying labels in many places."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from labeler.metadata.aigc import AigcLabel

FOREIGN_XMP = (
    b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="Adobe XMP Core 9.1">\n'
    b' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
    b'  <rdf:Description rdf:about=""\n'
    b'    xmlns:dc="http://purl.org/dc/elements/1.1/"\n'
    b'    xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/"\n'
    b'    xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"\n'
    b'    photoshop:Credit="Studio &lt;North&gt; &amp; Sons"\n'
    b'    Iptc4xmpExt:DigitalSourceType="http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia">\n'
    b"   <dc:creator><rdf:Seq><rdf:li>Ana</rdf:li><rdf:li>\xe6\x9d\x8e\xe9\x9b\xb7</rdf:li></rdf:Seq></dc:creator>\n"
    b'   <dc:title><rdf:Alt><rdf:li xml:lang="x-default">Sunset</rdf:li></rdf:Alt></dc:title>\n'
    b"  </rdf:Description>\n"
    b'  <rdf:Description rdf:about="" xmlns:custom="urn:example:custom#">\n'
    b"   <custom:Note>keep me</custom:Note>\n"
    b"  </rdf:Description>\n"
    b" </rdf:RDF>\n"
    b"</x:xmpmeta>\n"
    b'<?xpacket end="w"?>'
)


@pytest.fixture
def label() -> AigcLabel:
    return AigcLabel(label="1", content_producer="001191440300192203821610000", produce_id="a1b2c3")


@pytest.fixture
def foreign_xmp() -> bytes:
    return FOREIGN_XMP


@pytest.fixture
def pixels() -> np.ndarray:
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:24, 0:32]
    base = np.stack([xx * 8, yy * 10, (xx + yy) * 4], axis=-1).astype(np.float64)
    return np.clip(base + rng.normal(0, 10, base.shape), 0, 255).astype(np.uint8)


@pytest.fixture
def png_with(pixels: np.ndarray) -> Callable[..., bytes]:
    """A PNG with the given tEXt chunks (key -> text) and optional XMP / EXIF."""

    def make(texts: dict[str, str] | None = None, xmp: bytes | None = None, exif: bytes | None = None) -> bytes:
        info = PngImagePlugin.PngInfo()
        for key, value in (texts or {}).items():
            info.add_text(key, value)
        params: dict[str, Any] = {"pnginfo": info}
        if xmp is not None:
            info.add_itxt("XML:com.adobe.xmp", xmp.decode("utf-8"))
        if exif is not None:
            params["exif"] = exif
        out = io.BytesIO()
        Image.fromarray(pixels).save(out, "PNG", **params)
        return out.getvalue()

    return make


@pytest.fixture
def jpeg_with(pixels: np.ndarray) -> Callable[..., bytes]:
    """A JPEG with optional XMP, EXIF and COM comment."""

    def make(xmp: bytes | None = None, exif: bytes | None = None, comment: bytes | None = None) -> bytes:
        params: dict[str, Any] = {"quality": 90}
        if xmp is not None:
            params["xmp"] = xmp
        if exif is not None:
            params["exif"] = exif
        if comment is not None:
            params["comment"] = comment
        out = io.BytesIO()
        Image.fromarray(pixels).save(out, "JPEG", **params)
        return out.getvalue()

    return make


@pytest.fixture
def exif_user_comment() -> Callable[[str], bytes]:
    def make(text: str) -> bytes:
        exif = Image.Exif()
        exif.get_ifd(0x8769)[0x9286] = b"UNICODE\x00" + text.encode("utf-16-le")
        return exif.tobytes()

    return make
