"""Random channel shift: the ``channel_shift_range`` of Keras's legacy ``ImageDataGenerator``.

The legacy generator draws one intensity ``u ~ U(-range, range)`` per image and adds it to
every channel, then clips to the image's own ``[min, max]``; ``range`` is in the units of
the raw pixels (0..255 before ``rescale``). :class:`RandomChannelShift` does the same on a
batch, with ``factor`` in the units of the images it receives: for float images in
``[0, 1]`` the deck's ``channel_shift_range=9`` is ``factor=9 / 255``.

Example::

    >>> import numpy as np
    >>> from cnncourse.augment import RandomChannelShift
    >>> layer = RandomChannelShift(9 / 255, seed=0)
    >>> out = layer(np.full((2, 4, 4, 3), 0.5, "float32"), training=True)
    >>> out.shape
    TensorShape([2, 4, 4, 3])
"""

from __future__ import annotations

import keras

from cnncourse._validation import check_bool, check_float, check_image_shape, check_seed


@keras.saving.register_keras_serializable(package="cnncourse")
class RandomChannelShift(keras.layers.Layer):
    """Add one random intensity per image to all channels, clipped to the image's range.

    Input / output: float ``(batch, H, W, C)`` (or ``(H, W, C)``), same dtype. At inference
    (``training=False``) the layer is the identity.

    Args:
        factor: ``range`` of the uniform shift ``U(-factor, factor)``, in image units (>= 0).
        per_channel: draw one shift per channel instead of one per image (the legacy
            generator uses one per image).
        clip: clip each image to its own ``[min, max]`` as the legacy generator does.
        seed: seed of the layer's random generator.
    """

    def __init__(self, factor: float, per_channel: bool = False, clip: bool = True, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.factor = check_float("factor", factor, minimum=0.0)
        self.per_channel = check_bool("per_channel", per_channel)
        self.clip = check_bool("clip", clip)
        self.seed = None if seed is None else check_seed("seed", seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed)
        self.supports_masking = False

    def build(self, input_shape):
        shape = tuple(input_shape)
        if len(shape) == 3:
            shape = (None,) + shape
        check_image_shape(type(self).__name__, shape)

    def call(self, inputs, training=True):
        if not training or self.factor == 0.0:
            return inputs
        ops = keras.ops
        x = ops.convert_to_tensor(inputs)
        unbatched = len(x.shape) == 3
        if unbatched:
            x = ops.expand_dims(x, 0)
        batch = ops.shape(x)[0]
        channels = x.shape[-1] if self.per_channel else 1
        shift = keras.random.uniform(
            (batch, 1, 1, channels), -self.factor, self.factor, dtype="float32", seed=self.seed_generator
        )
        out = ops.cast(x, "float32") + shift
        if self.clip:
            low = ops.min(ops.cast(x, "float32"), axis=(1, 2, 3), keepdims=True)
            high = ops.max(ops.cast(x, "float32"), axis=(1, 2, 3), keepdims=True)
            out = ops.clip(out, low, high)
        out = ops.cast(out, x.dtype)
        return out[0] if unbatched else out

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(factor=self.factor, per_channel=self.per_channel, clip=self.clip, seed=self.seed)
        return config
