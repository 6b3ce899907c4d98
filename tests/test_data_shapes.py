"""The synthetic shapes world: geometry, occlusion, determinism, formats, streaming."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import scipy.ndimage as ndi
from hypothesis import given, settings
from hypothesis import strategies as st
from skimage.draw import disk

from cnncourse.data import SHAPE_NAMES, ShapesData, iter_shapes, make_shapes, make_single_shapes
from cnncourse.boxes import convert_format
from cnncourse.data._draw import fast_disk
from cnncourse.data.shapes import MIN_VISIBLE_PIXELS


def reference_box(mask: np.ndarray) -> list[float]:
    """Tight [left, top, right, bottom] of a mask, from scipy's find_objects (an independent reference)."""
    rows, cols = ndi.find_objects(mask.astype(np.int32))[0]
    return [cols.start, rows.start, cols.stop, rows.stop]


def check_world(data: ShapesData, objects: tuple[int, int], overlap: float) -> None:
    """Every invariant the shapes world promises, checked image by image."""
    n, height, width = data.images.shape[:3]
    m = objects[1]
    assert data.images.dtype == np.uint8 and data.images.shape == (n, height, width, 3)
    assert data.boxes.dtype == np.float32 and data.boxes.shape == (n, m, 4)
    assert data.labels.dtype == np.int32 and data.labels.shape == (n, m)
    assert data.masks.dtype == bool and data.masks.shape == (n, m, height, width)
    assert data.semantic_masks.dtype == np.uint8 and data.semantic_masks.shape == (n, height, width)
    for i in range(n):
        valid = data.labels[i] >= 0
        count = int(valid.sum())
        assert objects[0] <= count <= objects[1]
        # Valid instances first, then padding (-1 labels, -1 boxes, empty masks).
        assert valid[:count].all() and not valid[count:].any()
        assert (data.boxes[i, count:] == -1).all()
        assert not data.masks[i, count:].any()
        assert (data.full_areas[i, count:] == 0).all()
        # Visible masks never overlap, and the id map is their labelling.
        assert data.masks[i].sum(axis=0).max() <= 1
        expected_ids = np.zeros((height, width), dtype=np.uint8)
        for j in range(count):
            expected_ids[data.masks[i, j]] = j + 1
        np.testing.assert_array_equal(data.instance_ids[i], expected_ids)
        for j in range(count):
            mask = data.masks[i, j]
            visible = int(mask.sum())
            assert visible >= MIN_VISIBLE_PIXELS
            # Occlusion: at most `overlap` of an instance's own pixels are hidden.
            assert visible >= (1 - overlap) * data.full_areas[i, j] - 1e-9
            assert visible <= data.full_areas[i, j]
            if j == count - 1:  # the top-most instance is never covered
                assert visible == data.full_areas[i, j]
            x0, y0, x1, y1 = data.boxes[i, j]
            assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
            assert [x0, y0, x1, y1] == reference_box(mask)
        # Semantic mask = union of instance masks by label (class k -> k + 1).
        for k in range(len(data.class_names)):
            union = data.masks[i][data.labels[i] == k].any(axis=0)
            np.testing.assert_array_equal(data.semantic_masks[i] == k + 1, union)
        np.testing.assert_array_equal(data.semantic_masks[i] == 0, ~data.masks[i].any(axis=0))


@settings(max_examples=25, deadline=None)
@given(
    image_size=st.integers(24, 72),
    low=st.integers(1, 3),
    extra=st.integers(0, 2),
    overlap=st.sampled_from([0.0, 0.25, 0.6]),
    rotation=st.booleans(),
    classes=st.lists(st.sampled_from(SHAPE_NAMES), min_size=1, max_size=4, unique=True),
    seed=st.integers(0, 2**31),
)
def test_boxes_masks_and_semantics_are_consistent(image_size, low, extra, overlap, rotation, classes, seed):
    objects = (low, low + extra)
    size = (max(4, image_size // 8), max(5, image_size // 4))
    data = make_shapes(
        4,
        image_size=image_size,
        classes=tuple(classes),
        objects=objects,
        size=size,
        overlap=overlap,
        rotation=rotation,
        seed=seed,
    )
    check_world(data, objects, overlap)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31), background=st.sampled_from(["random", "black", "white", "gray", (10, 200, 30), 77]))
