"""Uncertain inputs: a distribution in place of a number, in the scenario's own units.

Any number of a scenario (but those of :data:`WHY_NOT`) may be written as a
distribution instead of a value; those of :data:`SUPPORTED` are drawn on the
sample axis in one pass, any other (pattern :data:`ANY`) is written into each
sample's scenario, which then runs on its own::

    prices:
      trainium2:
        price: {dist: lognormal, p10: $0.70/h, p90: $1.40/h, base: $1.00/h,
                reason: "55-75% off the 2026 list price"}
    roadmap:
      - {chip: trainium4, from: {dist: uniform, from: 2027-07, to: 2028-06}}
    uncertainty:
      correlate:
        - {inputs: [prices.trainium2.price, prices.trainium3.price], rank: 0.8}

The kinds (:data:`KINDS`) and the values each needs:

========== ======================================== =====================================
``dist``   parameters                               what it is
========== ======================================== =====================================
lognormal  ``p10``, ``p90``                         log-normal through both percentiles
normal     ``p10``, ``p90`` or ``mean``, ``sd``     normal
uniform    ``low``, ``high`` (dates: ``from``, ``to``) flat between the ends
triangular ``low``, ``mode``, ``high``              triangle
pert       ``low``, ``mode``, ``high``              beta-PERT (shape 4)
========== ======================================== =====================================

Each parameter is written as the field is (``$0.70/h``, ``2 GW``, ``3x/year``,
``2027-07``) and parsed by the field's own validator, so a unit that does not
match the field, or a value the field refuses (a negative power), is the same
error as in a plain value, naming the parameter. ``base`` (optional) is the
value a single run uses; without it, the median. ``reason`` or ``source`` says
where the ends come from (``gigawatt check --inputs`` lists them).

The loader (:func:`extract`, :func:`resolve_distributions`) replaces each
distribution by its base value before the schema validates the scenario, so
a scenario's single run is the run of its base values, and a scenario with no
distribution is read exactly as before.
"""

from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass, field
from typing import Any

from gigawatt.errors import Problem

__all__ = ["KINDS", "SUPPORTED", "Uncertain", "Correlation", "extract", "resolve_distributions", "path_text"]

#: the z-score of the 90th percentile of the standard normal
Z90 = 1.2815515655446004

#: kinds of distribution and the parameter sets each accepts (the first set is the usual one)
KINDS: dict[str, tuple[tuple[str, ...], ...]] = {
    "lognormal": (("p10", "p90"),),
    "normal": (("p10", "p90"), ("mean", "sd")),
    "uniform": (("low", "high"), ("from", "to")),
    "triangular": (("low", "mode", "high"),),
    "pert": (("low", "mode", "high"),),
}
_META = ("dist", "base", "reason", "source", "note")

#: fields that take a distribution, as patterns of their YAML path (``*``: any key or index)
SUPPORTED: dict[str, str] = {
    "prices.*": "a chip's contract price [USD/h] (short form)",
    "prices.*.price": "a chip's contract price [USD/h]",
    "prices.*.decline": "a chip's price change per year [1/year]",
    "deal.spend_limit.per_year": "the buyer's yearly spend limit [USD/year]",
    "deal.capacity_cap": "the deal's capacity cap [W]",
    "roadmap[*].from": "when a generation becomes deployable [month]",
    "roadmap[*].supply_per_year": "a generation's yearly supply cap [chips/year]",
    "sites[*].energized.*": "a site's energized power at one point of its ramp [W]",
    "demand.inference[*].tokens_per_day": "an inference stream's level at its start [tokens/day]",
    "demand.inference[*].agentic.tasks_per_day": "an agentic stream's tasks a day at its start [1/day]",
    "demand.inference[*].growth": "an inference stream's growth [1/year]",
    "demand.inference[*].growth.*": "an inference stream's growth in one segment [1/year]",
    "uncertainty.throughput.*": "the performance model's error on a chip family's throughput [1]",
    "sites[*].pue": "a site's PUE [1]: its facility energy, and its IT power where it is given as facility power",
    "deal.commitment.total": "the committed spend [USD]",
    "deal.commitment.min_per_year": "the committed yearly minimum spend [USD/year]",
    "deal.investments[*].amount": "an investment's amount [USD]",
    "economics.discount": "both parties' discount rate [1/year] (short form)",
    "economics.discount.lab": "the lab's discount rate [1/year]",
    "economics.discount.provider": "the provider's discount rate [1/year]",
    "economics.power_price": "the sites' power price [USD/MWh] (short form)",
    "economics.power_price.default": "the power price of sites without their own [USD/MWh]",
    "economics.power_price.sites.*": "one site's power price [USD/MWh]",
    "economics.build_cost": "datacenter build cost per W of IT [USD/W]",
    "economics.it_capex_per_w": "chip capex per W of IT, for chips without a figure of their own [USD/W]",
    "economics.capex_per_chip.*": "one chip's capex, server and network share included [USD]",
    "economics.opex_per_mw_year": "non-energy operations per W of IT a year [USD/(W year)]",
    "economics.maintenance_share": "chip maintenance, a share of chip capex a year [1/year]",
    "economics.load_factor": "average power draw over full load [1]",
}

