"""Device physics: dynamics, limits, costs, safety, and writing into a net."""

import math

import numpy as np
import pandapower as pp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from powergrid.devices import DG, ESS, RES, Generator, Grid, Shunt, Switch, Transformer
from powergrid.devices.capability import ReactiveCapability


def small_net() -> pp.pandapowerNet:
    net = pp.create_empty_network(f_hz=60.0, name="small")
    b0 = pp.create_bus(net, 20.0, name="hv")
    b1 = pp.create_bus(net, 0.4, name="lv")
    b2 = pp.create_bus(net, 0.4, name="lv2")
    pp.create_ext_grid(net, b0, name="source")
    pp.create_transformer(net, b0, b1, "0.4 MVA 20/0.4 kV", name="sub")
    line = pp.create_line(net, b1, b2, 0.1, "NAYY 4x50 SE", name="l1")
    pp.create_switch(net, b1, line, et="l", closed=True, name="sw1")
    pp.create_load(net, b2, p_mw=0.1, q_mvar=0.02, name="load")
    return net


# -- ESS -----------------------------------------------------------------------

def test_ess_soc_follows_charge_with_efficiency():
    ess = ESS(name="b1", bus="lv", p_max_mw=0.5, capacity_mwh=2.0, soc_init=0.5,
              eta_charge=0.9, eta_discharge=0.8)
    ess.reset()
    ess.step([0.4], dt_h=0.5)  # stores 0.4 * 0.9 * 0.5 = 0.18 MWh = 0.09 of capacity
    assert ess.state["soc"][0] == pytest.approx(0.59)
    ess.step([-0.4], dt_h=0.5)  # takes 0.4 / 0.8 * 0.5 = 0.25 MWh = 0.125
    assert ess.state["soc"][0] == pytest.approx(0.465)


def test_ess_setpoint_reduced_at_window_and_reported():
    ess = ESS(name="b1", bus="lv", p_max_mw=0.5, capacity_mwh=1.0, soc_min=0.1,
              soc_init=0.5, eta_discharge=0.95)
    ess.reset()
    out = ess.step([-0.5], dt_h=1.0)
    # only 0.4 MWh above soc_min: delivers 0.4 * 0.95 = 0.38 MW; reduction 0.12 / 0.5
    assert out.p_mw[0] == pytest.approx(-0.38)
    assert ess.state["soc"][0] == pytest.approx(0.1)
    assert out.safety_terms["soc_limit"][0] == pytest.approx(0.24)
    out = ess.step([-0.5], dt_h=1.0)
    assert out.p_mw[0] == pytest.approx(0.0)
    assert out.safety[0] == pytest.approx(1.0)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-2.0, 2.0), min_size=1, max_size=40),
       st.sampled_from([0.25, 1.0]))
def test_ess_soc_never_leaves_window(setpoints, dt_h):
    ess = ESS(name="b", bus="lv", p_max_mw=1.0, p_min_mw=-0.8, capacity_mwh=1.5,
              soc_min=0.2, soc_max=0.8, soc_init=0.3)
    ess.reset()
    for p in setpoints:
        out = ess.step([p], dt_h=dt_h)
        assert 0.2 - 1e-12 <= ess.state["soc"][0] <= 0.8 + 1e-12
        assert -0.8 - 1e-12 <= out.p_mw[0] <= 1.0 + 1e-12
        assert out.safety[0] >= 0.0


def test_fleet_of_many_equals_devices_one_by_one():
    devices = [ESS(name=f"b{i}", bus="lv", p_max_mw=0.5 + 0.1 * i, capacity_mwh=1.0 + i,
                   soc_init=0.2 + 0.2 * i) for i in range(3)]
    fleet = ESS.fleet_class()(devices)
    state = fleet.initial_state()
    rng = np.random.default_rng(0)
    for _ in range(10):
        c = np.stack([rng.uniform(-1, 1, 3), np.zeros(3)], axis=1)
        state, out = fleet.step(state, c, np.zeros((3, 0), np.int64), {}, 0.25)
        for i, dev in enumerate(devices):
            if not hasattr(dev, "_fleet"):
                dev.reset()
            single = dev.step([c[i, 0]], dt_h=0.25)
            assert single.p_mw[0] == out.p_mw[i]
            assert dev.state["soc"][0] == state["soc"][i]


# -- generators ----------------------------------------------------------------

