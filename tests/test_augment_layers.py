"""The augmentation layers (RandomChannelShift, PCALighting, FusedRandomAffine) in the layer test
table's checks: .keras round trip, jit_compile=True, mixed_float16; plus what each computes (the
fused layer: the same maps and parameter distributions as the five Keras layers it replaces)."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402
from scipy import stats  # noqa: E402

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


# --- FusedRandomAffine: deck 003's five geometric layers as one resampling -------------------------

from cnncourse.augment import (  # noqa: E402,I001
    FusedRandomAffine, augmented_dataset, deck_generator_layers, deck_layer_arguments,
)
from cnncourse.augment.fused_geometry import component_matrices, resample  # noqa: E402

KL = keras.layers
SMOOTH = (  # low-frequency RGB images: a second bilinear resampling changes them little
    0.5 + 0.4 * np.sin(np.arange(48)[None, :, None, None] / 7.0 + np.arange(3)[None, None, None, :])
    * np.cos(np.arange(40)[None, None, :, None] / 9.0 + np.arange(5)[:, None, None, None])
).astype("float32")  # (5, 48, 40, 3)


def _fused_case(**kw):
    return FusedRandomAffine(**deck_layer_arguments(), seed=1, **kw)


FUSED_CASES = [
    ("fused_deck_gather", lambda **kw: _fused_case(**kw), (4, 12, 10, 3)),
    ("fused_deck_projective_op", lambda **kw: _fused_case(resampler="projective_op", **kw), (4, 12, 10, 3)),
    ("fused_constant_nearest", lambda **kw: FusedRandomAffine(0.2, (0.3, 0.3), fill_mode="constant", fill_value=0.5,
                                                              interpolation="nearest", seed=1, **kw), (4, 12, 10, 3)),
]  # fmt: skip
FUSED_IDS = [c[0] for c in FUSED_CASES]


def _is_a_geometric_change(x, out):
    """Augmented, same shape, and (deck ranges) pixels stay within the images' value range."""
    out = np.asarray(out, np.float32)
    assert out.shape == x.shape
    assert not np.allclose(out, x), "the layer must augment"
    assert np.all(np.isfinite(out))
    assert out.min() >= min(x.min(), 0.0) - 0.05 and out.max() <= max(x.max(), 0.5) + 0.05


@pytest.mark.parametrize("case", FUSED_CASES, ids=FUSED_IDS)
def test_fused_keras_round_trip_restores_config_and_is_identity_at_inference(case, tmp_path):
    _, factory, shape = case
    layer = factory()
    model = _model(layer, shape)
    path = tmp_path / "m.keras"
    model.save(path)
    restored = keras.models.load_model(path)
    assert type(restored.layers[-1]) is FusedRandomAffine
    assert restored.layers[-1].get_config() == layer.get_config()
    x = RNG.uniform(size=shape).astype("float32")
    np.testing.assert_array_equal(np.asarray(layer(x, training=False)), x)
    _is_a_geometric_change(x, restored(x))


@pytest.mark.parametrize("case", [c for c in FUSED_CASES if "projective_op" not in c[0]],
                         ids=[i for i in FUSED_IDS if "projective_op" not in i])  # fmt: skip
def test_fused_gather_resampler_compiles_with_xla(case):
    _, factory, shape = case
    layer = factory()
    x = tf.constant(RNG.uniform(size=shape).astype("float32"))
    compiled = tf.function(lambda t: layer(t, training=True), jit_compile=True)
    first, second = compiled(x), compiled(x)
    _is_a_geometric_change(x.numpy(), first)
    assert not np.allclose(first, second), "each call must draw new parameters"


def test_fused_projective_op_has_no_xla_kernel():
    layer = FusedRandomAffine(0.1, resampler="projective_op", seed=0)
    compiled = tf.function(lambda t: layer(t, training=True), jit_compile=True)
    with pytest.raises(tf.errors.InvalidArgumentError, match="ImageProjectiveTransformV3"):
        compiled(tf.zeros((2, 8, 8, 3)))


@pytest.mark.parametrize("case", FUSED_CASES, ids=FUSED_IDS)
def test_fused_mixed_float16_keeps_half_inputs_half(case, mixed_precision):
    _, factory, shape = case
    layer = factory()
    x = RNG.uniform(size=shape).astype("float16")
    out = layer(x, training=True)
    assert out.dtype == tf.float16
    _is_a_geometric_change(x.astype("float32"), np.asarray(out, np.float32))


