"""Visible-label (explicit label) detector benchmark: calibration on unmarked photos, detection after
travel, and speed.

* Claims on unmarked pictures: every corpus photo (and the bundled samples), cut by seeded random crops
  (30-100% of each side), rescaled (0.25-1.5x) and JPEG-coded (q 40-95); half of them also get *other*
  text drawn in a corner (captions, dates, camera settings, watermarks of photographers in DejaVu fonts)
  so text-heavy corners are part of the calibration. A claim is a score at or above the threshold; the
  one-sided 95% Clopper-Pearson bound on the claim rate is the false-positive probability verify states.
* Detection: each photo labeled by labeler (``draw_visible_label``) in each of the four corners, then
  attacked: none, JPEG 50 then resize 0.5x, a 5% crop (area: up to 2.5% off each dimension, random
  sides), the screenshot chain (0.8x bilinear, 0-5% cut off *each* side, JPEG 80), and a social-network
  upload (1080 px long side, JPEG 75).
* Speed: median per call on a 1 MP (1152x864) photo and on a 12 MP one; the CPU is shared with other
  work while this runs, so timings are indicative.

Writes ``out/bench/visible_label.json`` and prints tables. ``--n`` sets the number of unmarked pictures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from benchmarks.attacks import ATTACKS, jpeg_bytes
from labeler.explicit.text_label import draw_visible_label
from labeler.provenance.visible_label import THRESHOLD, clopper_pearson_upper, detect_visible_label
from labeler.settings import Corner, VisibleLabelOptions
from tests.helpers import sample_photos

_WORDS = ("Photo", "ISO 200", "f/2.8", "1/250s", "2024-05-17", "© Studio", "SAMPLE", "Paris", "Beach", "NEWS",
          "LIVE", "HD", "Copyright", "by Anna", "No. 42", "Exit", "Open", "SALE 50%", "GENERATION", "AIR",
          "Ai Weiwei", "A1", "MAIN ST", "12:45", "Canon EOS", "iPhone", "Summer", "Detail", "Map", "Page 3")
_FONTS = sorted(Path("/usr/share/fonts/truetype").glob("**/*.ttf"))


def _photos(data: Path) -> list[tuple[str, np.ndarray]]:
    photos: list[tuple[str, np.ndarray]] = []
    try:
        from benchmarks.corpus import load_corpus

        photos = [(p.name, p.rgb) for p in load_corpus(data, fetch=False)]
    except Exception as exc:
        print(f"(corpus unavailable: {exc}; using the bundled sample photos only)")
    return photos + [(f"sample-{i}", rgb) for i, rgb in enumerate(sample_photos())]


def _fit(image: np.ndarray, long_side: int = 1600) -> np.ndarray:
    h, w = image.shape[:2]
    scale = long_side / max(h, w)
    if scale >= 1:
        return image
    return cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)


def _jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(jpeg_bytes(image, quality), np.uint8), cv2.IMREAD_COLOR)[..., ::-1].copy()


def _draw_other_text(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Non-label text in a random corner: 1-3 words, 3-12% of the short side, random colour and font."""
    if not _FONTS:
        return image
    h, w = image.shape[:2]
    picture = Image.fromarray(image)
    draw = ImageDraw.Draw(picture)
    size = max(8, int(min(h, w) * rng.uniform(0.03, 0.12)))
    font = ImageFont.truetype(str(_FONTS[int(rng.integers(len(_FONTS)))]), size)
    text = " ".join(str(rng.choice(_WORDS)) for _ in range(int(rng.integers(1, 4))))
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    tw, th = right - left, bottom - top
    margin = int(min(h, w) * 0.03)
    x = margin if rng.random() < 0.5 else max(0, w - tw - margin)
    y = margin if rng.random() < 0.5 else max(0, h - th - margin)
    colour = tuple(int(c) for c in rng.integers(0, 256, 3))
    stroke = int(rng.integers(0, 3))
    draw.text((x - left, y - top), text, font=font, fill=colour, stroke_width=stroke, stroke_fill=(0, 0, 0))
    return np.asarray(picture).copy()


