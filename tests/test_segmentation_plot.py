"""Tests of cnncourse.segmentation.plot: the palette, coloured masks, and the
image | truth | prediction figure with its legend of class colours."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from cnncourse.data import make_shapes  # noqa: E402
from cnncourse.segmentation import class_colours, colourize, show_segmentation  # noqa: E402


@pytest.fixture(scope="module")
def shapes():
    data = make_shapes(5, image_size=32, seed=0)
    return data, ("background",) + tuple(data.class_names)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_palette_is_fixed_distinct_and_dark_for_background():
    colours = class_colours(25)
    assert colours.shape == (25, 3) and colours.dtype == np.float64
    assert np.all((colours >= 0) & (colours <= 1))
    assert colours[0].max() <= 0.25  # background dark
    assert len({tuple(np.round(c, 4)) for c in colours}) == 25
    np.testing.assert_array_equal(class_colours(4), colours[:4])  # a class' colour never depends on C
    np.testing.assert_allclose(colours[1], np.array([31, 119, 180]) / 255)  # tab10, as data.show_detections
    with pytest.raises(ValueError, match="num_classes"):
        class_colours(0)


def test_colourize_maps_each_label_to_its_colour_and_ignored_to_white():
    mask = np.array([[0, 1], [2, 255]], dtype=np.uint8)
    rgb = colourize(mask, 3, ignore_index=255)
    palette = class_colours(3)
    assert rgb.shape == (2, 2, 3)
    np.testing.assert_array_equal(rgb[0, 0], palette[0])
    np.testing.assert_array_equal(rgb[0, 1], palette[1])
    np.testing.assert_array_equal(rgb[1, 0], palette[2])
    np.testing.assert_array_equal(rgb[1, 1], [1.0, 1.0, 1.0])
    assert colourize(np.zeros((2, 4, 5), int), 2).shape == (2, 4, 5, 3)


@pytest.mark.parametrize("call, error, message", [
    (lambda: colourize(np.array([[0, 3]]), 3), ValueError, r"labels in \[0, 3\); got 3"),
    (lambda: colourize(np.array([[0, 255]]), 3), ValueError, "got 255"),
    (lambda: colourize(np.zeros((2, 2)), 3), TypeError, "mask"),
    (lambda: colourize(np.zeros((2, 2), int), 3, ignore_index="x"), TypeError, "ignore_index"),
])
def test_colourize_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()


def _image_axes(fig):
    return [ax for ax in fig.axes if ax.get_images()]


def test_figure_layout_titles_and_legend(shapes):
    data, names = shapes
    truth = data.semantic_masks
    noisy = truth.copy()
    noisy[:, :4] = 0
    fig = show_segmentation(data.images, truth, {"FCN": noisy, "U-Net": truth}, class_names=names, count=3)
    axes = _image_axes(fig)
    assert len(fig.axes) == 3 * 4 and len(axes) == 12
    assert [ax.get_title() for ax in fig.axes[:4]] == ["image", "truth", "FCN", "U-Net"]
    assert all(ax.get_title() == "" for ax in fig.axes[4:])
    legend_labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend_labels == list(names)
    # The truth panel of row 0 shows the colours of its mask.
    np.testing.assert_allclose(axes[1].get_images()[0].get_array(), colourize(truth[0], len(names)))
    # The FCN panel shows the noisy prediction, not the truth.
    np.testing.assert_allclose(axes[2].get_images()[0].get_array(), colourize(noisy[0], len(names)))


def test_single_prediction_array_no_prediction_titles_and_ignore(shapes):
    data, names = shapes
    truth = data.semantic_masks.copy()
    truth[:, 0, :] = 255
    fig = show_segmentation(data.images, truth, data.semantic_masks, class_names=names, ignore_index=255,
                            titles=[f"#{i}" for i in range(5)], count=10)
    assert len(fig.axes) == 5 * 3  # count is capped by N
    assert fig.axes[0].get_title() == "image\n#0" and fig.axes[3].get_title() == "#1"
    assert fig.axes[2].get_title() == "prediction"
    assert [t.get_text() for t in fig.legends[0].get_texts()] == list(names) + ["ignored"]
    fig = show_segmentation(data.images, truth[..., None], class_names=names, ignore_index=255, count=2)
    assert len(fig.axes) == 2 * 2


@pytest.mark.parametrize("change, error, message", [
    (lambda d, t, n: dict(images=d.images[:, :10]), ValueError, "truth must have shape"),
    (lambda d, t, n: dict(truth=t[:3]), ValueError, "truth must have shape"),
    (lambda d, t, n: dict(predictions=t[:, :5]), ValueError, "predictions must have shape"),
    (lambda d, t, n: dict(predictions={"U-Net": t[:2]}), ValueError, r"predictions\['U-Net'\] must have shape"),
    (lambda d, t, n: dict(predictions={"truth": t}), ValueError, "taken"),
    (lambda d, t, n: dict(predictions=t.astype("float32")), TypeError, "predictions"),
    (lambda d, t, n: dict(images=d.images[0]), ValueError, "images"),
    (lambda d, t, n: dict(class_names="background"), TypeError, "class_names"),
    (lambda d, t, n: dict(class_names=n[:2]), ValueError, "labels in"),
    (lambda d, t, n: dict(titles=["a"]), ValueError, "titles"),
    (lambda d, t, n: dict(count=0), ValueError, "count"),
])
def test_bad_shapes_and_arguments(shapes, change, error, message):
    data, names = shapes
    kwargs = dict(images=data.images, truth=data.semantic_masks, predictions=None, class_names=names)
    kwargs.update(change(data, data.semantic_masks, names))
    with pytest.raises(error, match=message):
        show_segmentation(kwargs.pop("images"), kwargs.pop("truth"), kwargs.pop("predictions"), **kwargs)
