"""Two CIFAR-like classification worlds of textured shapes on clutter (32×32 RGB, 10 classes).

Harder than digits, and free: one object per image, tilted (up to ±30°), scaled, placed and
coloured at random, possibly filled with a texture, on a cluttered background (a colour
gradient and distractor strokes, some drawn over the object), with pixel noise. A small
CNN learns either world well above chance in a few epochs (about 70 % after six epochs on
5,000 images, chance being 10 %), but not perfectly.

Two worlds share the look but not the classes, for transfer-learning experiments
(pre-train on one, fine-tune on the other):

``"shapes"``
    the class is the outline: circle, square, triangle, star, cross, ring, ellipse,
    rectangle, semicircle, crescent; texture and colour vary freely.
``"textures"``
    the class is texture × outline: {solid, stripes, checker, dots, rings} ×
    {circle, square}; colour varies freely.

Example::

    >>> from cnncourse.data import load_shape_classes
    >>> (x_train, y_train), (x_val, y_val), (x_test, y_test) = load_shape_classes("shapes")
    >>> x_train.shape, x_train.dtype
    ((5000, 32, 32, 3), dtype('float32'))
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnncourse.data import _draw
from cnncourse._validation import check_bool, check_choice, check_int, check_positive_int, check_seed
from cnncourse.data.splits import ArraySplit, Splits, to_dataset

_SHAPES_WORLD = ("circle", "square", "triangle", "star", "cross", "ring", "ellipse", "rectangle", "semicircle", "crescent")
_TEXTURE_OUTLINES = ("circle", "square")

#: The classes of each world, in label order: ``(outline, texture or None)``.
WORLDS: dict[str, tuple[tuple[str, str | None], ...]] = {
    "shapes": tuple((shape, None) for shape in _SHAPES_WORLD),
    "textures": tuple((shape, texture) for texture in _draw.TEXTURE_NAMES for shape in _TEXTURE_OUTLINES),
}


def class_names(world: str) -> tuple[str, ...]:
    """Names of the classes of ``world``, in label order (e.g. ``'striped circle'``)."""
    check_choice("world", world, WORLDS, "world")
    adjective = {"solid": "solid", "stripes": "striped", "checker": "checkered", "dots": "dotted", "rings": "ringed"}
    return tuple(shape if texture is None else f"{adjective[texture]} {shape}" for shape, texture in WORLDS[world])


@dataclass(frozen=True, eq=False)
class ShapeClassData:
    """Images of a classification world.

    Attributes:
        images: uint8 ``(N, S, S, 3)`` RGB.
        labels: int32 ``(N,)``, index into ``class_names``; image ``i`` has label
            ``i % num_classes`` (balanced classes; shuffle before training).
        class_names: the world's class names.
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.images)


#: How hard the worlds are. Tuned so that a small CNN (Conv32-Pool-Conv64-Pool-Dense128)
#: trained on 5,000 images reaches about 70 % validation accuracy after six epochs (chance:
#: 10 %), with training accuracy pulling ahead: room left for augmentation, regularisation
#: and better architectures. Objects stay roughly upright (±30°), as in photos, so that
#: rotation augmentation has something to teach.
_CONTRAST = (100.0, 200.0)  # colour distance object / background, 0..255 units
_SOLID_SHARE = 0.8  # share of plain-coloured objects in the "shapes" world
_PERIOD = (2.5, 4.5)  # texture period in pixels (at 32 x 32)
_NOISE = (3.0, 10.0)  # pixel noise std
_BACKGROUND_STROKES = (0, 4)
_OCCLUDING_STROKES = (0, 1)
_SIZE = (0.6, 0.9)  # object size as a share of the image side
_MAX_ROTATION = np.pi / 6  # objects turn by a random angle up to this (30°), either way


