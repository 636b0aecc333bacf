"""Rebuild the demo samples in ``labeler/samples/`` from the benchmark corpus.

``python -m benchmarks.samples [--data bench-data] [--out labeler/samples]``. The samples are committed,
so this only documents (and repeats) how they were made: each is a corpus photo whose licence allows
redistribution, downscaled with ``INTER_AREA`` (and perhaps cropped) and encoded by Pillow with the
settings below. A different Pillow/libjpeg/libwebp version may give slightly different bytes of the
same picture.
labeler/samples/PROVENANCE.md holds the attribution each licence asks for.
"""

from __future__ import annotations

import argparse
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import cv2
import numpy as np
from PIL import Image

from benchmarks.corpus import DEFAULT_DEST, PHOTOS, load_corpus

__all__ = ["SAMPLES", "SampleSpec", "encode_sample", "main"]

#: Largest file a committed sample may be.
MAX_BYTES: Final = 250 * 1024


@dataclass(frozen=True)
class SampleSpec:
    """One demo sample: a corpus photo resized to ``size`` (w, h), optionally cropped to ``crop``
    (x, y, w, h in the resized picture), then encoded as ``pil_format`` with ``options``."""

    name: str
    photo: str
    size: tuple[int, int]
    pil_format: str
    options: dict[str, object] = field(default_factory=dict)
    crop: tuple[int, int, int, int] | None = None

    @property
    def final_size(self) -> tuple[int, int]:
        return self.size if self.crop is None else self.crop[2:]


SAMPLES: Final[tuple[SampleSpec, ...]] = (
    SampleSpec("sunset.jpg", "sunset", (1620, 1080), "JPEG", {"quality": 88, "subsampling": 2, "optimize": True}),
    # A photographic PNG of 0.3 MP is ~300-400 KB; the sky-dominated middle of this one fits the 250 KB budget.
    SampleSpec("bridge-sky.png", "bridge-sky", (1436, 808), "PNG", {"optimize": True}, crop=(358, 188, 720, 432)),
    SampleSpec("dogs-window.webp", "dogs-window", (816, 1224), "WEBP", {"quality": 90, "method": 6}),
)


def encode_sample(rgb: np.ndarray, spec: SampleSpec) -> bytes:
    """Downscale ``rgb`` (area averaging), crop if asked, and encode it; no metadata is written."""
    small = cv2.resize(rgb, spec.size, interpolation=cv2.INTER_AREA)
    if spec.crop is not None:
        x, y, w, h = spec.crop
        small = small[y : y + h, x : x + w]
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(small)).save(buffer, spec.pil_format, **spec.options)
    return buffer.getvalue()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.samples", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DEST)
    parser.add_argument("--out", type=Path, default=Path("labeler/samples"))
    args = parser.parse_args(argv)
    wanted = {s.photo for s in SAMPLES}
    photos = {p.name: p for p in load_corpus(args.data, specs=[s for s in PHOTOS if Path(s.name).stem in wanted])}
    status = 0
    for spec in SAMPLES:
        if spec.photo not in photos:
            print(f"{spec.name}: corpus photo {spec.photo} is not available (needs apt)")
            status = 1
            continue
        data = encode_sample(photos[spec.photo].rgb, spec)
        if len(data) > MAX_BYTES:
            print(f"{spec.name}: {len(data)} bytes is over the {MAX_BYTES}-byte budget")
            status = 1
            continue
        (args.out / spec.name).write_bytes(data)
        w, h = spec.final_size
        print(f"{spec.name:20} {w}x{h} {w * h / 1e6:.2f} MP {len(data) // 1024} KB")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
