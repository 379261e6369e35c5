"""A corpus of hostile inputs for gigawatt: scenario files, odd paths and damaged results stores.

Every case is something a user, a script or an attacker could hand to
``gigawatt check`` / ``gigawatt run`` / ``gigawatt runs ...`` / ``gigawatt report``.
What gigawatt must do with each is the same: either reject it with exit status 2
and one clear message (no traceback), or accept it and produce a valid result
(strict JSON, every number finite), within bounded time and memory.

Scenario cases are ``(name, text)`` pairs; ``text`` is the file's content, a
``str`` (written as UTF-8) or ``bytes`` (written as is: binary, UTF-16 ...):

* :func:`kind_cases`: every numeric field kind (power, money, prices, counts,
  growth rates, durations, PUE, shares, compute, $/W, $/MWh, seed) set to
  ``.inf``, ``-.inf``, ``.nan``, ``1e400 <unit>``, ``1e300 <unit>``, a negative
  and a zero value, each in one of the shipped scenarios (rotated);
* :func:`structure_cases`: wrong types (a list where a mapping goes, a string
  for a number ...) and missing sections, made from the shipped scenarios;
* :func:`hand_cases`: alias bombs, huge counts and horizons, impossible dates,
  duplicate keys, hostile names, odd encodings, an empty file, a file over 10 MB.

:func:`scenario_cases` is all of them. :func:`path_cases` gives paths that are
not regular files (``/dev/zero``, a FIFO, a folder), and :func:`store_cases`
builds damaged results stores from a real one written by ``gigawatt run --db``
and gives the commands to run on each.
"""

from __future__ import annotations

import copy
import functools
import math
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import yaml
from conftest import MINIMAL  # the suite's tiny scenario (tests/ is on the path)

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = REPO / "scenarios"

Case = tuple[str, "str | bytes"]

#: the shipped scenario every hand-written case starts from
BASE = "anthropic-aws-2026"


# --------------------------------------------------------------------------- helpers


_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


@functools.lru_cache(maxsize=None)
def _shipped() -> tuple[tuple[str, str], ...]:
    return tuple((p.stem, p.read_text(encoding="utf-8")) for p in sorted(SCENARIOS.glob("*.yaml")))


def shipped() -> dict[str, str]:
    """The shipped scenarios: name -> YAML text."""
    return dict(_shipped())


@functools.lru_cache(maxsize=None)
def _shipped_data() -> dict[str, dict]:
    return {name: yaml.load(text, Loader=_Loader) for name, text in _shipped()}


def shipped_data() -> dict[str, dict]:
    """The shipped scenarios as YAML data: name -> mapping (a fresh copy each call)."""
    return copy.deepcopy(_shipped_data())


def dump(data: Any) -> str:
    """YAML text of ``data`` (infinities and NaN as ``.inf`` / ``.nan``, unicode kept)."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=10_000)


def leaves(data: Any, path: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    """Every scalar of ``data`` with its path (keys and list indices)."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield from leaves(value, path + (key,))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from leaves(value, path + (i,))
    else:
        yield path, data


def replaced(data: Any, path: tuple, value: Any) -> Any:
    """A deep copy of ``data`` with the value at ``path`` replaced (an empty path replaces everything)."""
    if not path:
        return value
    out = copy.deepcopy(data)
    node = out
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return out


def removed(data: dict, path: tuple) -> dict:
    """A deep copy of ``data`` without the key at ``path``."""
    out = copy.deepcopy(data)
    node = out
    for step in path[:-1]:
        node = node[step]
    del node[path[-1]]
    return out


def base_data() -> dict:
    return shipped_data()[BASE]


def with_values(**paths: Any) -> str:
    """The base scenario with values replaced by dotted path (``deal.capacity_cap``, ``sites.0.pue``)."""
    data = base_data()
    for dotted, value in paths.items():
        steps = tuple(int(s) if s.isdigit() else s for s in dotted.replace("__", ".").split("."))
        data = replaced(data, steps, value)
    return dump(data)


# --------------------------------------------------------------------------- numeric field kinds

#: field kind -> the keys that hold it (the last mapping key on a leaf's path, or a parent key for
#: mappings keyed by month or chip: energized, growth, capex_per_chip, power_price.sites, discount)
KIND_KEYS: dict[str, set[str]] = {
    "power": {"capacity_cap", "energized"},
    "money": {"total", "per_year", "amount", "min_per_year", "capex_per_chip"},
    "price": {"price", "prices"},
    "count": {"supply_per_year", "min_chips", "max_chips", "tokens", "tokens_per_day", "tasks_per_day",
              "steps_per_task", "input_tokens", "output_tokens", "context_growth", "batch_tokens"},
    "growth": {"decline", "compute_growth", "growth"},
    "time": {"lifetime", "term", "every", "duration", "ttft", "tpot", "checkpoint_interval", "restart_time",
             "datacenter_life"},
    "pue": {"pue"},
    "share": {"idle_power_fraction", "cache_hit_rate", "load_factor", "maintenance_share", "probability"},
    "peak_to_mean": {"peak_to_mean"},
    "compute": {"compute"},
    "money_per_power": {"it_capex_per_w", "build_cost", "opex_per_mw_year"},
    "price_per_energy": set(),  # economics.power_price.default and .sites.<site>
    "seed": {"seed"},
}

