"""Suite-wide fixtures."""

import sys

import pytest


@pytest.fixture(autouse=True)
def _op_determinism_left_off():
    """``cnncourse.setup`` turns TensorFlow's op determinism on for the whole process; turn it off
    again after every test, so that later tests in the same process (XLA gradients of max pooling,
    which have no deterministic implementation) run as they would alone."""
    yield
    if "tensorflow" in sys.modules:
        from tensorflow.python.framework import config as tf_config  # no public way to turn it off

        tf_config.disable_op_determinism()
