"""Rate control of the re-encode: the option, else the input's recorded x264/x265 settings, else a CRF
estimated from the input's bits, else a default."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from labeler.errors import InvalidOption
from labeler.settings import VisibleLabelOptions
from labeler.video.rate_control import (
    DEFAULT_CRF,
    ENCODER_TUNING,
    ESTIMATE_RANGE,
    PROBE_CRFS,
    PROBE_SECONDS,
    RateControl,
    choose_rate_control,
    crf_options,
    fit_crf,
    parse_recorded_settings,
    read_recorded_settings,
)
from labeler.video.transcode import VideoLabelSettings, label_video_file

X264_HEAD = (b"\x06\x05\xff\xff\xdc\x45\xe9\xbd\xe6\xd9\x48\xb7\x96\x2c\xd8\x20\xd9\x23\xee\xef"
             b"x264 - core 165 - H.264/MPEG-4 AVC codec - Copyleft 2003-2025 - http://www.videolan.org/x264.html"
             b" - options: cabac=1 ref=3 deblock=1:0:0 analyse=0x3:0x113 me=hex subme=7 psy=1 ")
X265_HEAD = (b"x265 (build 216) - 4.2+1-e444744:[Linux][GCC 14.2.1][64 bit] 8bit+10bit+12bit - H.265/HEVC codec"
             b" - Copyright 2013-2018 (c) Multicoreware, Inc - http://x265.org - options: cpuid=1111039 "
             b"frame-threads=2 numa-pools=2 wpp no-pmode ")


def x264_record(rate: str) -> bytes:
    return X264_HEAD + rate.encode() + b" qcomp=0.60 qpmin=0 qpmax=69 qpstep=4 ip_ratio=1.40 aq=1:1.00\x00\x80"


@given(st.floats(min_value=0, max_value=51, allow_nan=False).map(lambda v: round(v, 1)))
def test_a_recorded_crf_is_read_back(crf: float) -> None:
    found = parse_recorded_settings([b"\x00\x00\x01junk", x264_record(f"rc=crf mbtree=1 crf={crf:.1f}")], "libx264")
    assert found == RateControl(crf, None, "input", "x264")


@given(st.integers(min_value=1, max_value=500_000))
def test_a_recorded_average_bitrate_is_read_back_in_bits_per_second(kbps: int) -> None:
    for mode in ("abr", "cbr", "2pass"):
        found = parse_recorded_settings([x264_record(f"rc={mode} mbtree=1 bitrate={kbps} ratetol=1.0")], "libx264")
        assert found == RateControl(None, kbps * 1000, "input", "x264")


@given(st.integers(min_value=1, max_value=200_000), st.integers(min_value=1, max_value=400_000))
def test_a_recorded_vbv_cap_is_read_back_with_its_rate_control(maxrate: int, bufsize: int) -> None:
    capped = x264_record(f"rc=crf mbtree=1 crf=23.0 vbv_maxrate={maxrate} vbv_bufsize={bufsize} crf_max=0.0")
    assert parse_recorded_settings([capped], "libx264") == RateControl(
        23.0, None, "input", "x264", maxrate * 1000, bufsize * 1000)
    x265 = X265_HEAD + f"rc=abr bitrate=900 vbv-maxrate={maxrate} vbv-bufsize={bufsize} vbv-init=0.9\x00".encode()
    assert parse_recorded_settings([x265], "libx265") == RateControl(
        None, 900_000, "input", "x265", maxrate * 1000, bufsize * 1000)
    # a cap that is off (x264 writes 0) or unreadable is no cap; the rate control still applies
    for cap in ("vbv_maxrate=0 vbv_bufsize=0", f"vbv_maxrate={maxrate} vbv_bufsize=lots",
                f"vbv_maxrate=inf vbv_bufsize={bufsize}"):
        assert parse_recorded_settings([x264_record(f"rc=crf crf=23.0 {cap}")], "libx264") == RateControl(
            23.0, None, "input", "x264")


def test_x265_record_and_constant_qp() -> None:
    assert parse_recorded_settings([X265_HEAD + b"rc=crf crf=28.0 qcomp=0.60\x00"], "libx265") == RateControl(
        28.0, None, "input", "x265")
    assert parse_recorded_settings([x264_record("rc=cqp mbtree=0 qp=20")], "libx264") == RateControl(
        20.0, None, "input", "x264")


@given(st.binary(max_size=400))
def test_no_record_or_a_damaged_one_is_no_rate_control(noise: bytes) -> None:
    cases = [
        [noise],
        [x264_record("rc=crf crf=")],  # value cut off
        [x264_record("rc=crf crf=77.0")],  # out of range
        [x264_record("rc=crf crf=nan-ish")],
        [x264_record("rc=vbv-only")],  # a mode we do not reuse
        [x264_record("rc=abr bitrate=0")],
        [x264_record("rc=abr bitrate=inf")],  # a crafted record must not crash the re-encode
        [x264_record("rc=cbr bitrate=nan")],
        [X264_HEAD[:60] + noise],  # truncated before "options:"
    ]
    for blobs in cases:
        assert parse_recorded_settings(blobs, "libx264") is None
    # another encoder's record is not reused: x264's rate factor means nothing to libx265 or libvpx
    assert parse_recorded_settings([x264_record("rc=crf crf=23.0")], "libx265") is None
    assert parse_recorded_settings([x264_record("rc=crf crf=23.0")], "libvpx-vp9") is None


def _clip(path: Path, codec: str, options: dict[str, str] | None, bitrate: int | None = None,
          frames: int = 12) -> Path:
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=25)
        stream.width, stream.height, stream.pix_fmt = 256, 160, "yuv420p"
        if options:
            stream.options = options
        if bitrate:
            stream.bit_rate = bitrate
        base = np.random.default_rng(3).integers(0, 255, (160, 300, 3), dtype=np.uint8)
        for index in range(frames):
            picture = np.ascontiguousarray(base[:, index * 2 : index * 2 + 256])
            out.mux(stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        out.mux(stream.encode(None))
    return path


def _settings(**kw: object) -> VideoLabelSettings:
    return VideoLabelSettings(None, None, "{}", label=VisibleLabelOptions(), **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(("codec", "recorder", "crf"), [("libx264", "x264", "27"), ("libx265", "x265", "31")])
def test_labeling_reuses_the_inputs_crf(tmp_path: Path, codec: str, recorder: str, crf: str) -> None:
    src = _clip(tmp_path / "in.mp4", codec, {"crf": crf})
    dst = tmp_path / "out.mp4"
    result = label_video_file(src, dst, _settings())
    assert result.rate_control == f"crf {crf} (the input's {recorder} settings)"
    # the output's own record says the encoder ran at that CRF
    assert read_recorded_settings(dst, codec) == RateControl(float(crf), None, "input", recorder)


@pytest.mark.parametrize(("codec", "recorder"), [("libx264", "x264"), ("libx265", "x265")])
def test_labeling_keeps_the_inputs_vbv_cap(tmp_path: Path, codec: str, recorder: str) -> None:
    src = _clip(tmp_path / "in.mp4", codec, {"crf": "24", "maxrate": "600000", "bufsize": "1200000"})
    dst = tmp_path / "out.mp4"
    result = label_video_file(src, dst, _settings())
    assert result.rate_control == f"crf 24, VBV 600000 bit/s / 1200000 bit (the input's {recorder} settings)"
    assert read_recorded_settings(dst, codec) == RateControl(24.0, None, "input", recorder, 600_000, 1_200_000)


def test_labeling_reuses_the_inputs_average_bitrate(tmp_path: Path) -> None:
    src = _clip(tmp_path / "in.mp4", "libx264", None, bitrate=300_000)
    result = label_video_file(src, tmp_path / "out.mp4", _settings())
    assert result.rate_control == "300000 bit/s (the input's x264 settings)"
    assert read_recorded_settings(tmp_path / "out.mp4", "libx264") == RateControl(None, 300_000, "input", "x264")


def test_options_win_over_the_record(tmp_path: Path) -> None:
    x264 = _clip(tmp_path / "in.mp4", "libx264", {"crf": "27"})
    assert choose_rate_control(x264, "libx264", crf=12) == RateControl(12, None, "option")
    assert choose_rate_control(x264, "libx264", bitrate=9000) == RateControl(None, 9000, "option")
    out = tmp_path / "out.mp4"
    assert label_video_file(x264, out, _settings(crf=12)).rate_control == "crf 12 (option)"
    assert read_recorded_settings(out, "libx264") == RateControl(12.0, None, "input", "x264")
    assert read_recorded_settings(tmp_path / "missing.mp4", "libx264") is None  # unreadable: no record


@given(st.floats(min_value=2.0, max_value=12.0), st.floats(min_value=1e6, max_value=1e15),
       st.floats(min_value=0.0, max_value=63.0))
def test_the_fit_inverts_a_geometric_size_curve(halving: float, scale: float, crf: float) -> None:
    """Bits that halve every ``halving`` CRF steps: the fit finds the CRF of any size, clamped to the range."""
    def bits(at: float) -> int:
        return round(scale * 2 ** (-at / halving))
    if min(bits(crf), bits(40)) < 10_000:  # whole bits: a few would round the curve off its line
        return
    fitted = fit_crf(bits(crf), ((20, bits(20)), (40, bits(40))), (18, 50))
    assert fitted is not None
    value, clamped = fitted
    assert clamped == (not 18 <= crf <= 50) or abs(crf - 18) < 0.1 or abs(crf - 50) < 0.1
    assert value == pytest.approx(min(max(crf, 18), 50), abs=0.06)


def test_the_fit_refuses_probes_that_do_not_fall_with_crf() -> None:
    assert fit_crf(1000, ((20, 500), (40, 500)), (18, 50)) is None  # flat: no line to read
    assert fit_crf(1000, ((20, 500), (40, 900)), (18, 50)) is None  # rising
    assert fit_crf(0, ((20, 900), (40, 500)), (18, 50)) is None  # the input spent nothing
    assert fit_crf(700, ((40, 500), (20, 900)), (18, 50)) is not None  # probe order does not matter


def _probe_window_bits(path: Path, encoder: str, crf: float) -> tuple[int, int]:
    """The input's bits over its first PROBE_SECONDS of packets, and ``encoder``'s at ``crf`` on the same
    frames."""
    with av.open(str(path)) as inp:
        stream = inp.streams.video[0]
        limit = round(PROBE_SECONDS * stream.average_rate)
        sizes = [p.size for p in inp.demux(stream) if p.size][:limit]
        inp.seek(0)
        context = av.CodecContext.create(encoder, "w")
        assert isinstance(context, av.VideoCodecContext)
        context.width, context.height, context.pix_fmt = stream.width, stream.height, "yuv420p"
        context.time_base = Fraction(1, 25)
        context.options = crf_options(encoder, crf) | ENCODER_TUNING.get(encoder, {})
        coded = 0
        for index, frame in enumerate(inp.decode(stream)):
            if index == len(sizes):
                break
            frame.pts, frame.time_base, frame.pict_type = index, Fraction(1, 25), av.video.frame.PictureType.NONE
            coded += sum(p.size for p in context.encode(frame))
        coded += sum(p.size for p in context.encode(None))
    return 8 * sum(sizes), 8 * coded


@pytest.mark.parametrize(("codec", "suffix", "options"), [
    ("libx264", "mp4", {"crf": "30"}),
    ("libx265", "mp4", {"crf": "33"}),
    ("libvpx-vp9", "webm", {"crf": "45", "b": "0"}),
    ("libsvtav1", "mp4", {"crf": "40"}),
])
def test_an_unrecorded_input_gets_the_crf_that_spends_its_bits(
    tmp_path: Path, codec: str, suffix: str, options: dict[str, str],
) -> None:
    src = _clip(tmp_path / f"in.{suffix}", codec, options, frames=30)
    # encoders that record nothing: x264's and x265's records overwritten, same length, so the stream decodes
    src.write_bytes(src.read_bytes().replace(b"x264 - core", b"xxxx - core").replace(b"x265 (build", b"xxxx (build"))
    assert read_recorded_settings(src, codec) is None
    chosen = choose_rate_control(src, codec)
    assert chosen.origin == "estimated" and chosen.crf is not None and chosen.estimate is not None
    assert not chosen.estimate.clamped
    low, high = ESTIMATE_RANGE[codec]
    assert low < chosen.crf < high
    # the fit is the point: coded at the estimate, the same frames cost what the input spent on them
    input_bits, coded_bits = _probe_window_bits(src, codec, chosen.crf)
    assert chosen.estimate.input_bitrate == pytest.approx(input_bits / chosen.estimate.probed_seconds, rel=0.01)
    assert coded_bits == pytest.approx(input_bits, rel=0.25)
    # and labeling says so
    result = label_video_file(src, tmp_path / f"out.{suffix}", _settings())
    assert result.rate_control == chosen.describe()
    assert result.rate_control.startswith(f"crf {chosen.crf:g} (estimated: the input's ")


def test_fine_and_coarse_unrecorded_inputs_get_fine_and_coarse_crfs(tmp_path: Path) -> None:
    fine = choose_rate_control(_clip(tmp_path / "fine.webm", "libvpx-vp9", {"crf": "4", "b": "0"}, frames=30),
                               "libvpx-vp9")
    coarse = choose_rate_control(_clip(tmp_path / "coarse.webm", "libvpx-vp9", {"crf": "60", "b": "0"}, frames=30),
                                 "libvpx-vp9")
    assert fine.estimate is not None and coarse.estimate is not None
    # near-lossless input is re-encoded at the near-transparent default, not bit for bit
    assert fine.crf == DEFAULT_CRF["libvpx-vp9"] == PROBE_CRFS["libvpx-vp9"][0] and fine.estimate.clamped
    assert "estimated, clamped" in fine.describe()
    assert coarse.crf is not None and coarse.crf > 47
    assert coarse.estimate.input_bitrate < fine.estimate.input_bitrate / 4


def test_too_short_an_unrecorded_input_gets_the_default(tmp_path: Path) -> None:
    src = _clip(tmp_path / "in.webm", "libvpx-vp9", {"crf": "40", "b": "0"}, frames=3)
    result = label_video_file(src, tmp_path / "out.webm", _settings())
    assert result.rate_control == f"crf {DEFAULT_CRF['libvpx-vp9']:g} (default: the input records no encoder settings)"


def test_a_fractional_crf_option_is_accepted_and_out_of_range_is_refused(tmp_path: Path) -> None:
    src = _clip(tmp_path / "in.mp4", "libx264", {"crf": "20"})
    result = label_video_file(src, tmp_path / "out.mp4", _settings(crf=23.5))
    assert result.rate_control == "crf 23.5 (option)"
    assert read_recorded_settings(tmp_path / "out.mp4", "libx264") == RateControl(23.5, None, "input", "x264")
    with pytest.raises(InvalidOption):
        _settings(crf=-1)
