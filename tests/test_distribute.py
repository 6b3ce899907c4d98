"""More than one device, and mixed precision on a GPU: cnncourse.distribute and the setup's policy.

Several devices are simulated on CPU by splitting it into two logical devices
(``tf.config.set_logical_device_configuration``), which has to happen before TensorFlow starts,
so that test runs in a fresh interpreter. The precision policy is tested with faked GPU details.
"""

import json
import subprocess
import sys

import keras
import numpy as np
import pytest

from cnncourse import distribute, runtime
from cnncourse.runtime import import_tensorflow

tf = import_tensorflow()

TWO_LOGICAL_CPUS = r"""
import json, sys
from cnncourse.runtime import import_tensorflow
tf = import_tensorflow()
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras, numpy as np, cnncourse
from cnncourse import distribute


def build():
    return keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, activation="relu"),
                             keras.layers.BatchNormalization(synchronized=True), keras.layers.Flatten(), keras.layers.Dense(3)])


rng = np.random.default_rng(0)
x = rng.normal(size=(192, 8, 8, 1)).astype("float32")
y = rng.integers(0, 3, size=192).astype("int32")
cpus = tf.config.list_logical_devices("CPU")
runs = {}
for name, strategy, batch in (("one device", distribute.pick_strategy([]), 32),
                              ("two devices", distribute.pick_strategy(cpus), 32),
                              ("one device, batch 16", distribute.pick_strategy([]), 16)):
    cnncourse.seed_everything(0)
    model, history = distribute.fit(build, x, y, optimizer=lambda: keras.optimizers.SGD(0.05, momentum=0.9),
                                    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                                    metrics=["accuracy"], epochs=2, batch_size=batch, strategy=strategy)
    runs[name] = {"replicas": strategy.num_replicas_in_sync, "kind": type(strategy).__name__,
                  "described": distribute.describe_strategy(strategy), "loss": history["loss"],
                  "weights": [w.numpy().ravel().tolist() for w in model.weights],
                  "predictions": model.predict(x[:16], verbose=0).ravel().tolist()}
json.dump({"logical_cpus": len(cpus), "runs": runs}, sys.stdout)
"""


def largest_difference(a, b):
    return max(float(np.max(np.abs(np.asarray(u) - np.asarray(v)))) for u, v in zip(a, b))


def test_two_logical_devices_train_like_one_within_tolerance():
    result = subprocess.run([sys.executable, "-c", TWO_LOGICAL_CPUS], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout)
    one, two, half = (out["runs"][k] for k in ("one device", "two devices", "one device, batch 16"))
    assert out["logical_cpus"] == 2
    assert (one["replicas"], one["kind"]) == (1, "_DefaultDistributionStrategy")
    assert (two["replicas"], two["kind"]) == (2, "MirroredStrategy")
    assert two["described"].startswith("MirroredStrategy over 2 replicas (") and "CPU:1" in two["described"]
    # the global batch is split over the replicas and their gradients averaged: the same training
    np.testing.assert_allclose(two["loss"], one["loss"], rtol=1e-5)
    assert largest_difference(two["weights"], one["weights"]) < 1e-4
    assert largest_difference([two["predictions"]], [one["predictions"]]) < 1e-4
    # ...which the tolerance can tell from a different training (the same data, half the batch)
    assert largest_difference(half["weights"], one["weights"]) > 1e-2


def test_pick_strategy_mirrors_over_every_gpu_when_there_are_several(monkeypatch):
    made = []

    class FakeMirrored:
        def __init__(self, devices):
            made.append(devices)

    fake_gpus = [tf.config.LogicalDevice("/device:GPU:0", "GPU"), tf.config.LogicalDevice("/device:GPU:1", "GPU")]
    monkeypatch.setattr(tf.distribute, "MirroredStrategy", FakeMirrored)
    monkeypatch.setattr(tf.config, "list_logical_devices", lambda kind=None: fake_gpus if kind == "GPU" else [])
    assert isinstance(distribute.pick_strategy(), FakeMirrored)
    assert made == [["/device:GPU:0", "/device:GPU:1"]]
    monkeypatch.setattr(tf.config, "list_logical_devices", lambda kind=None: fake_gpus[:1] if kind == "GPU" else [])
    assert distribute.pick_strategy() is tf.distribute.get_strategy()
    assert len(made) == 1


def test_without_gpus_the_default_strategy_trains_here():
    assert distribute.pick_strategy() is tf.distribute.get_strategy()
    assert distribute.describe_strategy() == "default strategy (one device)"
    rng = np.random.default_rng(1)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (x.sum(axis=1) > 0).astype("int32")
    model, history = distribute.fit(lambda: keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]), x, y,
                                    optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                                    epochs=3, batch_size=16)
    assert len(history["loss"]) == 3 and history["loss"][-1] < history["loss"][0]
    assert model.optimizer.iterations.numpy() == 12


