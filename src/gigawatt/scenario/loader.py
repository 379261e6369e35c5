"""Load a scenario file: YAML with line numbers, schema, names, cross-field rules.

Every problem is collected before anything is raised, so that one
``ScenarioError`` lists them all, each with its YAML path, line and a hint.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from gigawatt.errors import CatalogError, Problem, ScenarioError

Path_ = tuple[Any, ...]


def format_path(path: Path_) -> str:
    """``("sites", 0, "pue")`` -> ``"sites[0].pue"``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _read_yaml(text: str, filename: str) -> tuple[Any, dict[Path_, int]]:
    """Parse YAML into Python data and a map from each path to its 1-based line."""
    import yaml

    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        what = getattr(exc, "problem", None) or str(exc)
        context = getattr(exc, "context", None)
        message = f"YAML syntax error: {what}" + (f" ({context})" if context else "")
        raise ScenarioError(
            [Problem("", message, line, "check indentation, colons and quotes on this line and the one before")],
            filename,
        ) from None

    lines: dict[Path_, int] = {}

    def walk(n, path: Path_) -> None:
        lines[path] = n.start_mark.line + 1
        if isinstance(n, yaml.MappingNode):
            for key_node, value_node in n.value:
                key = loader_key(key_node)
                lines[path + (key,)] = key_node.start_mark.line + 1
                walk(value_node, path + (key,))
                lines[path + (key,)] = key_node.start_mark.line + 1
        elif isinstance(n, yaml.SequenceNode):
            for i, item in enumerate(n.value):
                walk(item, path + (i,))

    def loader_key(key_node) -> Any:
        return key_node.value

    if node is not None:
        walk(node, ())
    return data, lines


def _line_for(lines: dict[Path_, int], path: Path_) -> int | None:
    """The line of a path, or of its nearest ancestor in the file."""
    path = tuple(path)
    while True:
        if path in lines:
            return lines[path]
        # pydantic paths use str keys where YAML may have produced others
        alt = tuple(str(p) if not isinstance(p, int) else p for p in path)
        if alt in lines:
            return lines[alt]
        if not path:
            return None
        path = path[:-1]


def _input_names(model) -> list[str]:
    """The keys a pydantic model accepts in YAML (first alias, or the field name)."""
    from pydantic import AliasChoices

    names = []
    for name, info in model.model_fields.items():
        alias = info.validation_alias
        if isinstance(alias, AliasChoices):
            names.append(str(alias.choices[0]))
        elif isinstance(alias, str):
            names.append(alias)
        else:
            names.append(name)
    return names


def _model_at(path: Path_):
    """The schema model that holds the mapping at ``path`` (for did-you-mean)."""
    from gigawatt.scenario import economics_schema as e
    from gigawatt.scenario import demand_schema as d
    from gigawatt.scenario import schema as s

    table = {
        ("economics",): e.Economics,
        ("economics", "discount"): e.Discount,
        ("economics", "power_price"): e.PowerPrices,
        (): s.Scenario,
        ("horizon",): s.Horizon,
        ("deal",): s.Deal,
        ("deal", "commitment"): s.Commitment,
        ("deal", "spend_limit"): s.SpendLimit,
        ("deal", "investments", int): s.Investment,
        ("sites", int): s.Site,
        ("roadmap", int): s.RoadmapEntry,
        ("prices", str): s.Price,
        ("demand",): d.Demand,
        ("demand", "training", int): d.TrainingRun,
        ("demand", "training", int, "generate"): d.GeneratedRuns,
        ("demand", "inference", int): d.InferenceStream,
        ("demand", "inference", int, "agentic"): d.Agentic,
    }
    key = tuple(int if isinstance(p, int) else p for p in path)
    if key in table:
        return table[key]
    if len(path) == 2 and path[0] == "prices":
        return s.Price
    return None


def _clean(message: str) -> str:
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            return message[len(prefix) :]
    return message


def _schema_problems(exc, data: Any, lines: dict[Path_, int]) -> list[Problem]:
    from gigawatt.scenario import schema as s

    problems = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"]
                    if not (isinstance(p, str) and ("function-" in p or p.startswith("Price") or p.startswith("<"))))
        kind = err["type"]
        msg = _clean(err["msg"])
        hint = None
        ctx_err = (err.get("ctx") or {}).get("error")
        if getattr(ctx_err, "hint", None):
            hint = ctx_err.hint
        if kind == "extra_forbidden":
            key = loc[-1]
            model = _model_at(loc[:-1])
            known = _input_names(model) if model else []
            close = difflib.get_close_matches(str(key), known, n=3, cutoff=0.5)
            msg = f"unknown key {key!r}"
            hint = (f"did you mean {', '.join(repr(c) for c in close)}?" if close else
                    f"allowed keys here: {', '.join(known)}" if known else None)
        elif kind == "missing":
            msg = f"required field {loc[-1]!r} is missing"
            model = _model_at(loc[:-1])
            hint = "add it; see scenarios/anthropic-aws-2026.yaml for an example"
            if model is s.Scenario and loc[-1] == "schema_version":
                hint = "add 'schema_version: 1' at the top of the file"
        elif kind == "literal_error" and loc and loc[-1] == "schema_version":
            hint = "this gigawatt reads schema_version 1"
        elif kind in ("greater_than", "greater_than_equal", "less_than_equal"):
            hint = hint or "use a positive value with its unit"
        elif kind == "string_pattern_mismatch" and loc == ("name",):
            hint = "use lowercase letters, digits and dashes, e.g. my-deal-2026"
        problems.append(Problem(format_path(loc), msg, _line_for(lines, loc), hint))
    return problems


