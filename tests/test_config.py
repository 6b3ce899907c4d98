"""Profiles, per-notebook settings and determinism."""

import subprocess
import sys

import pytest

from cnncourse import config


def test_profile_from_environment(monkeypatch):
    monkeypatch.setenv("CNNCOURSE_PROFILE", "full")
    assert config.current_profile() == "full"
    monkeypatch.setenv("CNNCOURSE_PROFILE", " Quick ")
    assert config.current_profile() == "quick"


def test_bad_profile_is_named(monkeypatch):
    monkeypatch.setenv("CNNCOURSE_PROFILE", "fast")
    with pytest.raises(ValueError, match=r"CNNCOURSE_PROFILE='fast' is not a known profile; known: quick, full, smoke"):
        config.current_profile()


def test_default_profile_follows_gpu(monkeypatch):
    monkeypatch.delenv("CNNCOURSE_PROFILE", raising=False)
    monkeypatch.setattr(config, "gpu_available", lambda: True)
    assert config.current_profile() == "full"
    monkeypatch.setattr(config, "gpu_available", lambda: False)
    assert config.current_profile() == "quick"


def test_settings_lookup_and_errors():
    cfg = config.settings("00_welcome", profile="quick")
    assert cfg.demo_epochs == config.NOTEBOOK_SETTINGS["00_welcome"]["quick"]["demo_epochs"]
    assert cfg["demo_epochs"] == cfg.demo_epochs and cfg.profile == "quick" and cfg.notebook == "00_welcome"
    with pytest.raises(AttributeError, match="has no setting 'epochz'"):
        cfg.epochz
    with pytest.raises(KeyError, match="notebook='99_nope' has no settings"):
        config.settings("99_nope", "quick")
    with pytest.raises(ValueError, match="profile='slow' is not a known profile; known: quick, full, smoke"):
        config.settings("00_welcome", "slow")
    with pytest.raises(TypeError, match="profile must be a string, one of quick, full, smoke; got 1"):
        config.settings("00_welcome", 1)


@pytest.mark.parametrize("notebook", sorted(config.NOTEBOOK_SETTINGS))
def test_both_profiles_define_the_same_settings(notebook):
    profiles = config.NOTEBOOK_SETTINGS[notebook]
    assert set(profiles) == set(config.LEARNING_PROFILES)
    assert set(profiles["quick"]) == set(profiles["full"])


@pytest.mark.parametrize("notebook", sorted(config.NOTEBOOK_SETTINGS))
def test_smoke_is_quick_made_smaller_and_asserting_no_quality(notebook):
    quick, smoke = config.settings(notebook, "quick"), config.settings(notebook, "smoke")
    overrides = config.SMOKE_OVERRIDES.get(notebook, {})
    assert set(overrides) <= set(quick), f"{notebook}: smoke overrides unknown settings {set(overrides) - set(quick)}"
    assert set(smoke) == set(quick) and smoke.profile == "smoke"
    for name, value in smoke.items():
        if name not in overrides:
            assert value == quick[name], name
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        elif name.endswith(("_error", "_slack")):  # bounds from above: none
            assert value >= quick[name], name
        else:  # sizes and epochs shrink; targets, margins and gaps drop to bounds any run meets
            assert value <= quick[name], name


def test_smoke_overrides_only_known_notebooks():
    assert set(config.SMOKE_OVERRIDES) <= set(config.NOTEBOOK_SETTINGS)


def test_every_solution_notebook_has_settings():
    from pathlib import Path

    from cnncourse.grading.generate import solution_paths

    stems = {p.stem for p in solution_paths(Path(__file__).resolve().parents[1] / "solutions")}
    assert stems <= set(config.NOTEBOOK_SETTINGS), f"no settings for {sorted(stems - set(config.NOTEBOOK_SETTINGS))}"


@pytest.mark.parametrize("seed, error, message", [
    (-1, ValueError, "seed must be a non-negative integer"),
    (1.5, TypeError, r"seed must be an integer, got 1.5 \(float\)"),
    (True, TypeError, r"seed must be an integer, got True \(bool\)"),
    ("0", TypeError, r"seed must be an integer, got '0' \(str\)"),
])
def test_seed_everything_rejects_bad_seed(seed, error, message):
    from cnncourse import seed_everything

    with pytest.raises(error, match=message):
        seed_everything(seed)


TRAIN_TWICE = """
import cnncourse, keras, numpy as np
cnncourse.seed_everything(7)
x = np.random.rand(256, 8, 8, 1).astype('float32'); y = (x.mean(axis=(1, 2, 3)) > 0.5).astype('int32')
model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, activation='relu'),
                          keras.layers.Dropout(0.5), keras.layers.Flatten(), keras.layers.Dense(2)])
model.compile('adam', keras.losses.SparseCategoricalCrossentropy(from_logits=True))
history = model.fit(x, y, epochs=2, batch_size=32, shuffle=True, verbose=0)
print(repr(history.history['loss']), repr(float(model.weights[0].numpy().sum())))
"""


def test_seed_everything_makes_training_reproducible_across_processes():
    runs = [subprocess.run([sys.executable, "-c", TRAIN_TWICE], capture_output=True, text=True, check=True).stdout
            for _ in range(2)]
    assert runs[0] == runs[1] and runs[0].strip()