@pytest.mark.parametrize("call, error, message", [
    (lambda: distribute.pick_strategy("/gpu:0"), TypeError, "devices must be a list of devices"),
    (lambda: distribute.pick_strategy([3]), TypeError, r"devices\[0\] must be a device name"),
    (lambda: distribute.pick_strategy(["/gpu:0", "/gpu:0"]), ValueError, "devices must name each device once"),
    (lambda: distribute.build_and_compile(lambda: None, optimizer="adam", loss="mse", strategy="mirrored"),
     TypeError, "strategy must be a tf.distribute.Strategy"),
    (lambda: distribute.build_and_compile(lambda: None, optimizer="adam", loss="mse"), TypeError,
     r"build\(\) must return a keras.Model"),
    (lambda: distribute.build_and_compile(keras.Sequential(), optimizer="adam", loss="mse"), TypeError,
     "build must be a function"),
    (lambda: distribute.build_and_compile(lambda: keras.Sequential(), optimizer=keras.optimizers.Adam(), loss="mse"),
     TypeError, "not an optimizer object"),
    (lambda: distribute.fit(lambda: keras.Sequential(), np.zeros((2, 1)), np.zeros(2), optimizer="adam", loss="mse",
                            epochs=0), ValueError, "epochs"),
])
def test_bad_arguments_are_named(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ---------------------------------------------------------------------- mixed precision
@pytest.fixture
def restore_policy():
    previous = keras.config.dtype_policy()
    yield
    keras.config.set_dtype_policy(previous)


@pytest.mark.parametrize("profile, details, expected", [
    ("full", [{"device_name": "Tesla T4", "compute_capability": (7, 5)}], "mixed_float16"),
    ("full", [{"compute_capability": (7, 0)}, {"compute_capability": (8, 0)}], "mixed_float16"),
    ("full", [{"device_name": "Tesla P100", "compute_capability": (6, 0)}], "float32"),
    ("full", [{"compute_capability": (8, 0)}, {"compute_capability": (6, 1)}], "float32"),
    ("full", [{"device_name": "unknown"}], "float32"),
    ("full", [], "float32"),
    ("quick", [{"compute_capability": (9, 0)}], "float32"),
])
def test_precision_policy_from_profile_and_compute_capability(profile, details, expected):
    assert runtime.precision_policy(profile, details) == expected


def test_precision_policy_checks_its_arguments():
    with pytest.raises(ValueError, match="profile='fast' is not a known profile"):
        runtime.precision_policy("fast", [])
    with pytest.raises(TypeError, match="details must be a list of dicts"):
        runtime.precision_policy("full", "T4")


@pytest.mark.parametrize("details, profile, policy, line_end", [
    ([{"device_name": "Tesla T4", "compute_capability": (7, 5)}], "full", "mixed_float16",
     "· profile full · GPU · mixed_float16 · seed 0"),
    ([{"device_name": "Tesla T4", "compute_capability": (7, 5)}], "quick", "float32", "· profile quick · GPU · seed 0"),
    ([{"device_name": "Tesla K80", "compute_capability": (3, 7)}], "full", "float32", "· profile full · GPU · seed 0"),
])
def test_setup_turns_mixed_precision_on_and_says_so(details, profile, policy, line_end, monkeypatch, capsys,
                                                    restore_policy):
    from cnncourse import config

    monkeypatch.setattr(runtime, "gpu_details", lambda: details)
    monkeypatch.setattr(config, "gpu_available", lambda: bool(details))
    keras.config.set_dtype_policy("float32")
    runtime.setup("00_welcome", profile=profile)
    assert keras.config.dtype_policy().name == policy
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("cnncourse ") and line.endswith(line_end), line
    if policy == "mixed_float16":  # the course's heads stay float32 under the policy
        from cnncourse import models

        model = models.lenet5()
        assert model.layers[1].compute_dtype == "float16" and model.output.dtype == "float32"
        model.compile("adam", "sparse_categorical_crossentropy")
        assert type(model.optimizer).__name__ == "LossScaleOptimizer"


def test_setup_resets_a_leftover_policy_on_cpu(restore_policy, capsys):
    keras.config.set_dtype_policy("mixed_float16")
    runtime.setup("00_welcome", profile="full")  # this machine has no GPU
    assert keras.config.dtype_policy().name == "float32"
    assert "mixed_float16" not in capsys.readouterr().out


# ---------------------------------------------------------------------- on a real GPU
@pytest.mark.gpu
def test_on_a_gpu_setup_picks_the_policy_its_capability_allows(restore_policy, capsys):
    if not tf.config.list_physical_devices("GPU"):
        pytest.skip("no GPU visible to TensorFlow")
    details = runtime.gpu_details()
    runtime.setup("00_welcome", profile="full")
    expected = "mixed_float16" if min(tuple(d["compute_capability"]) for d in details) >= (7, 0) else "float32"
    assert keras.config.dtype_policy().name == expected
    assert "· GPU" in capsys.readouterr().out


@pytest.mark.gpu
def test_on_a_gpu_mirrored_or_default_strategy_trains_and_learns():
    if not tf.config.list_physical_devices("GPU"):
        pytest.skip("no GPU visible to TensorFlow")
    strategy = distribute.pick_strategy()
    assert strategy.num_replicas_in_sync == len(tf.config.list_logical_devices("GPU"))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(512, 8)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")
    _, history = distribute.fit(lambda: keras.Sequential([keras.Input((8,)), keras.layers.Dense(2)]), x, y,
                                optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                                metrics=["accuracy"], epochs=10, batch_size=64, strategy=strategy)
    assert history["accuracy"][-1] > 0.9
