"""Load a scenario file: YAML with line numbers, schema, names, cross-field rules.

Every problem is collected before anything is raised, so that one
``ScenarioError`` lists them all, each with its YAML path, line and a hint.
"""

from __future__ import annotations

import difflib
import functools
import os
import stat
from pathlib import Path
from typing import Any

from gigawatt.errors import CatalogError, Problem, ScenarioError
from gigawatt.scenario import limits

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


@functools.cache
def _loader_class():
    """PyYAML's safe loader, in C where libyaml is there, with lenient timestamps.

    libyaml composes a scenario about ten times faster than the pure-Python
    loader, with the same marks (lines) on every node. A date that does not
    exist (``2026-02-30``) stays a string, so that the field it sits in says
    what is wrong with it instead of the YAML layer failing without a path.
    """
    import yaml

    base = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader

    class Loader(base):  # type: ignore[misc, valid-type]
        pass

    def timestamp(loader, node):
        try:
            return yaml.constructor.SafeConstructor.construct_yaml_timestamp(loader, node)
        except (ValueError, OverflowError):
            return loader.construct_scalar(node)

    Loader.add_constructor("tag:yaml.org,2002:timestamp", timestamp)
    return Loader


def _fatal(message: str, line: int | None, hint: str, filename: str, path: str = "") -> ScenarioError:
    return ScenarioError([Problem(path, message, line, hint)], filename)


def _yaml_error(exc, text: str, filename: str) -> ScenarioError:
    mark = getattr(exc, "problem_mark", None)
    line = mark.line + 1 if mark is not None else None
    if line is None and isinstance(getattr(exc, "position", None), int):  # a ReaderError: a character YAML refuses
        line = text.count("\n", 0, exc.position) + 1
    what = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    message = f"YAML syntax error: {what}" + (f" ({context})" if context else "")
    hint = "check indentation, colons and quotes on this line and the one before"
    if "nesting depth" in message:
        hint = "a scenario nests a few levels deep; check for unclosed brackets"
    elif getattr(exc, "character", None) is not None:
        hint = "remove the control character; write text as plain UTF-8"
    return _fatal(message, line, hint, filename)


def _expanded_size(root) -> tuple[int, int, Any]:
    """Nodes and depth of a YAML node graph once every alias is expanded, without expanding it.

    Each distinct node is visited once (sizes are memoized), so an alias
    "bomb" costs its size on disk, not its expansion. Returns
    ``(nodes, depth, node_of_a_cycle_or_None)``; counting stops past
    ``MAX_YAML_NODES``.
    """
    import yaml

    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    open_: set[int] = set()
    stack: list[tuple[Any, bool]] = [(root, False)]

    def children(node) -> list:
        if isinstance(node, yaml.MappingNode):
            return [n for pair in node.value for n in pair]
        if isinstance(node, yaml.SequenceNode):
            return list(node.value)
        return []

    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            kids = children(node)
            size[key] = 1 + sum(size[id(k)] for k in kids)
            depth[key] = 1 + max((depth[id(k)] for k in kids), default=0)
            open_.discard(key)
            if size[key] > limits.MAX_YAML_NODES:
                return size[key], depth[key], None
            continue
        if key in size:
            continue
        if key in open_:
            return 0, 0, node  # an alias to a node that holds it
        open_.add(key)
        stack.append((node, True))
        stack.extend((k, False) for k in children(node) if id(k) not in size)
    return size[id(root)], depth[id(root)], None


class _NodeView(limits.DataView):
    """:func:`limits.size_problems` on composed YAML nodes."""

    def __init__(self) -> None:
        self.key_line: dict[int, int] = {}  # id of a value node -> line of its key

    def line(self, node: Any) -> int:
        return self.key_line.get(id(node), node.start_mark.line + 1)

    def get(self, obj: Any, key: str) -> Any:
        import yaml

        found = None
        if isinstance(obj, yaml.MappingNode):
            for key_node, value_node in obj.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
                    found = value_node
                    self.key_line[id(value_node)] = key_node.start_mark.line + 1
        return found

    def length(self, obj: Any) -> int | None:
        import yaml

        return len(obj.value) if isinstance(obj, (yaml.MappingNode, yaml.SequenceNode)) else None

    def items(self, obj: Any) -> list:
        import yaml

        return obj.value if isinstance(obj, yaml.SequenceNode) else []


