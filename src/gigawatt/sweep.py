"""Sweeps: many variants of a scenario, run in local processes (joblib) or on a Ray cluster.

A variant is a mapping of dotted scenario paths to values, written as in the file
(``{"deal.spend_limit.per_year": "$40B"}``), the same overrides as ``gigawatt.load(set=...)``.
:func:`grid` makes the variants of several ``KEY=v1,v2`` lists (every combination),
:func:`from_table` one variant per row of a CSV file. :func:`run_variants` runs a
task on each variant and hands back one :class:`Outcome` each, in order; a variant
whose task raises keeps its error and the others go on.

Work is sent in batches (several variants per process call or Ray task) so that the
cost of starting a task is paid once per batch.
"""

from __future__ import annotations

import csv
import itertools
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

__all__ = ["Outcome", "grid", "from_table", "run_variants", "parse_values"]


@dataclass
class Outcome:
    """What one variant gave: its index and parameters, the task's result or the error it raised."""

    index: int
    params: dict
    result: Any = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def parse_values(text: str) -> tuple[str, list]:
    """``"KEY=v1,v2"`` -> ``(KEY, [v1, v2])``; each value read as YAML; ``KEY=[a, b]`` for values with commas.

    Raises
    ------
    ValueError
        Without ``=``, or without a value.

    Examples
    --------
    >>> parse_values("deal.spend_limit.per_year=$20B,$30B")
    ('deal.spend_limit.per_year', ['$20B', '$30B'])
    >>> parse_values("sites[0].pue=[1.1, 1.2]")
    ('sites[0].pue', [1.1, 1.2])
    """
    import yaml

    key, sep, raw = text.partition("=")
    if not sep or not key.strip() or not raw.strip():
        raise ValueError(f"{text!r} is not KEY=v1,v2,...")
    raw = raw.strip()
    if raw.startswith("["):
        values = yaml.safe_load(raw)
        if not isinstance(values, list) or not values:
            raise ValueError(f"{text!r}: write the values as [a, b, ...]")
        return key.strip(), values
    values = []
    for part in raw.split(","):
        part = part.strip()
        if not part:
            raise ValueError(f"{text!r} has an empty value")
        try:
            values.append(yaml.safe_load(part))
        except yaml.YAMLError:
            values.append(part)
    return key.strip(), values


def grid(sets: Iterable[str]) -> list[dict]:
    """Every combination of the values of several ``KEY=v1,v2`` lists (the first key varies slowest)."""
    axes = [parse_values(s) for s in sets]
    keys = [k for k, _ in axes]
    if len(set(keys)) != len(keys):
        raise ValueError(f"a key is given twice: {', '.join(keys)}")
    return [dict(zip(keys, combo)) for combo in itertools.product(*[v for _, v in axes])]


def from_table(path: str | Path) -> list[dict]:
    """One variant per row of a CSV file whose header names the keys; each cell read as YAML, empty cells left out."""
    import yaml

    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        raise ValueError(f"{path}: no rows under the header")
    out = []
    for row in rows:
        variant = {}
        for key, cell in row.items():
            if key is None or cell is None or not cell.strip():
                continue
            try:
                variant[key.strip()] = yaml.safe_load(cell)
            except yaml.YAMLError:
                variant[key.strip()] = cell
        out.append(variant)
    return out


def _run_batch(task: Callable, batch: list[tuple[int, dict]]) -> list[Outcome]:
    """Run ``task`` on each variant of a batch, keeping each error instead of stopping."""
    out = []
    for index, params in batch:
        try:
            out.append(Outcome(index, params, task(params)))
        except Exception as exc:  # a failing variant is reported; the sweep goes on
            message = getattr(exc, "args", [None])[0] if len(getattr(exc, "args", ())) == 1 else None
            text = str(exc) if message is None else str(message)
            if not text:
                text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            out.append(Outcome(index, params, error=f"{type(exc).__name__}: {text}"))
    return out


def run_variants(task: Callable[[dict], Any], variants: list[dict], *, jobs: int = 1, ray: str | None = None,
                 batch: int | None = None, progress: Callable[[int, int], None] | None = None) -> list[Outcome]:
    """Run ``task(variant)`` on every variant, in local processes or on Ray.

    Parameters
    ----------
    task : callable
        A module-level function (it is pickled to the workers) of one variant.
    variants : list of dict
    jobs : int
        Local processes (joblib); 1 runs here, in order.
    ray : str, optional
        ``"auto"`` (the cluster this machine belongs to, else a local one) or
        a cluster address (``"ray://head:10001"``, ``"head:6379"``); requires
        the ``ray`` extra.
    batch : int, optional
        Variants per task; default: the variants spread evenly over about four
        tasks per worker.
    progress : callable, optional
        ``progress(done, total)`` as batches finish.

    Returns
    -------
    list of Outcome
        In the order of ``variants``.
    """
    n = len(variants)
    indexed = list(enumerate(variants))
    workers = jobs if ray is None else max(1, jobs)
    size = batch or max(1, -(-n // (4 * max(1, workers))))
    batches = [indexed[i:i + size] for i in range(0, n, size)]
    done = 0
    outcomes: list[Outcome] = []
    if ray is not None:
        for part in _on_ray(task, batches, ray):
            outcomes.extend(part)
            done += len(part)
            if progress is not None:
                progress(done, n)
    elif jobs > 1 and len(batches) > 1:
        from joblib import Parallel, delayed

        for part in Parallel(n_jobs=jobs, return_as="generator_unordered")(
                delayed(_run_batch)(task, b) for b in batches):
            outcomes.extend(part)
            done += len(part)
            if progress is not None:
                progress(done, n)
    else:
        for b in batches:
            part = _run_batch(task, b)
            outcomes.extend(part)
            done += len(part)
            if progress is not None:
                progress(done, n)
    return sorted(outcomes, key=lambda o: o.index)


def _on_ray(task, batches, address: str):
    """Yield each batch's outcomes as its Ray task finishes."""
    try:
        import ray
    except ImportError:
        raise ImportError("--ray needs Ray: pip install 'gigawatt[ray]'") from None
    if not ray.is_initialized():
        if address == "auto":
            try:
                ray.init(address="auto", include_dashboard=False, log_to_driver=False)
            except (ConnectionError, RuntimeError):  # no cluster here: start a local one
                ray.init(include_dashboard=False, log_to_driver=False)
        else:
            ray.init(address=address, log_to_driver=False)
    remote = ray.remote(_run_batch)
    pending = [remote.remote(task, b) for b in batches]
    while pending:
        ready, pending = ray.wait(pending, num_returns=1)
        yield ray.get(ready[0])
