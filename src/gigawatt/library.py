"""The deal library: the scenarios that ship with gigawatt.

The files are the repository's ``scenarios/*.yaml``. Inside the package they are
reached as ``gigawatt/deals`` (in a source checkout a link to ``scenarios/``; in a
wheel a folder of package data), so an installed gigawatt lists and runs them from
any folder: ``gigawatt deals``, ``gigawatt run anthropic-aws-2026``.

A command-line argument names a scenario like this: a file that exists wins; else
``NAME``, ``NAME.yaml`` or ``scenarios/NAME.yaml`` is the library deal ``NAME``;
else the error lists the library's names with a did-you-mean.
"""

from __future__ import annotations

import difflib
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path, PurePath

from gigawatt.errors import Problem, ScenarioError

SUFFIX = ".yaml"


def _folder() -> Traversable:
    return resources.files("gigawatt") / "deals"


def names() -> list[str]:
    """The library's deal names (file names without ``.yaml``), sorted."""
    folder = _folder()
    if not folder.is_dir():
        return []
    return sorted(p.name[: -len(SUFFIX)] for p in folder.iterdir() if p.name.endswith(SUFFIX) and p.is_file())


def path(name: str) -> Traversable:
    """The library file of deal ``name``; ScenarioError if there is none."""
    if name not in names():
        raise _unknown(name)
    return _folder() / f"{name}{SUFFIX}"


def text(name: str) -> str:
    """The YAML text of library deal ``name``."""
    return path(name).read_text(encoding="utf-8")


def lookup(arg: str | PurePath) -> str | None:
    """The library deal that ``arg`` names, or None (an existing path never names one)."""
    s = str(arg)
    if not s or Path(s).exists():
        return None
    p = PurePath(s)
    if len(p.parts) == 1 or (len(p.parts) == 2 and p.parts[0] == "scenarios"):
        stem = p.name[: -len(SUFFIX)] if p.name.endswith(SUFFIX) else p.name
        if stem in names():
            return stem
    return None


def resolve(arg: str | PurePath) -> tuple[str, str]:
    """``(yaml_text, filename)`` for a scenario argument: an existing file, else a library deal.

    Raises
    ------
    ScenarioError
        When ``arg`` is neither; the hint lists the library's names.
    """
    if Path(arg).exists():
        from gigawatt.scenario.loader import read_scenario_file

        return read_scenario_file(arg), str(arg)
    name = lookup(arg)
    if name is None:
        raise _unknown(arg)
    return text(name), f"{name}{SUFFIX}"


def load(arg: str | PurePath):
    """Load a scenario file, or a library deal by name; see :func:`resolve`.

    Errors reading or validating an existing file are those of
    :func:`gigawatt.scenario.load_scenario`.
    """
    from gigawatt.scenario import load_scenario, load_scenario_text

    if Path(arg).exists():
        return load_scenario(arg)
    name = lookup(arg)
    if name is None:
        raise _unknown(arg)
    return load_scenario_text(text(name), f"{name}{SUFFIX}")


def scenario_text(arg: str | PurePath) -> str:
    """The YAML text of a scenario file, or of a library deal by name."""
    return resolve(arg)[0]


def _unknown(arg: str | PurePath) -> ScenarioError:
    s = str(arg)
    p = PurePath(s)
    stem = p.name[: -len(SUFFIX)] if p.name.endswith(SUFFIX) else p.name
    known = names()
    close = difflib.get_close_matches(stem, known, n=3, cutoff=0.7)
    # A misspelt start of a name ("anthropc") matches that name's same-length prefix.
    close += [n for n in known if len(stem) >= 3 and n not in close and (
        stem.lower() in n or difflib.SequenceMatcher(None, stem.lower(), n[: len(stem)]).ratio() >= 0.8)]
    listing = f"library deals: {', '.join(known)} (see `gigawatt deals`)" if known else "the deal library is empty"
    hint = (f"did you mean {', '.join(close[:3])}? " if close else "check the path, or name a library deal; ") + listing
    return ScenarioError([Problem("", f"no such file or library deal: {s}", None, hint)], s)