#: the fields that take no distribution, and why (first matching path prefix): a Monte Carlo's samples share
#: their months, and these describe the run or its draws rather than the deal
WHY_NOT: tuple[tuple[str, str], ...] = (
    ("horizon", "the run's periods are the same for all samples"),
    ("seed", "it seeds the draws"),
    ("optimize", "the optimizer reads it as one value"),
    ("uncertainty", "it describes the draws"),
)

#: the pattern of a number outside :data:`SUPPORTED`: a Monte Carlo writes each sample's draw into the
#: scenario and runs that sample on its own (slower than the vectorized samplers, but any number can vary)
ANY = "*"

#: short forms whose distribution stands for a longer path: pattern -> (the key it sets, whether a second key
#: takes the same draw)
_SHORT_FORMS: dict[str, tuple[str, str | None]] = {
    "prices.*": ("price", None),
    "economics.power_price": ("default", None),
    "economics.discount": ("lab", "provider"),
}

_DATE_PATTERNS = ("roadmap[*].from",)

def path_text(steps) -> str:
    """``("sites", 0, "pue")`` -> ``"sites[0].pue"``."""
    out = ""
    for s in steps:
        out += f"[{s}]" if isinstance(s, int) else (("." if out else "") + str(s))
    return out


def _pattern_of(steps) -> str | None:
    """The :data:`SUPPORTED` pattern a path matches, or None."""
    for pattern in SUPPORTED:
        parts = re.findall(r"([^.\[\]]+)|\[(\*|\d+)\]", pattern)
        pat = [p[0] if p[0] else "[*]" for p in parts]
        if len(pat) != len(steps):
            continue
        ok = True
        for p, s in zip(pat, steps):
            if p == "[*]":
                ok = isinstance(s, int)
            elif p == "*":
                ok = not isinstance(s, int)
            else:
                ok = s == p
            if not ok:
                break
        if ok:
            return pattern
    return None


