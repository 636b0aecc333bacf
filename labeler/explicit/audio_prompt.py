"""The audible label: the rhythm prompt (Morse code of "AI", ·− ··, as clean tones) or a voice prompt.

GB 45438-2025 lets audio carry a voice prompt ("AI生成") or a rhythm prompt whose rhythm is the Morse
code of "AI" (short-long, short-short), at the start and optionally elsewhere. Timing here (ITU-R M.1677
Morse proportions): one unit UNIT_SECONDS; dot = 1 unit, dash = 3, gap inside a letter 1, between
letters 3. "AI" is 11 units = 0.88 s of pattern, preceded by LEAD_SECONDS of silence and followed by
GAP_SECONDS before the programme. Tones are TONE_HZ sine bursts with RAMP_SECONDS raised-cosine edges (no
clicks). The level is matched to the programme: the tone's RMS equals the programme's gated RMS (its
loudness ignoring near-silence), with the peak kept at or below -1 dBFS.

The prompt is *inserted* (the programme is shifted, never covered) in audio files. A video's soundtrack
cannot grow without losing lip sync, so there ``overlay_prompt`` lays it over the programme, which is
ducked by DUCK_GAIN under it. ``detect_prompt`` is a matched filter on the tone's narrow-band envelope
over the first (and last) seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from labeler.errors import InvalidOption

UNIT_SECONDS = 0.08
TONE_HZ = 1000.0
RAMP_SECONDS = 0.005
LEAD_SECONDS = 0.2
GAP_SECONDS = 0.4
#: "AI" in Morse: (on?, units) pairs.
MORSE_AI: tuple[tuple[bool, int], ...] = (
    (True, 1), (False, 1), (True, 3),  # A ·−
    (False, 3),
    (True, 1), (False, 1), (True, 1),  # I ··
)
PEAK_CEILING = 10 ** (-1 / 20)
#: Gate for the programme's loudness: frames quieter than this (dBFS RMS) are not counted.
GATE_DBFS = -50.0
#: Programme gain under an overlaid prompt (-12 dB), ramped over DUCK_RAMP_SECONDS at each side.
DUCK_GAIN = 0.25
DUCK_RAMP_SECONDS = 0.05
#: Minimum normalised envelope correlation for "present".
DETECT_CORRELATION = 0.8
#: How far from each end the detector looks, seconds.
SEARCH_SECONDS = 3.0


@dataclass(frozen=True)
class PromptOptions:
    """``kind`` "morse", "voice" (needs ``voice_path``) or "none"; ``at_end`` repeats it at the end."""

    kind: str = "morse"
    at_end: bool = False
    voice_path: Path | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("morse", "voice", "none"):
            raise InvalidOption(f"prompt must be morse, voice:PATH or none, got {self.kind!r}")
        if self.kind == "voice" and self.voice_path is None:
            raise InvalidOption("a voice prompt needs a WAV file (voice:PATH)")

    @classmethod
    def parse(cls, text: str, at_end: bool = False) -> PromptOptions:
        """From the CLI form: ``morse``, ``none`` or ``voice:PATH``."""
        if text.startswith("voice:"):
            return cls("voice", at_end, Path(text[len("voice:") :]))
        return cls(text.strip().lower(), at_end)


def loudness_frame(sample_rate: int) -> int:
    """Samples per loudness frame (100 ms)."""
    return max(1, int(0.1 * sample_rate))


def loud_frame_powers(pcm: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mean power (float64) of each whole 100-ms frame of ``pcm`` louder than GATE_DBFS, all channels
    together; a programme can be measured piece by piece (pieces a whole number of frames long)."""
    frame = loudness_frame(sample_rate)
    usable = pcm.shape[0] // frame * frame
    # a minute of frames at a time: a float64 square of a whole soundtrack would be 2x its size again
    step = frame * 600
    blocks = [np.square(pcm[start : min(start + step, usable)], dtype=np.float64)
              .reshape(-1, frame, pcm.shape[1]).mean(axis=(1, 2)) for start in range(0, usable, step)]
    powers = np.concatenate(blocks) if blocks else np.zeros(0)
    return powers[powers > 10 ** (GATE_DBFS / 10)]


def programme_rms(pcm: np.ndarray, sample_rate: int) -> float:
    """Gated RMS of the programme: 100-ms frames above GATE_DBFS, all channels together."""
    if pcm.shape[0] < loudness_frame(sample_rate):
        power = float(np.mean(np.square(pcm, dtype=np.float64))) if pcm.size else 0.0
        return math.sqrt(power)
    loud = loud_frame_powers(pcm, sample_rate)
    return math.sqrt(float(loud.mean())) if loud.size else 0.0


def morse_envelope(sample_rate: int) -> np.ndarray:
    """0/1 on-off pattern of "AI" at ``sample_rate`` (no lead or gap)."""
    unit = round(UNIT_SECONDS * sample_rate)
    return np.concatenate([np.full(units * unit, 1.0 if on else 0.0, dtype=np.float32) for on, units in MORSE_AI])


