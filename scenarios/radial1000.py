"""A 1,000-bus synthetic radial feeder: the scaling case of ``powergrid bench``.

Four batteries at feeder ends, ten PV plants, the substation OLTC; one operator.
Run it with ``python -m scenarios.radial1000 --until 24``.
"""

from __future__ import annotations

from typing import Any

from scenarios.config import AgentConfig, ScenarioConfig

DESCRIPTION = "synthetic 1,000-bus radial MV feeder: batteries, PV, OLTC (scaling case)"

#: buses at the ends of four of the ten feeders (99 buses each) and spread PV plants
BATTERY_BUSES = ("mv99", "mv396", "mv693", "mv990")
PV_BUSES = tuple(f"mv{k}" for k in range(50, 1000, 100))

DEVICES: list[dict[str, Any]] = [
    *({"type": "ESS", "name": f"ess {b}", "bus": b, "p_max_mw": 0.5, "capacity_mwh": 2.0,
       "cost_per_mwh": 5.0} for b in BATTERY_BUSES),
    *({"type": "RES", "name": f"pv {b}", "bus": b, "sn_mva": 0.4, "source": "solar"}
      for b in PV_BUSES),
    {"type": "Transformer", "name": "sub", "tap_min": -9, "tap_max": 9, "tap_init": 2,
     "tap_step_percent": 1.5, "tap_side": "hv", "tap_change_cost": 2.0},
]


def config(**overrides: Any) -> ScenarioConfig:
    """The 1,000-bus scenario (hourly steps, one test week by default)."""
    cfg = ScenarioConfig(
        name="radial1000", network="radial1000", description=DESCRIPTION, devices=DEVICES,
        profiles={f"pv {b}": "solar:PV4" for b in PV_BUSES},
        load_profiles={"*": "load:mv_urban"}, price="price:synthetic",
        pccs=[{"type": "Grid", "name": "pcc", "element": "ext_grid", "sell_discount": 0.9}],
        agents=[AgentConfig(name="operator", policy="rule",
                            devices=[f"ess {b}" for b in BATTERY_BUSES] + ["sub"])],
        step_s=3600, steps=24 * 7, split="test")
    return cfg.with_(**overrides) if overrides else cfg


if __name__ == "__main__":
    from scenarios.run import scenario_main  # here: listing scenarios needs no simulator

    scenario_main(config)
