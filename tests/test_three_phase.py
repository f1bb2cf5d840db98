"""The three-phase feeders (OpenDSS) against the published IEEE per-phase voltage profiles.

The reference numbers (the IEEE 13 and IEEE 34 reports' "Power-Flow Results": the
"Voltage Profile" tables per phase, the regulator taps, the "System Input"), with
their source, are in tests/published_feeders.py, shared with the balanced models'
tests.

The circuits are generated from the balanced builders' tables
(:mod:`powergrid.networks.three_phase.ieee13`, :mod:`~.ieee34`); the structural
tests run without OpenDSS, the solving ones skip when OpenDSSDirect.py (the
``three_phase`` extra) is not installed.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandapower as pp
import pytest
from published_feeders import (
    IEEE13_INPUT_KW_KVAR,
    IEEE13_PUBLISHED,
    IEEE34_PUBLISHED,
    PUBLISHED_INPUT,
    published_nodes,
)
from published_feeders import PUBLISHED_TAPS as PUBLISHED_TAPS_BY_FEEDER

from powergrid.networks import build_network, tap_aware_vm_pu
from powergrid.networks.ieee13 import (
    CAPACITORS,
    DISTRIBUTED_LOADS,
    LINES,
    PUBLISHED_REGULATOR_TAPS,
    REGULATOR_TAP_POS,
    SPOT_LOADS,
)
from powergrid.networks.line_configs import IEEE13_CONFIGS
from powergrid.networks.three_phase.ieee13 import (
    DISTRIBUTED_LOAD_NODE,
    bus_phases,
    ieee13_dss,
    segments,
)

PUBLISHED_VM = IEEE13_PUBLISHED
PUBLISHED_TAPS = PUBLISHED_TAPS_BY_FEEDER["ieee13"]["reg1"]
PUBLISHED_INPUT_KW_KVAR = IEEE13_INPUT_KW_KVAR

# Tolerance asked by issue 18: every bus-phase within 0.005 p.u. of the table
# (OpenDSS' own IEEE13Nodeckt.dss is ~0.0013 off). Measured with this model: max
# 0.00036 (684.a), mean 0.00025, every error negative (-0.0001 .. -0.0004): 650 sits
# at 0.9998 behind the source and substation impedances where the table has 1.0000.
# The mean bound 0.001 catches a cruder distributed-load model (half at each end of
# 632-671 gave max 0.0021, mean 0.0007; all of it at 1/3 as OpenDSS: 0.0011 / 0.0005).
MAX_ERROR_PU = 0.005
MEAN_ERROR_PU = 0.001


# --- the generated circuit, no OpenDSS needed --------------------------------------


def test_published_taps_are_the_builders_and_the_balanced_tap_their_rounded_mean() -> None:
    assert PUBLISHED_REGULATOR_TAPS == PUBLISHED_TAPS
    assert REGULATOR_TAP_POS == round(np.mean(PUBLISHED_TAPS)) == 10


def test_bus_phases_follow_the_line_configurations_and_the_published_table() -> None:
    phases = bus_phases()
    for bus, row in PUBLISHED_VM.items():
        assert phases[bus] == "".join(ph for ph, v in zip("abc", row, strict=True)
                                      if v is not None), bus
    assert phases[DISTRIBUTED_LOAD_NODE] == "abc"


def test_lines_keep_the_published_lengths_and_phasing() -> None:
    node = DISTRIBUTED_LOAD_NODE
    segs = {(seg.from_bus, seg.to_bus): seg for seg in segments()}
    for seg in segs.values():
        assert seg.phases == IEEE13_CONFIGS[seg.config].phases.lower()
    # the distributed-load segment 632-671 (2000 ft) is cut at a quarter of its length
    first, second = segs.pop(("632", node)), segs.pop((node, "671"))
    assert (first.length_ft, second.length_ft) == (500.0, 1500.0)
    assert first.config == second.config == "601"
    assert {(f, t): (s.length_ft, s.config) for (f, t), s in segs.items()} == {
        (f, t): (length, config) for f, t, length, config in LINES if (f, t) != ("632", "671")}


def _load_rows(commands: list[str]) -> list[dict[str, str]]:
    rows = []
    for cmd in commands:
        if cmd.startswith("New Load."):
            rows.append(dict(re.findall(r"(\w+)=(\S+)", cmd)))
    return rows


def test_loads_are_the_published_columns_with_their_models() -> None:
    rows = _load_rows(ieee13_dss())
    spot_kw = sum(sl.p_kw for sl in SPOT_LOADS) + sum(dl.p_kw for dl in DISTRIBUTED_LOADS)
    spot_kvar = sum(sl.q_kvar for sl in SPOT_LOADS) + sum(dl.q_kvar for dl in DISTRIBUTED_LOADS)
    assert sum(float(r["kW"]) for r in rows) == pytest.approx(spot_kw) == 3466.0
    assert sum(float(r["kvar"]) for r in rows) == pytest.approx(spot_kvar) == 2102.0
    by_bus = {r["bus1"]: r for r in rows}
    # D-Z at 646 on b-c, D-I at 692 on c-a, Y-Z at 652 on a, Y-I at 611 on c (OpenDSS
    # model codes 2 constant Z, 5 constant |I|, 1 constant PQ)
    assert (by_bus["646.2.3"]["conn"], by_bus["646.2.3"]["model"]) == ("delta", "2")
    assert (by_bus["692.3.1"]["conn"], by_bus["692.3.1"]["model"]) == ("delta", "5")
    assert (by_bus["652.1"]["conn"], by_bus["652.1"]["model"]) == ("wye", "2")
    assert (by_bus["611.3"]["conn"], by_bus["611.3"]["model"]) == ("wye", "5")
    assert by_bus["671.1.2"]["conn"] == "delta" and by_bus["675.2"]["kW"] == "68"
    # scaled loads scale every column
    scaled = _load_rows(ieee13_dss(load_scale=0.5))
    assert sum(float(r["kW"]) for r in scaled) == pytest.approx(0.5 * spot_kw)


def test_capacitors_per_phase_and_the_balanced_steps_from_one_table() -> None:
    assert CAPACITORS == [("675", 0.2, 3), ("611", 0.1, 1)]
    caps = [c for c in ieee13_dss() if c.startswith("New Capacitor.")]
    assert [re.search(r"bus1=(\S+)", c).group(1) for c in caps] == [  # type: ignore[union-attr]
        "675.1", "675.2", "675.3", "611.3"]


def test_linecodes_carry_the_published_matrices() -> None:
    codes = {c.split()[1]: c for c in ieee13_dss() if c.startswith("New LineCode.")}
    assert set(codes) == {f"LineCode.{name}" for name in IEEE13_CONFIGS}
    assert "rmatrix=(0.3465 | 0.156 0.3375 | 0.158 0.1535 0.3414)" in codes["LineCode.601"]
    assert "xmatrix=(1.3475)" in codes["LineCode.605"]
    # B 6.2998 uS/mile -> C = B / (2 pi 60) = 16.71 nF/mile
    assert "cmatrix=(16.7107 |" in codes["LineCode.601"]


def test_bad_taps_are_refused() -> None:
    with pytest.raises(ValueError, match="one per phase"):
        ieee13_dss((10, 8))
    with pytest.raises(ValueError, match="outside"):
        ieee13_dss((17, 0, 0))


# --- solved with OpenDSS ------------------------------------------------------------


@pytest.fixture(scope="module")
def opendss() -> Any:
    return pytest.importorskip(
        "opendssdirect",
        reason="OpenDSSDirect.py not installed (pip install 'powergrid[three-phase]')",
    )


@pytest.fixture(scope="module")
def published_case(opendss: Any) -> Any:
    from powergrid.networks.three_phase import ieee13_circuit

    return ieee13_circuit(PUBLISHED_TAPS).solve()


@pytest.fixture(scope="module")
def balanced_case() -> pp.pandapowerNet:
    """The balanced model at the same operating point: published loads, its one
    regulator at the mean of the published taps (the mean phase ratio)."""
    net = build_network("ieee13")
    (row,) = net.trafo.index[net.trafo.name == "reg1"]
    net.trafo.loc[row, "tap_pos"] = float(np.mean(PUBLISHED_TAPS))
    pp.runpp(net, lightsim2grid=False, numba=False, init_vm_pu=tap_aware_vm_pu(net))
    return net


def test_three_phase_model_follows_the_published_per_phase_profile(published_case) -> None:
    snap = published_case
    assert snap.converged
    assert snap.regulator_taps == dict(zip(("reg1a", "reg1b", "reg1c"), PUBLISHED_TAPS,
                                           strict=True))
    published = published_nodes("ieee13")
    errors = {node: snap.vm(*node.split(".")) - vm for node, vm in published.items()}
    abs_errors = np.abs(list(errors.values()))
    worst = max(errors, key=lambda n: abs(errors[n]))
    assert len(errors) == 35  # 9 three-phase rows, 3 two-phase, 2 single-phase
    assert abs_errors.max() <= MAX_ERROR_PU, (worst, errors[worst])
    assert abs_errors.mean() <= MEAN_ERROR_PU, errors
    assert np.isfinite(snap.vm_pu).all() and np.isfinite(snap.va_degree).all()


def test_three_phase_model_draws_the_published_system_input(published_case) -> None:
    p_kw, q_kvar = PUBLISHED_INPUT_KW_KVAR
    # measured 3577.13 kW, 1724.89 kvar
    assert published_case.source_p_kw == pytest.approx(p_kw, rel=0.002)
    assert published_case.source_q_kvar == pytest.approx(q_kvar, rel=0.002)


def test_published_taps_hold_under_the_published_line_drop_compensation(opendss) -> None:
    """The regulators' RegControls (published LDC R 3 / X 9 V, 122 V, band 2 V)
    leave the published taps where they are: the published solution is inside
    every phase's band. From neutral they rise to the band's lower edge (9 / 6 / 9)."""
    from powergrid.networks.three_phase import ieee13_circuit

    settled = ieee13_circuit(PUBLISHED_TAPS).solve(regulator_control=True)
    assert settled.converged
    assert tuple(settled.regulator_taps.values()) == PUBLISHED_TAPS
    from_neutral = ieee13_circuit((0, 0, 0)).solve(regulator_control=True)
    assert from_neutral.converged
    assert tuple(from_neutral.regulator_taps.values()) == (9, 6, 9)


def test_balanced_and_three_phase_models_draw_the_same_substation_power(
    published_case, balanced_case
) -> None:
    net = balanced_case
    (sub,) = net.trafo.index[net.trafo.name == "sub"]
    p_bal, q_bal = -1e3 * net.res_trafo.p_lv_mw[sub], -1e3 * net.res_trafo.q_lv_mvar[sub]
    # measured: balanced 3564.2 kW / 1687.8 kvar, three-phase 3577.1 kW / 1724.9 kvar
    # (-0.4 % / -2.2 %; the balanced model's constant-PQ loads and averaged laterals)
    assert p_bal == pytest.approx(published_case.source_p_kw, rel=0.01)
    assert q_bal == pytest.approx(published_case.source_q_kvar, rel=0.03)


def test_three_phase_model_shows_the_unbalance_the_balanced_one_cannot(
    published_case, balanced_case
) -> None:
    snap = published_case
    vm = balanced_case.res_bus.vm_pu.copy()
    vm.index = balanced_case.bus.name
    phases_675 = [snap.vm("675", ph) for ph in "abc"]
    # 675: 0.983 / 1.055 / 0.976 (published 0.9835 / 1.0553 / 0.9758): phase b is above
    # ANSI Range A (1.05); the balanced model has one 1.003 inside the band, between them.
    assert max(phases_675) - min(phases_675) > 0.07
    assert max(phases_675) > 1.05 > vm["675"]
    assert min(phases_675) < vm["675"] < max(phases_675)
    # the 611 lateral is on phase c, the low phase at 671/684: 0.974 against 1.001
    assert vm["611"] - snap.vm("611", "c") > 0.02
    assert snap.vm("671", "b") - snap.vm("671", "c") > 0.07


# --- the snapshot solver (seed of a three-phase backend) ----------------------------


@pytest.fixture(scope="module")
def snapshot_solver(opendss: Any) -> Any:
    from powergrid.solvers.three_phase import ThreePhaseSolver

    return ThreePhaseSolver("ieee13", ["675", "680", "611"])


def test_snapshot_solver_without_injections_is_the_published_case(
    snapshot_solver, published_case
) -> None:
    snap = snapshot_solver.solve()
    assert snap.converged and snap.nodes == published_case.nodes
    np.testing.assert_allclose(snap.vm_pu, published_case.vm_pu, atol=1e-9)
    vm, present = snapshot_solver.vm_pu(snap)
    assert vm.shape == present.shape == (len(snapshot_solver.buses), 3)
    phases = bus_phases()
    for i, bus in enumerate(snapshot_solver.buses):
        assert "".join(ph for ph, p in zip("abc", present[i], strict=True) if p) == phases[bus]
    assert np.isfinite(vm).all() and (vm[present] > 0.9).all() and (vm[~present] == 0).all()


def test_snapshot_solver_injections_taps_and_load_level(snapshot_solver) -> None:
    base = snapshot_solver.solve()
    # 300 kW into 675 (balanced, 100 kW a phase): the source supplies ~300 kW less,
    # every phase at 675 rises
    more = snapshot_solver.solve([300.0, 0.0, 0.0], [0.0, 0.0, 0.0])
    assert base.source_p_kw - more.source_p_kw == pytest.approx(300.0, rel=0.05)
    assert all(more.vm("675", ph) > base.vm("675", ph) for ph in "abc")
    # 50 kW on the single-phase 611 (phase c) lifts 611.c
    lateral = snapshot_solver.solve([0.0, 0.0, 50.0])
    assert lateral.vm("611", "c") > base.vm("611", "c") + 0.001
    # one tap up on phase a only: RG60.a up one step (0.625 %), b and c as they were
    tapped = snapshot_solver.solve(regulator_taps=(11, 8, 11))
    assert tapped.vm("RG60", "a") - base.vm("RG60", "a") == pytest.approx(0.00625, abs=5e-4)
    assert tapped.vm("RG60", "b") == pytest.approx(base.vm("RG60", "b"), abs=2e-4)
    half = snapshot_solver.solve(load_scale=0.5)
    assert half.source_p_kw < 0.55 * base.source_p_kw
    # the state is set anew on every call: the base case again, to the last digit
    again = snapshot_solver.solve()
    np.testing.assert_allclose(again.vm_pu, base.vm_pu, atol=1e-12)
    assert again.source_p_kw == pytest.approx(base.source_p_kw, abs=1e-9)


def test_snapshot_solver_regulator_control_and_the_one_call_form(snapshot_solver) -> None:
    from powergrid.solvers.three_phase import solve_snapshot

    settled = snapshot_solver.solve(regulator_taps=(0, 0, 0), regulator_control=True)
    assert tuple(settled.regulator_taps.values()) == (9, 6, 9)
    fixed = snapshot_solver.solve(regulator_taps=(0, 0, 0))
    assert tuple(fixed.regulator_taps.values()) == (0, 0, 0)
    one = solve_snapshot("ieee13", {"675": (300.0, 0.0)})
    two = snapshot_solver.solve([300.0, 0.0, 0.0])
    np.testing.assert_allclose(one.vm_pu, two.vm_pu, atol=1e-9)


def test_snapshot_solver_refuses_bad_input(snapshot_solver) -> None:
    from powergrid.solvers.three_phase import ThreePhaseSolver

    with pytest.raises(ValueError, match="not on the ieee13"):
        ThreePhaseSolver("ieee13", ["999"])
    with pytest.raises(ValueError, match="no three-phase feeder"):
        ThreePhaseSolver("cigre_mv")
    with pytest.raises(ValueError, match="one value per injection bus"):
        snapshot_solver.solve([1.0])
    with pytest.raises(ValueError, match="finite"):
        snapshot_solver.solve([float("nan"), 0.0, 0.0])
    with pytest.raises(ValueError, match="outside"):
        snapshot_solver.solve(regulator_taps=(17, 0, 0))
    with pytest.raises(ValueError, match="one per phase"):
        snapshot_solver.solve(regulator_taps=(10, 8, 11, 0))


# --- IEEE 34 -------------------------------------------------------------------------

# Tolerance asked by issue 18, as for IEEE 13: every bus-phase within 0.005 p.u. Measured
# with this model at the published taps: max 0.00037 (888.a), mean 0.00013 over the 92
# bus-phases, every error within -0.0004 .. +0.0001. The distributed loads are small
# here (722 of 1,769 kW, spread over 19 segments): half at each end gives max 0.00036 /
# mean 0.00012, all at the midpoint 0.00040 / 0.00013, so this table does not tell the
# lumped-load models apart (the IEEE 13 one does). The mean bound 0.0005 catches a
# feeder-wide offset (a regulator one step off moves every phase behind it by ~0.006).
IEEE34_MAX_ERROR_PU = 0.005
IEEE34_MEAN_ERROR_PU = 0.0005


def _regcontrols(commands: list[str]) -> dict[str, dict[str, str]]:
    return {cmd.split()[1]: dict(re.findall(r"(\w+)=(\S+)", cmd))
            for cmd in commands if cmd.startswith("New RegControl.")}


def test_ieee34_published_taps_are_the_builders() -> None:
    from powergrid.networks.ieee34 import PUBLISHED_REGULATOR_TAPS as BUILDER_TAPS
    from powergrid.networks.three_phase import IEEE34

    assert PUBLISHED_TAPS_BY_FEEDER["ieee34"] == BUILDER_TAPS
    assert IEEE34.regulator_units == ("reg1a", "reg1b", "reg1c", "reg2a", "reg2b", "reg2c")
    assert IEEE34.published_taps == (12, 5, 5, 13, 11, 12)


def test_ieee34_bus_phases_follow_the_line_configurations_and_the_published_table() -> None:
    from powergrid.networks.ieee34 import BUS_XY
    from powergrid.networks.three_phase import IEEE34

    phases = IEEE34.bus_phases()
    assert set(BUS_XY) <= set(phases)
    for bus, row in IEEE34_PUBLISHED.items():
        assert phases[bus] == "".join(ph for ph, v in zip("abc", row, strict=True)
                                      if v is not None), bus
    # the laterals: 302 on phase a, 303 and 304 on phase b
    assert {phases[bus] for bus in ("818", "820", "822", "864")} == {"a"}
    assert {phases[bus] for bus in ("810", "826", "856", "838")} == {"b"}


def test_ieee34_lines_keep_the_published_lengths_and_phasing() -> None:
    from powergrid.networks.ieee34 import DISTRIBUTED_LOADS as DL34
    from powergrid.networks.ieee34 import LINES as LINES34
    from powergrid.networks.line_configs import IEEE34_CONFIGS
    from powergrid.networks.three_phase import IEEE34

    segs = IEEE34.segments()
    assert len(segs) == len(LINES34) + len(DL34) == 51
    # each published segment is one line, or two cut at a quarter by its distributed load
    ends = {f"{f}_{t}": (f, t) for f, t, _, _ in LINES34}
    joined: dict[tuple[str, str], list[float]] = {}
    for seg in segs:
        assert seg.phases == IEEE34_CONFIGS[seg.config].phases.lower()
        key = ends.get(seg.to_bus) or ends.get(seg.from_bus) or (seg.from_bus, seg.to_bus)
        joined.setdefault(key, []).append(seg.length_ft)
    assert {k: sum(v) for k, v in joined.items()} == {(f, t): n for f, t, n, _ in LINES34}
    assert joined[("818", "820")] == [0.25 * 48150.0, 0.75 * 48150.0]


def test_ieee34_loads_are_the_published_columns_with_their_models() -> None:
    from powergrid.networks.three_phase import ieee34_dss

    rows = _load_rows(ieee34_dss())
    # published totals: spot 1,047 kW + 677 kvar, distributed 722 kW + 367 kvar
    assert sum(float(r["kW"]) for r in rows) == pytest.approx(1769.0)
    assert sum(float(r["kvar"]) for r in rows) == pytest.approx(1044.0)
    by_bus: dict[str, list[dict[str, str]]] = {}
    for r in rows:
        by_bus.setdefault(r["bus1"], []).append(r)
    # 890 D-I on the 4.16 kV side, 844 Y-Z, 830 D-Z with 25 kW on c-a, 860 Y-PQ
    assert [(r["conn"], r["model"], r["kV"]) for r in by_bus["890.1.2"]] == [
        ("delta", "5", "4.16")]
    assert [(r["conn"], r["model"], r["kW"]) for r in by_bus["844.1"]] == [
        ("wye", "2", "135"), ("wye", "1", "3")]  # spot Y-Z, 1/3 of 842-844's 9 kW Y-PQ
    assert [(r["model"], r["kW"]) for r in by_bus["830.3.1"]] == [("2", "25")]
    # the single-phase lateral's distributed loads on phase a: 818-820 Y-Z 34 kW
    lumped = by_bus["818_820.1"]
    assert [(r["model"], float(r["kW"])) for r in lumped] == [("2", pytest.approx(34 * 2 / 3,
                                                                                  rel=1e-10))]
    assert sum(float(r["kW"]) for r in _load_rows(ieee34_dss(load_scale=0.5))) == \
        pytest.approx(0.5 * 1769.0)


def test_ieee34_regulators_capacitors_and_transformers_as_published() -> None:
    from powergrid.networks.three_phase import ieee34_dss

    cmds = ieee34_dss()
    ctl = _regcontrols(cmds)
    assert set(ctl) == {f"RegControl.reg{k}{ph}" for k in (1, 2) for ph in "abc"} | \
        {"RegControl.sub"}
    # the substation LTC (the project's, powergrid.networks.ieee34.SUBSTATION_LTC): on
    # phase a of the LV winding, disabled in the published circuit, starting at +5 %
    ltc = ctl.pop("RegControl.sub")
    assert (ltc["transformer"], ltc["winding"], ltc["PTphase"], ltc["enabled"]) == \
        ("sub", "2", "MIN", "no")
    assert (ltc["vreg"], ltc["band"], ltc["R"], ltc["X"]) == ("121", "1.5", "10", "7")
    taps = dict(re.findall(r"(\w+)=(\S+)", next(c for c in cmds
                                                 if c.startswith("Edit Transformer.sub wdg=2"))))
    assert (taps["mintap"], taps["maxtap"], taps["tap"], taps["numtaps"]) == \
        ("0.9", "1.05", "1.05", "24")
    for ph in "abc":
        r1, r2 = ctl[f"RegControl.reg1{ph}"], ctl[f"RegControl.reg2{ph}"]
        assert (r1["vreg"], r1["R"], r1["X"]) == ("122", "2.7", "1.6")
        assert (r2["vreg"], r2["R"], r2["X"]) == ("124", "2.5", "1.5")
        assert (r1["band"], r1["ptratio"], r1["ctprim"]) == ("2", "120", "100")
    units = [c for c in cmds if c.startswith("New Transformer.reg")]
    assert "buses=[814.1 814r.1]" in units[0] and "taps=[1 1.075]" in units[0]  # +12
    assert "buses=[852.3 852r.3]" in units[5] and "taps=[1 1.075]" in units[5]  # +12
    caps = {re.search(r"bus1=(\S+)", c).group(1): re.search(r"kvar=(\S+)", c).group(1)  # type: ignore[union-attr]
            for c in cmds if c.startswith("New Capacitor.")}
    assert caps == {"844.1": "100", "844.2": "100", "844.3": "100",
                    "848.1": "150", "848.2": "150", "848.3": "150"}
    (xfm1,) = [c for c in cmds if c.startswith("New Transformer.xfm1")]
    assert "buses=[832 888]" in xfm1 and "kVs=[24.9 4.16]" in xfm1 and "XHL=4.08" in xfm1
    (sub,) = [c for c in cmds if c.startswith("New Transformer.sub")]
    assert "conns=[delta wye]" in sub and "kVs=[69 24.9]" in sub
    with pytest.raises(ValueError, match="one per phase"):
        ieee34_dss((12, 5, 5))


@pytest.fixture(scope="module")
def ieee34_published_case(opendss: Any) -> Any:
    from powergrid.networks.three_phase import ieee34_circuit

    return ieee34_circuit().solve()


def test_ieee34_three_phase_model_follows_the_published_per_phase_profile(
    ieee34_published_case,
) -> None:
    snap = ieee34_published_case
    assert snap.converged
    assert tuple(snap.regulator_taps.values()) == (12, 5, 5, 13, 11, 12)
    errors = {node: snap.vm(*node.split(".")) - vm
              for node, vm in published_nodes("ieee34").items()}
    abs_errors = np.abs(list(errors.values()))
    worst = max(errors, key=lambda n: abs(errors[n]))
    assert len(errors) == 92  # 28 three-phase rows, 8 single-phase
    assert abs_errors.max() <= IEEE34_MAX_ERROR_PU, (worst, errors[worst])
    assert abs_errors.mean() <= IEEE34_MEAN_ERROR_PU, errors
    assert np.isfinite(snap.vm_pu).all() and np.isfinite(snap.va_degree).all()


def test_ieee34_three_phase_model_draws_the_published_system_input(
    ieee34_published_case,
) -> None:
    p_kw, q_kvar = PUBLISHED_INPUT["ieee34"]
    # measured 2042.40 kW (-0.02 %), 291.73 kvar (+0.5 %)
    assert ieee34_published_case.source_p_kw == pytest.approx(p_kw, rel=0.002)
    assert ieee34_published_case.source_q_kvar == pytest.approx(q_kvar, rel=0.01)


def test_ieee34_published_taps_under_the_published_line_drop_compensation(opendss) -> None:
    """The published compensators (R 2.7 / X 1.6 V at 122 V; R 2.5 / X 1.5 V at 124 V;
    band 2 V, PT 120, CT 100 A) hold five of the six published taps; reg1a's
    compensated voltage at the published solution is 120.45 V (output 121.90 V, 48.5 A),
    below its 121-123 V band, so OpenDSS raises it one step, +12 -> +13. (reg2: 123.2 /
    123.1 / 123.2 V, inside 123-125 V.)"""
    from powergrid.networks.three_phase import ieee34_circuit

    settled = ieee34_circuit().solve(regulator_control=True)
    assert settled.converged
    assert tuple(settled.regulator_taps.values()) == (13, 5, 5, 13, 11, 12)


def test_ieee34_three_phase_model_shows_what_the_balanced_one_averages(
    ieee34_published_case,
) -> None:
    """At the published taps 814 phase a is below ANSI Range A (0.947, published 0.9467),
    phases b and c inside; the balanced model at the mean taps has one voltage there."""
    pub = IEEE34_PUBLISHED
    snap = ieee34_published_case
    assert snap.vm("814", "a") < 0.95 < min(snap.vm("814", "b"), snap.vm("814", "c"))
    assert snap.vm("814", "a") == pytest.approx(pub["814"][0], abs=0.001)


# --- one snapshot solver for both feeders ---------------------------------------------


@pytest.fixture(scope="module")
def ieee34_solver(opendss: Any) -> Any:
    from powergrid.solvers.three_phase import ThreePhaseSolver

    return ThreePhaseSolver("ieee34", ["848", "890", "822"])


def test_one_solver_class_for_both_feeders(ieee34_solver, snapshot_solver) -> None:
    from powergrid.networks.three_phase import IEEE13, IEEE34

    assert type(ieee34_solver) is type(snapshot_solver)
    assert (snapshot_solver.feeder, ieee34_solver.feeder) == (IEEE13, IEEE34)
    assert snapshot_solver.regulators == ("reg1a", "reg1b", "reg1c")
    assert ieee34_solver.regulators == IEEE34.regulator_units


def test_ieee34_solver_without_injections_is_the_published_case(
    ieee34_solver, ieee34_published_case
) -> None:
    snap = ieee34_solver.solve()
    assert snap.converged and snap.nodes == ieee34_published_case.nodes
    np.testing.assert_allclose(snap.vm_pu, ieee34_published_case.vm_pu, atol=1e-9)
    vm, present = ieee34_solver.vm_pu(snap)
    from powergrid.networks.three_phase import IEEE34

    phases = IEEE34.bus_phases()
    for i, bus in enumerate(ieee34_solver.buses):
        assert "".join(ph for ph, p in zip("abc", present[i], strict=True) if p) == phases[bus]
    assert not np.isnan(vm).any() and (vm[present] > 0.9).all() and (vm[~present] == 0).all()


def test_ieee34_solver_taps_move_their_own_phase(ieee34_solver) -> None:
    base = ieee34_solver.solve()
    published = list(ieee34_solver.published_taps)
    for unit, (bus, phase) in enumerate([("814r", ph) for ph in "abc"]
                                        + [("852r", ph) for ph in "abc"]):
        taps = list(published)
        taps[unit] += 1
        snap = ieee34_solver.solve(regulator_taps=taps)
        assert snap.converged and not np.isnan(snap.vm_pu).any()
        # the raised phase's output / input ratio up by one step (0.625 %; the
        # regulator's X 1 % on 20 MVA adds next to nothing); its output rises less
        # (measured 0.0053 at 814r.a): the feeder behind draws more through 812-814
        inp = bus.removesuffix("r")
        ratio = snap.vm(bus, phase) / snap.vm(inp, phase) - base.vm(bus, phase) / base.vm(
            inp, phase)
        assert ratio == pytest.approx(0.00625, abs=2e-4), unit
        step = snap.vm(bus, phase) - base.vm(bus, phase)
        assert step > 0.004, unit
        # the other two phases there move far less (coupling through the feeder only)
        for other in "abc".replace(phase, ""):
            assert abs(snap.vm(bus, other) - base.vm(bus, other)) < 0.3 * step, (unit, other)


def test_ieee34_solver_balanced_injections_at_named_buses(ieee34_solver) -> None:
    base = ieee34_solver.solve()
    # 300 kW into 848 (100 kW a phase): the source supplies ~300 kW less (and less
    # loss), every phase at 848 rises
    more = ieee34_solver.solve([300.0, 0.0, 0.0], [0.0, 0.0, 0.0])
    assert base.source_p_kw - more.source_p_kw == pytest.approx(300.0, rel=0.15)
    assert all(more.vm("848", ph) > base.vm("848", ph) + 0.002 for ph in "abc")
    # 100 kvar into the 4.16 kV end 890 lifts every phase there
    var = ieee34_solver.solve([0.0, 0.0, 0.0], [0.0, 100.0, 0.0])
    assert all(var.vm("890", ph) > base.vm("890", ph) + 0.005 for ph in "abc")
    # 50 kW on the single-phase lateral end 822 (phase a) lifts 822.a
    lateral = ieee34_solver.solve([0.0, 0.0, 50.0])
    assert lateral.vm("822", "a") > base.vm("822", "a") + 0.005
    again = ieee34_solver.solve()
    np.testing.assert_allclose(again.vm_pu, base.vm_pu, atol=1e-12)


def test_ieee34_solver_refuses_bad_input(ieee34_solver) -> None:
    from powergrid.solvers.three_phase import ThreePhaseSolver

    with pytest.raises(ValueError, match="not on the ieee34"):
        ThreePhaseSolver("ieee34", ["675"])
    with pytest.raises(ValueError, match="one per phase"):
        ieee34_solver.solve(regulator_taps=(12, 5, 5))
    with pytest.raises(ValueError, match="outside"):
        ieee34_solver.solve(regulator_taps=(12, 5, 5, 13, 11, 17))
