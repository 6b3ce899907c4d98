"""Deck 003's ``ImageDataGenerator`` rebuilt from Keras 3 preprocessing layers in ``tf.data``.

Deck 003 augments with::

    ImageDataGenerator(rescale=1. / 255, rotation_range=40, width_shift_range=0.2,
                       height_shift_range=0.2, shear_range=0.2, zoom_range=0.2,
                       horizontal_flip=True, channel_shift_range=9, fill_mode='nearest')

The legacy generator transforms one image at a time in Python (NumPy + SciPy). Here each
argument becomes a Keras 3 layer that transforms a whole *batch* at once, inside a
``tf.data`` pipeline that maps batches in parallel and prefetches. The arguments keep the
deck's names and units and are converted (:func:`deck_layer_arguments` shows how):

================================  ==============================================================
legacy argument (deck value)      Keras 3 layer
================================  ==============================================================
``rotation_range=40`` (degrees)   ``RandomRotation(40 / 360)`` (Keras: fraction of a full turn)
``width_shift_range=0.2``         ``RandomTranslation(width_factor=0.2)`` (fraction of the width)
``height_shift_range=0.2``        ``RandomTranslation(height_factor=0.2)``
``shear_range=0.2`` (degrees!)    ``RandomShear(x_factor=sin(0.2°) ≈ 0.0035)``: the legacy docs
                                  give the shear *angle in degrees*; Keras's factor is the
                                  matrix entry ``x += k·y`` (legacy uses ``-sin(θ)``)
``zoom_range=0.2``                ``RandomZoom(height_factor=(-0.2, 0.2), width_factor=(-0.2, 0.2))``:
                                  legacy draws x and y zoom in ``[0.8, 1.2]`` independently
``horizontal_flip=True``          ``RandomFlip("horizontal")``
``channel_shift_range=9``         :class:`~cnncourse.augment.RandomChannelShift` ``(9 / 255)`` on
                                  ``[0, 1]`` images (legacy shifts raw 0..255 pixels)
``fill_mode='nearest'``           ``fill_mode="nearest"`` of every geometric layer
``rescale=1/255``                 the pipeline's input: uint8 images become float32 in ``[0, 1]``
================================  ==============================================================

One difference stays: the legacy generator composes all geometric changes into one affine
map and resamples once; the layers resample once per layer (slightly softer images, and
five resamplings' time). ``deck_generator_layers(fused=True)`` is the fast path: one
:class:`~cnncourse.augment.FusedRandomAffine` layer draws the same parameters from the same
distributions, composes the five maps into one matrix per image and resamples once
(:mod:`cnncourse.augment.fused_geometry` documents the equivalence); it is what
:func:`augmented_dataset` uses by default. The five layers stay the teaching version.
"""

from __future__ import annotations

import math

import numpy as np

from cnncourse._validation import (
    check_array,
    check_bool,
    check_choice,
    check_float,
    check_positive_int,
    check_seed,
)

#: The deck-003 generator's arguments (rescale apart), in the legacy units.
DECK_003_ARGUMENTS = {
    "rotation_range": 40,
    "width_shift_range": 0.2,
    "height_shift_range": 0.2,
    "shear_range": 0.2,
    "zoom_range": 0.2,
    "horizontal_flip": True,
    "channel_shift_range": 9,
    "fill_mode": "nearest",
}
FILL_MODES = ("nearest", "reflect", "wrap", "constant")


