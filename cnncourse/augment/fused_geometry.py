"""Deck 003's geometric augmentation with one resampling per image: :class:`FusedRandomAffine`.

The teaching pipeline (:func:`cnncourse.augment.deck_generator_layers`) chains five Keras
layers, ``RandomRotation``, ``RandomTranslation``, ``RandomShear``, ``RandomZoom`` and
``RandomFlip``; each one builds a 3×3 map from *output* pixel to *input* pixel and resamples
the whole batch with it, five resamplings in all. :class:`FusedRandomAffine` draws the same
parameters from the same distributions, multiplies the five maps into one, resamples once
and then applies the channel shift (as :class:`~cnncourse.augment.RandomChannelShift`).

The maps (pixel coordinates ``x`` right, ``y`` down, ``W``, ``H`` the image size,
``c = ((W - 1) / 2, (H - 1) / 2)`` the centre), each exactly as the Keras 3 layer builds it:

=================  ===========================================  ==================================
component          parameter drawn per image                    output → input map
=================  ===========================================  ==================================
rotation           ``θ ~ U(-360·f, 360·f)`` degrees             rotation by ``θ`` about ``c``
translation        ``dx ~ U(-fw, fw)·W``, ``dy ~ U(-fh, fh)·H``  ``(x - dx, y - dy)``
shear              ``sx ~ U(-s, s)`` (``sy = 0``)                ``(x + sx·y, y)`` (about the corner,
                                                                as ``RandomShear``)
zoom               ``zx, zy ~ 1 + U(low, high)`` independently  scale by ``(zx, zy)`` about ``c``
flip               ``flip = U(0, 1) <= 0.5``                    ``(W - 1 - x, y)``
channel shift      ``u ~ U(-k, k)`` per image                   ``clip(out + u, min(out), max(out))``
=================  ===========================================  ==================================

The layers run in that order on the image, so an output pixel ``p`` reads the input at
``R · T · S · Z · F · p`` (the rotation's map is applied last to the coordinates); that one
matrix is what :func:`compose_transforms` returns. The parameters are in the converted
units of :func:`cnncourse.augment.deck_layer_arguments`, whose dict can be passed directly:
``FusedRandomAffine(**deck_layer_arguments())``.

What differs from the five layers: the image is resampled once, so it stays sharper
(like the legacy generator, which also composes one affine map), and the ``fill_mode``
is applied once, to the composed map, instead of after every layer (pixels that one layer
moved outside and a later layer brought back are read from the original image, not from
the edge filled in between).

Two resamplers give the same pixels (bilinear or nearest, as ``ImageProjectiveTransformV3``
defines them: the coordinate is mapped by the fill mode, then interpolated):

- ``"gather"``: four gathers per output pixel, compiled with XLA (``jit_compile=True``);
  fill modes ``"nearest"`` and ``"constant"``. The fastest on a CPU, and it compiles inside
  a ``jit_compile=True`` model.
- ``"projective_op"``: ``tf.raw_ops.ImageProjectiveTransformV3``, the op the Keras layers use;
  all four fill modes, but TensorFlow has no XLA kernel for it (a ``jit_compile=True``
  function that contains it fails to compile), and on a CPU it is about 2.8× slower
  (32 images of 224×224 on two cores: 160 ms against 57 ms).

Example::

    >>> import numpy as np
    >>> from cnncourse.augment import FusedRandomAffine, deck_layer_arguments
    >>> layer = FusedRandomAffine(**deck_layer_arguments(), seed=0)
    >>> layer(np.random.rand(2, 32, 32, 3).astype("float32"), training=True).shape
    TensorShape([2, 32, 32, 3])
"""

from __future__ import annotations

import functools
import math

import keras

from cnncourse._validation import (check_bool, check_choice, check_float, check_float_range, check_image_shape,
                                   check_seed)
from cnncourse.augment._seeds import _tf
from cnncourse.augment.warp import projective_warp

