from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from labeler.watermark import ecc

INFO = 92


@given(st.lists(st.integers(0, 1), min_size=INFO, max_size=INFO))
def test_noiseless_round_trip(bits: list[int]) -> None:
    info = np.array(bits, dtype=np.uint8)
    coded = ecc.encode(info)
    assert coded.shape == (ecc.coded_length(INFO),)
    decoded, _ = ecc.viterbi_decode(coded * 2.0 - 1.0, INFO)
    assert np.array_equal(decoded, info)


@settings(max_examples=60)
@given(
    st.lists(st.integers(0, 1), min_size=INFO, max_size=INFO),
    st.lists(st.integers(0, ecc.coded_length(INFO) - 1), min_size=1, max_size=7, unique=True),
)
def test_corrects_any_seven_hard_errors(bits: list[int], flips: list[int]) -> None:
    # The code's free distance is 15, so maximum-likelihood decoding corrects any 7 errors.
    info = np.array(bits, dtype=np.uint8)
    soft = ecc.encode(info) * 2.0 - 1.0
    soft[flips] *= -1
    decoded, _ = ecc.viterbi_decode(soft, INFO)
    assert np.array_equal(decoded, info)


def test_soft_decoding_beats_hard_decisions_in_gaussian_noise() -> None:
    rng = np.random.default_rng(3)
    info = rng.integers(0, 2, INFO).astype(np.uint8)
    clean = ecc.encode(info) * 2.0 - 1.0
    soft_ok = hard_ok = 0
    for _ in range(150):
        noisy = clean + rng.normal(0, 1.0, clean.size)
        soft_ok += np.array_equal(ecc.viterbi_decode(noisy, INFO)[0], info)
        hard_ok += np.array_equal(ecc.viterbi_decode(np.sign(noisy), INFO)[0], info)
    assert soft_ok > hard_ok
    assert soft_ok >= 135  # ~3% frame errors expected at 0 dB per coded bit


def test_bit_reliability_is_high_for_clean_reads_and_low_for_noise() -> None:
    rng = np.random.default_rng(5)
    info = rng.integers(0, 2, INFO).astype(np.uint8)
    clean = ecc.encode(info) * 2.0 - 1.0
    firm = ecc.bit_reliability(clean + rng.normal(0, 0.3, clean.size), info)
    assert firm.shape == (INFO,)
    assert firm.min() > 2.0
    # Pure noise decoded to whatever the Viterbi picks: no bit should look firm on average.
    noise = rng.normal(0, 1.0, clean.size)
    guessed, _ = ecc.viterbi_decode(noise, INFO)
    shaky = ecc.bit_reliability(noise, guessed)
    assert shaky.mean() < firm.mean() / 3


def test_bit_reliability_flags_a_corrupted_stretch() -> None:
    rng = np.random.default_rng(6)
    info = rng.integers(0, 2, INFO).astype(np.uint8)
    soft = ecc.encode(info) * 2.0 - 1.0 + rng.normal(0, 0.3, ecc.coded_length(INFO))
    soft[150:180] = rng.normal(0, 1.0, 30)  # steps 50..59 wiped out
    decoded, _ = ecc.viterbi_decode(soft, INFO)
    reliability = ecc.bit_reliability(soft, decoded)
    # Bits whose coded steps (t .. t+6) fall inside the wiped stretch are the shakiest.
    assert reliability[46:56].min() < 0.5 * reliability[:40].min()
    assert int(np.argmin(reliability)) in range(44, 60)


_SHORT_INFO = 8
_ALL_SHORT_CODEWORDS = np.array(
    [ecc.encode(np.array([(word >> (7 - i)) & 1 for i in range(_SHORT_INFO)], dtype=np.uint8)) * 2.0 - 1.0
     for word in range(1 << _SHORT_INFO)]
)


@settings(max_examples=80)
@given(st.integers(0, 2**32 - 1), st.floats(0.2, 3.0))
def test_viterbi_is_maximum_likelihood(seed: int, noise: float) -> None:
    # Brute force over all 256 codewords of an 8-bit message: the decoder's path must be the codeword that
    # correlates best with the soft values, and its metric that correlation.
    rng = np.random.default_rng(seed)
    sent = _ALL_SHORT_CODEWORDS[rng.integers(0, 1 << _SHORT_INFO)]
    soft = sent + rng.normal(0.0, noise, sent.size)
    correlations = _ALL_SHORT_CODEWORDS @ soft
    decoded, metric = ecc.viterbi_decode(soft, _SHORT_INFO)
    assert np.isclose(metric, correlations.max())
    assert np.isclose((ecc.encode(decoded) * 2.0 - 1.0) @ soft, correlations.max())


def _shift_register_encode(bits: np.ndarray) -> np.ndarray:
    """The encoder written as the textbook shift register (the reference for the vectorised one)."""
    state, out = 0, []
    for bit in [*bits.tolist(), *([0] * (ecc.CONSTRAINT_LENGTH - 1))]:
        register = (int(bit) << (ecc.CONSTRAINT_LENGTH - 1)) | state
        out.extend(bin(register & g).count("1") & 1 for g in ecc.GENERATORS)
        state = register >> 1
    return np.array(out, dtype=np.uint8)


@given(st.lists(st.integers(0, 1), min_size=1, max_size=200))
def test_encoder_matches_the_shift_register(bits: list[int]) -> None:
    info = np.array(bits, dtype=np.uint8)
    assert np.array_equal(ecc.encode(info), _shift_register_encode(info))
