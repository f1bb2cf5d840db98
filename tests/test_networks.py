"""Network builders: structure, published totals, base-case power flows, controls.

Real pandapower power flows; voltage windows are the measured base-case values
(written next to each window).
"""

from __future__ import annotations

import copy
import math

import pandapower as pp
import pytest

from powergrid.networks import NETWORKS, build_network, tap_aware_vm_pu
from powergrid.networks._elements import RegulatorImpedance
from powergrid.networks.line_configs import (
    IEEE13_CONFIGS,
    IEEE34_CONFIGS,
    balanced_equivalent,
    positive_sequence,
)
from powergrid.solvers import make_solver

IEEE = ("ieee13", "ieee34", "microgrids")


@pytest.fixture(scope="module")
def built() -> dict[str, pp.pandapowerNet]:
    """Each network built once; tests that change a net work on a deep copy."""
    return {name: build_network(name) for name in NETWORKS}


def fresh(built: dict[str, pp.pandapowerNet], name: str) -> pp.pandapowerNet:
    return copy.deepcopy(built[name])


def solved(net: pp.pandapowerNet) -> pp.pandapowerNet:
    # numba=False only skips a ~3 s JIT compile; the Newton-Raphson is the same.
    pp.runpp(net, lightsim2grid=False, numba=False)
    return net


def vm_by_name(net: pp.pandapowerNet):
    vm = net.res_bus.vm_pu.copy()
    vm.index = net.bus.name
    return vm


def idx(table, name: str) -> int:
    (match,) = table.index[table.name == name]
    return match


# --- registry ---------------------------------------------------------------------


def test_registry_lists_builders_with_descriptions() -> None:
    assert set(NETWORKS) == {"ieee13", "ieee34", "microgrids", "cigre_mv", "radial1000"}
    for builder, description in NETWORKS.values():
        assert callable(builder)
        assert isinstance(description, str) and description


def test_unknown_network_name_raises_value_error_naming_it() -> None:
    with pytest.raises(ValueError, match="nope") as info:
        build_network("nope")
    for valid in NETWORKS:
        assert valid in str(info.value)


def test_build_network_returns_a_fresh_unsolved_net() -> None:
    first, second = build_network("ieee13"), build_network("ieee13")
    assert first is not second
    assert first.res_bus.empty


# --- line parameters --------------------------------------------------------------


def test_config_601_positive_sequence_against_hand_computation() -> None:
    # Z1 = mean(self) - mean(mutual), ohm/mile, from the published 601 matrix:
    r1_ohm_per_mile = (0.3465 + 0.3375 + 0.3414) / 3 - (0.1560 + 0.1580 + 0.1535) / 3
    x1_ohm_per_mile = (1.0179 + 1.0478 + 1.0348) / 3 - (0.5017 + 0.4236 + 0.3849) / 3
    b1_us_per_mile = (6.2998 + 5.9597 + 5.6386) / 3 - (-1.9958 - 1.2595 - 0.7417) / 3
    assert r1_ohm_per_mile == pytest.approx(0.185967, abs=1e-6)
    assert x1_ohm_per_mile == pytest.approx(0.596767, abs=1e-6)
    assert b1_us_per_mile == pytest.approx(7.298367, abs=1e-6)

    seq = positive_sequence(IEEE13_CONFIGS["601"])
    assert seq.r_ohm_per_km == pytest.approx(0.11556, abs=1e-5)  # 0.185967 / 1.609344
    assert seq.x_ohm_per_km == pytest.approx(0.37081, abs=1e-5)  # 0.596767 / 1.609344
    # B1 = 4.53499 uS/km -> C1 = B1 / (2 pi 60) = 12.0294 nF/km (not 4.535 "nF")
    assert seq.c_nf_per_km == pytest.approx(4.53499 / (2 * math.pi * 60) * 1e3, rel=1e-5)
    assert seq.c_nf_per_km == pytest.approx(12.0294, abs=1e-3)
    assert seq.max_i_ka == pytest.approx(0.730)


def test_single_phase_config_uses_its_self_impedance() -> None:
    seq = positive_sequence(IEEE13_CONFIGS["605"])  # phase C only: Z = 1.3292 + j1.3475
    assert seq.r_ohm_per_km == pytest.approx(1.3292 / 1.609344, rel=1e-9)
    assert seq.x_ohm_per_km == pytest.approx(1.3475 / 1.609344, rel=1e-9)


