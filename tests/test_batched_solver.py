"""The batched Z-bus backend against the reference (pandapower runpp), copy by copy.

Every shipped network, N copies at random operating points (injections, taps,
shunt steps; some copies with a switch flipped, which the batch hands to its
single-copy fallback), two rounds (the second warm-started, with new taps);
plus per-copy independence (bit-identical results in a batch of 1 and of 64),
divergence isolation and reset.
"""

from __future__ import annotations

import copy

import numpy as np
import pandapower as pp
import pytest

from powergrid.solvers import BatchedSolver, PowerFlowSolver, make_solver
from powergrid.solvers.batched import RESULT_ARRAYS

VM_TOL = 1e-6        # p.u.
VA_TOL = 1e-5        # degree
LOADING_TOL = 1e-4   # %
FLOW_TOL = 1e-5      # MW / Mvar
REL_TOL = 1e-6       # relative, for loadings and flows near voltage collapse
N_COPIES = 10


def _network(name: str) -> pp.pandapowerNet:
    networks = pytest.importorskip("powergrid.networks")
    return networks.build_network(name)


_NETS: dict[str, pp.pandapowerNet] = {}


def network(name: str) -> pp.pandapowerNet:
    """Build each shipped network once per session (callers get a copy)."""
    if name not in _NETS:
        _NETS[name] = _network(name)
    return copy.deepcopy(_NETS[name])


def random_inputs(rng: np.random.Generator, b: BatchedSolver, rows: np.ndarray,
                  flip_switch: np.ndarray | None = None) -> None:
    """Random operating points for copies ``rows`` around the construction values:
    loads x0.3-1.6, sgens 0-1.3 x, storage +-max(|p|, 0.01) MW, taps within +-4 of
    the base position, random shunt steps; ``flip_switch`` (bool per row) opens or
    closes one random switch of those copies."""
    init = b._initial
    k = len(rows)
    nl, ns, nst = len(init["load_p_mw"]), len(init["sgen_p_mw"]), len(init["storage_p_mw"])
    b.load_p_mw[rows] = init["load_p_mw"] * rng.uniform(0.3, 1.6, (k, nl))
    b.load_q_mvar[rows] = init["load_q_mvar"] * rng.uniform(0.3, 1.6, (k, nl))
    sgen_p = init["sgen_p_mw"] * rng.uniform(0.0, 1.3, (k, ns))
    b.sgen_p_mw[rows] = sgen_p
    b.sgen_q_mvar[rows] = sgen_p * rng.uniform(-0.3, 0.3, (k, ns))
    stor_p = np.maximum(np.abs(init["storage_p_mw"]), 0.01) * rng.uniform(-1, 1, (k, nst))
    b.storage_p_mw[rows] = stor_p
    b.storage_q_mvar[rows] = stor_p * rng.uniform(-0.2, 0.2, (k, nst))
    nt = len(init["trafo_tap_pos"])
    b.trafo_tap_pos[rows] = np.clip(init["trafo_tap_pos"] + rng.integers(-4, 5, (k, nt)),
                                    b.trafo_tap_min, b.trafo_tap_max)
    b.shunt_step[rows] = rng.integers(0, b.shunt_max_step + 1, (k, len(b.shunt_max_step)))
    b.switch_closed[rows] = init["switch_closed"]
    n_sw = len(init["switch_closed"])
    if flip_switch is not None and n_sw:
        for r in np.asarray(rows)[flip_switch]:
            j = rng.integers(n_sw)
            b.switch_closed[r, j] = ~b.switch_closed[r, j]


def reference(ref: PowerFlowSolver, b: BatchedSolver, i: int) -> bool:
    """Solve copy ``i``'s inputs with the reference backend from a fresh start."""
    ref.reset()
    every = np.arange
    ref.set_load(every(b.load_p_mw.shape[1]), b.load_p_mw[i], b.load_q_mvar[i])
    ref.set_sgen(every(b.sgen_p_mw.shape[1]), b.sgen_p_mw[i], b.sgen_q_mvar[i])
    ref.set_storage(every(b.storage_p_mw.shape[1]), b.storage_p_mw[i], b.storage_q_mvar[i])
    ref.set_trafo_tap(every(b.trafo_tap_pos.shape[1]), b.trafo_tap_pos[i])
    ref.set_shunt_step(every(b.shunt_step.shape[1]), b.shunt_step[i])
    ref.set_switch(every(b.switch_closed.shape[1]), b.switch_closed[i])
    return ref.solve()


