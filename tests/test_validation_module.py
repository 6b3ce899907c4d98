"""The package's one argument-validation module: good values pass (NumPy integers included),
a wrong type raises TypeError, a wrong value ValueError, and every message names the argument,
what was expected and what came."""

from __future__ import annotations

import re

import numpy as np
import pytest

from cnncourse import _validation as V


# ------------------------------------------------------------------------ good values
@pytest.mark.parametrize(
    "call, expected",
    [
        (lambda: V.check_int("n", 3), 3),
        (lambda: V.check_int("n", np.int64(3)), 3),
        (lambda: V.check_int("n", np.uint8(7), minimum=0, maximum=7), 7),
        (lambda: V.check_int("n", -5), -5),
        (lambda: V.check_int("n", 5, maximum=5), 5),
        (lambda: V.check_positive_int("filters", 1), 1),
        (lambda: V.check_positive_int("filters", np.int32(64)), 64),
        (lambda: V.check_non_negative_int("padding", 0), 0),
        (lambda: V.check_non_negative_int("padding", np.int16(2)), 2),
        (lambda: V.check_seed("seed", np.int64(0)), 0),
        (lambda: V.check_float("rate", 0.5, minimum=0, maximum=1), 0.5),
        (lambda: V.check_float("rate", 1, minimum=0, maximum=1), 1.0),
        (lambda: V.check_float("rate", np.float32(0.25)), 0.25),
        (lambda: V.check_float("rate", np.int64(2)), 2.0),
        (lambda: V.check_float("rate", 0.0, minimum=0.0, maximum=1.0, include_maximum=False), 0.0),
        (lambda: V.check_bool("flag", True), True),
        (lambda: V.check_bool("flag", np.bool_(False)), False),
        (lambda: V.check_choice("padding", "same", ("valid", "same")), "same"),
        (lambda: V.check_choice("groups", 2, (1, 2, 4)), 2),
        (lambda: V.check_box_format("fmt", "XYWH"), "xywh"),
        (lambda: V.check_int_tuple("stride", 2, 2), (2, 2)),
        (lambda: V.check_int_tuple("stride", np.int64(3), 3), (3, 3, 3)),
        (lambda: V.check_int_tuple("stride", [1, np.int32(2)], 2), (1, 2)),
        (lambda: V.check_int_tuple("output_padding", (0, 1), 2, minimum=0), (0, 1)),
        (lambda: V.check_int_tuple("shift", (-3, 4), 2, minimum=None), (-3, 4)),
        (lambda: V.check_int_tuple("size", np.int64(2048), 2, minimum=8, maximum=2048), (2048, 2048)),
        (lambda: V.check_int_tuple("size", np.array([4, 5]), 2), (4, 5)),
        (lambda: V.check_int_sequence("filters", [32, np.int64(64)]), (32, 64)),
        (lambda: V.check_int_sequence("filters", ()), ()),
        (lambda: V.check_int_sequence("stage", np.array([64, 2]), length=2), (64, 2)),
        (lambda: V.check_int_sequence("shift", [-1, 0], minimum=None), (-1, 0)),
        (lambda: V.check_int_range("objects", 3), (3, 3)),
        (lambda: V.check_int_range("objects", (np.int8(1), 4), minimum=1), (1, 4)),
        (lambda: V.check_names("classes", ["a", "b"], ("a", "b", "c"), "class"), ("a", "b")),
        (lambda: V.check_image_shape("Block", (None, 8, 8, 3)), (None, 8, 8, 3)),
        (lambda: V.check_image_shape("Block", [None, 8, 8, 3], need_spatial=True), (None, 8, 8, 3)),
    ],
)
def test_good_values_pass_and_come_back_canonical(call, expected):
    result = call()
    assert result == expected
    assert type(result) is type(expected)
    if isinstance(expected, tuple):
        assert all(type(r) is type(e) for r, e in zip(result, expected))


def test_int_checks_return_python_ints():
    assert type(V.check_int("n", np.int64(3))) is int
    assert all(type(v) is int for v in V.check_int_tuple("k", np.int32(3), 2))