KERAS_COMPONENTS = [  # (component, Keras layer, its sampled transformation -> the fused layer's parameters)
    ("rotation", lambda: KL.RandomRotation(0.2, fill_mode="nearest", seed=3), lambda t: {"angle": t["angle"]}),
    ("translation", lambda: KL.RandomTranslation(0.2, 0.3, fill_mode="nearest", seed=3),
     lambda t: {"translation": t["translations"]}),
    ("shear", lambda: KL.RandomShear(0.4, 0.0, fill_mode="nearest", seed=3), lambda t: {"shear": t["shear_factor"]}),
    ("zoom", lambda: KL.RandomZoom((-0.3, 0.3), (-0.2, 0.4), fill_mode="nearest", seed=3),
     lambda t: {"zoom": tf.concat([t["width_zoom"], t["height_zoom"]], axis=1)}),
    ("flip", lambda: KL.RandomFlip("horizontal", seed=3), lambda t: {"flip": t["flips"]}),
]  # fmt: skip


@pytest.mark.parametrize("resampler", ["gather", "projective_op"])
@pytest.mark.parametrize("component", KERAS_COMPONENTS, ids=[c[0] for c in KERAS_COMPONENTS])
def test_fused_matches_each_keras_layer_for_the_same_sampled_parameters(component, resampler):
    _, make, convert = component
    keras_layer = make()
    x = RNG.uniform(size=(6, 20, 24, 3)).astype("float32")
    transformation = keras_layer.get_random_transformation(x, training=True)
    expected = np.asarray(keras_layer.transform_images(x, transformation, training=True))
    out = np.asarray(FusedRandomAffine(resampler=resampler).transform_images(x, convert(transformation)))
    assert not np.allclose(expected, x)
    np.testing.assert_allclose(out, expected, atol=1e-4)  # the same map; float rounding of the coordinates


def test_fused_composes_the_five_layers_in_their_order():
    """One resampling of R·T·S·Z·F equals the five Keras layers applied in turn, away from the borders."""
    x, params, y = SMOOTH, {}, SMOOTH
    for _, make, convert in KERAS_COMPONENTS:
        layer = make()
        transformation = layer.get_random_transformation(y, training=True)
        y = np.asarray(layer.transform_images(y, transformation, training=True))
        params.update(convert(transformation))
    fused = np.asarray(FusedRandomAffine().transform_images(x, params))
    # pixels whose every intermediate source (F p, Z F p, ..., R T S Z F p) is 1 px inside: no fill anywhere
    matrices = [np.asarray(m, np.float64) for m in component_matrices(params, 48, 40)]
    ys, xs = np.mgrid[0:48, 0:40]
    points = np.broadcast_to(np.stack([xs, ys, np.ones_like(xs)], -1).astype(np.float64), (len(x), 48, 40, 3))
    inside = np.ones(points.shape[:3], bool)
    for matrix in reversed(matrices):  # F first: the last layer's map is applied first to the output pixel
        points = np.einsum("bij,bhwj->bhwi", matrix, points)
        inside &= (points[..., 0] >= 1) & (points[..., 0] <= 38) & (points[..., 1] >= 1) & (points[..., 1] <= 46)
    assert inside.sum() > 500
    difference = np.abs(fused - y)[inside]
    assert difference.mean() < 0.01 and difference.max() < 0.05
    reversed_map = matrices[-1]
    for matrix in reversed(matrices[:-1]):
        reversed_map = reversed_map @ matrix  # F·Z·S·T·R: the wrong order
    wrong = np.asarray(resample(x, (reversed_map / reversed_map[:, 2:, 2:]).reshape(-1, 9)[:, :8]))
    assert np.abs(wrong - y)[inside].mean() > 5 * difference.mean() + 0.01, "the order must matter and be R·T·S·Z·F"


def test_fused_sampled_parameters_follow_the_keras_layers_distributions():
    arguments = deck_layer_arguments()
    fused = FusedRandomAffine(**arguments, seed=5)
    n, height, width = 4000, 50, 60
    p = {k: np.asarray(v) for k, v in fused.sample_parameters(n, height, width).items()}
    images = np.zeros((n, height, width, 1), "float32")
    zoom = KL.RandomZoom(arguments["zoom"], arguments["zoom"], seed=6).get_random_transformation(images)
    keras_draws = {
        "angle": np.asarray(KL.RandomRotation(arguments["rotation"], seed=6).get_random_transformation(images)["angle"]),
        "translation": np.asarray(KL.RandomTranslation(*arguments["translation"], seed=6)
                                  .get_random_transformation(images)["translations"]),
        "shear": np.asarray(KL.RandomShear(arguments["shear"], 0.0, seed=6).get_random_transformation(images)["shear_factor"]),
        "zoom": np.concatenate([np.asarray(zoom["width_zoom"]), np.asarray(zoom["height_zoom"])], axis=1),
        "flip": np.asarray(KL.RandomFlip("horizontal", seed=6).get_random_transformation(images)["flips"]).reshape(-1),
    }  # fmt: skip
    bounds = {"angle": [(-40, 40)], "translation": [(-0.2 * width, 0.2 * width), (-0.2 * height, 0.2 * height)],
              "shear": [(-arguments["shear"], arguments["shear"]), (0, 0)], "zoom": [(0.8, 1.2), (0.8, 1.2)]}  # fmt: skip
    for key, columns in bounds.items():
        ours, theirs = p[key].reshape(n, -1), keras_draws[key].reshape(n, -1)
        for column, (low, high) in enumerate(columns):
            a, b = ours[:, column], theirs[:, column]
            assert a.min() >= low - 1e-6 and a.max() <= high + 1e-6, (key, column)
            if high > low:
                assert a.min() < low + 0.02 * (high - low) and a.max() > high - 0.02 * (high - low), (key, column)
                assert stats.ks_2samp(a, b).pvalue > 1e-3, f"{key}[{column}] is not distributed as Keras draws it"
    np.testing.assert_allclose(p["flip"].mean(), 0.5, atol=0.03)
    np.testing.assert_allclose(keras_draws["flip"].mean(), 0.5, atol=0.03)
    assert np.corrcoef(p["zoom"][:, 0], p["zoom"][:, 1])[0, 1] < 0.05, "x and y zoom are drawn independently"
    shift = p["channel_shift"]
    assert np.abs(shift).max() <= arguments["channel_shift"] and shift.std() > 0.5 * arguments["channel_shift"] / 3**0.5


