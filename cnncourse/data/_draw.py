"""Rasterising shapes, textures and backgrounds with NumPy and ``skimage.draw``.

Every function works on whole pixel sets at once (no per-pixel Python loops): a shape is
turned into the row / column indices ``(rr, cc)`` of the pixels whose centres fall inside
it, clipped to the image, by scikit-image's polygon / disk / ellipse rasterisers.

Geometry: a shape of ``size`` s centred at ``(cy, cx)`` fits, unrotated, in an s × s square
(a circle has diameter s, a square side s, an equilateral triangle base s; elongated
shapes are s wide). ``angle`` (radians) rotates it about its centre.
"""

from __future__ import annotations

import numpy as np
from skimage.draw import ellipse, line, polygon

#: Every shape the generators can draw.
SHAPE_NAMES = (
    "circle",
    "square",
    "triangle",
    "diamond",
    "hexagon",
    "star",
    "cross",
    "ring",
    "ellipse",
    "rectangle",
    "semicircle",
    "crescent",
)

#: Fill patterns of the classification worlds.
TEXTURE_NAMES = ("solid", "stripes", "checker", "dots", "rings")

_SQRT3 = np.sqrt(3.0)


def _regular_polygon(sides: int, radius: float, start: float) -> np.ndarray:
    """Vertices ``(sides, 2)`` as (x, y) of a regular polygon centred at the origin."""
    theta = start + 2 * np.pi * np.arange(sides) / sides
    return np.stack([radius * np.cos(theta), radius * np.sin(theta)], axis=-1)


def _outline(kind: str, size: float) -> np.ndarray:
    """Polygon vertices ``(V, 2)`` as (x, y), y pointing down, centred at the origin."""
    h = size / 2.0
    if kind == "square":
        return np.array([[-h, -h], [h, -h], [h, h], [-h, h]])
    if kind == "rectangle":
        return np.array([[-h, -h / 2], [h, -h / 2], [h, h / 2], [-h, h / 2]])
    if kind == "triangle":
        height = size * _SQRT3 / 2
        return np.array([[0.0, -height / 2], [h, height / 2], [-h, height / 2]])
    if kind == "diamond":
        return np.array([[0.0, -h], [h, 0.0], [0.0, h], [-h, 0.0]])
    if kind == "hexagon":
        return _regular_polygon(6, h, 0.0)
    if kind == "star":
        outer = _regular_polygon(5, h, -np.pi / 2)
        inner = _regular_polygon(5, h * 0.42, -np.pi / 2 + np.pi / 5)
        return np.stack([outer, inner], axis=1).reshape(10, 2)
    if kind == "cross":
        t = size / 6.0  # half the arm width: arms are a third of the size wide
        return np.array(
            [[-t, -h], [t, -h], [t, -t], [h, -t], [h, t], [t, t], [t, h], [-t, h], [-t, t], [-h, t], [-h, -t], [-t, -t]]
        )
    if kind == "semicircle":
        theta = np.linspace(0.0, np.pi, 24)
        # A half disc of radius h, shifted so that its bounding box is centred.
        return np.stack([h * np.cos(theta), h / 2 - h * np.sin(theta)], axis=-1)
    raise ValueError(f"{kind!r} is not a polygon shape")


def fast_disk(cy: float, cx: float, radius: float, height: int, width: int):
    """Pixels ``(rr, cc)`` of a disc: the same set as ``skimage.draw.disk((cy, cx), radius, shape=(height, width))``.

    Computed only inside the disc's bounding window, which makes it several times faster
    for small discs in a large image (a test checks it against scikit-image).
    """
    top = max(0, int(np.ceil(cy - radius)))
    bottom = min(height - 1, int(np.floor(cy + radius)))
    left = max(0, int(np.ceil(cx - radius)))
    right = min(width - 1, int(np.floor(cx + radius)))
    if bottom < top or right < left:
        empty = np.zeros(0, dtype=np.intp)
        return empty, empty
    rows = np.arange(top, bottom + 1, dtype=np.float64)[:, None]
    cols = np.arange(left, right + 1, dtype=np.float64)[None, :]
    inside = ((rows - cy) / radius) ** 2 + ((cols - cx) / radius) ** 2 < 1
    rr, cc = np.nonzero(inside)
    return rr + top, cc + left


def shape_pixels(kind: str, cy: float, cx: float, size: float, angle: float, height: int, width: int):
    """Pixels ``(rr, cc)`` (int arrays) covered by one shape, clipped to the image.

    Args:
        kind: one of :data:`SHAPE_NAMES`.
        cy, cx: centre in pixel coordinates (pixel ``(r, c)`` has its centre at ``(r, c)``).
        size: extent in pixels (see the module docstring).
        angle: rotation in radians (counter-clockwise on screen).
        height, width: image size.
    """
    shape = (height, width)
    if kind == "circle":
        return fast_disk(cy, cx, size / 2.0, height, width)
    if kind == "ellipse":
        return ellipse(cy, cx, size / 4.0, size / 2.0, shape=shape, rotation=angle)
    if kind in ("ring", "crescent"):
        rr, cc = fast_disk(cy, cx, size / 2.0, height, width)
        if kind == "ring":
            keep = (rr - cy) ** 2 + (cc - cx) ** 2 > (size * 0.28) ** 2
        else:  # a disc minus a disc shifted along the rotation direction
            oy, ox = -np.sin(angle) * size * 0.3, np.cos(angle) * size * 0.3
            keep = (rr - cy - oy) ** 2 + (cc - cx - ox) ** 2 > (size * 0.42) ** 2
        return rr[keep], cc[keep]
    vertices = _outline(kind, size)
    if angle:
        cos, sin = np.cos(angle), np.sin(angle)
        # Counter-clockwise on screen, where y points down.
        vertices = vertices @ np.array([[cos, -sin], [sin, cos]])
    return polygon(vertices[:, 1] + cy, vertices[:, 0] + cx, shape=shape)