def assert_copy_matches(b: BatchedSolver, i: int, ref: PowerFlowSolver, label: str) -> None:
    """Copy ``i`` of the batch equals the reference's (converged) results."""
    np.testing.assert_array_equal(np.isnan(b.vm_pu[i]), np.isnan(ref.vm_pu), err_msg=label)
    for name in RESULT_ARRAYS:
        if name in ("vm_pu", "va_degree"):
            atol, rtol = (VM_TOL if name == "vm_pu" else VA_TOL), 0.0
        else:
            atol, rtol = (LOADING_TOL if "loading" in name else FLOW_TOL), REL_TOL
        np.testing.assert_allclose(getattr(b, name)[i], getattr(ref, name), rtol=rtol,
                                   atol=atol, equal_nan=True, err_msg=f"{label} {name}")


def results(b: BatchedSolver, i: int) -> dict[str, np.ndarray]:
    return {name: getattr(b, name)[i].copy() for name in (*RESULT_ARRAYS,)} | {
        "converged": np.array(b.converged[i]), "fallback_used": np.array(b.fallback_used[i]),
        "n_iterations": np.array(b.n_iterations[i])}


def assert_identical(a: dict, b: dict, label: str = "") -> None:
    for name, value in a.items():
        assert np.array_equal(value, b[name], equal_nan=True), f"{label} {name}"


# -- equivalence -------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["ieee13", "ieee34", "microgrids", "cigre_mv"])
def test_matches_pandapower(name):
    net = network(name)
    b = BatchedSolver(net, N_COPIES)
    assert b.batched, b.unsupported_reason
    ref = make_solver(net, "pandapower")
    rng = np.random.default_rng(11)
    rows = np.arange(N_COPIES)
    n_checked = n_disagree = 0
    for rnd in range(2):
        flip = np.zeros(N_COPIES, dtype=bool)
        flip[rnd:: 4] = True                     # a few copies leave the base switch state
        random_inputs(rng, b, rows, flip)
        b.solve()
        if len(net.switch):
            assert b.fallback_used[flip].all()
        for i in rows:
            ok = reference(ref, b, i)
            label = f"{name} round {rnd} copy {i}"
            if ok != b.converged[i]:
                # Newton-Raphson (10 iterations from pandapower's DC start) and the fixed
                # point (from the no-load voltages) need not agree on convergence
                n_disagree += 1
                if ok:      # only tolerated close to voltage collapse
                    assert np.nanmin(ref.vm_pu) < 0.8, label
                    continue
                # the batch found a solution: pandapower started from it must confirm it
                ref.net.res_bus["vm_pu"] = b.vm_pu[i]
                ref.net.res_bus["va_degree"] = b.va_degree[i]
                ref._warm = True
                ok = ref.solve()
                assert ok, f"{label}: batch solution not confirmed by pandapower"
            if ok:
                assert_copy_matches(b, i, ref, label)
                n_checked += 1
            else:
                assert np.isnan(b.vm_pu[i]).all() and np.isnan(b.line_loading_percent[i]).all()
    assert n_disagree <= N_COPIES * 2 // 10
    assert n_checked >= N_COPIES


def test_radial1000_small_batch():
    net = network("radial1000")
    b = BatchedSolver(net, 2)
    ref = make_solver(net, "pandapower")
    rng = np.random.default_rng(5)
    random_inputs(rng, b, np.arange(2))
    b.solve()
    assert not b.fallback_used.any()
    for i in range(2):
        assert reference(ref, b, i) and b.converged[i]
        assert_copy_matches(b, i, ref, f"radial1000 copy {i}")


def test_base_state_and_warm_start():
    """Construction state: all copies equal pandapower; a repeated solve takes one iteration."""
    net = network("ieee13")
    b = BatchedSolver(net, 3)
    ref = make_solver(net, "pandapower")
    assert b.solve().all() and ref.solve()
    for i in range(3):
        assert_copy_matches(b, i, ref, f"base copy {i}")
    assert (b.n_iterations > 3).all()
    b.solve()
    assert (b.n_iterations == 1).all()


# -- per-copy independence ---------------------------------------------------------------
@pytest.mark.parametrize("name", ["ieee13", "cigre_mv", "ieee34"])  # ieee34: factor updates
def test_copy_bit_identical_in_batch_of_1_and_64(name):
    """A copy's results depend only on its own inputs and history: the same input
    sequence gives bit-identical results alone and as row 37 of 64 random copies
    (some diverging, some with switches flipped)."""
    net = network(name)
    alone, batch = BatchedSolver(net, 1), BatchedSolver(net, 64)
    track = 37
    rng_track, rng_other = np.random.default_rng(1), np.random.default_rng(2)
    others = np.delete(np.arange(64), track)
    for step in range(4):
        random_inputs(rng_track, alone, np.array([0]))
        for name_ in (*("load_p_mw", "load_q_mvar", "sgen_p_mw", "sgen_q_mvar"),
                      *("storage_p_mw", "storage_q_mvar", "trafo_tap_pos", "shunt_step"),
                      "switch_closed"):
            getattr(batch, name_)[track] = getattr(alone, name_)[0]
        random_inputs(rng_other, batch, others, rng_other.random(63) < 0.1)
        batch.load_p_mw[others[step]] *= 50.0        # one diverging copy per step
        batch.load_q_mvar[others[step]] *= 50.0
        alone.solve()
        batch.solve()
        assert not batch.converged[others[step]]
        assert_identical(results(alone, 0), results(batch, track), f"{name} step {step}")
    assert batch.n_iterations.max() > batch.n_iterations[batch.converged].min()


