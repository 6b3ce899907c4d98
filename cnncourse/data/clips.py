"""Generated video clips of a moving shape whose class is the direction of motion: data for 3D convolutions.

Each clip shows one bright shape (a disc, a square or a plus sign, 3 to 5 pixels wide) on a
noisy dark background, moving 1 or 2 pixels per frame **right, left, down or up** (the four
classes). The image wraps around at its borders (the shape leaves on one side and comes back
on the other), and the first position is uniform over the image, so every single frame looks
the same whatever the class: the shape is anywhere, with the same look and noise. A 2D CNN on
one frame therefore cannot beat chance (25 %); the class lives only in how frames follow each
other, which a 3D convolution (a kernel that spans time too) can see.

Conventions: ``clips`` float32 ``(N, T, H, W, 1)`` in ``[0, 1]`` (``channels_last``, as
``Conv3D`` expects: time first, then rows and columns), ``labels`` int32 ``(N,)`` into
``class_names``, ``positions`` int32 ``(N, T, 2)`` (row, column of the shape's centre in
each frame), ``speeds`` int32 ``(N,)`` in pixels per frame. Clip ``i`` depends only on
``(seed, i)`` and the arguments.

Example::

    >>> from cnncourse.data import make_motion_clips
    >>> data = make_motion_clips(8, frames=6, size=16, seed=0)
    >>> data.clips.shape, data.clips.dtype, data.class_names
    ((8, 6, 16, 16, 1), dtype('float32'), ('right', 'left', 'down', 'up'))
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnncourse._validation import check_float, check_int, check_positive_int, check_seed

CLASS_NAMES = ("right", "left", "down", "up")
#: (row, column) step of each class, per pixel of speed.
DIRECTIONS = ((0, 1), (0, -1), (1, 0), (-1, 0))
SHAPES = ("disc", "square", "plus")


@dataclass(frozen=True, eq=False)
class ClipData:
    """Clips of a moving shape.

    Attributes:
        clips: float32 ``(N, T, H, W, 1)`` in ``[0, 1]``.
        labels: int32 ``(N,)``, the direction: index into ``class_names``.
        positions: int32 ``(N, T, 2)``, (row, column) of the shape's centre in each frame.
        speeds: int32 ``(N,)``, pixels per frame (1 or 2).
        class_names: ``("right", "left", "down", "up")``.
    """

    clips: np.ndarray
    labels: np.ndarray
    positions: np.ndarray
    speeds: np.ndarray
    class_names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.clips)


def _stamp(kind: str, width: int) -> np.ndarray:
    """A boolean ``(width, width)`` mask of the shape, centred."""
    r = np.arange(width) - (width - 1) / 2
    rows, cols = np.meshgrid(r, r, indexing="ij")
    if kind == "disc":
        return rows ** 2 + cols ** 2 <= ((width - 1) / 2 + 0.3) ** 2
    if kind == "square":
        return np.ones((width, width), dtype=bool)
    return (np.abs(rows) < 0.75) | (np.abs(cols) < 0.75)  # plus


def make_motion_clips(n: int, *, frames: int = 8, size: int = 16, noise: float = 0.1, seed: int = 0) -> ClipData:
    """Generate ``n`` clips of a shape moving right, left, down or up (see the module docstring).

    Args:
        n: number of clips (> 0).
        frames: ``T``, frames per clip (>= 2).
        size: ``H = W``, the side of each frame in pixels (8..128).
        noise: standard deviation of the Gaussian pixel noise (values are clipped to [0, 1]).
        seed: clip ``i`` depends only on ``(seed, i)``.

    Returns:
        :class:`ClipData`; clip ``i`` has label ``i % 4``.
    """
    n = check_positive_int("n", n)
    frames = check_int("frames", frames, minimum=2)
    size = check_int("size", size, minimum=8, maximum=128)
    noise = check_float("noise", noise, minimum=0)
    seed = check_seed("seed", seed)
    clips = np.empty((n, frames, size, size, 1), dtype=np.float32)
    labels = (np.arange(n) % len(CLASS_NAMES)).astype(np.int32)
    positions = np.empty((n, frames, 2), dtype=np.int32)
    speeds = np.empty(n, dtype=np.int32)
    for i in range(n):
        rng = np.random.default_rng((seed, i, 1913))
        width = int(rng.integers(3, 6))
        stamp = _stamp(SHAPES[rng.integers(len(SHAPES))], width)
        brightness = rng.uniform(0.6, 1.0)
        background = rng.uniform(0.0, 0.3)
        speed = int(rng.integers(1, 3))
        start = rng.integers(0, size, size=2)
        step = np.array(DIRECTIONS[labels[i]]) * speed
        # the shape drawn at the top-left corner, its centre at (c, c); np.roll moves it with wrap-around
        canvas = np.zeros((size, size), dtype=bool)
        canvas[:width, :width] = stamp
        centre = (width - 1) // 2
        for t in range(frames):
            row, col = (start + t * step) % size
            mask = np.roll(canvas, (row - centre, col - centre), axis=(0, 1))
            frame = np.where(mask, brightness, background) + rng.normal(0.0, noise, size=(size, size))
            clips[i, t, :, :, 0] = np.clip(frame, 0.0, 1.0)
            positions[i, t] = row, col
        speeds[i] = speed
    return ClipData(clips=clips, labels=labels, positions=positions, speeds=speeds, class_names=CLASS_NAMES)


__all__ = ["CLASS_NAMES", "ClipData", "make_motion_clips"]
