"""Drawing a scenario's uncertain inputs: Latin hypercube or scrambled Sobol points (:mod:`scipy.stats.qmc`),
given their rank correlations by the Iman-Conover method, through each input's distribution."""

from __future__ import annotations

import numpy as np

__all__ = ["SAMPLERS", "draw", "iman_conover"]

SAMPLERS = ("lhs", "sobol")


def iman_conover(u: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Reorder each column of ``u`` so that its rank correlation approaches ``target``, keeping each column's values.

    Parameters
    ----------
    u : ndarray, (sample, input)
        Draws in (0, 1) [1].
    target : ndarray, (input, input)
        Rank (Spearman) correlation wanted [1].

    Returns
    -------
    ndarray, (sample, input)

    Notes
    -----
    Normal scores :math:`Z = \\Phi^{-1}(u)` with correlation :math:`E = Q Q^T`
    are turned into :math:`T = Z Q^{-T} P^T`, :math:`P P^T = C` the Pearson
    matrix of the target, :math:`C_{ij} = 2 \\sin(\\pi \\rho_{ij} / 6)`; each
    column of ``u`` is then sorted into the rank order of :math:`T`'s column.
    The marginals (and the Latin hypercube's strata) are kept exactly.

    References
    ----------
    .. [1] R. L. Iman, W. J. Conover, "A distribution-free approach to inducing rank
       correlation among input variables", Communications in Statistics B 11(3), 1982.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> u = rng.random((4000, 2))
    >>> v = iman_conover(u, np.array([[1.0, 0.7], [0.7, 1.0]]))
    >>> from scipy.stats import spearmanr
    >>> round(float(spearmanr(v[:, 0], v[:, 1])[0]), 1)
    0.7
    """
    from scipy import stats

    n, d = u.shape
    if d < 2 or n < 3 or np.allclose(target, np.eye(d)):
        return u
    pearson = 2.0 * np.sin(np.pi * np.asarray(target) / 6.0)
    np.fill_diagonal(pearson, 1.0)
    z = stats.norm.ppf((stats.rankdata(u, axis=0) - 0.5) / n)
    p = np.linalg.cholesky(pearson)
    try:  # take out the scores' own chance correlation first (needs more samples than inputs)
        q_inv = np.linalg.inv(np.linalg.cholesky(np.corrcoef(z, rowvar=False))).T
    except np.linalg.LinAlgError:
        q_inv = np.eye(d)
    t = z @ q_inv @ p.T
    out = np.empty_like(u)
    for j in range(d):
        out[np.argsort(t[:, j], kind="stable"), j] = np.sort(u[:, j])
    return out


def draw(uncertainty, n: int, seed: int, sampler: str = "lhs") -> np.ndarray:
    """``(sample, input)`` values of a scenario's uncertain inputs [SI].

    Parameters
    ----------
    uncertainty : gigawatt.scenario.distributions.Uncertainty
    n : int
        Samples.
    seed : int
        Seeds the sampler; the same seed gives the same draws.
    sampler : {"lhs", "sobol"}
        Latin hypercube (:class:`scipy.stats.qmc.LatinHypercube`) or scrambled
        Sobol (:class:`scipy.stats.qmc.Sobol`).
    """
    import warnings

    from scipy.stats import qmc

    d = len(uncertainty.inputs)
    rng = np.random.default_rng(seed)
    if sampler == "sobol":
        engine = qmc.Sobol(d, scramble=True, seed=rng)
        with warnings.catch_warnings():  # balance needs a power of two; other sizes are still valid draws
            warnings.simplefilter("ignore", UserWarning)
            u = engine.random(n)
    elif sampler == "lhs":
        u = qmc.LatinHypercube(d, seed=rng).random(n)
    else:
        raise ValueError(f"sampler {sampler!r}: use one of {', '.join(SAMPLERS)}")
    u = np.clip(u, 1e-12, 1 - 1e-12)
    u = iman_conover(u, uncertainty.rank_matrix())
    return np.column_stack([inp.ppf(u[:, k]) for k, inp in enumerate(uncertainty.inputs)])
