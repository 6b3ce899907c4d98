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

DEFAULT_SEED = 0


def seed_everything(seed: int = DEFAULT_SEED) -> None:
    """Seed Python, NumPy, TensorFlow and Keras, and turn on TensorFlow op determinism.

    After this call, the same code on the same machine gives the same numbers: weights,
    shuffles, dropout masks and reductions are all reproducible.

    Args:
        seed: a non-negative integer.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    import numpy as np

    np.random.seed(seed)
    tf = import_tensorflow()
    import keras

    keras.utils.set_random_seed(seed)  # Python, NumPy and the backend together
    tf.config.experimental.enable_op_determinism()


def setup(notebook: str, seed: int = DEFAULT_SEED, profile: str | None = None):
    """Prepare a notebook: quiet TensorFlow, seed everything, pick plot defaults.

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
    _plot_defaults()
    from cnncourse.grading import check

    check.install_notebook_hooks()  # an unfinished exercise, and each cell that needs it, print one line
    device = "GPU" if gpu_available() else "CPU"
    print(f"cnncourse {__version__} · profile {cfg.profile} · {device} · seed {seed}")
    return cfg


def _plot_defaults() -> None:
    from cnncourse.figures import use_course_style

    use_course_style()
