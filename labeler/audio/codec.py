"""Audio containers in and out through PyAV (FFmpeg): decode to float32 frames x channels, encode the same
container and codec back with the GB 45438 ``AIGC`` label in that container's own metadata.

One table row per container (``CONTAINERS``); sniffing is by magic bytes only. Where the AIGC label goes:

* MP3: ID3v2.4 ``TXXX`` frame with description ``AIGC`` (FFmpeg writes unknown keys as TXXX).
* WAV: a dedicated RIFF chunk ``AIGC`` (UTF-8 JSON) after the ``data`` chunk, plus nothing else touched.
* FLAC: a Vorbis comment ``AIGC=...`` in the VORBIS_COMMENT block.
* Ogg/Opus: a Vorbis-style comment ``AIGC=...`` in the OpusTags header.
* M4A/AAC: an MP4 ``meta`` item with key ``AIGC`` (``mdta`` keys, FFmpeg ``use_metadata_tags``).

See docs/audio.md for the sources.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass, field
from typing import Any

import av
import numpy as np

from labeler.errors import CorruptMedia, EmptyMedia, InvalidOption, MediaTooLarge, UnsupportedFormat
from labeler.settings import Limits

#: Lowest bitrate a lossy re-encode uses when the input's cannot be read (bits per second).
DEFAULT_LOSSY_BIT_RATE = 192_000
MIN_SAMPLE_RATE = 8_000
MAX_SAMPLE_RATE = 96_000
MAX_CHANNELS = 8
AIGC_KEY = "AIGC"


@dataclass(frozen=True)
class AudioContainer:
    name: str  # "wav", "flac", "mp3", "m4a", "ogg"
    mime: str
    muxer: str
    extensions: tuple[str, ...]
    lossy: bool
    #: Human-readable place where the AIGC label is written.
    aigc_location: str

    def sniff(self, head: bytes) -> bool:
        if self.name == "wav":
            return head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE"
        if self.name == "flac":
            return head[:4] == b"fLaC" or (head[:3] == b"ID3" and b"fLaC" in head)
        if self.name == "ogg":
            return head[:4] == b"OggS"
        if self.name == "m4a":
            return head[4:8] == b"ftyp"
        if self.name == "mp3":
            if head[:3] == b"ID3":
                return True
            return len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0 and (head[1] & 0x06) != 0
        return False


WAV = AudioContainer("wav", "audio/wav", "wav", (".wav",), False, "WAV RIFF chunk AIGC")
FLAC = AudioContainer("flac", "audio/flac", "flac", (".flac",), False, "FLAC Vorbis comment AIGC")
MP3 = AudioContainer("mp3", "audio/mpeg", "mp3", (".mp3",), True, "MP3 ID3v2 TXXX:AIGC")
M4A = AudioContainer("m4a", "audio/mp4", "ipod", (".m4a", ".mp4", ".aac"), True, "M4A MP4 metadata item AIGC")
OGG = AudioContainer("ogg", "audio/ogg", "ogg", (".ogg", ".opus"), True, "Ogg/Opus comment AIGC")

#: Sniffing order (FLAC before MP3: a FLAC file may start with an ID3 tag).
CONTAINERS: tuple[AudioContainer, ...] = (WAV, FLAC, OGG, M4A, MP3)


def sniff_audio(data: bytes) -> AudioContainer | None:
    """The audio container whose magic bytes match ``data``, or None."""
    head = data[:64]
    if head[:3] == b"ID3" and len(data) >= 10:
        # Skip an ID3v2 tag to see what follows (FLAC files sometimes carry one).
        size = _syncsafe(data[6:10]) + 10
        after = data[size : size + 4]
        if after == b"fLaC":
            return FLAC
        return MP3
    for container in CONTAINERS:
        if container.sniff(head):
            if container is M4A and not _is_audio_mp4(data):
                return None
            return container
    return None


def _syncsafe(raw: bytes) -> int:
    return (raw[0] << 21) | (raw[1] << 14) | (raw[2] << 7) | raw[3]


def _is_audio_mp4(data: bytes) -> bool:
    """An ISO-BMFF file counts as M4A only when its only tracks are sound (video goes to the video path)."""
    brand = data[8:12]
    if brand in (b"M4A ", b"M4B ", b"M4P "):
        return True
    try:
        with av.open(io.BytesIO(data), "r") as container:
            return bool(container.streams.audio) and not container.streams.video
    except Exception:
        return False


@dataclass
class DecodedAudio:
    container: AudioContainer
    #: float32, frames x channels, nominally in [-1, 1].
    pcm: np.ndarray
    sample_rate: int
    codec: str
    #: Input bitrate in bits/s when known (lossy formats).
    bit_rate: int | None
    #: PCM sample format of WAV input ("s16", "s24", "s32", "flt"), FLAC bits per sample, ...
    sample_format: str
    layout: str
    #: Metadata tags read from the container and stream (kept on output, AIGC replaced).
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def channels(self) -> int:
        return int(self.pcm.shape[1])

    @property
    def duration(self) -> float:
        return self.pcm.shape[0] / self.sample_rate


def decode_audio(data: bytes, limits: Limits, container: AudioContainer | None = None) -> DecodedAudio:
    """Decode ``data`` to float32 PCM, checking duration and size limits before and while decoding."""
    if not data:
        raise EmptyMedia("the file is empty (0 bytes)")
    container = container or sniff_audio(data)
    if container is None:
        raise UnsupportedFormat("not a supported audio format (supported: WAV, FLAC, MP3, M4A/AAC, Ogg/Opus)")
    try:
        return _decode(data, limits, container)
    except (av.error.FFmpegError, ValueError, IndexError, EOFError) as exc:
        raise CorruptMedia(f"cannot decode {container.name.upper()} audio: {exc}") from None


def _decode(data: bytes, limits: Limits, container: AudioContainer) -> DecodedAudio:
    with av.open(io.BytesIO(data), "r") as source:
        if not source.streams.audio:
            raise CorruptMedia(f"the {container.name.upper()} file has no audio stream")
        stream = source.streams.audio[0]
        ctx = stream.codec_context
        rate = int(ctx.sample_rate or 0)
        channels = int(ctx.channels or 0)
        if rate <= 0 or channels <= 0:
            raise CorruptMedia("the audio stream has no sample rate or channel count")
        if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
            raise UnsupportedFormat(f"sample rate {rate} Hz is outside {MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} Hz")
        if channels > MAX_CHANNELS:
            raise UnsupportedFormat(f"{channels} channels (at most {MAX_CHANNELS} are supported)")
        if source.duration is not None and source.duration / 1_000_000 > limits.max_audio_seconds:
            raise MediaTooLarge(
                f"audio lasts {source.duration / 1_000_000:.0f} s, over the limit of {limits.max_audio_seconds:.0f} s"
            )
        max_frames = int(limits.max_audio_seconds * rate) + 1
        layout = ctx.layout.name
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
        # Decoded straight into one frames x channels array sized from the container's duration (grown
        # when that was short): an hour of stereo is 1.4 GB of float32, held once, not as chunks plus
        # their concatenation plus its transpose.
        expected = int(source.duration / 1_000_000 * rate) + rate if source.duration else 60 * rate
        pcm = np.zeros((min(expected, max_frames), channels), dtype=np.float32)
        total = 0

        def append(block: np.ndarray) -> None:
            nonlocal pcm, total
            if not np.isfinite(block).all():
                raise CorruptMedia("decoded audio holds NaN or infinite samples")
            count = block.shape[1]
            if total + count > pcm.shape[0]:
                grown = np.zeros((min(max(2 * pcm.shape[0], total + count), max_frames + count), channels),
                                 dtype=np.float32)
                grown[:total] = pcm[:total]
                pcm = grown
            pcm[total : total + count] = block.T
            total += count

        for frame in source.decode(stream):
            for out in resampler.resample(frame):
                block = out.to_ndarray()
                if total + block.shape[1] > max_frames:
                    raise MediaTooLarge(f"audio is longer than the limit of {limits.max_audio_seconds:.0f} s")
                append(block)
        for out in resampler.resample(None):
            append(out.to_ndarray())
        if total == 0:
            raise EmptyMedia(f"the {container.name.upper()} file holds no audio samples")
        if total < pcm.shape[0]:
            pcm = pcm[:total].copy() if total < pcm.shape[0] // 2 else pcm[:total]
        tags = {str(k): str(v) for k, v in source.metadata.items()}
        tags.update({str(k): str(v) for k, v in stream.metadata.items()})
        bit_rate = int(stream.bit_rate or ctx.bit_rate or 0) or None
        if bit_rate is None and container.lossy and source.duration:
            bit_rate = int(len(data) * 8 / (source.duration / 1_000_000))
        return DecodedAudio(
            container=container,
            pcm=pcm,
            sample_rate=rate,
            codec=ctx.name,
            bit_rate=bit_rate,
            sample_format=_sample_format(ctx),
            layout=layout,
            tags=tags,
        )


def _sample_format(ctx: Any) -> str:
    name = str(ctx.format.name) if ctx.format is not None else "flt"
    if ctx.name == "pcm_s24le" or getattr(ctx, "bits_per_raw_sample", 0) == 24:
        return "s24"
    return name.rstrip("p")


#: Tags FFmpeg adds itself or that describe the old encoding; never copied to the output.
_DROPPED_TAGS = {"encoder", "major_brand", "minor_version", "compatible_brands", "handler_name", "vendor_id",
                 "language", "creation_time", "duration"}


def _encoder(decoded: DecodedAudio) -> tuple[str, dict[str, str]]:
    """Codec name and codec options for re-encoding ``decoded`` in its own container."""
    name = decoded.container.name
    if name == "wav":
        return {"s16": "pcm_s16le", "s24": "pcm_s24le", "s32": "pcm_s32le", "flt": "pcm_f32le",
                "dbl": "pcm_f32le", "u8": "pcm_s16le"}.get(decoded.sample_format, "pcm_s16le"), {}
    if name == "flac":
        return "flac", {}
    if name == "mp3":
        return "libmp3lame", {}
    if name == "m4a":
        return "aac", {}
    if name == "ogg":
        if decoded.codec not in ("opus", "libopus"):
            raise UnsupportedFormat(f"Ogg with codec {decoded.codec!r}: only Ogg/Opus can be written")
        return "libopus", {}
    raise UnsupportedFormat(f"cannot encode {name}")


#: Bitrates the lossy encoders are asked for: the smallest one at least the input's.
_STANDARD_BIT_RATES = (32_000, 48_000, 64_000, 96_000, 128_000, 160_000, 192_000, 256_000, 320_000, 512_000)


def output_bit_rate(decoded: DecodedAudio) -> int:
    """A bitrate at least the input's (MP3 tops out at 320 kbit/s)."""
    wanted = decoded.bit_rate or DEFAULT_LOSSY_BIT_RATE
    chosen = next((b for b in _STANDARD_BIT_RATES if b >= wanted), _STANDARD_BIT_RATES[-1])
    if decoded.container.name == "mp3":
        chosen = min(chosen, 320_000)
    if decoded.container.name == "ogg":
        chosen = min(chosen, 256_000 * decoded.channels)
    return chosen


