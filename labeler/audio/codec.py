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

import contextlib
import io
import mmap
import os
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import av
import numpy as np

from labeler.errors import (
    CorruptMedia,
    EmptyMedia,
    InvalidOption,
    MediaTooLarge,
    OutputNotWritable,
    UnsupportedFormat,
)
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
            if container is M4A and not _is_audio_mp4(data, data):
                return None
            return container
    return None


def sniff_audio_file(path: Path) -> AudioContainer | None:
    """The audio container of the file at ``path`` from its first bytes (as :func:`sniff_audio`), reading
    only what the sniff needs: the head, the 4 bytes after an ID3v2 tag, an MP4's track list."""
    with open(path, "rb") as handle:
        head = handle.read(64)
        if head[:3] == b"ID3" and len(head) >= 10:
            handle.seek(_syncsafe(head[6:10]) + 10)
            return FLAC if handle.read(4) == b"fLaC" else MP3
    for container in CONTAINERS:
        if container.sniff(head):
            if container is M4A and not _is_audio_mp4(head, path):
                return None
            return container
    return None


def _syncsafe(raw: bytes) -> int:
    return (raw[0] << 21) | (raw[1] << 14) | (raw[2] << 7) | raw[3]


def _is_audio_mp4(head: bytes, source: bytes | Path) -> bool:
    """An ISO-BMFF file counts as M4A only when its only tracks are sound (video goes to the video path)."""
    brand = head[8:12]
    if brand in (b"M4A ", b"M4B ", b"M4P "):
        return True
    try:
        with av.open(io.BytesIO(source) if isinstance(source, bytes) else str(source), "r") as container:
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
        raise UnsupportedFormat(UNSUPPORTED_AUDIO)
    with AudioReader(data, limits, container) as reader:
        rate, channels = reader.sample_rate, reader.channels
        max_frames = reader.max_frames
        # Decoded straight into one frames x channels array sized from the container's duration (grown
        # when that was short): an hour of stereo is 1.4 GB of float32, held once, not as chunks plus
        # their concatenation plus its transpose.
        duration = reader.header_seconds
        expected = int(duration * rate) + rate if duration else 60 * rate
        pcm = np.zeros((min(expected, max_frames), channels), dtype=np.float32)
        total = 0
        for block in reader.blocks():
            count = block.shape[0]
            if total + count > pcm.shape[0]:
                grown = np.zeros((min(max(2 * pcm.shape[0], total + count), max_frames + count), channels),
                                 dtype=np.float32)
                grown[:total] = pcm[:total]
                pcm = grown
            pcm[total : total + count] = block
            total += count
        if total < pcm.shape[0]:
            pcm = pcm[:total].copy() if total < pcm.shape[0] // 2 else pcm[:total]
        return reader.decoded(pcm)


UNSUPPORTED_AUDIO = "not a supported audio format (supported: WAV, FLAC, MP3, M4A/AAC, Ogg/Opus)"