def test_fused_channel_shift_is_one_intensity_per_image_clipped_to_its_range():
    layer = FusedRandomAffine(channel_shift=0.3, seed=0)
    x = RNG.uniform(0.2, 0.8, size=(64, 5, 5, 3)).astype("float32")
    out = np.asarray(layer(x, training=True))
    np.testing.assert_allclose(out.min(axis=(1, 2, 3)) >= x.min(axis=(1, 2, 3)) - 1e-6, True)
    np.testing.assert_allclose(out.max(axis=(1, 2, 3)) <= x.max(axis=(1, 2, 3)) + 1e-6, True)
    delta = out - x
    free = (out > x.min(axis=(1, 2, 3), keepdims=True) + 1e-6) & (out < x.max(axis=(1, 2, 3), keepdims=True) - 1e-6)
    per_image = [np.ptp(d[f]) for d, f in zip(delta, free) if f.any()]
    assert max(per_image) < 1e-5, "one shift for every pixel and channel of an image"
    assert np.abs(delta).max() <= 0.3 + 1e-6 and delta[:, 0, 0, 0].std() > 0.05


def test_fused_deck_layer_in_tf_data_and_as_the_pipeline_default():
    fused = deck_generator_layers(seed=0, fused=True)
    assert isinstance(fused, FusedRandomAffine) and fused.get_config()["rotation"] == pytest.approx(40 / 360)
    assert len(deck_generator_layers(seed=0).layers) == 6, "the teaching version keeps its five layers + shift"
    images = (RNG.uniform(size=(10, 16, 16, 3)) * 255).astype(np.uint8)
    labels = np.arange(10)
    batches = list(augmented_dataset(images, labels, batch_size=4, shuffle=False))
    assert [b[0].shape[0] for b in batches] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), labels)
    out = np.concatenate([b[0] for b in batches])
    assert out.dtype == np.float32 and out.min() >= 0 and out.max() <= 1
    assert not np.allclose(out, images / 255.0)
    identity = list(augmented_dataset(images, batch_size=10, shuffle=False, layers=lambda x, training: x))
    np.testing.assert_allclose(identity[0], images / np.float32(255.0))


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: FusedRandomAffine(rotation=0.7), ValueError, "rotation"),
        (lambda: FusedRandomAffine(translation=0.2), TypeError, r"translation must be a pair"),
        (lambda: FusedRandomAffine(translation=(0.2, 1.5)), ValueError, r"translation\[1\]"),
        (lambda: FusedRandomAffine(zoom=(0.2, -0.2)), ValueError, "low <= high"),
        (lambda: FusedRandomAffine(zoom=(-1.0, 0.2)), ValueError, r"zoom\[0\] must be > -1"),
        (lambda: FusedRandomAffine(flip=1), TypeError, "flip"),
        (lambda: FusedRandomAffine(fill_mode="mirror"), ValueError, "fill_mode"),
        (lambda: FusedRandomAffine(fill_mode="reflect", resampler="gather"), ValueError, "projective_op"),
        (lambda: FusedRandomAffine(resampler="scipy"), ValueError, "resampler"),
        (lambda: FusedRandomAffine(interpolation="cubic"), ValueError, "interpolation"),
        (lambda: FusedRandomAffine(0.1)(np.zeros((4, 4), "float32"), training=True), ValueError, "batch, height"),
        (lambda: FusedRandomAffine().transform_images(np.zeros((1, 4, 4, 1)), {"spin": [1.0]}), ValueError, "spin"),
        (lambda: deck_generator_layers(fused="yes"), TypeError, "fused"),
    ],
)
def test_fused_bad_arguments_name_the_argument(make, error, message):
    with pytest.raises(error, match=message):
        make()