@dataclass
class Uncertain:
    """One uncertain input: where it is, its distribution in SI, and why.

    Attributes
    ----------
    path : str
        Its YAML path (``prices.trainium2.price``).
    steps : tuple
        The path as keys and indices.
    pattern : str
        The :data:`SUPPORTED` pattern it matches: what the sampler does with it;
        :data:`ANY` for any other number (each sample that draws it runs on its own).
    dist : str
        A key of :data:`KINDS`.
    raw : dict
        The parameters as written.
    params : dict of str to float
        The parameters in SI (dates as month indices, ``12*year + month - 1``).
    base : float
        The value a single run uses, in SI [the field's unit].
    is_date : bool
    reason : str or None
    line : int or None
    raw_base : str, float or None
        ``base`` as written; None where none was given (the median is used).
    """

    path: str
    steps: tuple
    pattern: str
    dist: str
    raw: dict
    params: dict = field(default_factory=dict)
    base: float = float("nan")
    is_date: bool = False
    reason: str | None = None
    line: int | None = None
    raw_base: Any = None  # the base as written, None where the median stands in

    def ppf(self, u):
        """Values at probabilities ``u`` in (0, 1) [SI]: the inverse of the distribution's CDF.

        Notes
        -----
        lognormal through :math:`(q_{10}, q_{90})`: :math:`\\mu = (\\ln q_{10} + \\ln q_{90})/2`,
        :math:`\\sigma = (\\ln q_{90} - \\ln q_{10}) / (2 z_{90})`; normal likewise without the logs.
        PERT on :math:`(a, m, b)`: a beta with :math:`\\alpha = 1 + 4 (m - a)/(b - a)`,
        :math:`\\beta = 1 + 4 (b - m)/(b - a)` scaled to :math:`[a, b]` (Vose, *Risk Analysis*, 2008).
        A date range draws a whole month, uniformly among the months from ``from`` to ``to``.

        Examples
        --------
        >>> u = Uncertain("x", ("x",), "", "lognormal", {}, {"p10": 1.0, "p90": 4.0})
        >>> [round(float(v), 6) for v in u.ppf([0.1, 0.5, 0.9])]
        [1.0, 2.0, 4.0]
        """
        import numpy as np
        from scipy import stats

        u = np.asarray(u, dtype=float)
        p = self.params
        if self.dist == "lognormal":
            mu = 0.5 * (math.log(p["p10"]) + math.log(p["p90"]))
            sigma = (math.log(p["p90"]) - math.log(p["p10"])) / (2 * Z90)
            return np.exp(mu + sigma * stats.norm.ppf(u))
        if self.dist == "normal":
            mean, sd = _normal_moments(p)
            return mean + sd * stats.norm.ppf(u)
        if self.dist == "uniform":
            if self.is_date:
                n = p["high"] - p["low"] + 1
                return p["low"] + np.minimum(np.floor(u * n), n - 1)
            return p["low"] + u * (p["high"] - p["low"])
        a, m, b = p["low"], p["mode"], p["high"]
        if self.dist == "triangular":
            return stats.triang.ppf(u, (m - a) / (b - a), loc=a, scale=b - a)
        alpha, beta = 1 + 4 * (m - a) / (b - a), 1 + 4 * (b - m) / (b - a)
        return a + (b - a) * stats.beta.ppf(u, alpha, beta)

    def quantile(self, q: float) -> float:
        """One quantile [SI]; in plain Python (no numpy, so that ``gigawatt check`` stays light) but for PERT."""
        from statistics import NormalDist

        p = self.params
        if self.dist == "lognormal":
            mu = 0.5 * (math.log(p["p10"]) + math.log(p["p90"]))
            sigma = (math.log(p["p90"]) - math.log(p["p10"])) / (2 * Z90)
            return math.exp(mu + sigma * NormalDist().inv_cdf(q))
        if self.dist == "normal":
            mean, sd = _normal_moments(p)
            return mean + sd * NormalDist().inv_cdf(q)
        if self.dist == "uniform":
            if self.is_date:
                n = p["high"] - p["low"] + 1
                return p["low"] + min(math.floor(q * n), n - 1)
            return p["low"] + q * (p["high"] - p["low"])
        if self.dist == "triangular":
            a, m, b = p["low"], p["mode"], p["high"]
            c = (m - a) / (b - a)
            return a + math.sqrt(q * (b - a) * (m - a)) if q < c else b - math.sqrt((1 - q) * (b - a) * (b - m))
        return float(self.ppf([q])[0])

    def describe(self) -> str:
        """The distribution as written: ``lognormal p10 $0.70/h, p90 $1.40/h``."""
        shown = ", ".join(f"{k} {v}" for k, v in self.raw.items())
        if self.raw_base is not None:
            shown += f", base {self.raw_base}"
        return f"{self.dist} {shown}"


def _normal_moments(p: dict) -> tuple[float, float]:
    if "mean" in p:
        return p["mean"], p["sd"]
    return 0.5 * (p["p10"] + p["p90"]), (p["p90"] - p["p10"]) / (2 * Z90)


@dataclass
class Correlation:
    """Rank correlation between named uncertain inputs (``uncertainty.correlate``)."""

    inputs: list[str]
    rank: float
    line: int | None = None


@dataclass
class Extracted:
    """What :func:`extract` found: the data with base values in place, the distributions, and the problems."""

    data: dict
    uncertain: list[Uncertain]
    correlations: list[Correlation]
    problems: list[Problem]
    placeholders: dict = field(default_factory=dict)  # path -> the parameter validated in the distribution's place
    #: ``(data, uncertainty section)`` for the performance model's default throughput ranges, added on first use
    #: (:func:`gigawatt.scenario.model_error.default_throughput`); None when there are none or they are in
    defaults: tuple | None = None


def _line(lines: dict, steps) -> int | None:
    steps = tuple(steps)
    while True:
        if steps in lines:
            return lines[steps]
        if not steps:
            return None
        steps = steps[:-1]