def encode_audio(decoded: DecodedAudio, pcm: np.ndarray, aigc_json: str | None) -> bytes:
    """Encode float32 ``pcm`` (frames x channels) in ``decoded``'s container and codec, carrying
    ``decoded.tags`` and, when given, the AIGC label in the container's proper place."""
    if pcm.ndim != 2 or pcm.shape[1] != decoded.channels or pcm.dtype != np.float32:
        raise InvalidOption("pcm must be float32 frames x channels like the decoded input")
    codec, options = _encoder(decoded)
    tags = {k: v for k, v in decoded.tags.items() if k.lower() not in _DROPPED_TAGS and k.upper() != AIGC_KEY}
    container = decoded.container
    rate = decoded.sample_rate
    if codec == "libopus" and rate not in (8000, 12000, 16000, 24000, 48000):
        rate = 48000  # Opus runs at these rates only; the decoder reports 48 kHz anyway
    buffer = io.BytesIO()
    mux_options = {"movflags": "use_metadata_tags"} if container.name == "m4a" else {}
    with av.open(buffer, "w", format=container.muxer, options=mux_options) as sink:
        stream = sink.add_stream(codec, rate=rate, layout=decoded.layout)
        assert isinstance(stream, av.AudioStream)
        if container.lossy:
            stream.bit_rate = output_bit_rate(decoded)
        if options:
            stream.codec_context.options = options
        stream_tags = dict(tags)
        if aigc_json is not None and container.name in ("mp3", "flac", "m4a"):
            tags[AIGC_KEY] = aigc_json
        if aigc_json is not None and container.name == "ogg":
            stream_tags[AIGC_KEY] = aigc_json
        sink.metadata.update(tags)
        if container.name == "ogg":
            stream.metadata.update(stream_tags)
        target = str(stream.codec_context.format.name)
        resampler = av.AudioResampler(format=target, layout=decoded.layout, rate=rate)
        block = 65_536
        for start in range(0, pcm.shape[0], block):
            planar = np.ascontiguousarray(np.clip(pcm[start : start + block], -1.0, 1.0).T)
            frame = av.AudioFrame.from_ndarray(planar, format="fltp", layout=decoded.layout)
            frame.sample_rate = decoded.sample_rate
            for converted in resampler.resample(frame):
                for packet in stream.encode(converted):
                    sink.mux(packet)
        for converted in resampler.resample(None):
            for packet in stream.encode(converted):
                sink.mux(packet)
        for packet in stream.encode(None):
            sink.mux(packet)
    data = buffer.getvalue()
    if container.name == "wav" and aigc_json is not None:
        data = add_riff_chunk(data, b"AIGC", aigc_json.encode("utf-8"))
    return data


