"""Reading the YAML data files that ship with gigawatt (catalog, cost defaults, calibration).

These files are the package's own, trusted and well formed, so they are read
with PyYAML's C loader where the installed PyYAML has it (about ten times
faster than the pure-Python one), else with the pure-Python safe loader.
Scenario files, which come from users, go through the strict loader of
:mod:`gigawatt.scenario.loader` instead.
"""

from __future__ import annotations

from typing import Any

__all__ = ["load_yaml"]


def load_yaml(text: str) -> Any:
    """Parse one YAML document of package data (safe: plain data types only).

    Examples
    --------
    >>> load_yaml("a: [1, 2]")
    {'a': [1, 2]}
    """
    import yaml

    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
