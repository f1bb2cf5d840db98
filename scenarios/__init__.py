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


def check_data_span(config: ScenarioConfig) -> None:
    """A ValueError if the data set's split holds fewer steps than ``config`` runs.

    The feeds wrap around at the end of a split (the RL environments rely on
    that for their episode starts), so a run longer than its data would
    silently repeat it; ``powergrid run`` checks first. Steps are counted at
    the scenario's step length (``step_s``), after resampling. A run fed by
    ``feeds_csv`` is not checked (its series do not come from the data set).
    """
    if config.feeds_csv is not None or config.steps == 0:
        return
    from powergrid.data import load_dataset, series_at_step

    dataset = load_dataset(config.dataset)
    first = f"load:{dataset.names('load')[0]}"
    have = len(series_at_step(first, config.split, config.dt_h, config.dataset))
    need = config.start_step + config.steps
    if need > have:
        raise ValueError(
            f"data set {dataset.source}: the {config.split} split holds {have} steps of"
            f" {config.dt_h:g} h, fewer than the {need} this run needs (start_step"
            f" {config.start_step} + steps {config.steps})")