def test_divergent_copy_leaves_the_others_untouched():
    net = network("ieee34")
    a, b = BatchedSolver(net, 8), BatchedSolver(net, 8)
    rng = np.random.default_rng(3)
    random_inputs(rng, a, np.arange(8))
    for name in ("load_p_mw", "load_q_mvar", "trafo_tap_pos", "shunt_step"):
        getattr(b, name)[:] = getattr(a, name)
    b.load_p_mw[5] *= 50.0
    b.load_q_mvar[5] *= 50.0
    a.solve()
    b.solve()
    assert not b.converged[5] and b.fallback_used[5]
    assert np.isnan(b.vm_pu[5]).all() and np.isnan(b.ext_grid_p_mw[5]).all()
    for i in np.delete(np.arange(8), 5):
        assert_identical(results(a, i), results(b, i), f"copy {i}")
    b.load_p_mw[5] = a.load_p_mw[5]                  # it recovers from a cold start
    b.load_q_mvar[5] = a.load_q_mvar[5]
    b.solve()
    assert b.converged.all() and not b.fallback_used.any()


# -- reset -------------------------------------------------------------------------------
def test_reset_restores_bit_identical_results():
    net = network("cigre_mv")
    b = BatchedSolver(net, 6)

    def run() -> list[dict]:
        rng = np.random.default_rng(9)
        out = []
        for _ in range(3):
            random_inputs(rng, b, np.arange(6), np.array([0, 0, 1, 0, 0, 0], dtype=bool))
            b.solve()
            out.append([results(b, i) for i in range(6)])
        return out

    first = run()
    b.reset()
    assert np.isnan(b.vm_pu).all() and not b.converged.any()
    for name, value in b._initial.items():
        assert (getattr(b, name) == value).all(), name
    second = run()
    for step, (x, y) in enumerate(zip(first, second, strict=True)):
        for i in range(6):
            assert_identical(x[i], y[i], f"step {step} copy {i}")
    # one copy reset: it solves as a fresh solver's copy would, the others keep going
    fresh = BatchedSolver(net, 1)
    b.reset(np.array([4]))
    fresh.solve()
    b.solve()
    assert_identical(results(fresh, 0), results(b, 4), "partial reset")


# -- fallback and interface -----------------------------------------------------------------
def test_switch_fallback_and_pv_gen_net():
    net = network("cigre_mv")
    b = BatchedSolver(net, 3)
    open_switch = int(np.nonzero(b.switch_closed[0])[0][0])
    b.switch_closed[1, open_switch] = False
    assert b.solve().all()
    assert b.fallback_used.tolist() == [False, True, False]
    ref = make_solver(net, "pandapower")
    assert reference(ref, b, 1)
    assert_copy_matches(b, 1, ref, "switch fallback")
    # a net with a voltage-controlled gen: every copy goes to the fallback
    net = network("ieee13")
    pp.create_gen(net, net.load.bus.iloc[0], p_mw=0.1, vm_pu=1.0)
    b = BatchedSolver(net, 2)
    assert not b.batched and "gen" in b.unsupported_reason
    assert b.solve().all() and b.fallback_used.all()
    ref = make_solver(net, "pandapower")
    assert reference(ref, b, 0)
    assert_copy_matches(b, 0, ref, "pv gen")


def test_setters_and_validation():
    net = network("ieee13")
    b = BatchedSolver(net, 4)
    tapped = int(np.nonzero(b.trafo_tap_max > b.trafo_tap_min)[0][0])
    b.set_load(b.load_p_mw[0] * 0.5, b.load_q_mvar[0] * 0.5, copies=np.array([1, 2]))
    assert (b.load_p_mw[1] == b.load_p_mw[0] * 0.5).all()
    taps = b.trafo_tap_pos[0].copy()
    taps[tapped] = b.trafo_tap_max[tapped]
    b.set_trafo_tap(taps, copies=3)
    assert b.solve().all()
    assert b.vm_pu[3].max() > b.vm_pu[0].max()       # ratio tap on the lv side: voltage up
    taps[tapped] += 1
    with pytest.raises(ValueError):
        b.set_trafo_tap(taps, copies=0)
    b.trafo_tap_pos[0, tapped] = b.trafo_tap_max[tapped] + 1   # written directly
    with pytest.raises(ValueError):
        b.solve()
    with pytest.raises(ValueError):
        b.set_shunt_step(b.shunt_max_step + 1)
    with pytest.raises(ValueError):
        BatchedSolver(net, 2, fallback="nope")