def test_each_instance_is_drawn_exactly_where_its_mask_is(seed, background):
    """With a plain background and no noise: each visible mask is one flat colour, the
    rest is the background colour. A mask that kept a hidden part would take on the
    colour of the instance covering it and fail this."""
    data = make_shapes(6, objects=(2, 5), overlap=0.6, background=background, seed=seed)
    for i in range(len(data)):
        image, ids = data.images[i], data.instance_ids[i]
        background_pixels = image[ids == 0]
        if len(background_pixels):
            assert (background_pixels == background_pixels[0]).all()
        colours = []
        for j in range(data.num_objects[i]):
            pixels = image[ids == j + 1]
            assert (pixels == pixels[0]).all()
            colours.append(tuple(pixels[0]))
        # Overlapping instances can only be told apart when their colours differ.
        assert len(set(colours)) == len(colours)


def test_default_world_invariants_on_a_larger_sample():
    data = make_shapes(200, seed=5)
    check_world(data, (1, 4), 0.25)
    assert data.class_names == ("circle", "square", "triangle")
    assert set(np.unique(data.labels)) == {-1, 0, 1, 2}
    assert data.num_objects.min() == 1 and data.num_objects.max() == 4


def test_no_overlap_means_every_instance_is_whole():
    data = make_shapes(50, objects=(3, 5), overlap=0.0, seed=2)
    valid = data.labels >= 0
    np.testing.assert_array_equal(data.masks.sum(axis=(2, 3))[valid], data.full_areas[valid])


def test_same_seed_same_data_and_other_seed_other_data():
    a = make_shapes(12, seed=3, background="clutter", noise=5.0, rotation=True)
    b = make_shapes(12, seed=3, background="clutter", noise=5.0, rotation=True)
    c = make_shapes(12, seed=4, background="clutter", noise=5.0, rotation=True)
    for name in ("images", "boxes", "labels", "masks", "semantic_masks", "instance_ids", "full_areas"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.images, c.images)


def test_image_i_depends_only_on_seed_and_i():
    whole = make_shapes(20, seed=9)
    prefix = make_shapes(7, seed=9)
    np.testing.assert_array_equal(whole.images[:7], prefix.images)
    np.testing.assert_array_equal(whole.boxes[:7], prefix.boxes)
    for chunk_size in (3, 8):
        chunks = list(iter_shapes(20, chunk_size=chunk_size, seed=9))
        assert [len(c) for c in chunks][:-1] == [chunk_size] * (len(chunks) - 1)
        np.testing.assert_array_equal(np.concatenate([c.images for c in chunks]), whole.images)
        np.testing.assert_array_equal(np.concatenate([c.masks for c in chunks]), whole.masks)
        np.testing.assert_array_equal(np.concatenate([c.labels for c in chunks]), whole.labels)


def test_make_shapes_larger_than_one_internal_chunk_matches_iteration():
    eager = make_shapes(300, image_size=24, size=(4, 8), seed=1)
    streamed = list(iter_shapes(300, chunk_size=100, image_size=24, size=(4, 8), seed=1))
    np.testing.assert_array_equal(eager.instance_ids, np.concatenate([c.instance_ids for c in streamed]))
    np.testing.assert_array_equal(eager.semantic_masks, np.concatenate([c.semantic_masks for c in streamed]))


def resident_bytes() -> int:
    """Resident memory of this process (Linux: /proc/self/statm)."""
    import os

    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not __import__("os").path.exists("/proc/self/statm"), reason="needs Linux /proc")
def test_streaming_ten_thousand_images_keeps_memory_flat():
    n, chunk = 10_000, 256
    per_image = 64 * 64 * 3 + 4 * 64 * 64 + 2 * 64 * 64  # image + masks + two id maps, in bytes
    samples, total = [resident_bytes()], 0
    for data in iter_shapes(n, chunk_size=chunk, image_size=64, seed=0):
        total += len(data)
        samples.append(resident_bytes())
        del data
    assert total == n
    growth = max(samples) - samples[0]
    # Holding all 10,000 images would take n * per_image (about 370 MiB); streaming holds
    # one chunk at a time, so memory may wobble by a few chunks but must not grow with n.
    assert growth < 8 * chunk * per_image, f"resident memory grew by {growth / 2**20:.1f} MiB"


