"""Scenarios: a network, devices where they sit, data, agents, wired as a mosaik world.

``SCENARIOS`` maps each scenario name to the module whose ``config()``
returns its :class:`~scenarios.config.ScenarioConfig`.
"""

from __future__ import annotations

import importlib
from typing import Any

from scenarios.config import ScenarioConfig

SCENARIOS: dict[str, str] = {
    "ieee13": "scenarios.ieee13",
    "ieee34": "scenarios.ieee34",
    "microgrids": "scenarios.microgrids",
    "cigre_mv": "scenarios.cigre_mv",
    "radial1000": "scenarios.radial1000",
}


def get_config(name: str, **overrides: Any) -> ScenarioConfig:
    """The config of scenario ``name``; a ValueError naming an unknown one."""
    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r} (valid: {', '.join(SCENARIOS)})")
    return importlib.import_module(SCENARIOS[name]).config(**overrides)
