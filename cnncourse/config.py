"""Profiles: how much work each notebook does on this machine.

Two profiles are for people, a third for tests:

``quick``
    Small data and few epochs, so that every notebook runs top to bottom in minutes on a
    laptop CPU. This is what CI runs; every training cell still asserts the quality it
    reaches.
``full``
    Larger data and longer training, for a GPU.
``smoke``
    ``quick`` with the overrides of :data:`SMOKE_OVERRIDES`: the smallest sizes at which every
    cell still runs, and quality targets that any run meets. It asserts nothing about
    learning (nbval runs the solutions in ``quick`` for that); it only lets a test go through
    every cell of a notebook in seconds, as the browser Run All test of the student copies
    does. Students and instructors have no use for it.

The profile comes from the environment variable ``CNNCOURSE_PROFILE``. When it is unset,
the default is ``full`` if TensorFlow sees a GPU and ``quick`` otherwise.

Every per-notebook number (epochs, dataset sizes, …) lives in :data:`NOTEBOOK_SETTINGS`
below, the one place to look them up and to change them::

    >>> from cnncourse.config import settings
    >>> cfg = settings("00_welcome", profile="quick")
    >>> cfg.profile, cfg.demo_epochs
    ('quick', 3)
"""

from __future__ import annotations

import os
from types import MappingProxyType
from typing import Any, Mapping

from cnncourse._validation import check_choice

PROFILE_VARIABLE = "CNNCOURSE_PROFILE"
PROFILES = ("quick", "full", "smoke")
#: the profiles a person runs a notebook in (``smoke`` only checks that the cells run)
LEARNING_PROFILES = ("quick", "full")