def extract(data: dict, lines: dict) -> Extracted:
    """Find the distributions in raw scenario data and put a value the field accepts in their place.

    Parameters
    ----------
    data : dict
        The scenario as YAML gives it.
    lines : dict
        Path (tuple) -> 1-based line.

    Returns
    -------
    Extracted
        ``data`` is a copy with each distribution replaced by its ``base`` (or,
        until :func:`resolve_distributions` sets the median, its first
        parameter), and ``uncertainty:`` taken out.
    """
    problems: list[Problem] = []
    found: list[Uncertain] = []
    placeholders: dict = {}
    if not any(_has_dist(v) for v in data.values()) and "uncertainty" not in data:
        return Extracted(data, [], [], [])
    out = copy.deepcopy(data)
    section = out.pop("uncertainty", None)

    def walk(node, steps):
        if isinstance(node, dict):
            for key in list(node):
                value = node[key]
                here = steps + (key,)
                if isinstance(value, dict) and "dist" in value:
                    u, placeholder = _spec(value, here, lines, problems)
                    if u is not None and u.pattern in _SHORT_FORMS:  # a short form: the value it stands for
                        long_key, twin = _SHORT_FORMS[u.pattern]
                        u.steps = here + (long_key,)
                        if twin is None:  # its own path (prices.x.price): one input
                            u.pattern = _pattern_of(u.steps)
                            u.path = path_text(u.steps)
                        placeholder = {long_key: placeholder} | ({twin: placeholder} if twin else {})
                    if u is not None:
                        found.append(u)
                        placeholders[u.path] = "base" if "base" in value else next(iter(u.raw))
                    else:  # reported; a parameter in its place keeps the schema from reporting it again
                        placeholder = next((v for k, v in value.items() if k not in _META), None)
                    node[key] = placeholder
                else:
                    walk(value, here)
        elif isinstance(node, list):
            for i, value in enumerate(node):
                here = steps + (i,)
                if isinstance(value, dict) and "dist" in value:
                    problems.append(Problem(path_text(here), "a list item cannot be a distribution", _line(lines, here),
                                            "put the distribution on one of the item's numbers"))
                else:
                    walk(value, here)

    walk(out, ())
    correlations: list[Correlation] = []
    if section is not None:
        found_throughput, correlations = _uncertainty_section(section, lines, problems)
        found.extend(found_throughput)
    defaults = None
    if found:  # a scenario with no distribution stays a single run: no default is added then
        named = {n for c in correlations for n in c.inputs if n.startswith("uncertainty.throughput.")}
        if named - {u.path for u in found}:  # a correlation names a default range: it must be there to check
            from gigawatt.scenario.model_error import default_throughput

            found.extend(default_throughput(data, section))
        else:  # read the performance model's intervals when the draws need them, not for a single run
            defaults = (data, section)
    names = {u.path for u in found}
    kept = []
    for c in correlations:
        # an input given a plain value (say by --set) leaves its group; a path the scenario lacks is an error
        unknown = [n for n in c.inputs if n not in names and not _in_data(out, n)]
        for name in unknown:
            problems.append(Problem("uncertainty.correlate", f"{name!r} is not an uncertain input of this scenario",
                                    c.line, "name inputs by their path as `gigawatt check --inputs` lists them"))
        left = [n for n in c.inputs if n in names]
        if not unknown and len(left) >= 2:
            kept.append(Correlation(left, c.rank, c.line))
    return Extracted(out, found, kept, problems, placeholders, defaults)


def _in_data(data, path: str) -> bool:
    """Whether a dotted path (``prices.trainium2.price``, ``sites[0].pue``) names a value in raw scenario data."""
    node = data
    for step in re.findall(r"([^.\[\]]+)|\[(\d+)\]", path):
        key, index = step
        if index:
            if not isinstance(node, list) or int(index) >= len(node):
                return False
            node = node[int(index)]
        else:
            if not isinstance(node, dict):
                return False
            match = next((k for k in node if str(k) == key), None)
            if match is None:
                return False
            node = node[match]
    return True


def _has_dist(node) -> bool:
    if isinstance(node, dict):
        return "dist" in node or any(_has_dist(v) for v in node.values())
    if isinstance(node, list):
        return any(_has_dist(v) for v in node)
    return False


