"""The Examples in the docstrings run and print what they say."""

import doctest
import importlib
import pkgutil

import pytest

import gigawatt

MODULES = sorted(m.name for m in pkgutil.walk_packages(gigawatt.__path__, "gigawatt.") if not m.name.endswith("__main__"))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} docstring example(s) of {name} failed"


def test_readme_python_example():
    """The README's Python API example runs as a doctest (from any folder: it names a library deal)."""
    from pathlib import Path

    readme = Path(__file__).resolve().parents[1] / "README.md"
    result = doctest.testfile(str(readme), module_relative=False,
                              optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 8, "the README's Python example has lost its checks"
    assert result.failed == 0, f"{result.failed} example(s) of the README failed"