#: field kind -> how ``1e400`` of it is written (the unit after the number)
KIND_UNIT: dict[str, str] = {
    "power": "{} GW", "money": "${}B", "price": "${}/h", "count": "{}", "growth": "{}x/year",
    "time": "{} years", "pue": "{}", "share": "{}%", "peak_to_mean": "{}", "compute": "{} FLOP",
    "money_per_power": "${}/W", "price_per_energy": "${}/MWh", "seed": "{}",
}


def kind_of(path: tuple, value: Any) -> str | None:
    """The numeric field kind of a leaf, from its path; None for text, names, months and flags."""
    if isinstance(value, bool) or value is None:
        return None
    keys = [p for p in path if isinstance(p, str)]
    if not keys:
        return None
    last = keys[-1]
    parent = keys[-2] if len(keys) > 1 else None
    if parent == "energized":
        return "power"
    if parent == "growth":
        return "growth"
    if parent == "capex_per_chip":
        return "money"
    if parent == "prices" and last != "price":
        return "price"  # the short form, prices: {chip: $1/h}
    if parent == "discount":
        return "share"
    if "power_price" in keys[:-1]:
        return "price_per_energy"
    if last in ("date", "start", "end", "first", "until", "at", "from", "name", "chip", "system", "model"):
        return None
    for kind, keys_of_kind in KIND_KEYS.items():
        if last in keys_of_kind and not isinstance(value, (dict, list)):
            return kind
    return None


def hostile_values(kind: str) -> list[tuple[str, Any]]:
    """``(label, value)`` of the hostile values tried for one field kind."""
    unit = KIND_UNIT[kind]
    return [
        ("inf", math.inf),
        ("neg-inf", -math.inf),
        ("nan", math.nan),
        ("1e400", unit.format("1e400")),
        ("1e300", unit.format("1e300")),
        ("negative", unit.format("-5")),
        ("zero", unit.format("0")),
    ]


def kind_cases() -> list[Case]:
    """Each numeric field kind set to each hostile value, in one of the shipped scenarios.

    The scenario (and the leaf within it, for kinds with several) rotates, so
    that the cases spread over the shipped files and fields.
    """
    data = shipped_data()
    by_kind: dict[str, list[tuple[str, tuple]]] = {}
    for name, scn in data.items():
        for path, value in leaves(scn):
            kind = kind_of(path, value)
            if kind is not None:
                by_kind.setdefault(kind, []).append((name, path))
    cases = []
    for kind in KIND_KEYS:
        spots = by_kind.get(kind, [])
        if not spots:
            continue
        for i, (label, value) in enumerate(hostile_values(kind)):
            name, path = spots[(7 * i) % len(spots)]
            where = ".".join(str(p) for p in path)
            cases.append((f"kind-{kind}-{label}@{name}:{where}", dump(replaced(data[name], path, value))))
    return cases


def every_leaf_nan_cases(scenario: str = "nvidia-gb-contrast-2026") -> list[Case]:
    """One scenario with each of its numeric leaves, one at a time, set to ``.nan``."""
    scn = shipped_data()[scenario]
    cases = []
    for path, value in leaves(scn):
        if kind_of(path, value) is not None:
            where = ".".join(str(p) for p in path)
            cases.append((f"leaf-nan@{scenario}:{where}", dump(replaced(scn, path, math.nan))))
    return cases


# --------------------------------------------------------------------------- wrong types and missing parts


def structure_cases() -> list[Case]:
    """Sections of the shipped scenarios with the wrong type, or missing."""
    data = shipped_data()
    names = list(data)
    cases = []
    sections = ["horizon", "deal", "sites", "roadmap", "prices", "demand", "economics"]
    wrong = [("list", [1, 2, 3]), ("string", "hello"), ("null", None), ("number", 42)]
    for i, section in enumerate(sections):
        for j, (label, value) in enumerate(wrong):
            candidates = [n for n in names if section in data[n]]
            name = candidates[(i + j) % len(candidates)]
            cases.append((f"type-{section}-{label}@{name}", dump(replaced(data[name], (section,), value))))
    for i, section in enumerate(["schema_version", "name", "horizon", "deal", "sites", "roadmap", "prices"]):
        name = names[i % len(names)]
        cases.append((f"missing-{section}@{name}", dump(removed(data[name], (section,)))))
    base = data[BASE]
    odd = [
        ("string-for-number", ("sites", 0, "pue"), "high"),
        ("string-for-count", ("roadmap", 0, "supply_per_year"), "lots"),
        ("mapping-for-number", ("deal", "capacity_cap"), {"a": 1}),
        ("list-for-number", ("deal", "commitment", "total"), ["$1B", "$2B"]),
        ("list-for-name", ("name",), ["a", "b"]),
        ("mapping-for-month", ("horizon", "start"), {"year": 2026}),
        ("number-for-month", ("horizon", "end"), 203512),
        ("float-for-month", ("horizon", "end"), 2035.12),
        ("list-for-energized", ("sites", 0, "energized"), ["2026-01", "1 GW"]),
        ("empty-energized", ("sites", 0, "energized"), {}),
        ("empty-sites", ("sites",), []),
        ("empty-roadmap", ("roadmap",), []),
        ("mapping-for-roadmap", ("roadmap",), {"chip": "trainium2"}),
        ("string-for-seed", ("seed",), "seven"),
        ("bool-for-seed", ("seed",), True),
        ("bool-for-power", ("deal", "capacity_cap"), True),
        ("string-for-schema-version", ("schema_version",), "1"),
        ("schema-version-99", ("schema_version",), 99),
        ("list-for-demand-training", ("demand", "training"), {"generate": {}}),
        ("empty-string-power", ("deal", "capacity_cap"), ""),
        ("unit-only-power", ("deal", "capacity_cap"), "GW"),
        ("double-unit-power", ("deal", "capacity_cap"), "5 GW GW"),
        ("words-for-power", ("deal", "capacity_cap"), "five gigawatts"),
        ("wrong-dimension-power", ("deal", "capacity_cap"), "$5B"),
        ("fullwidth-digits-power", ("deal", "capacity_cap"), "\uff15 GW"),
        ("underflow-power", ("deal", "capacity_cap"), "1e-400 GW"),
        ("negative-zero-power", ("deal", "capacity_cap"), "-0 GW"),
        ("hex-count", ("roadmap", 0, "supply_per_year"), "0x10"),
        ("nan-string-count", ("roadmap", 0, "supply_per_year"), "nan"),
        ("inf-string-price", ("prices", "trainium2", "price"), "$inf/h"),
        ("nan-string-money", ("deal", "commitment", "total"), "$NaNB"),
        ("infinity-word-time", ("roadmap", 0, "lifetime"), "Infinity years"),
        ("unknown-chip", ("roadmap", 0, "chip"), "trainium99"),
        ("unknown-model", ("demand", "inference", 0, "model"), "gpt-17"),
        ("unknown-policy", ("demand", "policy"), "whatever"),
    ]
    for label, path, value in odd:
        cases.append((f"wrong-{label}", dump(replaced(base, path, value))))
    return cases


