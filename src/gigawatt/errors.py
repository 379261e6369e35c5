"""Errors raised by gigawatt.

``GigawattError`` is the base of every error the package raises on purpose.
``ScenarioError`` carries *every* problem found in an input at once, each with
its path in the document, its line and a hint on how to fix it, so that a user
can mend a file in one pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class GigawattError(Exception):
    """Base class of the errors gigawatt raises for bad input or state."""


class UnitError(GigawattError, ValueError):
    """A quantity string could not be parsed, or has the wrong dimension."""

    def __init__(self, message: str, *, field_name: str | None = None, hint: str | None = None):
        self.field_name = field_name
        self.hint = hint
        super().__init__(message)


@dataclass(frozen=True)
class Problem:
    """One problem in an input document.

    Attributes
    ----------
    path : str
        Where the problem is, as a dotted YAML path (``sites[0].pue``).
    message : str
        What is wrong.
    line : int or None
        1-based line in the file, where known.
    hint : str or None
        How to fix it.
    """

    path: str
    message: str
    line: int | None = None
    hint: str | None = None

    def format(self, filename: str | None = None) -> str:
        where = filename or "<input>"
        if self.line is not None:
            where = f"{where}:{self.line}"
        text = f"{where}: {self.path or '<document>'}: {self.message}"
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text


@dataclass
class ScenarioError(GigawattError):
    """Every problem found in a scenario file, reported together."""

    problems: list[Problem] = field(default_factory=list)
    filename: str | None = None

    def __post_init__(self) -> None:
        super().__init__(self.__str__())

    def __str__(self) -> str:
        n = len(self.problems)
        head = f"{self.filename or 'scenario'}: {n} problem{'s' if n != 1 else ''}"
        return "\n".join([head] + [p.format(self.filename) for p in self.problems])


class CatalogError(GigawattError, KeyError):
    """A name is not in the catalog, or a catalog file is malformed."""

    def __str__(self) -> str:  # KeyError quotes its message; we do not want that
        return str(self.args[0]) if self.args else ""
