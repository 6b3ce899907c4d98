"""The augmentation layers (RandomChannelShift, PCALighting) in the layer test table's checks:
.keras round trip, jit_compile=True, mixed_float16; plus what each computes."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

from cnncourse.augment import PCALighting, RandomChannelShift, rgb_principal_components  # noqa: E402

RNG = np.random.default_rng(0)
TRAIN = RNG.uniform(size=(20, 8, 8, 3)).astype("float32") * np.array([1.0, 0.6, 0.3], "float32")
VALUES, VECTORS = rgb_principal_components(TRAIN)


def _offsets_are_valid(layer, x, out):
    """Per image the change is one RGB offset (same at every pixel), and it is legal for the layer."""
    delta = np.asarray(out, np.float64) - np.asarray(x, np.float64)
    per_image = delta.reshape(len(x), -1, 3)
    spread = np.abs(per_image - per_image[:, :1]).max()
    if isinstance(layer, PCALighting):
        assert spread < 5e-3, "PCA lighting must add the same RGB offset to every pixel"
        alphas = per_image[:, 0] @ np.asarray(layer.eigenvectors) / np.asarray(layer.eigenvalues)
        return alphas
    clipped = (np.asarray(out) <= x.min(axis=(1, 2, 3), keepdims=True) + 1e-6) | (
        np.asarray(out) >= x.max(axis=(1, 2, 3), keepdims=True) - 1e-6
    )
    free = delta[~clipped]
    assert np.abs(free).max() <= layer.factor + 1e-3
    return free


CASES = [
    ("channel_shift", lambda **kw: RandomChannelShift(0.2, seed=1, **kw), (4, 6, 6, 3)),
    ("channel_shift_per_channel", lambda **kw: RandomChannelShift(0.1, per_channel=True, clip=False, seed=1, **kw),
     (4, 6, 6, 3)),
    ("pca_lighting", lambda **kw: PCALighting(VALUES, VECTORS, sigma=0.5, seed=1, **kw), (4, 6, 6, 3)),
]  # fmt: skip
IDS = [c[0] for c in CASES]


@pytest.fixture
def mixed_precision():
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    yield
    keras.config.set_dtype_policy(previous)


def _model(layer, shape, dtype="float32"):
    inputs = keras.Input(shape[1:], dtype=dtype)
    return keras.Model(inputs, layer(inputs, training=True))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_keras_round_trip_restores_config_and_is_identity_at_inference(case, tmp_path):
    _, factory, shape = case
    layer = factory()
    model = _model(layer, shape)
    path = tmp_path / "m.keras"
    model.save(path)
    restored = keras.models.load_model(path)
    assert type(restored.layers[-1]) is type(layer)
    assert restored.layers[-1].get_config() == layer.get_config()
    x = RNG.uniform(size=shape).astype("float32")
    np.testing.assert_array_equal(np.asarray(layer(x, training=False)), x)
    out = np.asarray(restored(x))
    assert not np.allclose(out, x), "the restored layer must still augment"
    _offsets_are_valid(layer, x, out)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_jit_compiled_call_augments_validly(case):
    _, factory, shape = case
    layer = factory()
    x = tf.constant(RNG.uniform(size=shape).astype("float32"))
    compiled = tf.function(lambda t: layer(t, training=True), jit_compile=True)
    first, second = compiled(x), compiled(x)
    assert not np.allclose(first, x)
    assert not np.allclose(first, second), "each call must draw new noise"
    _offsets_are_valid(layer, x.numpy(), first.numpy())


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_mixed_float16_keeps_half_inputs_half(case, mixed_precision):
    _, factory, shape = case
    layer = factory()
    x = RNG.uniform(size=shape).astype("float16")
    out = layer(x, training=True)
    assert out.dtype == tf.float16
    _offsets_are_valid(layer, x.astype("float32"), np.asarray(out, np.float32))


def test_principal_components_are_an_eigen_decomposition_of_the_rgb_covariance():
    pixels = TRAIN.reshape(-1, 3).astype(np.float64)
    covariance = np.cov(pixels, rowvar=False)
    np.testing.assert_allclose(VECTORS @ np.diag(VALUES) @ VECTORS.T, covariance, atol=1e-12)
    np.testing.assert_allclose(VECTORS.T @ VECTORS, np.eye(3), atol=1e-12)
    assert np.all(np.diff(VALUES) <= 0) and np.all(VECTORS.sum(axis=0) >= 0)
    with pytest.raises(ValueError, match=r"images must have shape \(N, H, W, 3\)"):
        rgb_principal_components(np.zeros((2, 4, 4, 1)))


def test_pca_lighting_alphas_are_normal_with_sigma_and_offsets_follow_the_eigenvectors():
    layer = PCALighting.from_images(TRAIN, seed=3)
    assert layer.sigma == 0.1
    x = np.full((4000, 2, 2, 3), 0.5, "float32")
    alphas = _offsets_are_valid(layer, x, layer(x, training=True))
    np.testing.assert_allclose(alphas.std(axis=0), 0.1, rtol=0.06)
    np.testing.assert_allclose(alphas.mean(axis=0), 0.0, atol=0.01)
    alpha = np.array([[0.1, -0.2, 0.05]], "float32")
    expected = VECTORS @ (alpha[0] * VALUES)
    np.testing.assert_allclose(np.asarray(layer.offsets(alpha))[0], expected, rtol=1e-5)


def test_channel_shift_is_one_intensity_per_image_clipped_to_its_range():
    layer = RandomChannelShift(0.3, seed=0)
    x = RNG.uniform(0.2, 0.8, size=(64, 5, 5, 3)).astype("float32")
    out = np.asarray(layer(x, training=True))
    assert np.all(out >= x.min(axis=(1, 2, 3), keepdims=True) - 1e-6)
    assert np.all(out <= x.max(axis=(1, 2, 3), keepdims=True) + 1e-6)
    unclipped = RandomChannelShift(0.3, clip=False, seed=0)
    delta = np.asarray(unclipped(x, training=True)) - x
    assert np.abs(delta - delta[:, :1, :1, :1]).max() < 1e-6, "one shift for every channel and pixel"
    assert delta[:, 0, 0, 0].std() > 0.1 and np.abs(delta).max() <= 0.3 + 1e-6


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: RandomChannelShift(-1), ValueError, "factor"),
        (lambda: RandomChannelShift("big"), TypeError, "factor"),
        (lambda: PCALighting([1, 2], VECTORS), ValueError, "eigenvalues"),
        (lambda: PCALighting([-1, 0, 0], VECTORS), ValueError, "eigenvalues"),
        (lambda: PCALighting(VALUES, VECTORS, sigma=-0.1), ValueError, "sigma"),
        (lambda: PCALighting(VALUES, VECTORS)(np.zeros((1, 4, 4, 1), "float32")), ValueError, "RGB"),
    ],
)
def test_bad_arguments_name_the_argument(make, error, message):
    with pytest.raises(error, match=message):
        make()
