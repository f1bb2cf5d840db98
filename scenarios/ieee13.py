"""IEEE 13-bus feeder with a battery, a generator, PV, wind, its regulator and capacitors.

One operator agent controls every controllable device. Run it with
``python -m scenarios.ieee13 --until 96``.

Voltages (ANSI C84.1 Range A, 0.95-1.05 p.u.; whole test split, 1,680 hours, fast
backend, ``tests/test_credible.py``): every power flow converges and every bus stays in
the band, idle 0.979-1.044 p.u., rule 0.972-1.041.

On three-phase physics (``physics="three_phase"``, every bus-phase), idle 0.939-1.050
p.u., rule 0.943-1.050, outside the band in 3 / 5 hours
(:data:`RANGE_A_EXCEPTIONS_THREE_PHASE`): the test split's heaviest hours, when phase c
of 671-684 and 611, the most loaded phase, sags below 0.95 while the regulator's phase
c unit already holds its output (RG60) at 1.05, so no tap of it lifts the one without
the other leaving the band (the published IEEE 13 solution, at its peak load, has 675 c
at 0.976 with RG60 c at 1.069, above the band). The regulator's units are held at
a/b/c = 6/2/8 under idle (``unit_tap_init``).
"""

from __future__ import annotations

from typing import Any

from scenarios.config import AgentConfig, ScenarioConfig

DESCRIPTION = "IEEE 13-bus feeder: battery, generator, PV, wind, OLTC and capacitor banks"

#: where and when the scenario may leave Range A: nowhere
RANGE_A_EXCEPTIONS: dict[str, Any] = {}
#: on three-phase physics, per policy the test-split hours outside (the docstring says why)
RANGE_A_EXCEPTIONS_THREE_PHASE: dict[str, Any] = {
    "hours": {"idle": [12, 178, 1530], "rule": [12, 135, 1530, 1547, 1674]}}

DEVICES: list[dict[str, Any]] = [
    # 0.5 MW / 2 MWh battery at the end of the 671-692-675 branch
    {"type": "ESS", "name": "ess1", "bus": "675", "p_max_mw": 0.5, "capacity_mwh": 2.0,
     "soc_min": 0.1, "soc_max": 0.9, "soc_init": 0.5, "eta_charge": 0.95,
     "eta_discharge": 0.95, "q_min_mvar": -0.3, "q_max_mvar": 0.3, "sn_mva": 0.6,
     "cost_per_mwh": 5.0},
    # 0.6 MW gas engine at 680 with unit commitment; fuel 20 P^2 + 70 P + 5 $/h
    {"type": "Generator", "name": "dg1", "bus": "680", "p_min_mw": 0.1, "p_max_mw": 0.6,
     "q_min_mvar": -0.3, "q_max_mvar": 0.3, "sn_mva": 0.75, "min_pf": 0.8,
     "cost_coefs": [20.0, 70.0, 5.0], "ramp_up_mw_per_h": 0.6, "ramp_down_mw_per_h": 0.6,
     "commitment": True, "startup_time_h": 1.0, "startup_cost": 30.0, "shutdown_cost": 10.0,
     "initially_on": False},
    {"type": "RES", "name": "pv1", "bus": "634", "sn_mva": 0.3, "source": "solar",
     "curtailable": True, "q_min_mvar": -0.1, "q_max_mvar": 0.1},
    {"type": "RES", "name": "pv2", "bus": "652", "sn_mva": 0.25, "source": "solar"},
    {"type": "RES", "name": "wt1", "bus": "611", "sn_mva": 0.3, "source": "wind"},
    # the substation regulator as an agent-controlled OLTC and both capacitor banks;
    # initial tap and steps: no bus outside 0.95-1.05 over the whole test split without
    # control (idle: 0.979-1.044 p.u.; +7 reaches 1.050 at 611 in one light hour, +8
    # 1.056; the network's base tap REGULATOR_TAP_POS = +10 is the published one, for the
    # published peak load). On three-phase physics a tap per phase unit, held under idle
    # at a/b/c = 6/2/8: the fewest hours outside the band over the whole test split
    # (3, phase c of 611-675 at the peak; measured with taps 5-7 / 1-3 / 7-10: 6/6/6 is
    # outside in every hour, phase b of 671-692 above 1.05; c at 9 puts the regulator's
    # output RG60 at 1.056 in every hour, c at 7 leaves 14 hours low; b at 3 with a at 7,
    # 501 hours high)
    {"type": "Transformer", "name": "reg1", "tap_min": -16, "tap_max": 16, "tap_init": 6,
     "tap_side": "lv", "tap_change_cost": 1.0, "unit_tap_init": {"a": 6, "b": 2, "c": 8}},
    {"type": "Shunt", "name": "cap 675", "bus": "675", "q_mvar": -0.2, "max_step": 3,
     "step_init": 2, "switching_cost_per_step": 2.0},
    {"type": "Shunt", "name": "cap 611", "bus": "611", "q_mvar": -0.1, "max_step": 1,
     "step_init": 0, "switching_cost_per_step": 2.0},
]


def config(**overrides: Any) -> ScenarioConfig:
    """The IEEE 13 scenario (hourly steps, one test week by default)."""
    cfg = ScenarioConfig(
        name="ieee13", network="ieee13", description=DESCRIPTION, devices=DEVICES,
        profiles={"pv1": "solar:PV1", "pv2": "solar:PV4", "wt1": "wind:WP1"},
        load_profiles={"*": "load:mv_urban"}, price="price:synthetic",
        pccs=[{"type": "Grid", "name": "pcc", "element": "ext_grid", "sell_discount": 0.9}],
        agents=[AgentConfig(name="operator", policy="rule",
                            devices=["ess1", "dg1", "pv1", "reg1", "cap 675", "cap 611"])],
        step_s=3600, steps=24 * 7, split="test")
    return cfg.with_(**overrides) if overrides else cfg


if __name__ == "__main__":
    from scenarios.run import scenario_main  # here: listing scenarios needs no simulator

    scenario_main(config)
