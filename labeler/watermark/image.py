"""The image watermark: a keyed, masked spread-spectrum pattern on luma, tiled over the picture.

Geometry. The pattern is a tile of TILE_CELLS x TILE_CELLS cells repeated over the image; a cell's side
is the image's short side / CELLS_PER_SHORT_SIDE, so the pattern scales with the picture and sits at
the same mid-low spatial frequency whatever the resolution (it survives JPEG and downscaling). Any
region holding a few tiles carries the whole payload.

Working resolution. Embedding computes the pattern and its mask at a working size where a cell is
WORK_CELL_PX pixels (short side WORK_SHORT_SIDE), then resizes the product to the image; detection
brings the suspect image to the same working size, whitens it, folds all tiles into one, finds the
tile's offset from the keyed sync cells and soft-decodes the data cells.

Cells. SYNC_CELLS cells of each tile hold a keyed ±1 sync pattern; the rest hold the scrambled coded
payload bits (each coded bit on two or three cells per tile, placed by a keyed permutation).

Colour. The luma change is added equally to R, G and B, which changes Y by exactly that amount and
leaves BT.601 chroma untouched (chroma is what JPEG and H.264 halve first).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from labeler.orientation import ORIENTATIONS, UPRIGHT, Orientation
from labeler.watermark import ecc, payload
from labeler.watermark.fused import add_upsampled_delta
from labeler.watermark.keys import WatermarkKey
from labeler.watermark.masking import Scratch, perceptual_mask
from labeler.watermark.sync import (
    IDENTITY,
    Geometry,
    SyncResult,
    cyclic_correlate,
    cyclic_upsample,
    find_offset,
    fold,
    highpass_cyclic,
    lattice_candidates,
    orientation_spectra,
    peak_heights,
    template_spectrum,
    warp_to_canonical,
    whiten,
    whiten_at_canonical,
)

TILE_CELLS = 32
CELLS_PER_SHORT_SIDE = 128
WORK_CELL_PX = 4
WORK_SHORT_SIDE = CELLS_PER_SHORT_SIDE * WORK_CELL_PX
TILE_PX = TILE_CELLS * WORK_CELL_PX
SYNC_CELLS = 256
#: Below this short side a cell would be under two pixels: the mark would not survive anything.
MIN_SHORT_SIDE = 256
#: Nominal peak change of luma in grey levels at mask gain 1; tuned by the benchmark
#: (PSNR-Y mean ≈ 43.7 dB, worst ≈ 39.8 dB on the photo corpus).
BASE_AMPLITUDE = 2.9
#: Pictures with a short side below this get a stronger mark (see small_picture_boost).
BOOST_REFERENCE_SHORT_SIDE = 1440
MAX_SMALL_PICTURE_BOOST = 1.7
DEFAULT_FALSE_POSITIVE_LIMIT = 1e-6
#: The sync statistic's Gaussian tail is trusted only down to this probability: far tails (z > 5) cannot
#: be validated empirically, and a reported false-positive probability must stay conservative.
SYNC_P_VALUE_FLOOR = 1e-6
#: Quality floor at strength 1: the pattern is scaled down on pictures (busy textures everywhere) where
#: the mask alone would push PSNR-Y below this. A guarantee by construction, not a tuning outcome.
MIN_PSNR_DB = 38.5
_MAX_RMS = 255.0 / 10 ** (MIN_PSNR_DB / 20)

CODED_BITS = ecc.coded_length(payload.FRAME_BITS)
_ID_BITS_SLICE = slice(payload.VERSION_BITS, payload.VERSION_BITS + payload.ID_BITS)


@dataclass(frozen=True)
class TileLayout:
    """Which cell of the tile does what, derived from the key."""

    sync_chips: np.ndarray  # float32 TILE_CELLS², ±1 on sync cells, 0 on data cells
    data_cells: np.ndarray  # int64 flat indices of the data cells
    data_signs: np.ndarray  # float32 ±1 keyed scrambler, one per data cell
    data_bit: np.ndarray  # int64 coded-bit index carried by each data cell
    sync_template: np.ndarray  # float32 TILE_PX², the sync chips as the whitened detector sees them
    sync_spectrum: np.ndarray  # its template_spectrum, for the sync search of every decode
    orientation_spectra: np.ndarray  # its sync.orientation_spectra, for the turned and flipped hypotheses


@lru_cache(maxsize=16)
def tile_layout(key: WatermarkKey) -> TileLayout:
    cells = TILE_CELLS * TILE_CELLS
    order = key.rng("image/cells").permutation(cells)
    sync_cells, data_cells = np.sort(order[:SYNC_CELLS]), np.sort(order[SYNC_CELLS:])
    sync_chips = np.zeros(cells, dtype=np.float32)
    sync_chips[sync_cells] = key.signs("image/sync", SYNC_CELLS)
    # Spread coded bits evenly over the data cells, in keyed order.
    data_bit = key.rng("image/assign").permutation(np.arange(data_cells.size) % CODED_BITS)
    sync_grid = sync_chips.reshape(TILE_CELLS, TILE_CELLS)
    sync_template = highpass_cyclic(cyclic_upsample(sync_grid, WORK_CELL_PX))
    return TileLayout(
        sync_chips=sync_grid,
        sync_template=sync_template,
        sync_spectrum=template_spectrum(sync_template),
        orientation_spectra=orientation_spectra(sync_template),
        data_cells=data_cells,
        data_signs=key.signs("image/scramble", data_cells.size),
        data_bit=data_bit.astype(np.int64),
    )


def tile_chips(layout: TileLayout, coded: np.ndarray) -> np.ndarray:
    """The TILE_CELLS² ±1 chip grid carrying ``coded`` (uint8 0/1 coded bits)."""
    chips = layout.sync_chips.copy().reshape(-1)
    chips[layout.data_cells] = layout.data_signs * (coded[layout.data_bit].astype(np.float32) * 2.0 - 1.0)
    return chips.reshape(TILE_CELLS, TILE_CELLS)


def _grey_u8(pixels: np.ndarray) -> np.ndarray:
    if pixels.ndim == 2:
        return pixels
    channels = pixels.shape[2]
    if channels == 1:
        return pixels[:, :, 0]
    code = cv2.COLOR_RGBA2GRAY if channels == 4 else cv2.COLOR_RGB2GRAY
    return cv2.cvtColor(pixels, code)  # BT.601 weights, fixed point: 25x faster than float maths


def working_size(height: int, width: int) -> tuple[int, int]:
    scale = WORK_SHORT_SIDE / min(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def working_luma(pixels: np.ndarray, scratch: Scratch | None = None) -> np.ndarray:
    """Luma at the working resolution (float32, short side WORK_SHORT_SIDE; with ``scratch``, one of its
    planes, overwritten by the next call).

    Big pictures are first reduced by a whole factor with block means on uint8 (OpenCV's fast path;
    its rounding adds noise far below the mark's), then resampled to the exact size in float32.
    """
    grey = _grey_u8(pixels)
    height, width = grey.shape
    work_h, work_w = working_size(height, width)
    factor = min(height // work_h, width // work_w)
    if factor >= 2:
        size = (height // factor, width // factor)
        reduced = scratch.plane("reduced", size, np.uint8) if scratch is not None else None
        grey = cv2.resize(grey, size[::-1], dst=reduced, interpolation=cv2.INTER_AREA)
    if scratch is None:
        plane = grey.astype(np.float32)
    else:
        plane = scratch.plane("grey", grey.shape)
        np.copyto(plane, grey)
    if plane.shape == (work_h, work_w):
        return plane
    interpolation = cv2.INTER_LINEAR if work_h < plane.shape[0] else cv2.INTER_CUBIC
    work = scratch.plane("work", (work_h, work_w)) if scratch is not None else None
    return cv2.resize(plane, (work_w, work_h), dst=work, interpolation=interpolation)


def can_embed(height: int, width: int) -> bool:
    return min(height, width) >= MIN_SHORT_SIDE


def embed_image(
    pixels: np.ndarray, watermark_id: int, key: WatermarkKey, strength: float = 1.0
) -> np.ndarray:
    """A new uint8 array like ``pixels`` (HxWxC, C = 1, 3 or 4) carrying ``watermark_id``."""
    height, width = pixels.shape[:2]
    if not can_embed(height, width):
        raise ValueError(f"image short side {min(height, width)} px is below {MIN_SHORT_SIDE} px")
    chips = tile_chips(tile_layout(key), ecc.encode(payload.encode_frame(watermark_id)))
    work = working_luma(pixels)
    mask = np.float32(BASE_AMPLITUDE) * perceptual_mask(work, texture_boost=small_picture_boost(height, width))
    delta_work = mask * _tiled(cyclic_upsample(chips, WORK_CELL_PX), work.shape)
    rms = float(np.sqrt(np.mean(np.square(delta_work))))
    gain = strength * min(1.0, _MAX_RMS / rms) if rms > 0 else strength
    delta_work *= np.float32(gain)
    return add_upsampled_delta(pixels, delta_work)


def small_picture_boost(height: int, width: int) -> float:
    """Amplitude factor for pictures with a short side under BOOST_REFERENCE_SHORT_SIDE px.

    The detector sums the mark over every pixel, so a small picture holds less of it while JPEG and WebP
    add the same noise per pixel; the boost gives back part of that, growing as sqrt(reference / short
    side) up to MAX_SMALL_PICTURE_BOOST. It applies to textured regions only (the mask's floor on flat
    areas is unchanged), and the PSNR floor (MIN_PSNR_DB) still caps the result.
    """
    ratio = BOOST_REFERENCE_SHORT_SIDE / min(height, width)
    return float(min(MAX_SMALL_PICTURE_BOOST, max(1.0, math.sqrt(ratio))))


def _tiled(tile: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    height, width = shape
    return np.tile(tile, (-(-height // TILE_PX), -(-width // TILE_PX)))[:height, :width]


@dataclass(frozen=True)
class ImageDetection:
    detected: bool
    watermark_id: int | None
    #: Sync peak in robust standard deviations.
    score: float
    #: Probability that an unmarked image yields a claim this strong (≤ the limit when detected).
    false_positive_probability: float
    sync_p_value: float
    #: Tile offset found, in working-resolution pixels (row, column).
    offset: tuple[int, int]
    #: Scale and rotation assumed or estimated, relative to the embedding geometry.
    scale: float
    rotation_degrees: float
    #: Fraction of coded bits whose soft value agrees with the decoded codeword (1.0 = no bit errors).
    coded_bit_agreement: float
    #: Mean soft-value size over its spread: how clearly the chips stand out of the noise.
    chip_snr: float
    reason: str
    #: Per watermark-ID bit (most significant first), how firmly the soft values back it: a z-score, ~0
    #: for a guess and several units for a clean read (``ecc.bit_reliability``). Empty when not decoded.
    bit_reliability: tuple[float, ...] = ()
    #: The picture had been mirrored left to right (a flip edit) and then turned clockwise by this many
    #: quarter turns (a rotate edit); scale and rotation are those of the picture as received.
    mirrored: bool = False
    right_angle_turns: int = 0

    @property
    def orientation(self) -> Orientation:
        """The transform that restored the mark (for decoding other parts of the same media alike)."""
        return Orientation(self.right_angle_turns, self.mirrored)


@lru_cache(maxsize=1)
def _single_chip_kernel() -> np.ndarray:
    one = np.zeros((TILE_CELLS, TILE_CELLS), dtype=np.float32)
    one[0, 0] = 1.0
    kernel = highpass_cyclic(cyclic_upsample(one, WORK_CELL_PX))
    kernel.setflags(write=False)  # cached and shared
    return kernel


@lru_cache(maxsize=1)
def _single_chip_spectrum() -> np.ndarray:
    return template_spectrum(_single_chip_kernel())


def _cell_responses(aligned: np.ndarray) -> np.ndarray:
    """Matched-filter response of every cell of the aligned folded tile (flat, TILE_CELLS²)."""
    response = cyclic_correlate(aligned, _single_chip_kernel(), _single_chip_spectrum())
    return response[::WORK_CELL_PX, ::WORK_CELL_PX].reshape(-1)


def _soft_coded(layout: TileLayout, responses: np.ndarray) -> np.ndarray:
    descrambled = responses[layout.data_cells] * layout.data_signs
    return np.bincount(layout.data_bit, weights=descrambled, minlength=CODED_BITS)


@dataclass(frozen=True)
class _Attempt:
    geometry: Geometry
    sync: SyncResult
    watermark_id: int | None
    coded_bit_agreement: float
    chip_snr: float
    bit_reliability: tuple[float, ...]
    orientation: Orientation = UPRIGHT


def _decode_plane(whitened: np.ndarray, layout: TileLayout, geometry: Geometry,
                  orientation: Orientation = UPRIGHT) -> _Attempt:
    """Fold, restore ``orientation`` (a turned or flipped picture's), synchronise and soft-decode one
    canonical-geometry whitened plane."""
    folded = orientation.apply(fold(whitened, TILE_PX))
    return _decode_folded(folded, _sync(folded, layout), layout, geometry, orientation)


def _sync(folded: np.ndarray, layout: TileLayout) -> SyncResult:
    return find_offset(folded, layout.sync_template, layout.sync_spectrum)


def _decode_oriented(whitened: np.ndarray, layout: TileLayout, geometry: Geometry) -> tuple[_Attempt, int]:
    """:func:`_decode_plane` upright, then in whichever of the seven other orientations (right-angle turns,
    each as it is and mirrored) has the highest sync peak by a cheap screen; that one gets the full sync
    search, and its payload is decoded only when its peak beats the upright one (a turned or flipped
    mark's does; on unmarked pictures the best of seven null peaks beats one most of the time, which is
    what the orientations cost there). Returns the attempt that decoded (else the stronger sync) and the
    hypotheses to count: one when upright decoded, else all eight orientations (any could be picked)."""
    folded = fold(whitened, TILE_PX)
    attempt = _decode_folded(folded, _sync(folded, layout), layout, geometry, UPRIGHT)
    if attempt.watermark_id is not None:
        return attempt, 1
    orientation = ORIENTATIONS[1 + int(np.argmax(peak_heights(folded, layout.orientation_spectra)))]
    restored = orientation.apply(folded)
    sync = _sync(restored, layout)
    if sync.z <= attempt.sync.z:
        return attempt, len(ORIENTATIONS)
    return _decode_folded(restored, sync, layout, geometry, orientation), len(ORIENTATIONS)


def _decode_folded(folded: np.ndarray, sync: SyncResult, layout: TileLayout, geometry: Geometry,
                   orientation: Orientation) -> _Attempt:
    aligned = np.roll(folded, (-sync.dy, -sync.dx), axis=(0, 1))
    responses = _cell_responses(aligned)
    soft = _soft_coded(layout, responses)
    bits, _ = ecc.viterbi_decode(soft, payload.FRAME_BITS)
    watermark_id = payload.decode_frame(bits)
    expected = ecc.encode(bits).astype(np.float64) * 2.0 - 1.0
    chip_values = responses[layout.data_cells] * layout.data_signs * expected[layout.data_bit]
    spread = float(np.std(chip_values))
    return _Attempt(
        geometry=geometry,
        sync=sync,
        watermark_id=watermark_id,
        coded_bit_agreement=float(np.mean(np.sign(soft) == expected)),
        chip_snr=float(np.mean(chip_values)) / spread if spread > 0 else 0.0,
        # Only a valid frame is worth explaining bit by bit (and unmarked pictures skip the cost).
        bit_reliability=(
            tuple(float(z) for z in ecc.bit_reliability(soft, bits)[_ID_BITS_SLICE]) if watermark_id is not None else ()
        ),
        orientation=orientation,
    )


def _report(attempt: _Attempt, hypotheses: int, limit: float) -> ImageDetection:
    sync = attempt.sync
    fp = min(1.0, hypotheses * max(sync.p_value, SYNC_P_VALUE_FLOOR) * payload.RANDOM_FRAME_ACCEPT_PROBABILITY)
    if attempt.watermark_id is None:
        detected, fp, reason = False, 1.0, f"no valid payload frame in {hypotheses} geometry hypotheses"
    elif fp > limit:
        detected, reason = False, f"frame decoded but false-positive probability {fp:.2e} is above {limit:.0e}"
    else:
        detected, reason = True, f"valid payload frame (CRC) at sync z={sync.z:.1f}"
    return ImageDetection(
        detected=detected,
        watermark_id=attempt.watermark_id if detected else None,
        score=sync.z,
        false_positive_probability=fp if detected else 1.0,
        sync_p_value=sync.p_value,
        offset=(sync.dy, sync.dx),
        scale=attempt.geometry.scale,
        rotation_degrees=math.degrees(attempt.geometry.rotation),
        coded_bit_agreement=attempt.coded_bit_agreement,
        chip_snr=attempt.chip_snr,
        reason=reason,
        bit_reliability=attempt.bit_reliability if detected else (),
        mirrored=attempt.orientation.mirrored,
        right_angle_turns=attempt.orientation.turns,
    )


def _not_detected(reason: str) -> ImageDetection:
    return ImageDetection(
        detected=False, watermark_id=None, score=0.0, false_positive_probability=1.0, sync_p_value=1.0,
        offset=(0, 0), scale=1.0, rotation_degrees=0.0, coded_bit_agreement=0.0, chip_snr=0.0, reason=reason,
    )


#: Lattice hypotheses tried after the unchanged geometry fails (each one counts in the false-positive bound).
GEOMETRY_CANDIDATES = 8
#: The strongest lattice candidates are always decoded; the rest only when their lattice score stands
#: out from the pack (a tiled mark's lattice usually scores 2-15x the typical candidate; on unmarked
#: pictures the scores are all alike, so this halves the unmarked-picture search). On the benchmark's
#: geometric attacks the right candidate ranked first in 145 of 148 searches, second once and fourth
#: twice (blinds in dogs-window outscore the tile lattice), hence four.
ALWAYS_DECODED_CANDIDATES = 4
PROMINENT_CANDIDATE_RATIO = 1.5
#: A candidate whose sync peak reaches this but whose payload fails gets a second, slower decode
#: (``whiten_at_canonical``). Unmarked pictures: highest sync z 5.8 in 10,000 benchmark crops.
REWHITEN_SYNC_Z = 7.0


def detect_image(
    pixels: np.ndarray, key: WatermarkKey, false_positive_limit: float = DEFAULT_FALSE_POSITIVE_LIMIT
) -> ImageDetection:
    """Look for our mark in uint8 HxWxC pixels.

    First the geometry of a picture that was only re-encoded or resized; then, if that yields no valid
    frame, the scale/rotation candidates read off the tile lattice; each geometry upright and in the seven
    other orientations (right-angle turns and flips: rotate and flip edits; a square lattice turned or
    mirrored is a square lattice, so they share the lattice search). A claim needs a valid frame (CRC)
    and a false-positive probability, union-bounded over every hypothesis tried, within the limit.
    """
    height, width = pixels.shape[:2]
    if min(height, width) < TILE_PX // 2:
        return _not_detected(f"image too small to carry the watermark ({width}x{height})")
    work = working_luma(pixels)
    if float(work.std()) < 1e-3:
        return _not_detected("image is uniform: nothing to decode")
    attempt, tried = search_planes([(work, whiten(work))], key)
    return _report(attempt, tried, false_positive_limit)


def search_planes(planes: Sequence[tuple[np.ndarray, np.ndarray]], key: WatermarkKey,
                  geometry_search: bool = True) -> tuple[_Attempt, int]:
    """Decode ``(working luma, whitened)`` plane pairs that show the same marked picture (one image, or
    averages over different frame sets of a video): every plane at the unchanged geometry first, then,
    if none decoded, each plane through its lattice candidates; each geometry upright, then turned and
    flipped (:func:`_decode_oriented`).
    Returns the first attempt that decoded (else the one with the strongest sync) and how many hypotheses
    were tried, for the union bound."""
    layout = tile_layout(key)
    tried = 0
    best: _Attempt | None = None
    for _, whitened in planes:
        attempt, count = _decode_oriented(whitened, layout, IDENTITY)
        tried += count
        if attempt.watermark_id is not None:
            return attempt, tried
        if best is None or attempt.sync.z > best.sync.z:
            best = attempt
    assert best is not None, "search_planes needs at least one plane"
    if not geometry_search:
        return best, tried
    for work, whitened in planes:
        candidate, count = _search_lattice(work, whitened, layout)
        tried += count
        if candidate is not None and candidate.watermark_id is not None:
            return candidate, tried
        if candidate is not None and candidate.sync.z > best.sync.z:
            best = candidate
    return best, tried


def _search_lattice(work: np.ndarray, whitened: np.ndarray, layout: TileLayout) -> tuple[_Attempt | None, int]:
    """The scale/rotation candidates read off the tile lattice of ``whitened``, strongest first."""
    tried = 0
    best: _Attempt | None = None
    candidates = lattice_candidates(whitened, TILE_PX, GEOMETRY_CANDIDATES)
    typical = float(np.median([c.score for c in candidates])) if candidates else 0.0
    for rank, geometry in enumerate(candidates):
        if rank >= ALWAYS_DECODED_CANDIDATES and geometry.score < PROMINENT_CANDIDATE_RATIO * typical:
            continue
        warped = warp_to_canonical(whitened, geometry)
        if min(warped.shape) < TILE_PX:
            continue
        attempt, count = _decode_oriented(warped, layout, geometry)
        tried += count
        if attempt.watermark_id is None and attempt.sync.z >= REWHITEN_SYNC_Z:
            # The tile is clearly there but the payload did not decode: whiten again at the canonical scale
            # (a second hypothesis for the bound; unmarked pictures almost never get here).
            attempt = _decode_plane(whiten_at_canonical(work, geometry), layout, geometry, attempt.orientation)
            tried += 1
        if attempt.watermark_id is not None:
            return attempt, tried
        if best is None or attempt.sync.z > best.sync.z:
            best = attempt
    return best, tried


# --- Building blocks for frame sequences (video): the pattern once per resolution, one masked add per
# frame, and whitened planes that can be averaged across frames before one decode.


def working_pattern(watermark_id: int, key: WatermarkKey, height: int, width: int) -> np.ndarray:
    """The ±1 chip pattern (float32) at the working size of a ``height`` x ``width`` picture."""
    coded = ecc.encode(payload.encode_frame(watermark_id))
    tile = cyclic_upsample(tile_chips(tile_layout(key), coded), WORK_CELL_PX)
    work_h, work_w = working_size(height, width)
    return np.ascontiguousarray(np.tile(tile, (-(-work_h // TILE_PX), -(-work_w // TILE_PX)))[:work_h, :work_w])


def embed_luma_plane(
    luma: np.ndarray, pattern: np.ndarray, strength: float = 1.0, scratch: Scratch | None = None
) -> np.ndarray:
    """``luma`` (uint8 HxW) plus the content-masked ``pattern`` from :func:`working_pattern`: the same
    mark :func:`embed_image` adds, with the pattern computed by the caller once per resolution (and, for
    a caller marking frame after frame, its temporaries kept in ``scratch``)."""
    height, width = luma.shape
    work = working_luma(luma, scratch)
    if work.shape != pattern.shape:
        raise ValueError(f"pattern {pattern.shape} was made for another resolution than {work.shape}")
    delta_work = perceptual_mask(work, texture_boost=small_picture_boost(height, width), scratch=scratch)
    delta_work *= np.float32(BASE_AMPLITUDE)  # in place: this runs once per video frame
    delta_work *= pattern
    rms = float(cv2.norm(delta_work, cv2.NORM_L2)) / math.sqrt(delta_work.size)
    gain = strength * min(1.0, _MAX_RMS / rms) if rms > 0 else strength
    delta_work *= np.float32(gain)
    return add_upsampled_delta(luma, delta_work)


def detect_planes(
    planes: Sequence[tuple[np.ndarray, np.ndarray]], key: WatermarkKey,
    false_positive_limit: float = DEFAULT_FALSE_POSITIVE_LIMIT, geometry_search: bool = True,
    prior_hypotheses: int = 0,
) -> tuple[ImageDetection, Geometry, int]:
    """:func:`search_planes` as a report, with the geometry it decoded at (for decoding parts alike) and
    the hypotheses counted in its bound (``prior_hypotheses``, tried earlier on the same media, included)."""
    usable = [(work, whitened) for work, whitened in planes if min(whitened.shape) >= TILE_PX]
    if not usable:
        return _not_detected("plane smaller than one tile"), IDENTITY, prior_hypotheses
    attempt, tried = search_planes(usable, key, geometry_search)
    total = tried + prior_hypotheses
    return _report(attempt, total, false_positive_limit), attempt.geometry, total


def detect_whitened(
    whitened: np.ndarray, key: WatermarkKey, false_positive_limit: float = DEFAULT_FALSE_POSITIVE_LIMIT,
    geometry: Geometry = IDENTITY, orientation: Orientation = UPRIGHT,
) -> ImageDetection:
    """Decode an (averaged) whitened plane at one known geometry and orientation only (one hypothesis)."""
    plane = whitened if geometry.is_identity else warp_to_canonical(whitened, geometry)
    if min(plane.shape) < TILE_PX:
        return _not_detected("plane smaller than one tile")
    return _report(_decode_plane(plane, tile_layout(key), geometry, orientation), 1, false_positive_limit)
