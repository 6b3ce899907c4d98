"""Bad input gets an error naming the argument, the value and what is allowed."""

from __future__ import annotations

import numpy as np
import pytest

from cnncourse.data import (
    iter_shapes,
    load_digits,
    load_faces,
    load_shape_classes,
    make_shape_classes,
    make_shapes,
    make_single_shapes,
    sample_image,
    sample_images,
    shapes_dataset,
)

CASES = [
    # (call, error type, fragments that must all appear in the message)
    (lambda: make_shapes(0), ValueError, ["n must be a positive integer", "got 0"]),
    (lambda: make_shapes(-3), ValueError, ["n must be", "got -3"]),
    (lambda: make_shapes(2.5), TypeError, ["n must be an integer", "2.5", "float"]),
    (lambda: make_shapes("10"), TypeError, ["n must be an integer", "'10'", "str"]),
    (lambda: make_shapes(True), TypeError, ["n must be an integer", "True"]),
    (lambda: make_shapes(4, image_size=4), ValueError, ["image_size", "[8, 2048]", "got 4"]),
    (lambda: make_shapes(4, image_size=(32, 32, 3)), ValueError, ["image_size", "(32, 32, 3)"]),
    (lambda: make_shapes(4, size=(10, 80)), ValueError, ["size=(10, 80)", "does not fit", "64x64", "largest allowed size is 64"]),
    (lambda: make_shapes(4, size=(20, 10)), ValueError, ["size", "low <= high", "(20, 10)"]),
    (lambda: make_shapes(4, size=(2, 10)), ValueError, ["size[0]", ">= 4", "got 2"]),
    (lambda: make_shapes(4, classes=("circle", "hexagonn")), ValueError, ["classes[1]='hexagonn'", "not a known shape", "circle, square"]),
    (lambda: make_shapes(4, classes="circle"), TypeError, ["classes must be a tuple or list", "'circle'"]),
    (lambda: make_shapes(4, classes=()), ValueError, ["classes must name at least one shape"]),
    (lambda: make_shapes(4, classes=("circle", "circle")), ValueError, ["classes must not repeat"]),
    (lambda: make_shapes(4, objects=(0, 3)), ValueError, ["objects[0]", "[1, 255]", "got 0"]),
    (lambda: make_shapes(4, objects=(3, 1)), ValueError, ["objects", "low <= high", "(3, 1)"]),
    (
        lambda: make_shapes(4, image_size=32, objects=(20, 30), size=(12, 16), overlap=0.0),
        ValueError,
        ["objects=(20, 30)", "overlap=0.0", "32x32", "fewer objects"],
    ),
    (lambda: make_shapes(4, overlap=1.0), ValueError, ["overlap", "[0.0, 1.0)", "got 1.0"]),
    (lambda: make_shapes(4, overlap=-0.1), ValueError, ["overlap", "got -0.1"]),
    (lambda: make_shapes(4, overlap="a lot"), TypeError, ["overlap must be a number", "'a lot'"]),
    (lambda: make_shapes(4, background="plaid"), ValueError, ["background='plaid'", "random, clutter, black"]),
    (lambda: make_shapes(4, background=(1, 2)), ValueError, ["background must be an (r, g, b) triple", "(1, 2)"]),
    (lambda: make_shapes(4, background=(0, 300, 0)), ValueError, ["background[1]", "[0, 255]", "got 300"]),
    (lambda: make_shapes(4, noise=-1.0), ValueError, ["noise", "got -1.0"]),
    (lambda: make_shapes(4, noise=float("nan")), ValueError, ["noise must be a finite number"]),
    (lambda: make_shapes(4, seed=-1), ValueError, ["seed", ">= 0", "got -1"]),
    (lambda: make_shapes(4, seed=1.5), TypeError, ["seed must be an integer", "1.5"]),
    (lambda: make_shapes(4, rotation=1), TypeError, ["rotation must be True or False", "got 1"]),
    (lambda: make_shapes(4, bounding_box_format="xyzw"), ValueError, ["bounding_box_format='xyzw'", "xyxy, yxyx"]),
    (lambda: next(iter_shapes(10, chunk_size=0)), ValueError, ["chunk_size must be a positive integer", "got 0"]),
    (lambda: make_single_shapes(0), ValueError, ["n must be a positive integer"]),
    (lambda: shapes_dataset(8, batch_size=-1), ValueError, ["batch_size must be a positive integer", "got -1"]),
    (lambda: make_shapes(2).to_dataset(batch_size=0), ValueError, ["batch_size must be a positive integer"]),
    (lambda: make_shapes(2).to_keras_dict(instance_ids="yes"), TypeError, ["instance_ids must be True or False"]),
    (lambda: load_digits(image_size=4), ValueError, ["image_size", "[8, 512]", "got 4"]),
    (lambda: load_digits(image_size=28.0), TypeError, ["image_size must be an integer", "28.0"]),
    (lambda: load_digits(val_fraction=0.6, test_fraction=0.5), ValueError, ["val_fraction + test_fraction must be < 1", "0.6 + 0.5"]),
    (lambda: load_digits(test_fraction=1.2), ValueError, ["test_fraction", "got 1.2"]),
    (lambda: load_digits(test_fraction=0.001), ValueError, ["test_fraction=0.001", "fewer than 10", "stratified"]),
    (lambda: load_digits(batch_size=0), ValueError, ["batch_size must be a positive integer"]),
    (lambda: load_digits(as_dataset="no"), TypeError, ["as_dataset must be True or False"]),
    (lambda: load_faces(val_fraction=-0.1), ValueError, ["val_fraction", "got -0.1"]),
    (lambda: sample_image("lena"), ValueError, ["name='lena' is not a known sample image", "astronaut, camera"]),
    (lambda: sample_image("brain"), ValueError, ["name='brain' is not a known sample image"]),
    (lambda: sample_image(3), TypeError, ["name must be a string", "3"]),
    (lambda: sample_image("camera", size=0), ValueError, ["size", "got 0"]),
    (lambda: sample_image("camera", size=(10, 10, 3)), ValueError, ["size must be a positive int or a sequence of 2 positive ints", "(10, 10, 3)"]),
    (lambda: sample_image("camera", size=(10, 2.5)), TypeError, ["size must be a positive int or a sequence of 2", "(10, 2.5)"]),
    (lambda: make_shapes(4, image_size=(32, 4096)), ValueError, ["image_size must be an int in [8, 2048] or a sequence of 2 ints", "(32, 4096)"]),
    (lambda: make_shapes(4, image_size="32"), TypeError, ["image_size must be an int in [8, 2048]", "'32'", "str"]),
    (lambda: sample_image("camera", grayscale=1), TypeError, ["grayscale must be True or False"]),
    (lambda: sample_images(["camera", "lena"]), ValueError, ["names[1]='lena'", "not a known sample image"]),
    (lambda: make_shape_classes(0), ValueError, ["n must be a positive integer"]),
    (lambda: make_shape_classes(5, "animals"), ValueError, ["world='animals' is not a known world", "shapes, textures"]),
    (lambda: make_shape_classes(5, image_size=8), ValueError, ["image_size", "[16, 256]", "got 8"]),
    (lambda: load_shape_classes(train_size=0), ValueError, ["train_size must be a positive integer", "got 0"]),
]


@pytest.mark.parametrize(("call", "error", "fragments"), CASES, ids=[f"case{i}" for i in range(len(CASES))])
def test_bad_argument_is_named(call, error, fragments):
    with pytest.raises(error) as caught:
        call()
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


def test_numpy_integers_are_accepted():
    data = make_shapes(np.int64(3), image_size=np.int32(32), objects=(np.int8(1), 2), seed=np.uint16(4))
    assert len(data) == 3 and data.images.shape[1] == 32


def test_a_feasible_but_crowded_world_fails_clearly_instead_of_looping():
    """Passes the up-front area check but cannot be packed in practice."""
    with pytest.raises(ValueError, match=r"could not place \d+ objects of size \(14, 16\) with overlap=0.0 in a 48x48 image"):
        make_shapes(3, image_size=48, objects=(7, 7), size=(14, 16), overlap=0.0, classes=("square",), seed=0)
