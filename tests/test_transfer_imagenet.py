"""ImageNet backbones: the cached path without a network, the one clear error, the download switch."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from cnncourse import transfer  # noqa: E402
from cnncourse.transfer import imagenet  # noqa: E402


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    """An empty Keras home; downloads off; any attempt to download fails the test."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.delenv(imagenet.DOWNLOAD_VARIABLE, raising=False)

    def no_network(*args, **kwargs):
        raise AssertionError(f"tried to download: {args} {kwargs}")

    monkeypatch.setattr(keras.utils, "get_file", no_network)
    return tmp_path


def _save_legacy_weights(model, path):
    """Write ``model``'s weights in the legacy HDF5 layout of the keras.applications files."""
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as handle:
        legacy_h5_format.save_weights_to_hdf5_group(handle, model)


@pytest.mark.parametrize("name", transfer.IMAGENET_BACKBONES)
def test_empty_cache_gives_one_clear_error(keras_home, name):
    with pytest.raises(transfer.WeightsNotAvailableError) as info:
        transfer.load_imagenet_backbone(name)
    error = info.value
    message = str(error)
    file_name = transfer.IMAGENET_WEIGHTS[name]["no_top"][0].format(rows=224)
    assert error.file_name == file_name and file_name in message
    assert str(keras_home / "models") in message
    assert "MB" in message and error.size in message
    assert "load_backbone()" in message and "allow_download=True" in message
    assert imagenet.DOWNLOAD_VARIABLE in message
    assert isinstance(error, RuntimeError)


def test_environment_variable_other_than_yes_keeps_downloads_off(keras_home, monkeypatch):
    monkeypatch.setenv(imagenet.DOWNLOAD_VARIABLE, "0")
    with pytest.raises(transfer.WeightsNotAvailableError):
        transfer.load_imagenet_backbone("mobilenet_v2", input_shape=(96, 96, 3))


def test_cached_weights_are_loaded_without_network(keras_home):
    shape = (96, 96, 3)
    reference = keras.applications.MobileNetV2(weights=None, include_top=False, input_shape=shape)
    rng = np.random.default_rng(0)
    reference.set_weights([rng.normal(size=w.shape).astype("float32") for w in reference.get_weights()])
    file_name = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_96_no_top.h5"
    _save_legacy_weights(reference, keras_home / "models" / file_name)

    model = transfer.load_imagenet_backbone("mobilenet_v2", input_shape=shape)
    assert model.output.shape[1:] == (3, 3, 1280)
    for loaded, expected in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(loaded, expected)
    # A freshly initialised network differs: the weights really came from the cache.
    fresh = keras.applications.MobileNetV2(weights=None, include_top=False, input_shape=shape)
    assert not all(np.array_equal(a, b) for a, b in zip(fresh.get_weights(), model.get_weights()))


@pytest.mark.parametrize("switch", ["argument", "environment"])
def test_download_switch_fetches_into_the_cache(keras_home, monkeypatch, switch):
    shape = (96, 96, 3)
    calls = []

    def fake_get_file(fname, origin, cache_subdir, cache_dir, file_hash):
        calls.append((fname, origin, cache_subdir, cache_dir, file_hash))
        model = keras.applications.MobileNetV2(weights=None, include_top=False, input_shape=shape)
        path = keras_home / cache_subdir / fname
        _save_legacy_weights(model, path)
        return str(path)

    monkeypatch.setattr(keras.utils, "get_file", fake_get_file)
    if switch == "environment":
        monkeypatch.setenv(imagenet.DOWNLOAD_VARIABLE, "1")
        model = transfer.load_imagenet_backbone("mobilenet_v2", input_shape=shape)
    else:
        model = transfer.load_imagenet_backbone("mobilenet_v2", input_shape=shape, allow_download=True)
    assert model.name.startswith("mobilenetv2")
    (fname, origin, subdir, cache_dir, _), = calls
    assert fname == "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_96_no_top.h5"
    assert origin.endswith("/mobilenet_v2/" + fname) and origin.startswith("https://")
    assert subdir == "models" and cache_dir == str(keras_home)


def test_file_names_follow_keras():
    assert imagenet.imagenet_weights_file("resnet50")[0] == "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
    assert imagenet.imagenet_weights_file("vgg16", include_top=True)[0] == "vgg16_weights_tf_dim_ordering_tf_kernels.h5"
    # MobileNetV2 falls back to the 224 weights for sizes it has none for, as Keras does.
    assert imagenet.imagenet_weights_file("mobilenet_v2", input_shape=(100, 100, 3))[0].endswith("1.0_224_no_top.h5")


def test_preprocess_ranges():
    images = np.linspace(0, 1, 2 * 4 * 4 * 3, dtype=np.float32).reshape(2, 4, 4, 3)
    scaled = transfer.imagenet_preprocess("mobilenet_v2", images)
    assert scaled.min() == pytest.approx(-1.0) and scaled.max() == pytest.approx(1.0)
    caffe = transfer.imagenet_preprocess("vgg16", images)
    # BGR order, ImageNet means subtracted: channel 0 of the result is blue minus 103.939.
    np.testing.assert_allclose(caffe[..., 0], images[..., 2] * 255 - 103.939, rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize("kwargs, error, words", [
    ({"name": "alexnet"}, ValueError, "name"),
    ({"name": "vgg16", "input_shape": (224, 224, 1)}, ValueError, "input_shape"),
    ({"name": "vgg16", "input_shape": (16, 16, 3)}, ValueError, "input_shape"),
    ({"name": "vgg16", "input_shape": (96, 96, 3), "include_top": True}, ValueError, "include_top"),
    ({"name": "vgg16", "allow_download": "yes"}, TypeError, "allow_download"),
])
def test_bad_arguments_are_named(keras_home, kwargs, error, words):
    with pytest.raises(error, match=words):
        transfer.load_imagenet_backbone(**kwargs)