# --------------------------------------------------------------------------- hand-written cases


def alias_bomb(levels: int = 9, width: int = 10, key: str = "description") -> str:
    """The "billion laughs": ``width ** levels`` strings from a few hundred bytes, under ``key``."""
    lines = ['a0: &a0 "lol"']
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    return "\n".join(lines) + f"\n{key}: *a{levels}\n"


def _scenario_with(text_after: str) -> str:
    """The base scenario's text followed by more YAML (later keys win in PyYAML)."""
    return shipped()[BASE] + "\n" + text_after


def big(data: dict, path: tuple, flow_yaml: str) -> str:
    """``data`` dumped with the value at ``path`` replaced by YAML text (a large flow list or mapping),
    written directly because the YAML representer is slow for large values."""
    marker = "GIGAWATT_HOSTILE_PLACEHOLDER"
    return dump(replaced(data, path, marker)).replace(marker, flow_yaml, 1)


def _energized_points(n: int) -> dict:
    points = {}
    for i in range(n):
        year, month = 1 + i // 12, i % 12 + 1
        points[f"{year:04d}-{month:02d}"] = f"{(i % 1000) + 1} MW"
    return points


def _names(name: str) -> str:
    return with_values(name=name)


def _site_name(name: str) -> str:
    return with_values(**{"sites.0.name": name})