def test_two_phase_config_counts_one_mutual_half() -> None:
    # 603 (phases B, C): Z_n = Z_s - Z_m / 2 under balanced phase currents
    z_s = ((1.3294 + 1.3238) + 1j * (1.3471 + 1.3569)) / 2
    z_m = 0.2066 + 0.4591j
    seq = positive_sequence(IEEE13_CONFIGS["603"])
    assert seq.r_ohm_per_km == pytest.approx((z_s - z_m / 2).real / 1.609344, rel=1e-9)
    assert seq.x_ohm_per_km == pytest.approx((z_s - z_m / 2).imag / 1.609344, rel=1e-9)


@pytest.mark.parametrize(("config", "n"), [("601", 3), ("603", 2), ("605", 1), ("607", 1)])
def test_balanced_equivalent_of_an_n_phase_lateral(config: str, n: int) -> None:
    # same drop, losses and loading with the load on 3 phases: Z x 3/n, C x n/3, I_max x n/3
    own, eq = positive_sequence(IEEE13_CONFIGS[config]), balanced_equivalent(IEEE13_CONFIGS[config])
    assert eq.r_ohm_per_km == pytest.approx(own.r_ohm_per_km * 3 / n, rel=1e-12)
    assert eq.x_ohm_per_km == pytest.approx(own.x_ohm_per_km * 3 / n, rel=1e-12)
    assert eq.c_nf_per_km == pytest.approx(own.c_nf_per_km * n / 3, rel=1e-12)
    assert eq.max_i_ka == pytest.approx(own.max_i_ka * n / 3, rel=1e-12)


def test_lateral_lines_carry_the_balanced_equivalent(built) -> None:
    line = built["ieee13"].line
    lateral = line.loc[idx(line, "684-611")]  # config 605, phase C only
    assert lateral.r_ohm_per_km == pytest.approx(3 * 1.3292 / 1.609344, rel=1e-9)
    line34 = built["ieee34"].line.loc[idx(built["ieee34"].line, "820-822")]  # 302, phase A
    assert line34.r_ohm_per_km == pytest.approx(
        3 * positive_sequence(IEEE34_CONFIGS["302"]).r_ohm_per_km, rel=1e-9
    )


def test_regulator_impedance_restated_on_the_model_rating() -> None:
    # IEEE 34 (OpenDSS ieee34Mod1.dss): X 1 % on 20,000 kVA per phase = 60 MVA three-phase
    r, vk = RegulatorImpedance(0.1, 1.0, 20000.0).on_base(3**0.5 * 24.9 * 0.1)
    assert (r, vk) == pytest.approx((0.1 * 4.3128 / 60, 1.01**0.5 * 4.3128 / 60), rel=1e-4)
    r, vk = RegulatorImpedance(0.1, 1.0, 20000.0).on_base(4.3128, min_x_percent=1.0)
    assert r == pytest.approx(0.1) and vk == pytest.approx(1.01**0.5 * 1.0, rel=1e-3)


def test_ieee13_lines_carry_the_config_parameters(built) -> None:
    net = built["ieee13"]
    line = net.line.loc[idx(net.line, "632-671")]
    assert line.std_type == "IEEE 601"
    assert line.r_ohm_per_km == pytest.approx(0.11556, abs=1e-5)
    assert line.c_nf_per_km == pytest.approx(12.0294, abs=1e-3)
    assert line.length_km == pytest.approx(2000 * 0.3048 / 1000)


# --- conventions shared by the IEEE networks ---------------------------------------


@pytest.mark.parametrize("name", IEEE)
def test_ieee_networks_follow_the_conventions(built, name: str) -> None:
    net = built[name]
    assert net.f_hz == 60.0
    assert net.name == name
    for table in ("bus", "line", "load", "trafo", "shunt", "switch", "ext_grid"):
        names = net[table].name
        assert names.notna().all(), table
        assert not names.duplicated().any(), table
    assert net.bus.geo.notna().all()
    assert (net.load[["const_z_p_percent", "const_i_p_percent"]] == 0).all().all()
    assert (net.load[["const_z_q_percent", "const_i_q_percent"]] == 0).all().all()
    assert (net.load.scaling == 1.0).all()
    regs = net.trafo[net.trafo.name.str.contains("reg")]
    assert (regs.tap_changer_type == "Ratio").all()
    assert (regs.tap_min == -16).all() and (regs.tap_max == 16).all()
    assert (regs.tap_step_percent == 0.625).all()
    assert (net.shunt.q_mvar < 0).all() and (net.shunt.step == net.shunt.max_step).all()


