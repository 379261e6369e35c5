"""Scenario files: schema, loading and resolution against the catalog."""

from gigawatt.scenario.loader import load_scenario, load_scenario_text
from gigawatt.scenario.source import (apply_overrides, attach_source, load_scenario_source, parse_override,
                                      scenario_text)

__all__ = ["load_scenario", "load_scenario_text", "load_scenario_source", "apply_overrides", "parse_override",
           "scenario_text", "attach_source"]