def add_riff_chunk(data: bytes, chunk_id: bytes, payload: bytes) -> bytes:
    """``data`` (a RIFF file) with one more chunk appended and the RIFF size fixed."""
    if data[:4] != b"RIFF" or len(chunk_id) != 4:
        raise CorruptMedia("not a RIFF file")
    chunk = chunk_id + struct.pack("<I", len(payload)) + payload + (b"\0" if len(payload) % 2 else b"")
    body = data + chunk
    return body[:4] + struct.pack("<I", len(body) - 8) + body[8:]


#: Bound on the RIFF chunks walked when reading metadata.
MAX_RIFF_CHUNKS = 100_000
MAX_TEXT_CHUNK_BYTES = 1_000_000


def riff_text_chunks(data: bytes) -> dict[str, str]:
    """Text from a WAV's own metadata: our AIGC chunk, LIST/INFO entries and any small chunk holding
    JSON (other providers' labels). Never raises on junk input."""
    found: dict[str, str] = {}
    try:
        if data[:4] not in (b"RIFF", b"RF64") or data[8:12] != b"WAVE":
            return found
        pos = 12
        for _ in range(MAX_RIFF_CHUNKS):
            if pos + 8 > len(data):
                break
            cid = data[pos : pos + 4]
            size = struct.unpack("<I", data[pos + 4 : pos + 8])[0]
            body = data[pos + 8 : pos + 8 + min(size, MAX_TEXT_CHUNK_BYTES)]
            name = cid.decode("latin-1").strip()
            if cid == b"LIST" and body[:4] == b"INFO":
                found.update(_info_entries(body[4:]))
            elif cid not in (b"data", b"fmt ", b"fact") and size <= MAX_TEXT_CHUNK_BYTES:
                text = body.rstrip(b"\0").decode("utf-8", errors="replace")
                if name.upper() == AIGC_KEY or "{" in text:
                    found[f"RIFF chunk {name}"] = text
            pos += 8 + size + (size & 1)
    except Exception:
        return found
    return found


