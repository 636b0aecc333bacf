"""Peak memory of labeling and verifying long audio files: ``Labeler.label_file`` and
``Verifier.verify_file`` on a 10-min and a 30-min 44.1 kHz stereo WAV and a 30-min MP3 (128 kbit/s),
synthesised on the fly (music-like: harmonic notes over pink-ish noise), written to disk in pieces so
generating them does not weigh on the measurement.

Each labeling runs in a fresh interpreter: peak RSS growth = VmHWM at the end - VmRSS just before
labeling (after imports and the key), so imports and the parent do not count. Routes:

* ``before``: the in-memory route main used for files (read the file, ``label_bytes``, write the bytes);
  with ``--before-tree /work/main`` it is main's own ``label_file`` instead.
* ``after``: this tree's ``label_file`` (audio streamed path to path, labeler/audio/streaming.py).
* ``verify``: ``verify_file`` of the labeled output, in ``--before-tree`` (when given) and in this tree
  (the file's bytes are read whole, for hashing and C2PA; the decoded programme is never held whole).

Run ``python -m benchmarks.audio_memory`` (``--minutes 10 30`` to choose; ``--keep DIR`` keeps inputs).
Writes out/bench/audio_memory.json. Wall-clock times are on a shared 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np

from labeler.audio.codec import mux_pcm_blocks

RATE = 44100
ROOT = Path(__file__).resolve().parent.parent

#: Run in the child interpreter: label argv[2] into argv[3] by argv[1]'s route, print the measurement.
CHILD = r"""
import json, sys, time
from pathlib import Path
import labeler
labeler_file = labeler.__file__
from labeler.pipeline import Labeler
from labeler.settings import LabelOptions
from labeler.watermark.keys import WatermarkKey

def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)

route, source, destination = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
labeler = Labeler(WatermarkKey(b"labeler-audio-memory-bench-key-1"))
options = LabelOptions(producer="bench", produce_id="memory-1", audio_prompt_end=True)
before = status("VmRSS")
start = time.perf_counter()
if route == "verify":
    from labeler.verification import Verifier
    report = Verifier(WatermarkKey(b"labeler-audio-memory-bench-key-1")).verify_file(source)
    seconds = time.perf_counter() - start
    assert report.watermark.detected, report.watermark
    print(json.dumps({"rss_before": before, "peak": status("VmHWM"), "seconds": seconds,
                      "output_bytes": source.stat().st_size, "watermark_id": None}))
    sys.exit(0)
if route == "memory":
    from labeler.fileio import read_input, write_output
    result = labeler.label_bytes(read_input(source, labeler.limits), options, record=False)
    write_output(destination, result.data, force=True)
else:
    result = labeler.label_file(source, destination, options, force=True)
seconds = time.perf_counter() - start
print(json.dumps({"rss_before": before, "peak": status("VmHWM"), "seconds": seconds,
                  "output_bytes": destination.stat().st_size, "watermark_id": result.watermark_id}))
"""


def _music_piece(seconds: float, seed: int) -> np.ndarray:
    """float32 frames x 2: notes changing every 0.4 s with a few harmonics, over a soft noise bed."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    out = np.zeros(n)
    note = int(0.4 * RATE)
    for start in range(0, n, note):
        seg = slice(start, min(start + note, n))
        f0 = 110.0 * 2 ** (rng.integers(0, 24) / 12)
        envelope = np.exp(-3.0 * (t[seg] - t[start]))
        for harmonic in range(1, 7):
            out[seg] += 0.1 / harmonic * envelope * np.sin(2 * np.pi * f0 * harmonic * t[seg])
    noise = np.cumsum(rng.standard_normal(n)) * 0.0005
    out += 0.02 * rng.standard_normal(n) + noise - noise.mean()
    return np.stack([out, 0.9 * out], axis=1).astype(np.float32).clip(-1, 1)