def test_check_array_converts_and_checks():
    array = V.check_array("boxes", [[0, 0, 1, 1]], shape=(None, 4))
    assert isinstance(array, np.ndarray) and array.shape == (1, 4)
    assert V.check_array("images", np.zeros((2, 3, 3, 1)), ndim=(3, 4)).ndim == 4
    assert V.check_array("mask", np.array([True, False]), kinds="b").dtype == bool
    assert V.check_numeric_array("z", np.array([1 + 2j])).dtype.kind == "c"
    tf = pytest.importorskip("tensorflow")
    assert V.check_array("t", tf.constant([1.0, 2.0]), ndim=1).tolist() == [1.0, 2.0]


def test_is_int():
    assert V.is_int(3) and V.is_int(np.int64(3)) and V.is_int(np.uint8(3))
    assert not any(V.is_int(v) for v in (True, np.bool_(True), 3.0, "3", None, np.float64(3)))


# ------------------------------------------------------------------------- bad values
BAD = [
    # (call, error type, fragments that must all appear in the message)
    (lambda: V.check_int("n", 2.5), TypeError, ["n must be an integer", "2.5", "float"]),
    (lambda: V.check_int("n", "3"), TypeError, ["n must be an integer", "'3'", "str"]),
    (lambda: V.check_int("n", True), TypeError, ["n must be an integer", "True", "bool"]),
    (lambda: V.check_int("n", np.bool_(True)), TypeError, ["n must be an integer", "True"]),
    (lambda: V.check_int("n", None), TypeError, ["n must be an integer", "None"]),
    (lambda: V.check_int("n", 9, minimum=1, maximum=8), ValueError, ["n must be an integer in [1, 8]", "got 9"]),
    (lambda: V.check_int("n", 0, minimum=2), ValueError, ["n must be an integer >= 2", "got 0"]),
    (lambda: V.check_int("n", 6, maximum=5), ValueError, ["n must be an integer <= 5", "got 6"]),
    (lambda: V.check_positive_int("filters", 0), ValueError, ["filters must be a positive integer", "got 0"]),
    (lambda: V.check_positive_int("filters", np.int64(-2)), ValueError, ["filters must be a positive integer", "got -2"]),
    (lambda: V.check_positive_int("filters", "64"), TypeError, ["filters must be an integer", "'64'"]),
    (lambda: V.check_positive_int("filters", 64.0), TypeError, ["filters must be an integer", "64.0"]),
    (lambda: V.check_non_negative_int("padding", -1), ValueError, ["padding must be a non-negative integer", ">= 0", "got -1"]),
    (lambda: V.check_seed("seed", -1), ValueError, ["seed", ">= 0", "got -1"]),
    (lambda: V.check_seed("seed", 1.5), TypeError, ["seed must be an integer", "1.5"]),
    (lambda: V.check_float("rate", "0.5"), TypeError, ["rate must be a number", "'0.5'"]),
    (lambda: V.check_float("rate", False), TypeError, ["rate must be a number", "False"]),
    (lambda: V.check_float("rate", float("nan")), ValueError, ["rate must be a finite number", "nan"]),
    (lambda: V.check_float("rate", float("inf"), minimum=0), ValueError, ["rate must be a finite number", "inf"]),
    (lambda: V.check_float("rate", 1.5, minimum=0, maximum=1), ValueError, ["rate", "[0.0, 1.0]", "got 1.5"]),
    (lambda: V.check_float("rate", -0.1, minimum=0), ValueError, ["rate", "[0.0, inf]", "got -0.1"]),
    (
        lambda: V.check_float("rate", 1.0, minimum=0, maximum=1, include_maximum=False),
        ValueError,
        ["rate", "[0.0, 1.0)", "got 1.0"],
    ),
    (lambda: V.check_float("rate", 0.0, minimum=0, include_minimum=False), ValueError, ["rate", "(0.0, inf]", "got 0.0"]),
    (lambda: V.check_float("rate", 3.0, maximum=2), ValueError, ["rate", "[-inf, 2.0]", "got 3.0"]),
    (lambda: V.check_bool("flag", 1), TypeError, ["flag must be True or False", "got 1"]),
    (lambda: V.check_bool("flag", "yes"), TypeError, ["flag must be True or False", "'yes'"]),
    (lambda: V.check_choice("padding", "full", ("valid", "same")), ValueError, ["padding='full'", "valid, same"]),
    (lambda: V.check_choice("padding", 3, ("valid", "same")), TypeError, ["padding must be a string", "valid, same", "3"]),
    (lambda: V.check_choice("pool", "avg", ("max",), "pooling"), ValueError, ["pool='avg'", "not a known pooling", "max"]),
    (lambda: V.check_choice("groups", 3, (1, 2, 4)), ValueError, ["groups=3", "1, 2, 4"]),
    (lambda: V.check_box_format("fmt", "xyzw"), ValueError, ["fmt='xyzw'", "bounding box format", "xyxy, yxyx"]),
    (lambda: V.check_box_format("fmt", None), TypeError, ["fmt must be a string", "None"]),
    (lambda: V.check_int_tuple("stride", (2, 0), 2), ValueError, ["stride must be a positive int or a sequence of 2 positive ints", "(2, 0)"]),
    (lambda: V.check_int_tuple("stride", 0, 2), ValueError, ["stride must be a positive int", "0"]),
    (lambda: V.check_int_tuple("stride", (1, 2, 3), 2), ValueError, ["stride", "sequence of 2", "(1, 2, 3)"]),
    (lambda: V.check_int_tuple("stride", "22", 2), TypeError, ["stride", "'22'", "str"]),
    (lambda: V.check_int_tuple("stride", 2.0, 2), TypeError, ["stride", "2.0", "float"]),
    (lambda: V.check_int_tuple("stride", (1.0, 2), 2), TypeError, ["stride", "(1.0, 2)"]),
    (lambda: V.check_int_tuple("stride", (True, 2), 2), TypeError, ["stride", "(True, 2)"]),
    (lambda: V.check_int_tuple("pad", (0, -1), 2, minimum=0), ValueError, ["pad must be a non-negative int", "(0, -1)"]),
    (lambda: V.check_int_tuple("k", (1, 2), 2, minimum=3), ValueError, ["k must be an int >= 3 or a sequence of 2 ints >= 3", "(1, 2)"]),
    (lambda: V.check_int_tuple("size", 4, 2, minimum=8, maximum=2048), ValueError, ["size must be an int in [8, 2048]", "got 4"]),
    (lambda: V.check_int_tuple("size", (8, 4096), 2, minimum=8, maximum=2048), ValueError, ["size", "ints in [8, 2048]", "(8, 4096)"]),
    (lambda: V.check_int_tuple("shift", 2.5, 2, minimum=None), TypeError, ["shift must be an int or a sequence of 2 ints", "2.5"]),
    (lambda: V.check_int_sequence("filters", 32), TypeError, ["filters must be a sequence of integers", "32"]),
    (lambda: V.check_int_sequence("filters", "32"), TypeError, ["filters must be a sequence of integers", "'32'"]),
    (lambda: V.check_int_sequence("filters", [32, 0]), ValueError, ["filters[1] must be a positive integer", "got 0"]),
    (lambda: V.check_int_sequence("filters", [32, 2.0]), TypeError, ["filters[1] must be an integer", "2.0"]),
    (lambda: V.check_int_sequence("filters", [], min_length=1), ValueError, ["filters must hold at least 1 integer, got []"]),
    (lambda: V.check_int_sequence("stage", (64, 2, 1), length=2), ValueError, ["stage must hold exactly 2 integers", "(64, 2, 1)"]),
    (lambda: V.check_int_sequence("shift", [-1, 2.0], minimum=None), TypeError, ["shift[1] must be an integer", "2.0"]),
    (lambda: V.check_int_range("size", (20, 10)), ValueError, ["size", "low <= high", "(20, 10)"]),
    (lambda: V.check_int_range("size", (2, 10), minimum=4), ValueError, ["size[0]", ">= 4", "got 2"]),
    (lambda: V.check_int_range("size", (1, 2, 3)), TypeError, ["size must be an integer or a pair", "(1, 2, 3)"]),
    (lambda: V.check_names("classes", "a", ("a", "b"), "class"), TypeError, ["classes must be a tuple or list", "'a'"]),
    (lambda: V.check_names("classes", (), ("a", "b"), "class"), ValueError, ["classes must name at least one class", "a, b"]),
    (lambda: V.check_names("classes", ("a", "x"), ("a", "b"), "class"), ValueError, ["classes[1]='x'", "not a known class"]),
    (lambda: V.check_names("classes", ("a", "a"), ("a", "b"), "class"), ValueError, ["classes must not repeat", "('a', 'a')"]),
    (lambda: V.check_array("image", "abc"), TypeError, ["image must be a numeric array of dtype bool, int, unsigned int or float", "got dtype <U3", "'abc'"]),
    (lambda: V.check_array("image", [1.0], kinds="i"), TypeError, ["image must be an array of dtype int, got dtype float64"]),
    (lambda: V.check_array("image", [[1, 2], [3]]), ValueError, ["image must be a rectangular array", "[[1, 2], [3]]"]),
    (lambda: V.check_array("image", np.zeros(3), ndim=2), ValueError, ["image must have shape 2-D", "(3,)"]),
    (lambda: V.check_array("image", np.zeros(3), ndim=(3, 4), what="(H, W, C)"), ValueError, ["image must have shape (H, W, C)", "(3,)"]),
    (lambda: V.check_array("boxes", np.zeros((2, 5)), shape=(None, 4)), ValueError, ["boxes must have shape (?, 4)", "(2, 5)"]),
    (lambda: V.check_numeric_array("x", np.array(["a"])), TypeError, ["x must be a numeric array", "float or complex", "got dtype <U1"]),
    (lambda: V.check_numeric_array("x", [None, 1]), TypeError, ["x must be a numeric array", "got dtype object", "[None, 1]"]),
    (lambda: V.check_image_shape("Block", (None, 8, 3)), ValueError, ["Block expects images of shape (batch, height, width, channels)", "(None, 8, 3)"]),
    (lambda: V.check_image_shape("Block", (None, 8, 8, None)), ValueError, ["Block needs a known number of channels", "(None, 8, 8, None)"]),
    (
        lambda: V.check_image_shape("Block", (None, None, 8, 3), need_spatial=True),
        ValueError,
        ["Block needs a known height and width", "(None, None, 8, 3)"],
    ),
    (lambda: V.check_image_shape("Block", 4), TypeError, ["Block expects an input shape", "4"]),
]