def test_ieee13_structure_and_names(built) -> None:
    net = built["ieee13"]
    counts = {t: len(net[t]) for t in ("bus", "line", "load", "shunt", "trafo")}
    assert counts == {"bus": 15, "line": 10, "load": 10, "shunt": 2, "trafo": 3}
    assert set(net.bus.zone) == {"ieee13"}
    assert {"sourcebus", "650", "RG60", "632", "634", "671", "692", "675", "680"} <= set(
        net.bus.name
    )
    assert list(net.trafo.name) == ["sub", "reg1", "xfm1"]
    assert net.ext_grid.name.tolist() == ["source"]
    assert net.bus.vn_kv[net.bus.name == "sourcebus"].item() == 115.0
    assert net.bus.vn_kv[net.bus.name == "634"].item() == 0.48
    (switch,) = net.switch.itertuples()
    assert (switch.name, switch.et, switch.closed) == ("671-692", "b", True)
    assert net.bus.name[switch.bus] == "671" and net.bus.name[switch.element] == "692"


def test_ieee13_loads_match_published_totals(built) -> None:
    load = built["ieee13"].load
    spot = load[~load.name.str.contains("@")]
    distributed = load[load.name.str.contains("@")]
    # IEEE 13: spot loads 3,266 kW + 1,986 kvar; 632-671 distributed 200 kW + 116 kvar.
    assert spot.p_mw.sum() == pytest.approx(3.266)
    assert spot.q_mvar.sum() == pytest.approx(1.986)
    assert distributed.p_mw.sum() == pytest.approx(0.200)
    assert distributed.q_mvar.sum() == pytest.approx(0.116)
    assert load.p_mw.sum() == pytest.approx(3.466)
    assert load.q_mvar.sum() == pytest.approx(2.102)
    assert load.p_mw[idx(load, "load 671")] == pytest.approx(1.155)
    assert load.p_mw[idx(load, "load 692")] == pytest.approx(0.170)
    assert load.p_mw[idx(load, "load 632-671 @632")] == pytest.approx(0.100)


def test_ieee34_loads_match_published_totals(built) -> None:
    load = built["ieee34"].load
    spot = load[~load.name.str.contains("@")]
    distributed = load[load.name.str.contains("@")]
    # IEEE 34: spot 1,047 kW + 677 kvar; distributed 722 kW + 367 kvar (19 segments).
    assert len(spot) == 6 and len(distributed) == 2 * 19
    assert spot.p_mw.sum() == pytest.approx(1.047)
    assert spot.q_mvar.sum() == pytest.approx(0.677)
    assert distributed.p_mw.sum() == pytest.approx(0.722)
    assert distributed.q_mvar.sum() == pytest.approx(0.367)
    assert load.p_mw.sum() == pytest.approx(1.769)
    assert load.q_mvar.sum() == pytest.approx(1.044)


def test_capacitor_ratings(built) -> None:
    def rating_mvar(net, name):
        shunt = net.shunt.loc[idx(net.shunt, name)]
        return -shunt.q_mvar * shunt.max_step

    ieee13, ieee34 = built["ieee13"], built["ieee34"]
    assert rating_mvar(ieee13, "cap 675") == pytest.approx(0.600)  # 3 x 200 kvar
    assert rating_mvar(ieee13, "cap 611") == pytest.approx(0.100)
    assert rating_mvar(ieee34, "cap 844") == pytest.approx(0.300)  # 3 x 100 kvar
    assert rating_mvar(ieee34, "cap 848") == pytest.approx(0.450)  # 3 x 150 kvar
    assert ieee13.shunt.max_step.tolist() == [3, 1]