def _draw_example(world: str, label: int, image_size: int, rng: np.random.Generator) -> np.ndarray:
    """One uint8 ``(S, S, 3)`` image of class ``label`` of ``world``."""
    s = image_size
    scale = s / 32.0
    outline, texture = WORLDS[world][label]
    if texture is None:
        solid = rng.uniform() < _SOLID_SHARE
        texture = "solid" if solid else _draw.TEXTURE_NAMES[1 + int(rng.integers(len(_draw.TEXTURE_NAMES) - 1))]
    image, base = _draw.clutter_background(rng, s, s, strokes=_BACKGROUND_STROKES)
    size = rng.uniform(*_SIZE) * s
    cy, cx = (s - 1) / 2 + rng.uniform(-0.15, 0.15, size=2) * s
    angle = rng.uniform(-_MAX_ROTATION, _MAX_ROTATION)
    rr, cc = _draw.shape_pixels(outline, cy, cx, size, angle, s, s)
    # Object colours: contrast with the background varies from faint to strong.
    first = _draw.distinct_colours(rng, 1, [base], min_distance=rng.uniform(*_CONTRAST))[0].astype(np.float32)
    second = _draw.distinct_colours(rng, 1, [first, base], min_distance=70)[0].astype(np.float32)
    period = rng.uniform(*_PERIOD) * scale
    second_colour = _draw.texture_mask(texture, rr, cc, cy, cx, angle, period, rng.uniform())
    image[rr, cc] = np.where(second_colour[:, None], second, first)
    _draw.add_strokes(rng, image, int(rng.integers(_OCCLUDING_STROKES[0], _OCCLUDING_STROKES[1] + 1)))
    return _draw.to_uint8(image, rng, rng.uniform(*_NOISE))


def make_shape_classes(n: int, world: str = "shapes", *, image_size: int = 32, seed: int = 0) -> ShapeClassData:
    """Generate ``n`` labelled images of a classification world.

    Args:
        n: number of images (> 0).
        world: ``"shapes"`` or ``"textures"`` (see the module docstring).
        image_size: side of the square images (16..256; default 32 as CIFAR).
        seed: image ``i`` depends only on ``(seed, i)`` (and the world and size).

    Returns:
        :class:`ShapeClassData`: images uint8 ``(n, S, S, 3)``, labels int32 ``(n,)``.
    """
    n = check_positive_int("n", n)
    check_choice("world", world, WORLDS, "world")
    image_size = check_int("image_size", image_size, minimum=16, maximum=256)
    seed = check_seed("seed", seed)
    num_classes = len(WORLDS[world])
    world_key = tuple(ord(ch) for ch in world)
    images = np.empty((n, image_size, image_size, 3), dtype=np.uint8)
    labels = (np.arange(n) % num_classes).astype(np.int32)
    for i in range(n):
        rng = np.random.default_rng((seed, i, *world_key))
        images[i] = _draw_example(world, int(labels[i]), image_size, rng)
    return ShapeClassData(images=images, labels=labels, class_names=class_names(world))


def load_shape_classes(
    world: str = "shapes",
    *,
    train_size: int = 5000,
    val_size: int = 1000,
    test_size: int = 1000,
    image_size: int = 32,
    seed: int = 0,
    as_dataset: bool = False,
    batch_size: int = 32,
) -> Splits:
    """A classification world split into train / val / test, in the conventions of :func:`load_digits`.

    The three splits are generated from different seeds, so no image is shared.

    Args:
        world: ``"shapes"`` or ``"textures"``.
        train_size, val_size, test_size: images per split (> 0).
        image_size: side of the square images (default 32).
        seed: fixes all three splits (and the shuffle order with ``as_dataset=True``).
        as_dataset: return batched, prefetched ``tf.data.Dataset`` s of ``(images, labels)``
            (train reshuffled every epoch) instead of NumPy arrays.
        batch_size: batch size of the datasets.

    Returns:
        :class:`~cnncourse.data.splits.Splits`: images float32 ``(N, S, S, 3)`` in
        ``[0, 1]``, labels int32 ``(N,)``, and the world's ``class_names``.
    """
    check_choice("world", world, WORLDS, "world")
    sizes = {
        "train_size": check_positive_int("train_size", train_size),
        "val_size": check_positive_int("val_size", val_size),
        "test_size": check_positive_int("test_size", test_size),
    }
    seed = check_seed("seed", seed)
    as_dataset = check_bool("as_dataset", as_dataset)
    batch_size = check_positive_int("batch_size", batch_size)
    parts = []
    for offset, n in enumerate(sizes.values()):
        # Seeds 3·seed, 3·seed + 1, 3·seed + 2: distinct for every split and every seed.
        data = make_shape_classes(n, world, image_size=image_size, seed=3 * seed + offset)
        images = data.images.astype(np.float32) / np.float32(255.0)
        if as_dataset:
            parts.append(to_dataset(images, data.labels, batch_size=batch_size, shuffle=offset == 0, seed=seed))
        else:
            parts.append(ArraySplit(images, data.labels))
    return Splits(*parts, class_names=class_names(world))
