"""Where a scenario comes from: a file, a library deal, or a mapping; and overrides by dotted path.

``load_scenario_source`` is what :func:`gigawatt.load` and the CLI's
``--set KEY=VALUE`` call. Overrides are written as in the file (unit strings,
numbers, mappings) and validated like it; the scenario keeps the YAML text it
was read from, overrides applied, so that results can say exactly what ran.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path, PurePath
from typing import Any, Mapping

from gigawatt.errors import Problem, ScenarioError

__all__ = ["load_scenario_source", "apply_overrides", "parse_override", "scenario_text", "attach_source"]

_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _split(key: str) -> list[str | int]:
    """``"sites[0].pue"`` -> ``["sites", 0, "pue"]``; ValueError when malformed."""
    steps: list[str | int] = []
    pos = 0
    key = key.strip()
    while pos < len(key):
        if key[pos] == "." and steps and pos + 1 < len(key):
            pos += 1
        m = _STEP.match(key, pos)
        if m is None:
            raise ValueError(key)
        steps.append(m.group(1) if m.group(1) is not None else int(m.group(2)))
        pos = m.end()
    if not steps:
        raise ValueError(key)
    return steps


def apply_overrides(data: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict:
    """A copy of a raw scenario mapping with values replaced by dotted path.

    Parameters
    ----------
    data : mapping
        The scenario as YAML gives it.
    overrides : mapping of str to value
        ``{"deal.spend_limit.per_year": "$40B", "sites[0].pue": 1.2}``. A
        missing mapping on the way is created (``deal.spend_limit`` where the
        file has none); a list index must exist.

    Returns
    -------
    dict

    Raises
    ------
    ScenarioError
        One problem per override whose path is malformed or cannot be reached.
    """
    out = copy.deepcopy(dict(data))
    problems = []
    for key, value in overrides.items():
        where = f"set {key}"
        try:
            steps = _split(str(key))
        except ValueError:
            problems.append(Problem(str(key), "is not a dotted path", None,
                                    "write it like deal.spend_limit.per_year or sites[0].pue"))
            continue
        node: Any = out
        for i, step in enumerate(steps[:-1]):
            nxt = steps[i + 1]
            if isinstance(step, int):
                if not isinstance(node, list) or not -len(node) <= step < len(node):
                    problems.append(Problem(str(key), f"--set: no item [{step}] there", None,
                                            "index an item the file has (counting from 0)"))
                    break
                node = node[step]
            else:
                if not isinstance(node, dict):
                    problems.append(Problem(str(key), f"--set: '{step}' is not inside a mapping", None,
                                            "check the path against the scenario file"))
                    break
                if node.get(step) is None:
                    if isinstance(nxt, int):
                        problems.append(Problem(str(key), f"--set: the file has no list '{step}'", None,
                                                "override whole lists by their key, or items that exist"))
                        break
                    node[step] = {}
                node = node[step]
        else:
            last = steps[-1]
            if isinstance(last, int):
                if isinstance(node, list) and -len(node) <= last < len(node):
                    node[last] = value
                else:
                    problems.append(Problem(str(key), f"--set: no item [{last}] there", None,
                                            "index an item the file has (counting from 0)"))
            elif isinstance(node, dict):
                node[last] = value
            else:
                problems.append(Problem(str(key), f"--set: '{last}' is not inside a mapping", None,
                                        "check the path against the scenario file"))
    if problems:
        raise ScenarioError(problems, "--set")
    return out


def parse_override(text: str) -> tuple[str, Any]:
    """``"KEY=VALUE"`` -> ``(KEY, VALUE)``, the value read as YAML (``1.2``, ``$40B``, ``{a: 1}``).

    Raises
    ------
    ScenarioError
        When there is no ``=`` or the value is not one YAML value.
    """
    import yaml

    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ScenarioError([Problem("", f"--set {text!r} is not KEY=VALUE", None,
                                     "write it like --set deal.spend_limit.per_year='$40B'")], "--set")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    return key.strip(), value


def attach_source(scn, text: str) -> None:
    """Keep the YAML text a scenario was read from (see :func:`scenario_text`)."""
    scn._source_text = text


def scenario_text(scn) -> str:
    """The YAML text a scenario was read from, overrides applied; its own dump where it was built in code."""
    if scn._source_text is not None:
        return scn._source_text
    import yaml

    return yaml.safe_dump(scn.model_dump(mode="json", by_alias=True, exclude_none=True), sort_keys=False)


def _dump(data: Mapping[str, Any], header: str) -> str:
    import yaml

    return header + yaml.safe_dump(dict(data), sort_keys=False, allow_unicode=True)


def load_scenario_source(source, overrides: Mapping[str, Any] | None = None):
    """Load a scenario from a file, a library deal's name or a mapping, with overrides.

    Parameters
    ----------
    source : str, Path or mapping
        A YAML file; else the name of a shipped deal (``gigawatt deals``); or
        the scenario as a mapping.
    overrides : mapping of str to value, optional
        See :func:`apply_overrides`.

    Returns
    -------
    Scenario
        With its source text attached (:func:`scenario_text`).

    Raises
    ------
    ScenarioError
    """
    from gigawatt.scenario.loader import load_scenario_text, read_yaml_data

    overrides = dict(overrides or {})
    if isinstance(source, Mapping):
        data = apply_overrides(source, overrides) if overrides else dict(source)
        text = _dump(data, "# a scenario given as a mapping\n")
        scn = load_scenario_text(text, "<mapping>")
        attach_source(scn, text)
        return scn
    if not isinstance(source, (str, PurePath)):
        raise ScenarioError([Problem("", f"cannot read a scenario from a {type(source).__name__}", None,
                                     "give a file path, a library deal's name or a mapping")], "<scenario>")
    from gigawatt import library

    if Path(source).exists():
        text, filename = library.resolve(source)  # read once, within the size limit
        if not overrides:
            scn = load_scenario_text(text, filename)
            attach_source(scn, text)
            return scn
    else:
        text, filename = library.resolve(source)  # a library deal, or the error listing them
        if not overrides:
            scn = load_scenario_text(text, filename)
            attach_source(scn, text)
            return scn
    data = read_yaml_data(text, filename)
    if not isinstance(data, dict):
        load_scenario_text(text, filename)  # raises the file's own error
    data = apply_overrides(data, overrides)
    shown = ", ".join(f"{k}={v}" for k, v in overrides.items())
    text = _dump(data, f"# {PurePath(filename).name} with --set {shown}\n")
    scn = load_scenario_text(text, f"{filename} (with --set)")
    attach_source(scn, text)
    return scn