def morse_prompt(sample_rate: int, rms: float) -> np.ndarray:
    """The mono rhythm prompt (float32), lead silence and trailing gap included, at tone RMS ``rms``."""
    envelope = morse_envelope(sample_rate)
    ramp = max(1, round(RAMP_SECONDS * sample_rate))
    shaped = _ramped(envelope, ramp)
    t = np.arange(shaped.size, dtype=np.float64) / sample_rate
    peak = min(PEAK_CEILING, rms * math.sqrt(2.0))
    tone = (peak * np.sin(2 * np.pi * TONE_HZ * t) * shaped).astype(np.float32)
    lead = np.zeros(round(LEAD_SECONDS * sample_rate), dtype=np.float32)
    gap = np.zeros(round(GAP_SECONDS * sample_rate), dtype=np.float32)
    return np.concatenate([lead, tone, gap])


def _ramped(envelope: np.ndarray, ramp: int) -> np.ndarray:
    """Raised-cosine edges on every on/off transition of a 0/1 envelope."""
    kernel = np.hanning(2 * ramp + 1).astype(np.float64)
    kernel /= kernel.sum()
    return np.convolve(envelope.astype(np.float64), kernel, mode="same").astype(np.float32)


def add_prompt(
    pcm: np.ndarray, sample_rate: int, options: PromptOptions, voice: np.ndarray | None = None
) -> np.ndarray:
    """``pcm`` (float32 frames x channels) with the prompt inserted at the start (and the end).

    ``voice`` is the decoded voice prompt (float32 frames x any channels, already at ``sample_rate``)
    when ``options.kind`` is "voice"; it is level-matched like the tones.
    """
    if options.kind == "none":
        return pcm
    mono = _prompt_mono(pcm, sample_rate, options, voice)
    prompt = np.repeat(mono[:, None], pcm.shape[1], axis=1)
    parts = [prompt, pcm]
    if options.at_end:
        parts.append(prompt)
    return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)


def _prompt_mono(pcm: np.ndarray, sample_rate: int, options: PromptOptions, voice: np.ndarray | None) -> np.ndarray:
    return prompt_samples(sample_rate, programme_rms(pcm, sample_rate), options, voice)


