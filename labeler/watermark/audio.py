"""The audio watermark: keyed band-energy modulation in the STFT domain, with informed embedding.

Tiles. Time is cut into SLOT_SECONDS slots and 500-3300 Hz into BANDS equal bands (87.5 Hz) (inside a phone
channel, under a 4 kHz low-pass, above a 100 Hz high-pass). A tile is one (slot, band) cell. The keyed
pattern is PERIOD_SLOTS slots long (8.16 s) and repeats for the whole file, so any 10-s excerpt holds
one whole period. Each tile carries a ±1 chip: a keyed sync chip (a quarter of the tiles) or a
scrambled coded bit of the 92-bit frame (payload.py, K=7 r=1/3 convolutional code from ecc.py).

Embedding. A chip is carried by the tile's log energy *relative to its neighbourhood* (the detector's
statistic: log band energy minus the slot's mean over bands, minus the mean of the two slots either side). Because
the embedder knows the host, it is informed, and it plans per *group* of tiles, not per tile: the
detector adds a coded bit's ~14 tiles before deciding, so the embedder brings each bit's (clipped) sum
``margin`` per tile onto its chip's side, spending the change on the tiles that are cheapest in energy
(quiet within their slot), each capped at ``cap`` (plan_gains). Sync tiles are planned the same way in 97
groups. A period whose predicted cost passes its budget has its targets lowered together, then loses
its costliest groups (the code corrects them). Pushing each tile past a margin instead, as the first
version did, cannot be afforded where the host's statistic varies by a neper per tile (speech). The
change is a gain on the STFT bins of the band (the mark is made of the programme's own spectrum, so
silence stays silent and there is no hiss), added back by sqrt-Hann overlap-add, the same delta on every
channel. A per-period energy guard keeps the mark at least MIN_SNR_DB below the programme.

Detection. The detector computes the same statistic for each of 4 slot phases, folds it modulo the
period and finds the pattern offset from the sync tiles by circular correlation; two hypotheses are
soft-decoded (Viterbi): the highest sync peak with the statistic clipped at the embedder's 0.7 neper,
then the highest with it clipped at 0.4. That is tried on up to four STFT framings (0, 1/2, 1/4, 3/4
hop after the excerpt's start; the embedder's plan is exact only at its own framing) and, if nothing
decodes, for 8 playback speeds within ±1%, each undone by resampling the 8-kHz copy before it is
framed: at most MAX_ATTEMPTS = 72 decodes per excerpt. A claim needs a
valid CRC frame; every decode attempt counts in the false-positive bound attempts × 2^-28, so the
bound holds by construction, whatever the audio.

Rates. Everything the mark touches is under 4 kHz, so both sides work on the channel mean resampled
to DETECT_RATE (8 kHz) by band-limited FFT interpolation: the embedder plans there and interpolates the
delta back to the programme's rate (two resamplings instead of six full-rate STFT sweeps: 2.3-2.5x
faster on 44.1 kHz stereo), the detector reads the same copy.

Memory. Embedding holds the programme, its 8 kHz mono copy and the delta; resampling goes in pieces of
RESAMPLE_PIECE samples, the STFT in blocks of BLOCK_FRAMES frames (long files are embedded a window at a
time by labeler/audio/raw.py). Detection takes blocks as a decoder hands them out
(StreamingAudioDetector): it keeps the first FOLD_SECONDS and under two segments.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np

from labeler.errors import InvalidOption
from labeler.watermark import ecc, payload
from labeler.watermark.keys import WatermarkKey

SLOT_SECONDS = 0.048
HOP_SECONDS = 0.016
PERIOD_SLOTS = 170
BANDS = 32
BAND_LOW_HZ = 500.0
BAND_HIGH_HZ = 3300.0
SYNC_TILES = PERIOD_SLOTS * BANDS // 4
#: Sync tiles are planned in groups about as large as a coded bit's (1360 / 97 = 14 tiles).
SYNC_GROUPS = 97
#: Half-width (slots) of the moving average removed from each band's log energy.
DETREND_HALF_SLOTS = 2
#: Detector statistic clipped here (nepers) so a transient cannot dominate a sum (the embedder plans
#: each coded bit's sum of tiles clipped at this level).
CLIP_NEPERS = 0.7
#: Clip levels the detector tries, in order: the embedder's, then a tighter one. Speech's transients and
#: codec artefacts push single tiles far from the plan; clipped at 0.4 they weigh less. The best
#: hypothesis of each level is decoded, in place of the embedder's level's second best (same number of
#: attempts, so the same bound): on 32 speech excerpts per attack that decoded MP3 64k 30 -> 32 and Opus
#: 64k 26 -> 31, Opus 32k 7 -> 6, the other rows and music unchanged.
DETECT_CLIPS = (CLIP_NEPERS, 0.4)
PHASES = 4
#: Framings the detector tries, in hops after the excerpt's first sample. The embedder's plan cancels the
#: host's statistic as *its* framing measures it; an excerpt cut anywhere is framed up to half a hop
#: apart, where the host's statistic differs enough to sink speech (3/8 clean excerpts with one framing,
#: 8/8 with these four). Each is computed only when the ones before it decoded nothing.
FRAMING_SHIFTS = (0.0, 0.5, 0.25, 0.75)
#: Best-ranked (phase, sync offset) hypotheses decoded per framing, speed and clip level.
DECODES_PER_CLIP = 1
SCALE_MAX = 2.0
BLOCK_FRAMES = 4096
#: The detector keeps only the searched bins of each frame, so its blocks can be small: each frame's FFT
#: is independent (results do not depend on the block size) and the full-spectrum temporaries of a
#: block stay near 6 MB instead of 50.
DETECT_BLOCK_FRAMES = 1024
#: Tiles quieter than this mean power per bin (relative to full scale) carry no mark.
SILENCE_POWER = 1e-9
CODED_BITS = ecc.coded_length(payload.FRAME_BITS)
#: Sync offsets ranked per slot phase and clip level (the DECODES_PER_CLIP best of them all are decoded).
OFFSETS_DECODED = 2
SEARCH_SPEEDS = (0.9975, 1.0025, 0.995, 1.005, 0.9925, 1.0075, 0.99, 1.01)
#: Most decode attempts one excerpt can take (every speed, framing, clip level and decoded hypothesis):
#: the per-excerpt false-positive bound is at most MAX_ATTEMPTS x 2^-28 = 2.7e-7.
MAX_ATTEMPTS = (1 + len(SEARCH_SPEEDS)) * len(FRAMING_SHIFTS) * len(DETECT_CLIPS) * DECODES_PER_CLIP
DEFAULT_FALSE_POSITIVE_LIMIT = 1e-6
SEGMENT_SECONDS = 10.0
#: Longest stretch folded as a whole when no segment decodes alone (bounds memory and speed drift).
FOLD_SECONDS = 120.0
#: Shortest audio a detection is attempted on.
MIN_DETECT_SECONDS = 4.0


@dataclass(frozen=True)
class AudioWatermarkSettings:
    """Embedding and detection knobs (frozen; defaults are the benchmarked ones)."""

    strength: float = 1.0
    #: Target of the detector's soft value for each coded bit (the sum over its tiles), as nepers per
    #: audible tile: a group of tiles carries one bit, so it is the group that must land on its chip's side.
    margin: float = 0.3
    #: Sync groups aim at this fraction of ``margin`` (the sync correlation sums all of them at once).
    sync_margin_scale: float = 0.5
    #: Largest change of a tile's band energy, nepers (1.5 ≈ 6.5 dB).
    cap: float = 1.5
    #: The mark's energy stays at least this far below the programme's in every period.
    min_snr_db: float = 30.3
    #: Changes go to the tiles that are cheapest in energy: weight (tile power / slot mean)^-exponent.
    loudness_exponent: float = 1.0
    #: Share of a period's energy budget the group planner may spend before it drops the costliest groups
    #: (the rest is headroom for overlap-add leakage, which the synthesis guard then trims).
    budget_fill: float = 0.95
    segment_seconds: float = SEGMENT_SECONDS
    speed_search: bool = True
    false_positive_limit: float = DEFAULT_FALSE_POSITIVE_LIMIT

    def __post_init__(self) -> None:
        if not 0.25 <= self.strength <= 4.0:
            raise InvalidOption("watermark strength must be between 0.25 and 4")
        if self.segment_seconds < MIN_DETECT_SECONDS:
            raise InvalidOption(f"segments must be at least {MIN_DETECT_SECONDS} s")
        if not 0 < self.false_positive_limit <= 1:
            raise InvalidOption("false-positive limit must be in (0, 1]")


@dataclass(frozen=True)
class PatternLayout:
    sync_chips: np.ndarray  # float32 (PERIOD_SLOTS, BANDS), ±1 on sync tiles, 0 elsewhere
    data_tiles: np.ndarray  # int64 flat tile indices
    data_signs: np.ndarray  # float32 ±1 scrambler per data tile
    data_bit: np.ndarray  # int64 coded-bit index per data tile
    #: int64 (PERIOD_SLOTS, BANDS): the embedder's planning group of each tile — its coded bit, or
    #: CODED_BITS + a sync group.
    tile_group: np.ndarray


@lru_cache(maxsize=16)
def pattern_layout(key: WatermarkKey) -> PatternLayout:
    tiles = PERIOD_SLOTS * BANDS
    order = key.rng("audio/tiles").permutation(tiles)
    sync_tiles, data_tiles = np.sort(order[:SYNC_TILES]), np.sort(order[SYNC_TILES:])
    sync = np.zeros(tiles, dtype=np.float32)
    sync[sync_tiles] = key.signs("audio/sync", SYNC_TILES)
    data_bit = key.rng("audio/assign").permutation(np.arange(data_tiles.size) % CODED_BITS)
    group = np.empty(tiles, dtype=np.int64)
    group[data_tiles] = data_bit
    group[sync_tiles] = CODED_BITS + np.arange(sync_tiles.size) % SYNC_GROUPS
    return PatternLayout(
        sync_chips=sync.reshape(PERIOD_SLOTS, BANDS),
        data_tiles=data_tiles.astype(np.int64),
        data_signs=key.signs("audio/scramble", data_tiles.size),
        data_bit=data_bit.astype(np.int64),
        tile_group=group.reshape(PERIOD_SLOTS, BANDS),
    )


def pattern_chips(layout: PatternLayout, watermark_id: int) -> np.ndarray:
    """The (PERIOD_SLOTS, BANDS) ±1 chip grid carrying ``watermark_id``."""
    coded = ecc.encode(payload.encode_frame(watermark_id))
    chips = layout.sync_chips.copy().reshape(-1)
    chips[layout.data_tiles] = layout.data_signs * (coded[layout.data_bit].astype(np.float32) * 2.0 - 1.0)
    return chips.reshape(PERIOD_SLOTS, BANDS)


# --- STFT framing -----------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def hop_length(sample_rate: int) -> int:
    """The 7-smooth hop nearest HOP_SECONDS: FFT sizes with a large prime factor (44.1 kHz would give
    1412 = 4 x 353) are several times slower. Slots are placed by time, so the hop need not divide them."""
    ideal = sample_rate * HOP_SECONDS
    best = 16
    for hop in range(max(16, int(ideal * 0.9)), int(ideal * 1.1) + 2):
        rest = hop
        for prime in (2, 3, 5, 7):
            while rest % prime == 0:
                rest //= prime
        if rest == 1 and abs(hop - ideal) < abs(best - ideal):
            best = hop
    return best


@lru_cache(maxsize=32)
def _sqrt_hann(n_fft: int) -> np.ndarray:
    # Periodic sqrt-Hann: analysis x synthesis = Hann, which sums to 1 at 50% overlap.
    return np.sqrt(0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)


def band_edges(sample_rate: int, n_fft: int) -> np.ndarray:
    """FFT bin edges of the BANDS bands (BANDS + 1 ints)."""
    hz = np.linspace(BAND_LOW_HZ, BAND_HIGH_HZ, BANDS + 1)
    return np.clip(np.round(hz * n_fft / sample_rate).astype(np.int64), 1, n_fft // 2)


def frame_count(samples: int, hop: int) -> int:
    """Frames centred at 0, hop, 2*hop, ... covering every sample twice."""
    return samples // hop + 2


def channel_mean(pcm: np.ndarray) -> np.ndarray:
    """The float32 mean of the channels of frames x channels PCM: bit-identical to
    ``pcm.mean(axis=1, dtype=np.float32)`` (channels added in order, then divided), but a strided
    reduction over a 2-wide axis is NumPy's slow path: this is ~6x faster on stereo. (From 8 channels on
    NumPy sums in eight interleaved partial sums, a different order, so it is left to NumPy.)"""
    if pcm.shape[1] >= 8:
        return pcm.mean(axis=1, dtype=np.float32)
    total = np.array(pcm[:, 0], dtype=np.float32, copy=True)
    for channel in range(1, pcm.shape[1]):
        total += pcm[:, channel]
    total /= np.float32(pcm.shape[1])
    return total


def _mono_frames(pcm: np.ndarray, first: int, count: int, hop: int) -> np.ndarray:
    """Windowless frames ``first`` .. ``first + count - 1`` (frame i spans samples (i-1)*hop .. (i+1)*hop)."""
    start = (first - 1) * hop
    stop = (first + count) * hop
    segment = np.zeros(stop - start, dtype=np.float32)
    lo, hi = max(start, 0), min(stop, pcm.shape[0])
    if hi > lo:
        segment[lo - start : hi - start] = channel_mean(pcm[lo:hi])
    view = np.lib.stride_tricks.sliding_window_view(segment, 2 * hop)[::hop]
    return view[:count]


def _band_sums(frames: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Sum of |X|^2 over each band's rfft bins, (frames, BANDS) float32."""
    window = _sqrt_hann(frames.shape[1])
    spectrum = np.fft.rfft(frames * window, axis=1)[:, edges[0] : edges[-1]]
    power = (spectrum.real**2 + spectrum.imag**2).astype(np.float32)
    return np.add.reduceat(power, edges[:-1] - edges[0], axis=1)


