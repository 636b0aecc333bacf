"""The re-encode's rate control: the user's option, else the input's recorded settings, else an estimate or a default.

x264 and x265 record their full command line in the stream they write (an unregistered user-data SEI
message: ``x264 - core 165 - … - options: cabac=1 … rc=crf … crf=23.0 …``; x265 writes
``x265 (build 216) - … - options: … rc=crf crf=28.0 …``), in the first access unit or, for HEVC in MP4,
in the ``hvcC`` parameter sets. When the input carries that record and is re-encoded with the same
encoder, labeling reuses its rate control — the same CRF, or the same average bitrate, and the same VBV
peak rate and buffer when it had them (streaming encodes cap CRF that way) — so the output matches the
input's quality and size class instead of a fixed transparent CRF. libvpx, SVT-AV1 and
hardware encoders record nothing; for them labeling matches the input's bits instead.

Estimating when nothing is recorded. The opening frames (up to :data:`PROBE_SECONDS`) are coded by our
encoder at two CRFs, and the CRF that would spend what the input spent on the same frames is read off the
straight line through (CRF, log bits) — encoders' size falls roughly geometrically with CRF (x264 halves
it every ~6 steps), so between the two probes the line is close. Same codec, same bits on the same
frames, is the same quality class; the opening seconds stand for the whole, which is the estimate's
limit. The estimate is kept within :data:`ESTIMATE_RANGE`: never finer than the codec's near-transparent
CRF (a camera's 50 Mbit/s would otherwise ask for a near-lossless re-encode) and never coarser than the
quality the watermark is benchmarked at. Frames stream through both probe encoders as they are decoded;
nothing is buffered. When there is too little to fit, the codec's near-transparent default applies.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

#: CRF giving roughly transparent quality when nothing is known about the input (libx264's and libx265's
#: own defaults are 23 and 28; these are lower, so an unknown input loses as little as possible).
DEFAULT_CRF: dict[str, float] = {"libx264": 18, "libx265": 22, "libvpx-vp9": 31, "libsvtav1": 30, "libaom-av1": 30}
#: The encoder whose recorded settings can be reused by each of ours.
RECORDING_ENCODER = {"libx264": b"x264", "libx265": b"x265"}
#: How many of the first video packets are searched for the record (x264 puts it in the first).
PACKETS_SEARCHED = 3
#: The record is ASCII up to a NUL; its options list is about 1–3 KB.
_RECORD = re.compile(rb"(x26[45]) (?:- core|\(build)[\x20-\x7e]{0,400}? - options: ([\x20-\x7e]{1,8000})")
_OPTION = re.compile(rb"([a-z0-9_-]+)=(\S+)")
_MAX_BITRATE = 10_000_000_000
#: Options every encode with each encoder gets besides its rate control: the preset (the record lists the
#: preset's individual options, not its name, so it is not reused) and, for x265, quiet (it writes an info
#: block to stderr per encode otherwise).
ENCODER_TUNING: dict[str, dict[str, str]] = {
    "libx264": {"preset": "medium"},
    "libx265": {"preset": "medium", "x265-params": "log-level=error"},
}
#: Encoders whose CRF is a whole number (x264 and x265 take fractions).
INTEGER_CRF = frozenset({"libvpx-vp9", "libsvtav1", "libaom-av1"})
#: How much of the opening is probed when nothing is recorded, at most (seconds and frames), and the fewest
#: frames worth fitting.
PROBE_SECONDS = 1.0
PROBE_MAX_FRAMES = 60
PROBE_MIN_FRAMES = 4
#: The two CRFs each encoder probes at: its near-transparent default and 12 steps coarser (libvpx and
#: SVT-AV1 count on a 0–63 scale; 16 steps there are about as far).
PROBE_CRFS: dict[str, tuple[float, float]] = {
    "libx264": (18, 30), "libx265": (22, 34), "libvpx-vp9": (31, 47), "libsvtav1": (30, 46), "libaom-av1": (30, 46),
}
#: Where an estimate is clamped: from the near-transparent default to the coarsest CRF the watermark's
#: robustness is measured at (H.264 CRF 35 and about the same quality in the others).
ESTIMATE_RANGE: dict[str, tuple[float, float]] = {
    "libx264": (18, 35), "libx265": (22, 39), "libvpx-vp9": (31, 52), "libsvtav1": (30, 52), "libaom-av1": (30, 52),
}


@dataclass(frozen=True)
class CrfEstimate:
    """What an estimated CRF was fitted to, and whether :data:`ESTIMATE_RANGE` clamped it."""

    input_bitrate: int  # bit/s the input spent on the probed frames
    probed_seconds: float
    probe_crfs: tuple[float, float]
    clamped: bool


@dataclass(frozen=True)
class RateControl:
    """Exactly one of ``crf`` and ``bitrate`` (bit/s) is set; ``origin`` says where it came from;
    ``max_rate`` (bit/s) and ``buffer_size`` (bits) are a VBV cap, both set or neither."""

    crf: float | None
    bitrate: int | None
    origin: str  # "option", "input", "estimated" or "default"
    recorded_by: str | None = None  # "x264" / "x265" when origin == "input"
    max_rate: int | None = None
    buffer_size: int | None = None
    estimate: CrfEstimate | None = None  # what an "estimated" CRF was fitted to

    def describe(self) -> str:
        value = f"crf {self.crf:g}" if self.crf is not None else f"{self.bitrate} bit/s"
        if self.max_rate is not None:
            value += f", VBV {self.max_rate} bit/s / {self.buffer_size} bit"
        if self.origin == "input":
            return f"{value} (the input's {self.recorded_by} settings)"
        if self.origin == "option":
            return f"{value} (option)"
        if self.origin == "estimated" and self.estimate is not None:
            fit = self.estimate
            bound = ", clamped" if fit.clamped else ""
            return (f"{value} (estimated{bound}: the input's {fit.input_bitrate / 1e6:.2f} Mbit/s over its first "
                    f"{fit.probed_seconds:.1f} s, probed at crf {fit.probe_crfs[0]:g} and {fit.probe_crfs[1]:g})")
        return f"{value} (default: the input records no encoder settings)"

    def encoder_options(self, encoder: str) -> dict[str, str]:
        """AVOptions for ``encoder`` (a bitrate is set on the stream, not here)."""
        vbv = ({"maxrate": str(self.max_rate), "bufsize": str(self.buffer_size)}
               if self.max_rate is not None and self.buffer_size is not None else {})
        if self.crf is None:
            return vbv
        if encoder in ("libx264", "libx265"):
            return crf_options(encoder, self.crf) | vbv
        return crf_options(encoder, self.crf)


def crf_options(encoder: str, crf: float) -> dict[str, str]:
    """AVOptions for constant quality ``crf`` in ``encoder``."""
    if encoder == "libvpx-vp9":  # constant quality needs b=0 in libvpx
        return {"crf": str(round(crf)), "b": "0"}
    if encoder in INTEGER_CRF:
        return {"crf": str(round(crf))}
    return {"crf": f"{crf:g}"}


def parse_recorded_settings(blobs: Iterable[bytes], encoder: str) -> RateControl | None:
    """The rate control recorded by x264/x265 in ``blobs`` (extradata, first packets), if ``encoder`` is the
    same encoder; None when there is no record, or it is another encoder's or not understood."""
    wanted = RECORDING_ENCODER.get(encoder)
    if wanted is None:
        return None
    for blob in blobs:
        match = _RECORD.search(blob)
        if match is None or match.group(1) != wanted:
            continue
        options = {k.decode(): v.decode() for k, v in _OPTION.findall(match.group(2))}
        return _from_options(options, wanted.decode())
    return None


