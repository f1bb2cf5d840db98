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


def scenario_net(name: str, **overrides: Any) -> Any:
    """The pandapower net of scenario ``name`` as its runs start from: the network with
    every device written in (batteries, generators, PV and wind as storage and sgen
    elements at their output before the first step -- a generator that starts off at 0,
    PV and wind at 0 until a profile says otherwise --, the tap changers at their
    ``tap_init``, the capacitor banks at their ``step_init``, the switches as they
    start), the loads at their nominal power. Ready for ``pandapower.to_json`` or another
    grid simulator: the network alone (``powergrid.networks.build_network``) has neither
    the devices nor their positions (on ieee13 its voltages are up to 0.057 p.u. away).
    A new net on every call."""
    import numpy as np

    from powergrid.devices.collection import DeviceSet
    from scenarios.prepare import prepare

    prepared = prepare(get_config(name, **overrides))
    net = prepared.net
    initial = DeviceSet(prepared.devices)
    initial.reset(np.random.default_rng(prepared.config.seed))
    for device in prepared.devices:
        if device.ELEMENT not in ("sgen", "storage"):
            continue
        state = initial.state_of(device.name)
        table = net[device.ELEMENT]
        row = table.index[table["name"] == device.name][0]
        table.at[row, "p_mw"] = float(state.get("p_mw", 0.0))
        table.at[row, "q_mvar"] = float(state.get("q_mvar", 0.0))
    return net


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