def prompt_samples(sample_rate: int, rms: float, options: PromptOptions, voice: np.ndarray | None = None) -> np.ndarray:
    """The mono prompt (float32, lead and gap included) for a programme of gated RMS ``rms``."""
    rms = rms or 10 ** (-20 / 20)
    if options.kind == "morse":
        return morse_prompt(sample_rate, rms)
    if voice is None or voice.size == 0:
        raise InvalidOption("the voice prompt is empty")
    mono = voice.mean(axis=1).astype(np.float32)
    voice_rms = programme_rms(mono[:, None], sample_rate)
    if voice_rms > 0:
        mono = mono * np.float32(rms / voice_rms)
    peak = float(np.max(np.abs(mono))) if mono.size else 0.0
    if peak > PEAK_CEILING:
        mono *= np.float32(PEAK_CEILING / peak)
    pad = np.zeros(round(GAP_SECONDS * sample_rate), dtype=np.float32)
    return np.concatenate([pad[: pad.size // 2], mono, pad])


def overlay_prompt(
    pcm: np.ndarray, sample_rate: int, options: PromptOptions, voice: np.ndarray | None = None,
    in_place: bool = False,
) -> np.ndarray:
    """A copy of ``pcm`` (float32 frames x channels) with the prompt laid over its start (and end), the
    programme ducked under it; same length, for soundtracks that must stay in sync with their picture.
    A programme shorter than the prompt is returned unchanged (there is no room for it). ``in_place``
    (float32 ``pcm`` only) writes into ``pcm`` instead of a copy: a long soundtrack is not doubled."""
    out = pcm if in_place and pcm.dtype == np.float32 else np.array(pcm, dtype=np.float32, copy=True)
    if options.kind == "none":
        return out
    mono = _prompt_mono(pcm, sample_rate, options, voice)
    length = mono.size
    if length > out.shape[0]:
        return out
    lay_prompt(out[:length], mono, sample_rate, closing=False)
    if options.at_end and out.shape[0] >= 2 * length:
        lay_prompt(out[out.shape[0] - length :], mono, sample_rate, closing=True)
    return out


def lay_prompt(section: np.ndarray, mono: np.ndarray, sample_rate: int, closing: bool) -> None:
    """Duck ``section`` (float32 frames x channels, as long as ``mono``) and add the prompt, in place;
    the duck ramps back up after an opening prompt and down before a ``closing`` one."""
    ramp = max(1, round(DUCK_RAMP_SECONDS * sample_rate))
    duck = np.full(mono.size, DUCK_GAIN, dtype=np.float32)
    duck[-ramp:] = np.linspace(DUCK_GAIN, 1.0, ramp, dtype=np.float32)
    section *= (duck[::-1] if closing else duck)[:, None]
    section += mono[:, None]
    np.clip(section, -1.0, 1.0, out=section)


@dataclass(frozen=True)
class PromptDetection:
    present_at_start: bool
    present_at_end: bool
    #: Best normalised envelope correlation at each end (1.0 = a perfect "AI" rhythm).
    start_correlation: float
    end_correlation: float
    #: Where the pattern starts, seconds from the beginning of the file (None when absent).
    start_seconds: float | None

    @property
    def present(self) -> bool:
        return self.present_at_start or self.present_at_end

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": "morse",
            "present": self.present,
            "at_start": self.present_at_start,
            "at_end": self.present_at_end,
            "start_correlation": round(self.start_correlation, 3),
            "end_correlation": round(self.end_correlation, 3),
            "start_s": round(self.start_seconds, 3) if self.start_seconds is not None else None,
        }


ENVELOPE_HOP_SECONDS = 0.005


def _tone_envelope(mono: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Narrow-band (TONE_HZ ± 60 Hz) and broadband RMS envelopes at ENVELOPE_HOP_SECONDS."""
    hop = max(1, round(ENVELOPE_HOP_SECONDS * sample_rate))
    size = 4 * hop
    if mono.size < size:
        return np.zeros(0), np.zeros(0)
    frames = np.lib.stride_tricks.sliding_window_view(mono, size)[::hop]
    spectrum = np.abs(np.fft.rfft(frames * np.hanning(size).astype(np.float32), axis=1)) ** 2
    freqs = np.fft.rfftfreq(size, 1 / sample_rate)
    near = np.abs(freqs - TONE_HZ) <= max(60.0, sample_rate / size)
    tone = spectrum[:, near].sum(axis=1)
    total = spectrum.sum(axis=1) + 1e-20
    return tone, total


def _match(mono: np.ndarray, sample_rate: int) -> tuple[float, int]:
    """Best normalised correlation of the "AI" on/off pattern with the tone's share of the energy."""
    tone, total = _tone_envelope(mono, sample_rate)
    if tone.size == 0:
        return 0.0, 0
    # The tone's share of each frame's energy: 1 inside a beep, ~0 in silence or programme.
    share = tone / total
    share[total < 1e-10 * total.max()] = 0.0
    hop = max(1, round(ENVELOPE_HOP_SECONDS * sample_rate))
    template = morse_envelope(sample_rate)[::hop].astype(np.float64)
    if share.size < template.size:
        return 0.0, 0
    t = template - template.mean()
    windows = np.lib.stride_tricks.sliding_window_view(share, template.size)
    centred = windows - windows.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(centred, axis=1) * np.linalg.norm(t)
    corr = np.where(norms > 0, centred @ t / np.maximum(norms, 1e-20), 0.0)
    best = int(np.argmax(corr))
    return float(corr[best]), best * hop


class PromptEnds:
    """The two ends of a programme fed block by block (float32 frames x channels), all that
    :func:`detect_prompt` reads: the first and the last SEARCH_SECONDS."""

    def __init__(self, sample_rate: int) -> None:
        self._span = int(SEARCH_SECONDS * sample_rate)
        self._head: list[np.ndarray] = []
        self._head_frames = 0
        self._tail: list[np.ndarray] = []
        self._tail_frames = 0
        self._frames = 0

    def feed(self, block: np.ndarray) -> None:
        span = self._span
        self._frames += block.shape[0]
        if self._head_frames < 2 * span:  # up to two spans kept whole, so short files are kept as they are
            part = block[: 2 * span - self._head_frames]
            self._head.append(part)
            self._head_frames += part.shape[0]
            block = block[part.shape[0] :]
        if block.shape[0]:
            self._tail.append(block)
            self._tail_frames += block.shape[0]
            while self._tail_frames - self._tail[0].shape[0] >= span:
                self._tail_frames -= self._tail.pop(0).shape[0]

    def pcm(self) -> np.ndarray:
        """The programme when it is under two spans long, else its first and last span back to back:
        :func:`detect_prompt` gives the same answer on it as on the whole programme."""
        head = np.concatenate(self._head) if self._head else np.zeros((0, 1), np.float32)
        if self._frames <= 2 * self._span:
            return head
        tail = np.concatenate(self._tail)[-self._span :]
        if tail.shape[0] < self._span:  # the last span reaches back into the kept head
            tail = np.concatenate([head, tail])[-self._span :]
        return np.concatenate([head[: self._span], tail])


def detect_prompt(pcm: np.ndarray, sample_rate: int) -> PromptDetection:
    """Whether the "AI" rhythm prompt is at the start and/or the end of ``pcm`` (frames x channels)."""
    span = int(SEARCH_SECONDS * sample_rate)
    length = pcm.shape[0]

    def mono(part: np.ndarray) -> np.ndarray:  # only the searched ends are mixed down, not the whole file
        return part.mean(axis=1).astype(np.float32) if part.ndim == 2 else part.astype(np.float32)

    start_corr, start_at = _match(mono(pcm[:span]), sample_rate)
    end_corr, _ = _match(mono(pcm[-span:]), sample_rate) if length > span else (0.0, 0)
    return PromptDetection(
        present_at_start=start_corr >= DETECT_CORRELATION,
        present_at_end=end_corr >= DETECT_CORRELATION and length > span,
        start_correlation=start_corr,
        end_correlation=end_corr,
        start_seconds=start_at / sample_rate if start_corr >= DETECT_CORRELATION else None,
    )