def test_generator_fuel_cost_quadratic_and_piecewise():
    g = Generator(name="g", bus="lv", p_max_mw=1.0, cost_coefs=(10.0, 50.0, 2.0))
    g.reset()
    out = g.step([0.5], dt_h=0.5)  # (10*0.25 + 50*0.5 + 2) * 0.5 = 14.75 $
    assert out.cost_terms["fuel"][0] == pytest.approx(14.75)
    pwl = Generator(name="p", bus="lv", p_max_mw=1.0, cost_pwl=((0.0, 5.0), (1.0, 65.0)))
    pwl.reset()
    assert pwl.step([0.5], dt_h=1.0).cost[0] == pytest.approx(35.0)


def test_generator_ramp_limit_reduces_and_reports():
    g = DG(name="g", bus="lv", p_max_mw=2.0, ramp_up_mw_per_h=0.4, ramp_cost_per_mw=10.0)
    g.reset()
    out = g.step([2.0], dt_h=0.5)  # from 0 MW, at most +0.2 MW in half an hour
    assert out.p_mw[0] == pytest.approx(0.2)
    assert out.safety_terms["ramp"][0] == pytest.approx(0.9)  # (2.0 - 0.2) / 2.0
    assert out.cost_terms["ramp"][0] == pytest.approx(2.0)


def test_generator_capability_circle_and_power_factor():
    g = Generator(name="g", bus="lv", p_max_mw=1.0, sn_mva=1.0, q_min_mvar=-1.0,
                  q_max_mvar=1.0, min_pf=0.9)
    g.reset()
    out = g.step([0.8, 0.9])
    # circle allows 0.6 Mvar; pf 0.9 allows 0.8*tan(acos 0.9) = 0.3875 Mvar
    assert out.q_mvar[0] == pytest.approx(0.8 * np.sqrt(1 - 0.81) / 0.9)
    assert out.safety_terms["capability"][0] == pytest.approx(0.9 - out.q_mvar[0])


def test_unit_commitment_delay_and_costs():
    g = Generator(name="g", bus="lv", p_max_mw=1.0, p_min_mw=0.2, commitment=True,
                  startup_time_h=2.0, shutdown_time_h=0.0, startup_cost=100.0,
                  shutdown_cost=20.0, initially_on=False, cost_coefs=(0.0, 10.0, 0.0))
    g.reset()
    assert g.action_spec().names_d == ("g.on",)
    produced = []
    costs_seen = []
    for cmd in [1, 1, 1, 1, 0]:
        out = g.step([0.5], [cmd], dt_h=1.0)
        produced.append(out.p_mw[0])
        costs_seen.append(out.cost_terms["commitment"][0])
    assert produced == [0.0, 0.0, 0.5, 0.5, 0.0]  # on after 2 h of on commands
    assert costs_seen == [0.0, 0.0, 100.0, 0.0, 20.0]


# -- renewables ------------------------------------------------------------------

def test_res_available_power_and_curtailment():
    pv = RES(name="pv", bus="lv", sn_mva=0.3, source="solar", curtailable=True,
             curtailment_cost_per_mwh=10.0)
    pv.reset()
    out = pv.step([0.1], profile=0.5)  # 0.15 MW available, capped at 0.1
    assert out.p_mw[0] == pytest.approx(0.1)
    assert out.cost_terms["curtailment"][0] == pytest.approx(0.5)
    assert pv.step([0.3], profile=1.7).p_mw[0] == pytest.approx(0.3)  # profile clipped to 1
    wind = RES(name="wt", bus="lv", sn_mva=0.2, source="wind")
    wind.reset()
    assert wind.action_spec().dim_c == 0
    assert wind.step(profile=0.25).p_mw[0] == pytest.approx(0.05)


def test_res_rejects_unknown_source():
    with pytest.raises(ValueError, match="'hydro'"):
        RES(name="x", bus="lv", sn_mva=1.0, source="hydro")


# -- discrete devices ------------------------------------------------------------

def test_transformer_tap_categories_and_wear():
    t = Transformer(name="sub", tap_min=-2, tap_max=2, tap_init=0, tap_change_cost=3.0)
    t.reset()
    assert t.action_spec().nvec.tolist() == [5]
    out = t.step(action_d=[4])  # category 4 -> tap +2
    assert t.state["tap_pos"][0] == 2
    assert out.cost[0] == pytest.approx(6.0)