FILL_MODES = ("nearest", "reflect", "wrap", "constant")
GATHER_FILL_MODES = ("nearest", "constant")
INTERPOLATIONS = ("bilinear", "nearest")
RESAMPLERS = ("gather", "projective_op")
#: The keys of the parameter dict (:meth:`FusedRandomAffine.sample_parameters`).
PARAMETER_KEYS = ("angle", "translation", "shear", "zoom", "flip", "channel_shift")


def _matrix(tf, rows):
    """``(B, 3, 3)`` float32 matrices from nine ``(B,)`` entries (row-major)."""
    return tf.reshape(tf.stack(rows, axis=-1), (-1, 3, 3))


def component_matrices(parameters: dict, height, width) -> list:
    """The ``(B, 3, 3)`` output → input maps of the components present in ``parameters``.

    Args:
        parameters: any of ``"angle"`` ``(B,)`` degrees, ``"translation"`` ``(B, 2)`` pixels
            ``(dx, dy)``, ``"shear"`` ``(B, 2)`` ``(sx, sy)``, ``"zoom"`` ``(B, 2)`` ``(zx, zy)``,
            ``"flip"`` ``(B,)`` bool (Keras layers' shapes ``(B, 1)``, ``(B, 1, 1, 1)`` are
            accepted too).
        height, width: image size in pixels.

    Returns:
        The matrices in the order rotation, translation, shear, zoom, flip (missing
        components left out).
    """
    tf = _tf()
    w = tf.cast(width, tf.float32)
    h = tf.cast(height, tf.float32)
    cx, cy = 0.5 * (w - 1.0), 0.5 * (h - 1.0)
    matrices = []

    def entries(key, columns):
        value = tf.cast(tf.convert_to_tensor(parameters[key]), tf.float32)
        value = tf.reshape(value, (tf.shape(value)[0], -1))
        if value.shape[-1] is not None and value.shape[-1] != columns:
            raise ValueError(f"parameters[{key!r}] must have {columns} value(s) per image, got shape {value.shape}")
        return [value[:, i] for i in range(columns)]

    if parameters.get("angle") is not None:
        (angle,) = entries("angle", 1)
        theta = angle * (math.pi / 180.0)
        cos, sin = tf.cos(theta), tf.sin(theta)
        one, zero = tf.ones_like(cos), tf.zeros_like(cos)
        matrices.append(_matrix(tf, [cos, -sin, cx - cx * cos + cy * sin,
                                     sin, cos, cy - cx * sin - cy * cos,
                                     zero, zero, one]))  # fmt: skip
    if parameters.get("translation") is not None:
        dx, dy = entries("translation", 2)
        one, zero = tf.ones_like(dx), tf.zeros_like(dx)
        matrices.append(_matrix(tf, [one, zero, -dx, zero, one, -dy, zero, zero, one]))
    if parameters.get("shear") is not None:
        sx, sy = entries("shear", 2)
        one, zero = tf.ones_like(sx), tf.zeros_like(sx)
        matrices.append(_matrix(tf, [one, sx, zero, sy, one, zero, zero, zero, one]))
    if parameters.get("zoom") is not None:
        zx, zy = entries("zoom", 2)
        one, zero = tf.ones_like(zx), tf.zeros_like(zx)
        matrices.append(_matrix(tf, [zx, zero, cx * (1.0 - zx), zero, zy, cy * (1.0 - zy), zero, zero, one]))
    if parameters.get("flip") is not None:
        (flip,) = entries("flip", 1)
        sign = 1.0 - 2.0 * flip  # -1 where flipped
        one, zero = tf.ones_like(sign), tf.zeros_like(sign)
        matrices.append(_matrix(tf, [sign, zero, flip * (w - 1.0), zero, one, zero, zero, zero, one]))
    return matrices


