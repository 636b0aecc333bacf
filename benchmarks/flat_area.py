"""Render the flat-area visibility check for the docs: a 100% crop of open sky from a real photo, the
same crop watermarked, and their difference magnified, each enlarged 3x (nearest neighbour) so single
pixels show. Writes docs/images/flat-area.png and prints the crop's difference statistics."""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from benchmarks.corpus import load_corpus
from labeler.watermark import WatermarkKey, embed_image

KEY = WatermarkKey(b"labeler-benchmark-key-0123456789")
PHOTO = "bridge-sky"
#: A 100% crop of clear sky (rows, columns) in the 4352x2448 original.
CROP = (slice(200, 400), slice(300, 600))
DIFF_GAIN = 20


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("docs/images/flat-area.png"))
    parser.add_argument("--data", type=Path, default=Path("bench-data"))
    args = parser.parse_args(argv)
    photo = next(p for p in load_corpus(args.data) if p.name == PHOTO).rgb
    marked = embed_image(photo, 0x0123456789ABCDEF, KEY)
    original, watermarked = photo[CROP], marked[CROP]
    delta = watermarked.astype(np.int16) - original.astype(np.int16)
    luma_delta = delta[:, :, 0] * 0.299 + delta[:, :, 1] * 0.587 + delta[:, :, 2] * 0.114
    diff = np.clip(128 + DIFF_GAIN * luma_delta, 0, 255).astype(np.uint8)
    gap = np.full((original.shape[0], 6, 3), 255, np.uint8)
    row = np.concatenate([original, gap, watermarked, gap, np.repeat(diff[:, :, None], 3, axis=2)], axis=1)
    row = cv2.resize(row, None, fx=3, fy=3, interpolation=cv2.INTER_NEAREST)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(row).save(args.out, optimize=True)
    print(f"flat-area crop of {PHOTO}: luma change min {luma_delta.min():.0f}, max {luma_delta.max():.0f}, "
          f"RMS {np.sqrt(np.mean(luma_delta**2)):.2f} grey levels -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