def texture_mask(kind: str, rr, cc, cy: float, cx: float, angle: float, period: float, phase: float) -> np.ndarray:
    """Which of the pixels ``(rr, cc)`` take the second colour of texture ``kind`` (bool array).

    The pattern is laid out in the shape's own rotated frame, with ``period`` pixels per
    repetition and a ``phase`` in ``[0, 1)``.
    """
    if kind == "solid":
        return np.zeros(len(rr), dtype=bool)
    y = rr - cy
    x = cc - cx
    cos, sin = np.cos(angle), np.sin(angle)
    u = (x * cos - y * sin) / period + phase
    v = (x * sin + y * cos) / period + phase
    if kind == "stripes":
        return np.floor(u).astype(int) % 2 == 1
    if kind == "checker":
        return (np.floor(u).astype(int) + np.floor(v).astype(int)) % 2 == 1
    if kind == "dots":
        fu, fv = u - np.floor(u) - 0.5, v - np.floor(v) - 0.5
        return fu**2 + fv**2 < 0.3**2
    if kind == "rings":
        return np.floor(np.hypot(x, y) / period + phase).astype(int) % 2 == 1
    raise ValueError(f"{kind!r} is not a texture")


def distinct_colours(rng: np.random.Generator, count: int, avoid, min_distance: float) -> np.ndarray:
    """``count`` random RGB colours (uint8 ``(count, 3)``), each at least ``min_distance``
    (Euclidean, 0..255 units) from the colours in ``avoid`` and from the ones before it.

    Each colour is the first of 12 random candidates that is far enough, or the candidate
    farthest from the others when none is.
    """
    candidates = rng.integers(0, 256, size=(count, 12, 3)).astype(np.float32)
    taken = [np.asarray(a, dtype=np.float32).reshape(3) for a in avoid]
    chosen = np.empty((count, 3), dtype=np.float32)
    for j in range(count):
        if taken:
            others = np.stack(taken)
            nearest = ((candidates[j][:, None, :] - others[None, :, :]) ** 2).sum(axis=-1).min(axis=1)
            far_enough = np.flatnonzero(nearest >= min_distance**2)
            pick = far_enough[0] if len(far_enough) else int(np.argmax(nearest))
        else:
            pick = 0
        chosen[j] = candidates[j, pick]
        taken.append(chosen[j])
    return chosen.astype(np.uint8)


def clutter_background(rng: np.random.Generator, height: int, width: int, strokes: tuple[int, int] = (2, 6)):
    """A float32 ``(H, W, 3)`` cluttered background and its base colour.

    A random base colour, a linear colour gradient across the image, and a few random
    straight strokes of other colours (distractors, not objects).
    """
    base = rng.integers(30, 226, size=3).astype(np.float32)
    ys = np.linspace(-0.5, 0.5, height, dtype=np.float32)[:, None, None]
    xs = np.linspace(-0.5, 0.5, width, dtype=np.float32)[None, :, None]
    slope_y, slope_x = rng.uniform(-60, 60, size=(2, 3)).astype(np.float32)
    image = base + ys * slope_y + xs * slope_x
    count = int(rng.integers(strokes[0], strokes[1] + 1))
    ends = rng.uniform(0, 1, size=(count, 4)) * [height - 1, width - 1, height - 1, width - 1]
    colours = rng.integers(0, 256, size=(count, 3)).astype(np.float32)
    for (r0, c0, r1, c1), colour in zip(ends.round().astype(int), colours):
        rr, cc = line(r0, c0, r1, c1)
        image[rr, cc] = colour
    return image, base


def add_strokes(rng: np.random.Generator, image: np.ndarray, count: int) -> None:
    """Draw ``count`` random 1-pixel strokes of random colours onto ``image`` in place."""
    height, width = image.shape[:2]
    ends = rng.uniform(0, 1, size=(count, 4)) * [height - 1, width - 1, height - 1, width - 1]
    colours = rng.integers(0, 256, size=(count, 3)).astype(np.float32)
    for (r0, c0, r1, c1), colour in zip(ends.round().astype(int), colours):
        rr, cc = line(r0, c0, r1, c1)
        image[rr, cc] = colour


def to_uint8(image: np.ndarray, rng: np.random.Generator, noise: float) -> np.ndarray:
    """Add Gaussian noise of std ``noise`` (0..255 units), round and clip to uint8."""
    if noise > 0:
        image = image + rng.normal(0.0, noise, size=image.shape).astype(np.float32)
    elif image.dtype == np.uint8:
        return image
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)