def compose_transforms(parameters: dict, height, width, batch_size=None):
    """The one output → input map of all components, as ``ImageProjectiveTransformV3`` reads it.

    Args:
        parameters, height, width: as :func:`component_matrices`.
        batch_size: needed only when ``parameters`` holds no geometric component.

    Returns:
        float32 ``(B, 8)``: ``[a0, a1, a2, b0, b1, b2, c0, c1]``, the output pixel ``(x, y)``
        reads the input at ``((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k)``,
        ``k = c0 x + c1 y + 1`` (``R · T · S · Z · F``, see the module's docstring).
    """
    tf = _tf()
    matrices = component_matrices(parameters, height, width)
    if not matrices:
        if batch_size is None:
            raise ValueError("batch_size is needed when parameters hold no geometric component")
        return tf.tile(tf.constant([[1.0, 0, 0, 0, 1.0, 0, 0, 0]]), [batch_size, 1])
    total = matrices[0]
    for matrix in matrices[1:]:
        total = tf.matmul(total, matrix)
    total = total / total[:, 2:3, 2:3]
    return tf.reshape(total, (-1, 9))[:, :8]


def _channel_shift(tf, images, shift):
    """Add ``shift[i]`` to image ``i`` and clip it to its own ``[min, max]`` (the legacy rule)."""
    low = tf.reduce_min(images, axis=(1, 2, 3), keepdims=True)
    high = tf.reduce_max(images, axis=(1, 2, 3), keepdims=True)
    return tf.clip_by_value(images + shift[:, None, None, None], low, high)


@functools.cache
def _gather_kernel(fill_mode, interpolation, shifted):
    """One XLA-compiled function: resample (+ channel shift) a float32 batch."""
    tf = _tf()

    def kernel(images, transforms, fill_value, shift):
        out = projective_warp(images, transforms, fill_mode=fill_mode, fill_value=fill_value,
                              interpolation=interpolation)  # fmt: skip
        return _channel_shift(tf, out, shift) if shifted else out

    return tf.function(kernel, jit_compile=True, reduce_retracing=True)


def resample(images, transforms, *, fill_mode="nearest", fill_value=0.0, interpolation="bilinear",
             resampler="gather", channel_shift=None):  # fmt: skip
    """Resample float ``(B, H, W, C)`` images with ``(B, 8)`` output → input maps, once.

    Args:
        images: float ``(B, H, W, C)``.
        transforms: ``(B, 8)`` as :func:`compose_transforms` returns.
        fill_mode: ``"nearest"``, ``"constant"`` (both resamplers), ``"reflect"``, ``"wrap"``
            (``"projective_op"`` only).
        fill_value: the value outside the image in ``"constant"`` mode.
        interpolation: ``"bilinear"`` or ``"nearest"``.
        resampler: ``"gather"`` (XLA-compiled gathers) or ``"projective_op"``
            (``tf.raw_ops.ImageProjectiveTransformV3``).
        channel_shift: optional ``(B,)`` intensities added after resampling, each image then
            clipped to its own ``[min, max]``.

    Returns:
        float32 ``(B, H, W, C)``.
    """
    tf = _tf()
    fill_mode = check_choice("fill_mode", fill_mode, FILL_MODES, "fill mode")
    interpolation = check_choice("interpolation", interpolation, INTERPOLATIONS, "interpolation")
    resampler = check_choice("resampler", resampler, RESAMPLERS, "resampler")
    if resampler == "gather" and fill_mode not in GATHER_FILL_MODES:
        raise ValueError(
            f"fill_mode {fill_mode!r} needs resampler='projective_op' (the gather resampler has "
            f"{', '.join(map(repr, GATHER_FILL_MODES))})"
        )
    images = tf.cast(images, tf.float32)
    transforms = tf.cast(transforms, tf.float32)
    fill = tf.constant(float(fill_value), tf.float32)
    if resampler == "gather":
        shift = tf.zeros((0,)) if channel_shift is None else tf.cast(channel_shift, tf.float32)
        return _gather_kernel(fill_mode, interpolation, channel_shift is not None)(images, transforms, fill, shift)
    out = tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=transforms, output_shape=tf.shape(images)[1:3], fill_value=fill,
        interpolation=interpolation.upper(), fill_mode=fill_mode.upper(),
    )  # fmt: skip
    return out if channel_shift is None else _channel_shift(tf, out, tf.cast(channel_shift, tf.float32))