def _bad_char(text: str, free_text: bool) -> int | None:
    """The first character of ``text`` that no scenario string may hold, or None."""
    for ch in text:
        code = ord(ch)
        if code in limits.CONTROL_CHARS:
            if free_text and code in limits.TEXT_WHITESPACE:
                continue
            return code
        if code in limits.BIDI_CHARS or code in limits.SEPARATOR_CHARS:
            return code
    return None


def _char_problem(path: Path_, code: int, line: int) -> Problem:
    import unicodedata

    name = unicodedata.name(chr(code), "")
    kind = ("a bidirectional-text control" if code in limits.BIDI_CHARS else
            "a line or paragraph separator" if code in limits.SEPARATOR_CHARS else "a control character")
    return Problem(format_path(path), f"contains U+{code:04X}{f' ({name})' if name else ''}, {kind}", line,
                   "remove it: such characters can make a name print as something else, "
                   "or drive the terminal; names are plain text")


def _read_yaml_checked(text: str, filename: str) -> tuple[Any, dict[Path_, int], list[Problem]]:
    """Parse YAML into data, a map from each path to its 1-based line, and its strictness problems.

    Raises ScenarioError for what stops reading altogether: a text past the
    size limit, a syntax error, nesting or alias expansion past the limits.
    Returns as problems what the schema can be checked beside: duplicate
    keys, control and bidirectional characters, over-long strings.
    """
    import yaml

    if len(text) > limits.MAX_FILE_BYTES:
        raise _fatal(f"the text is {len(text):,} characters, more than the limit of {limits.MAX_FILE_BYTES:,}", None,
                     "a scenario is a few kB; split generated data into several scenarios", filename)
    loader = _loader_class()(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.YAMLError as exc:
            raise _yaml_error(exc, text, filename) from None
        except RecursionError:
            raise _fatal("YAML nested too deeply to read", None, "a scenario nests a few levels deep", filename) from None
        if node is None:
            return None, {}, []
        # Sizes first, on the nodes: a list past its limit is neither constructed nor validated item by item.
        view = _NodeView()
        sized = [Problem(format_path(path), message, view.line(obj), hint)
                 for path, message, hint, obj in limits.size_problems(node, view)]
        if sized:
            raise ScenarioError(sized, filename)
        # Without an anchor ('&') no node is shared, so nothing expands past the text itself.
        nodes, depth, cycle = _expanded_size(node) if "&" in text else (0, 0, None)
        if cycle is not None:
            raise _fatal("an alias refers to the node that holds it (a recursive structure)",
                         cycle.start_mark.line + 1, "write the values out; a scenario is a tree", filename)
        if nodes > limits.MAX_YAML_NODES:
            raise _fatal(f"the document expands to more than {limits.MAX_YAML_NODES:,} YAML nodes once its aliases "
                         "are expanded", None,
                         "anchors and aliases (&a, *a) that repeat each other multiply the document; "
                         "write the values out, or alias less", filename)
        if depth > limits.MAX_YAML_DEPTH:
            raise _fatal(f"the document nests {depth} levels deep, more than the limit of {limits.MAX_YAML_DEPTH}",
                         None, "a scenario nests a few levels deep; check for unclosed brackets", filename)
        try:
            data = loader.construct_document(node)
        except yaml.YAMLError as exc:
            raise _yaml_error(exc, text, filename) from None
        except (ValueError, TypeError, OverflowError, RecursionError) as exc:
            raise _fatal(f"YAML value cannot be read: {exc}", None, "check the values' syntax", filename) from None
    finally:
        loader.dispose()

    lines: dict[Path_, int] = {}
    problems: list[Problem] = []
    checked: set[int] = set()  # nodes whose keys and characters are checked (each once, aliases or not)
    merge_tag = "tag:yaml.org,2002:merge"
    stack: list[tuple[Any, Path_, bool]] = [(node, (), False)]
    while stack:
        n, path, free_text = stack.pop()
        lines.setdefault(path, n.start_mark.line + 1)  # a mapping's value keeps its key's line
        first_visit = id(n) not in checked
        checked.add(id(n))
        if isinstance(n, yaml.ScalarNode):
            if first_visit and isinstance(n.value, str):
                code = _bad_char(n.value, free_text)
                if code is not None:
                    problems.append(_char_problem(path, code, n.start_mark.line + 1))
                if len(n.value) > limits.MAX_TEXT_CHARS:
                    problems.append(Problem(format_path(path), f"a string of {len(n.value):,} characters, more than "
                                            f"the limit of {limits.MAX_TEXT_CHARS:,}", n.start_mark.line + 1,
                                            "shorten it"))
        elif isinstance(n, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, value_node in n.value:
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else repr(key_node.value)
                key_line = key_node.start_mark.line + 1
                if first_visit and isinstance(key_node, yaml.ScalarNode) and key_node.tag != merge_tag:
                    ident = (key_node.tag, key_node.value)
                    if ident in seen:
                        problems.append(Problem(
                            format_path(path + (key,)),
                            f"key {key!r} is given twice, on lines {seen[ident]} and {key_line}",
                            key_line, "remove one of them: YAML would keep only the last"))
                    else:
                        seen[ident] = key_line
                    code = _bad_char(str(key), False)
                    if code is not None:
                        problems.append(_char_problem(path + (key,), code, key_line))
                lines[path + (key,)] = key_line
                stack.append((value_node, path + (key,), str(key) in limits.TEXT_KEYS))
        elif isinstance(n, yaml.SequenceNode):
            for i in range(len(n.value) - 1, -1, -1):
                stack.append((n.value[i], path + (i,), False))
    return data, lines, problems


def _read_yaml(text: str, filename: str) -> tuple[Any, dict[Path_, int]]:
    """Parse YAML into Python data and a map from each path to its 1-based line.

    Raises
    ------
    ScenarioError
        For any problem of the YAML layer: syntax, size and alias limits,
        duplicate keys, control or bidirectional characters.
    """
    data, lines, problems = _read_yaml_checked(text, filename)
    if problems:
        raise ScenarioError(_sorted_unique(problems), filename)
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
            message = message[len(prefix) :]
    if message.startswith("value: "):  # units' name for a field it was not told
        message = message[len("value: ") :]
    return message


def _schema_problems(exc, data: Any, lines: dict[Path_, int]) -> list[Problem]:
    from gigawatt.scenario import schema as s

    problems = []
    kinds: list[str] = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"]
                    if not (isinstance(p, str) and ("function-" in p or p.startswith("Price") or p.startswith("<")
                                                    or p == "[key]")))
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
        elif loc == ("seed",):
            hint = f"the seed is a whole number from 0 to 2**63 - 1 ({limits.SEED_MAX:,}), for example 7"
        elif kind in ("greater_than", "greater_than_equal"):
            hint = hint or "use a positive value with its unit"
        elif kind in ("less_than", "less_than_equal"):
            hint = hint or "this is past the largest value gigawatt accepts here; see the limits in the README"
        elif kind in ("too_long",):
            hint = hint or "this list is past the largest size gigawatt accepts; see the limits in the README"
        elif kind == "finite_number":
            hint = "give a finite number: .inf and .nan are not values"
        elif kind in ("int_parsing", "int_from_float", "int_type", "int_parsing_size"):
            hint = hint or "give a whole number, for example 3"
        elif kind == "string_pattern_mismatch" and loc == ("name",):
            hint = "use lowercase letters, digits and dashes, e.g. my-deal-2026"
        problems.append(Problem(format_path(loc), msg, _line_for(lines, loc), hint))
        kinds.append(kind)
    # A field of several forms ("3x/year" or {month: rate}) fails once per form; where one form
    # says what is wrong with the value, the others' "not a mapping" adds nothing.
    said = {p.path for p, k in zip(problems, kinds) if k not in _FORM_ERRORS}
    return [p for p, k in zip(problems, kinds) if k not in _FORM_ERRORS or p.path not in said]


_FORM_ERRORS = {"dict_type", "list_type", "model_type", "model_attributes_type", "float_type", "string_type"}


def _catalog_problems(scn, lines: dict[Path_, int], warnings: list[Problem] | None = None) -> list[Problem]:
    """Names resolved against the catalog, and rules across fields.

    What is worth saying but not refusing (a roadmap date the entry marks as
    its own estimate) is appended to ``warnings`` where given.
    """
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
        date = _availability_problem(("roadmap", i, "from"), entry, catalog.get_chip(chip_id), lines)
        if date is not None:
            if entry.estimate:
                if warnings is not None:
                    warnings.append(date)
            else:
                problems.append(date)

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


def _availability_problem(path: Path_, entry, chip, lines: dict[Path_, int]) -> Problem | None:
    """A roadmap entry offered before the catalog's first availability of its chip, or None.

    The catalog's ``available`` is the chip's first general availability
    (``YYYY-MM``); a deal cannot deploy a chip before it exists. An entry
    marked ``estimate: true`` is the scenario's own projection, so the loader
    keeps it and reports this as a warning; otherwise it is an error.
    """
    available = str(chip.available or "")
    if not available or entry.from_month >= available:
        return None
    said = f"{entry.from_month} is before {chip.id}'s first availability in the catalog, {available}"
    if chip.is_estimate("available"):
        said += " (itself an estimate)"
    if entry.estimate:
        message = said + "; kept because this roadmap entry is marked estimate: true"
        hint = f"the run offers {chip.id} from {entry.from_month}; check the date, or start it at {available}"
    else:
        message = said
        hint = (f"start it at {available} or later, or mark the entry 'estimate: true' "
                "if the earlier date is your own projection")
    return Problem(format_path(path), message, _line_for(lines, path), hint)


def _demand_problems(scn, lines, roadmap_chips: set, chip_ok) -> list[Problem]:
    """Model, chip and policy names of the demand section."""
    from gigawatt import catalog
    from gigawatt.scenario.demand_schema import POLICY_NAMES as POLICIES

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
    problems += _inference_only_problems(scn, lines, roadmap_chips)
    if demand.tool_hosts is not None:
        path = ("demand", "tool_hosts", "cpu")
        try:
            kind = catalog.get_chip(catalog.resolve("chips", demand.tool_hosts.cpu)).kind
        except CatalogError:
            kind = None
        if kind != "cpu":
            cpus = [c.id for c in catalog.chips().values() if c.kind == "cpu"]
            add(path, f"{demand.tool_hosts.cpu!r} is not a CPU in the catalog" if kind is None else
                f"{demand.tool_hosts.cpu!r} is not a CPU (the catalog lists it as kind {kind!r})",
                f"name a catalog CPU{': ' + ', '.join(cpus) if cpus else ''} (`gigawatt catalog chips`)")
    for i, stream in enumerate(demand.inference):
        model_ok(("demand", "inference", i, "model"), stream.model)
        chips_ok(("demand", "inference", i, "chips"), stream.chips)
    if demand.policy not in POLICIES:
        close = difflib.get_close_matches(demand.policy, list(POLICIES), n=1)
        add(("demand", "policy"), f"unknown policy {demand.policy!r}",
            f"did you mean {close[0]!r}?" if close else f"choose one of {', '.join(POLICIES)}")
    return problems


def _inference_only_problems(scn, lines, roadmap_chips: set) -> list[Problem]:
    """A training run may not be placed on a roadmap generation marked ``use: inference``.

    A run naming such a chip in its ``chips`` is refused at that name; a run that names no
    chips where every roadmap generation is inference-only is refused at the run.
    """
    from gigawatt import catalog

    only = {}
    for i, entry in enumerate(scn.roadmap):
        if entry.use == "inference":
            try:
                only[catalog.resolve("chips", entry.chip)] = i
            except CatalogError:
                continue
    if not only:
        return []
    problems: list[Problem] = []
    trains = roadmap_chips - set(only)
    for i, item in enumerate(scn.demand.training):
        run, path = (item.generate, ("demand", "training", i, "generate")) if hasattr(item, "generate") else (
            item, ("demand", "training", i))
        for j, name in enumerate(run.chips or []):
            try:
                chip_id = catalog.resolve("chips", name)
            except CatalogError:
                continue
            if chip_id in only:
                where = path + ("chips", j)
                problems.append(Problem(
                    format_path(where), f"{name!r} serves inference only (roadmap[{only[chip_id]}] has use: "
                    "inference); a training run cannot be placed on it", _line_for(lines, where),
                    "remove it from the run's chips, or drop 'use: inference' from that roadmap entry"))
        if not run.chips and not trains:
            problems.append(Problem(
                format_path(path), "every roadmap generation serves inference only (use: inference), so this "
                "training run has no chip to train on", _line_for(lines, path),
                "add a generation without 'use: inference' to the roadmap, or remove the run"))
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


def read_scenario_file(path: str | Path) -> str:
    """The text of a scenario file, read within :data:`limits.MAX_FILE_BYTES`.

    Only a regular file is read (not a device such as ``/dev/zero``, a pipe or
    a folder), its size is checked before reading, and at most one byte more
    than the limit is read, so that no path makes this hang or fill memory.

    Raises
    ------
    ScenarioError
        The file is missing, not a regular file, too large, unreadable or not
        UTF-8 text.
    """
    path = Path(path)
    name = str(path)

    def fail(message: str, hint: str, line: int | None = None) -> ScenarioError:
        return ScenarioError([Problem("", message, line, hint)], name)

    limit = limits.MAX_FILE_BYTES
    too_big = "a scenario is a few kB; split generated data into several scenarios"
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            kind = "a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file (a device, pipe or socket)"
            raise fail(f"cannot read {path}: it is {kind}", "give a YAML text file")
        if st.st_size > limit:
            raise fail(f"{path} is {st.st_size:,} bytes, more than the limit of {limit:,}", too_big)
        # O_NONBLOCK: should the path have become a pipe since the stat, opening it does not wait for a writer
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                raise fail(f"cannot read {path}: it is not a regular file", "give a YAML text file")
            raw = fh.read(limit + 1)
    except FileNotFoundError:
        raise fail(f"no such file: {path}", "check the path") from None
    except (PermissionError, IsADirectoryError, OSError) as exc:
        raise fail(f"cannot read {path}: {exc.strerror or exc}", "give a readable YAML text file") from None
    if len(raw) > limit:
        raise fail(f"{path} is more than {limit:,} bytes, the limit", too_big)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise fail(f"{path} is not UTF-8 text: {exc.reason} at byte {exc.start}", "save the file as UTF-8", line) from None


def load_scenario(path: str | Path) -> "Scenario":  # noqa: F821
    """Read, validate and resolve a scenario file.

    Parameters
    ----------
    path : str or Path
        The YAML file, at most :data:`limits.MAX_FILE_BYTES` long.

    Returns
    -------
    Scenario
        The validated scenario, every quantity in SI.

    Raises
    ------
    ScenarioError
        With every problem found, each with its YAML path, line and a hint;
        among them anything past :mod:`gigawatt.scenario.limits`.
    """
    return load_scenario_text(read_scenario_file(path), str(path))


def load_scenario_text(text: str, filename: str = "<scenario>"):
    """Validate scenario YAML given as text; see :func:`load_scenario`."""
    from pydantic import ValidationError

    from gigawatt.scenario.schema import Scenario

    data, lines, yaml_problems = _read_yaml_checked(text, filename)
    if not isinstance(data, dict):
        raise ScenarioError(
            [Problem("", "the file must be a YAML mapping (key: value lines)", 1,
                     "start from scenarios/anthropic-aws-2026.yaml")],
            filename,
        )
    from gigawatt.scenario.distributions import extract, resolve_distributions

    # distributions (and the uncertainty: block) give way to a value the field accepts; none: data as it was
    ext = extract(data, lines)
    yaml_problems = yaml_problems + ext.problems
    data = ext.data
    try:
        scn = Scenario.model_validate(data)
    except ValidationError as exc:
        schema = _schema_problems(exc, data, lines)
        if ext.placeholders:  # a distribution's parameter that its field refuses: name the parameter
            import dataclasses

            schema = [dataclasses.replace(p, path=f"{p.path}.{ext.placeholders[p.path]}")
                      if p.path in ext.placeholders else p for p in schema]
        problems = yaml_problems + schema
        # Name checks run on what did validate, so one pass reports both kinds.
        problems += _names_in_raw(data, lines)
        raise ScenarioError(_sorted_unique(problems), filename) from None
    problems = yaml_problems + (resolve_distributions(scn, ext) if ext.uncertain or ext.correlations else [])
    problems += _rule_problems(scn, lines)
    warned: list[Problem] = []
    problems += _catalog_problems(scn, lines, warned)
    if problems:
        raise ScenarioError(_sorted_unique(problems), filename)
    scn._warnings = _sorted_unique(warned)
    _announce(scn._warnings, filename)
    return scn


class ScenarioWarning(UserWarning):
    """Something in a scenario that is kept but worth a look (``Scenario.warnings`` lists them)."""


def _announce(warned: list[Problem], filename: str) -> None:
    """Issue each warning as a :class:`ScenarioWarning` located at its file and line.

    Python shows a warning on stderr once per message (as ``FILE:LINE:
    ScenarioWarning: PATH: MESSAGE``), so ``gigawatt check`` and ``gigawatt
    run`` print it; the run's inputs also carry it as a note
    (:attr:`gigawatt.scenario.inputs.Inputs.notes`).
    """
    import warnings

    for w in warned:
        text = f"{w.path}: {w.message}" + (f" (hint: {w.hint})" if w.hint else "")
        warnings.warn_explicit(text, ScenarioWarning, filename, w.line or 0, module="gigawatt.scenario")


def _rule_problems(scn, lines: dict[Path_, int]) -> list[Problem]:
    """Rules across fields that keep a run well defined and within :data:`limits.MAX_RUN_CELLS`."""
    problems: list[Problem] = []

    def add(path: Path_, message: str, hint: str) -> None:
        problems.append(Problem(format_path(path), message, _line_for(lines, path), hint))

    c = scn.deal.commitment
    if c.start > scn.horizon.end:
        add(("deal", "commitment", "start"),
            f"the commitment starts {c.start}, after the horizon ends ({scn.horizon.end})",
            "end the horizon after the commitment starts, or start the commitment within the horizon")

    demand = scn.demand
    runs = 0
    for i, item in enumerate(demand.training if demand is not None else []):
        if hasattr(item, "generate"):
            g = item.generate
            n = limits.generated_run_count(g.first, g.every_s, g.until, g.count, scn.horizon.end)
            if n > limits.MAX_TRAINING_RUNS:
                add(("demand", "training", i, "generate"),
                    f"generates {n:,} runs, more than the limit of {limits.MAX_TRAINING_RUNS:,}",
                    "space the runs further apart ('every'), or end them earlier ('until', 'count')")
            runs += n
        else:
            runs += 1
    if runs > limits.MAX_TRAINING_RUNS:
        add(("demand", "training"), f"{runs:,} training runs in all, more than the limit of {limits.MAX_TRAINING_RUNS:,}",
            "space the generated runs further apart, or split the scenario")
        return problems
    too_big = limits.run_size_message(scn)
    if too_big is not None:
        add(("horizon",), too_big,
            "shorten the horizon, step by month instead of week, or use fewer sites, chips or workloads")
    return problems


def _names_in_raw(data: dict, lines: dict[Path_, int]) -> list[Problem]:
    """Unknown chip names in a file that also failed the schema."""
    from gigawatt import catalog

    problems = []
    candidates: list[tuple[Path_, Any]] = []
    roadmap = data.get("roadmap")
    for i, entry in enumerate(roadmap if isinstance(roadmap, list) else []):
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
