"""The re-encode's rate control: the user's option, else the input's own encoder settings, else a default.

x264 and x265 record their full command line in the stream they write (an unregistered user-data SEI
message: ``x264 - core 165 - … - options: cabac=1 … rc=crf … crf=23.0 …``; x265 writes
``x265 (build 216) - … - options: … rc=crf crf=28.0 …``), in the first access unit or, for HEVC in MP4,
in the ``hvcC`` parameter sets. When the input carries that record and is re-encoded with the same
encoder, labeling reuses its rate control — the same CRF, or the same average bitrate, and the same VBV
peak rate and buffer when it had them (streaming encodes cap CRF that way) — so the output matches the
input's quality and size class instead of a fixed transparent CRF. libvpx, SVT-AV1 and
hardware encoders record nothing; then the codec's near-transparent default applies.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
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


@dataclass(frozen=True)
class RateControl:
    """Exactly one of ``crf`` and ``bitrate`` (bit/s) is set; ``origin`` says where it came from;
    ``max_rate`` (bit/s) and ``buffer_size`` (bits) are a VBV cap, both set or neither."""

    crf: float | None
    bitrate: int | None
    origin: str  # "option", "input" or "default"
    recorded_by: str | None = None  # "x264" / "x265" when origin == "input"
    max_rate: int | None = None
    buffer_size: int | None = None

    def describe(self) -> str:
        value = f"crf {self.crf:g}" if self.crf is not None else f"{self.bitrate} bit/s"
        if self.max_rate is not None:
            value += f", VBV {self.max_rate} bit/s / {self.buffer_size} bit"
        if self.origin == "input":
            return f"{value} (the input's {self.recorded_by} settings)"
        if self.origin == "option":
            return f"{value} (option)"
        return f"{value} (default: the input records no encoder settings)"

    def encoder_options(self, encoder: str) -> dict[str, str]:
        """AVOptions for ``encoder`` (a bitrate is set on the stream, not here)."""
        vbv = ({"maxrate": str(self.max_rate), "bufsize": str(self.buffer_size)}
               if self.max_rate is not None and self.buffer_size is not None else {})
        if self.crf is None:
            return vbv
        if encoder == "libvpx-vp9":  # constant quality needs b=0 in libvpx
            return {"crf": str(round(self.crf)), "b": "0"}
        if encoder in ("libsvtav1", "libaom-av1"):
            return {"crf": str(round(self.crf))}
        return {"crf": f"{self.crf:g}"} | vbv


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


def read_recorded_settings(path: Path, encoder: str) -> RateControl | None:
    """:func:`parse_recorded_settings` over the first video stream's extradata and first packets."""
    if encoder not in RECORDING_ENCODER:
        return None
    try:
        with av.open(str(path), "r") as container:
            if not container.streams.video:
                return None
            stream = container.streams.video[0]
            blobs = [bytes(stream.codec_context.extradata or b"")]
            for packet in container.demux(stream):
                if packet.size:
                    blobs.append(bytes(packet))
                if len(blobs) > PACKETS_SEARCHED:
                    break
    except (av.FFmpegError, OSError, ValueError):
        return None
    return parse_recorded_settings(blobs, encoder)


def choose_rate_control(
    path: Path, encoder: str, crf: float | None = None, bitrate: int | None = None,
) -> RateControl:
    """The user's ``bitrate`` or ``crf`` when given, else the input's recorded settings, else the default."""
    if bitrate is not None:
        return RateControl(None, bitrate, "option")
    if crf is not None:
        return RateControl(crf, None, "option")
    recorded = read_recorded_settings(path, encoder)
    if recorded is not None:
        return recorded
    return RateControl(DEFAULT_CRF[encoder], None, "default")
