"""CIGRE MV benchmark: its PV, wind, CHP, battery, an OLTC and the three tie switches.

The devices take over the elements pandapower's CIGRE MV network already has (found
by name). Run it with ``python -m scenarios.cigre_mv --until 24``.

Voltages (ANSI C84.1 Range A, 0.95-1.05 p.u.; whole test split, 1,680 hours, fast
backend, ``tests/test_credible.py``): every power flow converges; idle 0.946-1.038 p.u.,
rule 0.950-1.040. One hour is outside the band (:data:`RANGE_A_EXCEPTIONS`): test step
12, the split's highest net demand (38.3 MW of load less wind and PV), where buses 5, 6,
10 and 11 of feeder 1 reach 0.946 (idle, OLTC held at 0) / 0.9497 (rule).
"""

from __future__ import annotations

from typing import Any

from scenarios.config import AgentConfig, ScenarioConfig

DESCRIPTION = "CIGRE MV benchmark: PV, wind, CHP, batteries, OLTC and tie switches"

#: PV units of pandapower's CIGRE MV network and their ratings (MVA)
PV_UNITS = {"PV 3": 0.02, "PV 4": 0.02, "PV 5": 0.03, "PV 6": 0.03, "PV 8": 0.03,
            "PV 9": 0.03, "PV 10": 0.04, "PV 11": 0.01}

#: where and when the scenario may leave Range A (the module docstring says why)
RANGE_A_EXCEPTIONS: dict[str, Any] = {"hours": {"idle": [12], "rule": [12]}}

DEVICES: list[dict[str, Any]] = [
    {"type": "ESS", "name": "Battery 1", "bus": "Bus 5", "p_max_mw": 0.6, "capacity_mwh": 2.4,
     "soc_min": 0.1, "soc_max": 0.9, "cost_per_mwh": 5.0},
    {"type": "ESS", "name": "Battery 2", "bus": "Bus 10", "p_max_mw": 0.2, "capacity_mwh": 0.8,
     "soc_min": 0.1, "soc_max": 0.9, "cost_per_mwh": 5.0},
    {"type": "Generator", "name": "CHP diesel 1", "bus": "Bus 9", "p_max_mw": 0.31,
     "q_min_mvar": -0.15, "q_max_mvar": 0.15, "sn_mva": 0.39, "cost_coefs": [50.0, 80.0, 5.0]},
    {"type": "RES", "name": "WKA 7", "bus": "Bus 7", "sn_mva": 1.5, "source": "wind",
     "curtailable": True},
    *({"type": "RES", "name": name, "bus": f"Bus {name.split()[1]}", "sn_mva": sn,
       "source": "solar"} for name, sn in PV_UNITS.items()),
    # the first HV/MV transformer as an OLTC: +-9 taps of 1.5 % (pandapower's 25 MVA type)
    {"type": "Transformer", "name": "Trafo 0-1", "tap_min": -9, "tap_max": 9, "tap_init": 0,
     "tap_step_percent": 1.5, "tap_side": "hv", "tap_change_cost": 2.0},
    *({"type": "Switch", "name": s, "closed_init": False, "switching_cost": 10.0}
      for s in ("S1", "S2", "S3")),
]


def config(**overrides: Any) -> ScenarioConfig:
    """The CIGRE MV scenario (hourly steps, one test week by default)."""
    profiles = {name: "solar:PV1" for name in PV_UNITS} | {"WKA 7": "wind:WP4"}
    cfg = ScenarioConfig(
        name="cigre_mv", network="cigre_mv", description=DESCRIPTION, devices=DEVICES,
        profiles=profiles, load_profiles={"*": "load:mv_urban"}, price="price:synthetic",
        pccs=[{"type": "Grid", "name": "pcc", "element": "ext_grid", "sell_discount": 0.9}],
        agents=[AgentConfig(name="operator",
                            devices=["Battery 1", "Battery 2", "CHP diesel 1", "WKA 7",
                                     "Trafo 0-1", "S1", "S2", "S3"], policy="rule")],
        step_s=3600, steps=24 * 7, split="test")
    return cfg.with_(**overrides) if overrides else cfg


if __name__ == "__main__":
    from scenarios.run import scenario_main  # here: listing scenarios needs no simulator

    scenario_main(config)
