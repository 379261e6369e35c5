"""The limits a scenario file must keep to, in one place.

``gigawatt check`` (:func:`gigawatt.scenario.load_scenario`) rejects anything
past these limits, each problem with its YAML path, line and a hint, so that no
input file can make ``check`` or ``run`` take unbounded memory or time. The
limits sit far above any real deal; each says why it is where it is.

======================================  ==============  ===========================================================
limit                                   value           why
======================================  ==============  ===========================================================
``MAX_FILE_BYTES``                      10 MiB          shipped scenarios are 4-23 kB; a file at the limits below
                                                        (200 sites x 1,200 monthly points) is about 5 MB.
                                                        Checked before reading; only regular files are read.
``MAX_YAML_NODES``                      1,000,000       scalars, lists and mappings after anchors and aliases are
                                                        expanded (a 342-byte alias "bomb" expands to 4 x 10^8).
``MAX_YAML_DEPTH``                      64              nesting of lists and mappings; the schema is 6 deep.
``MAX_TEXT_CHARS``                      100,000         characters of one string (a name or a description).
``MAX_HORIZON_YEARS``                   100             years from horizon.start to horizon.end.
``MAX_SITES``                           200             sites of one deal (deals name 1-10 campuses).
``MAX_ROADMAP_ENTRIES``                 50              roadmap entries, prices and chip lists (the catalog has
                                                        about 20 accelerators).
``MAX_ENERGIZED_POINTS``                1,200           points of one site's energization ramp: one a month for
                                                        the longest horizon.
``MAX_INVESTMENTS``                     500             investment tranches of a deal.
``MAX_TRAINING_RUNS``                   1,000           training runs, listed and generated together.
``MAX_INFERENCE_STREAMS``               200             inference streams.
``MAX_GROWTH_POINTS``                   1,200           dated growth rates of one stream.
``MAX_AGENTIC_STEPS``                   1,000           steps of one agentic task (below).
``MAX_AGENTIC_CONTEXT_TOKENS``          10,000,000      context of an agentic task's last step: ten times the
                                                        longest served context window (1M tokens, 2025-26).
``MAX_RUN_CELLS``                       20,000,000      work of one run (:func:`run_cells`, below): about 75 s
                                                        and under 1 GB on a 2-core machine at the limit.
``MAX_PEAK_TO_MEAN``                    100             peak traffic over mean traffic (diurnal peaks are 1.5-3).
``MAX_PRIORITY``                        1,000,000       magnitude of a training run's priority.
``SEED_MAX``                            2**63 - 1       seeds are integers in [0, 2**63 - 1] (a signed 64-bit
                                                        column in the results store).
======================================  ==============  ===========================================================

Quantities must be finite and within physical reason (:data:`QUANTITY_MAX`,
:data:`COUNT_MAX`, :data:`GROWTH_MIN`/:data:`GROWTH_MAX`): for example at most
10 TW of power (all the electricity generated on Earth averages about 3.4 TW),
$10^15 of money (about ten times world GDP) and 100 years for any duration.

Agentic steps. Published agent traces run tens of steps per task: SWE-Bench Pro
trajectories have medians of 29 to 78 steps across four models (nilenso,
"SWE-Bench Pro trajectory analysis", 730 tasks x 4 models, 2025), and GitHub
Copilot's coding-agent trace averages about 31 LLM calls per session
(Microsoft/GitHub, "Agentic Coding in the Wild", arXiv 2608.00101, 2026). The
context of step ``N`` is the prompt plus ``N`` tool outputs and answers; at the
3,000 tokens a step of the shipped scenarios, 1,000 steps is 3M tokens, past
every served context window. Larger jobs made of sub-agents are many tasks.

Run size. :func:`run_cells` estimates what ``gigawatt run`` builds and loops
over::

    cells = samples x periods x (sites x chips x (streams + runs + 1) + 20 x runs)
            + 300 x chips x (streams + runs)

The first term is the ``(sample, period, site, chip, workload)`` arrays of the
simulation (measured: about 30 bytes and 3.6 us of one core per cell), the
second the per-run work of each period (about 75 us, 20 cells), the third the
throughput searches (about 1 ms, 300 cells, per workload and chip). The shipped
scenarios are 60 to 30,000 cells.
"""

from __future__ import annotations

import math
from typing import Any

from gigawatt.units import SECONDS_PER_YEAR

MAX_FILE_BYTES = 10 * 2**20
MAX_YAML_NODES = 1_000_000
MAX_YAML_DEPTH = 64
MAX_TEXT_CHARS = 100_000
MAX_HORIZON_YEARS = 100
MAX_SITES = 200
MAX_ROADMAP_ENTRIES = 50
MAX_ENERGIZED_POINTS = 1_200
MAX_INVESTMENTS = 500
MAX_TRAINING_RUNS = 1_000
MAX_INFERENCE_STREAMS = 200
MAX_GROWTH_POINTS = 1_200
MAX_AGENTIC_STEPS = 1_000
MAX_AGENTIC_CONTEXT_TOKENS = 10_000_000
MAX_RUN_CELLS = 20_000_000
SEED_MAX = 2**63 - 1

