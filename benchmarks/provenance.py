"""Provenance benchmark: the Stable Diffusion invisible-watermark detector's false positives and
robustness, and the cost of SecurityData signing, C2PA signing/reading and a full verify.

False positives: the binomial bound assumes each decoded bit agrees with ``StableDiffusionV1`` with
probability 1/2; we check it on unmarked content (the real photos of the corpus, their crops and
rescales, and seeded synthetic photo-like images) by the distribution of agreements and the count of
detections at the 1e-6 threshold. Robustness: the mark written by an independent implementation of the
published method, then JPEG/WebP-compressed, resized and cropped. Timings: median of ``--repeat`` runs
on 1024x768 content. The CPU is shared with other work while this runs; timings are indicative.

Writes ``out/bench/provenance.json`` and prints tables.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

from labeler.metadata.aigc import AigcLabel
from labeler.pipeline import Labeler
from labeler.provenance.c2pa import build_manifest, read_c2pa, sign_media
from labeler.provenance.devca import init_dev_credentials
from labeler.provenance.securitydata import LabelSigner
from labeler.provenance.thirdparty import (
    SD_FALSE_POSITIVE_LIMIT,
    SD_WATERMARK,
    SD_WATERMARKS,
    binomial_tail,
    decode_dwtdct_bits,
    detect_sd_watermark,
)
from labeler.settings import C2paSettings, LabelOptions, TrustSettings
from labeler.verification import Verifier
from labeler.watermark import WatermarkKey
from tests.helpers import natural_image, sample_photos
from tests.provenance.test_thirdparty import embed_dwtdct_independently

KEY = WatermarkKey(b"labeler-benchmark-key-0123456789")


def _photos(data: Path) -> list[tuple[str, np.ndarray]]:
    try:
        from benchmarks.corpus import load_corpus

        return [(p.name, p.rgb) for p in load_corpus(data)]
    except Exception as exc:  # no corpus here: the bundled samples still give real photos
        print(f"(corpus unavailable: {exc}; using the bundled sample photos)")
        return [(f"sample-{i}", rgb) for i, rgb in enumerate(sample_photos())]


def _variants(rgb: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    """The photo, a scaled-down copy and two random crops (unmarked content of other statistics)."""
    h, w = rgb.shape[:2]
    out = [rgb]
    scale = min(1.0, 1024 / max(h, w))
    out.append(cv2.resize(rgb, (max(1, int(w * scale)), max(1, int(h * scale))), interpolation=cv2.INTER_AREA))
    for _ in range(2):
        ch, cw = min(h, 512), min(w, 512)
        y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        out.append(np.ascontiguousarray(rgb[y : y + ch, x : x + cw]))
    return out


def _jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))


def _webp(rgb: np.ndarray, quality: int) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "WEBP", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))


ATTACKS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "none": lambda x: x,
    "png": lambda x: x,
    "jpeg q95": lambda x: _jpeg(x, 95),
    "jpeg q90": lambda x: _jpeg(x, 90),
    "jpeg q80": lambda x: _jpeg(x, 80),
    "webp q90": lambda x: _webp(x, 90),
    "resize 0.9": lambda x: cv2.resize(x, None, fx=0.9, fy=0.9, interpolation=cv2.INTER_AREA),
    "crop 4 px": lambda x: np.ascontiguousarray(x[4:, 4:]),
}


def _median_ms(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def _format_costs(
    fmt: str,
    pil: str,
    pixels: np.ndarray,
    signer: LabelSigner,
    c2pa: C2paSettings,
    trust: TrustSettings,
    manifest: dict[str, Any],
    anchors: bytes,
    repeat: int,
) -> dict[str, float]:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, pil, **({"quality": 92} if fmt != "png" else {}))
    source = buffer.getvalue()
    plain = Labeler(KEY)
    signed_labeler = Labeler(KEY, label_signer=signer)
    output = signed_labeler.label_bytes(source, LabelOptions(c2pa=c2pa)).data
    verifier = Verifier(KEY, trust=trust)
    return {
        "label": _median_ms(lambda: plain.label_bytes(source, LabelOptions()), repeat),
        "label_signed": _median_ms(lambda: signed_labeler.label_bytes(source, LabelOptions()), repeat),
        "label_signed_c2pa": _median_ms(lambda: signed_labeler.label_bytes(source, LabelOptions(c2pa=c2pa)), repeat),
        "c2pa_sign": _median_ms(lambda: sign_media(source, fmt, manifest, c2pa), repeat),
        "c2pa_read": _median_ms(lambda: read_c2pa(output, fmt, anchors), repeat),
        "verify": _median_ms(lambda: verifier.verify_bytes(output), repeat),
        "sd_detect": _median_ms(lambda: detect_sd_watermark(pixels), repeat),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("bench-data"))
    parser.add_argument("--synthetic", type=int, default=300, help="seeded synthetic unmarked images")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("out/bench/provenance.json"))
    args = parser.parse_args(argv)
    rng = np.random.default_rng(2026)
    results: dict[str, Any] = {"seed": 2026, "threshold": SD_FALSE_POSITIVE_LIMIT}

    # --- SD watermark: false positives on unmarked content --------------------------------------
    photos = _photos(args.data)
    agreements: dict[bytes, list[int]] = {payload: [] for payload in SD_WATERMARKS}
    detections = 0
    unmarked = [v for _, rgb in photos for v in _variants(rgb, rng)]
    unmarked += [natural_image(384, 384, seed=10_000 + seed) for seed in range(args.synthetic)]
    for image in unmarked:
        d = detect_sd_watermark(image)
        if not d.checked:
            continue
        detections += d.detected
        for payload in SD_WATERMARKS:
            reference = np.unpackbits(np.frombuffer(payload, dtype=np.uint8)).astype(bool)
            bits = decode_dwtdct_bits(image, reference.size)
            assert bits is not None
            agreements[payload].append(int(np.count_nonzero(bits == reference)))
    fp: dict[str, Any] = {"images": len(agreements[SD_WATERMARK]), "detections": detections}
    for payload, values in agreements.items():
        n = len(payload) * 8
        fp[payload.decode("ascii")] = {
            "n_bits": n,
            "agreement_mean": statistics.fmean(values),
            "agreement_sd": statistics.pstdev(values),
            "agreement_max": max(values),
            "binomial_mean": n / 2,
            "binomial_sd": (n * 0.25) ** 0.5,
            "p_value_of_max": binomial_tail(max(values), n) * len(SD_WATERMARKS),
        }
    results["sd_false_positives"] = fp
    print(f"SD watermark on {fp['images']} unmarked images: {fp['detections']} detections")
    for payload in SD_WATERMARKS:
        row = fp[payload.decode("ascii")]
        print(f"  {payload.decode('ascii'):<18} agreement {row['agreement_mean']:.1f} ± {row['agreement_sd']:.1f} "
              f"of {row['n_bits']} (binomial {row['binomial_mean']:.0f} ± {row['binomial_sd']:.1f}), "
              f"max {row['agreement_max']} (p={row['p_value_of_max']:.1e})")

    # --- SD watermark: robustness -------------------------------------------------------------
    marked_sources = [rgb for _, rgb in photos[:6]] + [natural_image(768, 1024, seed=s) for s in range(4)]
    robustness: dict[str, dict[str, float]] = {}
    print(f"\n{'attack':<12} {'detected':>9} {'agreement /136':>15}")
    for name, attack in ATTACKS.items():
        hits, agree = 0, []
        for rgb in marked_sources:
            small = rgb
            if max(rgb.shape[:2]) > 1600:
                f = 1600 / max(rgb.shape[:2])
                small = cv2.resize(rgb, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
            attacked = attack(embed_dwtdct_independently(small))
            hits += detect_sd_watermark(attacked).detected
            bits = decode_dwtdct_bits(attacked, 136)
            reference = np.unpackbits(np.frombuffer(SD_WATERMARK, dtype=np.uint8)).astype(bool)
            agree.append(int(np.count_nonzero(bits == reference)) if bits is not None else 0)
        robustness[name] = {"rate": hits / len(marked_sources), "agreement_mean": statistics.fmean(agree)}
        print(f"{name:<12} {hits:>4}/{len(marked_sources):<4} {statistics.fmean(agree):>15.1f}")
    results["sd_robustness"] = robustness

    # --- Costs ---------------------------------------------------------------------------------
    with tempfile.TemporaryDirectory() as tmp:
        dev = init_dev_credentials(Path(tmp) / "cfg")
        c2pa = C2paSettings(cert_chain=dev.chain, private_key=dev.key, manifest_dir=Path(tmp) / "m")
        signer = LabelSigner.from_file(dev.label_key)
        trust = TrustSettings(c2pa_trust_anchors=dev.ca, label_keys=(dev.label_key,), manifest_dir=Path(tmp) / "m")
        manifest = build_manifest(AigcLabel("1", "labeler", "bench"), 0x0123456789ABCDEF)
        costs: dict[str, dict[str, float]] = {}
        print(f"\n{'format':<6} {'label':>9} {'+signed':>9} {'+c2pa':>9} {'c2pa sign':>10} {'c2pa read':>10} "
              f"{'verify':>9} {'sd detect':>10}   (ms, median of {args.repeat}, 1024x768)")
        pixels = natural_image(768, 1024, seed=7)
        for fmt, pil in (("jpeg", "JPEG"), ("png", "PNG"), ("webp", "WEBP")):
            row = _format_costs(fmt, pil, pixels, signer, c2pa, trust, manifest, dev.ca.read_bytes(), args.repeat)
            costs[fmt] = row
            print(f"{fmt:<6} {row['label']:>9.0f} {row['label_signed']:>9.0f} {row['label_signed_c2pa']:>9.0f} "
                  f"{row['c2pa_sign']:>10.1f} {row['c2pa_read']:>10.1f} {row['verify']:>9.0f} "
                  f"{row['sd_detect']:>10.1f}")
        results["costs_ms"] = costs
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
