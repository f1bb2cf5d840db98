"""The balanced IEEE feeders against the published IEEE voltage profiles.

The published tables, taps and system inputs, with their source, are in
tests/published_feeders.py (shared with the three-phase tests). Nodes RG10 / RG11
are this model's "814r" / "852r".

What is compared: the model's bus voltage against the mean of the published
phase magnitudes of that node (phases present only). A balanced model has one
voltage per bus and cannot reproduce the phase unbalance (IEEE 13 671: 0.990 /
1.053 / 0.978), nor the published load models (constant Z and I loads here are
constant PQ), so the tolerances are per feeder and stated with their reasons.

Regulator taps: the balanced model has one regulator where the feeder has three
single-phase ones. Its tap is the *mean* of the three published taps (fractional,
pandapower takes a float ``tap_pos``): the ratio is linear in the tap, so the
mean of the three output/input ratios is ``1 + 0.625 % x mean(tap)``, which is
what the mean of the phase voltages sees. (The builders' integer base taps are
these means rounded.)
"""

from __future__ import annotations

import sys

import numpy as np
import pandapower as pp
import pytest
from published_feeders import (
    IEEE13_PUBLISHED,
    IEEE34_INPUT_KW_KVAR,
    PUBLISHED,
    PUBLISHED_INPUT,
    PUBLISHED_TAPS,
    PhaseVm,
)

from powergrid.networks import build_network, tap_aware_vm_pu

# Tolerances (p.u.), with the measured values (pandapower, this model) and those of
# the model before the issue "The IEEE models drift from the published feeders":
#
# IEEE 13: mean 0.0056, max 0.027 at 611 (before: 0.045 / 0.053, the whole feeder
#   ~0.04 low behind a 650 at 0.962). The largest errors are the laterals off
#   671/684 (611 +0.027, 684 +0.021, 652 +0.015): the published phases at 671 differ
#   by up to 0.075 pu (0.990 / 1.053 / 0.978) and a balanced model sits at their mean,
#   not at the lateral's own phase; the drops *along* the laterals match
#   (test_ieee13_lateral_drops). mean <= 0.010, max <= 0.032 catches a feeder-wide
#   offset of 0.01 and the old model.
# IEEE 34: mean 0.0032, max 0.016 at 890 (the 4.16 kV end: its published load is
#   constant current, here constant PQ, drawing ~8 % more current at 0.92 pu).
#   Before: mean 0.0030, max 0.022 at 822 (the single-phase lateral with a third
#   of its drop). The mean cannot tell the two apart; the max and the lateral end
#   822 (now -0.0006, before +0.020) do: max <= 0.018, |822| <= 0.005.
TOLERANCE = {
    "ieee13": {"mean": 0.010, "max": 0.032},
    "ieee34": {"mean": 0.005, "max": 0.018},
}
# Source power: IEEE 13 measured -0.4 % P / -2.1 % Q (before -0.0 % / +5.9 %), at 650
# (the published input is below the substation transformer). IEEE 34 measured
# +0.4 % / +7.2 % (before +0.2 % / -6.9 %): of the +7.2 %, ~6 points are the reactive
# loss of the regulators' convergence floor (X 1 % on 4.31 MVA, see ieee34.py); with
# the published regulator impedance the model gives +0.7 %
# (test_ieee34_with_published_regulator_impedance).
SOURCE_TOLERANCE_PERCENT = {"ieee13": (1.0, 3.0), "ieee34": (1.0, 8.0)}


def _published_mean(phases: PhaseVm) -> float:
    present = [v for v in phases if v is not None]
    return sum(present) / len(present)


def solve_at_published_taps(name: str) -> pp.pandapowerNet:
    net = build_network(name)
    for regulator, taps in PUBLISHED_TAPS[name].items():
        (row,) = net.trafo.index[net.trafo.name == regulator]
        net.trafo.loc[row, "tap_pos"] = float(np.mean(taps))
    pp.runpp(net, lightsim2grid=False, numba=False, init_vm_pu=tap_aware_vm_pu(net))
    return net


def profile_errors(net: pp.pandapowerNet, name: str) -> dict[str, float]:
    vm = net.res_bus.vm_pu.copy()
    vm.index = net.bus.name
    return {bus: float(vm[bus]) - _published_mean(ph) for bus, ph in PUBLISHED[name].items()}


def source_power_kw_kvar(net: pp.pandapowerNet, name: str) -> tuple[float, float]:
    """Power into the published feeder: at 650 (below "sub") for IEEE 13, the
    ext_grid at 800 for IEEE 34."""
    if name == "ieee13":
        (sub,) = net.trafo.index[net.trafo.name == "sub"]
        return -1e3 * net.res_trafo.p_lv_mw[sub], -1e3 * net.res_trafo.q_lv_mvar[sub]
    return 1e3 * net.res_ext_grid.p_mw.sum(), 1e3 * net.res_ext_grid.q_mvar.sum()


