"""Which uncertain input moves an output most: a tornado, and Sobol indices computed with SALib.

Both run the scenario's Monte Carlo (:func:`gigawatt.uncertainty.monte_carlo`) on a
design of input values instead of random draws, so that every design point is one
sample of the same vectorized pass.

An output is a per-sample figure of :class:`gigawatt.uncertainty.MonteCarlo`: a
scalar (``provider_npv_usd``, ``lab_npv_usd``, ``inference_served_share``,
``spend_usd``, ``it_power_w_end``, ``commitment_first_binds_year``,
``runs_on_time``), or a yearly series at one year, ``it_power_w:2030`` (see
:data:`OUTPUT_HELP`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

__all__ = ["Tornado", "SobolIndices", "output_values", "tornado", "sobol", "sobol_indices", "OUTPUT_HELP"]

OUTPUT_HELP = ("a per-sample figure: lab_npv_usd, provider_npv_usd, inference_served_share, spend_usd, "
               "it_power_w_end, commitment_first_binds_year, runs_on_time, runs_finished; or a yearly series "
               "at a year, NAME:YEAR, with NAME one of it_power_w, spend_usd, cumulative_spend_usd, "
               "inference_served_share, lab_cash_flow_usd, provider_cash_flow_usd (it_power_w:2030)")


def output_values(mc, output: str) -> np.ndarray:
    """``(sample,)`` values of one output of a Monte Carlo run.

    Raises
    ------
    KeyError
        An output the run does not have, with the names it has.
    """
    if ":" in output:
        name, _, year = output.partition(":")
        if name not in mc.yearly or not year.strip().isdigit() or int(year) not in mc.years.tolist():
            raise KeyError(f"{output!r}: the yearly outputs are {', '.join(mc.yearly)} at a year of "
                           f"{int(mc.years[0])}-{int(mc.years[-1])}, such as it_power_w:{int(mc.years[-1])}")
        return mc.yearly[name][:, mc.years.tolist().index(int(year))]
    if output not in mc.scalars:
        raise KeyError(f"{output!r}: the outputs are {', '.join(mc.scalars)}, or NAME:YEAR of a yearly series "
                       f"({', '.join(mc.yearly)})")
    return mc.scalars[output]


@dataclass
class Tornado:
    """Each input swung from its 10th to its 90th percentile, the others at their medians.

    Attributes
    ----------
    output : str
    median : float
        The output with every input at its median [the output's unit].
    inputs : list of str
    low, high : ndarray, (input,)
        The output with the input at its 10th and 90th percentile.
    """

    output: str
    median: float
    inputs: list
    low: np.ndarray
    high: np.ndarray

    @property
    def swing(self) -> np.ndarray:
        """``|high - low|`` per input."""
        return np.abs(self.high - self.low)

    def order(self) -> list[int]:
        """Inputs from the widest swing down (inputs whose swing is undefined last)."""
        return sorted(range(len(self.inputs)), key=lambda k: -np.nan_to_num(self.swing[k], nan=-1.0))

    def to_dict(self) -> dict:
        return {"output": self.output, "median": self.median,
                "rows": [{"input": self.inputs[k], "p10": float(self.low[k]), "p90": float(self.high[k]),
                          "swing": float(self.swing[k])} for k in self.order()]}


def tornado(scn, outputs: list[str], *, inputs=None, seed: int | None = None) -> list[Tornado]:
    """A tornado for each output: one sample at the medians and two per input (its p10 and p90).

    Parameters
    ----------
    scn : Scenario
        With uncertain inputs.
    outputs : list of str
        See :data:`OUTPUT_HELP`.
    inputs : Inputs, optional
    seed : int, optional
        Seeds the training runs' failures (default the scenario's).

    Returns
    -------
    list of Tornado
    """
    from gigawatt.uncertainty import monte_carlo

    unc = scn.uncertain
    d = len(unc.inputs)
    med = np.array([u.quantile(0.5) for u in unc.inputs])
    design = np.repeat(med[None], 2 * d + 1, axis=0)
    for k, u in enumerate(unc.inputs):
        design[1 + 2 * k, k] = u.quantile(0.1)
        design[2 + 2 * k, k] = u.quantile(0.9)
    mc = monte_carlo(scn, len(design), values=design, inputs=inputs, seed=seed)
    out = []
    for name in outputs:
        y = output_values(mc, name)
        out.append(Tornado(name, float(y[0]), unc.names(), y[1::2].copy(), y[2::2].copy()))
    return out


@dataclass
class SobolIndices:
    """First-order and total Sobol indices of one output, with their 95% confidence half-widths.

    Attributes
    ----------
    output : str
    inputs : list of str
    first, total : ndarray, (input,)
        :math:`S_i` and :math:`S_{Ti}` [1].
    first_conf, total_conf : ndarray, (input,)
        Bootstrap 95% half-widths [1].
    n : int
        Model evaluations.
    """

    output: str
    inputs: list
    first: np.ndarray
    total: np.ndarray
    first_conf: np.ndarray
    total_conf: np.ndarray
    n: int

    def to_dict(self) -> dict:
        order = np.argsort(-np.nan_to_num(self.total, nan=-1.0))
        return {"output": self.output, "n": self.n,
                "rows": [{"input": self.inputs[k], "first": float(self.first[k]), "total": float(self.total[k]),
                          "first_conf": float(self.first_conf[k]), "total_conf": float(self.total_conf[k])}
                         for k in order]}


def sobol_indices(model: Callable[[np.ndarray], np.ndarray], ppfs: list[Callable], n: int, seed: int = 0,
                  names: list[str] | None = None) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Sobol first-order and total indices of a vectorized model by Saltelli sampling (SALib).

    Parameters
    ----------
    model : callable
        ``model(x) -> y``: ``x`` of shape ``(evaluation, input)`` to ``y`` of
        shape ``(evaluation,)`` or ``(evaluation, output)``.
    ppfs : list of callable
        Each input's inverse CDF, from probabilities in (0, 1) to values.
    n : int
        Base sample size (a power of two); the model is run ``n (d + 2)`` times.
    seed : int
    names : list of str, optional

    Returns
    -------
    list of (first, total, first_conf, total_conf)
        One per output.

    Notes
    -----
    The design is SALib's Saltelli extension of a scrambled Sobol sequence on
    the unit hypercube, mapped through each input's inverse CDF; the indices are
    the Saltelli (2010) and Jansen estimators of ``SALib.analyze.sobol``. Inputs
    are taken as independent (a rank correlation between them is not applied).

    References
    ----------
    .. [1] A. Saltelli et al., "Variance based sensitivity analysis of model output. Design and
       estimator for the total sensitivity index", Computer Physics Communications 181, 2010.
    .. [2] J. Herman, W. Usher, "SALib: An open-source Python library for Sensitivity Analysis",
       Journal of Open Source Software 2(9), 2017.

    Examples
    --------
    A linear model :math:`y = x_1 + 2 x_2` of independent uniforms has :math:`S_1 = 1/5`, :math:`S_2 = 4/5`:

    >>> from scipy import stats
    >>> u = stats.uniform(0, 1).ppf
    >>> first, total, _, _ = sobol_indices(lambda x: x[:, 0] + 2 * x[:, 1], [u, u], 1024)[0]
    >>> [round(float(v), 1) for v in first]
    [0.2, 0.8]
    """
    import warnings

    from SALib.analyze import sobol as analyze
    from SALib.sample import sobol as sample

    d = len(ppfs)
    problem = {"num_vars": d, "names": names or [f"x{k}" for k in range(d)], "bounds": [[0.0, 1.0]] * d}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        u = sample.sample(problem, n, calc_second_order=False, seed=seed)
    u = np.clip(u, 1e-9, 1 - 1e-9)
    x = np.column_stack([ppf(u[:, k]) for k, ppf in enumerate(ppfs)])
    y = np.asarray(model(x), dtype=float)
    y = y[:, None] if y.ndim == 1 else y
    out = []
    for j in range(y.shape[1]):
        yj = y[:, j]
        if not np.isfinite(yj).all() or np.ptp(yj) == 0:  # undefined or constant: no variance to share out
            nan = np.full(d, np.nan) if not np.isfinite(yj).all() else np.zeros(d)
            out.append((nan, nan.copy(), nan.copy(), nan.copy()))
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = analyze.analyze(problem, yj, calc_second_order=False, seed=seed)
        out.append((np.asarray(res["S1"]), np.asarray(res["ST"]), np.asarray(res["S1_conf"]),
                    np.asarray(res["ST_conf"])))
    return out


def sobol(scn, outputs: list[str], n: int = 64, *, seed: int | None = None, inputs=None,
          progress=None) -> list[SobolIndices]:
    """Sobol first-order and total indices of outputs of a scenario over its uncertain inputs.

    Parameters
    ----------
    scn : Scenario
    outputs : list of str
        See :data:`OUTPUT_HELP`.
    n : int
        Base sample size; the scenario runs ``n (d + 2)`` samples for ``d`` inputs.
    seed : int, optional
        Default the scenario's.
    """
    from gigawatt.uncertainty import monte_carlo

    unc = scn.uncertain
    seed = scn.seed if seed is None else seed
    runs = {}

    def model(x):
        mc = monte_carlo(scn, len(x), values=x, inputs=inputs, seed=seed, progress=progress)
        runs["n"] = len(x)
        return np.column_stack([output_values(mc, o) for o in outputs])

    res = sobol_indices(model, [u.ppf for u in unc.inputs], n, seed=seed, names=unc.names())
    return [SobolIndices(o, unc.names(), *r, n=runs["n"]) for o, r in zip(outputs, res)]
