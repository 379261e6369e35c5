"""gigawatt: plan and simulate gigawatt-scale AI compute deals.

The public API::

    import gigawatt
    scn = gigawatt.load("scenarios/anthropic-aws-2026.yaml")   # or a library deal's name, or a dict
    res = gigawatt.run(scn)                                     # gigawatt.Results
    res.years(), res.training_runs(), res.ledger(), res.summary(), res.dataset
    plan = gigawatt.optimize(scn)                               # the least-cost plan (gigawatt.optimize)

``load``, ``run`` and ``open_run`` live in :mod:`gigawatt.pipeline`; errors a
caller may catch are :class:`GigawattError` (every error gigawatt raises on
purpose) and :class:`ScenarioError` (every problem of a scenario at once).
Heavy libraries are imported inside the functions that need them, so
``import gigawatt`` stays cheap.
"""

__version__ = "0.1.0"

from gigawatt.errors import GigawattError, ScenarioError  # noqa: E402
from gigawatt.pipeline import load, open_run, run  # noqa: E402

__all__ = ["__version__", "load", "run", "open_run", "optimize", "Results", "GigawattError", "ScenarioError"]


def __getattr__(name):
    if name == "Results":
        from gigawatt.results import Results

        return Results
    if name == "optimize":  # the package, callable as the function: gigawatt.optimize(scenario)
        import importlib

        return importlib.import_module("gigawatt.optimize")
    raise AttributeError(f"module 'gigawatt' has no attribute {name!r}")
