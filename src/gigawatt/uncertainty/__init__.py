"""Monte Carlo over a scenario's uncertain inputs, in one vectorized pass along the ``sample`` axis.

A scenario's distributions (:mod:`gigawatt.scenario.distributions`) are drawn
together by Latin hypercube or scrambled Sobol sampling
(:mod:`scipy.stats.qmc`), given their rank correlations by the Iman-Conover
method, and laid onto the resolved :class:`~gigawatt.scenario.inputs.Inputs` as
arrays with a leading sample axis (:class:`SampledInputs`). The buildout, the
simulation and the ledger then run once on the wide arrays; samples are taken
in chunks so that memory stays bounded, and each chunk is reduced at once to
per-sample figures (:class:`MonteCarlo`): yearly series, the constraint that
binds each year, both parties' NPV, the training runs' finishes.

The same seed gives the same draws and the same results, bit for bit.
"""

from gigawatt.uncertainty.draws import SAMPLERS, draw, iman_conover
from gigawatt.uncertainty.montecarlo import (CHUNK, CONSTRAINTS, NEVER, QUANTILES, MonteCarlo, chunk_size, monte_carlo,
                                             reduce_samples)
from gigawatt.uncertainty.sampled import SampledInputs, sampled_inputs

__all__ = ["SampledInputs", "MonteCarlo", "draw", "sampled_inputs", "monte_carlo", "SAMPLERS", "CONSTRAINTS",
           "QUANTILES", "iman_conover", "chunk_size", "CHUNK", "NEVER", "reduce_samples"]
