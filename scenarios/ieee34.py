"""IEEE 34-bus feeder with a battery, a generator, PV, wind, two regulators and two capacitors.

One operator agent controls every controllable device. Run it with
``python -m scenarios.ieee34 --until 24``.

Voltages (ANSI C84.1 Range A, 0.95-1.05 p.u.; whole test split, 1,680 hours, fast
backend, ``tests/test_credible.py``): every power flow converges; idle 0.930-1.050 p.u.,
rule 0.922-1.050. The two line regulators settle within each hour's power flow, as their
controllers do in the field (seconds of delay per tap); with that, one bus leaves the
band, and nowhere else (:data:`RANGE_A_EXCEPTIONS`):

* bus 890, the 4.16 kV end behind XFM-1 (500 kVA) and the 2-mile 888-890 line carrying
  450 kW, low (down to 0.930) in 32 (idle) / 33 (rule) hours of heavy load: the drop
  from 832 to 890 is 0.02 p.u. at 20 % load and 0.11 at 88 %, more than the band is
  wide, so no fixed tap keeps it in the band all year (the published IEEE 34 solution
  has 890 at 0.917 p.u.). XFM-1's no-load tap at +2.5 % leaves the fewest hours out
  (+5 % puts 888 above 1.05 in 1,005 hours; a 1.03 set-point at reg2 in 128); the
  microgrids scenario, re-engineered, gives XFM-1 an LTC and 890 a capacitor instead.

On three-phase physics (``physics="three_phase"``, every bus-phase; the OpenDSS
circuit of :mod:`powergrid.networks.three_phase.ieee34`), idle 0.944-1.050 p.u., rule
0.946-1.050; only 890 leaves the band (:data:`RANGE_A_EXCEPTIONS_THREE_PHASE`, 5 idle
and 5 rule hours, down to 0.944). What it takes there, beyond the balanced model: the
line regulators' ``RegControl`` regulate to the devices' ``vm_set_pu`` with the
published band and line-drop compensators, and the substation has an on-load tap
changer (:data:`powergrid.networks.ieee34.SUBSTATION_LTC`, the reasons there): with 800
fixed at the published 1.05, 1,271 idle and 821 rule hours were outside (phase a of
800-814 up to 1.067, phases b and c of 888 up to 1.064 behind XFM-1's +2.5 %).

Before the regulators were settled within the step (they acted on the last hour's
voltage, one hour late) the ranges were 0.893-1.079 / 0.874-1.093, with 888 and 890 out
in 197 / 294 hours and 12 / 43 more hours at other buses.
"""

from __future__ import annotations

from typing import Any

from scenarios.config import AgentConfig, ScenarioConfig

DESCRIPTION = ("IEEE 34-bus feeder: battery, generator, PV, wind, two automatic regulators,"
               " two capacitor banks")

#: where and when the scenario may leave Range A (the module docstring says why):
#: buses at any hour; per policy, how many hours other buses may be out
RANGE_A_EXCEPTIONS: dict[str, Any] = {"buses": ["890"]}
#: on three-phase physics: 890 at any hour, as on the balanced model (the docstring)
RANGE_A_EXCEPTIONS_THREE_PHASE: dict[str, Any] = {"buses": ["890"]}

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
    # wind on the three-phase main feeder: at 822, the end of the long single-phase
    # 816-822 lateral, 0.3 MW at light load lifted the lateral to 1.08 p.u.
    {"type": "RES", "name": "wt1", "bus": "830", "sn_mva": 0.3, "source": "wind"},
    # both line regulators under their own automatic voltage control, as in the field
    # (fixed taps cannot serve this long feeder from 20 % to 90 % load). Initial taps 0:
    # right at midnight, where every run and episode starts (+4 / +6 put 814r and 852r
    # at 1.06-1.08 p.u. in the first hour); at most 4 / 2 taps an hour (measured: with
    # 16, i.e. no limit within the hour, 890 is out 39 hours instead of 32)
    {"type": "Transformer", "name": "reg1", "tap_min": -16, "tap_max": 16, "tap_init": 0,
     "tap_side": "lv", "tap_change_cost": 1.0, "controllable": False, "vm_set_pu": 1.03,
     "vm_deadband_pu": 0.01, "max_tap_change": 4},
    {"type": "Transformer", "name": "reg2", "tap_min": -16, "tap_max": 16, "tap_init": 0,
     "tap_side": "lv", "tap_change_cost": 1.0, "controllable": False, "vm_set_pu": 1.02,
     "vm_deadband_pu": 0.01, "max_tap_change": 2},
    # XFM-1's no-load tap at +2.5 % (two +-2 x 2.5 % steps each way, a distribution
    # transformer's usual off-load taps): the 4.16 kV end 888-890 then spends the fewest
    # hours outside the band (see the module docstring)
    {"type": "Transformer", "name": "xfm1", "tap_min": -2, "tap_max": 2, "tap_init": 1,
     "tap_step_percent": 2.5, "tap_side": "lv", "controllable": False},
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
    from scenarios.run import scenario_main  # here: listing scenarios needs no simulator

    scenario_main(config)
