"""Box- and mask-aware augmentation: property tests on random shapes-world batches.

After every transform: every kept box that lies inside the image is the tight box of its
instance's visible mask (exactly, or within one pixel for zooms), a box cut by the border
is clipped and still bounds its visible pixels, an instance that left the image has its box
and label dropped (-1, in place), labels stay on their rows, integer masks stay integer.
With an instance-id channel every kept box is tight by construction. Each Keras 3.15 bug
named in DESIGN.md is shown on Keras's own layer (when still present) and ours is shown right.
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import functools  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

from cnncourse import augment  # noqa: E402
from cnncourse.data import make_shapes  # noqa: E402


def _batch(seed, size=(40, 48), n=12):
    shapes = make_shapes(n, image_size=size, objects=(1, 5), seed=seed, overlap=0.3)
    data = shapes.to_keras_dict(instance_ids=True)
    return shapes, data


def _tight(ids, j):
    ys, xs = np.nonzero(ids == j + 1)
    if len(xs) == 0:
        return None
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float32)


def box_report(out, labels_before, strict=True):
    """Per box: ("dropped", instance gone) or ("kept", max |box - tight box of its mask|,
    touches the border, bounds its mask) or ("kept_empty", touches the border)."""
    boxes = np.asarray(out["bounding_boxes"]["boxes"])
    labels = np.asarray(out["bounding_boxes"]["labels"])
    ids = np.asarray(out["segmentation_masks"])[..., 1]
    height, width = ids.shape[1:]
    rows = []
    for i in range(len(boxes)):
        for j in range(boxes.shape[1]):
            tight = _tight(ids[i], j)
            box = boxes[i, j]
            border = box[0] <= 0 or box[1] <= 0 or box[2] >= width or box[3] >= height
            if labels[i, j] < 0:
                assert not strict or np.all(box == -1), "a dropped box must be a -1 row"
                rows.append(("dropped", tight is None or labels_before[i, j] < 0))
                continue
            assert labels[i, j] == labels_before[i, j], "labels must stay on their rows"
            if tight is None:
                rows.append(("kept_empty", bool(border)))
                continue
            bounds = box[0] <= tight[0] and box[1] <= tight[1] and box[2] >= tight[2] and box[3] >= tight[3]
            rows.append(("kept", float(np.abs(box - tight).max()), bool(border), bool(bounds)))
    return rows


TRANSFORMS = {
    "flip": lambda d, **k: augment.random_flip(d, vertical=True, **k),
    "translation": functools.partial(augment.random_translation, max_shift=0.3),
    "crop": functools.partial(augment.random_crop, size=(28, 30)),
    "scale_crop": functools.partial(augment.random_scale_crop, scale=(0.6, 1.6)),
}
EXACT = {"flip", "translation", "crop"}


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_boxes_follow_masks_without_instance_channel(name, seed):
    shapes, data = _batch(seed)
    out = TRANSFORMS[name](data, seed=seed)
    assert out["segmentation_masks"].dtype == tf.int32
    values = set(np.unique(np.asarray(out["segmentation_masks"][..., 0]))) - {0}
    assert values <= set(np.unique(shapes.semantic_masks)), "mask values must stay class ids"
    rows = box_report(out, shapes.labels)
    kept = [r for r in rows if r[0] == "kept"]
    assert kept, "some boxes must be kept"
    # without masks, a clipped box may be kept although its instance's visible pixels left
    assert all(r[1] for r in rows if r[0] == "kept_empty"), "a box inside the image without pixels"
    assert all(r[1] for r in rows if r[0] == "dropped"), "a box was dropped though its instance is visible"
    inside = [r for r in kept if not r[2]]
    tolerance = 0 if name in EXACT else 1
    assert max(r[1] for r in inside) <= tolerance, f"{name}: a box inside the image is not its mask's tight box"
    if name in EXACT:
        assert all(r[3] for r in kept), "a clipped box must still bound its visible pixels"


@pytest.mark.parametrize("name", sorted(TRANSFORMS) + ["rotation", "rotation90"])
@pytest.mark.parametrize("seed", [0, 3])
def test_with_instance_channel_every_kept_box_is_tight(name, seed):
    shapes, data = _batch(seed, size=(40, 40))
    transforms = dict(TRANSFORMS, rotation=functools.partial(augment.random_rotation, max_degrees=45),
                      rotation90=augment.random_rotation90)  # fmt: skip
    out = transforms[name](data, seed=seed, instance_channel=1)
    rows = box_report(out, shapes.labels)
    kept = [r for r in rows if r[0] == "kept"]
    assert kept and max(r[1] for r in kept) == 0
    assert not [r for r in rows if r[0] == "kept_empty"]
    assert all(r[1] for r in rows if r[0] == "dropped")


def test_boxes_that_leave_the_image_are_dropped_in_place():
    shapes, data = _batch(4)
    shift = np.zeros((len(shapes), 3, 3), np.float32)
    shift[:] = np.eye(3)
    shift[:, 0, 2] = 30  # 30 px to the right on a 48-px-wide image
    out = augment.apply_affine(data, shift)
    boxes, labels = np.asarray(out["bounding_boxes"]["boxes"]), np.asarray(out["bounding_boxes"]["labels"])
    gone = (shapes.boxes[..., 0] + 30 > 47) & (shapes.labels >= 0)
    assert gone.any() and (~gone & (shapes.labels >= 0)).any()
    assert np.all(labels[gone] == -1) and np.all(boxes[gone] == -1)
    stay = ~gone & (shapes.labels >= 0)
    assert np.array_equal(labels[stay], shapes.labels[stay])
    np.testing.assert_array_equal(boxes[stay][:, 2], np.minimum(shapes.boxes[stay][:, 2] + 30, 48))


def test_rotation_with_boxes_needs_the_instance_channel():
    _, data = _batch(0)
    with pytest.raises(ValueError, match="instance_channel"):
        augment.random_rotation(data, seed=0)
    segmentation_only = {"images": data["images"], "segmentation_masks": data["segmentation_masks"]}
    out = augment.random_rotation(segmentation_only, seed=0)
    assert out["segmentation_masks"].dtype == tf.int32 and "bounding_boxes" not in out


def test_float_masks_and_bad_dicts_are_refused_with_a_clear_message():
    _, data = _batch(0)
    with pytest.raises(TypeError, match="segmentation_masks.*integer"):
        augment.random_flip(dict(data, segmentation_masks=data["segmentation_masks"].astype("float32")))
    with pytest.raises(TypeError, match="Keras dict"):
        augment.random_flip(data["images"])
    with pytest.raises(ValueError, match="boxes"):
        augment.random_flip(dict(data, bounding_boxes={"boxes": data["bounding_boxes"]["boxes"]}))


def test_boxes_from_instance_ids_matches_numpy():
    shapes, _ = _batch(5)
    boxes, present = augment.boxes_from_instance_ids(shapes.instance_ids, shapes.boxes.shape[1])
    np.testing.assert_array_equal(np.asarray(present), shapes.labels >= 0)
    np.testing.assert_array_equal(np.asarray(boxes), shapes.boxes)


def test_dataset_pipeline_is_deterministic_and_keeps_dtypes():
    shapes, _ = _batch(6, n=16)
    transforms = [augment.random_flip, functools.partial(augment.random_scale_crop, scale=(0.8, 1.2))]

    def run():
        ds = augment.augment_detection_dataset(shapes.to_dataset(batch_size=8, instance_ids=True), transforms, seed=3)
        return [b for b in ds]

    first, second = run(), run()
    assert first[0]["segmentation_masks"].dtype == tf.int32
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a["images"].numpy(), b["images"].numpy())
        np.testing.assert_array_equal(a["bounding_boxes"]["boxes"].numpy(), b["bounding_boxes"]["boxes"].numpy())
    assert not np.array_equal(first[0]["images"].numpy(), first[1]["images"].numpy()[: len(first[0]["images"])])


# ---------------------------------------------------------------- Keras 3.15 bugs
def _fresh(data):
    """A deep copy (Keras's layers convert the boxes of the dict they are given in place)."""
    return {
        "images": tf.constant(data["images"]),
        "bounding_boxes": {k: tf.constant(v) for k, v in data["bounding_boxes"].items()},
        "segmentation_masks": tf.constant(data["segmentation_masks"]),
    }


def test_random_crop_moves_boxes_with_the_window_keras_random_crop_does_not():
    shapes, data = _batch(7, size=(48, 48))
    ours = augment.random_crop(data, (30, 36), seed=1)
    rows = box_report(ours, shapes.labels)
    assert max(r[1] for r in rows if r[0] == "kept" and not r[2]) == 0
    # Keras's layer on the same batch: its boxes should also bound the cropped instances.
    layer = keras.layers.RandomCrop(30, 36, seed=1, bounding_box_format="xyxy")
    theirs = layer(_fresh(data), training=True)
    keras_rows = box_report({**theirs, "segmentation_masks": tf.cast(tf.round(theirs["segmentation_masks"]), tf.int32)},
                            shapes.labels, strict=False)  # fmt: skip
    worst = max(r[1] for r in keras_rows if r[0] == "kept")
    if worst <= 1:
        pytest.skip("Keras's RandomCrop moves boxes correctly in this version (the 3.15 bug is fixed)")
    assert worst > 1  # the checker above catches the swapped offsets


def test_mixup_detection_keeps_both_images_boxes_keras_mixup_does_not():
    shapes, data = _batch(8)
    data = {"images": data["images"], "bounding_boxes": data["bounding_boxes"]}
    ours = augment.mixup_detection(data, seed=2)
    batch, m = shapes.labels.shape
    assert ours["bounding_boxes"]["boxes"].shape == (batch, 2 * m, 4)
    assert ours["bounding_boxes"]["labels"].shape == (batch, 2 * m)
    np.testing.assert_array_equal(ours["bounding_boxes"]["labels"][:, :m], shapes.labels)
    partners = np.asarray(ours["bounding_boxes"]["labels"][:, m:])
    assert any(np.array_equal(partners[0], shapes.labels[k]) for k in range(batch))
    layer = keras.layers.MixUp(seed=2, bounding_box_format="xyxy")
    try:
        theirs = layer(_fresh({**data, "segmentation_masks": np.zeros((batch, 1, 1, 1), "int32")}), training=True)
    except Exception as error:  # noqa: BLE001 - any failure is the bug
        return print(f"Keras MixUp fails on boxes: {type(error).__name__}")
    labels = theirs["bounding_boxes"]["labels"]
    if tuple(labels.shape) == (batch, 2 * m):
        pytest.skip("Keras's MixUp keeps box labels aligned in this version")
    assert tuple(labels.shape) != tuple(theirs["bounding_boxes"]["boxes"].shape[:2])


def test_cutmix_refuses_boxes_clearly_keras_cutmix_cannot_handle_them():
    shapes, data = _batch(9)
    with pytest.raises(ValueError, match="cutmix_detection"):
        augment.cutmix({"images": data["images"], "bounding_boxes": data["bounding_boxes"]},
                       np.eye(3, dtype="float32")[np.maximum(shapes.labels[:, 0], 0)])  # fmt: skip
    layer = keras.layers.CutMix(seed=0, bounding_box_format="xyxy")
    try:
        out = layer(_fresh(data), training=True)
    except NotImplementedError:
        return
    boxes = out["bounding_boxes"]["boxes"].numpy()
    if not np.array_equal(boxes, data["bounding_boxes"]["boxes"]):
        pytest.skip("Keras's CutMix changes boxes in this version")
    # boxes passed through unchanged although pixels were pasted over them
    assert not np.array_equal(out["images"].numpy(), data["images"])


def test_integer_masks_stay_integer_keras_flip_turns_them_into_floats():
    shapes, data = _batch(10)
    ours = augment.random_flip(data, rate=1.0, seed=0)
    assert ours["segmentation_masks"].dtype == tf.int32
    np.testing.assert_array_equal(ours["segmentation_masks"].numpy(), data["segmentation_masks"][:, :, ::-1])
    theirs = keras.layers.RandomFlip("horizontal", seed=0, bounding_box_format="xyxy")(_fresh(data), training=True)
    if theirs["segmentation_masks"].dtype.is_integer:
        pytest.skip("Keras's RandomFlip keeps integer masks in this version")
    assert theirs["segmentation_masks"].dtype.is_floating


# ---------------------------------------------------------------- the transforms as Keras layers
# (id, factory taking **kwargs, largest |box - tight box| allowed for boxes away from the border)
LAYER_CASES = [
    ("flip", lambda **kw: augment.BoxMaskRandomFlip(vertical=True, seed=1, **kw), 0),
    ("translation", lambda **kw: augment.BoxMaskRandomTranslation(0.3, seed=1, **kw), 0),
    ("scale_crop", lambda **kw: augment.BoxMaskRandomScaleCrop((0.6, 1.6), seed=1, **kw), 1),
    ("crop", lambda **kw: augment.BoxMaskRandomCrop(24, 28, seed=1, **kw), 0),
    ("rotation", lambda **kw: augment.BoxMaskRandomRotation(45, instance_channel=1, seed=1, **kw), 0),
    ("rotation90", lambda **kw: augment.BoxMaskRandomRotation90(seed=1, **kw), 0),
]  # fmt: skip
LAYER_IDS = [c[0] for c in LAYER_CASES]


@pytest.fixture
def mixed_precision():
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    yield
    keras.config.set_dtype_policy(previous)


def _layer_batch(seed=11):
    return _batch(seed, size=(32, 32), n=8)


def _check_layer_output(out, shapes, tolerance):
    """The property tests above, on a layer's output."""
    assert out["segmentation_masks"].dtype == tf.int32, "integer masks must stay integer"
    assert out["bounding_boxes"]["labels"].dtype == tf.int32
    rows = box_report({k: (np.asarray(v, np.float32) if k == "images" else v) for k, v in out.items()}, shapes.labels)
    kept = [r for r in rows if r[0] == "kept"]
    assert kept, "some boxes must be kept"
    assert all(r[1] for r in rows if r[0] == "dropped"), "a box was dropped though its instance is visible"
    assert max(r[1] for r in kept if not r[2]) <= tolerance, "a box inside the image is not its mask's tight box"
    return rows


def _symbolic_inputs(data, image_dtype="float32"):
    keras_inputs = {
        "images": keras.Input(data["images"].shape[1:], dtype=image_dtype, name="images"),
        "bounding_boxes": {"boxes": keras.Input((None, 4), name="boxes"),
                           "labels": keras.Input((None,), dtype="int32", name="labels")},
        "segmentation_masks": keras.Input(data["segmentation_masks"].shape[1:], dtype="int32", name="segmentation_masks"),
    }  # fmt: skip
    return keras_inputs


def _as_tensors(data, image_dtype="float32"):
    return {
        "images": tf.constant(data["images"], image_dtype),
        "bounding_boxes": {k: tf.constant(v) for k, v in data["bounding_boxes"].items()},
        "segmentation_masks": tf.constant(data["segmentation_masks"]),
    }


@pytest.mark.parametrize("case", LAYER_CASES, ids=LAYER_IDS)
def test_layer_keras_round_trip_restores_config_and_is_identity_at_inference(case, tmp_path):
    _, factory, tolerance = case
    shapes, data = _layer_batch()
    layer = factory()
    inputs = _symbolic_inputs(data)
    model = keras.Model(inputs, layer(inputs, training=True))
    model.save(tmp_path / "m.keras")
    restored = keras.models.load_model(tmp_path / "m.keras")
    restored_layer = [lay for lay in restored.layers if isinstance(lay, augment.BoxMaskAugmentation)][0]
    assert type(restored_layer) is type(layer)
    assert restored_layer.get_config() == layer.get_config()
    same = layer(_as_tensors(data), training=False)
    np.testing.assert_array_equal(np.asarray(same["images"]), data["images"])
    np.testing.assert_array_equal(np.asarray(same["bounding_boxes"]["boxes"]), data["bounding_boxes"]["boxes"])
    out = restored(_as_tensors(data))
    assert not np.allclose(np.asarray(out["images"])[:, :24, :24], data["images"][:, :24, :24]), "must still augment"
    _check_layer_output(out, shapes, tolerance)


@pytest.mark.parametrize("case", LAYER_CASES, ids=LAYER_IDS)
def test_layer_is_its_function_with_the_drawn_seed(case):
    name, factory, _ = case
    _, data = _layer_batch()
    layer = factory(instance_channel=1) if name != "rotation" else factory()
    seed = layer.seed_generator.state.numpy().astype("int64")
    out = layer(_as_tensors(data), training=True)
    functions = {"flip": lambda d, s: augment.random_flip(d, vertical=True, seed=s, instance_channel=1),
                 "translation": lambda d, s: augment.random_translation(d, max_shift=0.3, seed=s, instance_channel=1),
                 "scale_crop": lambda d, s: augment.random_scale_crop(d, scale=(0.6, 1.6), seed=s, instance_channel=1),
                 "crop": lambda d, s: augment.random_crop(d, (24, 28), seed=s, instance_channel=1),
                 "rotation": lambda d, s: augment.random_rotation(d, max_degrees=45, seed=s, instance_channel=1),
                 "rotation90": lambda d, s: augment.random_rotation90(d, seed=s, instance_channel=1)}  # fmt: skip
    expected = functions[name](data, seed)
    np.testing.assert_array_equal(np.asarray(out["segmentation_masks"]), np.asarray(expected["segmentation_masks"]))
    np.testing.assert_array_equal(np.asarray(out["bounding_boxes"]["boxes"]), np.asarray(expected["bounding_boxes"]["boxes"]))
    np.testing.assert_allclose(np.asarray(out["images"]), np.asarray(expected["images"]), atol=1e-6)


@pytest.mark.parametrize("case", LAYER_CASES, ids=LAYER_IDS)
def test_layer_jit_compiled_call_moves_boxes_and_masks_validly(case):
    _, factory, tolerance = case
    shapes, data = _layer_batch()
    layer = factory()
    compiled = tf.function(lambda d: layer(d, training=True), jit_compile=True)
    first, second = compiled(_as_tensors(data)), compiled(_as_tensors(data))
    assert not np.array_equal(first["images"].numpy(), second["images"].numpy()), "each call must draw a new transform"
    for out in (first, second):
        _check_layer_output(out, shapes, tolerance)


@pytest.mark.parametrize("case", LAYER_CASES, ids=LAYER_IDS)
def test_layer_mixed_float16_keeps_half_images_and_integer_masks(case, mixed_precision):
    _, factory, tolerance = case
    shapes, data = _layer_batch()
    layer = factory()
    out = layer(_as_tensors(data, "float16"), training=True)
    assert out["images"].dtype == tf.float16
    _check_layer_output(out, shapes, tolerance)


def test_layers_refuse_bad_inputs_clearly():
    _, data = _layer_batch()
    with pytest.raises(TypeError, match="Keras dict"):
        augment.BoxMaskRandomFlip()(tf.constant(data["images"]))
    with pytest.raises(ValueError, match="instance_channel"):
        augment.BoxMaskRandomRotation(30)(_as_tensors(data), training=True)
    with pytest.raises(ValueError, match="rate"):
        augment.BoxMaskRandomFlip(rate=2.0)
    with pytest.raises(ValueError, match="instance_channel"):
        augment.BoxMaskRandomTranslation(instance_channel=-1)
    with pytest.raises(ValueError, match="height"):
        augment.BoxMaskRandomCrop(0, 4)


def test_layers_run_in_a_tf_data_pipeline():
    shapes, _ = _batch(12, size=(32, 32), n=16)
    layer = augment.BoxMaskRandomScaleCrop((0.8, 1.3), instance_channel=1, seed=0)
    ds = shapes.to_dataset(batch_size=8, instance_ids=True).map(lambda d: layer(d, training=True))
    batches = list(ds)
    assert len(batches) == 2 and batches[0]["segmentation_masks"].dtype == tf.int32
    rows = box_report(batches[0], shapes.labels[:8])
    assert [r for r in rows if r[0] == "kept"] and max(r[1] for r in rows if r[0] == "kept") == 0


# ---------------------------------------------------------------- box-aware CutMix
def _cutmix_truth(data, seed, alpha=1.0):
    """The drawn partners, rectangles and pasted-pixel masks, and each instance's pixels."""
    from cnncourse.augment.mixing import _cutmix_draw
    from cnncourse.augment._seeds import seed_pair

    partner, rect, inside = _cutmix_draw(tf.shape(data["images"]), alpha, seed_pair(seed))
    return partner.numpy(), rect.numpy(), inside.numpy()


def _instance_pixels(ids, m):
    return np.stack([ids == j + 1 for j in range(m)], axis=1)  # (B, M, H, W)


def _bounds(box, pixels):
    ys, xs = np.nonzero(pixels)
    return box[0] <= xs.min() and box[1] <= ys.min() and box[2] >= xs.max() + 1 and box[3] >= ys.max() + 1


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_cutmix_detection_cuts_and_pastes_boxes_by_the_documented_rule(seed):
    shapes, data = _batch(20 + seed, size=(36, 40), n=10)
    min_visible = 0.3
    out = augment.cutmix_detection(data, seed=seed, min_visible=min_visible)
    partner, rect, inside = _cutmix_truth(data, seed)
    b, m = shapes.labels.shape
    boxes, labels = np.asarray(out["bounding_boxes"]["boxes"]), np.asarray(out["bounding_boxes"]["labels"])
    assert boxes.shape == (b, 2 * m, 4) and labels.shape == (b, 2 * m)
    assert out["segmentation_masks"].dtype == tf.int32
    images, masks = data["images"], data["segmentation_masks"]
    np.testing.assert_array_equal(np.asarray(out["images"]), np.where(inside[..., None], images[partner], images))
    np.testing.assert_array_equal(np.asarray(out["segmentation_masks"]), np.where(inside[..., None], masks[partner], masks))
    np.testing.assert_allclose(np.asarray(out["mix_weights"]), 1 - inside.mean(axis=(1, 2)), atol=1e-6)
    pixels = _instance_pixels(shapes.instance_ids, m)
    counts = {"kept": 0, "dropped": 0, "partner kept": 0, "partner dropped": 0}
    for i in range(b):
        y1, x1, y2, x2 = rect[i]
        for j in range(2 * m):
            own = j < m
            source, k = (i, j) if own else (partner[i], j - m)
            before = shapes.boxes[source, k]
            if shapes.labels[source, k] < 0:
                assert labels[i, j] == -1 and np.all(boxes[i, j] == -1), "padding must stay -1"
                continue
            bx1, by1, bx2, by2 = before
            cover = max(0, min(bx2, x2) - max(bx1, x1)) * max(0, min(by2, y2) - max(by1, y1)) / ((bx2 - bx1) * (by2 - by1))
            share = 1 - cover if own else cover
            visible = pixels[source, k] & (~inside[i] if own else inside[i])
            if share < min_visible or share == 0:
                assert labels[i, j] == -1 and np.all(boxes[i, j] == -1), (i, j, share)
                counts["dropped" if own else "partner dropped"] += 1
                continue
            assert labels[i, j] == shapes.labels[source, k], "labels must stay with their boxes"
            counts["kept" if own else "partner kept"] += 1
            box = boxes[i, j]
            assert box[0] >= bx1 and box[1] >= by1 and box[2] <= bx2 and box[3] <= by2, "a cut box must shrink, not grow"
            if not own:
                assert box[0] >= x1 and box[1] >= y1 and box[2] <= x2 and box[3] <= y2, "pasted boxes lie in the rectangle"
            if visible.any():
                assert _bounds(box, visible), (i, j, box, "must bound the visible pixels of its instance")
    assert all(counts.values()) or seed != 0, counts  # seed 0 shows every case
    assert counts["kept"] and counts["partner kept"]


def test_cutmix_detection_shortens_a_box_cut_across_its_whole_height():
    images = np.zeros((2, 10, 10, 1), "float32")
    boxes = np.array([[[2, 2, 8, 6]], [[0, 0, 1, 1]]], "float32")
    data = {"images": images, "bounding_boxes": {"boxes": boxes, "labels": np.array([[3], [4]], "int32")}}
    for seed in range(60):  # find draws whose rectangle spans the first box's rows and covers its right part
        partner, rect, _ = _cutmix_truth(data, seed)
        y1, x1, y2, x2 = rect[0]
        if partner[0] == 1 and y1 <= 2 and y2 >= 6 and 2 < x1 < 8 <= x2 and (x1 - 2) / 6 >= 0.25:
            out = augment.cutmix_detection(data, seed=seed)
            np.testing.assert_array_equal(np.asarray(out["bounding_boxes"]["boxes"])[0, 0], [2, 2, x1, 6])
            return
    pytest.fail("no draw cut the box's right part in 60 seeds")


@pytest.mark.parametrize("seed", [0, 5])
def test_cutmix_detection_with_instance_ids_gives_tight_boxes_and_pixel_shares(seed):
    shapes, data = _batch(30 + seed, size=(36, 40), n=10)
    out = augment.cutmix_detection(data, seed=seed, min_visible=0.4, instance_channel=1)
    partner, _, inside = _cutmix_truth(data, seed)
    b, m = shapes.labels.shape
    ids = np.asarray(out["segmentation_masks"][..., 1])
    expected_ids = np.where(inside, np.where(shapes.instance_ids[partner] > 0, shapes.instance_ids[partner] + m, 0),
                            shapes.instance_ids)  # fmt: skip
    np.testing.assert_array_equal(ids, expected_ids)
    boxes, labels = np.asarray(out["bounding_boxes"]["boxes"]), np.asarray(out["bounding_boxes"]["labels"])
    kept = 0
    for i in range(b):
        for j in range(2 * m):
            source, k = (i, j) if j < m else (partner[i], j - m)
            total = (shapes.instance_ids[source] == k + 1).sum()
            share = (ids[i] == j + 1).sum() / total if total else 0
            if share < 0.4 or share == 0:
                assert labels[i, j] == -1 and np.all(boxes[i, j] == -1)
                continue
            kept += 1
            assert labels[i, j] == shapes.labels[source, k]
            tight = _tight(ids[i], j)
            np.testing.assert_array_equal(boxes[i, j], tight)
    assert kept


def test_cutmix_detection_layer_round_trip_jit_and_mixed_precision(tmp_path, mixed_precision):
    shapes, data = _layer_batch()
    keras.config.set_dtype_policy("float32")
    layer = augment.BoxMaskCutMix(alpha=1.0, min_visible=0.3, instance_channel=1, seed=2)
    inputs = _symbolic_inputs(data)
    model = keras.Model(inputs, layer(inputs, training=True))
    model.save(tmp_path / "m.keras")
    restored = keras.models.load_model(tmp_path / "m.keras")
    restored_layer = [lay for lay in restored.layers if isinstance(lay, augment.BoxMaskCutMix)][0]
    assert restored_layer.get_config() == layer.get_config()
    same = layer(_as_tensors(data), training=False)
    np.testing.assert_array_equal(np.asarray(same["images"]), data["images"])
    seed = layer.seed_generator.state.numpy().astype("int64")
    out = layer(_as_tensors(data), training=True)
    expected = augment.cutmix_detection(data, min_visible=0.3, seed=seed, instance_channel=1)
    np.testing.assert_array_equal(np.asarray(out["bounding_boxes"]["boxes"]), np.asarray(expected["bounding_boxes"]["boxes"]))
    compiled = tf.function(lambda d: layer(d, training=True), jit_compile=True)
    first, second = compiled(_as_tensors(data)), compiled(_as_tensors(data))
    assert not np.array_equal(first["images"].numpy(), second["images"].numpy())
    for result in (first, second):
        ids = result["segmentation_masks"].numpy()[..., 1]
        for i, j in zip(*np.nonzero(result["bounding_boxes"]["labels"].numpy() >= 0)):
            np.testing.assert_array_equal(result["bounding_boxes"]["boxes"].numpy()[i, j], _tight(ids[i], j))
    keras.config.set_dtype_policy("mixed_float16")
    half = augment.BoxMaskCutMix(seed=2)(_as_tensors(data, "float16"), training=True)
    assert half["images"].dtype == tf.float16 and half["segmentation_masks"].dtype == tf.int32


def test_cutmix_detection_beta_sampler_has_the_beta_moments():
    from cnncourse.augment.mixing import _beta_compilable

    for alpha in (0.4, 1.0, 2.0):
        draws = _beta_compilable([40000], alpha, tf.constant([3, 4], tf.int64)).numpy()
        assert draws.min() >= 0 and draws.max() <= 1
        assert draws.mean() == pytest.approx(0.5, abs=0.01)
        assert draws.var() == pytest.approx(1 / (4 * (2 * alpha + 1)), rel=0.05)


def test_cutmix_detection_refuses_bad_input_clearly():
    _, data = _batch(0)
    with pytest.raises(ValueError, match="bounding_boxes"):
        augment.cutmix_detection({"images": data["images"]})
    with pytest.raises(ValueError, match="min_visible"):
        augment.cutmix_detection(data, min_visible=1.5)
    with pytest.raises(ValueError, match="alpha"):
        augment.cutmix_detection(data, alpha=0)
