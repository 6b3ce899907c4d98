"""Every solution notebook starts in the full profile: its set-up and data cells run on CPU.

CI runs the notebooks in the quick profile only, so a typo in a full-profile setting (a missing
key, a size a loader refuses, a dataset branch that breaks) would wait for a GPU run to show.
This test executes each solution notebook under ``CNNCOURSE_PROFILE=full`` from the top, and
stops *before the first cell that trains*, so it stays cheap:

- a kernel prelude replaces Keras's training entry points (``Model.fit``,
  ``Model.train_on_batch``, ``Optimizer.apply_gradients`` / ``apply``, which hand-written loops
  call) by a function that raises ``StopBeforeTraining``; the cell that raises it is where the
  run stops, successfully;
- a cell tagged ``trains`` (cell metadata ``tags``) stops the run before it is executed, for
  training the guard cannot see (or for an expensive cell that should not run here);
- so does the first exercise (an nbgrader answer cell): what comes before it is the set-up and
  the first data, and the rest of a notebook without training would repeat what nbval runs;
- every ``cfg.NAME`` a notebook reads anywhere is checked statically against both profiles'
  settings (:func:`test_every_setting_a_notebook_reads_exists_in_both_profiles`), so a typo
  after the point where the run stops fails too;
- any other error, in any cell before that point, fails the test with the cell and its error.

A notebook that never trains runs completely, in the full profile, checks included.
Notebook 03's MNIST branch (full profile, MNIST prepared in the tfds cache) is started too,
against ``tfds.testing.mock_data`` instead of a real MNIST.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from cnncourse.grading.generate import solution_paths
from cnncourse.grading.notebook_format import read_notebook

REPO = Path(__file__).resolve().parents[1]
SOLUTIONS = solution_paths(REPO / "solutions")
STOP_TAG = "trains"
CELL_TIMEOUT = 600

GUARD = '''
import keras as _keras


class StopBeforeTraining(BaseException):
    """Raised by the first training call: the full-profile start test ends there."""


def _stop_before_training(*args, **kwargs):
    raise StopBeforeTraining("training starts here")


for _owner, _name in ((_keras.Model, "fit"), (_keras.Model, "train_on_batch"),
                      (_keras.optimizers.Optimizer, "apply_gradients"), (_keras.optimizers.Optimizer, "apply")):
    setattr(_owner, _name, _stop_before_training)
del _owner, _name
'''

MOCK_MNIST = '''
import tensorflow_datasets as _tfds
from cnncourse import config as _config

_config.NOTEBOOK_SETTINGS["03_first_cnns"]["full"]["mnist_train_size"] = 100
_mock_mnist = _tfds.testing.mock_data(num_examples=5100)  # train[:5100] and test: 5100 random digits each
_mock_mnist.__enter__()
'''


def start_in_full_profile(path: Path, monkeypatch, prelude: str = "") -> dict:
    """Run ``path``'s cells in a fresh kernel, full profile, up to the first training; describe the run."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    monkeypatch.setenv("CNNCOURSE_PROFILE", "full")
    nb = read_notebook(path)
    client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}},
                            extra_arguments=["--IPKernelApp.log_level=ERROR"])
    run = {"cells": 0, "stopped_at": None, "why": "end of the notebook", "outputs": []}
    start = time.perf_counter()
    import nbformat

    nb.cells.insert(0, nbformat.v4.new_code_cell(GUARD + prelude, id="full-profile-guard"))
    with client.setup_kernel():
        client.execute_cell(nb.cells[0], 0)
        for index, cell in enumerate(nb.cells[1:]):
            if cell.cell_type != "code":
                continue
            if STOP_TAG in cell.metadata.get("tags", []):
                run.update(stopped_at=index, why=f"tagged {STOP_TAG!r}")
                break
            if cell.metadata.get("nbgrader", {}).get("solution"):
                run.update(stopped_at=index, why="first exercise")
                break
            try:
                client.execute_cell(cell, index + 1)
            except CellExecutionError as error:
                if error.ename == "StopBeforeTraining":
                    run.update(stopped_at=index, why="first training call")
                    break
                pytest.fail(f"{path.name}, cell {index + 1}, full profile: {error.ename}: {error.evalue}\n"
                            f"{cell.source[:600]}")
            run["cells"] += 1
            run["outputs"].append("".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream"))
    run["seconds"] = time.perf_counter() - start
    return run


@pytest.mark.parametrize("path", SOLUTIONS, ids=[p.stem for p in SOLUTIONS])
def test_setup_and_data_cells_run_in_the_full_profile(path, monkeypatch):
    run = start_in_full_profile(path, monkeypatch)
    text = "".join(run["outputs"])
    print(f"{path.name}: {run['cells']} code cells in {run['seconds']:.0f} s, stopped: {run['why']}"
          + (f" (cell {run['stopped_at'] + 1})" if run["stopped_at"] is not None else ""))
    assert " · profile full · " in text, "the setup line reports the full profile"
    assert run["cells"] >= 2, "at least the imports and the set-up ran"


def test_the_guard_stops_at_training_and_a_broken_setting_fails(tmp_path, monkeypatch):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import cnncourse, keras, numpy as np\ncfg = cnncourse.setup('00_welcome')"),
                nbformat.v4.new_code_cell("print('size', cfg.demo_train_size)"),
                nbformat.v4.new_code_cell("model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])\n"
                                          "model.compile('sgd', 'mse')\nmodel.fit(np.zeros((4, 2)), np.zeros(4))"),
                nbformat.v4.new_code_cell("raise RuntimeError('never reached')")]
    for index, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{index}"
    path = tmp_path / "demo.ipynb"
    nbformat.write(nb, path)
    run = start_in_full_profile(path, monkeypatch)
    assert (run["cells"], run["stopped_at"], run["why"]) == (2, 2, "first training call")
    assert "size 1200" in run["outputs"][1]  # the full profile's value

    nb.cells[1].source = "print('size', cfg.demo_train_sise)"  # a typo in a setting's name
    nbformat.write(nb, path)
    with pytest.raises(pytest.fail.Exception, match="cell 2, full profile: AttributeError: .*demo_train_sise"):
        start_in_full_profile(path, monkeypatch)

    nb.cells[1].source = "print('size', cfg.demo_train_size)"
    nb.cells[1].metadata["tags"] = [STOP_TAG]
    nbformat.write(nb, path)
    run = start_in_full_profile(path, monkeypatch)
    assert (run["cells"], run["stopped_at"], run["why"]) == (1, 1, "tagged 'trains'")


