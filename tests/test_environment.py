"""environment.yml (conda) and pyproject.toml (pip) must list the same dependencies."""

import re
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

REPO = Path(__file__).resolve().parents[1]


def normalise(requirement: str) -> str:
    name, _extras, rest = re.match(r"([A-Za-z0-9_.\-]+)(\[[^\]]*\])?(.*)", requirement.strip()).groups()
    return f"{name.lower().replace('_', '-')}{rest.replace(' ', '')}"


def pyproject_requirements() -> set[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return {normalise(r) for r in project["dependencies"] + project["optional-dependencies"]["test"]}


def environment_requirements() -> set[str]:
    pip_section, lines = False, []
    for line in (REPO / "environment.yml").read_text().splitlines():
        stripped = line.strip()
        if stripped.startswith("- pip:"):
            pip_section = True
        elif pip_section and stripped.startswith("- "):
            lines.append(stripped[2:])
    return {normalise(r) for r in lines if not r.startswith("-e")}


def test_environment_yml_matches_pyproject():
    pip_only, conda_only = pyproject_requirements() - environment_requirements(), \
        environment_requirements() - pyproject_requirements()
    assert not pip_only and not conda_only, (
        f"only in pyproject.toml: {sorted(pip_only)}; only in environment.yml: {sorted(conda_only)}")


def test_environment_yml_is_a_named_python_311_env_installing_the_package():
    text = (REPO / "environment.yml").read_text()
    assert re.search(r"^name: cnncourse$", text, re.M)
    assert "- python=3.11" in text and "- -e ." in text


@pytest.mark.parametrize("requirement, expected", [
    ("tensorflow[and-cuda] >= 2.16", "tensorflow>=2.16"), ("scikit_learn>=1.4", "scikit-learn>=1.4")])
def test_normalise(requirement, expected):
    assert normalise(requirement) == expected