class AudioReader:
    """The first audio stream of a file (bytes in memory or a path), decoded block by block with every
    check :func:`decode_audio` makes: sample rate and channel count on opening, the duration limit from
    the header and again while decoding, finite samples, at least one sample. Errors carry the same
    codes (CORRUPT_MEDIA for what FFmpeg cannot read). Use as a context manager; read :meth:`blocks` to
    the end, then :meth:`decoded` gives the stream's parameters (tags, bitrate, sample format)."""

    def __init__(self, source: bytes | Path, limits: Limits, container: AudioContainer) -> None:
        self.container = container
        self.limits = limits
        self._size = len(source) if isinstance(source, bytes) else os.path.getsize(source)
        self._stack = contextlib.ExitStack()
        try:
            with self._errors():
                handle: IO[bytes] = (io.BytesIO(source) if isinstance(source, bytes)
                                     else self._stack.enter_context(open(source, "rb")))  # noqa: SIM115
                self._source = self._stack.enter_context(av.open(handle, "r"))
                self._open()
        except BaseException:
            self._stack.close()
            raise
        self.frames = 0

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except (av.error.FFmpegError, ValueError, IndexError, EOFError) as exc:
            raise CorruptMedia(f"cannot decode {self.container.name.upper()} audio: {exc}") from None

    def _open(self) -> None:
        source, container, limits = self._source, self.container, self.limits
        if not source.streams.audio:
            raise CorruptMedia(f"the {container.name.upper()} file has no audio stream")
        self._stream = stream = source.streams.audio[0]
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
        self.sample_rate, self.channels = rate, channels
        self.layout = str(ctx.layout.name)
        #: Most frames accepted (the duration limit).
        self.max_frames = int(limits.max_audio_seconds * rate) + 1
        #: The container's duration in seconds (0.0 when it does not say).
        self.header_seconds = source.duration / 1_000_000 if source.duration else 0.0

    def blocks(self) -> Iterator[np.ndarray]:
        """The decoded samples, float32 frames x channels blocks as FFmpeg hands them out."""
        resampler = av.AudioResampler(format="fltp", layout=self.layout, rate=self.sample_rate)
        with self._errors():
            for frame in self._source.decode(self._stream):
                for out in resampler.resample(frame):
                    block = out.to_ndarray()
                    if self.frames + block.shape[1] > self.max_frames:
                        raise MediaTooLarge(
                            f"audio is longer than the limit of {self.limits.max_audio_seconds:.0f} s")
                    yield self._checked(block)
            for out in resampler.resample(None):
                yield self._checked(out.to_ndarray())
        if self.frames == 0:
            raise EmptyMedia(f"the {self.container.name.upper()} file holds no audio samples")

    def _checked(self, block: np.ndarray) -> np.ndarray:
        if not np.isfinite(block).all():
            raise CorruptMedia("decoded audio holds NaN or infinite samples")
        self.frames += block.shape[1]
        return block.T

    def decoded(self, pcm: np.ndarray | None = None) -> DecodedAudio:
        """The stream's description, with ``pcm`` (default: none, 0 frames) as its samples."""
        source, stream = self._source, self._stream
        ctx = stream.codec_context
        tags = {str(k): str(v) for k, v in source.metadata.items()}
        tags.update({str(k): str(v) for k, v in stream.metadata.items()})
        bit_rate = int(stream.bit_rate or ctx.bit_rate or 0) or None
        if bit_rate is None and self.container.lossy and source.duration:
            bit_rate = int(self._size * 8 / (source.duration / 1_000_000))
        return DecodedAudio(
            container=self.container,
            pcm=pcm if pcm is not None else np.zeros((0, self.channels), dtype=np.float32),
            sample_rate=self.sample_rate,
            codec=ctx.name,
            bit_rate=bit_rate,
            sample_format=_sample_format(ctx),
            layout=self.layout,
            tags=tags,
        )

    def close(self) -> None:
        self._stack.close()

    def __enter__(self) -> AudioReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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


#: Frames handed to the encoder at a time (in memory and streamed alike, so both give the same bytes).
ENCODE_BLOCK_FRAMES = 65_536


def encode_audio(decoded: DecodedAudio, pcm: np.ndarray, aigc_json: str | None) -> bytes:
    """Encode float32 ``pcm`` (frames x channels) in ``decoded``'s container and codec, carrying
    ``decoded.tags`` and, when given, the AIGC label in the container's proper place."""
    if pcm.ndim != 2 or pcm.shape[1] != decoded.channels or pcm.dtype != np.float32:
        raise InvalidOption("pcm must be float32 frames x channels like the decoded input")
    buffer = io.BytesIO()
    blocks = (pcm[start : start + ENCODE_BLOCK_FRAMES] for start in range(0, pcm.shape[0], ENCODE_BLOCK_FRAMES))
    _encode_into(buffer, decoded, blocks, aigc_json)
    data = buffer.getvalue()
    if decoded.container.name == "wav" and aigc_json is not None:
        data = add_riff_chunk(data, b"AIGC", aigc_json.encode("utf-8"))
    return data


def encode_audio_file(
    decoded: DecodedAudio, blocks: Iterable[np.ndarray], aigc_json: str | None, destination: Path
) -> None:
    """As :func:`encode_audio`, from float32 frames x channels ``blocks`` (ENCODE_BLOCK_FRAMES long, the
    last one shorter, for the same bytes) into the file ``destination``, never holding the whole."""
    try:
        with open(destination, "w+b") as handle:
            _encode_into(handle, decoded, blocks, aigc_json)
            if decoded.container.name == "wav" and aigc_json is not None:
                append_riff_chunk(handle, b"AIGC", aigc_json.encode("utf-8"))
    except OSError as exc:
        raise OutputNotWritable(f"cannot write {destination}: {exc.strerror or exc}") from None


