"""Scenario files: schema, loading and resolution against the catalog."""

from gigawatt.scenario.loader import load_scenario, load_scenario_text

__all__ = ["load_scenario", "load_scenario_text"]
