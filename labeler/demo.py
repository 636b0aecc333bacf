"""``make demo``: label the bundled sample images and synthesised audio and video, verify them, then verify
copies that "travelled" (metadata stripped, resized/re-compressed/transcoded) so only the watermark is
left, and print what each step found.

Everything goes under the output folder (its own key and registry), so the demo never touches the
user's key or registry. Exit status 0 when every verdict is the expected one.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import sys
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from labeler.keyfile import init_key_file, read_key_file
from labeler.pipeline import Labeler
from labeler.settings import LabelOptions
from labeler.store.registry import Registry
from labeler.verification import Verdict, Verifier, VerifyReport
from labeler.watermark.keys import WatermarkKey

SAMPLES = Path(__file__).resolve().parent / "samples"
SAMPLE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")


def travel(data: bytes, quarter_turns: int = 0) -> bytes:
    """What a platform typically does to an upload: drop metadata, shrink to 75%, JPEG quality 75 (after
    the user turned the picture clockwise by ``quarter_turns`` right angles)."""
    rgb = np.ascontiguousarray(np.rot90(np.array(Image.open(io.BytesIO(data)).convert("RGB")), -quarter_turns))
    small = cv2.resize(rgb, None, fx=0.75, fy=0.75, interpolation=cv2.INTER_AREA)
    buffer = io.BytesIO()
    Image.fromarray(small).save(buffer, "JPEG", quality=75)
    return buffer.getvalue()


def _row(name: str, stage: str, report: VerifyReport, expected: Verdict) -> tuple[list[str], bool]:
    wm = report.watermark.detection
    watermark = (
        f"{wm.watermark_id:016x} p={wm.false_positive_probability:.0e}"
        if wm is not None and wm.detected and wm.watermark_id is not None
        else "-"
    )
    metadata = f"Label={report.metadata.label_value}" if report.metadata.present else "-"
    ok = report.verdict is expected
    return [name, stage, f"{report.width}x{report.height}", metadata, watermark, report.verdict.value,
            "ok" if ok else f"EXPECTED {expected.value}"], ok


def _print_table(rows: list[list[str]]) -> None:
    header = ["sample", "stage", "size", "metadata", "watermark (false-positive p)", "verdict", "check"]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join("-" * w for w in widths)
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print(line)
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))


#: The demo's own watermark key, public and fixed, with fixed ProduceIDs: every run of `make demo` on every
#: machine labels the same way and gets the same table (a real deployment uses `labeler keys init`).
DEMO_KEY = WatermarkKey(hashlib.sha256(b"labeler demo key: public, for the demo only").digest())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labeler.demo", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("out/demo"))
    args = parser.parse_args(argv)
    out: Path = args.out
    for sub in ("labeled", "travelled"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    key_path = out / "demo.key"
    if not key_path.exists():
        init_key_file(key_path)
        key_path.write_text(DEMO_KEY.to_hex() + "\n")
    key = read_key_file(key_path)

    samples = sorted(p for p in SAMPLES.iterdir() if p.suffix.lower() in SAMPLE_SUFFIXES)
    if not samples:
        print("no bundled samples found", file=sys.stderr)
        return 1
    rows: list[list[str]] = []
    all_ok = True
    with Registry.open(out / "registry.sqlite3") as registry:
        labeler = Labeler(key, registry)
        verifier = Verifier(key, registry)
        for sample in samples:
            labeled_path = out / "labeled" / sample.name
            result = labeler.label_file(
                sample, labeled_path, LabelOptions(producer="labeler-demo", produce_id=f"demo-{sample.stem}"),
                force=True,
            )
            travelled_path = (out / "travelled" / sample.name).with_suffix(".jpg")
            travelled_path.write_bytes(travel(result.data))
            turned_path = out / "travelled" / f"{sample.stem}-turned.jpg"
            turned_path.write_bytes(travel(result.data, quarter_turns=1))
            for stage, path, expected in (
                ("original", sample, Verdict.NONE),
                ("labeled", labeled_path, Verdict.CONFIRMED),
                ("travelled", travelled_path, Verdict.CONFIRMED),
                ("turned 90°, travelled", turned_path, Verdict.CONFIRMED),
            ):
                row, ok = _row(sample.name, stage, verifier.verify_file(path), expected)
                rows.append(row)
                all_ok &= ok
        # Audio and video: synthesised samples, the same three stages (labeler/demo_media.py).
        from labeler.demo_media import audio_rows, video_rows

        for media_rows, media_ok in (audio_rows(out, labeler, verifier), video_rows(out, key, registry)):
            rows.extend(media_rows)
            all_ok &= media_ok
    _print_table(rows)
    print(f"\nlabeled files in {out / 'labeled'}; 'travelled' copies in {out / 'travelled'}: images with metadata "
          "stripped, 0.75x, JPEG 75 (and a copy turned 90° first); audio as MP3 128 kbit/s without tags; video "
          "re-encoded (H.264 CRF 28, AAC 96 kbit/s) without tags")
    print("all verdicts as expected" if all_ok else "SOME VERDICTS WERE NOT AS EXPECTED")
    return 0 if all_ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