#: the largest value of each quantity, in SI, with how it reads and why it is there
QUANTITY_MAX: dict[str, tuple[float, str, str]] = {
    "power": (1e13, "10 TW", "all the electricity generated on Earth averages about 3.4 TW"),
    "money": (1e15, "$1,000T", "about ten times world GDP"),
    "price_per_hour": (1e4, "$10,000/h", "a chip-hour lists at $1-10"),
    "price_per_energy": (1e5, "$100,000/MWh", "twenty times the highest wholesale price cap in the US"),
    "money_per_power": (1e4, "$10B/MW", "datacenters cost about $10M per MW"),
    "time": (100 * SECONDS_PER_YEAR, "100 years", "the longest horizon"),
    "compute": (1e32, "1e32 FLOP", "about 100,000 times the largest training runs of 2025"),
    "data": (1e18, "1 EB", "a session's sandbox or a host's memory is GB to TB"),
}

#: the largest value of each kind of count, with why
COUNT_MAX: dict[str, tuple[float, str]] = {
    "chips": (1e10, "chips; the largest fleets hold a few million"),
    "tokens": (1e18, "tokens; frontier runs train on tens of trillions"),
    "tokens_per_day": (1e18, "tokens a day; Google served about 1.3e15 a month in late 2025"),
    "tasks_per_day": (1e15, "tasks a day"),
    "request_tokens": (1e9, "tokens in one request; context windows are 1e5-1e7"),
    "batch_tokens": (1e12, "tokens per optimizer step; runs use 1e7-1e8"),
    "steps": (MAX_AGENTIC_STEPS, "steps a task; agent traces run tens of steps (SWE-Bench Pro medians 29-78)"),
}

#: growth and decline factors per year must lie in [GROWTH_MIN, GROWTH_MAX]; a
#: factor of 100 kept for the longest horizon is 1e200, still a finite float
GROWTH_MIN = 0.01
GROWTH_MAX = 100.0

#: peak traffic over mean traffic
MAX_PEAK_TO_MEAN = 100.0
#: training run priorities lie in [-MAX_PRIORITY, MAX_PRIORITY]
MAX_PRIORITY = 1_000_000

#: weight of one run for one period, and of one throughput search, in cells (see the module text)
RUN_PERIOD_CELLS = 20
SEARCH_CELLS = 300

#: characters that no string of a scenario may hold: C0 and C1 controls, DEL, the
#: bidirectional-text controls, and the line and paragraph separators. Tab, line
#: feed and carriage return are allowed in free text (TEXT_KEYS) only.
BIDI_CHARS = frozenset({0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)})
SEPARATOR_CHARS = frozenset({0x2028, 0x2029})
CONTROL_CHARS = frozenset({*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)})
TEXT_KEYS = frozenset({"title", "description", "note", "condition"})
TEXT_WHITESPACE = frozenset({0x09, 0x0A, 0x0D})


def horizon_months(start: str, end: str) -> int:
    """Months from ``start`` to ``end``, both included (``YYYY-MM`` labels)."""
    y0, m0 = map(int, start.split("-")[:2])
    y1, m1 = map(int, end.split("-")[:2])
    return (y1 - y0) * 12 + (m1 - m0) + 1


def n_periods(start: str, end: str, step: str = "month") -> int:
    """Periods of a horizon: months, or weeks from the first day of ``start`` to the end of ``end``."""
    months = horizon_months(start, end)
    if step != "week":
        return months
    return math.ceil(months * SECONDS_PER_YEAR / 12 / (7 * 86400.0)) + 1


def generated_run_count(first: str, every_s: float, until: str | None, count: int | None, horizon_end: str) -> int:
    """Runs a ``generate`` block makes: every ``every`` months from ``first`` to ``until`` (or the horizon's end).

    Follows :func:`gigawatt.fleet.demand.resolve_workloads`.
    """
    every_m = max(1, int(round(every_s / (SECONDS_PER_YEAR / 12))))
    last = until or horizon_end
    span = horizon_months(first, last) - 1
    n = 0 if span < 0 else span // every_m + 1
    return n if count is None else min(n, int(count))


def training_run_count(scn) -> int:
    """Training runs of a validated scenario, generated ones included."""
    demand = scn.demand
    if demand is None:
        return 0
    n = 0
    for item in demand.training:
        if hasattr(item, "generate"):
            g = item.generate
            n += generated_run_count(g.first, g.every_s, g.until, g.count, scn.horizon.end)
        else:
            n += 1
    return n


def run_cells(scn, n_samples: int = 1) -> int:
    """Estimated work of running a validated scenario, in cells (see the module text).

    >>> import types
    >>> scn = types.SimpleNamespace(horizon=types.SimpleNamespace(start="2026-01", end="2035-12", step="month"),
    ...                             sites=[0] * 4, roadmap=[0] * 3, demand=None)
    >>> run_cells(scn)
    1440
    """
    periods = n_periods(scn.horizon.start, scn.horizon.end, scn.horizon.step)
    sites, chips = len(scn.sites), len(scn.roadmap)
    streams = len(scn.demand.inference) if scn.demand is not None else 0
    runs = training_run_count(scn)
    per_period = sites * chips * (streams + runs + 1) + RUN_PERIOD_CELLS * runs
    return int(n_samples) * periods * per_period + SEARCH_CELLS * chips * (streams + runs)


