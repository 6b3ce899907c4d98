"""Installing prints no licence warning, and the README's commands work as typed after `make lab`."""

import re
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

REPO = Path(__file__).resolve().parents[1]


def test_license_is_an_spdx_string_with_a_setuptools_that_reads_it():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert project["project"]["license"] == "MIT"  # a table here makes setuptools warn on every install
    setuptools = next(r for r in project["build-system"]["requires"] if r.startswith("setuptools"))
    minimum = tuple(int(part) for part in re.search(r">=\s*([\d.]+)", setuptools).group(1).split("."))
    assert minimum >= (77,), "SPDX license strings need setuptools 77 or newer"


def commands_in(text: str) -> list[str]:
    """Lines of the README's code blocks, and inline `…` spans that start with a command."""
    blocks = re.findall(r"```(?:bash|sh)?\n(.*?)```", text, re.S)
    lines = [line.strip() for block in blocks for line in block.splitlines()]
    lines += re.findall(r"`((?:cnncourse|\.venv/bin/cnncourse|pip|jupyter)\s[^`]*)`", text)
    return lines


def test_readme_commands_use_the_virtual_environment():
    bare = [line for line in commands_in((REPO / "README.md").read_text())
            if re.match(r"cnncourse\s", line) and " --check fails" not in line]
    allowed = ("cnncourse execute", "cnncourse generate --check", "cnncourse gradebook merge",
               "cnncourse doctor")  # names of commands in running text, not commands to type
    assert [line for line in bare if not line.startswith(allowed)] == []
