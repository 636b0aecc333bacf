"""Image watermark benchmark: quality, robustness to attacks, false positives and speed, on real photos.

Run with ``make bench`` (or ``python -m benchmarks.image [--trials N] [--fp-images N]``). Prints Markdown
tables and writes the raw numbers to ``out/bench/image.json``. Attacks come from ``benchmarks.attacks``
(OpenCV/Pillow, independent of the embedder) and every random choice is seeded.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from benchmarks.attacks import ATTACKS
from benchmarks.corpus import load_corpus
from benchmarks.quality import psnr_y, ssim_y
from labeler.watermark import WatermarkKey, detect_image, embed_image
from labeler.watermark.image import MIN_SHORT_SIDE

KEY = WatermarkKey(b"labeler-benchmark-key-0123456789")


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(c) for c in header], *[[str(c) for c in r] for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |" for row in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def median_ms(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm caches (key layout, allocator)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def quality_section(photos: list[Any]) -> tuple[str, list[dict[str, Any]]]:
    rows, raw = [], []
    for photo in photos:
        marked = embed_image(photo.rgb, 0x0123456789ABCDEF, KEY)
        p, s = psnr_y(photo.rgb, marked), ssim_y(photo.rgb, marked)
        h, w = photo.rgb.shape[:2]
        raw.append({"photo": photo.name, "width": w, "height": h, "psnr_y": p, "ssim_y": s})
        rows.append([photo.name, f"{w}x{h}", f"{w * h / 1e6:.1f}", f"{p:.2f}", f"{s:.4f}"])
    psnrs = [r["psnr_y"] for r in raw]
    ssims = [r["ssim_y"] for r in raw]
    rows.append(["**mean / worst**", "", "", f"{statistics.mean(psnrs):.2f} / {min(psnrs):.2f}",
                 f"{statistics.mean(ssims):.4f} / {min(ssims):.4f}"])
    return table(["photo", "size", "MP", "PSNR-Y dB", "SSIM-Y"], rows), raw


def robustness_section(photos: list[Any], trials: int, seed: int) -> tuple[str, list[dict[str, Any]]]:
    rng = np.random.default_rng(seed)
    marked = []
    for photo in photos:
        for _ in range(trials):
            wid = int(rng.integers(0, 2**63)) * 2 + int(rng.integers(0, 2))
            marked.append((photo.name, wid, embed_image(photo.rgb, wid, KEY)))
    rows, raw = [], []
    for name, attack in ATTACKS.items():
        ok = 0
        scores, times = [], []
        attack_rng = np.random.default_rng(seed + 1)
        for _, wid, image in marked:
            attacked = attack(image, attack_rng)
            start = time.perf_counter()
            result = detect_image(attacked, KEY)
            times.append((time.perf_counter() - start) * 1e3)
            ok += result.watermark_id == wid
            scores.append(result.score)
        rate = ok / len(marked)
        raw.append({"attack": name, "recovered": ok, "total": len(marked), "rate": rate,
                    "median_score": statistics.median(scores), "median_verify_ms": statistics.median(times)})
        rows.append([name, f"{ok}/{len(marked)}", f"{rate * 100:.1f}%", f"{statistics.median(scores):.1f}",
                     f"{statistics.median(times):.0f}"])
    return table(["attack", "exact ID", "rate", "median sync z", "verify ms (median)"], rows), raw


def false_positive_section(photos: list[Any], count: int, seed: int) -> tuple[str, dict[str, Any]]:
    """Unmarked crops and rescales of the photos: every claim here is a false positive."""
    rng = np.random.default_rng(seed)
    claims = 0
    max_score = 0.0
    for i in range(count):
        photo = photos[i % len(photos)].rgb
        h, w = photo.shape[:2]
        area = rng.uniform(0.2, 1.0)
        ch, cw = max(64, int(h * area**0.5)), max(64, int(w * area**0.5))
        y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        crop = photo[y : y + ch, x : x + cw]
        scale = rng.uniform(0.3, 1.2)
        crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        result = detect_image(np.ascontiguousarray(crop), KEY)
        claims += result.detected
        max_score = max(max_score, result.score)
    raw = {"unmarked_images": count, "claims": claims, "max_sync_z": max_score}
    text = table(["unmarked crops/rescales", "claims", "highest sync z"], [[count, claims, f"{max_score:.1f}"]])
    return text, raw


def speed_section(photos: list[Any], repeats: int) -> tuple[str, list[dict[str, Any]]]:
    cv2.setNumThreads(1)  # the targets are per core
    sizes = {"1 MP (1155x866)": (866, 1155), "1080p (1920x1080)": (1080, 1920), "12 MP (4000x3000)": (3000, 4000)}
    source = max(photos, key=lambda p: p.rgb.shape[0] * p.rgb.shape[1]).rgb
    rows, raw = [], []
    for label, (h, w) in sizes.items():
        image = cv2.resize(source, (w, h), interpolation=cv2.INTER_AREA)
        marked = embed_image(image, 42, KEY)
        embed = median_ms(lambda image=image: embed_image(image, 42, KEY), repeats)
        verify = median_ms(lambda marked=marked: detect_image(marked, KEY), repeats)
        cropped = np.ascontiguousarray(marked[h // 6 : h - h // 6, w // 6 : w - w // 6])
        verify_geo = median_ms(lambda cropped=cropped: detect_image(cropped, KEY), repeats)
        mp = h * w / 1e6
        raw.append({"size": label, "embed_ms": embed, "verify_ms": verify, "verify_cropped_ms": verify_geo,
                    "embed_ms_per_mp": embed / mp})
        rows.append([label, f"{embed:.1f}", f"{embed / mp:.1f}", f"{verify:.1f}", f"{verify_geo:.1f}"])
    header = ["size", "embed ms", "embed ms/MP", "verify ms", "verify ms (cropped: geometry search)"]
    return table(header, rows), raw


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=2, help="marked copies (random IDs) per photo")
    parser.add_argument("--fp-images", type=int, default=1000, help="unmarked crops/rescales to test")
    parser.add_argument("--repeats", type=int, default=7, help="timing repeats (median reported)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--data", type=Path, default=Path("bench-data"))
    parser.add_argument("--out", type=Path, default=Path("out/bench"))
    args = parser.parse_args(argv)

    photos = [p for p in load_corpus(args.data) if min(p.rgb.shape[:2]) >= MIN_SHORT_SIDE]
    print(f"# Image watermark benchmark\n\n{len(photos)} photos (see docs/bench-data.md), key-independent "
          f"results, seed {args.seed}.\n")
    results: dict[str, Any] = {}
    for title, run in (
        ("Quality (embed only)", lambda: quality_section(photos)),
        (
            f"Robustness ({args.trials} random IDs per photo)",
            lambda: robustness_section(photos, args.trials, args.seed),
        ),
        ("False positives", lambda: false_positive_section(photos, args.fp_images, args.seed)),
        ("Speed, one core, in memory", lambda: speed_section(photos, args.repeats)),
    ):
        text, raw = run()
        results[title] = raw
        print(f"## {title}\n\n{text}\n", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "image.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
