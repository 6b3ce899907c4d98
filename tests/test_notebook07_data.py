"""Notebook 07's data cell in the full profile: the Oxford pets branch, and its fallback.

CI runs notebook 07 in the quick profile (the shapes world), so the pets branch of its data cell
would otherwise first run on a GPU runner. Here the cell runs as written, on
``tfds.testing.mock_data`` (pets present) and with no prepared data (the fallback), never with
a download.
"""

from __future__ import annotations

import types
from pathlib import Path

import nbformat
import numpy as np
import pytest

from cnncourse import config

tfds = pytest.importorskip("tensorflow_datasets")

SOLUTION = Path(__file__).resolve().parents[1] / "solutions" / "07_segmentation.ipynb"


def _cell(marker: str) -> str:
    cells = [c.source for c in nbformat.read(SOLUTION, as_version=4).cells
             if c.cell_type == "code" and marker in c.source]
    assert len(cells) == 1, f"expected one cell of {SOLUTION.name} containing {marker!r}, found {len(cells)}"
    return cells[0]


def _run_data_cell(**overrides) -> dict:
    full = dict(config.settings("07_segmentation", "full"))
    namespace = {"cfg": types.SimpleNamespace(**{**full, "train_images": 5, "test_images": 3, **overrides})}
    exec(_cell("from cnncourse import data, segmentation"), namespace)
    exec(_cell("def pets_split("), namespace)
    return namespace


def test_pets_branch_gives_float_images_and_integer_masks_with_the_outline_ignored():
    with tfds.testing.mock_data(num_examples=8):
        ns = _run_data_cell()
    size = config.settings("07_segmentation", "full").image_size
    assert ns["source"] == "Oxford-IIIT pets" and ns["seg_names"] == ("background", "pet") and ns["num_classes"] == 2
    assert ns["x_train"].shape == (5, size, size, 3) and ns["x_test"].shape == (3, size, size, 3)
    assert ns["x_train"].dtype == np.float32 and 0 <= ns["x_train"].min() and ns["x_train"].max() <= 1
    for masks, n in ((ns["y_train"], 5), (ns["y_test"], 3)):
        assert masks.shape == (n, size, size) and masks.dtype == np.int32
        assert set(np.unique(masks)) <= {0, 1, ns["IGNORE"]}


def test_without_prepared_pets_the_cell_says_so_and_uses_the_shapes_world(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))  # an empty tfds folder: nothing prepared
    ns = _run_data_cell(image_size=64)
    printed = capsys.readouterr().out
    assert "oxford_iiit_pet" in printed and "larger shapes world instead" in printed
    assert ns["source"] == "shapes world" and ns["num_classes"] == 4
    assert ns["x_train"].shape == (5, 64, 64, 3) and ns["y_train"].dtype == np.int32