def _from_options(options: dict[str, str], recorded_by: str) -> RateControl | None:
    mode = options.get("rc")
    vbv = _vbv(options)
    try:
        if mode == "crf":
            crf = float(options["crf"])
            return RateControl(crf, None, "input", recorded_by, *vbv) if 0 <= crf <= 51 else None
        if mode == "cqp":  # constant QP: the CRF of the same number is the nearest constant-quality setting
            qp = float(options["qp"])
            return RateControl(qp, None, "input", recorded_by) if 0 <= qp <= 51 else None
        if mode in ("abr", "cbr", "2pass"):
            bitrate = _kbits(options["bitrate"])
            return RateControl(None, bitrate, "input", recorded_by, *vbv) if bitrate is not None else None
    except (KeyError, ValueError):
        return None
    return None


def _kbits(value: str) -> int | None:
    """A recorded rate or size in kbit(/s) as bit(/s); None when not a positive, sane amount."""
    kbits = float(value)
    if not 0 < kbits <= _MAX_BITRATE / 1000:  # also refuses nan and inf, which round() cannot take
        return None
    return round(kbits * 1000)


def _vbv(options: dict[str, str]) -> tuple[int | None, int | None]:
    """The recorded VBV cap (x264: vbv_maxrate/vbv_bufsize, x265: vbv-maxrate/vbv-bufsize, kbit/s and
    kbit), both or neither; zero (x264's "no VBV") gives neither."""
    try:
        max_rate = _kbits(options.get("vbv_maxrate", options.get("vbv-maxrate", "0")))
        buffer_size = _kbits(options.get("vbv_bufsize", options.get("vbv-bufsize", "0")))
    except ValueError:  # an unreadable cap is no cap; the rate control itself still applies
        return None, None
    return (max_rate, buffer_size) if max_rate is not None and buffer_size is not None else (None, None)


@contextlib.contextmanager
def _first_video_stream(path: Path) -> Iterator[tuple[av.container.InputContainer, av.VideoStream | None]]:
    with av.open(str(path), "r") as container:
        yield container, (container.streams.video[0] if container.streams.video else None)


