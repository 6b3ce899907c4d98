"""The examples in cnncourse.ops docstrings run and give what they show; importing ops stays cheap."""

from __future__ import annotations

import doctest
import subprocess
import sys

import numpy as np
import pytest

import cnncourse.ops as ops
from cnncourse.ops import accounting, convolution, padding, pooling, upsampling


@pytest.mark.parametrize("module", [ops, accounting, convolution, padding, pooling, upsampling],
                         ids=lambda m: m.__name__)
def test_docstring_examples(module):
    import keras

    globs = {**vars(ops), "np": np, "keras": keras}
    result = doctest.testmod(module, extraglobs=globs, optionflags=doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.attempted > 0, f"{module.__name__} has no examples"
    assert result.failed == 0


def test_importing_ops_does_not_import_tensorflow():
    code = "import sys, cnncourse.ops; print('tensorflow' in sys.modules or 'keras' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_every_public_name_is_documented():
    for name in ops.__all__:
        obj = getattr(ops, name)
        if callable(obj):
            assert obj.__doc__ and obj.__doc__.strip(), f"{name} has no docstring"
