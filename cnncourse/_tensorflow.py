"""Importing TensorFlow quietly; a leaf module, so that configuration and runtime set-up can both use it.

:mod:`cnncourse.config` (which asks whether a GPU is there) and :mod:`cnncourse.runtime`
(which seeds TensorFlow) import this module, and this module imports neither.
"""

from __future__ import annotations

import contextlib
import os
import sys

# Set before TensorFlow is imported anywhere: Keras on TensorFlow, no C++ info logs.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@contextlib.contextmanager
def _stderr_file_descriptor_silenced():
    """Send C-level writes to file descriptor 2 to /dev/null for the duration.

    TensorFlow's C++ runtime prints start-up lines (oneDNN, CUDA stubs) to fd 2 before its
    log level applies; in a notebook they would show up as red noise. Python exceptions are
    unaffected: they are raised normally and printed after fd 2 is restored.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real fd 2 (some embedded interpreters)
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_tensorflow():
    """Import and return TensorFlow without its start-up log noise."""
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    with _stderr_file_descriptor_silenced():
        import tensorflow as tf

        tf.get_logger().setLevel("ERROR")
    return tf
