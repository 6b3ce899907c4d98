"""environment.yml (conda) and pyproject.toml (pip) list the same dependencies, and constraints.txt
pins every one of them (transitive ones included) at a version both accept."""

import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

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


# ---------------------------------------------------------------------- constraints.txt
def constraints() -> dict[str, str]:
    """``constraints.txt`` as ``{normalised name: version}``; every line must be ``name==version``."""
    pins = {}
    for number, line in enumerate((REPO / "constraints.txt").read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9_.\-]*)==([0-9][0-9A-Za-z.+!\-]*)", line)
        assert match, f"constraints.txt:{number}: {line!r} is not an exact pin name==version (no paths, URLs or -e)"
        name = canonicalize_name(match.group(1))
        assert name not in pins, f"constraints.txt:{number}: {name} is pinned twice"
        pins[name] = match.group(2)
    return pins


def declared_requirements(extras=("test", "gpu")) -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return [Requirement(r) for r in project["dependencies"] + [r for e in extras for r in project["optional-dependencies"][e]]]


def test_constraints_pin_every_dependency_within_its_specifier():
    """A fresh install with ``-c constraints.txt`` gets exactly what CI tests: every package that
    pyproject.toml names (dependencies, the ``test`` and ``gpu`` extras' TensorFlow) is pinned,
    at a version its specifier accepts."""
    pins = constraints()
    for requirement in declared_requirements():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement} is not pinned in constraints.txt"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"constraints.txt pins {name}=={pins[name]}, outside pyproject.toml's {requirement}")


def test_lower_bounds_are_releases_that_were_tested():
    """A lower bound older than the tested minor release promises what nobody ran (tensorflow>=2.16
    while CI ran 2.21): each bound is at least the pinned version's major.minor."""
    pins = constraints()
    for requirement in declared_requirements():
        pinned = Version(pins[canonicalize_name(requirement.name)])
        lower = [Version(s.version) for s in requirement.specifier if s.operator in (">=", "==", "~=")]
        assert lower, f"{requirement} has no lower bound"
        assert max(lower) >= Version(f"{pinned.major}.{pinned.minor}"), (
            f"{requirement}: the lower bound is below the tested {pinned}; raise it to >={pinned.major}.{pinned.minor}")


def test_environment_yml_accepts_the_pinned_versions():
    pins = constraints()
    for line in environment_requirements():
        requirement = Requirement(line)
        assert requirement.specifier.contains(pins[canonicalize_name(requirement.name)], prereleases=True), line


def test_constraints_hold_the_whole_tested_environment():
    """Transitive packages are pinned too (a new release of one of them breaks a fresh install
    as surely as a new TensorFlow): TensorFlow's own dependencies and those of the notebook tools."""
    pins = constraints()
    for name in ("protobuf", "h5py", "ml-dtypes", "absl-py", "jupyter-client", "pillow", "packaging"):
        assert name in pins, f"{name} (a transitive dependency) is not pinned"
    assert "cnncourse" not in pins, "the course itself is installed with -e ., not pinned"


def test_the_install_commands_use_the_constraints():
    makefile = (REPO / "Makefile").read_text()
    install = [line for line in makefile.splitlines() if "pip install" in line and '".[test]"' in line]
    assert install and "-c $(CONSTRAINTS)" in install[0] and "CONSTRAINTS := constraints.txt" in makefile
    latest = makefile[makefile.index("test-latest:"):]
    assert "-c " not in latest.split("\n\n")[0], "make test-latest must install without the constraints"