@keras.saving.register_keras_serializable(package="cnncourse")
class FusedRandomAffine(keras.layers.Layer):
    """Random rotation, shift, shear, zoom and flip as one resampling, then a channel shift.

    The parameters are in the units of :func:`cnncourse.augment.deck_layer_arguments` (so
    ``FusedRandomAffine(**deck_layer_arguments())`` is deck 003's generator) and are drawn as
    the Keras 3 layers draw them (table in :mod:`cnncourse.augment.fused_geometry`).

    Input / output: float ``(batch, H, W, C)`` (or ``(H, W, C)``); float inputs keep their
    dtype (float16 under ``mixed_float16``), integer inputs come out as float32 in the same
    units. Identity with ``training=False``.

    Args:
        rotation: ``RandomRotation``'s factor, a fraction of a full turn in ``[0, 0.5]``.
        translation: ``(height_factor, width_factor)`` of ``RandomTranslation``, fractions of the size.
        shear: ``RandomShear``'s ``x_factor`` in ``[0, 1]`` (the matrix entry ``x += sx·y``).
        zoom: ``(low, high)`` of ``RandomZoom`` for both axes (drawn independently), in ``(-1, 1]``.
        flip: random horizontal flip (half of the images).
        channel_shift: ``RandomChannelShift``'s factor, in image units.
        fill_mode: ``"nearest"``, ``"constant"``, ``"reflect"`` or ``"wrap"``.
        fill_value: the value outside the image in ``"constant"`` mode.
        interpolation: ``"bilinear"`` or ``"nearest"``.
        resampler: ``"gather"`` (XLA, the default where the fill mode allows) or ``"projective_op"``.
        seed: seed of the layer's random generator.
    """

    def __init__(self, rotation=0.0, translation=(0.0, 0.0), shear=0.0, zoom=(0.0, 0.0), flip=False,
                 channel_shift=0.0, fill_mode="nearest", fill_value=0.0, interpolation="bilinear",
                 resampler=None, seed=None, **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        self.rotation = check_float("rotation", rotation, minimum=0.0, maximum=0.5)
        self.translation = check_float_range("translation", translation, minimum=0.0, maximum=1.0)
        self.shear = check_float("shear", shear, minimum=0.0, maximum=1.0)
        self.zoom = check_float_range("zoom", zoom, minimum=-1.0, maximum=1.0)
        if self.zoom[0] <= -1.0:
            raise ValueError(f"zoom[0] must be > -1 (a zoom factor 1 + zoom[0] > 0), got {self.zoom[0]}")
        self.flip = check_bool("flip", flip)
        self.channel_shift = check_float("channel_shift", channel_shift, minimum=0.0)
        self.fill_mode = check_choice("fill_mode", fill_mode, FILL_MODES, "fill mode")
        self.fill_value = check_float("fill_value", fill_value)
        self.interpolation = check_choice("interpolation", interpolation, INTERPOLATIONS, "interpolation")
        if resampler is None:
            resampler = "gather" if self.fill_mode in GATHER_FILL_MODES else "projective_op"
        self.resampler = check_choice("resampler", resampler, RESAMPLERS, "resampler")
        if self.resampler == "gather" and self.fill_mode not in GATHER_FILL_MODES:
            raise ValueError(f"fill_mode {self.fill_mode!r} needs resampler='projective_op', got resampler='gather'")
        self.seed = None if seed is None else check_seed("seed", seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed)
        self.supports_masking = False

    def build(self, input_shape):
        shape = tuple(input_shape)
        if len(shape) == 3:
            shape = (None,) + shape
        check_image_shape(type(self).__name__, shape)

    def sample_parameters(self, batch_size, height, width) -> dict:
        """Draw one set of parameters per image (the dict :func:`compose_transforms` reads).

        Returns:
            ``{"angle": (B,) degrees, "translation": (B, 2) pixels (dx, dy), "shear": (B, 2),
            "zoom": (B, 2) (zx, zy), "flip": (B,) bool, "channel_shift": (B,)}``, components
            with a zero range left out.
        """
        ops, rand, seed = keras.ops, keras.random, self.seed_generator
        shape = (batch_size,)
        parameters = {}
        if self.rotation > 0:
            degrees = 360.0 * self.rotation
            parameters["angle"] = rand.uniform(shape, -degrees, degrees, seed=seed)
        if max(self.translation) > 0:
            fh, fw = self.translation
            dy = rand.uniform(shape, -fh, fh, seed=seed) * ops.cast(height, "float32")
            dx = rand.uniform(shape, -fw, fw, seed=seed) * ops.cast(width, "float32")
            parameters["translation"] = ops.stack([dx, dy], axis=-1)
        if self.shear > 0:
            sx = rand.uniform(shape, -self.shear, self.shear, seed=seed)
            parameters["shear"] = ops.stack([sx, ops.zeros_like(sx)], axis=-1)
        if self.zoom != (0.0, 0.0):
            low, high = 1.0 + self.zoom[0], 1.0 + self.zoom[1]
            zx = rand.uniform(shape, low, high, seed=seed) if low < high else ops.full(shape, low)
            zy = rand.uniform(shape, low, high, seed=seed) if low < high else ops.full(shape, low)
            parameters["zoom"] = ops.stack([zx, zy], axis=-1)
        if self.flip:
            parameters["flip"] = ops.less_equal(rand.uniform(shape, seed=seed), 0.5)
        if self.channel_shift > 0:
            parameters["channel_shift"] = rand.uniform(shape, -self.channel_shift, self.channel_shift, seed=seed)
        return parameters

    def transform_images(self, images, parameters: dict):
        """Apply given parameters (from :meth:`sample_parameters` or a Keras layer) to a batch.

        Args:
            images: ``(B, H, W, C)``.
            parameters: the dict of :meth:`sample_parameters` (any subset of its keys).

        Returns:
            float32 ``(B, H, W, C)``.
        """
        tf = _tf()
        unknown = sorted(set(parameters) - set(PARAMETER_KEYS))
        if unknown:
            raise ValueError(f"parameters has unknown keys {unknown}; expected some of {list(PARAMETER_KEYS)}")
        images = tf.convert_to_tensor(images)
        shape = tf.shape(images)
        geometric = {key: value for key, value in parameters.items() if key != "channel_shift"}
        shift = parameters.get("channel_shift")
        if not geometric:
            out = tf.cast(images, tf.float32)
            return out if shift is None else _channel_shift(tf, out, tf.cast(shift, tf.float32))
        transforms = compose_transforms(geometric, shape[1], shape[2])
        return resample(images, transforms, fill_mode=self.fill_mode, fill_value=self.fill_value,
                        interpolation=self.interpolation, resampler=self.resampler, channel_shift=shift)  # fmt: skip

    def call(self, inputs, training=True):
        tf = _tf()
        if not training:
            return inputs
        x = tf.convert_to_tensor(inputs)
        unbatched = x.shape.rank == 3
        if unbatched:
            x = x[None]
        shape = tf.shape(x)
        out = self.transform_images(x, self.sample_parameters(shape[0], shape[1], shape[2]))
        out = tf.cast(out, x.dtype if x.dtype.is_floating else self.compute_dtype)
        return out[0] if unbatched else out

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            rotation=self.rotation, translation=self.translation, shear=self.shear, zoom=self.zoom,
            flip=self.flip, channel_shift=self.channel_shift, fill_mode=self.fill_mode,
            fill_value=self.fill_value, interpolation=self.interpolation, resampler=self.resampler,
            seed=self.seed,
        )  # fmt: skip
        return config
