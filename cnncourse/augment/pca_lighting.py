"""AlexNet's PCA colour ("lighting") noise (Krizhevsky et al., 2012, section 4.1).

Over the RGB pixels of a training set, compute the 3 × 3 covariance, its eigenvalues
``λ_i`` and unit eigenvectors ``p_i``. Each time an image is shown, draw
``α_i ~ N(0, σ)`` (``σ = 0.1``) and add to *every* pixel the same RGB offset::

    δ = [p_1, p_2, p_3] · [α_1 λ_1, α_2 λ_2, α_3 λ_3]^T

so the colour of the whole image moves along the directions in which natural colours
vary, by amounts proportional to how much they vary there (the intensity and colour of
the illumination change; the object's identity does not).

:func:`rgb_principal_components` is the NumPy reference (the eigen-decomposition);
:class:`PCALighting` is the registered, serializable Keras layer that applies the noise.

Example::

    >>> import numpy as np
    >>> from cnncourse.augment import PCALighting, rgb_principal_components
    >>> images = np.random.default_rng(0).uniform(size=(8, 16, 16, 3)).astype("float32")
    >>> values, vectors = rgb_principal_components(images)
    >>> layer = PCALighting(values, vectors, seed=0)
    >>> layer(images, training=True).shape
    TensorShape([8, 16, 16, 3])
"""

from __future__ import annotations

import keras
import numpy as np

from cnncourse._validation import check_array, check_float, check_image_shape, check_seed

#: AlexNet's standard deviation of the α_i.
ALEXNET_SIGMA = 0.1


def rgb_principal_components(images) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues and eigenvectors of the RGB covariance of ``images``.

    Args:
        images: ``(N, H, W, 3)`` or ``(P, 3)`` pixels, any real dtype (use the same scale
            as the images the noise will be added to, e.g. floats in ``[0, 1]``).

    Returns:
        ``(eigenvalues, eigenvectors)``: float64 ``(3,)`` in decreasing order and
        ``(3, 3)`` whose **columns** are the unit eigenvectors, each with a non-negative
        sum (so the first is the "brightness" direction with positive entries).
    """
    images = check_array("images", images, kinds="biuf", what="(N, H, W, 3) or (P, 3)")
    if images.ndim not in (2, 4) or images.shape[-1] != 3:
        raise ValueError(f"images must have shape (N, H, W, 3) or (P, 3), got {images.shape}")
    pixels = images.reshape(-1, 3).astype(np.float64)
    if len(pixels) < 2:
        raise ValueError(f"images must hold at least 2 pixels, got {len(pixels)}")
    covariance = np.cov(pixels, rowvar=False)
    values, vectors = np.linalg.eigh(covariance)
    order = np.argsort(values)[::-1]
    values, vectors = values[order], vectors[:, order]
    signs = np.where(vectors.sum(axis=0) < 0, -1.0, 1.0)
    return np.clip(values, 0.0, None), vectors * signs


@keras.saving.register_keras_serializable(package="cnncourse")
class PCALighting(keras.layers.Layer):
    """AlexNet's lighting noise: one RGB offset ``V · (α * λ)`` per image, ``α ~ N(0, sigma)``.

    Input / output: float ``(batch, H, W, 3)`` (or ``(H, W, 3)``), same dtype; identity at
    inference (``training=False``). The offset is not clipped (AlexNet did not clip;
    add a clip after the layer if your model needs ``[0, 1]``).

    Args:
        eigenvalues: ``(3,)`` eigenvalues ``λ`` of the training set's RGB covariance.
        eigenvectors: ``(3, 3)``, column ``i`` is the eigenvector of ``eigenvalues[i]``.
        sigma: standard deviation of each ``α_i`` (AlexNet: 0.1).
        seed: seed of the layer's random generator.

    Use :meth:`from_images` to fit both from a training set.
    """

    def __init__(self, eigenvalues, eigenvectors, sigma: float = ALEXNET_SIGMA, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        values = check_array("eigenvalues", eigenvalues, kinds="iuf", shape=(3,), what="(3,)")
        vectors = check_array("eigenvectors", eigenvectors, kinds="iuf", shape=(3, 3), what="(3, 3)")
        if np.any(values < 0):
            raise ValueError(f"eigenvalues must be >= 0 (a covariance's), got {values.tolist()}")
        self.eigenvalues = [float(v) for v in values]
        self.eigenvectors = [[float(v) for v in row] for row in vectors]
        self.sigma = check_float("sigma", sigma, minimum=0.0)
        self.seed = None if seed is None else check_seed("seed", seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed)

    @classmethod
    def from_images(cls, images, sigma: float = ALEXNET_SIGMA, seed: int | None = None, **kwargs) -> "PCALighting":
        """The layer with the principal components of ``images`` (see :func:`rgb_principal_components`)."""
        values, vectors = rgb_principal_components(images)
        return cls(values, vectors, sigma=sigma, seed=seed, **kwargs)

    def build(self, input_shape):
        shape = tuple(input_shape)
        if len(shape) == 3:
            shape = (None,) + shape
        check_image_shape(type(self).__name__, shape)
        if shape[-1] != 3:
            raise ValueError(f"PCALighting expects RGB images (3 channels), got input shape {tuple(input_shape)}")

    def offsets(self, alphas):
        """The RGB offsets ``(batch, 3)`` of the given ``alphas`` ``(batch, 3)``: ``(α * λ) · Vᵀ``."""
        ops = keras.ops
        values = ops.convert_to_tensor(np.asarray(self.eigenvalues, "float32"))
        vectors = ops.convert_to_tensor(np.asarray(self.eigenvectors, "float32"))
        return ops.matmul(ops.cast(alphas, "float32") * values, ops.transpose(vectors))

    def call(self, inputs, training=True):
        if not training or self.sigma == 0.0:
            return inputs
        ops = keras.ops
        x = ops.convert_to_tensor(inputs)
        unbatched = len(x.shape) == 3
        if unbatched:
            x = ops.expand_dims(x, 0)
        alphas = keras.random.normal((ops.shape(x)[0], 3), stddev=self.sigma, dtype="float32", seed=self.seed_generator)
        delta = ops.reshape(self.offsets(alphas), (-1, 1, 1, 3))
        out = ops.cast(ops.cast(x, "float32") + delta, x.dtype)
        return out[0] if unbatched else out

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(eigenvalues=self.eigenvalues, eigenvectors=self.eigenvectors, sigma=self.sigma, seed=self.seed)
        return config