def _spec(value: dict, steps: tuple, lines: dict, problems: list) -> tuple[Uncertain | None, Any]:
    """Check one distribution's shape; return it (params still raw) and the value to validate in its place."""
    where = path_text(steps)
    line = _line(lines, steps)
    pattern = _pattern_of(steps)
    if pattern is None:
        why = next((w for prefix, w in WHY_NOT if where.startswith(prefix)), None)
        if why is not None:
            problems.append(Problem(where, f"this field cannot take a distribution: {why}", line,
                                    "give it a plain value (other numbers may take one; docs/uncertainty.md)"))
            return None, None
        pattern = ANY
    kind = value.get("dist")
    if not isinstance(kind, str) or kind not in KINDS:
        problems.append(Problem(where + ".dist", f"unknown distribution {kind!r}", line,
                                "use one of " + ", ".join(KINDS)))
        return None, None
    given = [k for k in value if k not in _META]
    match = next((s for s in KINDS[kind] if set(s) == set(given)), None)
    is_date = pattern in _DATE_PATTERNS or (pattern == ANY and kind == "uniform" and "from" in given)
    if match is None or (is_date and kind != "uniform") or (kind == "uniform" and ("from" in given) != is_date):
        if is_date:
            hint = "a date takes {dist: uniform, from: YYYY-MM, to: YYYY-MM}"
        else:
            hint = f"{kind} takes " + " or ".join(", ".join(s) for s in KINDS[kind] if "from" not in s)
        problems.append(Problem(where, f"{kind} with {', '.join(map(str, given)) or 'no parameters'}", line, hint))
        return None, None
    reason = value.get("reason") or value.get("source")
    raw = {k: value[k] for k in match}
    u = Uncertain(path=where, steps=steps, pattern=pattern, dist=kind, raw=raw, is_date=is_date,
                  reason=str(reason) if reason is not None else None, line=line)
    if "base" in value:
        u.raw_base = value["base"]
    placeholder = value.get("base", raw[match[0]] if kind != "normal" or "mean" not in raw else raw["mean"])
    return u, placeholder


def _uncertainty_section(section, lines: dict, problems: list) -> tuple[list[Uncertain], list[Correlation]]:
    """The top-level ``uncertainty:`` block: ``throughput`` factors per chip and ``correlate`` groups."""
    found: list[Uncertain] = []
    correlations: list[Correlation] = []
    if not isinstance(section, dict):
        problems.append(Problem("uncertainty", "must be a mapping", _line(lines, ("uncertainty",)),
                                "write uncertainty: {throughput: {...}, correlate: [...]}"))
        return found, correlations
    for key in section:
        if key not in ("throughput", "correlate"):
            problems.append(Problem(f"uncertainty.{key}", "unknown key", _line(lines, ("uncertainty", key)),
                                    "uncertainty takes throughput and correlate"))
    throughput = section.get("throughput")
    if throughput is not None and throughput is not False and not isinstance(throughput, dict):
        problems.append(Problem("uncertainty.throughput", "must be a mapping of chips to distributions, or false",
                                _line(lines, ("uncertainty", "throughput")),
                                "write throughput: {trainium3: {dist: lognormal, p10: 0.8, p90: 1.2}}, or "
                                "throughput: false to draw no performance-model error"))
        throughput = None
    for chip, value in (throughput or {}).items():
        steps = ("uncertainty", "throughput", chip)
        if not (isinstance(value, dict) and "dist" in value):
            problems.append(Problem(path_text(steps), "must be a distribution", _line(lines, steps),
                                    "write {dist: lognormal, p10: 0.8, p90: 1.2, reason: ...}"))
            continue
        u, _ = _spec(value, steps, lines, problems)
        if u is None:
            continue
        try:
            u.params = {k: _plain_number(v) for k, v in u.raw.items()}
            u.base = _plain_number(u.raw_base) if u.raw_base is not None else float("nan")
        except ValueError as exc:
            problems.append(Problem(u.path, str(exc), u.line, "a throughput factor is a plain number, 1 = the model"))
            continue
        problems.extend(_check_params(u))
        if not any(p.path.startswith(u.path) for p in problems):
            if not math.isfinite(u.base):
                u.base = u.quantile(0.5)
            found.append(u)
    for i, item in enumerate(section.get("correlate") or []):
        steps = ("uncertainty", "correlate", i)
        line = _line(lines, steps)
        if not isinstance(item, dict) or set(item) - {"inputs", "rank", "reason"} or "inputs" not in item:
            problems.append(Problem(path_text(steps), "a correlation is {inputs: [a, b, ...], rank: 0.6}", line,
                                    "name two or more uncertain inputs and their rank correlation"))
            continue
        rank = item.get("rank")
        names = item["inputs"]
        if not isinstance(rank, (int, float)) or isinstance(rank, bool) or not -1 < float(rank) < 1:
            problems.append(Problem(path_text(steps) + ".rank", f"{rank!r} is not a number in (-1, 1)", line,
                                    "a rank (Spearman) correlation, such as 0.6"))
            continue
        if not isinstance(names, list) or len(names) < 2 or len(set(map(str, names))) != len(names):
            problems.append(Problem(path_text(steps) + ".inputs", "needs two or more different inputs", line,
                                    "name them by path: [prices.trainium2.price, prices.trainium3.price]"))
            continue
        correlations.append(Correlation([str(n) for n in names], float(rank), line))
    return found, correlations