def hand_cases() -> list[Case]:
    """The hand-written cases: bombs, huge sizes, dates, keys, names, encodings, files."""
    base = base_data()
    text = shipped()[BASE]
    agents = ("demand", "inference", 1, "agentic")
    gen = ("demand", "training", 0, "generate")
    cases: list[Case] = []

    # alias bombs and deep nesting
    cases += [
        ("alias-bomb-description", _scenario_with(alias_bomb(9, 10, "description"))),
        ("alias-bomb-sites", text.replace("\nsites:\n", "\nunused_sites:\n", 1) + "\n" + alias_bomb(9, 10, "sites")),
        ("alias-bomb-unknown-key", _scenario_with(alias_bomb(9, 10, "x_bomb"))),
        ("alias-bomb-only", alias_bomb(9, 10, "bomb")),
        ("alias-bomb-mapping", 'a0: &a0 {k: "lol"}\n'
         + "\n".join(f"a{i}: &a{i} {{" + ", ".join(f"k{j}: *a{i - 1}" for j in range(10)) + "}" for i in range(1, 10))
         + "\nbomb: *a9\n"),
        ("deep-nesting-lists", "a: " + "[" * 5000 + "]" * 5000 + "\n"),
        ("deep-nesting-mappings", "a: " + "{b: " * 5000 + "1" + "}" * 5000 + "\n"),
        ("merge-key-loop", "a: &a {x: 1}\nb:\n  <<: *a\n  <<: *a\n"),
        ("python-tag", "!!python/object/apply:os.system ['echo pwned']\n"),
        ("python-name-tag", _scenario_with("title: !!python/name:os.system\n")),
        ("binary-tag", _scenario_with("title: !!binary aGVsbG8=\n")),
        ("set-tag", _scenario_with("title: !!set {a, b}\n")),
        ("custom-tag", _scenario_with("title: !evil x\n")),
    ]

    # huge counts and sizes
    cases += [
        ("huge-steps-1e9", dump(replaced(base, agents + ("steps_per_task",), 1e9))),
        ("huge-steps-1e6", dump(replaced(base, agents + ("steps_per_task",), 1_000_000))),
        ("huge-tasks-1e18", dump(replaced(base, agents + ("tasks_per_day",), "1e18"))),
        ("huge-context-growth", dump(replaced(base, agents + ("context_growth",), "1e15"))),
        ("huge-supply-1e12", dump(replaced(base, ("roadmap", 0, "supply_per_year"), "1e12"))),
        ("huge-min-chips-1e12", dump(replaced(base, gen + ("min_chips",), "1e12"))),
        ("huge-cap-and-chips", dump(replaced(replaced(base, ("deal", "capacity_cap"), "1e12 GW"),
                                             ("roadmap", 2, "supply_per_year"), "1e12"))),
        ("huge-batch-tokens", dump(replaced(base, gen + ("batch_tokens",), "1e30"))),
        ("huge-input-tokens", dump(replaced(base, ("demand", "inference", 0, "input_tokens"), "1e15"))),
        ("huge-tokens-per-day", dump(replaced(base, ("demand", "inference", 0, "tokens_per_day"), "1e30"))),
        ("huge-compute", dump(replaced(base, gen + ("compute",), "1e60 FLOP"))),
        ("huge-compute-growth", dump(replaced(base, gen + ("compute_growth",), "1e9x/year"))),
        ("huge-growth", dump(replaced(base, ("demand", "inference", 0, "growth"), "1e9x/year"))),
        ("horizon-9999", dump(replaced(base, ("horizon", "end"), "9999-12"))),
        ("horizon-9999-weekly", dump(replaced(replaced(base, ("horizon", "end"), "9999-12"), ("horizon", "step"), "week"))),
        ("horizon-0001-9999", dump(replaced(replaced(base, ("horizon", "start"), "0001-01"), ("horizon", "end"),
                                            "9999-12"))),
        ("generate-every-day-to-9999", dump(replaced(replaced(replaced(base, gen + ("every",), "1 day"),
                                                              gen + ("until",), "9999-12"), ("horizon", "end"), "9999-12"))),
        ("generate-every-second", dump(replaced(base, gen + ("every",), "1 s"))),
        ("energized-100k-points", big(base, ("sites", 0, "energized"), "{" + ", ".join(
            f"{k}: {v}" for k, v in _energized_points(100_000).items()) + "}")),
        ("sites-10k", big(base, ("sites",), "[" + ", ".join(
            f"{{name: s{i}, pue: 1.2, energized: {{2026-01: 1 MW}}}}" for i in range(10_000)) + "]")),
        ("roadmap-5k", big(base, ("roadmap",), "[" + ", ".join(
            ["{chip: trainium3, system: trn3-ultraserver-144, from: 2026-07}"] * 5_000) + "]")),
        ("training-runs-50k", big(base, ("demand", "training"), "[" + ", ".join(
            f"{{name: r{i}, model: frontier-moe-2t, compute: 1e24 FLOP, start: 2027-01, min_chips: 1000}}"
            for i in range(50_000)) + "]")),
        ("investments-100k", big(base, ("deal", "investments"), "[" + ", ".join(
            ["{date: 2027-01, amount: $1M}"] * 100_000) + "]")),
        ("long-number-5000-digits", text.replace("supply_per_year: 600k", "supply_per_year: " + "9" * 5000, 1)),
        ("long-number-string", dump(replaced(base, ("deal", "capacity_cap"), "1" * 100_000 + " GW"))),
        ("huge-file-11MB", text + "\n" + "\n".join(f"# padding line {i:08d} " + "x" * 90 for i in range(110_000))
         + "\n"),
        ("huge-description-11MB", MINIMAL + "description: " + "x" * (11 * 2**20) + "\n"),
    ]

    # tiny, zero and degenerate values that divide
    cases += [
        ("tiny-cap-1W", dump(replaced(base, ("deal", "capacity_cap"), "1 W"))),
        ("all-energized-zero", dump(replaced(base, ("sites",), [
            {"name": "a", "pue": 1.1, "energized": {"2026-01": "0 MW", "2030-01": "0 MW"}}]))),
        ("tiny-price", dump(replaced(base, ("prices", "trainium2", "price"), "$1e-300/h"))),
        ("tiny-commitment", dump(replaced(base, ("deal", "commitment", "total"), "$1e-300"))),
        ("tiny-spend-limit", dump(replaced(base, ("deal", "spend_limit", "per_year"), "$0.01"))),
        ("tiny-lifetime", dump(replaced(base, ("roadmap", 0, "lifetime"), "1 s"))),
        ("tiny-term", dump(replaced(base, ("deal", "commitment", "term"), "1 s"))),
        ("tiny-supply", dump(replaced(base, ("roadmap", 0, "supply_per_year"), "1e-300"))),
        ("zero-supply-all", dump({**base, "roadmap": [{**e, "supply_per_year": 0} for e in base["roadmap"]]})),
        ("zero-steps", dump(replaced(base, agents + ("steps_per_task",), 0))),
        ("fraction-steps", dump(replaced(base, agents + ("steps_per_task",), 0.001))),
        ("tiny-min-chips", dump(replaced(base, gen + ("min_chips",), 1e-9))),
        ("one-chip-run", dump(replaced(base, gen + ("min_chips",), 1))),
        ("tiny-batch-tokens", dump(replaced(base, gen + ("batch_tokens",), 1e-9))),
        ("tiny-every", dump(replaced(base, gen + ("every",), "1e-300 s"))),
        ("tiny-checkpoint", dump(replaced(base, ("demand", "checkpoint_interval"), "1e-300 s"))),
        ("huge-restart", dump(replaced(base, ("demand", "restart_time"), "99 years"))),
        ("tiny-ttft", dump(replaced(base, ("demand", "inference", 0, "ttft"), "1e-300 s"))),
        ("tiny-tokens-per-day", dump(replaced(base, ("demand", "inference", 0, "tokens_per_day"), 1e-300))),
        ("tiny-compute", dump(replaced(base, gen + ("compute",), "1e-300 FLOP"))),
        ("decline-zero", dump(replaced(base, ("prices", "trainium2", "decline"), "0x/year"))),
        ("decline-minus-100pct", dump(replaced(base, ("prices", "trainium2", "decline"), "-100%/year"))),
        ("growth-zero", dump(replaced(base, ("demand", "inference", 0, "growth"), "0x/year"))),
        ("idle-power-100pct", dump(replaced(base, ("demand", "idle_power_fraction"), "100%"))),
        ("cache-hit-100pct", dump(replaced(base, agents + ("cache_hit_rate",), "100%"))),
        ("pue-exactly-1", dump(replaced(base, ("sites", 0, "pue"), 1.0))),
        ("discount-minus-50pct", dump(replaced(base, ("economics", "discount"), "-50%"))),
        ("discount-minus-100pct", dump(replaced(base, ("economics", "discount"), "-100%"))),
        ("discount-200pct", dump(replaced(base, ("economics", "discount"), "200%"))),
        ("load-factor-zero", dump(replaced(base, ("economics", "load_factor"), "0%"))),
        ("power-price-zero", dump(replaced(base, ("economics", "power_price", "default"), "$0/MWh"))),
        ("datacenter-life-1s", dump(replaced(base, ("economics", "datacenter_life"), "1 s"))),
        ("minimal-no-demand", MINIMAL),
        ("minimal-weekly", MINIMAL.replace("end: 2027-12}", "end: 2027-12, step: week}")),
        ("one-month-horizon", MINIMAL.replace("end: 2027-12", "end: 2026-01")),
    ]

    # seeds
    for label, seed in [("minus-1", -1), ("1e30", "1e30"), ("1e30-float", 1e30), ("2-pow-64", 2**64),
                        ("2-pow-63", 2**63), ("nan", math.nan), ("inf", math.inf)]:
        cases.append((f"seed-{label}", dump(replaced(base, ("seed",), seed))))

    # impossible and hostile dates
    cases += [
        ("date-2026-02-30", text.replace("start: 2026-04, term", "start: 2026-02-30, term", 1)),
        ("date-2026-02-29-full", text.replace("start: 2026-04, term", "start: 2026-02-29, term", 1)),
        ("date-2026-13", dump(replaced(base, ("deal", "commitment", "start"), "2026-13"))),
        ("date-2026-00", dump(replaced(base, ("horizon", "start"), "2026-00"))),
        ("date-0000-01", dump(replaced(base, ("horizon", "start"), "0000-01"))),
        ("date-year-10000", dump(replaced(base, ("horizon", "end"), "10000-01"))),
        ("date-negative-year", dump(replaced(base, ("horizon", "start"), "-2026-01"))),
        ("date-timestamp", text.replace("horizon: {start: 2026-01, end: 2035-12}",
                                        "horizon: {start: 2026-01-01T00:00:00Z, end: 2035-12}", 1)),
        ("date-energized-2026-02-30", text.replace("      2026-02: 0 MW", "      2026-02-30: 0 MW", 1)),
        ("date-energized-2026-13", text.replace("      2026-02: 0 MW", "      2026-13: 0 MW", 1)),
        ("horizon-ends-before-commitment", dump(replaced(replaced(base, ("horizon", "end"), "2026-02"),
                                                         ("deal", "commitment", "start"), "2026-04"))),
        ("commitment-after-horizon", dump(replaced(base, ("deal", "commitment", "start"), "2050-01"))),
        ("horizon-reversed", dump(replaced(base, ("horizon",), {"start": "2035-12", "end": "2026-01"}))),
        ("roadmap-until-before-from", dump(replaced(base, ("roadmap", 0, "until"), "2020-01"))),
        ("energized-all-before-horizon", dump(replaced(base, ("sites", 0, "energized"), {"1990-01": "1 GW"}))),
        ("energized-all-after-horizon", dump(replaced(base, ("sites", 0, "energized"), {"2090-01": "1 GW"}))),
        ("demand-after-horizon", dump(replaced(replaced(base, ("demand", "inference", 0, "at"), "2090-01"),
                                               gen + ("first",), "2090-01"))),
    ]

    # duplicate keys
    cases += [
        ("duplicate-top-level-key", text + "\nseed: 8\n"),
        ("duplicate-seed", text.replace("seed: 7\n", "seed: 7\nseed: 99\n", 1)),
        ("duplicate-deal", text + "\ndeal:\n  commitment: {total: $1B, start: 2026-01, term: 1 years}\n"),
        ("duplicate-energized-month", text.replace("      2026-06: 250 MW\n", "      2026-06: 250 MW\n      2026-06: 9 GW\n",
                                                   1)),
        ("duplicate-price", text.replace("  trainium2: {price: $1.00/h", "  trainium2: $99/h\n  trainium2: {price: $1.00/h",
                                         1)),
        ("duplicate-flow-key", text.replace("horizon: {start: 2026-01, end: 2035-12}",
                                            "horizon: {start: 2026-01, end: 2035-12, end: 2030-12}", 1)),
    ]

    # hostile names
    cases += [
        ("name-nul", _names("deal\x00evil")),
        ("name-esc", _names("deal\x1b[2J\x1b]0;pwned\x07")),
        ("name-rlo", _names("deal\u202elmth.exe")),
        ("name-dotdot", _names("../../x")),
        ("name-slash", _names("a/b")),
        ("name-long-1M", _names("a" * 1_000_000)),
        ("name-empty", _names("")),
        ("name-emoji", _names("deal-\U0001f4a5")),
        ("site-name-nul", _site_name("site\x00x")),
        ("site-name-esc", _site_name("\x1b[31mred\x1b[0m")),
        ("site-name-rlo", _site_name("site\u202egnp.exe")),
        ("site-name-dotdot", _site_name("../../../etc/passwd")),
        ("site-name-long-1M", _site_name("s" * 1_000_000)),
        ("site-name-zero-width", _site_name("new-carlisle-in\u200b")),
        ("title-esc", with_values(title="\x1b]52;c;cHduZWQ=\x07clipboard")),
        ("description-c1", with_values(description="\x9b31m red \x85 next")),
        ("buyer-rlo", with_values(**{"deal.buyer": "Anthropic\u202e"})),
        ("stream-name-esc", with_values(**{"demand.inference.0.name": "chat\x1b[2J"})),
        ("training-name-dotdot", with_values(**{"demand.training.0.generate.name": "../../../tmp/evil"})),
        ("key-nul", text + '\n"bad\\0key": 1\n'),
        ("key-long-1M", text + "\n" + "k" * 1_000_000 + ": 1\n"),
    ]

    # documents that are not a scenario mapping, and encodings
    cases += [
        ("empty-file", ""),
        ("only-comments", "# nothing here\n# at all\n"),
        ("only-null", "null\n"),
        ("document-markers", "---\n...\n"),
        ("two-documents", MINIMAL + "---\n" + MINIMAL),
        ("scalar-document", "42\n"),
        ("list-document", "- 1\n- 2\n"),
        ("tabs-indent", MINIMAL.replace("  ", "\t")),
        ("crlf-line-ends", MINIMAL.replace("\n", "\r\n")),
        ("cr-only-line-ends", MINIMAL.replace("\n", "\r")),
        ("unclosed-quote", MINIMAL + 'title: "never closed\n'),
        ("binary-random", bytes((i * 193 + 7) % 256 for i in range(4096))),
        ("binary-nul-bytes", b"\x00" * 1000),
        ("binary-elf", b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 4),
        ("utf16-le-bom", MINIMAL.encode("utf-16")),
        ("utf16-be-no-bom", MINIMAL.encode("utf-16-be")),
        ("utf32", MINIMAL.encode("utf-32")),
        ("utf8-bom", b"\xef\xbb\xbf" + MINIMAL.encode("utf-8")),
        ("latin1-name", MINIMAL.replace("name: tiny", "name: caf\xe9").encode("latin-1")),
        ("invalid-utf8-in-comment", MINIMAL.encode() + b"# \xff\xfe\xc0\x80 broken\n"),
        ("surrogate-escape", MINIMAL.encode() + b'title: "\\ud800"\n'),
        ("nul-in-middle", MINIMAL.encode().replace(b"seed: 3", b"seed: 3\x00")),
    ]
    return cases


