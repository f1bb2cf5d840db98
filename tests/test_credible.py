"""Every shipped scenario is physically credible: under ``idle`` (no intervention) and
``rule``, over its whole test split, with the fast backend, every power flow converges
and every bus stays within ANSI C84.1 Range A (0.95-1.05 p.u.), except where and when
the scenario's docstring says, with its reason (``RANGE_A_EXCEPTIONS`` of its module);
on three-phase physics, every bus-phase (``RANGE_A_EXCEPTIONS_THREE_PHASE``).
"""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from powergrid.data import step_calendar
from powergrid.results import PHASE_VOLTAGE_PREFIXES
from powergrid.safety import VM_MAX_PU, VM_MIN_PU
from scenarios import SCENARIOS, get_config
from scenarios.run import run_scenario

SHIPPED = ["ieee13", "ieee34", "cigre_mv", "microgrids"]
#: the scenarios held to the rule on three-phase physics too (RANGE_A_EXCEPTIONS_THREE_PHASE
#: of their module, over bus-phases); cigre_mv has no three-phase model
THREE_PHASE = ["ieee13", "ieee34", "microgrids"]


def test_every_shipped_scenario_is_checked() -> None:
    assert set(SHIPPED) == set(SCENARIOS) - {"radial1000"}  # the synthetic speed feeder


@pytest.mark.parametrize("policy", ["idle", "rule"])
@pytest.mark.parametrize(("scenario", "physics"), [*((s, "balanced") for s in SHIPPED),
                                                   *((s, "three_phase") for s in THREE_PHASE)])
def test_the_whole_test_split_stays_in_range_a(scenario: str, physics: str, policy: str,
                                              tmp_path: Path) -> None:
    if physics == "three_phase":
        pytest.importorskip("opendssdirect", reason="the 'three-phase' extra")
    module = importlib.import_module(SCENARIOS[scenario])
    exceptions = module.RANGE_A_EXCEPTIONS if physics == "balanced" \
        else module.RANGE_A_EXCEPTIONS_THREE_PHASE
    config = get_config(scenario, policy=policy, split="test", start_step=0,
                        physics=physics)
    hours = len(step_calendar("test", config.dt_h, config.dataset)[0])
    run_scenario(config.with_(steps=hours), tmp_path, progress=False, plot=False)
    df = pd.read_csv(tmp_path / "timeseries.csv")
    assert len(df) == hours and bool(df["converged"].all())
    # every bus, on three-phase physics every bus-phase (vm_pu.<phase>:<bus>)
    prefixes = ("vm_pu:",) if physics == "balanced" else PHASE_VOLTAGE_PREFIXES
    vm = df[[c for c in df.columns if c.startswith(prefixes)]]
    outside = ((vm < VM_MIN_PU) | (vm > VM_MAX_PU)) & (vm > 0.0)
    allowed = {f"vm_pu:{b}" for b in exceptions.get("buses", [])}
    others = outside.drop(columns=[c for c in vm.columns
                                   if f"vm_pu:{c.rpartition(':')[2]}" in allowed])
    out_hours = set(np.flatnonzero(others.any(axis=1).to_numpy()).tolist())
    listed = set(exceptions.get("hours", {}).get(policy, []))
    unlisted = sorted(out_hours - listed)
    budget = exceptions.get("other_hours", {}).get(policy, 0)
    assert len(unlisted) <= budget, (
        f"{scenario}/{policy}: buses outside Range A at hours {unlisted[:20]}"
        f" ({len(unlisted)} > {budget} allowed): {others.columns[others.any()].tolist()[:8]}")