def _plain_number(value) -> float:
    from gigawatt import units

    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{value!r} is not a number")
    out = units.parse_fraction(value) if isinstance(value, str) else float(value)
    if not math.isfinite(out):
        raise ValueError(f"{value!r} is not a finite number")
    return out


def _check_params(u: Uncertain) -> list[Problem]:
    """Ordering and sign: p10 below p90, low <= mode <= high, a positive sd, a lognormal above zero."""
    p = u.params
    bad = []

    def add(message, hint):
        bad.append(Problem(u.path, message, u.line, hint))

    if u.dist == "lognormal":
        if not p["p10"] > 0:
            add(f"a lognormal needs p10 above zero, got {u.raw['p10']}", "use normal or uniform for ranges through zero")
        elif not p["p90"] > p["p10"]:
            add(f"p90 {u.raw['p90']} is not above p10 {u.raw['p10']}", "swap them, or widen the range")
    elif u.dist == "normal":
        if "sd" in p and not p["sd"] > 0:
            add(f"sd {u.raw['sd']} is not above zero", "give a positive standard deviation")
        elif "p10" in p and not p["p90"] > p["p10"]:
            add(f"p90 {u.raw['p90']} is not above p10 {u.raw['p10']}", "swap them, or widen the range")
        elif min(p.values()) >= 0 and _normal_moments(p)[0] - 3.09 * _normal_moments(p)[1] < 0:
            add("this normal range reaches below zero in more than 1 draw in 1,000",
                "use lognormal for a quantity that cannot be negative, or narrow the range")
    elif u.dist == "uniform":
        if not p["high"] > p["low"]:
            lo, hi = ("from", "to") if u.is_date else ("low", "high")
            add(f"{hi} {u.raw[hi]} is not after {lo} {u.raw[lo]}" if u.is_date
                else f"high {u.raw['high']} is not above low {u.raw['low']}", "swap them, or widen the range")
    else:
        if not (p["low"] <= p["mode"] <= p["high"] and p["high"] > p["low"]):
            add(f"needs low <= mode <= high with low below high, got {u.raw['low']}, {u.raw['mode']}, "
                f"{u.raw['high']}", "order the three values")
    tails = None
    if not bad and "low" not in p:
        try:  # a range so wide that its tails leave the floating-point range cannot be drawn from
            tails = (u.quantile(0.0005), u.quantile(0.9995))
        except (OverflowError, ValueError):
            tails = (math.nan, math.nan)
        if not all(math.isfinite(x) for x in tails):
            add("the range is too wide: its tails are not finite numbers", "narrow the range")
    if not bad and math.isfinite(u.base):
        lo, hi = (p["low"], p["high"]) if "low" in p else tails
        if not lo - 1e-9 * abs(lo) <= u.base <= hi + 1e-9 * abs(hi):
            add(f"base {u.raw_base if u.raw_base is not None else u.base} lies outside the range",
                "give a base inside the range, or none")
    return bad


# --------------------------------------------------------------- after the schema validated the base values

def _field_name(model, key: str) -> str | None:
    """The pydantic field a YAML key sets (by name or alias)."""
    for name, info in type(model).model_fields.items():
        if name == key:
            return name
        alias = info.validation_alias
        choices = getattr(alias, "choices", None) or ([alias] if isinstance(alias, str) else [])
        if key in choices or info.alias == key:
            return name
    return None


def _locate(scn, data: dict, steps: tuple):
    """The deepest model on the path, the field there, and the steps within that field's value.

    Returns ``(model, field_name, rest, raw_field)`` with ``raw_field`` the
    field's raw YAML value.
    """
    from pydantic import BaseModel

    obj, raw = scn, data
    hit = None
    for i, step in enumerate(steps):
        if isinstance(obj, BaseModel):
            name = _field_name(obj, step)
            if name is None:
                return None
            hit = (obj, name, steps[i + 1:], raw[step])
            obj, raw = getattr(obj, name), raw[step]
        elif isinstance(obj, dict):
            idx = list(raw).index(step)
            obj, raw = list(obj.values())[idx], raw[step]
        else:
            obj, raw = obj[step], raw[step]
    return hit


