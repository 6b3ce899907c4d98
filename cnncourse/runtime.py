"""Runtime set-up shared by every notebook: quiet TensorFlow, determinism, one set-up call.

A notebook starts with::

    import cnncourse
    cfg = cnncourse.setup("03_first_cnns")   # seeds everything, returns the profile's settings

TensorFlow is imported lazily (only when something needs it), so ``cnncourse generate``
and the other authoring commands stay fast.
"""

from __future__ import annotations

import os
import random

from cnncourse._tensorflow import import_tensorflow  # noqa: F401 - part of this module's API
from cnncourse._validation import check_seed

DEFAULT_SEED = 0


def seed_everything(seed: int = DEFAULT_SEED) -> None:
    """Seed Python, NumPy, TensorFlow and Keras, and turn on TensorFlow op determinism.

    After this call, the same code on the same machine gives the same numbers: weights,
    shuffles, dropout masks and reductions are all reproducible.

    Args:
        seed: a non-negative integer.
    """
    seed = check_seed("seed", seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    import numpy as np

    np.random.seed(seed)
    tf = import_tensorflow()
    import keras

    keras.utils.set_random_seed(seed)  # Python, NumPy and the backend together
    tf.config.experimental.enable_op_determinism()


def setup(notebook: str, seed: int = DEFAULT_SEED, profile: str | None = None):
    """Prepare a notebook: quiet TensorFlow, seed everything, pick plot defaults and the precision.

    The full profile on a GPU of compute capability ≥ 7.0 computes in ``mixed_float16``
    (see :func:`precision_policy`); everything else in float32. The printed line names the
    profile, the device, the policy when it is not float32, and the seed.

    Args:
        notebook: the notebook's stem, e.g. ``"01_convolution_by_hand"``.
        seed: passed to :func:`seed_everything`.
        profile: ``"quick"`` or ``"full"``; ``None`` reads ``CNNCOURSE_PROFILE`` (see
            :mod:`cnncourse.config`).

    Returns:
        The notebook's :class:`cnncourse.config.Settings` for the active profile.
    """
    from cnncourse import __version__
    from cnncourse.config import gpu_available, settings

    seed_everything(seed)
    cfg = settings(notebook, profile)
    policy = use_precision_policy(cfg.profile)
    _plot_defaults()
    from cnncourse.grading.notebook_hooks import install_notebook_hooks

    install_notebook_hooks()  # an unfinished exercise, and each cell that needs it, print one line
    device = "GPU" if gpu_available() else "CPU"
    precision = f" · {policy}" if policy != "float32" else ""
    print(f"cnncourse {__version__} · profile {cfg.profile} · {device}{precision} · seed {seed}")
    return cfg


#: the oldest GPUs whose tensor cores make float16 worth it (Volta, compute capability 7.0)
MIXED_PRECISION_MIN_CAPABILITY = (7, 0)


def gpu_details() -> list[dict]:
    """``tf.config.experimental.get_device_details`` of every GPU TensorFlow sees.

    Returns:
        One dict per GPU, e.g. ``{"device_name": "Tesla T4", "compute_capability": (7, 5)}``
        (keys are missing where TensorFlow does not know them); ``[]`` without a GPU.
    """
    tf = import_tensorflow()
    return [dict(tf.config.experimental.get_device_details(gpu)) for gpu in tf.config.list_physical_devices("GPU")]


def precision_policy(profile: str, details: list[dict] | None = None) -> str:
    """The Keras dtype policy a notebook runs with: ``"mixed_float16"`` or ``"float32"``.

    Mixed precision is used in the ``full`` profile only, and only when at least one GPU is
    visible and every visible GPU has compute capability ≥ 7.0 (float16 tensor cores); the
    quick profile and CPUs keep float32, so their numbers do not depend on the hardware.

    Args:
        profile: ``"quick"`` or ``"full"``.
        details: the GPUs' details as :func:`gpu_details` returns them; ``None`` asks TensorFlow.
    """
    from cnncourse._validation import check_choice
    from cnncourse.config import PROFILES

    check_choice("profile", profile, PROFILES, "profile")
    if profile != "full":
        return "float32"
    details = gpu_details() if details is None else details
    if not isinstance(details, list) or not all(isinstance(d, dict) for d in details):
        raise TypeError(f"details must be a list of dicts (one per GPU), got {details!r}")
    capabilities = [tuple(d.get("compute_capability") or (0, 0)) for d in details]
    if capabilities and min(capabilities) >= MIXED_PRECISION_MIN_CAPABILITY:
        return "mixed_float16"
    return "float32"


def use_precision_policy(profile: str, details: list[dict] | None = None) -> str:
    """Set Keras's global dtype policy to :func:`precision_policy` and return its name.

    Under ``mixed_float16`` layers compute in float16 and keep float32 weights; the course's
    heads and losses produce float32 (see :mod:`cnncourse.models`), and ``model.compile``
    wraps the optimizer in a loss-scale optimizer by itself.
    """
    import keras

    policy = precision_policy(profile, details)
    keras.config.set_dtype_policy(policy)
    return policy


def _plot_defaults() -> None:
    from cnncourse.figures import use_course_style

    use_course_style()
