"""painnjax --version: one version, the same in the package, pyproject and CITATION.cff."""

import platform
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

import painnjax
from painnjax.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_version_flag_prints_painnjax_jax_and_python(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith(f"painnjax {painnjax.__version__} (")
    assert f"jax {metadata.version('jax')}" in out and f"jaxlib {metadata.version('jaxlib')}" in out
    assert out.endswith(f"Python {platform.python_version()})")


def test_one_version_everywhere():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = project.get("version", painnjax.__version__)  # absent where it is dynamic (read from _version.py)
    assert painnjax.__version__ == declared == metadata.version("painnjax")
    assert f"\nversion: {painnjax.__version__}\n" in (ROOT / "CITATION.cff").read_text(encoding="utf-8")