def test_one_chunk_peak_allocation_is_bounded():
    chunk = 256
    per_image = 64 * 64 * 3 + 4 * 64 * 64 + 2 * 64 * 64
    tracemalloc.start()
    try:
        for _ in iter_shapes(2 * chunk, chunk_size=chunk, image_size=64, seed=0):
            pass
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * chunk * per_image, f"peak {peak / 2**20:.1f} MiB"


@pytest.mark.parametrize(
    "box_format",
    ["xyxy", "yxyx", "xywh", "center_xywh", "center_yxhw", "rel_xyxy", "rel_yxyx", "rel_xywh", "rel_center_xywh"],
)
def test_box_formats_match_keras(box_format):
    import keras

    size = (48, 80)  # not square, so that x and y mix-ups show
    reference = make_shapes(6, image_size=size, seed=1)
    data = make_shapes(6, image_size=size, seed=1, bounding_box_format=box_format)
    assert data.bounding_box_format == box_format
    expected = keras.ops.convert_to_numpy(
        keras.utils.bounding_boxes.convert_format(reference.boxes, "xyxy", box_format, height=size[0], width=size[1])
    )
    valid = reference.labels >= 0
    np.testing.assert_allclose(data.boxes[valid], expected[valid], rtol=1e-6, atol=1e-6)
    assert (data.boxes[~valid] == -1).all()
    # And back: the inverse conversion (used by the COCO export and the plots) agrees with Keras.
    back = convert_format(data.boxes, box_format, "xyxy", *size)
    keras_back = keras.ops.convert_to_numpy(
        keras.utils.bounding_boxes.convert_format(data.boxes, box_format, "xyxy", height=size[0], width=size[1])
    )
    np.testing.assert_allclose(back[valid], reference.boxes[valid], atol=1e-4)
    np.testing.assert_allclose(back[valid], keras_back[valid], atol=1e-4)


def test_fast_disk_matches_scikit_image():
    rng = np.random.default_rng(0)
    for _ in range(200):
        cy, cx = rng.uniform(-5, 45, size=2)
        radius = rng.uniform(0.6, 15)
        expected = np.zeros((40, 30), dtype=bool)
        expected[disk((cy, cx), radius, shape=(40, 30))] = True
        got = np.zeros((40, 30), dtype=bool)
        got[fast_disk(cy, cx, radius, 40, 30)] = True
        np.testing.assert_array_equal(got, expected)


def test_indexing_and_keras_dict():
    data = make_shapes(5, objects=(1, 3), seed=0)
    assert len(data[1:3]) == 2 and len(data[2]) == 1
    np.testing.assert_array_equal(data[2].masks[0], data.masks[2])
    batch = data.to_keras_dict(instance_ids=True)
    assert batch["images"].dtype == np.float32 and batch["images"].max() <= 1.0
    np.testing.assert_allclose(batch["images"] * 255, data.images, atol=1e-3)
    assert batch["bounding_boxes"]["boxes"].shape == (5, 3, 4)
    assert batch["segmentation_masks"].shape == (5, 64, 64, 2)
    np.testing.assert_array_equal(batch["segmentation_masks"][..., 0], data.semantic_masks)
    np.testing.assert_array_equal(batch["segmentation_masks"][..., 1], data.instance_ids)


def test_single_shapes():
    data = make_single_shapes(30, image_size=48, classes=("circle", "star"), seed=4)
    assert data.images.shape == (30, 48, 48, 3)
    assert data.labels.shape == (30,) and set(np.unique(data.labels)) <= {0, 1}
    assert data.boxes.shape == (30, 4) and data.masks.shape == (30, 48, 48)
    for i in range(30):
        assert list(data.boxes[i]) == reference_box(data.masks[i])


def test_clutter_and_noise_change_pixels_but_not_geometry():
    plain = make_shapes(5, seed=8, background="black")
    noisy = make_shapes(5, seed=8, background="black", noise=10.0)
    np.testing.assert_array_equal(plain.masks, noisy.masks)
    assert np.abs(plain.images.astype(int) - noisy.images.astype(int)).mean() > 3


def test_every_shape_class_can_be_drawn():
    data = make_shapes(24, image_size=64, classes=SHAPE_NAMES, objects=(3, 3), size=(14, 20), overlap=0.0, seed=0)
    check_world(data, (3, 3), 0.0)
    assert len(np.unique(data.labels)) >= 8
