"""The CI workflows and the GPU tooling, checked without GitHub and without a GPU.

- both workflow files validate against GitHub's workflow schema (check-jsonschema ships it:
  ``--builtin-schema vendor.github-workflows``, no network), and broken copies do not;
- what each workflow promises (CPU: make test twice, oneDNN on and off, pip cache; GPU: a
  runner label from a repository variable, the gpu extra, a GPU check first, nbval in the full
  profile, artifacts) is in the file, and ``make test-gpu`` has the same steps;
- the nbval recording plugin both use writes executed notebooks and a timing table;
- ``benchmarks/gpu_smoke.sh`` is valid shell, and its step logic (a table, non-zero exit on any
  failure, a stop when no GPU is seen) is exercised with a stand-in Python.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
WORKFLOWS = REPO / ".github" / "workflows"
CI, GPU = WORKFLOWS / "ci.yml", WORKFLOWS / "gpu.yml"
SMOKE = REPO / "benchmarks" / "gpu_smoke.sh"
CHECK_JSONSCHEMA = Path(sys.executable).with_name("check-jsonschema")
OFFLINE = {**os.environ, "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
           "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9"}


def validate(*paths: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.github-workflows", *map(str, paths)],
                          capture_output=True, text=True, timeout=120, env=OFFLINE)


def load(path: Path) -> dict:
    document = yaml.safe_load(path.read_text())
    if True in document:  # YAML 1.1 reads the key `on` as True
        document["on"] = document.pop(True)
    return document


def test_check_jsonschema_is_installed():
    assert CHECK_JSONSCHEMA.is_file(), "check-jsonschema belongs to the test extra (pip install -e '.[test]')"


def test_both_workflows_match_githubs_schema_offline():
    result = validate(CI, GPU)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok -- validation done" in result.stdout


@pytest.mark.parametrize("break_it, complaint", [
    (lambda text: text.replace("runs-on:", "runs_on:", 1), "runs-on"),
    (lambda text: text.replace("    steps:\n", "    step:\n", 1), "step"),
    (lambda text: text.replace("timeout-minutes: 60", "timeout-minutes: an hour", 1), "timeout-minutes"),
    (lambda text: text.replace("      - uses: actions/checkout@v4\n", "      - uses: actions/checkout@v4\n"
                                                                    "        run: echo both\n", 1), "uses"),
])
def test_a_broken_copy_fails_the_schema_check(tmp_path, break_it, complaint):
    text = CI.read_text()
    broken = break_it(text)
    assert broken != text, "the edit did not apply"
    copy = tmp_path / "ci.yml"
    copy.write_text(broken)
    result = validate(copy)
    assert result.returncode != 0, result.stdout
    assert "Schema validation errors were encountered" in result.stdout + result.stderr
    assert complaint in result.stdout + result.stderr


def test_cpu_workflow_runs_make_test_with_and_without_onednn_and_caches_pip():
    workflow = load(CI)
    assert {"push", "pull_request"} <= set(workflow["on"])
    job = workflow["jobs"]["test"]
    assert job["runs-on"].startswith("ubuntu-")
    assert job["strategy"]["matrix"]["onednn"] == ["1", "0"]
    assert job["env"]["TF_ENABLE_ONEDNN_OPTS"] == "${{ matrix.onednn }}"
    assert job["env"]["CNNCOURSE_PROFILE"] == "quick"
    python = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/setup-python"))
    assert python["with"]["python-version"] == "3.11" and python["with"]["cache"] == "pip"
    assert "constraints.txt" in python["with"]["cache-dependency-path"]
    assert any(s.get("run", "").startswith("make test") for s in job["steps"])


def test_gpu_workflow_runs_on_the_label_of_a_repository_variable_and_uploads_the_report():
    workflow = load(GPU)
    assert "workflow_dispatch" in workflow["on"]
    (job,) = workflow["jobs"].values()
    assert job["runs-on"] == ["self-hosted", "${{ vars.GPU_RUNNER_LABEL || 'gpu' }}"]
    assert "vars.GPU_RUNNER_LABEL != ''" in job["if"]  # no runner registered: push/schedule do not queue
    assert job["env"]["CNNCOURSE_PROFILE"] == "full"
    runs = [s.get("run", "") for s in job["steps"]]
    order = [next(i for i, r in enumerate(runs) if r.startswith(f"make {target}"))
             for target in ("install-gpu", "gpu-check", "test-gpu")]
    assert order == sorted(order), "install, then the GPU check, then the tests"
    upload = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact"))
    assert upload["if"] == "always()" and upload["with"]["path"] == "gpu-report"


def test_make_test_gpu_has_the_workflows_steps():
    if not shutil.which("make"):
        pytest.skip("no make")
    plan = subprocess.run(["make", "-n", "-B", "test-gpu", "PYTHON=python3"], cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    assert plan.returncode == 0, plan.stderr
    lines = plan.stdout.splitlines()
    install = next(i for i, line in enumerate(lines) if '-e ".[test,gpu]"' in line and "-c constraints.txt" in line)
    check = next(i for i, line in enumerate(lines) if "list_physical_devices" in line and "sys.exit" in line)
    gpu_tests = next(i for i, line in enumerate(lines) if "-m gpu tests" in line)
    layers = next(i for i, line in enumerate(lines) if "tests/test_layers.py" in line and "jit or mixed" in line)
    nbval = next(i for i, line in enumerate(lines) if "--nbval-record=gpu-report solutions" in line)
    assert install < check < gpu_tests < layers < nbval
    assert all(line.startswith("CNNCOURSE_PROFILE=full ") for line in (lines[gpu_tests], lines[layers], lines[nbval]))


# ---------------------------------------------------------------------- nbval recording plugin
def tiny_notebook(path: Path, failing: bool = False) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("value = 6 * 7\nprint(value)"),
                nbformat.v4.new_code_cell("assert value == 41, 'wrong'" if failing else "print('second')")]
    for index, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{index}"
    nbformat.write(nb, path)
    return path


def test_nbval_record_saves_the_executed_notebooks_and_a_timing_table(tmp_path):
    good, bad = tiny_notebook(tmp_path / "good.ipynb"), tiny_notebook(tmp_path / "bad.ipynb", failing=True)
    record = tmp_path / "report"
    result = subprocess.run([sys.executable, "-m", "pytest", "-c", str(REPO / "pyproject.toml"), "-p",
                             "benchmarks.nbval_record", f"--nbval-record={record}", str(good), str(bad), "-q"],
                            cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stdout  # the failing cell fails the run
    assert "nbval times per notebook" in result.stdout
    executed = nbformat.read(record / "executed" / "good.ipynb", as_version=4)
    assert [o["text"] for c in executed.cells for o in c.outputs] == ["42\n", "second\n"]
    rows = [line.split("\t") for line in (record / "timing.tsv").read_text().splitlines()]
    assert rows[0] == ["notebook", "cells", "failed", "seconds"]
    assert [r[:3] for r in rows[1:]] == [["bad.ipynb", "2", "1"], ["good.ipynb", "2", "0"], ["TOTAL", "4", "1"]]
    assert all(float(r[3]) >= 0 for r in rows[1:])


# ---------------------------------------------------------------------- benchmarks/gpu_smoke.sh
def test_gpu_smoke_is_valid_shell():
    assert os.access(SMOKE, os.X_OK), "benchmarks/gpu_smoke.sh must be executable"
    subprocess.run(["bash", "-n", str(SMOKE)], check=True, timeout=30)
    if shutil.which("shellcheck"):
        result = subprocess.run(["shellcheck", str(SMOKE)], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout


def run_smoke(tmp_path: Path, *args: str, fail_on: str | None = None, extra_env=None) -> subprocess.CompletedProcess:
    """The smoke script with a stand-in Python that logs its arguments and fails when they contain ``fail_on``."""
    log = tmp_path / "calls.log"
    fake = tmp_path / "python"
    fake.write_text("#!/usr/bin/env bash\n"
                    f"echo \"$*\" >> '{log}'\n"
                    + (f"case \"$*\" in *'{fail_on}'*) echo 'stand-in failure' >&2; exit 3 ;; esac\n" if fail_on else "")
                    + "exit 0\n")
    fake.chmod(0o755)
    env = {**os.environ, "PYTHON": str(fake), **(extra_env or {})}
    return subprocess.run(["bash", str(SMOKE), "--out", str(tmp_path / "out"), *args], capture_output=True, text=True,
                          timeout=120, env=env, cwd=tmp_path)


def calls(tmp_path: Path) -> list[str]:
    log = tmp_path / "calls.log"
    return log.read_text().splitlines() if log.exists() else []


def test_gpu_smoke_runs_every_step_and_prints_the_table(tmp_path):
    result = run_smoke(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    made = calls(tmp_path)
    assert len(made) == 7
    assert "list_physical_devices" in made[0]
    assert made[1] == "-m cnncourse doctor"
    assert "tests/test_layers.py -k jit or mixed" in made[2]
    assert "-m gpu tests" in made[3]
    for call, stem in zip(made[4:], ("03_first_cnns", "04_architectures", "08_localization_and_detection")):
        assert call.endswith(f"--nbval-record={tmp_path / 'out' / 'nbval' / stem} solutions/{stem}.ipynb"), call
    table = result.stdout[result.stdout.index("GPU smoke test: profile full"):]
    assert table.count("  ok") == 7 and "total" in table
    assert "over the smoke test's budget" not in table
    assert (tmp_path / "out" / "summary.txt").read_text().startswith("\nGPU smoke test: profile full")


def test_gpu_smoke_fails_when_a_step_fails_but_still_reports_every_step(tmp_path):
    result = run_smoke(tmp_path, fail_on="test_layers.py")
    assert result.returncode == 1
    assert len(calls(tmp_path)) == 7
    assert "layers: XLA and mixed_float16 tests" in result.stdout and "FAILED (3)" in result.stdout
    assert "a step failed" in result.stderr


def test_gpu_smoke_stops_at_once_without_a_gpu(tmp_path):
    result = run_smoke(tmp_path, fail_on="list_physical_devices")
    assert result.returncode == 1
    assert len(calls(tmp_path)) == 1
    assert "TensorFlow sees no GPU; nothing else was run" in result.stderr


def test_gpu_smoke_dry_run_runs_nothing_and_takes_notebooks_from_the_environment(tmp_path):
    result = run_smoke(tmp_path, "--dry-run", extra_env={"NOTEBOOKS": "00_welcome"})
    assert result.returncode == 0, result.stderr
    assert calls(tmp_path) == []
    assert result.stdout.count("dry-run") == 5 and "solutions/00_welcome.ipynb" in result.stdout
    assert "over the smoke test's budget" not in result.stdout


def test_gpu_smoke_says_when_it_ran_over_its_budget(tmp_path):
    result = run_smoke(tmp_path, extra_env={"SMOKE_BUDGET": "-1"})
    assert result.returncode == 0
    assert "over the smoke test's budget of -1 s" in result.stdout
    assert run_smoke(tmp_path, "--bogus").returncode == 2
