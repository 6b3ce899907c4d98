"""Images made by gradient ascent: class-model visualisation (Simonyan et al., 2014) and DeepDream.

Both change the *input* to raise a score, with the model's weights fixed. Each step adds
``step_size · g / (std(g) + 1e-8)`` (the gradient ``g`` normalised, so that one step size
suits every model), then clips the pixels to ``value_range``.
"""

from __future__ import annotations

import numpy as np

from cnncourse._validation import check_float, check_int, check_non_negative_int, check_seed
from cnncourse.explain._common import check_images, check_layer, check_model, num_outputs, tf_module


def gaussian_blur(images, sigma: float):
    """``(N, H, W, C)`` tensor blurred per channel by a Gaussian of ``sigma`` pixels (reflect-free, zero padding)."""
    tf = tf_module()
    radius = max(1, int(round(3 * sigma)))
    t = np.arange(-radius, radius + 1, dtype=np.float32)
    g = np.exp(-0.5 * (t / sigma) ** 2)
    g /= g.sum()
    channels = int(images.shape[-1])
    kernel = tf.constant(np.tile((g[:, None] * g[None, :])[:, :, None, None], (1, 1, channels, 1)))
    return tf.nn.depthwise_conv2d(images, kernel, strides=(1, 1, 1, 1), padding="SAME")


def _check_range(value_range):
    if not isinstance(value_range, (tuple, list)) or len(value_range) != 2:
        raise TypeError(f"value_range must be (low, high), got {value_range!r}")
    low, high = (check_float("value_range", v) for v in value_range)
    if not low < high:
        raise ValueError(f"value_range must have low < high, got {value_range!r}")
    return low, high


def class_model_visualisation(model, class_index: int, *, steps: int = 200, step_size: float = 0.05,
                              l2: float = 1e-3, blur_every: int = 4, blur_sigma: float = 0.5,
                              value_range=(0.0, 1.0), seed: int = 0):
    """The image that maximises ``S_c(x) − l2 · ||x − x̄||²`` (``x̄`` the middle of ``value_range``).

    Gradient ascent from grey plus a little noise; every ``blur_every`` steps the image is
    blurred (``blur_sigma`` pixels) and each step ends by clipping to ``value_range``.

    Args:
        model: ``(N, H, W, C)`` → ``(N, K)`` logits, with a fixed ``(H, W, C)`` input.
        class_index: the class ``c``.
        steps: ascent steps.
        step_size: size of each normalised step.
        l2: weight of the L2 penalty.
        blur_every: steps between blurs (0: never).
        blur_sigma: the blur's standard deviation, pixels.
        value_range: ``(low, high)`` of valid pixels.
        seed: seed of the starting noise.

    Returns:
        ``(image, scores)``: float32 ``(H, W, C)`` and float32 ``(steps,)``, the logit ``S_c`` before each step.
    """
    model = check_model("model", model)
    k = num_outputs("model", model)
    class_index = check_int("class_index", class_index, minimum=0, maximum=k - 1)
    steps = check_non_negative_int("steps", steps)
    step_size = check_float("step_size", step_size, minimum=0.0)
    l2 = check_float("l2", l2, minimum=0.0)
    blur_every = check_non_negative_int("blur_every", blur_every)
    blur_sigma = check_float("blur_sigma", blur_sigma, minimum=0.0, include_minimum=False)
    low, high = _check_range(value_range)
    seed = check_seed("seed", seed)
    shape = tuple(model.inputs[0].shape[1:])
    if any(s is None for s in shape):
        raise ValueError(f"model must have a fixed input size, got {shape}")
    tf = tf_module()
    middle = (low + high) / 2
    rng = np.random.default_rng(seed)
    x = tf.Variable(middle + 0.01 * (high - low) * rng.standard_normal((1,) + shape).astype(np.float32))
    scores = []

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            logit = model(x, training=False)[0, class_index]
            objective = logit - l2 * tf.reduce_sum((x - middle) ** 2)
        g = tape.gradient(objective, x)
        x.assign(tf.clip_by_value(x + step_size * g / (tf.math.reduce_std(g) + 1e-8), low, high))
        return logit

    for i in range(steps):
        scores.append(float(step()))
        if blur_every and (i + 1) % blur_every == 0:
            x.assign(tf.clip_by_value(gaussian_blur(x, blur_sigma), low, high))
    return x.numpy()[0], np.asarray(scores, np.float32)


def deep_dream(model, image, layer_name: str, *, steps: int = 20, step_size: float = 0.01,
               value_range=(0.0, 1.0)):
    """DeepDream: raise the mean activation of ``layer_name`` by changing the image.

    The objective is ``mean(A)``, ``A`` the layer's output (after its ReLU when the layer is
    one); each step adds the normalised gradient times ``step_size`` and clips.

    Args:
        model: a functional model; ``image`` must fit its input.
        image: float ``(H, W, C)``.
        layer_name: a layer of ``model.layers``.
        steps, step_size, value_range: the ascent.

    Returns:
        ``(dreamed, objectives)``: float32 ``(H, W, C)`` and float32 ``(steps,)``, ``mean(A)`` before each step.
    """
    from cnncourse.explain._common import layer_model

    model = check_model("model", model)
    image = check_images("image", np.asarray(image)[None], model)
    check_layer("layer_name", model, layer_name)
    steps = check_non_negative_int("steps", steps)
    step_size = check_float("step_size", step_size, minimum=0.0)
    low, high = _check_range(value_range)
    tf = tf_module()
    sub = layer_model(model, [layer_name])
    x = tf.Variable(image)
    objectives = []

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            objective = tf.reduce_mean(sub(x, training=False))
        g = tape.gradient(objective, x)
        x.assign(tf.clip_by_value(x + step_size * g / (tf.math.reduce_std(g) + 1e-8), low, high))
        return objective

    for _ in range(steps):
        objectives.append(float(step()))
    return x.numpy()[0], np.asarray(objectives, np.float32)