def deck_layer_arguments(
    rotation_range: float = 40,
    width_shift_range: float = 0.2,
    height_shift_range: float = 0.2,
    shear_range: float = 0.2,
    zoom_range: float = 0.2,
    horizontal_flip: bool = True,
    channel_shift_range: float = 9,
    fill_mode: str = "nearest",
    pixel_scale: float = 255.0,
) -> dict:
    """The legacy arguments converted to the Keras 3 layers' units.

    Args:
        rotation_range: degrees (uniform in ``±rotation_range``).
        width_shift_range, height_shift_range: fractions of the width / height.
        shear_range: shear angle in degrees (as the legacy generator reads it).
        zoom_range: zoom factors in ``[1 - z, 1 + z]``, x and y drawn independently.
        horizontal_flip: flip left-right half of the time.
        channel_shift_range: in raw pixel units (0..``pixel_scale``).
        fill_mode: ``"nearest"``, ``"reflect"``, ``"wrap"`` or ``"constant"``.
        pixel_scale: raw pixel maximum the images were divided by (255 for ``rescale=1/255``).

    Returns:
        ``{"rotation": factor, "translation": (height_factor, width_factor), "shear": x_factor,
        "zoom": (low, high), "flip": bool, "channel_shift": factor, "fill_mode": str}`` in
        Keras's units (fractions of a turn, of the size, matrix entries, image units).
    """
    rotation_range = check_float("rotation_range", rotation_range, minimum=0.0, maximum=180.0)
    width_shift_range = check_float("width_shift_range", width_shift_range, minimum=0.0, maximum=1.0)
    height_shift_range = check_float("height_shift_range", height_shift_range, minimum=0.0, maximum=1.0)
    shear_range = check_float("shear_range", shear_range, minimum=0.0, maximum=89.0)
    zoom_range = check_float("zoom_range", zoom_range, minimum=0.0, maximum=1.0, include_maximum=False)
    pixel_scale = check_float("pixel_scale", pixel_scale, minimum=0.0, include_minimum=False)
    return {
        "rotation": rotation_range / 360.0,
        "translation": (height_shift_range, width_shift_range),
        "shear": math.sin(math.radians(shear_range)),
        "zoom": (-zoom_range, zoom_range),
        "flip": check_bool("horizontal_flip", horizontal_flip),
        "channel_shift": check_float("channel_shift_range", channel_shift_range, minimum=0.0) / pixel_scale,
        "fill_mode": check_choice("fill_mode", fill_mode, FILL_MODES, "fill mode"),
    }


def deck_generator_layers(seed: int = 0, fused: bool = False, **legacy_arguments):
    """The deck-003 generator as a ``keras.Sequential`` of preprocessing layers, or as one fused layer.

    Args:
        seed: base seed; layer ``k`` gets ``seed + k`` (the fused layer gets ``seed``).
        fused: return one :class:`~cnncourse.augment.FusedRandomAffine` (one resampling per
            image, same parameter distributions) instead of the five Keras layers + channel shift.
        **legacy_arguments: any argument of :func:`deck_layer_arguments` (default: the deck's).

    Returns:
        ``keras.Sequential`` (or the fused layer) mapping float ``(B, H, W, C)`` images in
        ``[0, 1]`` to augmented images of the same shape (identity with ``training=False``);
        layers with a zero range are left out.
    """
    import keras

    from cnncourse.augment.channel_shift import RandomChannelShift

    seed = check_seed("seed", seed)
    arguments = deck_layer_arguments(**legacy_arguments)
    if check_bool("fused", fused):
        from cnncourse.augment.fused_geometry import FusedRandomAffine

        return FusedRandomAffine(**arguments, seed=seed, name="deck_003_fused")
    fill = arguments["fill_mode"]
    L = keras.layers
    layers = []
    if arguments["rotation"] > 0:
        layers.append(L.RandomRotation(arguments["rotation"], fill_mode=fill, seed=seed + len(layers)))
    if max(arguments["translation"]) > 0:
        height, width = arguments["translation"]
        layers.append(L.RandomTranslation(height, width, fill_mode=fill, seed=seed + len(layers)))
    if arguments["shear"] > 0:
        layers.append(L.RandomShear(x_factor=arguments["shear"], y_factor=0.0, fill_mode=fill, seed=seed + len(layers)))
    if arguments["zoom"][1] > 0:
        layers.append(L.RandomZoom(arguments["zoom"], arguments["zoom"], fill_mode=fill, seed=seed + len(layers)))
    if arguments["flip"]:
        layers.append(L.RandomFlip("horizontal", seed=seed + len(layers)))
    if arguments["channel_shift"] > 0:
        layers.append(RandomChannelShift(arguments["channel_shift"], seed=seed + len(layers)))
    return keras.Sequential(layers, name="deck_003_generator")