def write_programme(path: Path, minutes: float, muxer: str, codec: str, bit_rate: int | None = None) -> Path:
    """``minutes`` of music-like stereo in ``path``, encoded a minute at a time."""
    with av.open(str(path), "w", format=muxer) as sink:
        stream = sink.add_stream(codec, rate=RATE, layout="stereo")
        assert isinstance(stream, av.AudioStream)
        if bit_rate:
            stream.bit_rate = bit_rate
        pieces = (_music_piece(min(60.0, minutes * 60 - minute * 60), seed=minute)
                  for minute in range(int(np.ceil(minutes))))
        mux_pcm_blocks(sink, stream, pieces, RATE, "stereo")
    return path


def measure(tree: Path, route: str, source: Path, destination: Path, keep_output: bool = False) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=str(tree), OMP_NUM_THREADS="1")
    # run in ``tree``: ``python -c`` puts the working folder first on sys.path, before PYTHONPATH
    done = subprocess.run([sys.executable, "-c", CHILD + f"\nassert labeler_file.startswith({str(tree)!r})\n",
                           route, str(source), str(destination)], env=env, cwd=tree, capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"}
    row = json.loads(done.stdout.strip().splitlines()[-1])
    if route != "verify" and not keep_output:
        destination.unlink(missing_ok=True)
    return {"peak_rss_growth_mb": round((row["peak"] - row["rss_before"]) / 2**20, 1),
            "seconds": round(row["seconds"], 1), "output_mb": round(row["output_bytes"] / 2**20, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, nargs="*", default=[10.0, 30.0], help="WAV lengths")
    parser.add_argument("--mp3-minutes", type=float, nargs="*", default=[30.0], help="MP3 lengths")
    parser.add_argument("--before-tree", type=Path, default=None,
                        help="a checkout whose label_file is 'before' (default: this tree's in-memory route)")
    parser.add_argument("--keep", type=Path, default=None, help="folder for the inputs (kept)")
    parser.add_argument("--out", type=Path, default=Path("out/bench/audio_memory.json"))
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="labeler-audio-memory-"))
    folder.mkdir(parents=True, exist_ok=True)
    cases = [(m, "wav", "pcm_s16le", None) for m in args.minutes] + \
            [(m, "mp3", "libmp3lame", 128_000) for m in args.mp3_minutes]
    rows = []
    for minutes, muxer, codec, bit_rate in cases:
        source = folder / f"programme-{minutes:g}min.{muxer}"
        if not source.exists():
            started = time.perf_counter()
            write_programme(source, minutes, muxer, codec, bit_rate)
            print(f"wrote {source.name} ({source.stat().st_size / 2**20:.0f} MB) in "
                  f"{time.perf_counter() - started:.0f} s", file=sys.stderr)
        row: dict[str, object] = {"input": source.name, "minutes": minutes,
                                  "input_mb": round(source.stat().st_size / 2**20, 1)}
        before_tree, before_route = (args.before_tree, "file") if args.before_tree else (ROOT, "memory")
        row["before"] = measure(before_tree, before_route, source, folder / f"out-before.{muxer}")
        labeled = folder / f"out-after.{muxer}"
        row["after"] = measure(ROOT, "file", source, labeled, keep_output=True)
        if args.before_tree:
            row["verify_before"] = measure(args.before_tree, "verify", labeled, labeled)
        row["verify_after"] = measure(ROOT, "verify", labeled, labeled)
        labeled.unlink(missing_ok=True)
        print(json.dumps(row), file=sys.stderr)
        rows.append(row)
    if args.keep is None:
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()
    columns = ("before", "after", "verify_before", "verify_after")
    print(f"{'input':<24} {'MB':>6}" + "".join(f" {name + ': +MB RSS':>22} {'s':>6}" for name in columns))
    for row in rows:
        cells = []
        for name in columns:
            cell = row.get(name, {})
            assert isinstance(cell, dict)
            growth = cell.get("peak_rss_growth_mb", cell.get("error", "-"))
            cells.append(f" {growth!s:>22} {cell.get('seconds', '-')!s:>6}")
        print(f"{row['input']!s:<24} {row['input_mb']!s:>6}" + "".join(cells))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"before": str(args.before_tree or "in-memory route"), "rows": rows}, indent=2)
                        + "\n")


if __name__ == "__main__":
    main()