def _slot_sums(values: np.ndarray, slot_of_frame: np.ndarray, slots: int) -> np.ndarray:
    """Sum (frames, BANDS) rows into (slots, BANDS) by each frame's slot (float64). Frames come in time
    order, so each slot's rows are one run: np.add.reduceat over the runs (np.add.at, the general form,
    was the detector's largest cost)."""
    out = np.zeros((slots, values.shape[1]), dtype=np.float64)
    if slot_of_frame.size == 0:
        return out
    if np.any(np.diff(slot_of_frame) < 0):
        np.add.at(out, slot_of_frame, values)
        return out
    starts = np.searchsorted(slot_of_frame, np.arange(slots))
    filled = np.diff(np.append(starts, slot_of_frame.size)) > 0
    out[filled] = np.add.reduceat(values.astype(np.float64), starts[filled], axis=0)
    return out


def detrend(log_energy: np.ndarray, active: np.ndarray | None = None) -> np.ndarray:
    """The detector statistic: each tile's log energy minus its slot's mean over bands, minus the mean of
    that residual over the active slots among the DETREND_HALF_SLOTS on either side (silent slots would
    pull the mean to zero at every word boundary; a slot with no active neighbour gets 0)."""
    residual = log_energy - log_energy.mean(axis=1, keepdims=True)
    slots = residual.shape[0]
    weight = np.ones(slots) if active is None else active.astype(np.float64)
    weighted = residual * weight[:, None]
    padded = np.concatenate([np.zeros((1, residual.shape[1])), np.cumsum(weighted, axis=0)])
    counts = np.concatenate([[0.0], np.cumsum(weight)])
    index = np.arange(slots)
    lo = np.clip(index - DETREND_HALF_SLOTS, 0, slots)
    hi = np.clip(index + DETREND_HALF_SLOTS + 1, 0, slots)
    # The slot itself is left out of its neighbourhood mean, so its own chip is not subtracted.
    total = padded[hi] - padded[lo] - weighted
    count = counts[hi] - counts[lo] - weight
    mean = total / np.maximum(count, 1)[:, None]
    out = residual - mean
    out[count < 1] = 0.0
    return out * weight[:, None]