def _catalog_problems(scn, lines: dict[Path_, int]) -> list[Problem]:
    """Names resolved against the catalog, and rules across fields."""
    from gigawatt import catalog

    problems: list[Problem] = []

    def add(path: Path_, message: str, hint: str | None = None) -> None:
        problems.append(Problem(format_path(path), message, _line_for(lines, path), hint))

    def chip_ok(path: Path_, name: str) -> str | None:
        try:
            return catalog.resolve("chips", name)
        except CatalogError:
            close = catalog.close_names("chips", name)
            add(path, f"unknown chip {name!r}",
                f"did you mean {', '.join(close)}?" if close else "see `gigawatt catalog chips` for the names")
            return None

    roadmap_chips = set()
    for i, entry in enumerate(scn.roadmap):
        chip_id = chip_ok(("roadmap", i, "chip"), entry.chip)
        if chip_id is None:
            continue
        if catalog.get_chip(chip_id).kind != "accelerator":
            add(("roadmap", i, "chip"), f"{entry.chip!r} is a {catalog.get_chip(chip_id).kind}, not an accelerator",
                "list accelerators in the roadmap; host CPUs come with the system")
            continue
        roadmap_chips.add(chip_id)
        if entry.system is not None:
            try:
                system = catalog.get_system(entry.system)
            except CatalogError:
                close = catalog.close_names("systems", entry.system)
                add(("roadmap", i, "system"), f"unknown system {entry.system!r}",
                    f"did you mean {', '.join(close)}?" if close else "see `gigawatt catalog systems`")
                continue
            if catalog.resolve("chips", system.chip) != chip_id:
                names = [s.id for s in catalog.systems_for_chip(chip_id)]
                add(("roadmap", i, "system"), f"system {system.id!r} holds {system.chip}, not {chip_id}",
                    f"systems of {chip_id}: {', '.join(names) or 'none in the catalog'}")
        elif not catalog.systems_for_chip(chip_id):
            add(("roadmap", i, "chip"), f"the catalog has no system for {chip_id}", "name a system with 'system:'")

    price_chips = {}
    for name in scn.prices:
        chip_id = chip_ok(("prices", name), name)
        if chip_id is not None:
            price_chips[chip_id] = name
    for i, entry in enumerate(scn.roadmap):
        try:
            chip_id = catalog.resolve("chips", entry.chip)
        except CatalogError:
            continue
        if chip_id not in price_chips:
            add(("roadmap", i, "chip"), f"no contract price for {entry.chip!r}",
                f"add it under prices, for example 'prices: {{{entry.chip}: $2.00/h}}'")

    for i, site in enumerate(scn.sites):
        for j, name in enumerate(site.chips or []):
            chip_id = chip_ok(("sites", i, "chips", j), name)
            if chip_id is not None and chip_id not in roadmap_chips:
                add(("sites", i, "chips", j), f"{name!r} is not in the roadmap", "add it to the roadmap or remove it here")
    problems += _demand_problems(scn, lines, roadmap_chips, chip_ok)
    problems += _economics_problems(scn, lines, roadmap_chips, chip_ok)
    names = [site.name for site in scn.sites]
    for i, name in enumerate(names):
        if names.index(name) != i:
            add(("sites", i, "name"), f"site name {name!r} is used twice", "give each site its own name")
    return problems


def _demand_problems(scn, lines, roadmap_chips: set, chip_ok) -> list[Problem]:
    """Model, chip and policy names of the demand section."""
    from gigawatt import catalog
    from gigawatt.fleet.policies import POLICIES

    problems: list[Problem] = []
    demand = scn.demand
    if demand is None:
        return problems

    def add(path: Path_, message: str, hint: str | None = None) -> None:
        problems.append(Problem(format_path(path), message, _line_for(lines, path), hint))

    def model_ok(path: Path_, name: str) -> None:
        try:
            catalog.resolve("models", name)
        except CatalogError:
            close = catalog.close_names("models", name)
            add(path, f"unknown model {name!r}",
                f"did you mean {', '.join(close)}?" if close else "see `gigawatt catalog models` for the names")

    def chips_ok(path: Path_, names) -> None:
        for j, name in enumerate(names or []):
            chip_id = chip_ok(path + (j,), name)
            if chip_id is not None and chip_id not in roadmap_chips:
                add(path + (j,), f"{name!r} is not in the roadmap", "add it to the roadmap or remove it here")

    for i, item in enumerate(demand.training):
        if hasattr(item, "generate"):
            model_ok(("demand", "training", i, "generate", "model"), item.generate.model)
            chips_ok(("demand", "training", i, "generate", "chips"), item.generate.chips)
        else:
            model_ok(("demand", "training", i, "model"), item.model)
            chips_ok(("demand", "training", i, "chips"), item.chips)
    for i, stream in enumerate(demand.inference):
        model_ok(("demand", "inference", i, "model"), stream.model)
        chips_ok(("demand", "inference", i, "chips"), stream.chips)
    if demand.policy not in POLICIES:
        close = difflib.get_close_matches(demand.policy, list(POLICIES), n=1)
        add(("demand", "policy"), f"unknown policy {demand.policy!r}",
            f"did you mean {close[0]!r}?" if close else f"choose one of {', '.join(POLICIES)}")
    return problems