def run_size_message(scn, n_samples: int = 1) -> str | None:
    """Why a run of ``n_samples`` samples of a validated scenario is past :data:`MAX_RUN_CELLS`, or None."""
    cells = run_cells(scn, n_samples)
    if cells <= MAX_RUN_CELLS:
        return None
    of = f"{n_samples:,} samples of this scenario" if n_samples != 1 else "a run of this scenario"
    return (f"{of} would be about {cells:,} cells of work (samples x periods x sites x chips x workloads), "
            f"more than the limit of {MAX_RUN_CELLS:,}")


def check_run_size(scn, n_samples: int = 1) -> None:
    """Raise ScenarioError where a run of ``n_samples`` samples is past :data:`MAX_RUN_CELLS`.

    ``gigawatt check`` checks one sample; a Monte Carlo run calls this with its
    number of samples before it builds anything.
    """
    from gigawatt.errors import Problem, ScenarioError

    message = run_size_message(scn, n_samples)
    if message is not None:
        raise ScenarioError([Problem("horizon", message, None,
                                     "use fewer samples, a shorter horizon, a monthly step, "
                                     "or fewer sites, chips or workloads")], scn.name)


class DataView:
    """How :func:`size_problems` reads a document: here Python data (dicts and lists)."""

    def get(self, obj: Any, key: str) -> Any:
        return obj.get(key) if isinstance(obj, dict) else None

    def length(self, obj: Any) -> int | None:
        return len(obj) if isinstance(obj, (list, dict)) else None

    def items(self, obj: Any) -> list:
        return list(obj) if isinstance(obj, list) else []


def size_problems(data: Any, view: DataView | None = None) -> list[tuple[tuple, str, str, Any]]:
    """Lists and mappings of a raw scenario past their limits: ``(path, message, hint, object)``.

    Runs before the schema (the loader runs it on the YAML nodes, before they
    are even turned into Python data), so that a file with a million points is
    turned away before anything is validated one by one.
    """
    view = view or DataView()
    get, items = view.get, view.items
    out: list[tuple[tuple, str, str, Any]] = []

    def check(path: tuple, value: Any, limit: int, what: str, hint: str) -> None:
        n = view.length(value)
        if n is not None and n > limit:
            out.append((path, f"{n:,} {what}, more than the limit of {limit:,}", hint, value))

    def chips(path: tuple, value: Any) -> None:
        check(path, value, MAX_ROADMAP_ENTRIES, "chips", "name each chip once")

    sites = get(data, "sites")
    check(("sites",), sites, MAX_SITES, "sites", "merge sites that share a ramp, or split the deal into scenarios")
    for i, site in enumerate(items(sites)[:MAX_SITES]):
        check(("sites", i, "energized"), get(site, "energized"), MAX_ENERGIZED_POINTS, "points",
              "give the ramp's corners only; power is interpolated between points")
        chips(("sites", i, "chips"), get(site, "chips"))
    check(("roadmap",), get(data, "roadmap"), MAX_ROADMAP_ENTRIES, "roadmap entries", "list each generation once")
    check(("prices",), get(data, "prices"), MAX_ROADMAP_ENTRIES, "prices", "give one price per roadmap chip")
    check(("deal", "investments"), get(get(data, "deal"), "investments"), MAX_INVESTMENTS, "investments",
          "merge tranches paid in the same month")
    demand = get(data, "demand")
    training = get(demand, "training")
    check(("demand", "training"), training, MAX_TRAINING_RUNS, "training runs",
          "describe a series of runs with one 'generate:' entry")
    for i, run in enumerate(items(training)[:MAX_TRAINING_RUNS]):
        chips(("demand", "training", i, "chips"), get(run, "chips"))
        chips(("demand", "training", i, "generate", "chips"), get(get(run, "generate"), "chips"))
    streams = get(demand, "inference")
    check(("demand", "inference"), streams, MAX_INFERENCE_STREAMS, "inference streams",
          "merge streams of the same model and request shape")
    for i, stream in enumerate(items(streams)[:MAX_INFERENCE_STREAMS]):
        check(("demand", "inference", i, "growth"), get(stream, "growth"), MAX_GROWTH_POINTS, "growth points",
              "give the dates where the rate changes only")
        chips(("demand", "inference", i, "chips"), get(stream, "chips"))
    econ = get(data, "economics")
    check(("economics", "power_price", "sites"), get(get(econ, "power_price"), "sites"), MAX_SITES, "site prices",
          "give one price per site")
    check(("economics", "capex_per_chip"), get(econ, "capex_per_chip"), MAX_ROADMAP_ENTRIES, "chip costs",
          "give one cost per roadmap chip")
    return out