def test_notebook_03_takes_mnist_from_the_tfds_cache_in_the_full_profile(monkeypatch):
    path = REPO / "solutions" / "03_first_cnns.ipynb"
    run = start_in_full_profile(path, monkeypatch, prelude=MOCK_MNIST)
    text = "".join(run["outputs"])
    assert "data: MNIST (tfds cache)" in text
    assert "train (100, 28, 28, 1), val (5000, 28, 28, 1), test (5100, 28, 28, 1)" in text
    assert run["why"] == "first training call"


def test_notebook_03_says_it_falls_back_to_the_digits_without_mnist(monkeypatch, tmp_path):
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "empty_tfds"))
    path = REPO / "solutions" / "03_first_cnns.ipynb"
    run = start_in_full_profile(path, monkeypatch)
    text = "".join(run["outputs"])
    assert f"data: scikit-learn's digits (offline); MNIST is not prepared in {tmp_path / 'empty_tfds'}" in text
    assert "train (1257, 28, 28, 1)" in text


@pytest.mark.parametrize("path", SOLUTIONS, ids=[p.stem for p in SOLUTIONS])
def test_every_setting_a_notebook_reads_exists_in_every_profile(path):
    import ast

    from cnncourse import config

    stem = path.stem
    read = set()
    for cell in read_notebook(path).cells:
        if cell.cell_type != "code":
            continue
        source = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "cfg":
                read.add(node.attr)
    read -= {"profile", "notebook"}
    assert read, f"{path.name} reads no cfg setting"
    for profile in config.PROFILES:
        missing = sorted(read - set(config.settings(stem, profile)))
        assert not missing, f"{path.name} reads cfg.{', cfg.'.join(missing)}, which the {profile} profile does not define"