def augmented_dataset(
    images,
    labels=None,
    *,
    layers=None,
    batch_size: int = 32,
    shuffle: bool = True,
    repeat: bool = False,
    seed: int = 0,
    parallel: bool = True,
    fused: bool = True,
):
    """A ``tf.data`` pipeline that augments whole batches in parallel and prefetches.

    The images stay in memory as given (uint8 stays uint8, a quarter of float32); each batch
    is gathered by index, converted to float32 and augmented in one map call.

    Args:
        images: ``(N, H, W, C)``, uint8 (divided by 255, the deck's ``rescale``) or float in ``[0, 1]``.
        labels: optional ``(N, ...)`` labels, passed through unchanged.
        layers: the augmentation, a Keras layer or model called with ``training=True``
            (default: :func:`deck_generator_layers` with the deck's arguments, fused or not
            as ``fused`` says).
        batch_size: images per batch.
        shuffle: reshuffle every epoch (deterministic from ``seed``).
        repeat: repeat forever (for ``steps_per_epoch`` training).
        seed: shuffle seed (and the default layers' seed).
        parallel: map several batches at once (``num_parallel_calls=AUTOTUNE``). Keras's
            random layers keep their random state in one variable, so batches mapped at the
            same time may draw in a different order from run to run; ``parallel=False``
            maps one batch at a time (each batch still uses every core, and prefetching
            still overlaps augmentation with training) and is reproducible.
        fused: with ``layers=None``, augment with the fused layer (one resampling per
            image, the fast path) instead of the five teaching layers.

    Returns:
        ``tf.data.Dataset`` of float32 ``(B, H, W, C)`` batches, or ``(images, labels)``.
    """
    from cnncourse.runtime import import_tensorflow

    tf = import_tensorflow()
    images = check_array("images", images, ndim=4, kinds="uif", what="(N, H, W, C)")
    batch_size = check_positive_int("batch_size", batch_size)
    shuffle, repeat = check_bool("shuffle", shuffle), check_bool("repeat", repeat)
    seed = check_seed("seed", seed)
    scale = images.dtype == np.uint8
    stored = tf.constant(images if scale else images.astype(np.float32))
    if labels is not None:
        labels = np.asarray(labels)
        if len(labels) != len(images):
            raise ValueError(f"labels must have one entry per image ({len(images)}), got {len(labels)}")
        stored_labels = tf.constant(labels)
    parallel = check_bool("parallel", parallel)
    calls = tf.data.AUTOTUNE if parallel else None
    fused = check_bool("fused", fused)
    layers = deck_generator_layers(seed=seed, fused=fused) if layers is None else layers

    def batch_of(indices):
        x = tf.gather(stored, indices)
        x = tf.cast(x, tf.float32) / 255.0 if scale else x
        x = layers(x, training=True)
        return x if labels is None else (x, tf.gather(stored_labels, indices))

    dataset = tf.data.Dataset.range(len(images))
    if shuffle:
        dataset = dataset.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat()
    dataset = dataset.batch(batch_size).map(batch_of, num_parallel_calls=calls)
    return dataset.prefetch(tf.data.AUTOTUNE)


def legacy_generator(**legacy_arguments):
    """Keras's legacy per-image ``ImageDataGenerator`` with the same arguments (for comparisons).

    Defaults to the deck's arguments; ``rescale`` is left out (feed it ``[0, 1]`` images
    and pass ``channel_shift_range`` already divided by 255, or raw pixels).
    """
    from keras.src.legacy.preprocessing.image import ImageDataGenerator

    arguments = dict(DECK_003_ARGUMENTS)
    arguments.update(legacy_arguments)
    return ImageDataGenerator(**arguments)