@pytest.mark.parametrize("call, error, fragments", BAD)
def test_bad_values_raise_with_a_message_naming_argument_expectation_and_value(call, error, fragments):
    with pytest.raises(error) as info:
        call()
    assert type(info.value) is error  # not a subclass standing in for the other kind
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


def test_every_check_names_its_argument():
    """The argument's name starts every message, for every public check."""
    cases = [
        lambda: V.check_int("the_arg", "x"),
        lambda: V.check_positive_int("the_arg", 0),
        lambda: V.check_non_negative_int("the_arg", -1),
        lambda: V.check_seed("the_arg", -1),
        lambda: V.check_float("the_arg", "x"),
        lambda: V.check_bool("the_arg", 0),
        lambda: V.check_choice("the_arg", "x", ("a",)),
        lambda: V.check_box_format("the_arg", "x"),
        lambda: V.check_int_tuple("the_arg", "x", 2),
        lambda: V.check_int_sequence("the_arg", [0]),
        lambda: V.check_int_range("the_arg", "x"),
        lambda: V.check_names("the_arg", "x", ("a",), "thing"),
        lambda: V.check_array("the_arg", "x"),
        lambda: V.check_numeric_array("the_arg", "x"),
    ]
    for call in cases:
        with pytest.raises((TypeError, ValueError)) as info:
            call()
        assert re.match(r"the_arg\b", str(info.value)), str(info.value)


def test_long_values_are_shortened_in_messages():
    with pytest.raises(TypeError) as info:
        V.check_int("n", "x" * 1000)
    assert len(str(info.value)) < 150


def test_module_does_not_import_tensorflow_or_boxes_at_import_time():
    """Any subpackage (boxes included) can import it without a cycle or a TensorFlow import."""
    import subprocess
    import sys

    code = (
        "import sys; import cnncourse._validation; "
        "print('tensorflow' in sys.modules, 'cnncourse.boxes' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]