def _log_energy(power: np.ndarray) -> np.ndarray:
    return np.log(power + SILENCE_POWER)


# --- embedding --------------------------------------------------------------------------------------


def _check_pcm(pcm: np.ndarray, sample_rate: int) -> None:
    if pcm.ndim != 2 or pcm.shape[1] < 1 or pcm.dtype != np.float32:
        raise InvalidOption("audio must be a float32 array of frames x channels")
    if not 8000 <= sample_rate <= 192_000:
        raise InvalidOption(f"sample rate {sample_rate} Hz is out of range")


def _slots_of_frames(frames: int, hop: int, sample_rate: int, phase: float = 0.0) -> np.ndarray:
    centres = np.arange(frames, dtype=np.float64) * hop / sample_rate
    return np.floor((centres + phase) / SLOT_SECONDS).astype(np.int64)


GROUPS_PER_PERIOD = CODED_BITS + SYNC_GROUPS
#: Rounds of the group planner (each measures the statistic with the changes so far and adds what is
#: still missing; later rounds only correct the neighbourhood means the first one moved).
PLAN_ROUNDS = 4


def plan_gains(
    log_energy: np.ndarray, chips: np.ndarray, audible: np.ndarray, groups: np.ndarray, tile_energy: np.ndarray,
    budget: np.ndarray, settings: AudioWatermarkSettings,
) -> np.ndarray:
    """Per-tile change of log band energy (nepers), planned per group of tiles (``groups``: a coded bit
    or a sync group per period, GROUPS_PER_PERIOD per period).

    Why groups: the detector adds a bit's tiles before deciding, and the host's statistic varies by
    0.7-1.4 nepers per tile (speech more than music), so pushing every tile past a margin is
    unaffordable within the SNR budget. Instead each group's clipped sum is brought to ``margin`` x its
    audible tiles, the missing amount spread over the group's tiles in proportion to how cheap they are
    (tile power relative to its slot, to the power -``loudness_exponent``: minimising the energy
    sum E_t d_t^2 under a fixed sum of d_t gives d_t ~ 1/E_t), each change capped. Tiles whose statistic
    is already clipped on the chip's side, or hopelessly on the other side, are left alone.

    Budget: the predicted cost of a period (tile energy x (e^(d/2)-1)^2 summed) must stay within
    ``budget_fill`` of its budget. Over it, the period's targets are lowered together (bisection down to
    MIN_TARGET_SCALE: every bit still leans the right way); only if that is not enough are its costliest
    groups dropped (the code corrects them)."""
    aud = audible > 0
    flat = groups.reshape(-1)
    periods = -(-(int(flat.max()) + 1) // GROUPS_PER_PERIOD) if flat.size else 0
    count = periods * GROUPS_PER_PERIOD
    is_sync = np.arange(count) % GROUPS_PER_PERIOD >= CODED_BITS
    base = (settings.margin * settings.strength * np.where(is_sync, settings.sync_margin_scale, 1.0)
            * np.bincount(flat, aud.reshape(-1), minlength=count))
    allowed = settings.budget_fill * np.pad(budget[:periods], (0, max(0, periods - budget.size)))
    relative = np.exp(log_energy - np.log(np.mean(np.exp(log_energy), axis=1, keepdims=True)))
    cheapness = np.where(aud, np.maximum(relative, 1e-3) ** -settings.loudness_exponent, 0.0)

    def solve(scale: np.ndarray, drop: bool) -> tuple[np.ndarray, np.ndarray]:
        return _plan_rounds(log_energy, chips, aud, groups, tile_energy, cheapness,
                            base * np.repeat(scale, GROUPS_PER_PERIOD), allowed if drop else None, settings)

    scale = np.ones(periods)
    delta, spent = solve(scale, drop=False)
    over = spent > allowed
    if over.any():
        lo, hi = np.full(periods, MIN_TARGET_SCALE), np.ones(periods)
        for _ in range(TARGET_BISECTIONS):
            mid = np.where(over, (lo + hi) / 2, 1.0)
            _, spent = solve(mid, drop=False)
            fits = spent <= allowed
            lo = np.where(over & fits, mid, lo)
            hi = np.where(over & ~fits, mid, hi)
        scale = np.where(over, lo, 1.0)
        delta, _ = solve(scale, drop=True)
    return (delta * aud).astype(np.float32)


#: Lowest share of the margin a period's bits are planned for before groups are dropped (lower
#: helps steady synthetic tones, but on speech the bits then sit too close to zero to survive codecs).
MIN_TARGET_SCALE = 0.7
TARGET_BISECTIONS = 5


def _plan_rounds(
    log_energy: np.ndarray, chips: np.ndarray, aud: np.ndarray, groups: np.ndarray, tile_energy: np.ndarray,
    cheapness: np.ndarray, target: np.ndarray, allowed: np.ndarray | None, settings: AudioWatermarkSettings,
) -> tuple[np.ndarray, np.ndarray]:
    """PLAN_ROUNDS rounds towards the group targets; the plan and its predicted cost per period. With
    ``allowed``, a period over it loses its costliest groups."""
    active: np.ndarray = np.asarray(aud.any(axis=1))
    cap = settings.cap * settings.strength
    flat = groups.reshape(-1)
    count = target.size
    periods = count // GROUPS_PER_PERIOD
    keep = np.ones(count, dtype=bool)
    delta = np.zeros_like(log_energy)
    cost: np.ndarray = np.zeros(count)
    for _ in range(PLAN_ROUNDS):
        side = chips * detrend(log_energy + delta, active)
        total = np.bincount(flat, (np.clip(side, -CLIP_NEPERS, CLIP_NEPERS) * aud).reshape(-1), minlength=count)
        missing = np.maximum(target - total, 0.0) * keep
        movable = cheapness * (side < CLIP_NEPERS) * (side > -CLIP_NEPERS - 0.3) * (np.abs(delta) < cap - 1e-6)
        share = np.bincount(flat, movable.reshape(-1), minlength=count)
        step = np.where(share > 0, missing / np.maximum(share, 1e-12), 0.0)
        delta = np.clip(delta + chips * step[groups] * movable, -cap, cap)
        cost = np.bincount(flat, (tile_energy * np.expm1(delta / 2.0) ** 2).reshape(-1), minlength=count)
        if allowed is None:
            continue
        for k in range(periods):
            lo, hi = k * GROUPS_PER_PERIOD, (k + 1) * GROUPS_PER_PERIOD
            spent = float(cost[lo:hi].sum())
            if spent <= allowed[k]:
                continue
            order = np.argsort(cost[lo:hi])[::-1]
            left = spent - np.cumsum(cost[lo:hi][order])
            keep[lo + order[: int(np.searchsorted(-left, -allowed[k])) + 1]] = False
        delta *= keep[groups]
        cost *= keep
    return delta, cost.reshape(periods, GROUPS_PER_PERIOD).sum(axis=1)


def embed_audio(
    pcm: np.ndarray,
    sample_rate: int,
    watermark_id: int,
    key: WatermarkKey,
    settings: AudioWatermarkSettings | None = None,
    in_place: bool = False,
) -> np.ndarray:
    """A new float32 array like ``pcm`` (frames x channels) carrying ``watermark_id`` (``in_place``: ``pcm``
    itself, marked, when it is float32 — for long soundtracks that should not be held twice).

    The mark lives in 500-3300 Hz, so it is planned on the channel mean band-limited to DETECT_RATE (the
    detector's own copy: the statistic the embedder measures is the one the detector sees) and the delta
    is brought back to ``sample_rate`` by band-limited interpolation and added to every channel. That
    costs two resamplings instead of six full-rate STFT sweeps. EMBED_PASSES closed-loop passes: each
    measures the detector statistic on the current output and adds what is still missing, so leakage
    between neighbouring slots and bands is corrected.
    """
    settings = settings or AudioWatermarkSettings()
    _check_pcm(pcm, sample_rate)
    rate = min(sample_rate, DETECT_RATE)
    mono = channel_mean(pcm)
    if rate != sample_rate:
        mono = resample_segmented(mono, sample_rate, rate, round(mono.size * rate / sample_rate))
    hop = hop_length(rate)
    frames = frame_count(mono.size, hop)
    slot_of_frame = _slots_of_frames(frames, hop, rate)
    slots = int(slot_of_frame[-1]) + 1
    layout = pattern_layout(key)
    chips = pattern_chips(layout, watermark_id)[np.arange(slots) % PERIOD_SLOTS]
    periods = -(-slots // PERIOD_SLOTS)
    period_first_frame = np.searchsorted(slot_of_frame, np.arange(periods + 1) * PERIOD_SLOTS)
    # Energy budget per period, by construction: the mark's energy stays min_snr_db under the programme
    # (all of it: every band and channel, at the full rate), in units of the working rate's samples (a
    # band-limited signal's energy scales with its sample count).
    limit = 10 ** (-settings.min_snr_db / 10) * rate / sample_rate
    budget = np.zeros(periods)
    for k in range(periods):
        lo = round(max(int(period_first_frame[k]) - 1, 0) * hop * sample_rate / rate)
        hi = min(round(int(period_first_frame[k + 1]) * hop * sample_rate / rate), pcm.shape[0])
        budget[k] = limit * float(np.sum(np.square(pcm[lo:hi], dtype=np.float64))) / pcm.shape[1]
    used = np.zeros(periods)  # norm (not energy) of the delta already added, per period
    work = mono[:, None].copy()
    slot_index = np.arange(slots)
    groups = layout.tile_group[slot_index % PERIOD_SLOTS] + (slot_index // PERIOD_SLOTS)[:, None] * GROUPS_PER_PERIOD
    widths = np.diff(band_edges(rate, 2 * hop)).astype(np.float64)
    frames_per_slot = np.bincount(slot_of_frame, minlength=slots).astype(np.float64)
    # Tile powers on the scale a full-rate STFT would give them (power per bin grows with the rate): the
    # silence floor then weighs as it did when the plan was made at the programme's rate, which decodes
    # more speech excerpts (9/9 vs 7/9 on the benchmark speech) than the detector's 8 kHz scale.
    power_scale = sample_rate / rate
    for _ in range(EMBED_PASSES):
        log_energy, audible = _tile_log_energy(work, rate, hop, frames, slot_of_frame, slots, power_scale)
        # Each tile's energy in sample units (Parseval over sqrt-Hann frames at 50% overlap, one-sided bins).
        tile_energy = 2.0 * np.exp(log_energy) * widths[None, :] * frames_per_slot[:, None] / power_scale
        remaining = np.maximum(budget - used**2, 0.0)
        delta = plan_gains(log_energy, chips, audible, groups, tile_energy, remaining, settings)
        amplitude = (np.exp(delta / 2.0) - 1.0).astype(np.float32)
        if not np.any(amplitude):
            break
        _add_delta(work, amplitude, rate, hop, frames, slot_of_frame, period_first_frame, budget, used)
    mark = work[:, 0] - mono
    del work, mono
    if rate != sample_rate:
        mark = resample_segmented(mark, rate, sample_rate, pcm.shape[0])
    out = pcm if in_place and pcm.dtype == np.float32 else pcm.copy()
    out += mark[:, None]
    np.clip(out, -1.0, 1.0, out=out)
    return out


#: Closed-loop embedding passes (the second one adds typically a tenth of the first one's energy).
EMBED_PASSES = 2


def _tile_log_energy(
    pcm: np.ndarray, sample_rate: int, hop: int, frames: int, slot_of_frame: np.ndarray, slots: int,
    power_scale: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Log mean power per bin of every tile, and which tiles are audible (1.0) or near-silent (0.0)."""
    n_fft = 2 * hop
    edges = band_edges(sample_rate, n_fft)
    band = np.zeros((slots, BANDS), dtype=np.float64)
    for first in range(0, frames, BLOCK_FRAMES):
        count = min(BLOCK_FRAMES, frames - first)
        sums = _band_sums(_mono_frames(pcm, first, count, hop), edges)
        band += _slot_sums(sums, slot_of_frame[first : first + count], slots)
    frames_per_slot = np.bincount(slot_of_frame, minlength=slots).astype(np.float64)
    widths = np.diff(edges).astype(np.float64)
    tile_power = band * power_scale / (widths[None, :] * n_fft * np.maximum(frames_per_slot, 1)[:, None])
    return _log_energy(tile_power), (tile_power > 100 * SILENCE_POWER).astype(np.float32)


def _add_delta(
    out: np.ndarray,
    amplitude: np.ndarray,
    sample_rate: int,
    hop: int,
    frames: int,
    slot_of_frame: np.ndarray,
    period_first_frame: np.ndarray,
    budget: np.ndarray,
    used: np.ndarray,
) -> None:
    """Add the band-gain delta to ``out`` one period at a time, scaled so the delta added over all passes
    stays within each period's energy budget (triangle inequality on the norms)."""
    n_fft = 2 * hop
    edges = band_edges(sample_rate, n_fft)
    window = _sqrt_hann(n_fft)
    bin_band = np.repeat(np.arange(BANDS), np.diff(edges))
    samples = out.shape[0]
    for k in range(budget.size):
        first, stop = int(period_first_frame[k]), int(period_first_frame[k + 1])
        if stop <= first:
            continue
        gains = amplitude[slot_of_frame[first:stop]][:, bin_band]
        if not np.any(gains):
            continue
        block = _mono_frames(out, first, stop - first, hop)
        spectrum = np.fft.rfft(block * window, axis=1)
        marked = np.zeros_like(spectrum)
        marked[:, edges[0] : edges[-1]] = spectrum[:, edges[0] : edges[-1]] * gains
        delta = _overlap_add((np.fft.irfft(marked, n=n_fft, axis=1) * window).astype(np.float32), hop)
        norm = math.sqrt(float(np.sum(np.square(delta, dtype=np.float64))))
        room = math.sqrt(budget[k]) - used[k]
        if norm <= 0 or room <= 0:
            continue
        if norm > room:
            delta *= np.float32(room / norm)
            norm = room
        used[k] += norm
        start = (first - 1) * hop
        lo, hi = max(start, 0), min(start + delta.size, samples)
        if hi > lo:
            out[lo:hi] += delta[lo - start : hi - start, None]


def _overlap_add(pieces: np.ndarray, hop: int) -> np.ndarray:
    count = pieces.shape[0]
    out = np.zeros((count + 1) * hop, dtype=np.float32)
    out[: count * hop] += pieces[:, :hop].reshape(-1)
    out[hop : (count + 1) * hop] += pieces[:, hop:].reshape(-1)
    return out


# --- detection --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SegmentDetection:
    """The result for one excerpt (a segment of a file, or a whole short clip)."""

    start_seconds: float
    end_seconds: float
    detected: bool
    watermark_id: int | None
    #: Union bound over this excerpt's decode attempts (1.0 when nothing was claimed).
    false_positive_probability: float
    #: Sync correlation peak in robust standard deviations over the period's offsets.
    sync_z: float
    speed: float
    #: Fraction of coded bits whose soft value agrees with the decoded codeword.
    coded_bit_agreement: float
    attempts: int

    def to_dict(self) -> dict[str, object]:
        return {
            "start_s": round(self.start_seconds, 3),
            "end_s": round(self.end_seconds, 3),
            "detected": self.detected,
            "watermark_id": f"{self.watermark_id:016x}" if self.watermark_id is not None else None,
            "false_positive_probability": self.false_positive_probability,
            "sync_z": round(self.sync_z, 2),
            "speed": self.speed,
            "coded_bit_agreement": round(self.coded_bit_agreement, 4),
            "attempts": self.attempts,
        }


@dataclass(frozen=True)
class AudioDetection:
    detected: bool
    watermark_id: int | None
    #: Probability that unmarked audio yields this claim: the union bound over every segment's attempts,
    #: or (when two or more segments agree on the ID) the far smaller chance of that agreement.
    false_positive_probability: float
    segments: tuple[SegmentDetection, ...] = field(default=())
    reason: str = ""

    @property
    def segments_detected(self) -> int:
        return sum(1 for s in self.segments if s.detected)


_NULL_FRAME = payload.RANDOM_FRAME_ACCEPT_PROBABILITY


def _excerpt_spectrum(pcm: np.ndarray, sample_rate: int) -> tuple[np.ndarray, int, int, int]:
    """Power of the rfft bins the bands use, (frames, bins), the first bin, the hop and the FFT size."""
    hop = hop_length(sample_rate)
    n_fft = 2 * hop
    edges = band_edges(sample_rate, n_fft)
    lo, hi = int(edges[0]), int(edges[-1])
    frames = frame_count(pcm.shape[0], hop)
    window = _sqrt_hann(n_fft)
    parts = []
    for first in range(0, frames, DETECT_BLOCK_FRAMES):
        count = min(DETECT_BLOCK_FRAMES, frames - first)
        spectrum = np.fft.rfft(_mono_frames(pcm, first, count, hop) * window, axis=1)[:, lo:hi]
        parts.append((spectrum.real**2 + spectrum.imag**2).astype(np.float32))
    return np.concatenate(parts), lo, hop, n_fft


def _statistic(
    power: np.ndarray, first_bin: int, hop: int, n_fft: int, sample_rate: int, phase: float
) -> np.ndarray:
    """The detector statistic per slot and band (slots, BANDS), detrended, not yet clipped; zero on slots
    that carry no reliable chips."""
    edges = band_edges(sample_rate, n_fft) - first_bin
    sums = np.add.reduceat(power, edges[:-1], axis=1)
    slot_of_frame = _slots_of_frames(power.shape[0], hop, sample_rate, phase)
    slot_of_frame -= slot_of_frame[0]
    slots = int(slot_of_frame[-1]) + 1
    per_slot = _slot_sums(sums, slot_of_frame, slots)
    counts = np.bincount(slot_of_frame, minlength=slots).astype(np.float64)
    tile_power = per_slot / (np.maximum(np.diff(edges), 1)[None, :] * n_fft * np.maximum(counts, 1)[:, None])
    # Partial first/last slots and silent slots carry no reliable chips.
    full = counts >= 0.75 * counts.max()
    active = tile_power.max(axis=1) > 100 * SILENCE_POWER
    return detrend(_log_energy(tile_power), active) * full[:, None]


def _fold(stat: np.ndarray, clip: float) -> np.ndarray:
    """``stat`` clipped at ±``clip`` and summed modulo the period: (PERIOD_SLOTS, BANDS)."""
    slots = stat.shape[0]
    padded = np.zeros((-(-slots // PERIOD_SLOTS) * PERIOD_SLOTS, stat.shape[1]), dtype=np.float64)
    np.clip(stat, -clip, clip, out=padded[:slots])
    return padded.reshape(-1, PERIOD_SLOTS, stat.shape[1]).sum(axis=0)


def _sync_scores(folded: np.ndarray, layout: PatternLayout) -> np.ndarray:
    """Circular correlation with the sync chips: score[o] for excerpt slot q carrying pattern slot q + o."""
    f = np.fft.rfft(folded, axis=0)
    s = np.fft.rfft(layout.sync_chips.astype(np.float64), axis=0)
    return np.fft.irfft(np.conj(f) * s, n=PERIOD_SLOTS, axis=0).sum(axis=1)


@dataclass(frozen=True)
class _Attempt:
    watermark_id: int | None
    sync_z: float
    agreement: float
    speed: float


def _decode_at(folded: np.ndarray, offset: int, layout: PatternLayout) -> tuple[int | None, float]:
    aligned = np.roll(folded, offset, axis=0).reshape(-1)  # aligned[p] = folded[p - offset]
    soft = np.bincount(layout.data_bit, weights=aligned[layout.data_tiles] * layout.data_signs, minlength=CODED_BITS)
    bits, _ = ecc.viterbi_decode(soft, payload.FRAME_BITS)
    expected = ecc.encode(bits).astype(np.float64) * 2.0 - 1.0
    return payload.decode_frame(bits), float(np.mean(np.sign(soft) == expected))


#: Rate the detector works at: the bands end at 3333 Hz even when played 1% fast, and the STFT keeps its
#: 32-ms frames (so its 31-Hz bins) at any rate, so nothing the detector reads is lost, and each of its
#: framings costs about rate/DETECT_RATE times less (5.5x at 44.1 kHz).
DETECT_RATE = 8000


def detection_copy(pcm: np.ndarray, sample_rate: int) -> tuple[np.ndarray, int]:
    """The channel mean of ``pcm`` band-limited and resampled to DETECT_RATE (frames x 1), by zeroing the
    spectrum above DETECT_RATE / 2 (one FFT of the excerpt: exact, and cheaper than four full-rate
    STFTs). Rates at or below DETECT_RATE are only mixed down."""
    mono = channel_mean(pcm)
    if sample_rate <= DETECT_RATE:
        return mono[:, None], sample_rate
    keep = round(mono.size * DETECT_RATE / sample_rate)
    return resample_fft(mono, sample_rate, DETECT_RATE, keep)[:, None], DETECT_RATE


def resample_fft(signal: np.ndarray, rate: int, target_rate: int, length: int) -> np.ndarray:
    """``signal`` (1-D) at ``rate`` resampled to ``target_rate`` by one FFT (band-limited: the spectrum is
    cut above the lower rate's Nyquist frequency, or zero-extended), the first ``length`` samples, float32.

    The signal is zero-padded so that both FFT sizes are 7-smooth (pocketfft falls back to a far slower
    algorithm on sizes with a large prime factor) and their ratio is exactly target_rate / rate; the
    signal is treated as periodic over the padded size, so its ends should be quiet or padded."""
    common = math.gcd(rate, target_rate)
    step_in, step_out = rate // common, target_rate // common
    blocks = _next_smooth(max(-(-signal.size // step_in), -(-length // step_out)))
    padded = np.zeros(blocks * step_in, dtype=np.float32)
    padded[: signal.size] = signal
    count = blocks * step_out
    spectrum = np.fft.rfft(padded)[: count // 2 + 1]
    spectrum *= np.float32(count / padded.size)
    return np.fft.irfft(spectrum, n=count)[:length].astype(np.float32, copy=False)


#: Input samples per piece of :func:`resample_segmented` (about 65 s at 8 kHz; 12 s at 44.1 kHz).
RESAMPLE_PIECE = 1 << 19


def resample_segmented(signal: np.ndarray, rate: int, target_rate: int, length: int) -> np.ndarray:
    """:func:`resample_fft` in pieces of about RESAMPLE_PIECE input samples, so memory does not grow with
    the signal beyond the output: neighbouring pieces overlap by 2 x ``fade`` samples and are cross-faded
    by sin^2/cos^2 ramps that sum to one, so (resampling being linear) the pieces add up to the whole
    signal resampled, up to the tails of the interpolation kernel beyond each piece (a ramp is ~20 ms:
    those tails are ~80 dB down)."""
    common = math.gcd(rate, target_rate)
    step_in, step_out = rate // common, target_rate // common
    fade = step_in * -(-max(rate // 50, 64) // step_in)  # ~20 ms, a whole number of steps
    piece = step_in * max(RESAMPLE_PIECE // step_in, 4 * fade // step_in)
    if signal.size <= piece + 2 * fade:
        return resample_fft(signal, rate, target_rate, length)
    out = np.zeros(length, dtype=np.float32)
    ramp = np.sin(0.5 * np.pi * (np.arange(2 * fade) + 0.5) / (2 * fade)).astype(np.float32) ** 2
    for start in range(0, signal.size, piece):
        lo, hi = max(start - fade, 0), min(start + piece + fade, signal.size)
        chunk = signal[lo:hi].copy()
        if start > 0:  # rises over start - fade .. start + fade (lo == start - fade)
            rise = min(2 * fade, hi - lo)
            chunk[:rise] *= ramp[:rise]
        if start + piece < signal.size:  # falls over start + piece - fade .. start + piece + fade
            fall = start + piece - fade - lo
            chunk[fall:] *= ramp[::-1][: hi - lo - fall]
        # Quiet margins on both sides so the periodic FFT does not wrap one end onto the other.
        padded = np.concatenate([np.zeros(fade, np.float32), chunk, np.zeros(fade, np.float32)])
        first = (lo - fade) // step_in * step_out  # output index of padded[0] (lo - fade is a whole step)
        result = resample_fft(padded, rate, target_rate, -(-padded.size // step_in) * step_out)
        a, b = max(first, 0), min(first + result.size, length)
        if b > a:
            out[a:b] += result[a - first : b - first]
    return out


def _next_smooth(n: int) -> int:
    """The smallest integer >= n with no prime factor above 7."""
    candidate = max(n, 1)
    while True:
        rest = candidate
        for prime in (2, 3, 5, 7):
            while rest % prime == 0:
                rest //= prime
        if rest == 1:
            return candidate
        candidate += 1


def _try_framing(
    power: np.ndarray, first_bin: int, hop: int, n_fft: int, sample_rate: int, layout: PatternLayout,
    speed: float,
) -> tuple[_Attempt, int]:
    """For each clip level of DETECT_CLIPS, rank every (slot phase, sync offset) hypothesis of one framing's
    ``power`` by its sync peak and decode the DECODES_PER_CLIP best (each decode is an attempt in the
    false-positive bound); ``speed`` is the playback speed the audio was restored from, for the report."""
    ranked: list[list[tuple[float, int, np.ndarray]]] = [[] for _ in DETECT_CLIPS]
    for p in range(PHASES):
        stat = _statistic(power, first_bin, hop, n_fft, sample_rate, p * SLOT_SECONDS / PHASES)
        for level, clip in enumerate(DETECT_CLIPS):
            folded = _fold(stat, clip)
            scores = _sync_scores(folded, layout)
            centre = float(np.median(scores))
            spread = 1.4826 * float(np.median(np.abs(scores - centre))) or 1.0
            for offset in np.argsort(scores)[::-1][:OFFSETS_DECODED]:
                ranked[level].append(((float(scores[offset]) - centre) / spread, int(offset), folded))
    best = _Attempt(None, -math.inf, 0.0, speed)
    attempts = 0
    for hypotheses in ranked:
        hypotheses.sort(key=lambda item: -item[0])
        for z, offset, folded in hypotheses[:DECODES_PER_CLIP]:
            watermark_id, agreement = _decode_at(folded, offset, layout)
            attempts += 1
            attempt = _Attempt(watermark_id, z, agreement, speed)
            if watermark_id is not None:
                return attempt, attempts
            if z > best.sync_z:
                best = attempt
    return best, attempts


def _undo_speed(copy: np.ndarray, sample_rate: int, speed: float) -> np.ndarray:
    """``copy`` (frames x 1) as it was before being played ``speed`` times as fast, resampling style
    (pitch moved too): stretched back by band-limited FFT interpolation. Restoring the time axis, rather
    than scaling the bands and slots to the played speed, keeps the STFT frames where the embedder's were
    all through the excerpt: at 1% the frames of a 10-s excerpt otherwise drift 6 hops across the
    embedder's, and speech (whose plan holds only near its own framing) was lost (3/8 and 6/8 excerpts at
    +1% and -1%, against 8/8 and 8/8 restored)."""
    signal = copy[:, 0]
    return resample_fft(signal, sample_rate, round(sample_rate * speed), math.ceil(signal.size * speed))[:, None]


def detect_excerpt(
    pcm: np.ndarray, sample_rate: int, key: WatermarkKey, settings: AudioWatermarkSettings | None = None,
    start_seconds: float = 0.0,
) -> SegmentDetection:
    """Look for the mark in one excerpt (at least MIN_DETECT_SECONDS; one period, 8.2 s, or more is best)."""
    settings = settings or AudioWatermarkSettings()
    _check_pcm(pcm, sample_rate)
    end = start_seconds + pcm.shape[0] / sample_rate
    if pcm.shape[0] < MIN_DETECT_SECONDS * sample_rate:
        return SegmentDetection(start_seconds, end, False, None, 1.0, 0.0, 1.0, 0.0, 0)
    layout = pattern_layout(key)
    copy, sample_rate = detection_copy(pcm, sample_rate)
    hop = hop_length(sample_rate)
    speeds = (1.0, *SEARCH_SPEEDS) if settings.speed_search else (1.0,)
    attempts = 0
    best: _Attempt | None = None
    for speed in speeds:
        restored = copy if speed == 1.0 else _undo_speed(copy, sample_rate, speed)
        for shift in FRAMING_SHIFTS:  # each framing only when the ones before it found nothing
            power, first_bin, hop, n_fft = _excerpt_spectrum(restored[round(shift * hop) :], sample_rate)
            attempt, tried = _try_framing(power, first_bin, hop, n_fft, sample_rate, layout, speed)
            attempts += tried
            if best is None or attempt.sync_z > best.sync_z or attempt.watermark_id is not None:
                best = attempt
            if attempt.watermark_id is not None:
                break
        if best is not None and best.watermark_id is not None:
            break
    assert best is not None
    bound = min(1.0, attempts * _NULL_FRAME)
    detected = best.watermark_id is not None and bound <= settings.false_positive_limit
    return SegmentDetection(
        start_seconds=start_seconds,
        end_seconds=end,
        detected=detected,
        watermark_id=best.watermark_id if detected else None,
        false_positive_probability=bound if detected else 1.0,
        sync_z=best.sync_z,
        speed=best.speed,
        coded_bit_agreement=best.agreement,
        attempts=attempts,
    )


def segment_bounds(samples: int, sample_rate: int, segment_seconds: float) -> list[tuple[int, int]]:
    """Consecutive segments of ``segment_seconds``; a short remainder joins the last segment."""
    size = int(segment_seconds * sample_rate)
    if samples <= size * 1.5:
        return [(0, samples)]
    bounds = [(start, min(start + size, samples)) for start in range(0, samples, size)]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] < size // 2:
        last = bounds.pop()
        bounds[-1] = (bounds[-1][0], last[1])
    return bounds


def detect_audio(
    pcm: np.ndarray, sample_rate: int, key: WatermarkKey, settings: AudioWatermarkSettings | None = None
) -> AudioDetection:
    """Look for the mark in every segment of ``pcm`` (float32 frames x channels).

    A file is claimed when one segment decodes and the union bound over *all* segments' attempts stays
    within the limit, or when two or more segments decode the same ID (chance agreement of two random
    valid frames is about 2^-64 per pair, negligible next to the limit).
    """
    _check_pcm(pcm, sample_rate)
    detector = StreamingAudioDetector(sample_rate, key, settings)
    detector.feed(pcm)
    return detector.finish()


class StreamingAudioDetector:
    """:func:`detect_audio` over blocks as a decoder hands them out, in memory bounded by the file's
    first FOLD_SECONDS (kept for the fold) plus two segments, whatever its length. The segments and the
    result are exactly those of :func:`detect_audio` on the concatenated blocks: a segment is decided
    once enough audio follows it to know it is not the one a short remainder joins (segment_bounds)."""

    def __init__(self, sample_rate: int, key: WatermarkKey, settings: AudioWatermarkSettings | None = None) -> None:
        self.sample_rate = sample_rate
        self.key = key
        self.settings = settings or AudioWatermarkSettings()
        self._size = int(self.settings.segment_seconds * sample_rate)
        self._fold_frames = int(FOLD_SECONDS * sample_rate)
        self._head: list[np.ndarray] = []  # the first FOLD_SECONDS
        self._head_frames = 0
        self._pending: list[np.ndarray] = []  # samples from self._start on, not yet in a decided segment
        self._pending_frames = 0
        self._start = 0
        self._segments: list[SegmentDetection] = []

    @property
    def frames(self) -> int:
        """Frames fed so far."""
        return self._start + self._pending_frames

    def feed(self, block: np.ndarray) -> None:
        """Add the next float32 frames x channels block."""
        _check_pcm(block, self.sample_rate)
        if block.shape[0] == 0:
            return
        if self._head_frames < self._fold_frames:
            part = block[: self._fold_frames - self._head_frames]
            self._head.append(part)
            self._head_frames += part.shape[0]
        self._pending.append(block)
        self._pending_frames += block.shape[0]
        size = self._size
        # The segment at _start is final when what follows it is at least half a segment (so it is
        # neither merged with a remainder nor, at the start, part of a single short file's one segment).
        while self._pending_frames > size * 1.5:
            pending = self._take_pending()
            self._segments.append(self._detect(pending[:size], self._start))
            self._pending, self._pending_frames = [pending[size:]], pending.shape[0] - size
            self._start += size

    def _take_pending(self) -> np.ndarray:
        pending = self._pending[0] if len(self._pending) == 1 else np.concatenate(self._pending)
        self._pending = [pending]
        return pending

    def _detect(self, pcm: np.ndarray, start: int) -> SegmentDetection:
        return detect_excerpt(pcm, self.sample_rate, self.key, self.settings, start / self.sample_rate)

    def finish(self) -> AudioDetection:
        """Decide the remaining segments and the file (as :func:`detect_audio`)."""
        pending = self._take_pending() if self._pending else np.zeros((0, 1), np.float32)
        for a, b in segment_bounds(self.frames, self.sample_rate, self.settings.segment_seconds):
            if a >= self._start:
                self._segments.append(self._detect(pending[a - self._start : b - self._start], a))
        self._pending, self._pending_frames = [], 0
        return self._decide(tuple(self._segments))

    def _decide(self, segments: tuple[SegmentDetection, ...]) -> AudioDetection:
        settings, sample_rate = self.settings, self.sample_rate
        attempts = sum(s.attempts for s in segments)
        # Every decoded frame counts, not only those a segment claimed.
        ids = [s.watermark_id for s in segments if s.watermark_id is not None]
        if not ids and len(segments) > 1:
            # Folding several periods together averages the programme out while the mark adds up: one more
            # try on up to FOLD_SECONDS of the file at the nominal speed (a speed change would smear it).
            head = self._head[0] if len(self._head) == 1 else np.concatenate(self._head)
            span = head.shape[0]
            folded = detect_excerpt(head, sample_rate, self.key, replace(settings, speed_search=False))
            attempts += folded.attempts
            if folded.watermark_id is not None:
                bound = min(1.0, attempts * _NULL_FRAME)
                if bound <= settings.false_positive_limit:
                    return AudioDetection(
                        True, folded.watermark_id, bound, (*segments, folded),
                        f"valid payload frame when folding the first {span / sample_rate:.0f} s",
                    )
        if not ids:
            return AudioDetection(False, None, 1.0, segments, f"no valid payload frame in {len(segments)} segment(s)")
        votes: dict[int, int] = {}
        for watermark_id in ids:
            votes[watermark_id] = votes.get(watermark_id, 0) + 1
        winner, count = max(votes.items(), key=lambda item: item[1])
        if count >= 2:
            pairs = len(segments) * (len(segments) - 1) / 2
            bound = min(1.0, pairs * (attempts * _NULL_FRAME) ** 2)
        else:
            bound = min(1.0, attempts * _NULL_FRAME)
        if bound > settings.false_positive_limit:
            return AudioDetection(
                False, None, 1.0, segments,
                f"one segment decoded but the bound {bound:.1e} over {attempts} attempts is too weak",
            )
        return AudioDetection(
            True, winner, bound, segments, f"valid payload frame in {count} of {len(segments)} segment(s)"
        )