def _encode_into(target: IO[bytes], decoded: DecodedAudio, blocks: Iterable[np.ndarray], aigc_json: str | None) -> None:
    codec, options = _encoder(decoded)
    tags = {k: v for k, v in decoded.tags.items() if k.lower() not in _DROPPED_TAGS and k.upper() != AIGC_KEY}
    container = decoded.container
    rate = decoded.sample_rate
    if codec == "libopus" and rate not in (8000, 12000, 16000, 24000, 48000):
        rate = 48000  # Opus runs at these rates only; the decoder reports 48 kHz anyway
    mux_options = {"movflags": "use_metadata_tags"} if container.name == "m4a" else {}
    with av.open(target, "w", format=container.muxer, options=mux_options) as sink:
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
        mux_pcm_blocks(sink, stream, _checked_blocks(blocks, decoded.channels), decoded.sample_rate, decoded.layout)


def _checked_blocks(blocks: Iterable[np.ndarray], channels: int) -> Iterator[np.ndarray]:
    for block in blocks:
        if block.ndim != 2 or block.shape[1] != channels:
            raise InvalidOption("pcm must be float32 frames x channels like the decoded input")
        yield np.clip(block, -1.0, 1.0)


def mux_pcm_blocks(sink: Any, stream: Any, blocks: Iterable[np.ndarray], sample_rate: int, layout: str) -> None:
    """Encode float32 frames x channels ``blocks`` (at ``sample_rate``, channel ``layout``) into the audio
    ``stream`` of the open output ``sink``: each block converted to the encoder's sample format and rate
    by libswresample, then the resampler and the encoder flushed."""
    resampler = av.AudioResampler(
        format=str(stream.codec_context.format.name), layout=layout, rate=stream.codec_context.sample_rate
    )

    def encode(frames: Iterable[Any]) -> None:
        for converted in frames:
            for packet in stream.encode(converted):
                sink.mux(packet)

    for block in blocks:
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(block.T), format="fltp", layout=layout)
        frame.sample_rate = sample_rate
        encode(resampler.resample(frame))
    encode(resampler.resample(None))
    for packet in stream.encode(None):
        sink.mux(packet)


def add_riff_chunk(data: bytes, chunk_id: bytes, payload: bytes) -> bytes:
    """``data`` (a RIFF file) with one more chunk appended and the RIFF size fixed."""
    if data[:4] != b"RIFF" or len(chunk_id) != 4:
        raise CorruptMedia("not a RIFF file")
    chunk = chunk_id + struct.pack("<I", len(payload)) + payload + (b"\0" if len(payload) % 2 else b"")
    body = data + chunk
    return body[:4] + struct.pack("<I", len(body) - 8) + body[8:]


def append_riff_chunk(handle: IO[bytes], chunk_id: bytes, payload: bytes) -> None:
    """:func:`add_riff_chunk` on an open RIFF file (read/write): the chunk written at its end, the RIFF
    size fixed, nothing else read or moved."""
    handle.seek(0)
    if handle.read(4) != b"RIFF" or len(chunk_id) != 4:
        raise CorruptMedia("not a RIFF file")
    chunk = chunk_id + struct.pack("<I", len(payload)) + payload + (b"\0" if len(payload) % 2 else b"")
    end = handle.seek(0, os.SEEK_END)
    if end + len(chunk) - 8 > 0xFFFF_FFFF:
        raise MediaTooLarge("the labeled WAV would exceed the 4 GB a RIFF file can hold")
    handle.write(chunk)
    handle.seek(4)
    handle.write(struct.pack("<I", end + len(chunk) - 8))


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


def read_audio_tags(data: bytes | Path, container: AudioContainer) -> dict[str, str]:
    """Every text tag the container carries (container, stream and, for WAV, RIFF chunks), as
    location -> text. ``data`` may be a path: the file is then read by FFmpeg and, for WAV's chunks,
    memory-mapped (only the chunk headers and small text chunks are touched). Never raises on junk input."""
    tags: dict[str, str] = {}
    if container.name == "wav":
        if isinstance(data, Path):
            with contextlib.suppress(OSError, ValueError), open(data, "rb") as handle, \
                    mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
                tags.update(riff_text_chunks(mapped))  # type: ignore[arg-type]  # bytes-like: slices are bytes
        else:
            tags.update(riff_text_chunks(data))
    try:
        with av.open(str(data) if isinstance(data, Path) else io.BytesIO(data), "r") as source:
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
