"""Error correction: the K=7, rate-1/3 convolutional code (generators 133, 171, 165 octal, as in LTE),
terminated with six zero tail bits, decoded by a soft-decision Viterbi decoder.

Soft inputs are real numbers whose sign is the coded bit (positive = 1) and whose size is the
confidence (ideally a log-likelihood ratio); the decoder maximises the correlation with a codeword,
which is maximum likelihood for Gaussian noise.
"""

from __future__ import annotations

import math

import numpy as np

CONSTRAINT_LENGTH = 7
_MEMORY = CONSTRAINT_LENGTH - 1
_STATES = 1 << _MEMORY
GENERATORS = (0o133, 0o171, 0o165)
RATE_INVERSE = len(GENERATORS)


def _parity(value: int) -> int:
    return bin(value).count("1") & 1


# Register layout: bit 6 is the newest input, bits 5..0 the state (previous inputs, newest first).
# For each next state ns: its input bit u = ns >> 5 and its two predecessor states.
_NEXT = np.arange(_STATES)
_INPUT_OF_NEXT = (_NEXT >> (_MEMORY - 1)).astype(np.uint8)
_PRED = np.stack([((_NEXT & ((1 << (_MEMORY - 1)) - 1)) << 1) | b for b in (0, 1)])  # (2, 64)
# Coded symbols (±1) on the branch pred -> next, shape (2, 64, 3).
_BRANCH_SYMBOLS = np.array(
    [
        [
            [2.0 * _parity(((int(_INPUT_OF_NEXT[ns]) << _MEMORY) | int(_PRED[b, ns])) & g) - 1.0 for g in GENERATORS]
            for ns in range(_STATES)
        ]
        for b in (0, 1)
    ],
    dtype=np.float64,
)


def coded_length(info_bits: int) -> int:
    return (info_bits + _MEMORY) * RATE_INVERSE


#: Generator taps as filters: entry k is the weight of the input k steps back (bit 6 - k of the generator).
_TAPS = np.array([[(g >> (_MEMORY - k)) & 1 for k in range(CONSTRAINT_LENGTH)] for g in GENERATORS], dtype=np.int64)


def encode(bits: np.ndarray) -> np.ndarray:
    """Coded bits (uint8 0/1) for ``bits`` followed by the zero tail."""
    message = np.concatenate([bits.astype(np.int64), np.zeros(_MEMORY, dtype=np.int64)])
    # Each generator's output is the parity of a 7-tap filter over the message (a convolution mod 2).
    coded = np.stack([np.convolve(message, taps)[: message.size] & 1 for taps in _TAPS], axis=1)
    return coded.reshape(-1).astype(np.uint8)


def viterbi_decode(soft: np.ndarray, info_bits: int) -> tuple[np.ndarray, float]:
    """Most likely information bits for ``soft`` (length ``coded_length(info_bits)``), and the winning
    path's correlation metric."""
    steps = info_bits + _MEMORY
    if soft.shape != (steps * RATE_INVERSE,):
        raise ValueError(f"expected {steps * RATE_INVERSE} soft values")
    symbols = soft.astype(np.float64).reshape(steps, RATE_INVERSE)
    # Every step's branch metrics at once; the tail's forbidden branches (input 1) set to -inf up front,
    # so the loop is three array operations per step.
    branches = np.einsum("bns,ts->tbn", _BRANCH_SYMBOLS, symbols)
    branches[info_bits:, :, _INPUT_OF_NEXT == 1] = -np.inf
    metric = np.full(_STATES, -np.inf)
    metric[0] = 0.0
    decisions = np.empty((steps, _STATES), dtype=bool)
    for t in range(steps):
        candidates = metric[_PRED] + branches[t]
        np.greater(candidates[1], candidates[0], out=decisions[t])
        metric = np.maximum(candidates[0], candidates[1])
    state = 0
    best = float(metric[0])
    bits = np.empty(steps, dtype=np.uint8)
    for t in range(steps - 1, -1, -1):
        bits[t] = _INPUT_OF_NEXT[state]
        state = int(_PRED[int(decisions[t, state]), state])
    return bits[:info_bits], best


def bit_reliability(soft: np.ndarray, bits: np.ndarray) -> np.ndarray:
    """How firmly the soft values back each decoded information bit (float64, one per bit).

    Information bit t shapes the coded symbols of steps t .. t + CONSTRAINT_LENGTH - 1; its reliability
    is the summed agreement of those symbols with the re-encoded codeword over the agreement's spread: a
    z-score, near 0 for a coin toss (a little above: the decoder picks the best-agreeing path) and
    large for a clean read.
    """
    expected = encode(bits).astype(np.float64) * 2.0 - 1.0
    symbol_agreement = soft.astype(np.float64) * expected
    spread = float(np.std(symbol_agreement))
    if spread <= 0.0:
        spread = float(np.mean(np.abs(symbol_agreement))) or 1.0  # noiseless: every symbol agrees equally
    steps = symbol_agreement.reshape(-1, RATE_INVERSE).sum(axis=1)
    window = np.convolve(steps, np.ones(CONSTRAINT_LENGTH), mode="full")[_MEMORY : _MEMORY + bits.size]
    return window / (spread * math.sqrt(CONSTRAINT_LENGTH * RATE_INVERSE))