def _parsed(model, name: str, rest: tuple, raw_field, value):
    """What the field's validator makes of ``value`` put at ``rest`` inside the field's raw value."""
    if rest:
        raw_field = copy.deepcopy(raw_field)
        node = raw_field
        for step in rest[:-1]:
            node = node[step]
        node[rest[-1]] = value
    else:
        raw_field = value
    trial = model.model_copy()
    type(model).__pydantic_validator__.validate_assignment(trial, name, raw_field)
    out = getattr(trial, name)
    for step in rest:
        out = list(out.values())[list(raw_field).index(step)] if isinstance(out, dict) else out[step]
    return out


def _set(model, name: str, rest: tuple, raw_field, value) -> None:
    """Put an SI value in place of the placeholder in the validated scenario."""
    if not rest:
        object.__setattr__(model, name, value)
        return
    node = getattr(model, name)
    raw = raw_field
    for step in rest[:-1]:
        node = list(node.values())[list(raw).index(step)] if isinstance(node, dict) else node[step]
        raw = raw[step]
    key = list(node)[list(raw).index(rest[-1])] if isinstance(node, dict) else rest[-1]
    node[key] = value


def resolve_distributions(scn, ext: Extracted) -> list[Problem]:
    """Parse each distribution's parameters with its field's validator, check them, and set each base value.

    Parameters
    ----------
    scn : Scenario
        Validated with the placeholders of :func:`extract` in place; receives
        the base values and ``scn._uncertain``.
    ext : Extracted

    Returns
    -------
    list of Problem
        A parameter the field refuses (a unit of another dimension, a
        negative power), ranges out of order.
    """
    from pydantic import ValidationError

    from gigawatt.units import month_index, month_label

    problems: list[Problem] = []
    kept: list[Uncertain] = []
    for u in ext.uncertain:
        if u.pattern.startswith("uncertainty."):
            kept.append(u)
            continue
        hit = _locate(scn, ext.data, u.steps)
        if hit is None:
            problems.append(Problem(u.path, "cannot find this field in the scenario", u.line, None))
            continue
        model, name, rest, raw_field = hit
        ok = True
        for key, value in list(u.raw.items()) + ([("base", u.raw_base)] if u.raw_base is not None else []):
            try:
                parsed = _parsed(model, name, rest, raw_field, value)
            except ValidationError as exc:
                msg = exc.errors()[0].get("msg", str(exc)).removeprefix("Value error, ")
                problems.append(Problem(f"{u.path}.{key}", msg, u.line, "write it as the field takes a plain value"))
                ok = False
                continue
            if parsed is None:
                problems.append(Problem(f"{u.path}.{key}", "has no value", u.line, None))
                ok = False
                continue
            if isinstance(parsed, str) and not u.is_date:  # a power-price region: a name, not a number
                problems.append(Problem(f"{u.path}.{key}", f"{value!r} is a name, not a number", u.line,
                                        "give the range as prices, such as {dist: uniform, low: $60/MWh, "
                                        "high: $100/MWh}"))
                ok = False
                continue
            si = float(month_index(parsed)) if u.is_date else float(parsed)
            if key == "base":
                u.base = si
            else:
                u.params[{"from": "low", "to": "high"}.get(key, key)] = si
        if not ok:
            continue
        bad = _check_params(u)
        if bad:
            problems.extend(bad)
            continue
        if not math.isfinite(u.base):
            u.base = float(round(u.quantile(0.5))) if u.is_date else u.quantile(0.5)
        _set(model, name, rest, raw_field, month_label(int(u.base)) if u.is_date else u.base)
        twin = _SHORT_FORMS.get(u.pattern, (None, None))[1]
        if twin is not None:  # one rate for both parties: the draw sets both
            _set(model, twin, rest, raw_field, u.base)
        kept.append(u)
    _one_by_one_where_needed(scn, kept)
    scn._uncertain = Uncertainty(kept, ext.correlations, data=ext.data, defaults=ext.defaults)
    return problems


def _one_by_one_where_needed(scn, inputs: list[Uncertain]) -> None:
    """Move to the one-by-one path (:data:`ANY`) the inputs a vectorized sampler cannot draw in this scenario:
    a PUE range where the capacity cap counts facility power (the buildout applies one PUE per site to the cap)."""
    if scn.deal.capacity_basis == "facility" and scn.deal.capacity_cap_w is not None:
        for u in inputs:
            if u.pattern == "sites[*].pue":
                u.pattern = ANY