def test_caller_net_untouched_and_no_pandas_in_solve(monkeypatch):
    import pandas as pd

    net = network("cigre_mv")
    before = copy.deepcopy(net)
    b = BatchedSolver(net, 4)
    random_inputs(np.random.default_rng(0), b, np.arange(4))
    assert b.solve().all()

    def forbidden(*args, **kwargs):
        raise AssertionError("pandas used in the batched solve path")

    monkeypatch.setattr(pd.DataFrame, "__getitem__", forbidden)
    monkeypatch.setattr(pd.DataFrame, "__setitem__", forbidden)
    random_inputs(np.random.default_rng(1), b, np.arange(4))
    assert b.solve().all() and not b.fallback_used.any()
    monkeypatch.undo()
    for table in ("load", "sgen", "storage", "switch", "trafo", "shunt"):
        assert net[table].equals(before[table]), table
    assert net.res_bus.empty


@pytest.mark.parametrize("name", ["ieee34", "microgrids"])  # the nets large enough to update
def test_factor_updates_agree_with_fresh_factors(name):
    """Taps and shunt steps changing every solve: the copies' factors, updated in place
    (low rank, powergrid.solvers._zbus), give the results freshly factored ones give, to
    1e-9 p.u., over more solves than the updates run before a fresh factorisation."""
    from powergrid.solvers._zbus import _MAX_UPDATES

    net = network(name)
    b, n = BatchedSolver(net, 4), 4
    rng = np.random.default_rng(3)
    random_inputs(rng, b, np.arange(n))
    b.solve()
    model = b._model
    assert model is not None
    updated = 0
    for _ in range(_MAX_UPDATES + 8):
        i = rng.integers(n)  # one copy's taps and steps move; the others hold theirs
        taps = b.trafo_tap_pos[i] + rng.integers(-1, 2, b.trafo_tap_pos.shape[1])
        b.trafo_tap_pos[i] = np.clip(taps, b.trafo_tap_min, b.trafo_tap_max)
        if rng.random() < 0.3:
            b.shunt_step[i] = rng.integers(0, b.shunt_max_step + 1)
        b.solve()
        updated = max(updated, int(model.n_updates.max()))
        fresh = BatchedSolver(net, 1)
        for attr in ("load_p_mw", "load_q_mvar", "sgen_p_mw", "sgen_q_mvar", "storage_p_mw",
                     "storage_q_mvar", "trafo_tap_pos", "shunt_step", "switch_closed"):
            getattr(fresh, attr)[0] = getattr(b, attr)[i]
        fresh.solve()
        np.testing.assert_allclose(b.vm_pu[i], fresh.vm_pu[0], atol=1e-9, rtol=0)
        np.testing.assert_allclose(model.z_ll[i], fresh._model.z_ll[0], atol=1e-9, rtol=0)
    assert updated >= 2  # the update path ran (and the fresh factorisation after it)


def test_a_tap_state_is_factored_once_for_every_copy():
    """IEEE 13 (factored afresh, not updated): copies at a tap and step state any copy
    had before take its kept factors (powergrid.solvers._zbus.ZbusModel.factors), bit for
    bit those of a solver that factors the state for the first time; a new state is
    factored once however many copies take it."""
    net = network("ieee13")
    b = BatchedSolver(net, 8)
    b.solve()
    model = b._model
    assert model is not None and not model.updates
    states = len(model.factors)
    assert states == 1  # eight copies, one state
    reg = int(np.flatnonzero(b.trafo_tap_max > b.trafo_tap_min)[0])
    b.trafo_tap_pos[:, reg] += 2  # every copy to one new state
    b.solve()
    assert len(model.factors) == states + 1
    b.trafo_tap_pos[:4, reg] -= 2  # half of them back to the first
    b.solve()
    assert len(model.factors) == states + 1
    fresh = BatchedSolver(net, 1)
    fresh.trafo_tap_pos[0] = b.trafo_tap_pos[0]
    fresh.solve()
    assert fresh._model is not None
    np.testing.assert_array_equal(model.x[0], fresh._model.x[0])
    # (the voltages to the solver's tolerance: copy 0 starts from its last solution)
    np.testing.assert_allclose(b.vm_pu[0], fresh.vm_pu[0], atol=1e-9, rtol=0)
