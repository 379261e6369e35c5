"""The performance model's error as an uncertain input: a default throughput range per roadmap chip.

A scenario with uncertain inputs draws, for each roadmap chip it gives no
``uncertainty.throughput`` for, a factor on the chip's throughput whose range is
the performance model's published 80% prediction interval
(:func:`gigawatt.perf.calibration.prediction_interval`). ``gigawatt check --inputs``
lists these like any other input; ``uncertainty: {throughput: false}`` turns them off.
"""

from __future__ import annotations

from gigawatt.scenario.distributions import Uncertain, path_text

__all__ = ["default_throughput"]

#: the kinds of work the performance model gives a prediction interval for, by the demand section that uses them
_INTERVAL_KINDS = (("training", "training"), ("inference", "serving"))


def default_throughput(data: dict, section=None) -> list[Uncertain]:
    """The performance model's error on each roadmap chip the scenario gives no ``uncertainty.throughput`` for.

    Parameters
    ----------
    data : dict
        The scenario as YAML gives it (its ``roadmap`` and ``demand``).
    section : dict, optional
        Its ``uncertainty:`` block; a chip its ``throughput`` names (by id, alias or
        an id's prefix, as the sampler matches them) keeps the scenario's own range;
        ``throughput: false`` turns the defaults off.

    Returns
    -------
    list of Uncertain
        One lognormal throughput factor per roadmap chip (catalog id), base 1, at
        ``uncertainty.throughput.<chip>``; none for a scenario without demand (the
        factor then moves nothing).

    Notes
    -----
    The factor's p10 and p90 are the ends of the 80% prediction interval of
    :func:`gigawatt.perf.calibration.prediction_interval`: the 10th and 90th
    percentiles of the model's held-out errors in the backtest (its chip family's
    class where it has enough rows, else the pooled class), widened
    (``NO_DATA_WIDENING``) where the chip has no published measurement of that kind.

    The engine multiplies a chip's training and inference rates by one factor, so
    the intervals of the work the scenario runs on the chip are combined into one:
    the lowest ``low_factor`` and the highest ``high_factor`` among them (their
    envelope). The kinds are those the demand has (``training`` for training runs,
    ``serving`` for inference streams; only ``serving`` on a ``use: inference``
    generation), each for dense and/or MoE as the demand's models are. The envelope
    never understates the error of whichever workload the answer turns on; it
    overstates the spread of the narrower one. A split weighted by each kind's share
    of the chip's work would need the simulation's allocation, which ``gigawatt
    check`` does not run. Chips' factors are drawn independently.

    Reads the calibration file and the backtest's row files without numpy, so
    ``gigawatt check`` stays light.

    Examples
    --------
    >>> data = {"roadmap": [{"chip": "trainium3"}], "demand": {"inference": [{"model": "frontier-moe-2t"}]}}
    >>> [(u.path, u.dist, u.base, u.params["p10"] < 1 < u.params["p90"]) for u in default_throughput(data)]
    [('uncertainty.throughput.trainium3', 'lognormal', 1.0, True)]
    """
    from gigawatt import catalog
    from gigawatt.errors import CatalogError
    from gigawatt.perf.calibration import prediction_interval

    demand = data.get("demand") if isinstance(data.get("demand"), dict) else {}
    roadmap = data.get("roadmap") if isinstance(data.get("roadmap"), list) else []
    kinds = {kind: _moe_flags(demand.get(key)) for key, kind in _INTERVAL_KINDS
             if isinstance(demand.get(key), list) and demand.get(key)}
    if not kinds:
        return []
    given = []
    throughput = section.get("throughput") if isinstance(section, dict) else None
    if throughput is False:  # the scenario draws no performance-model error
        return []
    for key in (throughput if isinstance(throughput, dict) else {}):
        given.append(str(key))
        try:
            given.append(catalog.resolve("chips", str(key)))
        except CatalogError:
            pass
    out: list[Uncertain] = []
    seen: set[str] = set()
    for entry in roadmap:
        if not isinstance(entry, dict) or not isinstance(entry.get("chip"), str):
            continue
        try:
            chip = catalog.resolve("chips", entry["chip"])
        except CatalogError:  # the loader reports an unknown chip
            continue
        if chip in seen or any(chip == k or chip.startswith(k) for k in given):
            continue
        seen.add(chip)
        chip_kinds = {"serving": kinds["serving"]} if entry.get("use") == "inference" else kinds
        intervals = [(kind, prediction_interval(chip, moe=moe, kind=kind))
                     for kind, flags in chip_kinds.items() for moe in sorted(flags, reverse=True)]
        if not intervals:
            continue
        lo_kind, lo = min(intervals, key=lambda ki: ki[1]["low_factor"])
        hi_kind, hi = max(intervals, key=lambda ki: ki[1]["high_factor"])
        p10, p90 = float(lo["low_factor"]), float(hi["high_factor"])
        if not p90 > p10:
            continue
        steps = ("uncertainty", "throughput", chip)
        out.append(Uncertain(path_text(steps), steps, "uncertainty.throughput.*", "lognormal",
                             {"p10": round(p10, 3), "p90": round(p90, 3)}, {"p10": p10, "p90": p90}, base=1.0,
                             reason=_interval_reason(chip, (lo_kind, lo), (hi_kind, hi))))
    return out


def _moe_flags(items) -> set[bool]:
    """Whether the demand items' models are MoE (both, where a model is not in the catalog)."""
    from gigawatt import catalog
    from gigawatt.errors import CatalogError

    flags: set[bool] = set()
    for item in items or []:
        if isinstance(item, dict) and isinstance(item.get("generate"), dict):
            item = item["generate"]
        name = item.get("model") if isinstance(item, dict) else None
        try:
            flags.add(bool(catalog.get_model(str(name)).is_moe))
        except (CatalogError, KeyError, TypeError, ValueError):
            flags.update((True, False))
    return flags or {True, False}


def _interval_reason(chip: str, low: tuple, high: tuple) -> str:
    """Where a default throughput range comes from, in one line."""
    def end(kind, iv):
        text = f"{kind} {iv['basis']}, {iv['n']} rows"
        return text + (f", widened: {chip} has no published {kind} measurement" if iv["widened"] else "")

    ends = end(*low) if low[1] is high[1] else f"low: {end(*low)}; high: {end(*high)}"
    return f"default: the performance model's 80% interval from held-out backtest errors ({ends})"