#: Per-notebook settings, keyed by notebook stem, then by profile. Both profiles of a
#: notebook must define the same keys (a test checks this); ``smoke`` is derived from
#: ``quick`` with :data:`SMOKE_OVERRIDES`.
NOTEBOOK_SETTINGS: dict[str, dict[str, dict[str, Any]]] = {
    "00_welcome": {
        # demo_target: test accuracy the demo network must reach
        "quick": {"demo_epochs": 3, "demo_train_size": 600, "demo_target": 0.85},
        "full": {"demo_epochs": 10, "demo_train_size": 1200, "demo_target": 0.95},
    },
    "01_convolution_by_hand": {
        # photo_size: side of the photos filtered; timing_size: side of the timed image;
        # learn_patches / learn_steps: data and gradient steps of "learning a kernel";
        # learn_max_error: largest allowed difference between the learned and the hidden kernel
        "quick": {"photo_size": 192, "timing_size": 128, "learn_patches": 16, "learn_steps": 400,
                  "learn_max_error": 0.05},
        "full": {"photo_size": 384, "timing_size": 256, "learn_patches": 64, "learn_steps": 600,
                 "learn_max_error": 0.02},
    },
    "02_pooling_receptive_fields": {
        # photo_size: side of the photos; rf_input_size: input side of the receptive-field models;
        # max_shift: largest shift (pixels) in the invariance measurement
        "quick": {"photo_size": 128, "rf_input_size": 48, "max_shift": 8},
        "full": {"photo_size": 256, "rf_input_size": 96, "max_shift": 16},
    },
    "03_first_cnns": {
        # compare_epochs: MLP vs ConvNet; sgd_epochs: the hand-written loop and its model.fit twin;
        # activation_*: CIFAR-like shapes, epochs and learning rates of the ReLU/tanh/sigmoid race;
        # dropout_*: the small training set and epochs of the dropout experiment;
        # final_epochs: the LeNet that must reach 99% on the digits test split;
        # mnist_train_size: training images taken from tfds's MNIST when it is prepared (None: the
        # offline digits only); *_target: test / validation accuracy each training cell asserts;
        # claim_slack: how far the lesson's comparisons (ConvNet beats MLP, sigmoid is the slowest,
        # dropout shrinks the gap, BN helps) may miss: 0, none, in both profiles
        "quick": {"claim_slack": 0.0,
                  "compare_epochs": 10, "sgd_epochs": 2, "activation_train_size": 1500, "activation_epochs": 5,
                  "activation_learning_rates": (0.03,), "activation_target_error": 0.7,
                  "dropout_train_size": 300, "dropout_epochs": 15,
                  "final_epochs": 30, "mnist_train_size": None,
                  "mlp_target": 0.93, "convnet_target": 0.95, "sgd_target": 0.85, "dropout_target": 0.9,
                  "final_target": 0.99},
        "full": {"claim_slack": 0.0,
                 "compare_epochs": 15, "sgd_epochs": 5, "activation_train_size": 5000, "activation_epochs": 15,
                 "activation_learning_rates": (0.01, 0.03, 0.1), "activation_target_error": 0.3,
                 "dropout_train_size": 300, "dropout_epochs": 30,
                 "final_epochs": 30, "mnist_train_size": 20000,
                 "mlp_target": 0.95, "convnet_target": 0.97, "sgd_target": 0.9, "dropout_target": 0.93,
                 "final_target": 0.992},
    },
    "04_architectures": {
        # depth_*: the plain vs residual experiment (shape-class images and their side, epochs,
        # depths 6n + 2, width of the first stage); ablation_*: the "removing parameters"
        # AlexNets (images, epochs, scale of the layer widths); ablation_target: test accuracy of the
        # full small AlexNet; depth_gap / residual_slack: training-loss gaps the depth experiment asserts
        # (plain deep vs shallow and vs residual deep, at least; residual deep vs shallow, at most):
        # sizes of an effect, the same in both profiles; claim_slack: how far "the shallowest
        # AlexNet is the least accurate" may miss: 0, none, in both profiles
        "quick": {"claim_slack": 0.0,
                  "depth_train_size": 2000, "depth_image_size": 16, "depth_epochs": 6, "depths": (8, 32),
                  "depth_width": 8, "ablation_train_size": 2000, "ablation_epochs": 10, "ablation_width_scale": 0.25,
                  "ablation_target": 0.6, "depth_gap": 0.2, "residual_slack": 0.1},
        "full": {"claim_slack": 0.0,
                 "depth_train_size": 5000, "depth_image_size": 32, "depth_epochs": 15, "depths": (8, 20, 32, 56),
                 "depth_width": 16, "ablation_train_size": 5000, "ablation_epochs": 15, "ablation_width_scale": 1.0,
                 "ablation_target": 0.75, "depth_gap": 0.2, "residual_slack": 0.1},
    },
    "05_augmentation_and_transfer": {
        # grid_photo_size: side of the photos in the grids; throughput_*: images, side and loop images
        # of the speed comparison; gain_*: the augmentation experiment (digit side, digits per class,
        # augmented copies per digit, epochs, batch, learning rate, seeds, mean gain that must be exceeded,
        # gain every seed must exceed; benchmarks/augment_gain_settings.py compares the settings tried);
        # few_labels_per_class: digits per class of the transfer target; probe_*_target: best softmax
        # probe accuracy on faces / digits; head_* / fine_tune_* / unfreeze_blocks: the recipe;
        # fine_tune_target: its accuracy; pretraining_margin: how far it must beat training from scratch
        "quick": {"grid_photo_size": 128, "throughput_images": 64, "throughput_size": 64, "throughput_loop_images": 8,
                  "gain_image_size": 20, "gain_per_class": 3, "gain_copies": 60, "gain_epochs": 12,
                  "gain_batch_size": 64, "gain_learning_rate": 2e-3, "gain_seeds": 3, "gain_target": 0.02,
                  "gain_seed_floor": 0.0,
                  "few_labels_per_class": 3, "probe_faces_target": 0.8, "probe_digits_target": 0.5,
                  "head_epochs": 20, "head_learning_rate": 1e-2, "fine_tune_epochs": 5,
                  "unfreeze_blocks": 1, "fine_tune_batch_size": 8, "fine_tune_target": 0.6, "pretraining_margin": 0.1},
        "full": {"grid_photo_size": 256, "throughput_images": 256, "throughput_size": 224, "throughput_loop_images": 32,
                 "gain_image_size": 20, "gain_per_class": 3, "gain_copies": 60, "gain_epochs": 12,
                 "gain_batch_size": 64, "gain_learning_rate": 2e-3, "gain_seeds": 8, "gain_target": 0.03,
                 "gain_seed_floor": 0.0,
                 "few_labels_per_class": 3, "probe_faces_target": 0.85, "probe_digits_target": 0.6,
                 "head_epochs": 40, "head_learning_rate": 1e-2, "fine_tune_epochs": 15,
                 "unfreeze_blocks": 2, "fine_tune_batch_size": 8, "fine_tune_target": 0.7, "pretraining_margin": 0.1},
    },
    "06_what_cnns_learn": {
        # train_images / test_images: 32x32 single shapes on grey for the linear head on the frozen backbone;
        # head_epochs: its epochs; occlusion_*: patch side and stride; smoothgrad_samples: noisy copies;
        # cam_layer: Grad-CAM's layer; class_model_steps / dream_steps / style_steps: gradient-ascent and
        # style-transfer steps; style_size: side of the photos; *_target: the asserted quality (accuracy,
        # pointing game of Grad-CAM and of the best method; style_remaining_error: the style loss left
        # after style transfer, at most this fraction of its start);
        # sanity_separates: assert that the randomisation check flags at least one method;
        # class_model_gain: how much gradient ascent must raise every class logit
        "quick": {"train_images": 800, "test_images": 40, "head_epochs": 40, "occlusion_patch": 6,
                  "occlusion_stride": 4, "smoothgrad_samples": 8, "cam_layer": "block3_relu2",
                  "class_model_steps": 60, "dream_steps": 20, "style_size": 64, "style_steps": 40,
                  "accuracy_target": 0.75, "cam_pointing_target": 0.25, "best_pointing_target": 0.8,
                  "style_remaining_error": 0.5, "sanity_separates": True, "class_model_gain": 10.0},
        "full": {"train_images": 4000, "test_images": 300, "head_epochs": 100, "occlusion_patch": 6,
                 "occlusion_stride": 2, "smoothgrad_samples": 32, "cam_layer": "block3_relu2",
                 "class_model_steps": 300, "dream_steps": 60, "style_size": 128, "style_steps": 300,
                 "accuracy_target": 0.9, "cam_pointing_target": 0.3, "best_pointing_target": 0.85,
                 "style_remaining_error": 0.3, "sanity_separates": True, "class_model_gain": 20.0},
    },
    "07_segmentation": {
        # window_*: the 32x32 window classifier that is convolutionized (training windows, epochs, asserted
        # test accuracy); image_size / train_images / test_images: the segmentation data (shapes world, or
        # Oxford pets when use_pets and tfds has them); fcn_width, unet_depth, unet_width: the networks;
        # epochs, batch_size, learning_rate, seed: their training; unet_miou_target: the U-Net's asserted
        # test mean IoU; fcn8_margin: how far FCN-8s's mean IoU must be above FCN-32s's
        "quick": {"window_train_images": 1500, "window_epochs": 20, "window_accuracy_target": 0.9,
                  "image_size": 64, "train_images": 600, "test_images": 100, "use_pets": False,
                  "fcn_width": 8, "unet_depth": 3, "unet_width": 8, "epochs": 10, "batch_size": 16,
                  "learning_rate": 3e-3, "seed": 0, "unet_miou_target": 0.9, "fcn8_margin": 0.2},
        "full": {"window_train_images": 6000, "window_epochs": 30, "window_accuracy_target": 0.95,
                 "image_size": 128, "train_images": 3000, "test_images": 500, "use_pets": True,
                 "fcn_width": 32, "unet_depth": 4, "unet_width": 32, "epochs": 30, "batch_size": 16,
                 "learning_rate": 1e-3, "seed": 0, "unet_miou_target": 0.8, "fcn8_margin": 0.0},
    },
    "08_localization_and_detection": {
        # loc_*: single-object shapes for classification + localisation (images, epochs of the
        # L2 phase, epochs of each fine-tuning run); det_*: multi-object shapes for the R-CNN
        # (training and test images); rcnn_epochs: epochs of the R-CNN's crop network;
        # *_target: the quality each training cell asserts (accuracy, mean IoU, IoU gain, AP@0.5);
        # claim_slack: how far "NMS and box regression raise AP" may miss: 0, none, in both profiles
        "quick": {"claim_slack": 0.0,
                  "loc_train_images": 3000, "loc_test_images": 500, "loc_epochs": 8, "loc_finetune_epochs": 3,
                  "det_train_images": 200, "det_test_images": 150, "rcnn_epochs": 8,
                  "loc_accuracy_target": 0.95, "loc_iou_target": 0.7, "finetune_iou_target": 0.8,
                  "objectness_target": 0.85, "regression_gain_target": 0.05, "map_target": 0.7},
        "full": {"claim_slack": 0.0,
                 "loc_train_images": 10000, "loc_test_images": 1000, "loc_epochs": 20, "loc_finetune_epochs": 6,
                 "det_train_images": 1000, "det_test_images": 500, "rcnn_epochs": 16,
                 "loc_accuracy_target": 0.97, "loc_iou_target": 0.75, "finetune_iou_target": 0.85,
                 "objectness_target": 0.88, "regression_gain_target": 0.08, "map_target": 0.8},
    },
    "12_beyond_images": {
        # text_*: negation sentences (train / test sentences, epochs, embedding size, filters per
        # width) of the Kim classifier; text_target: its test accuracy; bow_margin: how far it must
        # beat the bag-of-words baseline; signal_*: chirp series (count, samples, epochs, accuracy);
        # clip_*: moving-shape clips (train / test clips, frames, side) and the epochs of the 3D and
        # single-frame 2D CNNs; video_target: the 3D CNN's accuracy; video_margin: how far it must beat
        # the single-frame 2D CNN; imdb_*: the real-review opt-in (used only when tfds has the data)
        "quick": {"text_train_size": 1500, "text_test_size": 1000, "text_epochs": 4, "embedding_dim": 16,
                  "text_filters": 16, "text_target": 0.95, "bow_margin": 0.3,
                  "signal_train_size": 1000, "signal_test_size": 600, "signal_length": 128, "signal_epochs": 5,
                  "signal_target": 0.8,
                  "clip_train_size": 800, "clip_test_size": 400, "clip_frames": 6, "clip_size": 12,
                  "video_epochs": 5, "video_target": 0.85, "video_margin": 0.45,
                  "imdb_reviews": False, "imdb_epochs": 2, "imdb_target": 0.85},
        "full": {"text_train_size": 8000, "text_test_size": 2000, "text_epochs": 10, "embedding_dim": 32,
                 "text_filters": 64, "text_target": 0.99, "bow_margin": 0.4,
                 "signal_train_size": 8000, "signal_test_size": 2000, "signal_length": 256, "signal_epochs": 15,
                 "signal_target": 0.88,
                 "clip_train_size": 5000, "clip_test_size": 1000, "clip_frames": 8, "clip_size": 24,
                 "video_epochs": 10, "video_target": 0.97, "video_margin": 0.6,
                 "imdb_reviews": True, "imdb_epochs": 3, "imdb_target": 0.87},
    },
}