def test_shunt_and_switch_positions_and_costs():
    cap = Shunt(name="cap", bus="lv", q_mvar=-0.1, max_step=3, switching_cost_per_step=1.0)
    cap.reset()
    out = cap.step(action_d=[3])
    assert cap.state["step"][0] == 3
    assert out.q_mvar[0] == pytest.approx(-0.3)
    assert out.cost[0] == pytest.approx(3.0)
    sw = Switch(name="sw1", switching_cost=5.0)
    sw.reset()
    assert sw.step(action_d=[0]).cost[0] == pytest.approx(5.0)
    assert sw.state["closed"][0] == 0
    assert sw.step(action_d=[0]).cost[0] == 0.0


def test_grid_energy_bill():
    pcc = Grid(name="pcc", sell_discount=0.5, sn_mva=1.0)
    pcc.reset()
    out = pcc.step(p_mw=-2.0, q_mvar=0.0, price=30.0, dt_h=0.5)
    assert out.cost[0] == pytest.approx(-15.0)  # 2 MW * 0.5 h * 30 * 0.5 earned
    assert out.safety_terms["pcc_rating"][0] == pytest.approx(1.0)


# -- pandapower attachment ----------------------------------------------------------

def test_write_to_net_is_idempotent_and_converges():
    net = small_net()
    devices = [ESS(name="bat", bus="lv2", p_max_mw=0.05, capacity_mwh=0.1),
               RES(name="pv", bus="lv2", sn_mva=0.05),
               Generator(name="dg", bus="lv", p_max_mw=0.05),
               Shunt(name="cap", bus="lv2", q_mvar=-0.01, max_step=2, step_init=1),
               Transformer(name="sub", tap_min=-2, tap_max=2, tap_init=1),
               Switch(name="sw1"), Grid(name="pcc")]
    first = [d.write_to_net(net) for d in devices]
    second = [d.write_to_net(net) for d in devices]
    assert first == second
    assert len(net.sgen) == 2 and len(net.storage) == 1 and len(net.shunt) == 1
    assert net.trafo.at[first[4], "tap_changer_type"] == "Ratio"
    vm_before = None
    pp.runpp(net, lightsim2grid=False)
    vm_before = net.res_bus.vm_pu.iloc[2]
    net.trafo.at[first[4], "tap_pos"] = -2  # the tap really acts on the voltage
    pp.runpp(net, lightsim2grid=False)
    assert net.res_bus.vm_pu.iloc[2] != pytest.approx(vm_before, abs=1e-4)


def test_unknown_bus_and_missing_trafo_are_named():
    net = small_net()
    with pytest.raises(ValueError, match="'bat'.*'nowhere'"):
        ESS(name="bat", bus="nowhere", p_max_mw=1, capacity_mwh=1).write_to_net(net)
    with pytest.raises(ValueError, match="'reg9'"):
        Transformer(name="reg9").write_to_net(net)


def test_reactive_capability_of_a_mixed_fleet_unit_by_unit():
    """One fleet whose units have a rating and a power-factor limit, only one of them, or
    neither: each unit's Q limit is the smaller of the circle ``sqrt(Sn^2 - P^2)`` and
    ``|P| tan(acos(pf))`` of the bounds it has (unbounded without either), and a request
    is cut to it and to the box, the cut reported per unit of the rating (of the larger
    box bound without one)."""
    sn = np.array([1.0, 1.0, np.nan, np.nan])
    pf = np.array([0.9, np.nan, 0.8, np.nan])
    cap = ReactiveCapability(np.full(4, -2.0), np.full(4, 2.0), sn, pf)
    for p in (0.0, 0.5, -0.8, 1.2):
        p_mw = np.full(4, p)
        expected = []
        for s, f in zip(sn, pf, strict=True):
            circle = math.sqrt(max(s * s - p * p, 0.0)) if math.isfinite(s) else math.inf
            factor = abs(p) * math.tan(math.acos(f)) if math.isfinite(f) else math.inf
            expected.append(min(circle, factor))
        np.testing.assert_allclose(cap.limit_mvar(p_mw), expected, rtol=1e-12, atol=1e-15)
        q, cut = cap.limit(np.full(4, 1.5), p_mw)
        applied = np.minimum(1.5, expected)
        np.testing.assert_allclose(q, applied, rtol=1e-12, atol=1e-15)
        rating = np.array([1.0, 1.0, 2.0, 2.0])
        np.testing.assert_allclose(cut, (1.5 - applied) / rating, rtol=1e-12, atol=1e-15)