@functools.lru_cache(maxsize=1)
def _all_cases() -> tuple[Case, ...]:
    cases = kind_cases() + every_leaf_nan_cases() + structure_cases() + hand_cases()
    names = [n for n, _ in cases]
    dupes = {n for n in names if names.count(n) > 1}
    assert not dupes, dupes
    return tuple(cases)


def scenario_cases() -> list[Case]:
    """Every scenario case of the corpus (names are unique)."""
    return list(_all_cases())


def case(name: str) -> "str | bytes":
    """The text of one scenario case by name."""
    return dict(_all_cases())[name]


def write_case(folder: Path, name: str, text: "str | bytes") -> Path:
    """Write a case's text into ``folder`` under a safe file name; its path."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:100]
    path = Path(folder) / f"{safe}.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
    return path


# --------------------------------------------------------------------------- paths that are not files


def path_cases(folder: Path) -> list[tuple[str, str]]:
    """``(name, path)`` of paths that are not regular scenario files: devices, a FIFO, a folder, a loop."""
    folder = Path(folder)
    out = [("path-dev-zero", "/dev/zero"), ("path-dev-urandom", "/dev/urandom"), ("path-dev-null", "/dev/null")]
    fifo = folder / "fifo.yaml"
    if not fifo.exists():
        os.mkfifo(fifo)
    out.append(("path-fifo", str(fifo)))
    d = folder / "a-folder.yaml"
    d.mkdir(exist_ok=True)
    out.append(("path-folder", str(d)))
    link = folder / "zero-link.yaml"
    if not link.is_symlink():
        link.symlink_to("/dev/zero")
    out.append(("path-link-to-dev-zero", str(link)))
    loop = folder / "loop.yaml"
    if not loop.is_symlink():
        loop.symlink_to(loop.name)
    out.append(("path-symlink-loop", str(loop)))
    out.append(("path-missing", str(folder / "no-such-file.yaml")))
    return out


# --------------------------------------------------------------------------- damaged stores


def gigawatt_cmd() -> list[str]:
    """The command that runs the gigawatt CLI of this checkout."""
    exe = Path(sys.executable).with_name("gigawatt")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "gigawatt.cli"]


def make_store(folder: Path, scenario: str = "microsoft-nebius-2025") -> tuple[Path, str]:
    """A real results store with one run of a shipped scenario, written by ``gigawatt run --db``: (path, run id)."""
    folder = Path(folder)
    db = folder / "real.duckdb"
    if db.exists():
        db.unlink()
    subprocess.run(gigawatt_cmd() + ["run", str(SCENARIOS / f"{scenario}.yaml"), "--db", str(db), "--no-write",
                                     "--json"], check=True, capture_output=True, timeout=120, cwd=folder)
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        run_id = con.execute("SELECT id FROM runs").fetchone()[0]
    finally:
        con.close()
    return db, run_id


def _sql(db: Path, *statements: str) -> None:
    import duckdb

    con = duckdb.connect(str(db))
    try:
        for s in statements:
            con.execute(s)
    finally:
        con.close()


def damaged_stores(folder: Path, real: Path) -> list[tuple[str, Path]]:
    """Copies of a real store, each damaged one way: ``(name, path)``."""
    folder = Path(folder)
    out = []

    def copy_as(name: str) -> Path:
        path = folder / f"{name}.duckdb"
        shutil.copy(real, path)
        return path

    p = copy_as("truncated-half")
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    out.append(("truncated-half", p))
    p = copy_as("truncated-header")
    p.write_bytes(p.read_bytes()[:5000])
    out.append(("truncated-header", p))
    p = folder / "zero-bytes.duckdb"
    p.write_bytes(b"")
    out.append(("zero-bytes", p))
    p = folder / "text-file.duckdb"
    p.write_text("id,scenario\n1,hello\n")
    out.append(("text-file", p))
    p = folder / "foreign-runs.duckdb"
    if p.exists():
        p.unlink()
    _sql(p, "CREATE TABLE runs (runner VARCHAR, km DOUBLE)", "INSERT INTO runs VALUES ('ana', 10.5)")
    out.append(("foreign-runs-table", p))
    p = copy_as("dropped-column")
    _sql(p, "ALTER TABLE runs DROP COLUMN seed")
    out.append(("dropped-column", p))
    p = copy_as("schema-99")
    _sql(p, "UPDATE store_meta SET value = '99' WHERE key = 'schema_version'")
    out.append(("schema-version-99", p))
    p = copy_as("dropped-values")
    _sql(p, "DROP TABLE run_values")
    out.append(("dropped-values-table", p))
    p = copy_as("hostile-names")
    _sql(p, "UPDATE runs SET scenario = '../../x\x1b[2J\u202eevil'")
    out.append(("hostile-names", p))
    p = copy_as("deleted-values")
    _sql(p, "DELETE FROM run_values")
    out.append(("deleted-values-rows", p))
    p = folder / "a-folder.duckdb"
    p.mkdir(exist_ok=True)
    out.append(("folder-as-store", p))
    return out


def store_cases(folder: Path) -> list[tuple[str, list[str], Path]]:
    """``(name, argv, cwd)``: the store-reading commands on each damaged store, built from a real one.

    ``argv`` are arguments of ``gigawatt`` (without the program). Each report
    writes into its own folder, ``cwd``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    real, run_id = make_store(folder)
    cases = []
    for name, db in damaged_stores(folder, real):
        cwd = folder / f"cwd-{name}"
        cwd.mkdir(exist_ok=True)
        cases += [
            (f"store-{name}-runs-list", ["runs", "list", "--db", str(db)], cwd),
            (f"store-{name}-runs-list-json", ["runs", "list", "--json", "--db", str(db)], cwd),
            (f"store-{name}-runs-show", ["runs", "show", run_id, "--db", str(db)], cwd),
            (f"store-{name}-runs-show-json", ["runs", "show", run_id, "--json", "--db", str(db)], cwd),
            (f"store-{name}-report", ["report", run_id, "--db", str(db)], cwd),
        ]
    return cases