#: What the ``smoke`` profile changes in ``quick``, per notebook: sizes and epochs at their
#: smallest, and every asserted quality at a bound any run meets (accuracies of at least 0,
#: gains and margins of at least -inf, errors, gaps and slacks of at most inf). Keys must be
#: keys of the notebook's quick settings (a test checks this); a notebook without an entry
#: runs ``smoke`` as ``quick``.
NO_BOUND_BELOW, NO_BOUND_ABOVE = float("-inf"), float("inf")
SMOKE_OVERRIDES: dict[str, dict[str, Any]] = {
    "00_welcome": {"demo_epochs": 1, "demo_train_size": 100, "demo_target": 0.0},
    # the photos keep their size: the lessons cut fixed windows out of them
    "01_convolution_by_hand": {"learn_patches": 4, "learn_steps": 20, "learn_max_error": NO_BOUND_ABOVE},
    "02_pooling_receptive_fields": {"max_shift": 2},
    "03_first_cnns": {"compare_epochs": 1, "sgd_epochs": 1, "activation_train_size": 200, "activation_epochs": 1,
                      "activation_target_error": 1.0, "dropout_train_size": 100, "dropout_epochs": 1,
                      "final_epochs": 1, "mlp_target": 0.0, "convnet_target": 0.0, "sgd_target": 0.0,
                      "dropout_target": 0.0, "final_target": 0.0, "claim_slack": NO_BOUND_ABOVE},
    "04_architectures": {"depth_train_size": 128, "depth_epochs": 1, "depths": (8, 14), "ablation_train_size": 128,
                         "ablation_epochs": 1, "ablation_target": 0.0, "depth_gap": NO_BOUND_BELOW,
                         "residual_slack": NO_BOUND_ABOVE, "claim_slack": NO_BOUND_ABOVE},
    "05_augmentation_and_transfer": {"throughput_loop_images": 2, "gain_copies": 2,
                                     "gain_epochs": 1, "gain_seeds": 1, "gain_target": NO_BOUND_BELOW,
                                     "gain_seed_floor": NO_BOUND_BELOW,
                                     "probe_faces_target": 0.0, "probe_digits_target": 0.0, "head_epochs": 1,
                                     "fine_tune_epochs": 1, "fine_tune_target": 0.0,
                                     "pretraining_margin": NO_BOUND_BELOW},
    "06_what_cnns_learn": {"train_images": 100, "test_images": 12, "head_epochs": 1, "smoothgrad_samples": 2,
                           "class_model_steps": 2, "dream_steps": 2, "style_size": 32, "style_steps": 2,
                           "accuracy_target": 0.0, "cam_pointing_target": 0.0,
                           "best_pointing_target": 0.0, "style_remaining_error": NO_BOUND_ABOVE,
                           "sanity_separates": False, "class_model_gain": NO_BOUND_BELOW},
    "07_segmentation": {"window_train_images": 100, "window_epochs": 1, "window_accuracy_target": 0.0,
                        "image_size": 32, "train_images": 16, "test_images": 8, "epochs": 1,
                        "unet_miou_target": 0.0, "fcn8_margin": NO_BOUND_BELOW},
    "08_localization_and_detection": {"loc_train_images": 200, "loc_test_images": 50, "loc_epochs": 1,
                                      "loc_finetune_epochs": 1, "det_train_images": 40, "det_test_images": 20,
                                      "rcnn_epochs": 1, "claim_slack": NO_BOUND_ABOVE, "loc_accuracy_target": 0.0,
                                      "loc_iou_target": 0.0, "finetune_iou_target": 0.0, "objectness_target": 0.0,
                                      "regression_gain_target": NO_BOUND_BELOW, "map_target": 0.0},
    "12_beyond_images": {"text_train_size": 100, "text_epochs": 1, "text_target": 0.0,
                         "bow_margin": NO_BOUND_BELOW, "signal_train_size": 100, "signal_test_size": 50,
                         "signal_epochs": 1, "signal_target": 0.0, "clip_train_size": 50, "clip_test_size": 30,
                         "video_epochs": 1, "video_target": 0.0, "video_margin": NO_BOUND_BELOW,
                         "imdb_epochs": 1, "imdb_target": 0.0},
}