def read_recorded_settings(path: Path, encoder: str) -> RateControl | None:
    """:func:`parse_recorded_settings` over the first video stream's extradata and first packets."""
    if encoder not in RECORDING_ENCODER:
        return None
    try:
        with _first_video_stream(path) as (container, stream):
            if stream is None:
                return None
            blobs = [bytes(stream.codec_context.extradata or b"")]
            for packet in container.demux(stream):
                if packet.size:
                    blobs.append(bytes(packet))
                if len(blobs) > PACKETS_SEARCHED:
                    break
    except (av.FFmpegError, OSError, ValueError):
        return None
    return parse_recorded_settings(blobs, encoder)


def fit_crf(input_bits: int, probes: tuple[tuple[float, int], tuple[float, int]],
            bounds: tuple[float, float]) -> tuple[float, bool] | None:
    """The CRF (one decimal) at which the line through the two (CRF, log2 bits) ``probes`` reaches
    ``input_bits``, clamped to ``bounds``, and whether it was clamped; None when the probes do not fall
    with CRF."""
    (crf_a, bits_a), (crf_b, bits_b) = sorted(probes)
    if input_bits <= 0 or bits_b <= 0 or bits_a <= bits_b or crf_a == crf_b:
        return None
    slope = (math.log2(bits_b) - math.log2(bits_a)) / (crf_b - crf_a)  # negative: bits fall as CRF grows
    crf = crf_a + (math.log2(input_bits) - math.log2(bits_a)) / slope
    low, high = bounds
    clamped = min(max(crf, low), high)
    return round(clamped, 1), clamped != crf


def _probe_encoder(encoder: str, crf: float, width: int, height: int, pix_fmt: str,
                   rate: Fraction) -> av.VideoCodecContext:
    context = av.CodecContext.create(encoder, "w")
    assert isinstance(context, av.VideoCodecContext)
    context.width, context.height, context.pix_fmt = width, height, pix_fmt
    context.time_base = 1 / rate
    context.framerate = rate
    context.options = crf_options(encoder, crf) | ENCODER_TUNING.get(encoder, {})
    context.open()
    return context


def estimate_rate_control(path: Path, encoder: str, pix_fmt: str) -> RateControl | None:
    """Probe ``path``'s opening frames with ``encoder`` in ``pix_fmt`` (the real encode's working format)
    and fit the CRF that spends the input's bits; None when there is too little to fit or the probe
    fails."""
    crfs = PROBE_CRFS.get(encoder)
    if crfs is None:
        return None
    try:
        with _first_video_stream(path) as (container, stream):
            if stream is None:
                return None
            rate = Fraction(stream.average_rate or stream.guessed_rate or 25)
            limit = min(PROBE_MAX_FRAMES, max(PROBE_MIN_FRAMES, round(PROBE_SECONDS * rate)))
            width, height = stream.codec_context.width, stream.codec_context.height
            probes = [_probe_encoder(encoder, crf, width, height, pix_fmt, rate) for crf in crfs]
            coded = [0, 0]
            packet_sizes: list[int] = []
            frames = 0
            for packet in container.demux(stream):
                if packet.size:
                    packet_sizes.append(packet.size)
                for frame in packet.decode():
                    if frames < limit and isinstance(frame, av.VideoFrame):
                        work = frame.reformat(format=pix_fmt)
                        work.pts, work.time_base = frames, 1 / rate
                        for index, probe in enumerate(probes):
                            coded[index] += 8 * sum(p.size for p in probe.encode(work))
                        frames += 1
                if frames == limit:
                    break
            for index, probe in enumerate(probes):
                coded[index] += 8 * sum(p.size for p in probe.encode(None))
    except (av.FFmpegError, OSError, ValueError):
        return None
    if frames < PROBE_MIN_FRAMES:
        return None
    # Decode order: the first `frames` packets carry the probed frames (reordering delays which packet
    # releases a frame, not how many packets there are).
    input_bits = 8 * sum(packet_sizes[:frames])
    fitted = fit_crf(input_bits, ((crfs[0], coded[0]), (crfs[1], coded[1])), ESTIMATE_RANGE[encoder])
    if fitted is None:
        return None
    seconds = float(frames / rate)
    estimate = CrfEstimate(round(input_bits / seconds), seconds, crfs, fitted[1])
    crf = float(round(fitted[0])) if encoder in INTEGER_CRF else fitted[0]  # what the encoder will be given
    return RateControl(crf, None, "estimated", estimate=estimate)


def choose_rate_control(
    path: Path, encoder: str, crf: float | None = None, bitrate: int | None = None, pix_fmt: str = "yuv420p",
) -> RateControl:
    """The user's ``bitrate`` or ``crf`` when given, else the input's recorded settings, else a CRF
    estimated from the input's bits (probed in ``pix_fmt``), else the default."""
    if bitrate is not None:
        return RateControl(None, bitrate, "option")
    if crf is not None:
        return RateControl(crf, None, "option")
    recorded = read_recorded_settings(path, encoder)
    if recorded is not None:
        return recorded
    estimated = estimate_rate_control(path, encoder, pix_fmt)
    if estimated is not None:
        return estimated
    return RateControl(DEFAULT_CRF[encoder], None, "default")
