"""The fleet: buildout of monthly chip cohorts (simulation comes later)."""

from gigawatt.fleet.buildout import BINDING, Fleet, build_fleet

__all__ = ["BINDING", "Fleet", "build_fleet"]
