"""The source task the course backbone is pre-trained on: 50 classes of textured shapes.

Each class is an outline × a texture: the 10 outlines of the ``"shapes"`` world of
:mod:`cnncourse.data.shape_classes` (circle, square, triangle, star, cross, ring, ellipse,
rectangle, semicircle, crescent) × the 5 textures of :mod:`cnncourse.data._draw` (solid,
stripes, checker, dots, rings). Colours, size (60–90 % of the side), position, tilt
(±30°), background clutter, occluding strokes and pixel noise are random, drawn with the same
recipe as :func:`cnncourse.data.make_shape_classes`, so a network that solves it has to see
both edges / outlines (deep, global) and textures (local, fine).

Larger than either world of :mod:`cnncourse.data.shape_classes` (50 classes rather than 10) so
that pre-training learns general features, and different from every target task of the
course (real faces, handwritten digits), so transfer is real transfer.

Example::

    >>> from cnncourse.transfer import make_source_data
    >>> images, labels = make_source_data(100, seed=0)
    >>> images.shape, images.dtype, labels[:3]
    ((100, 32, 32, 3), dtype('float32'), array([0, 1, 2], dtype=int32))
"""

from __future__ import annotations

import numpy as np

from cnncourse._validation import check_int, check_positive_int, check_seed
from cnncourse.data import _draw

OUTLINES = ("circle", "square", "triangle", "star", "cross", "ring", "ellipse", "rectangle", "semicircle", "crescent")
TEXTURES = _draw.TEXTURE_NAMES  # ("solid", "stripes", "checker", "dots", "rings")

#: ``(outline, texture)`` of every class, in label order: label = outline_index · 5 + texture_index.
SOURCE_CLASSES: tuple[tuple[str, str], ...] = tuple((o, t) for o in OUTLINES for t in TEXTURES)
_ADJECTIVE = {"solid": "solid", "stripes": "striped", "checker": "checkered", "dots": "dotted", "rings": "ringed"}
#: Names of the 50 classes, e.g. ``"striped star"``.
SOURCE_CLASS_NAMES: tuple[str, ...] = tuple(f"{_ADJECTIVE[t]} {o}" for o, t in SOURCE_CLASSES)
NUM_SOURCE_CLASSES = len(SOURCE_CLASSES)

_CONTRAST = (100.0, 200.0)  # colour distance object / background, 0..255 units
_PERIOD = (2.5, 4.5)  # texture period in pixels at 32 x 32
_NOISE = (3.0, 10.0)  # pixel noise std
_BACKGROUND_STROKES = (0, 4)
_OCCLUDING_STROKES = (0, 1)
_SIZE = (0.6, 0.9)  # object size as a share of the image side
_MAX_ROTATION = np.pi / 6
_WORLD_KEY = tuple(ord(ch) for ch in "transfer-source")


def _draw_example(label: int, s: int, rng: np.random.Generator) -> np.ndarray:
    """One uint8 ``(s, s, 3)`` image of source class ``label``."""
    outline, texture = SOURCE_CLASSES[label]
    image, base = _draw.clutter_background(rng, s, s, strokes=_BACKGROUND_STROKES)
    size = rng.uniform(*_SIZE) * s
    cy, cx = (s - 1) / 2 + rng.uniform(-0.15, 0.15, size=2) * s
    angle = rng.uniform(-_MAX_ROTATION, _MAX_ROTATION)
    rr, cc = _draw.shape_pixels(outline, cy, cx, size, angle, s, s)
    first = _draw.distinct_colours(rng, 1, [base], min_distance=rng.uniform(*_CONTRAST))[0].astype(np.float32)
    second = _draw.distinct_colours(rng, 1, [first, base], min_distance=70)[0].astype(np.float32)
    period = rng.uniform(*_PERIOD) * s / 32.0
    second_colour = _draw.texture_mask(texture, rr, cc, cy, cx, angle, period, rng.uniform())
    image[rr, cc] = np.where(second_colour[:, None], second, first)
    _draw.add_strokes(rng, image, int(rng.integers(_OCCLUDING_STROKES[0], _OCCLUDING_STROKES[1] + 1)))
    return _draw.to_uint8(image, rng, rng.uniform(*_NOISE))


def make_source_data(n: int, *, seed: int = 0, image_size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Generate ``n`` images of the source task (about 1 ms per image at 32 × 32).

    Args:
        n: number of images (> 0); image ``i`` has label ``i % 50`` (balanced; shuffle before
            training).
        seed: image ``i`` depends only on ``(seed, i)``: the same call gives the same images.
        image_size: side of the square images (16..256; the backbone expects 32).

    Returns:
        ``(images, labels)``: float32 ``(n, S, S, 3)`` RGB in ``[0, 1]`` and int32 ``(n,)`` in
        ``0..49`` (see :data:`SOURCE_CLASS_NAMES`).
    """
    n = check_positive_int("n", n)
    seed = check_seed("seed", seed)
    image_size = check_int("image_size", image_size, minimum=16, maximum=256)
    images = np.empty((n, image_size, image_size, 3), dtype=np.uint8)
    labels = (np.arange(n) % NUM_SOURCE_CLASSES).astype(np.int32)
    for i in range(n):
        rng = np.random.default_rng((seed, i, *_WORLD_KEY))
        images[i] = _draw_example(int(labels[i]), image_size, rng)
    return images.astype(np.float32) / np.float32(255.0), labels