def _unmarked(photo: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = photo.shape[:2]
    ch, cw = round(h * rng.uniform(0.3, 1.0)), round(w * rng.uniform(0.3, 1.0))
    y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    image = np.ascontiguousarray(photo[y : y + ch, x : x + cw])
    scale = rng.uniform(0.25, 1.5)
    size = (max(48, round(cw * scale)), max(48, round(ch * scale)))
    image = cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    if rng.random() < 0.5:
        image = _draw_other_text(image, rng)
    return _jpeg(image, int(rng.integers(40, 96)))


def _crop5(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = image.shape[:2]
    dy, dx = round(h * 0.025), round(w * 0.025)
    top, left = int(rng.integers(0, dy + 1)), int(rng.integers(0, dx + 1))
    return np.ascontiguousarray(image[top : h - (dy - top), left : w - (dx - left)])


def _attacked(name: str, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if name == "jpeg50+resize0.5":
        return ATTACKS["resize0.5"](ATTACKS["jpeg50"](image, rng), rng)
    if name == "crop5":
        return _jpeg(_crop5(image, rng), 90)
    return ATTACKS[name](image, rng)


ATTACK_NAMES = ("none", "jpeg50+resize0.5", "crop5", "screenshot", "social")


def _median_ms(image: np.ndarray, repeat: int) -> float:
    detect_visible_label(image)  # templates cached
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        detect_visible_label(image)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("bench-data"))
    parser.add_argument("--n", type=int, default=2400, help="unmarked pictures (calibration)")
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--out", type=Path, default=Path("out/bench/visible_label.json"))
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    photos = [(name, _fit(rgb)) for name, rgb in _photos(args.data)]
    print(f"{len(photos)} photos; threshold {THRESHOLD}")

    scores: list[float] = []
    worst: list[tuple[float, str]] = []
    for i in range(args.n):
        name, photo = photos[i % len(photos)]
        found = detect_visible_label(_unmarked(photo, rng))
        scores.append(found.score)
        worst.append((found.score, f"{name}, {found.text} {found.corner}"))
    claims = sum(s >= THRESHOLD for s in scores)
    bound = clopper_pearson_upper(claims, args.n)
    worst.sort(reverse=True)
    print("\nUnmarked pictures (crops, rescales, JPEG; half with other text in a corner)")
    print(f"| pictures | claims at {THRESHOLD} | max score | 99th pct | median | FP bound (95% CP) |")
    print("|---:|---:|---:|---:|---:|---:|")
    print(f"| {args.n} | {claims} | {max(scores):.3f} | {np.percentile(scores, 99):.3f} | "
          f"{statistics.median(scores):.3f} | {bound:.2e} |")
    print("highest: " + ", ".join(f"{s:.3f} ({n})" for s, n in worst[:5]))

    detections: dict[str, list[float]] = {a: [] for a in ATTACK_NAMES}
    for _name, photo in photos:
        for corner in Corner:
            labeled, _ = draw_visible_label(photo, VisibleLabelOptions(position=corner))
            for attack in ATTACK_NAMES:
                detections[attack].append(detect_visible_label(_attacked(attack, labeled, rng)).score)
    print("\nLabeled pictures (labeler's \"AI生成\", each corner), detected after")
    print("| attack | pictures | detected | rate | min score | median score |")
    print("|---|---:|---:|---:|---:|---:|")
    rates: dict[str, Any] = {}
    for attack, values in detections.items():
        hit = sum(v >= THRESHOLD for v in values)
        rates[attack] = {"pictures": len(values), "detected": hit, "rate": hit / len(values),
                         "min_score": min(values), "median_score": statistics.median(values)}
        print(f"| {attack} | {len(values)} | {hit} | {hit / len(values):.1%} | {min(values):.3f} | "
              f"{statistics.median(values):.3f} |")

    one_mp = cv2.resize(photos[0][1], (1152, 864), interpolation=cv2.INTER_AREA)
    twelve_mp = cv2.resize(photos[0][1], (4000, 3000), interpolation=cv2.INTER_LINEAR)
    speed = {"1mp_ms": _median_ms(one_mp, args.repeat), "12mp_ms": _median_ms(twelve_mp, max(3, args.repeat // 3))}
    print(f"\nSpeed (median, shared CPU): 1 MP {speed['1mp_ms']:.1f} ms, 12 MP {speed['12mp_ms']:.1f} ms")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    results = {
        "threshold": THRESHOLD, "unmarked": {"pictures": args.n, "claims": claims, "max_score": max(scores),
                                             "p99_score": float(np.percentile(scores, 99)),
                                             "false_positive_bound_95": bound},
        "detection": rates, "speed": speed, "photos": len(photos), "seed": args.seed,
    }
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