def _economics_problems(scn, lines, roadmap_chips: set, chip_ok) -> list[Problem]:
    """Sites and chips named in the economics section must be the scenario's own."""
    econ = getattr(scn, "economics", None)
    problems: list[Problem] = []
    if econ is None:
        return problems
    sites = [site.name for site in scn.sites]
    for name in econ.power_price.sites:
        if name not in sites:
            path = ("economics", "power_price", "sites", name)
            close = difflib.get_close_matches(name, sites, n=2)
            problems.append(Problem(format_path(path), f"no site named {name!r} in this scenario", _line_for(lines, path),
                                    f"did you mean {', '.join(close)}?" if close else f"sites: {', '.join(sites)}"))
    for name in (getattr(econ, "capex_per_chip_usd", None) or {}):
        path = ("economics", "capex_per_chip", name)
        chip_id = chip_ok(path, name)
        if chip_id is not None and chip_id not in roadmap_chips:
            problems.append(Problem(format_path(path), f"{name!r} is not in the roadmap", _line_for(lines, path),
                                    "remove it, or add the chip to the roadmap"))
    return problems


def load_scenario(path: str | Path) -> "Scenario":  # noqa: F821
    """Read, validate and resolve a scenario file.

    Parameters
    ----------
    path : str or Path
        The YAML file.

    Returns
    -------
    Scenario
        The validated scenario, every quantity in SI.

    Raises
    ------
    ScenarioError
        With every problem found, each with its YAML path, line and a hint.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError([Problem("", f"no such file: {path}", None, "check the path")], str(path)) from None
    except (IsADirectoryError, UnicodeDecodeError, PermissionError) as exc:
        raise ScenarioError([Problem("", f"cannot read {path}: {exc}", None, "give a YAML text file")], str(path)) from None
    return load_scenario_text(text, str(path))


def load_scenario_text(text: str, filename: str = "<scenario>"):
    """Validate scenario YAML given as text; see :func:`load_scenario`."""
    from pydantic import ValidationError

    from gigawatt.scenario.schema import Scenario

    data, lines = _read_yaml(text, filename)
    if not isinstance(data, dict):
        raise ScenarioError(
            [Problem("", "the file must be a YAML mapping (key: value lines)", 1,
                     "start from scenarios/anthropic-aws-2026.yaml")],
            filename,
        )
    try:
        scn = Scenario.model_validate(data)
    except ValidationError as exc:
        problems = _schema_problems(exc, data, lines)
        # Name checks run on what did validate, so one pass reports both kinds.
        problems += _names_in_raw(data, lines)
        raise ScenarioError(_sorted_unique(problems), filename) from None
    problems = _catalog_problems(scn, lines)
    if problems:
        raise ScenarioError(_sorted_unique(problems), filename)
    return scn


def _names_in_raw(data: dict, lines: dict[Path_, int]) -> list[Problem]:
    """Unknown chip names in a file that also failed the schema."""
    from gigawatt import catalog

    problems = []
    candidates: list[tuple[Path_, Any]] = []
    for i, entry in enumerate(data.get("roadmap") or []):
        if isinstance(entry, dict) and "chip" in entry:
            candidates.append((("roadmap", i, "chip"), entry["chip"]))
    if isinstance(data.get("prices"), dict):
        candidates += [(("prices", k), k) for k in data["prices"]]
    for path, name in candidates:
        try:
            catalog.resolve("chips", str(name))
        except CatalogError:
            close = catalog.close_names("chips", str(name))
            problems.append(Problem(format_path(path), f"unknown chip {name!r}", _line_for(lines, path),
                                    f"did you mean {', '.join(close)}?" if close else "see `gigawatt catalog chips`"))
    return problems


def _sorted_unique(problems: list[Problem]) -> list[Problem]:
    seen = set()
    out = []
    for p in sorted(problems, key=lambda p: (p.line or 0, p.path)):
        key = (p.path, p.message)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def read_yaml_data(text: str, filename: str = "<scenario>") -> Any:
    """The raw data of scenario YAML text, read with the same limits and checks as :func:`load_scenario_text`."""
    return _read_yaml(text, filename)[0]
