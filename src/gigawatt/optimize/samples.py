"""Cases of a scenario for the two-stage plan: N draws of its uncertain inputs, each resolved.

:func:`cases_from_samples` draws a scenario's uncertain inputs (:func:`gigawatt.uncertainty.draw`,
Latin hypercube or scrambled Sobol, rank-correlated as the scenario says), writes each
draw back into the scenario as plain values, in the field's own units, and resolves it
(:func:`gigawatt.scenario.inputs.resolve`): one :class:`~gigawatt.scenario.inputs.Inputs`
per sample, the cases :func:`gigawatt.optimize.two_stage` takes.
"""

from __future__ import annotations

import numpy as np

from gigawatt.optimize.solve import OptimizeError

from gigawatt.scenario.distributions import ANY, field_value  # noqa: F401  (field_value re-exported)

__all__ = ["cases_from_samples", "field_value", "SAMPLES_MIN", "SAMPLES_MAX", "HELD_PATTERNS"]

#: the fewest and the most samples the two-stage plan takes: each case adds its own allocation
#: variables (a flagship case about as many as the deterministic LP), so the program grows
#: linearly with N; 2 is the least that has a plan to compare.
SAMPLES_MIN, SAMPLES_MAX = 2, 64
#: uncertain inputs with no field in the scenario (errors of the performance model that only the
#: Monte Carlo applies); the cases hold them at their base value
HELD_PATTERNS = ("uncertainty.throughput.*",)


def cases_from_samples(scn, n: int, seed: int = 0, sampler: str = "lhs"):
    """Resolved inputs of ``n`` draws of a scenario's uncertain inputs.

    Parameters
    ----------
    scn : gigawatt.scenario.schema.Scenario
        From :func:`gigawatt.load`; its distributions (``scn.uncertain``) are drawn.
    n : int
        Samples, :data:`SAMPLES_MIN` to :data:`SAMPLES_MAX`.
    seed : int
        Seeds the sampler; the same seed gives the same cases.
    sampler : {"lhs", "sobol"}

    Returns
    -------
    cases : list of Inputs
        One per sample, resolved from the scenario with the sample's values.
    values : ndarray, (sample, input)
        The drawn values [SI], columns in the order of ``scn.uncertain.inputs``.
    held : list of str
        Paths of uncertain inputs held at their base value (:data:`HELD_PATTERNS`).

    Raises
    ------
    GigawattError
        No uncertain input in the scenario; ``n`` out of range; an unknown sampler.

    Notes
    -----
    Each sample :math:`x_s` is the scenario with every uncertain field :math:`k` set to
    :math:`x_{s,k}` (the rank correlations are in the draws, so the sample's scenario has
    none left), as ``--set`` would set it; the cases are equally likely.
    """
    import yaml

    from gigawatt.scenario import load_scenario_source
    from gigawatt.scenario.inputs import resolve
    from gigawatt.scenario.source import scenario_text
    from gigawatt.uncertainty import SAMPLERS, draw

    unc = getattr(scn, "uncertain", None)
    if unc is None or not unc.inputs:
        raise OptimizeError("no uncertain inputs to sample (--samples draws them)",
                            hint="write a range on a field (e.g. prices.X.price: {dist: lognormal, p10: ..., p90: ...}); "
                                 "see docs/uncertainty.md, or run gigawatt optimize without --samples")
    if not isinstance(n, (int, np.integer)) or not SAMPLES_MIN <= n <= SAMPLES_MAX:
        raise OptimizeError(f"samples: {n} is out of range",
                            hint=f"give {SAMPLES_MIN} to {SAMPLES_MAX} samples (each adds a copy of the allocation "
                                 "variables; 8 is a good start)")
    if sampler not in SAMPLERS:
        raise OptimizeError(f"sampler {sampler!r} is unknown", hint=f"use one of {', '.join(SAMPLERS)}")
    from fnmatch import fnmatch

    values = draw(unc, int(n), seed=seed, sampler=sampler)
    held = [u.path for u in unc.inputs if any(fnmatch(u.pattern, p) for p in HELD_PATTERNS)]
    source = yaml.safe_load(scenario_text(scn))
    cases = []
    each = [k for k, u in enumerate(unc.inputs) if u.pattern == ANY]  # no text form: set in the validated scenario
    for s in range(int(n)):
        overrides = {u.path: field_value(u, values[s, k]) for k, u in enumerate(unc.inputs)
                     if u.path not in held and k not in each}
        overrides["uncertainty.correlate"] = []  # the draws carry the correlations; the sample's values are plain
        case = load_scenario_source(source, overrides)
        if each:
            case = unc.written(case, [(unc.inputs[k], values[s, k]) for k in each])
        cases.append(resolve(case))
    return cases, values, held
