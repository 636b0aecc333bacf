"""Video benchmark: quality, 2-s clip robustness, throughput and verify time on clips made from real photos.

Clips are slow pans/zooms over the corpus photos (benchmarks/corpus.py), encoded H.264 CRF 18
(``--source-crf``); labeling keeps the input's CRF (read from x264's record in the stream, as the product
does by default) and the plain re-encode uses the same CRF. Run
``python -m benchmarks.video [--photos N] [--seconds S]``; writes out/bench/video.json. The CPU is shared
with other jobs, so timings are indicative; labeling and plain re-encode are measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import av
import cv2
import numpy as np

from benchmarks.corpus import load_corpus
from labeler.video.rate_control import ENCODER_TUNING, crf_options
from labeler.video.transcode import VideoLabelSettings, detect_video_file, label_video_file
from labeler.watermark.keys import WatermarkKey
from labeler.watermark.video import FrameMarker, FrameSample, detect_frames

KEY = WatermarkKey(bytes(range(32)))
OUT = Path("out/bench")
FPS = 25


def make_clip(
    rgb: np.ndarray, path: Path, height: int, seconds: float, preset: str = "veryfast", crf: int = 18,
    moving: bool = True, codec: str = "libx264",
) -> Path:
    width = height * 16 // 9
    frames = int(seconds * FPS)
    out = av.open(str(path), "w")
    stream = out.add_stream(codec, rate=FPS)
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    stream.options = crf_options(codec, crf) | ({"preset": preset} if codec in ("libx264", "libx265") else {})
    h, w = rgb.shape[:2]
    for index in range(frames):
        t = index / max(1, frames - 1) if moving else 0.5
        zoom = 1.0 + 0.15 * t  # slow zoom with a pan (a still shot of the middle when not moving)
        crop_w = min(w, int(min(w, h * 16 / 9) / zoom))
        crop_h = crop_w * 9 // 16
        x = int((w - crop_w) * t)
        y = (h - crop_h) // 2
        view = cv2.resize(rgb[y : y + crop_h, x : x + crop_w], (width, height), interpolation=cv2.INTER_AREA)
        out.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(view), format="rgb24")))
    out.mux(stream.encode(None))
    out.close()
    return path


def plain_reencode(src: Path, dst: Path, crf: float, encoder: str = "libx264") -> int:
    """Decode + re-encode with the same encoder settings labeling uses, nothing else."""
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        vin = inp.streams.video[0]
        vout = out.add_stream(encoder, rate=vin.average_rate)
        vout.width, vout.height, vout.pix_fmt, vout.time_base = vin.width, vin.height, "yuv420p", vin.time_base
        vout.options = crf_options(encoder, crf) | ENCODER_TUNING.get(encoder, {})
        frames = 0
        for frame in inp.decode(vin):
            # The decoded frame's picture type would force the source's I/P/B pattern on x264 (FFmpeg's
            # libx264 wrapper honours it) and skip x264's own frame-type decisions: not the settings the
            # labeler encodes with (its frames are new, untyped), nor what ffmpeg does when re-encoding.
            frame.pict_type = av.video.frame.PictureType.NONE
            out.mux(vout.encode(frame))
            frames += 1
        out.mux(vout.encode(None))
    return frames


def luma_frames(path: Path) -> Iterator[np.ndarray]:
    with av.open(str(path)) as inp:
        for frame in inp.decode(video=0):
            yield frame.to_ndarray(format="yuv420p")[: frame.height]


def frame_samples(path: Path) -> list[FrameSample]:
    """What the detector gets from a file: time, Y plane and whether the frame was coded on its own."""
    with av.open(str(path)) as inp:
        return [FrameSample(float(frame.time or 0.0), frame.to_ndarray(format="yuv420p")[: frame.height],
                            bool(frame.key_frame)) for frame in inp.decode(video=0)]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float32) - b.astype(np.float32)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


def temporal_flicker(ref: list[np.ndarray], coded: Iterator[np.ndarray]) -> dict[str, float]:
    """How the error (coded - reference luma, code values) changes from frame to frame: ``flicker`` is the
    mean absolute difference of consecutive frames' errors (a mark that shimmers, or is coded strongly in
    one frame and weakly in the next, raises it above the plain re-encode's); ``rms_min``/``rms_max`` are
    the extremes of the per-frame error RMS (a mark that pulses with the I/P/B pattern spreads them)."""
    previous: np.ndarray | None = None
    changes, levels = [], []
    for a, b in zip(ref, coded, strict=False):
        error = b.astype(np.float32) - a.astype(np.float32)
        levels.append(float(np.sqrt(np.mean(error**2))))
        if previous is not None:
            changes.append(float(np.mean(np.abs(error - previous))))
        previous = error
    return {"flicker": float(np.mean(changes)), "rms_min": min(levels), "rms_max": max(levels)}


def encode_lumas(lumas: list[np.ndarray], codec: str, options: dict[str, str], fps: float, path: Path) -> Path:
    h, w = lumas[0].shape
    h, w = h // 2 * 2, w // 2 * 2
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=int(fps))
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = options
        grey = np.full((h // 2, w), 128, np.uint8)
        for luma in lumas:
            frame = av.VideoFrame.from_ndarray(np.vstack([luma[:h, :w], grey]), format="yuv420p")
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


Attack = Callable[[list[np.ndarray], Path], list[FrameSample]]


def _recode(codec: str, options: dict[str, str]) -> Attack:
    def run(lumas: list[np.ndarray], tmp: Path) -> list[FrameSample]:
        return frame_samples(encode_lumas(lumas, codec, options, FPS, tmp))
    return run


def _scale(height: int) -> Attack:
    def run(lumas: list[np.ndarray], tmp: Path) -> list[FrameSample]:
        w = height * 16 // 9
        small = [cv2.resize(y, (w, height), interpolation=cv2.INTER_AREA) for y in lumas]
        return _recode("libx264", {"crf": "23"})(small, tmp)
    return run


def _frames(keep: Callable[[int], bool], fps: float) -> Attack:
    def run(lumas: list[np.ndarray], tmp: Path) -> list[FrameSample]:
        kept = [y for i, y in enumerate(lumas) if keep(i)]
        return frame_samples(encode_lumas(kept, "libx264", {"crf": "23"}, fps, tmp))
    return run


def _crop(keep: float, crf: int = 23, gain: float = 1.0) -> Attack:
    def run(lumas: list[np.ndarray], tmp: Path) -> list[FrameSample]:
        h, w = lumas[0].shape
        ch, cw = int(h * keep ** 0.5), int(w * keep ** 0.5)
        cut = [np.clip(y[(h - ch) // 2 : (h - ch) // 2 + ch, (w - cw) // 3 : (w - cw) // 3 + cw] * gain, 0, 255)
               .astype(np.uint8) for y in lumas]
        return _recode("libx264", {"crf": str(crf)})(cut, tmp)
    return run


def _turned(then: Attack) -> Attack:
    """Every frame turned 90° clockwise (a transcode that applied a portrait clip's display matrix to the
    pixels, or a rotate edit), then ``then``."""
    def run(lumas: list[np.ndarray], tmp: Path) -> list[FrameSample]:
        return then([np.ascontiguousarray(np.rot90(y, -1)) for y in lumas], tmp)
    return run


ATTACKS: dict[str, Attack] = {
    "h264_crf23": _recode("libx264", {"crf": "23"}),
    "h264_crf28": _recode("libx264", {"crf": "28"}),
    "h264_crf35": _recode("libx264", {"crf": "35"}),
    "h265_crf28": _recode("libx265", {"crf": "28"}),
    "vp9_default": _recode("libvpx-vp9", {}),
    "scale_720p": _scale(720),
    "scale_480p": _scale(480),
    "fps_15": _frames(lambda i: (i * 15) // 25 != ((i - 1) * 15) // 25, 15),
    "trim_1.5s": _frames(lambda i: True, FPS),  # the window itself starts 1.5 s in (see windows())
    "drop_20pct": _frames(lambda i: i % 5 != 4, FPS),
    "crop_90pct": _crop(0.90),
    "h264_crf30_crop71_bright0.5": _crop(0.71, crf=30, gain=0.5),
    "turn90_crop_90pct": _turned(_crop(0.90)),
}


def watermark_stage_fps(marker: FrameMarker, luma: np.ndarray, frames: int = 100, rounds: int = 3) -> float:
    """Frames per second of ``marker.mark`` on one 1080p Y plane, on one core (OpenCV's own threads off
    while measuring), the median of ``rounds`` rounds."""
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        marker.mark(luma)
        rates = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            for _ in range(frames):
                marker.mark(luma)
            rates.append(frames / (time.perf_counter() - t0))
        return float(np.median(rates))
    finally:
        cv2.setNumThreads(threads)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--photos", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--verify-seconds", type=float, default=60.0)
    parser.add_argument("--unmarked", action=argparse.BooleanOptionalAction, default=True,
                        help="also run every attack on the unmarked windows and count claims")
    parser.add_argument("--strength", type=float, default=1.0, help="watermark strength (1 = the image mark's)")
    parser.add_argument("--heights", default="720,1080", help="clip heights; robustness runs on 1080 only")
    parser.add_argument("--source-crf", type=int, default=18, help="the clips' H.264 CRF (labeling keeps it)")
    parser.add_argument("--speed-rounds", type=int, default=3,
                        help="alternating plain/label runs per clip for the throughput ratio (median times)")
    parser.add_argument("--robustness", action=argparse.BooleanOptionalAction, default=True,
                        help="run the 2-s-clip attacks (off: quality, flicker and speed only)")
    args = parser.parse_args(argv)
    if args.speed_rounds < 1:
        parser.error("--speed-rounds must be at least 1")
    work = OUT / "video"
    work.mkdir(parents=True, exist_ok=True)
    photos = load_corpus()[: args.photos]
    report: dict[str, object] = {"cpu_note": "2 shared cores; other jobs were running"}
    quality, speed, robust = [], [], {name: [0, 0] for name in ATTACKS}
    # The same windows of the *unmarked* source through the same attacks: every claim there is a false positive.
    unmarked_claims = {name: [0, 0] for name in ATTACKS}
    # every clip pans and zooms; the first photo is also shot still at the largest size, where a mark that
    # pulsed with the frame types would show most (nothing else moves)
    heights = [int(h) for h in args.heights.split(",")]
    clips = [(index, photo, height, True) for index, photo in enumerate(photos) for height in heights]
    clips.append((0, photos[0], max(heights), False))
    for index, photo, height, moving in clips:
        name = f"{photo.name}-{height}" + ("" if moving else "-still")
        src = make_clip(photo.rgb, work / f"{name}.mp4", height, args.seconds, crf=args.source_crf, moving=moving)
        crf = args.source_crf
        # crf=None: labeling reads the source's CRF from x264's record, as `labeler label` does
        settings = VideoLabelSettings(index + 1, KEY, "{}", label=None, crf=None, strength=args.strength)
        # Plain re-encode and labeling alternate --speed-rounds times; the ratio is of the median times (one
        # pair swings by +-0.1 with this shared machine's load), and each pair's ratio is kept for the spread.
        plain_times, label_times = [], []
        for _ in range(args.speed_rounds):
            t0 = time.perf_counter()
            frames = plain_reencode(src, work / "plain.mp4", crf)
            plain_times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            labeled = label_video_file(src, work / "marked.mp4", settings)
            label_times.append(time.perf_counter() - t0)
            assert labeled.rate_control.startswith(f"crf {crf} "), labeled.rate_control
        plain_s, label_s = float(np.median(plain_times)), float(np.median(label_times))
        pairs = [p / q for p, q in zip(plain_times, label_times, strict=True)]
        speed.append({"clip": name, "frames": frames, "plain_fps": frames / plain_s, "label_fps": frames / label_s,
                      "ratio": plain_s / label_s, "pair_ratios": pairs})
        ref = list(luma_frames(src))
        p_plain = np.mean([psnr(a, b) for a, b in zip(ref, luma_frames(work / "plain.mp4"), strict=False)])
        p_mark = np.mean([psnr(a, b) for a, b in zip(ref, luma_frames(work / "marked.mp4"), strict=False)])
        flicker_plain = temporal_flicker(ref, luma_frames(work / "plain.mp4"))
        flicker_mark = temporal_flicker(ref, luma_frames(work / "marked.mp4"))
        quality.append({"clip": name, "psnr_plain": float(p_plain),
                        "psnr_marked": float(p_mark), "loss_db": float(p_plain - p_mark),
                        "flicker_plain": flicker_plain, "flicker_marked": flicker_mark})
        if height != 1080 or not moving or not args.robustness:
            continue
        marked = list(luma_frames(work / "marked.mp4"))
        unmarked = list(luma_frames(src))
        starts = [0.0, 1.5, max(0.0, args.seconds - 2.0)]
        for attack_name, attack in ATTACKS.items():
            for start in starts:
                if attack_name == "trim_1.5s" and start == 0.0:
                    start = 1.5
                window = marked[int(start * FPS) : int(start * FPS) + 2 * FPS]
                found = detect_frames(attack(window, work / "attack.mkv"), KEY)
                robust[attack_name][0] += int(found.watermark_id == index + 1)
                robust[attack_name][1] += 1
                if args.unmarked:
                    clean = unmarked[int(start * FPS) : int(start * FPS) + 2 * FPS]
                    claim = detect_frames(attack(clean, work / "attack.mkv"), KEY)
                    unmarked_claims[attack_name][0] += int(claim.detected)
                    unmarked_claims[attack_name][1] += 1
        print(f"{photo.name}: done", flush=True)
    marker = FrameMarker(1, KEY, args.strength)
    luma = next(luma_frames(work / f"{photos[0].name}-1080.mp4"))
    stage_fps = watermark_stage_fps(marker, luma)
    verify_s, verified = 0.0, False
    if args.verify_seconds > 0:
        long_clip = make_clip(photos[0].rgb, work / "long-1080.mp4", 1080, args.verify_seconds, preset="ultrafast")
        label_video_file(long_clip, work / "long-marked.mp4",
                         VideoLabelSettings(7, KEY, "{}", label=None, crf=23, strength=args.strength))
        t0 = time.perf_counter()
        verified = detect_video_file(work / "long-marked.mp4", KEY).watermark_id == 7
        verify_s = time.perf_counter() - t0
    report.update(quality=quality, speed=speed,
                  robustness={k: {"recovered": v[0], "trials": v[1], "rate": v[0] / max(1, v[1])}
                              for k, v in robust.items()},
                  unmarked_claims={k: {"claims": v[0], "trials": v[1]} for k, v in unmarked_claims.items()},
                  watermark_stage_fps_1080p=stage_fps,
                  verify={"seconds_of_video": args.verify_seconds, "verify_s": verify_s,
                          "detected": verified}, strength=args.strength, source_crf=args.source_crf)
    print(f"{'clip':28} {'PSNR plain':>10} {'PSNR marked':>11} {'loss dB':>8}  {'flicker plain':>13} "
          f"{'flicker marked':>14}  {'error RMS plain':>15} {'error RMS marked':>16}")
    for q in quality:
        fp, fm = q["flicker_plain"], q["flicker_marked"]
        print(f"{q['clip']:28} {q['psnr_plain']:10.2f} {q['psnr_marked']:11.2f} {q['loss_db']:8.2f}  "
              f"{fp['flicker']:13.3f} {fm['flicker']:14.3f}  {fp['rms_min']:7.2f}-{fp['rms_max']:<7.2f} "
              f"{fm['rms_min']:8.2f}-{fm['rms_max']:<7.2f}")
    print(f"{'clip':28} {'plain fps':>10} {'label fps':>10} {'ratio':>6}  pair ratios (alternating runs)")
    for s in speed:
        pairs = " ".join(f"{r:.2f}" for r in s["pair_ratios"])
        print(f"{s['clip']:28} {s['plain_fps']:10.1f} {s['label_fps']:10.1f} {s['ratio']:6.2f}  {pairs}")
    print(f"{'attack (2-s clips)':32} {'recovered':>10} {'unmarked claims':>16}")
    for k, v in robust.items():
        claims = unmarked_claims[k]
        print(f"{k:32} {v[0]:4d}/{v[1]:<4d}  {claims[0]:6d}/{claims[1]:<4d}")
    print(f"watermark stage alone, 1080p: {stage_fps:.0f} fps")
    if args.verify_seconds > 0:
        print(f"verify {args.verify_seconds:.0f}-s 1080p clip: {verify_s:.2f} s (detected={verified})")
    name = "video.json" if args.strength == 1.0 else f"video-strength{args.strength:g}.json"
    if args.source_crf != 18:
        name = name.replace(".json", f"-crf{args.source_crf}.json")
    (OUT / name).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
