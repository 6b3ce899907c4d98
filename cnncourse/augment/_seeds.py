"""TensorFlow, imported on first use, and stateless seeds for the augmentation functions."""

from __future__ import annotations

from cnncourse._validation import check_seed


def _tf():
    from cnncourse.runtime import import_tensorflow

    return import_tensorflow()


def seed_pair(seed):
    """``seed`` (an int ≥ 0, or a pair of ints) as the ``(2,)`` int64 tensor stateless random ops take."""
    tf = _tf()
    if isinstance(seed, int) and not isinstance(seed, bool):
        check_seed("seed", seed)
        return tf.constant([seed, 0], tf.int64)
    seed = tf.cast(tf.convert_to_tensor(seed), tf.int64)
    if seed.shape.rank != 1 or seed.shape[0] != 2:
        raise ValueError(f"seed must be an int or a pair of ints (a stateless seed), got shape {seed.shape}")
    return seed
