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


def microgrid_devices(mg: str) -> list[dict[str, Any]]:
    """The devices of microgrid ``mg`` (names and buses prefixed ``"<mg>."``)."""
    coefs, p_max = GENERATORS[mg]
    return [
        {"type": "ESS", "name": f"{mg}.ess1", "bus": f"{mg}.675", "p_max_mw": 0.2,
         "capacity_mwh": 0.8, "soc_min": 0.1, "soc_max": 0.9, "soc_init": 0.5,
         "cost_per_mwh": 5.0},
        {"type": "Generator", "name": f"{mg}.dg1", "bus": f"{mg}.680", "p_min_mw": 0.0,
         "p_max_mw": p_max, "q_min_mvar": -0.15, "q_max_mvar": 0.15, "sn_mva": 1.25 * p_max,
         "cost_coefs": list(coefs)},
        {"type": "RES", "name": f"{mg}.pv1", "bus": f"{mg}.652", "sn_mva": 0.15,
         "source": "solar"},
        {"type": "RES", "name": f"{mg}.wt1", "bus": f"{mg}.611", "sn_mva": 0.1,
         "source": "wind"},
    ]


def config(**overrides: Any) -> ScenarioConfig:
    """The networked-microgrids scenario (hourly steps, one test week by default)."""
    devices = [d for mg in MICROGRIDS for d in microgrid_devices(mg)]
    profiles = {}
    for mg, (solar, wind) in RENEWABLES.items():
        profiles[f"{mg}.pv1"], profiles[f"{mg}.wt1"] = solar, wind
    pccs = [{"type": "Grid", "name": "DSO.pcc", "element": "ext_grid",
             "element_name": "DSO.source", "billed": False}]
    pccs += [{"type": "Grid", "name": f"{mg}.pcc", "element": "trafo",
              "element_name": f"{mg}.sub", "sell_discount": 0.9} for mg in MICROGRIDS]
    agents = [AgentConfig(name=mg, devices=[f"{mg}.ess1", f"{mg}.dg1"], policy="rule")
              for mg in MICROGRIDS]
    cfg = ScenarioConfig(
        name="microgrids", network="microgrids", description=DESCRIPTION, devices=devices,
        profiles=profiles, load_profiles={"*": "load:mv_semiurban"}, price="price:synthetic",
        pccs=pccs, agents=agents, step_s=3600, steps=24 * 7, split="test")
    return cfg.with_(**overrides) if overrides else cfg


if __name__ == "__main__":
    scenario_main(config)
