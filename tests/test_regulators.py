"""Automatic tap changers settle within the step's power flow, as a line regulator's
controller does within the hour (IEEE Std C57.15: one tap per 30-60 s delay): the grid
model solves, moves every regulator whose voltage is out of its band, solves again,
until none moves. One rule (:class:`powergrid.devices.discrete.TapRegulation`), one loop
(:func:`powergrid.gridmodel.settle_taps`), for one grid and a batch of copies alike."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from powergrid.devices.batch import grid_layout
from powergrid.devices.discrete import TransformerFleet
from powergrid.gridmodel import BatchGridModel, GridModel
from scenarios import get_config
from scenarios.prepare import PreparedScenario, prepare
from scenarios.run import run_scenario


@pytest.fixture(scope="module")
def ieee34() -> PreparedScenario:
    return prepare(get_config("ieee34"))


def _grid(prepared: PreparedScenario, regulated: bool = True) -> GridModel:
    cfg = prepared.config
    return GridModel(prepared.net, cfg.solver, prepared.load_profiles, prepared.pccs,
                     regulators=prepared.regulators if regulated else ())


def _at_load(grid: GridModel, prepared: PreparedScenario, level: float) -> None:
    grid.set_load_profiles({s: level for s in prepared.load_profiles.values()})


def _regulated_vm(grid: GridModel, vm_pu: np.ndarray) -> np.ndarray:
    assert grid.regulation is not None
    return vm_pu[grid.regulation.bus_rows]


@pytest.mark.parametrize("level", [0.2, 0.9])
def test_settled_regulators_hold_their_bus_in_band_within_the_step(ieee34, level):
    fixed = _grid(ieee34, regulated=False)
    _at_load(fixed, ieee34, level)
    before = fixed.solve()
    grid = _grid(ieee34)
    _at_load(grid, ieee34, level)
    after = grid.solve()
    reg = grid.regulation
    assert reg is not None and before.converged and after.converged
    error_before = np.abs(_regulated_vm(grid, before.vm_pu) - reg.vm_set_pu)
    error_after = np.abs(_regulated_vm(grid, after.vm_pu) - reg.vm_set_pu)
    assert (error_before > reg.deadband_pu).any()  # at the initial taps: out of band
    start = np.array([r.tap_init for r in ieee34.regulators])
    travel = np.abs(after.regulator_tap_pos - start)
    # settled: each is in its band, or has travelled as far as a step allows
    assert ((error_after <= reg.deadband_pu) | (travel == reg.max_change)).all(), (
        error_after, travel)
    assert (after.regulator_tap_pos != start).any()
    # and the taps it reports are the ones in the power flow
    rows = reg.trafo_rows
    np.testing.assert_array_equal(grid.solver.trafo_tap_pos[rows], after.regulator_tap_pos)


def test_a_failed_power_flow_holds_the_taps(ieee34):
    grid = _grid(ieee34)
    grid.set_load_profiles({s: 1.0 for s in ieee34.load_profiles.values()}, load_scale=8.0)
    result = grid.solve()
    assert not result.converged
    np.testing.assert_array_equal(result.regulator_tap_pos,
                                  [r.tap_init for r in ieee34.regulators])


def test_one_grid_and_a_batch_settle_on_the_same_taps(ieee34):
    levels = np.array([0.15, 0.5, 0.95])
    series = sorted(set(ieee34.load_profiles.values()))
    injecting, positional = grid_layout(ieee34.devices)
    batch = BatchGridModel(ieee34.net, len(levels), series, ieee34.load_profiles,
                           ieee34.pccs, injecting, positional,
                           regulators=ieee34.regulators)
    # every device at its initial state: no injection, the net's positions
    positions = np.array([_net_positions(ieee34, positional)] * len(levels))
    values = np.repeat(levels[:, None], len(series), axis=1)
    out = batch.step(values, np.zeros((len(levels), len(injecting))),
                     np.zeros((len(levels), len(injecting))), positions,
                     np.zeros(len(levels)), 1.0)
    for k, level in enumerate(levels):
        grid = _grid(ieee34)
        grid.set_positions(dict(zip(positional, positions[k], strict=True)))
        grid.set_injections(dict.fromkeys(injecting, 0.0), {})
        _at_load(grid, ieee34, level)
        one = grid.solve()
        np.testing.assert_array_equal(out.regulator_tap_pos[k], one.regulator_tap_pos)
        np.testing.assert_allclose(out.vm_pu[k], one.vm_pu, atol=1e-6)


def _net_positions(prepared: PreparedScenario, positional: list[str]) -> list[float]:
    """Each positional element's position as written into the net (its initial one)."""
    column = {"trafo": "tap_pos", "shunt": "step", "switch": "closed"}
    grid = _grid(prepared, regulated=False)
    out = []
    for name in positional:
        table, pos = grid.locate(name)
        out.append(float(prepared.net[table][column[table]].iloc[pos]))
    return out


def test_the_device_adopts_the_settled_tap_and_books_the_wear(ieee34):
    reg = ieee34.regulators[0]
    fleet = TransformerFleet([reg])
    state = fleet.initial_state()
    d = fleet.default_controls(state)[1]
    held, out = fleet.step(state, np.zeros((1, 0)), d, fleet.exogenous_inputs(), 1.0)
    assert held["tap_pos"][0] == reg.tap_init and out.cost_terms["tap_wear"][0] == 0.0
    moved, out = fleet.step(held, np.zeros((1, 0)), d,
                            {"settled_tap_pos": np.array([reg.tap_init + 3.0])}, 1.0)
    assert moved["tap_pos"][0] == reg.tap_init + 3
    assert out.cost_terms["tap_wear"][0] == pytest.approx(3 * reg.tap_change_cost)


def test_the_run_records_the_tap_in_force_with_its_voltage(tmp_path):
    # the timeseries' tap of an automatic regulator is the one its row's voltages were
    # solved with (the grid's settled tap), not the device's tap entering the step
    config = get_config("ieee34", policy="idle", steps=12)
    run_scenario(config, tmp_path, progress=False, plot=False)
    df = pd.read_csv(tmp_path / "timeseries.csv")
    prepared = prepare(config)
    names = [r.name for r in prepared.regulators]
    taps = df[[f"tap_pos:{n}" for n in names]].to_numpy()
    assert (np.diff(taps, axis=0) != 0).any()  # the regulators worked during the run
    # the device learns its settled tap one step later and books the wear then
    wear = df[[f"cost:{n}" for n in names]].to_numpy()
    moved = np.abs(np.diff(taps, axis=0))
    costs = np.array([r.tap_change_cost for r in prepared.regulators])
    np.testing.assert_allclose(wear[2:], moved[:-1] * costs)
