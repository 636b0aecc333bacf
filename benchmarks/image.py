"""Image watermark benchmark: quality, robustness to attacks, false positives and speed, on real photos.

Run with ``make bench`` (or ``python -m benchmarks.image [--trials N] [--fp-images N]``). Prints Markdown
tables and writes the raw numbers to ``out/bench/image.json``. Attacks come from ``benchmarks.attacks``
(OpenCV/Pillow, independent of the embedder) and every random choice is seeded.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
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
from labeler.watermark import WatermarkKey, detect_image, embed_image, fused
from labeler.watermark.image import MIN_SHORT_SIDE, working_size

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


_FP_PHOTOS: list[Any] = []


def _fp_case(case: tuple[int, float, float, float, float]) -> tuple[bool, float]:
    """Detect on one unmarked crop/rescale (runs in a worker process; photos inherited by fork)."""
    index, area, top, left, scale = case
    photo = _FP_PHOTOS[index % len(_FP_PHOTOS)].rgb
    h, w = photo.shape[:2]
    ch, cw = max(64, int(h * area**0.5)), max(64, int(w * area**0.5))
    y, x = int(top * (h - ch + 1)), int(left * (w - cw + 1))
    crop = cv2.resize(photo[y : y + ch, x : x + cw], None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    result = detect_image(np.ascontiguousarray(crop), KEY)
    return result.detected, result.score


def false_positive_section(photos: list[Any], count: int, seed: int, jobs: int) -> tuple[str, dict[str, Any]]:
    """Unmarked crops and rescales of the photos: every claim here is a false positive."""
    rng = np.random.default_rng(seed)
    cases = [
        (i, float(rng.uniform(0.2, 1.0)), float(rng.random()), float(rng.random()), float(rng.uniform(0.3, 1.2)))
        for i in range(count)
    ]
    _FP_PHOTOS[:] = photos
    start = time.perf_counter()
    if jobs > 1:
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            outcomes = pool.map(_fp_case, cases, chunksize=16)
    else:
        outcomes = [_fp_case(case) for case in cases]
    elapsed = time.perf_counter() - start
    claims = sum(detected for detected, _ in outcomes)
    scores = np.array([score for _, score in outcomes])
    raw = {"unmarked_images": count, "claims": claims, "max_sync_z": float(scores.max()),
           "sync_z_p99": float(np.percentile(scores, 99)), "seconds": elapsed, "jobs": jobs}
    text = table(["unmarked crops/rescales", "claims", "highest sync z", "99th percentile sync z"],
                 [[count, claims, f"{scores.max():.1f}", f"{np.percentile(scores, 99):.1f}"]])
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
        unmarked = median_ms(lambda image=image: detect_image(image, KEY), repeats)
        # The per-pixel stage alone, against a plain saturating add over the same bytes (a bandwidth floor).
        work_h, work_w = working_size(h, w)
        delta = np.random.default_rng(0).normal(0.0, 2.0, (work_h, work_w)).astype(np.float32)
        floor = median_ms(lambda image=image: cv2.add(image, 1), repeats)
        reference = median_ms(
            lambda image=image, delta=delta: fused.add_upsampled_delta_reference(image, delta), repeats
        )
        native = (
            median_ms(lambda image=image, delta=delta: fused.add_upsampled_delta_native(image, delta), repeats)
            if fused.NATIVE_AVAILABLE else float("nan")
        )
        mp = h * w / 1e6
        raw.append({"size": label, "embed_ms": embed, "verify_ms": verify, "verify_cropped_ms": verify_geo,
                    "verify_unmarked_ms": unmarked, "embed_ms_per_mp": embed / mp, "per_pixel_floor_ms": floor,
                    "per_pixel_reference_ms": reference, "per_pixel_native_ms": native,
                    "native_used": fused.NATIVE_AVAILABLE})
        rows.append([label, f"{embed:.1f}", f"{embed / mp:.1f}", f"{verify:.1f}", f"{verify_geo:.1f}",
                     f"{unmarked:.1f}", f"{floor:.1f} / {reference:.1f} / {native:.1f}"])
    header = ["size", "embed ms", "embed ms/MP", "verify ms", "verify ms (cropped: geometry search)",
              "verify ms (unmarked)", "per-pixel stage ms: floor / NumPy / native"]
    return table(header, rows), raw


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=7, help="marked copies (random IDs) per photo")
    parser.add_argument("--fp-images", type=int, default=10_000, help="unmarked crops/rescales to test")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes for the false-positive sweep")
    parser.add_argument("--repeats", type=int, default=7, help="timing repeats (median reported)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--sections", default="quality,robustness,fp,speed",
                        help="comma-separated subset of quality,robustness,fp,speed")
    parser.add_argument("--data", type=Path, default=Path("bench-data"))
    parser.add_argument("--out", type=Path, default=Path("out/bench"))
    args = parser.parse_args(argv)

    photos = [p for p in load_corpus(args.data) if min(p.rgb.shape[:2]) >= MIN_SHORT_SIDE]
    print(f"# Image watermark benchmark\n\n{len(photos)} photos (see docs/bench-data.md), key-independent "
          f"results, seed {args.seed}.\n")
    results: dict[str, Any] = {}
    sections = {
        "quality": ("Quality (embed only)", lambda: quality_section(photos)),
        "robustness": (
            f"Robustness ({args.trials} random IDs per photo)",
            lambda: robustness_section(photos, args.trials, args.seed),
        ),
        "fp": ("False positives", lambda: false_positive_section(photos, args.fp_images, args.seed, args.jobs)),
        "speed": ("Speed, one core, in memory", lambda: speed_section(photos, args.repeats)),
    }
    chosen = [name.strip() for name in args.sections.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(sections))
    if unknown:
        parser.error(f"unknown sections: {', '.join(unknown)}")
    for name in chosen:
        title, run = sections[name]
        text, raw = run()
        results[title] = raw
        print(f"## {title}\n\n{text}\n", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    name = "image.json" if len(chosen) == len(sections) else f"image-{'-'.join(chosen)}.json"
    (args.out / name).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