# --------------------------------------------------------------------------- running a case


#: what one command may take
TIMEOUT_S = 60.0
MEMORY_BYTES = 2 * 2**30


def _limits(memory_bytes: int):
    """The child's preexec_fn: limits set with calls only (no import, no lock taken between fork and exec,
    so that it is safe when several threads start subprocesses)."""
    setrlimit, rlimit_as, rlimit_core = resource.setrlimit, resource.RLIMIT_AS, resource.RLIMIT_CORE

    def preexec() -> None:
        setrlimit(rlimit_as, (memory_bytes, memory_bytes))
        setrlimit(rlimit_core, (0, 0))

    return preexec


def run_limited(args: list[str], cwd: Path | None = None, timeout_s: float = TIMEOUT_S,
                memory_bytes: int = MEMORY_BYTES) -> dict:
    """Run ``gigawatt ARGS`` in a subprocess with a memory limit (RLIMIT_AS) and a timeout.

    Returns ``{"args", "rc", "stdout", "stderr", "seconds", "timed_out"}``; ``rc`` is None on a
    timeout and negative when a signal killed the process.
    """
    import time

    env = dict(os.environ, GIGAWATT_LOCK_TIMEOUT_S="5", COLUMNS="200", PYTHONUNBUFFERED="1")
    env.pop("PYTHONBREAKPOINT", None)
    start = time.monotonic()
    try:
        proc = subprocess.run(gigawatt_cmd() + [str(a) for a in args], cwd=cwd, env=env, capture_output=True,
                              stdin=subprocess.DEVNULL, timeout=timeout_s, preexec_fn=_limits(memory_bytes))
    except subprocess.TimeoutExpired as exc:
        return {"args": args, "rc": None, "stdout": _text(exc.stdout), "stderr": _text(exc.stderr),
                "seconds": time.monotonic() - start, "timed_out": True}
    return {"args": args, "rc": proc.returncode, "stdout": _text(proc.stdout), "stderr": _text(proc.stderr),
            "seconds": time.monotonic() - start, "timed_out": False}


