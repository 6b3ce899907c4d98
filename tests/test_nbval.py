"""nbval on solutions/ catches a training cell that stops learning and a changed checked output."""

import subprocess
import sys
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
WELCOME = REPO / "solutions" / "00_welcome.ipynb"


def run_nbval(notebook: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "-c", str(REPO / "pyproject.toml"), str(notebook), "-q"],
                          cwd=REPO, capture_output=True, text=True, timeout=600)


def edited_copy(tmp_path: Path, old: str, new: str) -> Path:
    nb = nbformat.read(WELCOME, as_version=4)
    cells = [c for c in nb.cells if old in c.source]
    assert len(cells) == 1, f"expected one cell containing {old!r}"
    cells[0].source = cells[0].source.replace(old, new)
    copy = tmp_path / WELCOME.name
    nbformat.write(nb, copy)
    return copy


def test_broken_training_cell_fails_nbval(tmp_path):
    broken = edited_copy(tmp_path, "keras.optimizers.Adam(3e-3)", "keras.optimizers.Adam(0.0)")  # learns nothing
    result = run_nbval(broken)
    assert result.returncode != 0
    assert "test accuracy of the demo network" in result.stdout


def test_changed_checked_output_fails_nbval(tmp_path):
    changed = edited_copy(tmp_path, "answer = 4 + 4", "answer = 4 + 5")  # an NBVAL_CHECK_OUTPUT cell
    result = run_nbval(changed)
    assert result.returncode != 0
    assert "got:      9" in result.stdout


def test_quick_profile_notebook_prints_the_same_metrics_twice(tmp_path):
    from cnncourse.grading.execute import execute_notebook

    outputs = []
    for run in range(2):
        copy = tmp_path / f"run{run}" / WELCOME.name
        copy.parent.mkdir()
        copy.write_bytes(WELCOME.read_bytes())
        assert execute_notebook(copy, profile="quick", log=lambda line: None).ok
        nb = nbformat.read(copy, as_version=4)
        training = [c for c in nb.cells if "model.fit(" in c.source]
        outputs.append([o.get("text", "") for c in training for o in c.outputs if o.output_type == "stream"])
    assert "test accuracy" in "".join(outputs[0])
    assert outputs[0] == outputs[1]