def _profile_values(notebook: str, profile: str) -> dict[str, Any]:
    """The settings of ``notebook`` under ``profile``, with ``smoke`` derived from ``quick``."""
    if profile == "smoke":
        return {**NOTEBOOK_SETTINGS[notebook]["quick"], **SMOKE_OVERRIDES.get(notebook, {})}
    return NOTEBOOK_SETTINGS[notebook][profile]

def gpu_available() -> bool:
    """True when TensorFlow sees at least one GPU (imports TensorFlow quietly)."""
    from cnncourse._tensorflow import import_tensorflow

    tf = import_tensorflow()
    return bool(tf.config.list_physical_devices("GPU"))


def current_profile() -> str:
    """The active profile: ``CNNCOURSE_PROFILE`` if set, else ``full`` with a GPU, else ``quick``.

    Raises:
        ValueError: if ``CNNCOURSE_PROFILE`` holds something other than ``quick``, ``full`` or ``smoke``.
    """
    value = os.environ.get(PROFILE_VARIABLE, "").strip().lower()
    if value:
        return check_choice(PROFILE_VARIABLE, value, PROFILES, "profile")
    return "full" if gpu_available() else "quick"


class Settings(Mapping[str, Any]):
    """Read-only settings of one notebook under one profile.

    Values are reachable as attributes (``cfg.epochs``) or as keys (``cfg["epochs"]``);
    ``cfg.profile`` and ``cfg.notebook`` say where they came from.
    """

    def __init__(self, notebook: str, profile: str, values: Mapping[str, Any]):
        self._notebook = notebook
        self._profile = profile
        self._values = MappingProxyType(dict(values))

    @property
    def notebook(self) -> str:
        return self._notebook

    @property
    def profile(self) -> str:
        return self._profile

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(
                f"notebook {self._notebook!r} has no setting {name!r} in profile "
                f"{self._profile!r}; it has: {', '.join(sorted(self._values)) or 'none'} "
                f"(see cnncourse/config.py)"
            ) from None

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        items = ", ".join(f"{k}={v!r}" for k, v in self._values.items())
        return f"Settings({self._notebook!r}, profile={self._profile!r}: {items})"


def settings(notebook: str, profile: str | None = None) -> Settings:
    """The settings of ``notebook`` (its stem, e.g. ``"03_first_cnns"``) under ``profile``.

    Args:
        notebook: a key of :data:`NOTEBOOK_SETTINGS`.
        profile: ``"quick"``, ``"full"`` or ``"smoke"``; ``None`` means :func:`current_profile`.

    Raises:
        KeyError: for an unknown notebook, naming the known ones.
        ValueError: for an unknown profile.
    """
    if notebook not in NOTEBOOK_SETTINGS:
        raise KeyError(
            f"notebook={notebook!r} has no settings; known notebooks: "
            f"{', '.join(sorted(NOTEBOOK_SETTINGS))}"
        )
    if profile is None:
        profile = current_profile()
    check_choice("profile", profile, PROFILES, "profile")
    return Settings(notebook, profile, _profile_values(notebook, profile))
