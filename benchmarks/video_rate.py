"""Rate control estimated for video whose encoder recorded nothing: how close, and what the probe costs.

Clips (pans/zooms over the corpus photos) are coded at known CRFs by encoders that leave no record:
libvpx-vp9, and libx264 with its record overwritten (same length, so the stream still decodes — what a
hardware encoder's H.264 looks like to labeling). For each, the CRF labeling estimates
(``labeler.video.rate_control``) is compared with the one used, and the whole clip is re-encoded plainly
at the estimate: *size* is that re-encode's size over the input's (the estimate matches the input's bits
on its opening seconds, so 1.0 is the aim; the mark's own bits come on top when labeling). *probe* is the
estimate's wall time, *re-encode* the plain re-encode's, for scale.

Run ``python -m benchmarks.video_rate [--photos N] [--height H] [--seconds S]``; writes
out/bench/video_rate.json. Wall times are on a shared 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from benchmarks.corpus import load_corpus
from benchmarks.video import OUT, make_clip, plain_reencode
from labeler.video.rate_control import choose_rate_control, read_recorded_settings

#: encoder, container suffix, the CRFs its clips are coded at
CASES: tuple[tuple[str, str, tuple[int, ...]], ...] = (
    ("libx264", "mp4", (18, 23, 28, 35)),
    ("libvpx-vp9", "webm", (25, 31, 40, 50)),
)


def _unrecorded(path: Path) -> Path:
    """Overwrite x264's record in place (same length): the stream decodes as before, its settings are gone."""
    data = path.read_bytes()
    path.write_bytes(data.replace(b"x264 - core", b"xxxx - core"))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=2)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args(argv)
    work = OUT / "video_rate"
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    header = ("clip", "encoder", "coded at", "estimate", "size", "probe s", "re-encode s")
    print("{:<22} {:<11} {:>8} {:>8} {:>5} {:>7} {:>11}".format(*header))
    for photo in load_corpus()[: args.photos]:
        for encoder, suffix, crfs in CASES:
            for crf in crfs:
                src = make_clip(photo.rgb, work / f"{photo.name}-{encoder}-{crf}.{suffix}", args.height, args.seconds,
                                preset="medium", crf=crf, codec=encoder)
                _unrecorded(src)
                assert read_recorded_settings(src, encoder) is None
                started = time.perf_counter()
                chosen = choose_rate_control(src, encoder)
                probe = time.perf_counter() - started
                assert chosen.crf is not None
                plain = work / f"plain-{src.name}"
                started = time.perf_counter()
                plain_reencode(src, plain, chosen.crf, encoder)
                encode = time.perf_counter() - started
                size = plain.stat().st_size / src.stat().st_size
                clamped = chosen.estimate is not None and chosen.estimate.clamped
                estimate = f"{chosen.crf:g}{'*' if clamped else ''}" if chosen.origin == "estimated" else "default"
                print(f"{photo.name + '-' + str(args.height):<22} {encoder:<11} {crf:>8} {estimate:>8} {size:>5.2f} "
                      f"{probe:>7.1f} {encode:>11.1f}", flush=True)
                rows.append({"clip": photo.name, "height": args.height, "encoder": encoder, "coded_at": crf,
                             "origin": chosen.origin, "estimate": chosen.crf, "clamped": clamped,
                             "size_ratio": round(size, 3), "probe_seconds": round(probe, 2),
                             "reencode_seconds": round(encode, 2), "rate_control": chosen.describe()})
    print("* clamped to the range (never finer than the near-transparent default)")
    (OUT / "video_rate.json").write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
