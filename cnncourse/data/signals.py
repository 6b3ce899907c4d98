"""A generated time series task: is the chirp hidden in the noise rising or falling?

Each series is Gaussian noise (standard deviation 1) with one **chirp** added at a random
position: a burst of ``pattern_length`` samples whose frequency sweeps from low to high
(class 0, "rising") or from high to low (class 1, "falling"), under a Hann window, with a
random amplitude and sign. A falling chirp is exactly a rising one played backwards, so both
classes hold the same values, and even the same power spectrum: only the **order** of the
samples tells them apart. A histogram of the values, or any classifier of the shuffled
series, stays at chance (50 %); a 1D CNN whose receptive field covers the chirp does not.

Conventions: ``signals`` float32 ``(N, L, 1)`` (channels last, as ``Conv1D`` expects),
``labels`` int32 ``(N,)``, ``starts`` int32 ``(N,)`` (first sample of the chirp). Series
``i`` depends only on ``(seed, i)`` and the arguments.

Example::

    >>> from cnncourse.data import make_chirp_signals
    >>> data = make_chirp_signals(6, length=128, seed=0)
    >>> data.signals.shape, data.signals.dtype, data.labels.tolist()
    ((6, 128, 1), dtype('float32'), [0, 1, 0, 1, 0, 1])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnncourse._validation import check_float, check_int, check_positive_int, check_seed

CLASS_NAMES = ("rising", "falling")
#: The chirp's frequency sweeps between these, in cycles per sample.
FREQUENCIES = (0.03, 0.25)


@dataclass(frozen=True, eq=False)
class SignalData:
    """Noisy series with one chirp each.

    Attributes:
        signals: float32 ``(N, L, 1)``.
        labels: int32 ``(N,)``: ``0`` rising, ``1`` falling (``class_names``).
        starts: int32 ``(N,)``, index of the chirp's first sample.
        pattern_length: samples of the chirp.
        class_names: ``("rising", "falling")``.
    """

    signals: np.ndarray
    labels: np.ndarray
    starts: np.ndarray
    pattern_length: int
    class_names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.signals)


def chirp(pattern_length: int, rising: bool = True) -> np.ndarray:
    """The unit-amplitude chirp: float64 ``(pattern_length,)``, a Hann-windowed sine sweeping ``FREQUENCIES``.

    ``chirp(P, rising=False)`` is ``chirp(P)[::-1]``: the same samples, in reverse order.
    """
    pattern_length = check_int("pattern_length", pattern_length, minimum=4)
    t = np.arange(pattern_length)
    low, high = FREQUENCIES
    frequency = low + (high - low) * t / (pattern_length - 1)
    phase = 2 * np.pi * np.cumsum(frequency)
    wave = np.hanning(pattern_length + 2)[1:-1] * np.sin(phase)
    return wave if rising else wave[::-1].copy()


def make_chirp_signals(n: int, *, length: int = 256, pattern_length: int = 32, amplitude=(1.0, 2.0),
                       seed: int = 0) -> SignalData:
    """Generate ``n`` noisy series, each with a rising or a falling chirp (see the module docstring).

    Args:
        n: number of series (> 0).
        length: ``L``, samples per series (at least ``pattern_length``).
        pattern_length: samples of the chirp (>= 4).
        amplitude: ``(low, high)``: the chirp's peak amplitude is drawn uniformly from it (noise std is 1).
        seed: series ``i`` depends only on ``(seed, i)``.

    Returns:
        :class:`SignalData`; series ``i`` has label ``i % 2``.
    """
    n = check_positive_int("n", n)
    pattern_length = check_int("pattern_length", pattern_length, minimum=4)
    length = check_int("length", length, minimum=pattern_length)
    if not isinstance(amplitude, (tuple, list)) or len(amplitude) != 2:
        raise TypeError(f"amplitude must be a pair (low, high) of numbers, got {amplitude!r}")
    low = check_float("amplitude[0]", amplitude[0], minimum=0)
    high = check_float("amplitude[1]", amplitude[1], minimum=low)
    seed = check_seed("seed", seed)
    rising = chirp(pattern_length, rising=True)
    patterns = (rising, rising[::-1])
    signals = np.empty((n, length, 1), dtype=np.float32)
    labels = (np.arange(n) % 2).astype(np.int32)
    starts = np.empty(n, dtype=np.int32)
    for i in range(n):
        rng = np.random.default_rng((seed, i, 1912))
        series = rng.normal(0.0, 1.0, size=length)
        start = int(rng.integers(0, length - pattern_length + 1))
        sign = 1.0 if rng.random() < 0.5 else -1.0
        series[start:start + pattern_length] += sign * rng.uniform(low, high) * patterns[labels[i]]
        signals[i, :, 0] = series
        starts[i] = start
    return SignalData(signals=signals, labels=labels, starts=starts, pattern_length=pattern_length,
                      class_names=CLASS_NAMES)


__all__ = ["CLASS_NAMES", "SignalData", "chirp", "make_chirp_signals"]
