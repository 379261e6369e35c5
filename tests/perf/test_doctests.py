"""Run the Examples sections of the perf modules' docstrings."""

import doctest
import importlib

import pytest

MODULES = ["transformer", "training", "search", "inference", "goodput", "calibration", "hardware", "layout", "api"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"gigawatt.perf.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