class Uncertainty:
    """A scenario's uncertain inputs and their rank correlations (``Scenario.uncertain``).

    Attributes
    ----------
    inputs : list of Uncertain
        Those the scenario writes and, read on first use, the performance model's
        default throughput ranges (:func:`gigawatt.scenario.model_error.default_throughput`),
        which a single run does not need.
    correlations : list of Correlation
    data : dict or None
        The scenario's data as written (distributions replaced by their base), to find a field again.
    """

    def __init__(self, inputs, correlations, data: dict | None = None, defaults: tuple | None = None):
        self._inputs = list(inputs)
        self.correlations = list(correlations)
        self.data = data
        self._defaults = defaults

    @property
    def inputs(self) -> list[Uncertain]:
        if self._defaults is not None:
            from gigawatt.scenario.model_error import default_throughput

            data, section = self._defaults
            self._defaults = None
            self._inputs.extend(default_throughput(data, section))
        return self._inputs

    def __bool__(self) -> bool:
        return bool(self._inputs) or bool(self.inputs)

    def __repr__(self) -> str:
        return f"Uncertainty({self.names()!r}, correlations={len(self.correlations)})"

    def each_run(self) -> list[Uncertain]:
        """The inputs outside :data:`SUPPORTED` (pattern :data:`ANY`): samples that draw them run one by one."""
        return [u for u in self.inputs if u.pattern == ANY]

    def only(self, keep: list[Uncertain]) -> "Uncertainty":
        """The same draws restricted to ``keep`` (their correlations dropped)."""
        return Uncertainty(list(keep), [], self.data)

    def written(self, scn, values):
        """A copy of ``scn`` with drawn values [SI] of some of its inputs, ``[(Uncertain, value), ...]``, in place."""
        from gigawatt.units import month_label

        out = scn.model_copy(deep=True)
        for u, x in values:
            model, name, rest, raw_field = _locate(out, self.data, u.steps)
            _set(model, name, rest, raw_field, month_label(int(round(x))) if u.is_date else float(x))
        return out

    def names(self) -> list[str]:
        return [u.path for u in self.inputs]

    def rank_matrix(self):
        """``(input, input)`` target rank correlation: 1 on the diagonal, each group's rank between its members."""
        import numpy as np

        names = self.names()
        out = np.eye(len(names))
        for c in self.correlations:
            idx = [names.index(n) for n in c.inputs]
            for a in idx:
                for b in idx:
                    if a != b:
                        out[a, b] = c.rank
        return out


def field_value(u, x: float):
    """A drawn value [SI] of uncertain input ``u`` written as its field takes it in a scenario.

    Parameters
    ----------
    u : gigawatt.scenario.distributions.Uncertain
    x : float
        The drawn value [SI: W, USD, USD/h, a factor per year, a month index].

    Returns
    -------
    str or float
        ``"2027-07"`` for a date, ``"-12.5%/year"`` for a decline, ``"3.2x/year"`` for
        a growth, ``"$1.1/h"`` for a price, ``"8e8 W"`` for power, ``"$3e10"`` for a
        spend limit, the number itself otherwise (tokens or tasks a day, chips a year).
    """
    from gigawatt.units import month_label

    x = float(x)
    if u.is_date:
        return month_label(int(round(x)))
    pat = u.pattern
    if pat.startswith("economics.power_price"):
        return f"${x!r}/MWh"
    if pat in ("economics.build_cost", "economics.it_capex_per_w", "economics.opex_per_mw_year"):
        return f"${x!r}/W"
    if pat in ("deal.commitment.total", "deal.commitment.min_per_year", "deal.investments[*].amount",
               "economics.capex_per_chip.*"):
        return f"${x!r}"
    if pat.startswith("economics.") or pat == "sites[*].pue":  # rates, shares and PUE: plain numbers
        return x
    if u.pattern.endswith("decline"):
        return f"{(x - 1) * 100!r}%/year"
    if "growth" in u.pattern:
        return f"{x!r}x/year"
    if u.pattern.startswith("prices"):
        return f"${x!r}/h"
    if "energized" in u.pattern or u.pattern == "deal.capacity_cap":
        return f"{x!r} W"
    if "spend_limit" in u.pattern:
        return f"${x!r}"
    return x