def test_ieee34_structure(built) -> None:
    net = built["ieee34"]
    counts = {t: len(net[t]) for t in ("bus", "line", "load", "shunt", "trafo")}
    assert counts == {"bus": 36, "line": 32, "load": 44, "shunt": 2, "trafo": 3}
    assert list(net.trafo.name) == ["reg1", "reg2", "xfm1"]
    assert net.ext_grid.vm_pu.tolist() == [1.05]
    assert net.bus.name[net.ext_grid.bus.item()] == "800"
    lv = set(net.bus.name[net.bus.vn_kv == 4.16])
    assert lv == {"888", "890"}


# --- base-case power flows ---------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "vm_min_window", "vm_max_window"),
    [
        ("ieee13", (0.995, 1.002), (1.055, 1.070)),  # measured 0.9998 (652), 1.0624 (RG60)
        ("ieee34", (0.915, 0.925), (1.049, 1.0501)),  # measured 0.9173 (890), 1.05 (800)
        ("microgrids", (0.885, 0.895), (1.049, 1.0501)),  # 0.8895 (DSO.890), 1.05 (DSO.800)
        ("cigre_mv", (0.940, 0.950), (1.025, 1.035)),  # measured 0.9438 (Bus 6), 1.03
    ],
)
def test_base_case_converges_with_plausible_voltages(
    built, name: str, vm_min_window, vm_max_window
) -> None:
    net = solved(fresh(built, name))
    vm = net.res_bus.vm_pu
    assert vm_min_window[0] < vm.min() < vm_min_window[1]
    assert vm_max_window[0] < vm.max() < vm_max_window[1]


def test_ieee13_base_case_feeder_profile(built) -> None:
    vm = vm_by_name(solved(fresh(built, "ieee13")))
    # 650 at the published 1.0 pu behind the stiff substation (measured 1.0000)
    assert vm["650"] == pytest.approx(1.0, abs=0.001)
    # regulated feeder 0.99-1.07 pu (measured 0.9998 at 652 .. 1.0624 at RG60; published
    # phase means 0.9738 (611, phase C) .. 1.0604 (RG60))
    feeder = vm.drop(["sourcebus", "650"])
    assert feeder.min() > 0.99 and feeder.max() < 1.07
    assert vm["RG60"] > vm["650"]


@pytest.mark.parametrize("backend", ["pandapower", "lightsim2grid"])
def test_ieee13_converges_at_every_regulator_tap(built, backend: str) -> None:
    # cold start (flat profile) every time, as each backend does on its first solve
    net = fresh(built, "ieee13")
    reg = net.trafo.index.get_loc(idx(net.trafo, "reg1"))
    for tap in range(-16, 17):
        solver = make_solver(net, backend)
        solver.set_trafo_tap([reg], [tap])
        assert solver.solve(), tap


def test_microgrid_zones_stay_within_band(built) -> None:
    net = solved(fresh(built, "microgrids"))
    vm = net.res_bus.vm_pu
    for area in ("MG1", "MG2", "MG3"):
        zone_vm = vm[net.bus.zone == area]
        # measured 0.963 (MG1.650) .. 1.022 (MG2.611); MG1 sits at the end of the
        # single-phase 816-822 lateral (DSO 822 at 0.957 pu)
        assert zone_vm.min() > 0.955 and zone_vm.max() < 1.03


# --- controls move the operating point the right way ---------------------------------


@pytest.mark.parametrize(
    ("name", "regulator", "downstream_bus"),
    [
        ("ieee13", "reg1", "671"),
        ("ieee34", "reg1", "850"),
        ("ieee34", "reg2", "832"),
        ("microgrids", "MG2.reg1", "MG2.675"),
    ],
)
def test_regulator_tap_moves_downstream_voltage(
    built, name: str, regulator: str, downstream_bus: str
) -> None:
    results = {}
    for delta in (-2, 0, 2):
        net = fresh(built, name)
        net.trafo.loc[idx(net.trafo, regulator), "tap_pos"] += delta
        results[delta] = vm_by_name(solved(net))[downstream_bus]
    assert results[-2] < results[0] < results[2]
    assert results[2] - results[0] == pytest.approx(2 * 0.00625, rel=0.3)