def _info_entries(body: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    pos = 0
    while pos + 8 <= len(body) and len(out) < 4096:
        cid = body[pos : pos + 4].decode("latin-1")
        size = struct.unpack("<I", body[pos + 4 : pos + 8])[0]
        out[f"RIFF LIST/INFO {cid}"] = body[pos + 8 : pos + 8 + size].rstrip(b"\0").decode("utf-8", errors="replace")
        pos += 8 + size + (size & 1)
    return out


def read_audio_tags(data: bytes, container: AudioContainer) -> dict[str, str]:
    """Every text tag the container carries (container, stream and, for WAV, RIFF chunks), as
    location -> text. Never raises on junk input."""
    tags: dict[str, str] = {}
    if container.name == "wav":
        tags.update(riff_text_chunks(data))
    try:
        with av.open(io.BytesIO(data), "r") as source:
            for key, value in source.metadata.items():
                tags[f"{_tag_place(container)} {key}"] = str(value)
            for stream in source.streams.audio[:1]:
                for key, value in stream.metadata.items():
                    tags[f"{_tag_place(container)} {key}"] = str(value)
    except Exception:
        pass
    return tags


def _tag_place(container: AudioContainer) -> str:
    return {
        "mp3": "MP3 ID3v2",
        "flac": "FLAC Vorbis comment",
        "ogg": "Ogg comment",
        "m4a": "M4A MP4 metadata",
        "wav": "WAV LIST/INFO",
    }[container.name]


def resample_pcm(pcm: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """``pcm`` (float32 frames x channels, at most 8) resampled by libswresample."""
    if from_rate == to_rate:
        return pcm
    layout = {1: "mono", 2: "stereo"}.get(pcm.shape[1])
    if layout is None:
        return np.stack([resample_pcm(pcm[:, [c]], from_rate, to_rate)[:, 0] for c in range(pcm.shape[1])], axis=1)
    resampler = av.AudioResampler(format="fltp", layout=layout, rate=to_rate)
    out: list[np.ndarray] = []
    block = 1 << 18
    for start in range(0, pcm.shape[0], block):
        planar = np.ascontiguousarray(pcm[start : start + block].T)
        frame = av.AudioFrame.from_ndarray(planar, format="fltp", layout=layout)
        frame.sample_rate = from_rate
        out.extend(f.to_ndarray() for f in resampler.resample(frame))
    out.extend(f.to_ndarray() for f in resampler.resample(None))
    return np.ascontiguousarray(np.concatenate(out, axis=1).T, dtype=np.float32)
