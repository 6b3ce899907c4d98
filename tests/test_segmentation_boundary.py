"""The boundary F1 score: hand-made cases, tolerance, ignore label, bad input."""

import numpy as np
import pytest

from cnncourse.segmentation.boundary import boundary_f1, label_boundaries


def square(size=16, top=4, left=4, side=8):
    labels = np.zeros((size, size), np.int64)
    labels[top:top + side, left:left + side] = 1
    return labels


def test_boundaries_are_both_sides_of_each_label_change():
    labels = np.array([[0, 0, 1, 1]])
    assert label_boundaries(labels).tolist() == [[False, True, True, False]]
    edges = label_boundaries(square())
    assert edges.sum() == (8 * 4 - 4) + 8 * 4  # the square's inner ring, and the 4-neighbours just outside (no corners)


def test_identical_maps_score_one_and_a_missing_object_zero():
    truth = square()[None]
    assert boundary_f1(truth, truth) == 1.0
    assert boundary_f1(truth, np.zeros_like(truth)) == 0.0
    assert boundary_f1(np.zeros_like(truth), np.zeros_like(truth)) == 1.0


def test_a_one_pixel_shift_is_forgiven_only_within_the_tolerance():
    truth, shifted = square(), square(top=5)
    assert boundary_f1(truth, shifted, tolerance=1) == 1.0
    strict = boundary_f1(truth, shifted, tolerance=0)
    # the side edges overlap; the top and bottom edges move by one pixel
    edges_t, edges_s = label_boundaries(truth), label_boundaries(shifted)
    precision = (edges_s & edges_t).sum() / edges_s.sum()
    recall = (edges_s & edges_t).sum() / edges_t.sum()
    assert strict == pytest.approx(2 * precision * recall / (precision + recall))
    assert strict < 1.0
    assert boundary_f1(truth, square(top=7), tolerance=2) < boundary_f1(truth, square(top=7), tolerance=3) == 1.0


def test_mean_over_images():
    truth = np.stack([square(), square()])
    prediction = np.stack([square(), np.zeros((16, 16), np.int64)])
    assert boundary_f1(truth, prediction) == pytest.approx(0.5)


def test_ignored_truth_pixels_do_not_count():
    truth, prediction = square(), square()
    prediction[0:2, 0:2] = 1            # a false object in the corner
    assert boundary_f1(truth, prediction) < 1.0
    truth[0:3, 0:3] = 255               # ... on pixels the truth ignores
    assert boundary_f1(truth, prediction, ignore_index=255) == 1.0
    assert boundary_f1(truth, prediction) < 1.0   # without ignore_index, 255 is a label with its own edges
    kept = truth != 255
    assert not (label_boundaries(truth, kept) & ~kept).any()


@pytest.mark.parametrize("make, message", [
    (lambda: boundary_f1(np.zeros((4, 4)), np.zeros((4, 4), int)), "truth must be"),
    (lambda: boundary_f1(np.zeros((4, 4), int), np.zeros((4, 5), int)), "prediction must have the shape"),
    (lambda: boundary_f1(np.zeros((4, 4), int), np.zeros((4, 4), int), tolerance=-1), "tolerance"),
    (lambda: boundary_f1(np.zeros((2, 2, 4, 4), int), np.zeros((2, 2, 4, 4), int)), "truth must have shape"),
])
def test_bad_input_names_the_argument(make, message):
    with pytest.raises((TypeError, ValueError), match=message):
        make()
