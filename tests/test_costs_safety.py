"""Cost and safety formulas against values computed by hand."""

import numpy as np
import pytest

from powergrid import costs, safety


def test_quadratic_cost_hand_values():
    # 0.1 $/MW^2h * 2^2 + 50 $/MWh * 2 + 3 $/h = 103.4 $/h
    assert costs.quadratic_cost(2.0, 0.1, 50.0, 3.0) == pytest.approx(103.4)
    out = costs.quadratic_cost(np.array([0.0, 1.0]), np.array([1.0, 2.0]), 10.0, 0.0)
    np.testing.assert_allclose(out, [0.0, 12.0])


def test_polynomial_cost_matches_quadratic_and_cubic():
    assert costs.polynomial_cost(2.0, [3.0, 50.0, 0.1]) == pytest.approx(103.4)
    # 1 + 2*3 + 0*9 + 1*27 = 34
    assert costs.polynomial_cost(3.0, [1.0, 2.0, 0.0, 1.0]) == pytest.approx(34.0)


def test_piecewise_linear_cost_interpolates_and_extends():
    xs, ys = [0.0, 1.0, 3.0], [0.0, 40.0, 160.0]  # slopes 40 then 60 $/MWh
    assert costs.piecewise_linear_cost(0.5, xs, ys) == pytest.approx(20.0)
    assert costs.piecewise_linear_cost(2.0, xs, ys) == pytest.approx(100.0)
    assert costs.piecewise_linear_cost(4.0, xs, ys) == pytest.approx(220.0)  # extended
    assert costs.piecewise_linear_cost(-1.0, xs, ys) == pytest.approx(-40.0)
    many = costs.piecewise_linear_cost(np.array([0.5, 2.0]), np.array([xs, xs]), np.array([ys, ys]))
    np.testing.assert_allclose(many, [20.0, 100.0])


def test_ramping_switching_tap_costs():
    assert costs.ramping_cost(0.3, 10.0, 5.0) == pytest.approx(3.0)
    assert costs.ramping_cost(-0.4, 10.0, 5.0) == pytest.approx(2.0)
    np.testing.assert_allclose(costs.switching_cost([True, False], 7.0), [7.0, 0.0])
    assert costs.tap_change_cost(-3, 2.5) == pytest.approx(7.5)


def test_energy_settlement_import_and_export():
    # import 2 MW for 0.25 h at 40 $/MWh = 20 $
    assert costs.energy_cost(2.0, 40.0, 0.9, 0.25) == pytest.approx(20.0)
    # export 1 MW for 1 h at 40 $/MWh, discount 0.9 -> earns 36 $
    assert costs.energy_cost(-1.0, 40.0, 0.9, 1.0) == pytest.approx(-36.0)
    assert costs.throughput_cost(-0.5, 4.0, 2.0) == pytest.approx(4.0)


def test_over_rating_and_power_factor():
    # |S| = 5 MVA on a 4 MVA rating: 25 % over
    assert safety.over_rating(3.0, 4.0, 4.0) == pytest.approx(0.25)
    assert safety.over_rating(3.0, 4.0, 6.0) == 0.0
    assert safety.over_rating(3.0, 4.0, np.nan) == 0.0
    # pf = 3/5 = 0.6 against 0.9 minimum
    assert safety.power_factor_violation(3.0, 4.0, 0.9) == pytest.approx(0.3)
    assert safety.power_factor_violation(0.0, 0.0, 0.9) == 0.0


def test_soc_voltage_loading_rate_terms():
    np.testing.assert_allclose(safety.soc_window_violation([0.05, 0.5, 0.95], 0.1, 0.9),
                               [0.05, 0.0, 0.05])
    np.testing.assert_allclose(safety.voltage_violation([0.93, 1.0, 1.07, np.nan]),
                               [0.02, 0.0, 0.02, 0.0])
    np.testing.assert_allclose(safety.loading_violation([90.0, 130.0]), [0.0, 0.3])
    assert safety.rate_of_change_violation(-1.5, 1.0) == pytest.approx(0.5)
    assert safety.setpoint_reduction(0.5, 0.38, 0.5) == pytest.approx(0.24)


def test_each_agent_is_charged_the_rating_excess_of_its_own_pccs():
    # the grid's pcc_rating term, split by PCC: an MG agent answers for its PCC's
    # excess only, the DSO (who collects every bill) for all of them; the one-step
    # account and the many-copy accounts agree
    from powergrid.policies import Observation
    from rl_bridge.views import build_view
    from scenarios import get_config
    from scenarios.prepare import prepare

    prepared = prepare(get_config("microgrids"))
    names = [p.name for p in prepared.pccs]
    excess = np.arange(1.0, len(names) + 1.0)  # a different figure at every PCC
    n_bus = len(prepared.net.bus)
    grid = {"converged": True, "vm_pu": [1.0] * n_bus,
            "line_loading_percent": [0.0] * len(prepared.net.line),
            "trafo_loading_percent": [0.0] * len(prepared.net.trafo),
            "pcc_cost": [0.0] * len(names), "pcc_safety": excess.tolist(),
            "safety_terms": {"pcc_rating": float(excess.sum())}}
    for agent in prepared.config.agents:
        view = build_view(prepared, agent)
        _, safety = view.account(Observation(grid=grid))
        billed = [names[i] for i in view.billed_pcc_positions]
        assert safety["pcc_rating"] == pytest.approx(sum(excess[names.index(n)]
                                                         for n in billed))
        if not agent.coordinator:
            assert billed == [f"{agent.name}.pcc"]
        rows = {k: np.asarray(v, dtype=float)[None] if isinstance(v, list) else v
                for k, v in grid.items()}
        rows["converged"] = np.array([True])
        _, many = view.accounts({}, {}, rows)
        assert many["pcc_rating"][0] == pytest.approx(safety["pcc_rating"])