def _text(data) -> str:
    if data is None:
        return ""
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else data


class NotStrict(ValueError):
    """JSON text that is not strict: NaN, Infinity, or a number that overflows to infinity."""


def _no_constant(name: str):
    raise NotStrict(f"non-strict JSON constant {name}")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise NotStrict(f"number {text} is not finite as a float")
    return value


def strict_json(text: str) -> Any:
    """Parse strict JSON (NaN, Infinity and numbers that overflow are errors); NotStrict or ValueError."""
    import json

    value = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    bad = nonfinite_paths(value)
    if bad:
        raise NotStrict(f"non-finite number at {bad[0]}")
    return value


def nonfinite_paths(value: Any, path: str = "") -> list[str]:
    """Paths of every NaN or infinite float in nested dicts and lists."""
    if isinstance(value, bool):
        return []
    if isinstance(value, float):
        return [] if math.isfinite(value) else [path or "<top>"]
    if isinstance(value, int):
        return []
    try:
        import numpy as np

        if isinstance(value, np.floating):
            return [] if np.isfinite(value) else [path or "<top>"]
    except ImportError:  # pragma: no cover
        pass
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in nonfinite_paths(v, f"{path}.{k}" if path else str(k))]
    if isinstance(value, (list, tuple)):
        return [p for i, v in enumerate(value) for p in nonfinite_paths(v, f"{path}[{i}]")]
    return []


