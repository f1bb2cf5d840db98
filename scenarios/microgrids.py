"""Three networked microgrids (IEEE 13 each) on an IEEE 34 distribution feeder.

Each microgrid has its own agent with a battery, a generator, PV and wind, and pays
for the energy it imports at its substation transformer (its PCC). Run it with
``python -m scenarios.microgrids --until 96``.
"""

from __future__ import annotations

from typing import Any

from scenarios.config import AgentConfig, ScenarioConfig
from scenarios.run import scenario_main

DESCRIPTION = "IEEE 34 feeder (DSO) with three IEEE 13 microgrids, one agent per microgrid"

MICROGRIDS = ("MG1", "MG2", "MG3")
#: per microgrid: generator fuel cost (a $/MW^2h, b $/MWh, c $/h) and maximum output (MW)
GENERATORS: dict[str, tuple[tuple[float, float, float], float]] = {
    "MG1": ((30.0, 60.0, 3.0), 0.30),
    "MG2": ((20.0, 75.0, 3.0), 0.35),
    "MG3": ((40.0, 55.0, 4.0), 0.25),
}
#: per microgrid: (solar series, wind series)
RENEWABLES = {"MG1": ("solar:PV1", "wind:WP1"), "MG2": ("solar:PV4", "wind:WP4"),
              "MG3": ("solar:PV7", "wind:WP7")}


#: microgrid loads as a share of the IEEE 13's published loads (the network's default)
MG_LOAD_SCALE = 0.1

#: the feeder's equipment, not an agent's: regulators under automatic voltage control
#: (set-points chosen by simulating test weeks with no other control; fixed taps cannot
#: serve the long IEEE 34 feeder from light to peak load) and the microgrids' capacitor
#: banks switched out (sized for the full IEEE 13 load, they over-compensate at 10 %)
FEEDER_DEVICES: list[dict[str, Any]] = [
    {"type": "Transformer", "name": "DSO.reg1", "tap_init": 4, "tap_side": "lv",
     "controllable": False, "vm_set_pu": 1.03, "max_tap_change": 8, "tap_change_cost": 1.0},
    {"type": "Transformer", "name": "DSO.reg2", "tap_init": 6, "tap_side": "lv",
     "controllable": False, "vm_set_pu": 1.02, "max_tap_change": 8, "tap_change_cost": 1.0},
    *({"type": "Transformer", "name": f"{mg}.reg1", "tap_init": 0, "tap_side": "lv",
       "controllable": False, "vm_set_pu": 1.0, "max_tap_change": 8, "tap_change_cost": 1.0}
      for mg in MICROGRIDS),
    *({"type": "Shunt", "name": f"{mg}.cap {bus}", "bus": f"{mg}.{bus}", "q_mvar": q,
       "max_step": steps, "step_init": 0, "controllable": False}
      for mg in MICROGRIDS for bus, q, steps in (("675", -0.2, 3), ("611", -0.1, 1))),
]


def microgrid_devices(mg: str) -> list[dict[str, Any]]:
    """The devices of microgrid ``mg`` (names and buses prefixed ``"<mg>."``)."""
    coefs, p_max = GENERATORS[mg]
    return [
        {"type": "ESS", "name": f"{mg}.ess1", "bus": f"{mg}.675", "p_max_mw": 0.2,
         "capacity_mwh": 0.8, "soc_min": 0.1, "soc_max": 0.9, "soc_init": 0.5,
         "q_min_mvar": -0.1, "q_max_mvar": 0.1, "sn_mva": 0.25, "cost_per_mwh": 5.0},
        {"type": "Generator", "name": f"{mg}.dg1", "bus": f"{mg}.680", "p_min_mw": 0.0,
         "p_max_mw": p_max, "q_min_mvar": -0.15, "q_max_mvar": 0.15, "sn_mva": 1.25 * p_max,
         "cost_coefs": list(coefs)},
        {"type": "RES", "name": f"{mg}.pv1", "bus": f"{mg}.652", "sn_mva": 0.15,
         "source": "solar"},
        {"type": "RES", "name": f"{mg}.wt1", "bus": f"{mg}.611", "sn_mva": 0.1,
         "source": "wind"},
    ]


#: protocols in which the DSO coordinates the microgrids (an agent without devices)
COORDINATED = ("price_signal", "setpoint")


def config(**overrides: Any) -> ScenarioConfig:
    """The networked-microgrids scenario (hourly steps, one test week by default).

    With ``protocol="price_signal"`` or ``"setpoint"`` a ``DSO`` coordinator agent
    joins the three microgrid agents.
    """
    devices = [d for mg in MICROGRIDS for d in microgrid_devices(mg)] + FEEDER_DEVICES
    profiles = {}
    for mg, (solar, wind) in RENEWABLES.items():
        profiles[f"{mg}.pv1"], profiles[f"{mg}.wt1"] = solar, wind
    pccs = [{"type": "Grid", "name": "DSO.pcc", "element": "ext_grid",
             "element_name": "DSO.source"}]
    pccs += [{"type": "Grid", "name": f"{mg}.pcc", "element": "trafo",
              "element_name": f"{mg}.sub", "sell_discount": 0.9, "internal": True}
             for mg in MICROGRIDS]
    agents = [AgentConfig(name=mg, devices=[f"{mg}.ess1", f"{mg}.dg1"], policy="rule")
              for mg in MICROGRIDS]
    if overrides.get("protocol") in COORDINATED:
        agents.append(AgentConfig(name="DSO", coordinator=True, zone="DSO", policy="rule"))
    cfg = ScenarioConfig(
        name="microgrids", network="microgrids", description=DESCRIPTION, devices=devices,
        network_params={"mg_load_scale": MG_LOAD_SCALE},
        profiles=profiles, load_profiles={"*": "load:mv_semiurban"}, price="price:synthetic",
        pccs=pccs, agents=agents, step_s=3600, steps=24 * 7, split="test")
    return cfg.with_(**overrides) if overrides else cfg


if __name__ == "__main__":
    scenario_main(config)
