"""`cnncourse doctor`: reports what the machine has, fails with a fix when something is missing."""

import os
import subprocess
import sys


def run_doctor(**env):
    return subprocess.run([sys.executable, "-m", "cnncourse", "doctor"], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=120)


def test_doctor_passes_here_and_reports_versions():
    result = run_doctor()
    assert result.returncode == 0, result.stdout
    for topic in ("tensorflow", "keras", "gpu", "profile", "data: digits", "data: photos", "tfds cache",
                  "keras weights", "writable: keras home"):
        assert f"✔ {topic}" in result.stdout
    assert "Everything the notebooks need is here." in result.stdout


def test_doctor_fails_with_a_fix_when_a_cache_dir_is_not_writable(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    result = run_doctor(KERAS_HOME=str(blocker / "keras"))
    assert result.returncode == 1
    assert "✘ writable: keras home" in result.stdout
    assert "fix: make" in result.stdout and "KERAS_HOME" in result.stdout
    assert "1 problem(s) found" in result.stdout


def test_doctor_reports_a_bad_profile():
    result = run_doctor(CNNCOURSE_PROFILE="turbo")
    assert result.returncode == 1
    assert "✘ profile" in result.stdout and "CNNCOURSE_PROFILE='turbo' is not a known profile; known: quick, full" in result.stdout