def first_error_line(stderr: str) -> str:
    """The line that says what went wrong: a traceback's last line, else the first non-empty line."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    if not lines:
        return ""
    if any(line.startswith("Traceback") for line in lines):
        return lines[-1].strip()
    return lines[0].strip()


def traceback_origin(stderr: str) -> str:
    """``gigawatt/module.py:function`` of the deepest frame of gigawatt's own code in a traceback."""
    import re

    frames = re.findall(r'File "([^"]+)", line (\d+), in (\S+)', stderr)
    ours = [(f, ln, fn) for f, ln, fn in frames if "/gigawatt/" in f and "site-packages/typer" not in f]
    if not ours:
        return ""
    f, ln, fn = ours[-1]
    return f"{f[f.rindex('/gigawatt/') + 1:]}:{ln} in {fn}"


def classify(result: dict, want_json: bool) -> tuple[str, str]:
    """``(outcome, detail)`` of one command: outcome is ``rejected``, ``accepted`` or ``failure``.

    rejected: exit 2, a message on stderr, no traceback. accepted: exit 0 and, when ``want_json``,
    stdout is strict JSON with every number finite. failure: anything else.
    """
    rc, err = result["rc"], result["stderr"]
    if result["timed_out"]:
        return "failure", f"timeout after {result['seconds']:.0f} s"
    if "Traceback" in err or "MemoryError" in err:
        kind = "memory" if "MemoryError" in err else "traceback"
        origin = traceback_origin(err)
        return "failure", f"{kind} (exit {rc}): {first_error_line(err)}" + (f" [at {origin}]" if origin else "")
    if rc == 2:
        if not err.strip():
            return "failure", "exit 2 without a message"
        return "rejected", " | ".join(line.strip() for line in err.splitlines() if line.strip())[:300]
    if rc == 0:
        if want_json:
            try:
                strict_json(result["stdout"])
            except ValueError as exc:
                return "failure", f"exit 0, stdout is not strict JSON: {exc}"
        return "accepted", ""
    if rc is not None and rc < 0:
        import signal

        try:
            name = signal.Signals(-rc).name
        except ValueError:
            name = str(-rc)
        return "failure", f"killed by {name} (memory limit?): {first_error_line(err)}"
    return "failure", f"exit {rc}: {first_error_line(err)}"


def check_then_run(path: "str | Path", cwd: Path | None = None, timeout_s: float = TIMEOUT_S,
                   memory_bytes: int = MEMORY_BYTES) -> dict:
    """``gigawatt check PATH`` and, where it exits 0, ``gigawatt run PATH --no-store --no-write --json``.

    Returns ``{"outcome", "detail", "stage", "results"}``: the outcome of the last command run.
    """
    checked = run_limited(["check", str(path)], cwd, timeout_s, memory_bytes)
    outcome, detail = classify(checked, want_json=False)
    if outcome != "accepted":
        return {"outcome": outcome, "detail": detail, "stage": "check", "results": [checked]}
    ran = run_limited(["run", str(path), "--no-store", "--no-write", "--json"], cwd, timeout_s, memory_bytes)
    outcome, detail = classify(ran, want_json=True)
    return {"outcome": outcome, "detail": detail, "stage": "run", "results": [checked, ran]}


def store_command(args: list[str], cwd: Path | None = None, timeout_s: float = TIMEOUT_S,
                  memory_bytes: int = MEMORY_BYTES) -> dict:
    """One store-reading command (``runs list``, ``runs show``, ``report``), classified like :func:`check_then_run`.

    A report that exits 0 must have written its HTML file into ``cwd`` (and nowhere else).
    """
    result = run_limited(args, cwd, timeout_s, memory_bytes)
    outcome, detail = classify(result, want_json="--json" in args)
    if outcome == "accepted" and args and args[0] == "report" and cwd is not None:
        if not list(Path(cwd).glob("*.html")):
            outcome, detail = "failure", "report exited 0 but wrote no HTML file in the current folder"
    return {"outcome": outcome, "detail": detail, "stage": args[0] if args else "", "results": [result]}