def test_capacitor_step_changes_reactive_injection(built) -> None:
    net = fresh(built, "ieee13")
    cap = idx(net.shunt, "cap 675")
    solved(net)
    q_all_in, vm_all_in = net.res_shunt.q_mvar[cap], net.res_shunt.vm_pu[cap]
    assert q_all_in == pytest.approx(-0.6 * vm_all_in**2)
    net.shunt.loc[cap, "step"] = 1
    solved(net)
    assert net.res_shunt.q_mvar[cap] == pytest.approx(-0.2 * net.res_shunt.vm_pu[cap] ** 2)
    assert net.res_shunt.vm_pu[cap] < vm_all_in


# --- microgrids ---------------------------------------------------------------------


def test_microgrids_structure(built) -> None:
    net = built["microgrids"]
    assert net.ext_grid.in_service.sum() == 1
    assert net.ext_grid.name.tolist() == ["DSO.source"]
    assert len(net.bus) == 78  # 36 DSO + 3 x 14 (IEEE 13 without its source bus)
    assert net.bus.zone.value_counts().to_dict() == {"DSO": 36, "MG1": 14, "MG2": 14, "MG3": 14}
    assert (net.bus.name.str.split(".").str[0] == net.bus.zone).all()
    for table in ("line", "load", "trafo", "shunt", "switch"):
        assert net[table].name.str.match(r"^(DSO|MG[123])\.").all(), table
    for area, dso_node in (("MG1", "822"), ("MG2", "848"), ("MG3", "856")):
        sub = net.trafo.loc[idx(net.trafo, f"{area}.sub")]
        assert net.bus.name[sub.hv_bus] == f"DSO.{dso_node}"
        assert (sub.vn_hv_kv, sub.vn_lv_kv) == (24.9, 4.16)
    # the only bus-bus switches are the microgrids' own 671-692 switches
    assert sorted(net.switch.name) == ["MG1.671-692", "MG2.671-692", "MG3.671-692"]


def test_microgrid_load_scale(built) -> None:
    default = built["microgrids"].load
    assert default.p_mw.sum() == pytest.approx(1.769 + 3 * 0.1 * 3.466)
    doubled = build_network("microgrids", mg_load_scale=0.2).load
    mg = doubled.name.str.startswith("MG")
    assert doubled.p_mw[mg].sum() == pytest.approx(3 * 0.2 * 3.466)
    assert doubled.p_mw[~mg].sum() == pytest.approx(1.769)


def test_tap_aware_start_converges_where_a_flat_start_may_not(built) -> None:
    net = fresh(built, "microgrids")
    reg2 = idx(net.trafo, "DSO.reg2")
    net.trafo.loc[reg2, "tap_pos"] = 15
    net.trafo.loc[idx(net.trafo, "MG1.reg1"), "tap_pos"] = 2
    vm0 = tap_aware_vm_pu(net)
    pos = net.bus.index.get_loc
    hv, lv = net.trafo.hv_bus[reg2], net.trafo.lv_bus[reg2]
    assert vm0[pos(lv)] == pytest.approx(vm0[pos(hv)] * (1 + 15 * 0.00625))
    assert vm0[pos(idx(net.bus, "DSO.800"))] == 1.05
    pp.runpp(net, lightsim2grid=False, numba=False, init_vm_pu=vm0)
    assert net.converged


# --- CIGRE MV -----------------------------------------------------------------------


def test_cigre_mv_keeps_its_der_and_gets_the_naming(built) -> None:
    net = built["cigre_mv"]
    assert net.f_hz == 50.0
    assert len(net.sgen) == 13 and len(net.storage) == 2 and len(net.switch) == 8
    assert net.ext_grid.name.tolist() == ["source"]
    assert set(net.bus.zone) == {"cigre_mv"}
    assert net.switch.name.notna().all() and not net.switch.name.duplicated().any()
    assert {"S1", "S2", "S3"} <= set(net.switch.name)


def test_radial_feeder_is_reproducible_and_converges() -> None:
    from powergrid.networks.radial import radial_feeder

    a, b = radial_feeder(200, seed=1), radial_feeder(200, seed=1)
    assert len(a.bus) == 192  # hv + mv0 + 10 feeders of (200 - 1) // 10 = 19 buses
    assert a.line.length_km.tolist() == b.line.length_km.tolist()
    pp.runpp(a, lightsim2grid=False, numba=False)
    vm = a.res_bus.vm_pu
    assert 0.985 < vm.min() < 0.995 and vm.max() == pytest.approx(1.02)  # 0.9905 measured
