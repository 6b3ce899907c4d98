"""Gallery helpers: figures hold what they were given, and save as readable PNGs."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from cnncourse.data import load_digits, make_shapes, show_detections, show_images, show_shapes  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def rectangles(ax):
    return [p for p in ax.patches if isinstance(p, Rectangle)]


def test_show_shapes_draws_one_box_and_name_per_instance(tmp_path):
    data = make_shapes(6, seed=0)
    fig = show_shapes(data, count=6)
    axes = [ax for ax in fig.axes if ax.images]
    assert len(axes) == 6
    for i, ax in enumerate(axes):
        boxes = rectangles(ax)
        assert len(boxes) == data.num_objects[i]
        for j, box in enumerate(boxes):
            x0, y0, x1, y1 = data.boxes[i, j]
            assert box.get_xy() == pytest.approx((x0, y0)) and box.get_width() == pytest.approx(x1 - x0)
        names = sorted(t.get_text() for t in ax.texts)
        assert names == sorted(data.class_names[k] for k in data.labels[i] if k >= 0)
    path = tmp_path / "gallery.png"
    fig.savefig(path)
    assert path.stat().st_size > 5_000


def test_masks_are_overlaid():
    data = make_shapes(2, objects=(2, 2), background="black", seed=1)
    plain = show_shapes(data, masks="none").axes[0].images[0].get_array()
    overlaid = show_shapes(data, masks="instance").axes[0].images[0].get_array()
    semantic = show_shapes(data, masks="semantic").axes[0].images[0].get_array()
    inside = data.masks[0].any(axis=0)
    assert not np.allclose(plain[inside], overlaid[inside])
    np.testing.assert_allclose(plain[~inside], overlaid[~inside])
    assert not np.allclose(plain[inside], semantic[inside])


def test_scores_and_other_formats():
    data = make_shapes(3, seed=2, bounding_box_format="rel_yxyx")
    scores = np.full(data.labels.shape, 0.87, dtype=np.float32)
    fig = show_detections(data.images, data.boxes, data.labels, scores=scores, class_names=data.class_names, bounding_box_format="rel_yxyx")
    text = [t.get_text() for t in fig.axes[0].texts]
    assert text and all(t.endswith("0.87") for t in text)
    box = rectangles(fig.axes[0])[0]
    ymin, xmin, ymax, xmax = data.boxes[0, 0] * 64
    assert box.get_xy() == pytest.approx((xmin, ymin), abs=1e-4)


def test_show_images_titles():
    data = load_digits()
    fig = show_images(data.train.images[:10], data.train.labels[:10], data.class_names, ncols=5)
    titles = [ax.get_title() for ax in fig.axes if ax.images]
    assert titles == [data.class_names[k] for k in data.train.labels[:10]]
    assert len(fig.axes) == 10


def test_bad_input():
    images = np.zeros((2, 8, 8, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match=r"images must have shape \(N, H, W\) or \(N, H, W, C\), got \(8, 8\)"):
        show_images(np.zeros((8, 8)))
    with pytest.raises(ValueError, match="images must have 1 or 3 channels"):
        show_images(np.zeros((2, 8, 8, 5)))
    with pytest.raises(TypeError, match="images must be a numeric array of dtype bool, int, unsigned int or float, got dtype <U1"):
        show_images(np.array([[["a"]]]))
    with pytest.raises(ValueError, match="labels must be given with boxes"):
        show_detections(images, np.zeros((2, 1, 4)))
    with pytest.raises(ValueError, match=r"boxes must have shape \(2, M, 4\), got \(2, 1, 3\)"):
        show_detections(images, np.zeros((2, 1, 3)), np.zeros((2, 1), dtype=int))
    with pytest.raises(ValueError, match="masks='outline' is not a known mask style"):
        show_shapes(make_shapes(1), masks="outline")