@pytest.fixture(scope="module")
def solved() -> dict[str, pp.pandapowerNet]:
    return {name: solve_at_published_taps(name) for name in PUBLISHED}


def test_published_tables_are_consistent_with_the_published_taps() -> None:
    # regulator output / input = 1 + tap x 0.625 % on every phase (to the 4 digits printed)
    pairs = {"ieee13": [("650", "RG60", "reg1")],
             "ieee34": [("814", "814r", "reg1"), ("852", "852r", "reg2")]}
    for name, rows in pairs.items():
        for before, after, regulator in rows:
            for k, tap in enumerate(PUBLISHED_TAPS[name][regulator]):
                ratio = PUBLISHED[name][after][k] / PUBLISHED[name][before][k]
                assert ratio == pytest.approx(1 + 0.00625 * tap, abs=2e-4)


@pytest.mark.parametrize("name", ["ieee13", "ieee34"])
def test_balanced_model_follows_the_published_profile(solved, name: str) -> None:
    errors = profile_errors(solved[name], name)
    assert set(errors) == set(PUBLISHED[name])
    abs_errors = np.abs(list(errors.values()))
    worst = max(errors, key=lambda bus: abs(errors[bus]))
    assert abs_errors.mean() <= TOLERANCE[name]["mean"], errors
    assert abs_errors.max() <= TOLERANCE[name]["max"], (worst, errors[worst])


def test_ieee13_substation_bus_sits_at_the_published_one_pu(solved) -> None:
    errors = profile_errors(solved["ieee13"], "ieee13")
    assert abs(errors["650"]) < 0.001  # measured -0.0000 (before -0.039)


def test_ieee13_lateral_drops(solved) -> None:
    """Single-phase laterals: the drop along them, on their own phase, as published.

    684-611 (config 605, phase C) and 684-652 (607, phase A) carry 170 kW and 128 kW
    on one phase; their balanced equivalents (3 x Z) must drop what the real phase
    drops (published 684 C 0.9758 -> 611 0.9738; 684 A 0.9881 -> 652 0.9825).
    """
    vm = solved["ieee13"].res_bus.vm_pu.copy()
    vm.index = solved["ieee13"].bus.name
    pub = IEEE13_PUBLISHED
    assert vm["684"] - vm["611"] == pytest.approx(pub["684"][2] - pub["611"][2], abs=0.001)
    assert vm["684"] - vm["652"] == pytest.approx(pub["684"][0] - pub["652"][0], abs=0.001)


def test_ieee34_single_phase_lateral_drop(solved) -> None:
    # 816-818-820-822: 63,600 ft of single-phase #4 ACSR (config 302) carrying 169 kW
    errors = profile_errors(solved["ieee34"], "ieee34")
    assert abs(errors["822"]) <= 0.005  # measured -0.0006 (before +0.0197)
    assert abs(errors["820"]) <= 0.005  # measured -0.0006 (before +0.0176)


@pytest.mark.parametrize("name", ["ieee13", "ieee34"])
def test_source_power_matches_the_published_input(solved, name: str) -> None:
    p_kw, q_kvar = source_power_kw_kvar(solved[name], name)
    p_pub, q_pub = PUBLISHED_INPUT[name]
    p_tol, q_tol = SOURCE_TOLERANCE_PERCENT[name]
    assert abs(p_kw / p_pub - 1) * 100 <= p_tol, p_kw
    assert abs(q_kvar / q_pub - 1) * 100 <= q_tol, q_kvar


def test_ieee34_with_published_regulator_impedance(monkeypatch) -> None:
    """The physics without the convergence floor: published regulator impedance
    (X 1 % on 20 MVA per phase), solved from the tap-aware start."""
    monkeypatch.setattr(sys.modules["powergrid.networks.ieee34"], "REGULATOR_MIN_X_PERCENT", 0.0)
    net = solve_at_published_taps("ieee34")
    (reg1,) = net.trafo.index[net.trafo.name == "reg1"]
    assert net.trafo.vk_percent[reg1] == pytest.approx(0.0722, abs=1e-4)  # 1 % x 4.31 / 60
    errors = np.abs(list(profile_errors(net, "ieee34").values()))
    assert errors.mean() <= 0.0025 and errors.max() <= 0.014  # measured 0.0016 / 0.0130
    p_kw, q_kvar = source_power_kw_kvar(net, "ieee34")
    assert abs(q_kvar / IEEE34_INPUT_KW_KVAR[1] - 1) <= 0.02  # measured +0.7 %
    assert abs(p_kw / IEEE34_INPUT_KW_KVAR[0] - 1) <= 0.01  # measured +0.3 %
