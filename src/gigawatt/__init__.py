"""gigawatt: plan and simulate gigawatt-scale AI compute deals.

The package is layered (see ``ARCHITECTURE`` in the README): ``units`` ->
``catalog`` -> ``perf`` -> ``power``/``economics`` -> ``scenario`` -> ``fleet`` ->
``results`` -> ``cli``. Heavy libraries are imported inside the functions that
need them so that ``import gigawatt`` stays cheap.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
