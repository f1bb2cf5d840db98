"""IEEE 34 Node Test Feeder as a balanced positive-sequence pandapower model.

Source: "IEEE 34 Node Test Feeder", IEEE PES Distribution System Analysis
Subcommittee (W. H. Kersting, "Radial distribution test feeders", 2001): line
segment data, configurations 300-304 (see :mod:`powergrid.networks.line_configs`),
transformer data, regulator data, spot and distributed loads, shunt capacitors.
Regulator bus names "814r" / "852r" follow OpenDSS' ``ieee34Mod1.dss``.

Modelling choices (balanced equivalent of an unbalanced feeder)
--------------------------------------------------------------
* Source: 24.9 kV ext_grid at node 800 with vm_pu 1.05, the published source
  voltage at 800. The 69/24.9 kV 2.5 MVA substation transformer is not
  modelled (OpenDSS' model shrinks it to near zero so that 800 sits at 1.05 pu,
  and it would be overloaded by the ``microgrids`` network).
* Regulator 1 (814-850) and regulator 2 (852-832) are three-phase OLTCs from
  814 to a new bus 814r (852 to 852r; 814r-850 and 852r-832 are the published
  10 ft segments), +/-16 x 0.625 % with the tap on the output side. The
  published base-case taps are 12 / 5 / 5 (reg 1) and 13 / 11 / 12 (reg 2);
  the balanced model uses one tap each, :data:`REGULATOR_TAP_POS`.
* Regulator impedance: the published X 1 % on 20 MVA per phase
  (:data:`REGULATOR_IMPEDANCE`, 0.072 % on the model's 4.31 MVA), raised to
  :data:`REGULATOR_MIN_X_PERCENT` = 1 % on 4.31 MVA, the floor at which the
  project's solvers, which start from a flat profile, converge at every tap
  -16..16 of either regulator (measured: 0.8 % fails at 4 of the 66 settings,
  0.5 % at 24). The floor costs ~0.001 pu of drop per regulator at the
  published load and ~19 kvar of reactive loss (+6 % on the published
  290 kvar input); with the published impedance and a tap-aware start
  (:func:`powergrid.networks.initial_voltage.tap_aware_vm_pu`) it converges
  too. Set the floor to 0 once the solvers start from the tap-aware profile.
* Lines: single-phase laterals (302-304) are three-phase lines with the
  balanced equivalent of their impedance (3 x R and X, 1/3 x C; see
  :mod:`powergrid.networks.line_configs`).
* Per-phase spot loads are summed into one three-phase constant-PQ load
  "load <node>"; each distributed load is split half/half between the two end
  nodes of its segment ("load <from>-<to> @<node>").
* Capacitors 844 (100 kvar per phase) and 848 (150 kvar per phase) are switched
  shunts with three steps of 0.1 / 0.15 Mvar (one step per phase unit), all in.
* The in-line XFM-1 832-888 (24.9/4.16 kV, 500 kVA) is a two-winding transformer.
* Bus coordinates: a schematic layout after the published one-line diagram
  (main feeder left to right, laterals up/down), 100 units per grid step.
"""

from __future__ import annotations

import pandapower as pp

from powergrid.networks._elements import (
    XY,
    Builder,
    DistributedLoad,
    LoadTapChanger,
    RegulatorControl,
    RegulatorImpedance,
    ShuntCapacitor,
    SpotLoad,
    XYTransform,
    balanced_capacitor_steps,
    identity_xy,
    pt_ratio,
)
from powergrid.networks.line_configs import (
    IEEE34_CONFIGS,
    register_line_std_types,
    std_type_name,
)

NAME = "ieee34"
SOURCE_KV = 69.0
FEEDER_KV = 24.9
LV_KV = 4.16
SOURCE_VM_PU = 1.05

# Published base-case regulator taps per phase a, b, c (report, "Power-Flow Results",
# regulator taps: regulator 1 +12 / +5 / +5, regulator 2 +13 / +11 / +12; consistent
# with the voltage profile, RG10 / 814 = 1.0177 / 0.9467 = 1 + 12 x 0.625 %). The
# three-phase model uses them as they are.
PUBLISHED_REGULATOR_TAPS: dict[str, tuple[int, int, int]] = {
    "reg1": (12, 5, 5),
    "reg2": (13, 11, 12),
}
# Where each regulator sits: from the published node (814, 852) to its output node
# (the report's "RG10" / "RG11" rows, named "814r" / "852r" as in OpenDSS
# ieee34Mod1.dss).
REGULATOR_BUSES: dict[str, tuple[str, str]] = {"reg1": ("814", "814r"), "reg2": ("852", "852r")}
# Regulator Data (report): both regulators three single-phase units wye-connected
# ("3-Ph,LG"), each monitoring its own phase; bandwidth 2.0 V, PT ratio 120, primary
# CT rating 100 A. Regulator ID 1 (segment 814-850, at 814): compensator R 2.7 V,
# X 1.6 V, voltage level 122 V on every phase. Regulator ID 2 (segment 852-832, at
# 852): R 2.5 V, X 1.5 V, voltage level 124 V. OpenDSS ieee34Mod1.dss agrees
# ("vreg=122 band=2 ptratio=120 ctprim=100 R=2.7 X=1.6"; "vreg=124 ... R=2.5 X=1.5").
REGULATOR_CONTROL: dict[str, RegulatorControl] = {
    "reg1": RegulatorControl(
        vreg_v=(122.0, 122.0, 122.0),
        band_v=2.0,
        pt_ratio=120.0,
        ct_primary_a=100.0,
        r_v=(2.7, 2.7, 2.7),
        x_v=(1.6, 1.6, 1.6),
    ),
    "reg2": RegulatorControl(
        vreg_v=(124.0, 124.0, 124.0),
        band_v=2.0,
        pt_ratio=120.0,
        ct_primary_a=100.0,
        r_v=(2.5, 2.5, 2.5),
        x_v=(1.5, 1.5, 1.5),
    ),
}

# Base-case taps (one per three-phase regulator), near the means of the published
# per-phase taps (12/5/5 -> 7.3 and 13/11/12 -> 12): +8 / +13 put the feeder at
# 0.95-1.05 pu except the 4.16 kV end 890 (0.917 pu; published 0.916-0.924 pu);
# the rounded means +7 / +12 leave 890 at 0.900 pu.
REGULATOR_TAP_POS: dict[str, int] = {"reg1": 8, "reg2": 13}
# Regulator rating from the primary CT (100 A) at 24.9 kV: sqrt(3) * 24.9 * 0.1.
REGULATOR_SN_MVA = 3**0.5 * FEEDER_KV * 0.1
# Regulator impedance: X 1 % on 20,000 kVA per phase, OpenDSS ieee34Mod1.dss
# ("transformer.reg1a ... kvas=[20000 20000] XHL=1"; the IEEE report gives none);
# R 0.1 % (X/R = 10) is our choice (OpenDSS leaves it at its default). On the
# model's 4.31 MVA that is X 0.072 %, R 0.0072 % (3 x 20 MVA -> 4.31 MVA).
# Flat-start convergence floor for X on 4.31 MVA (module docstring; measured with
# pandapower runpp and the lightsim2grid backend at every tap -16..16).
REGULATOR_MIN_X_PERCENT = 1.0
REGULATOR_IMPEDANCE = RegulatorImpedance(r_percent=0.1, x_percent=1.0, kva_per_phase=20000.0)

_STEP = 100.0


def _grid(x: float, y: float) -> XY:
    return (x * _STEP, y * _STEP)


BUS_XY: dict[str, XY] = {
    "800": _grid(0, 0),
    "802": _grid(1, 0),
    "806": _grid(2, 0),
    "808": _grid(3, 0),
    "810": _grid(3, -1),
    "812": _grid(4, 0),
    "814": _grid(5, 0),
    "814r": _grid(5.5, 0),
    "850": _grid(6, 0),
    "816": _grid(7, 0),
    "818": _grid(7, 1),
    "820": _grid(7, 2),
    "822": _grid(7, 3),
    "824": _grid(8, 0),
    "826": _grid(8, -1),
    "828": _grid(9, 0),
    "830": _grid(10, 0),
    "854": _grid(11, 0),
    "856": _grid(11, -1),
    "852": _grid(12, 0),
    "852r": _grid(12.5, 0),
    "832": _grid(13, 0),
    "888": _grid(13, -1),
    "890": _grid(13, -2),
    "858": _grid(14, 0),
    "864": _grid(14, 1),
    "834": _grid(15, 0),
    "842": _grid(15, 1),
    "844": _grid(15, 2),
    "846": _grid(15, 3),
    "848": _grid(15, 4),
    "860": _grid(16, 0),
    "836": _grid(17, 0),
    "840": _grid(18, 0),
    "862": _grid(17, -1),
    "838": _grid(17, -2),
}

BUSES_KV: list[tuple[str, float]] = [
    (name, LV_KV if name in ("888", "890") else FEEDER_KV) for name in BUS_XY
]

# Line segment data: (node A, node B, length ft, config). 814-850 and 852-832 hold the
# regulators: the segments run from the regulator outputs 814r / 852r. A line's phases
# are its configuration's (:data:`IEEE34_CONFIGS`, "Phasing": 300 and 301 B A C N, 302
# A N, 303 B N, 304 B N); the three-phase model reads them from there.
LINES: list[tuple[str, str, float, str]] = [
    ("800", "802", 2580.0, "300"),
    ("802", "806", 1730.0, "300"),
    ("806", "808", 32230.0, "300"),
    ("808", "810", 5804.0, "303"),
    ("808", "812", 37500.0, "300"),
    ("812", "814", 29730.0, "300"),
    ("814r", "850", 10.0, "301"),
    ("816", "818", 1710.0, "302"),
    ("816", "824", 10210.0, "301"),
    ("818", "820", 48150.0, "302"),
    ("820", "822", 13740.0, "302"),
    ("824", "826", 3030.0, "303"),
    ("824", "828", 840.0, "301"),
    ("828", "830", 20440.0, "301"),
    ("830", "854", 520.0, "301"),
    ("832", "858", 4900.0, "301"),
    ("834", "860", 2020.0, "301"),
    ("834", "842", 280.0, "301"),
    ("836", "840", 860.0, "301"),
    ("836", "862", 280.0, "301"),
    ("842", "844", 1350.0, "301"),
    ("844", "846", 3640.0, "301"),
    ("846", "848", 530.0, "301"),
    ("850", "816", 310.0, "301"),
    ("852r", "832", 10.0, "301"),
    ("854", "856", 23330.0, "303"),
    ("854", "852", 36830.0, "301"),
    ("858", "864", 1620.0, "302"),
    ("858", "834", 5830.0, "301"),
    ("860", "836", 2680.0, "301"),
    ("862", "838", 4860.0, "304"),
    ("888", "890", 10560.0, "300"),
]

# Spot loads: per phase (kW, kvar). Total 1,047 kW + 677 kvar.
SPOT_LOADS: list[SpotLoad] = [
    SpotLoad("860", "Y-PQ", ((20.0, 16.0), (20.0, 16.0), (20.0, 16.0))),
    SpotLoad("840", "Y-I", ((9.0, 7.0), (9.0, 7.0), (9.0, 7.0))),
    SpotLoad("844", "Y-Z", ((135.0, 105.0), (135.0, 105.0), (135.0, 105.0))),
    SpotLoad("848", "D-PQ", ((20.0, 16.0), (20.0, 16.0), (20.0, 16.0))),
    SpotLoad("890", "D-I", ((150.0, 75.0), (150.0, 75.0), (150.0, 75.0))),
    SpotLoad("830", "D-Z", ((10.0, 5.0), (10.0, 5.0), (25.0, 10.0))),
]

# Distributed loads: per phase (kW, kvar). Total 722 kW + 367 kvar.
DISTRIBUTED_LOADS: list[DistributedLoad] = [
    DistributedLoad("802", "806", "Y-PQ", ((0.0, 0.0), (30.0, 15.0), (25.0, 14.0))),
    DistributedLoad("808", "810", "Y-I", ((0.0, 0.0), (16.0, 8.0), (0.0, 0.0))),
    DistributedLoad("818", "820", "Y-Z", ((34.0, 17.0), (0.0, 0.0), (0.0, 0.0))),
    DistributedLoad("820", "822", "Y-PQ", ((135.0, 70.0), (0.0, 0.0), (0.0, 0.0))),
    DistributedLoad("816", "824", "D-I", ((0.0, 0.0), (5.0, 2.0), (0.0, 0.0))),
    DistributedLoad("824", "826", "Y-I", ((0.0, 0.0), (40.0, 20.0), (0.0, 0.0))),
    DistributedLoad("824", "828", "Y-PQ", ((0.0, 0.0), (0.0, 0.0), (4.0, 2.0))),
    DistributedLoad("828", "830", "Y-PQ", ((7.0, 3.0), (0.0, 0.0), (0.0, 0.0))),
    DistributedLoad("854", "856", "Y-PQ", ((0.0, 0.0), (4.0, 2.0), (0.0, 0.0))),
    DistributedLoad("832", "858", "D-Z", ((7.0, 3.0), (2.0, 1.0), (6.0, 3.0))),
    DistributedLoad("858", "864", "Y-PQ", ((2.0, 1.0), (0.0, 0.0), (0.0, 0.0))),
    DistributedLoad("858", "834", "D-PQ", ((4.0, 2.0), (15.0, 8.0), (13.0, 7.0))),
    DistributedLoad("834", "860", "D-Z", ((16.0, 8.0), (20.0, 10.0), (110.0, 55.0))),
    DistributedLoad("860", "836", "D-PQ", ((30.0, 15.0), (10.0, 6.0), (42.0, 22.0))),
    DistributedLoad("836", "840", "D-I", ((18.0, 9.0), (22.0, 11.0), (0.0, 0.0))),
    DistributedLoad("862", "838", "Y-PQ", ((0.0, 0.0), (28.0, 14.0), (0.0, 0.0))),
    DistributedLoad("842", "844", "Y-PQ", ((9.0, 5.0), (0.0, 0.0), (0.0, 0.0))),
    DistributedLoad("844", "846", "Y-PQ", ((0.0, 0.0), (25.0, 12.0), (20.0, 11.0))),
    DistributedLoad("846", "848", "Y-PQ", ((0.0, 0.0), (23.0, 11.0), (0.0, 0.0))),
]

# Shunt capacitor data (kvar per phase a, b, c): 844 100 / 100 / 100, 848 150 / 150 / 150.
SHUNT_CAPACITORS: list[ShuntCapacitor] = [
    ShuntCapacitor("844", (100.0, 100.0, 100.0)),
    ShuntCapacitor("848", (150.0, 150.0, 150.0)),
]
# The balanced model's switched shunts: one step per phase unit, 844 3 x 0.1 Mvar,
# 848 3 x 0.15 Mvar.
CAPACITORS: list[tuple[str, float, int]] = balanced_capacitor_steps(SHUNT_CAPACITORS)

# Transformer data: substation 2,500 kVA 69 kV D / 24.9 kV Gr.W, R 1 %, X 8 %; XFM-1
# 500 kVA 24.9 kV Gr.W / 4.16 kV Gr.W, R 1.9 %, X 4.08 % (connections as pandapower
# vector groups, see :mod:`powergrid.networks.ieee13`).
SUBSTATION_VECTOR_GROUP = "Dyn"
SUBSTATION = {"sn_mva": 2.5, "r_percent": 1.0, "x_percent": 8.0}
# The three-phase model's substation (the balanced one starts at 800): the published
# impedance / 1000, as for IEEE 13 (:data:`powergrid.networks.ieee13.SUBSTATION_STIFF`;
# OpenDSS ieee34Mod1.dss makes it "very stiff" too, "Xhl=0.01 ! normally 8"), so that
# 800 sits at the published 1.05 pu on every phase (the LTC below at its highest step).
SUBSTATION_STIFF = {"sn_mva": 2.5, "r_percent": 1.0 / 1000, "x_percent": 8.0 / 1000}
# The three-phase model's substation on-load tap changer. Not in the IEEE report, whose
# one peak-load snapshot holds 800 at 1.05 pu: over a year's load (the test split's
# 1,680 h, three-phase physics, idle and rule) a source fixed at 1.05 lifts phase a of
# 800-814, upstream of the first regulator, to 1.067 at light load (the b and c loads'
# mutual coupling) and holds 800 itself at the band's edge, outside in 1,239 hours;
# fixed at 1.03 it leaves 814 a at 0.931 under the rule's heavy hours. A substation
# LTC with line-drop compensation, as field substations have, follows the load. The
# project's settings, measured over the split with the scenario's regulators and with
# the microgrids scenario's (compared: no compensation at 123-124 V, R 3-15 V, the PT on
# phase a, c or the lowest phase): 121 V, band 1.5 V, R 10 V / X 7 V at 100 A (about 6 %
# at the transformer's rated 58 A), on the lowest phase (phase a of 814 is the lowest
# on IEEE 34, phase c with the microgrids' load). Its highest step is +8 (+5 %): 800 at
# the published 1.05 behind a source at its nominal 69 kV, never above it; it starts
# there.
SUBSTATION_LTC = LoadTapChanger(
    vreg_v=121.0, band_v=1.5, pt_ratio=pt_ratio(FEEDER_KV),
    ct_primary_a=100.0, r_v=10.0, x_v=7.0, pt_phase="MIN", tap_max=8)
#: the three-phase model's source, behind the substation LTC: 69 kV nominal
SUBSTATION_SOURCE_PU = 1.0
XFM1_VECTOR_GROUP = "YNyn"
XFM1_BUSES = ("832", "888")
XFM1 = {"sn_mva": 0.5, "r_percent": 1.9, "x_percent": 4.08}


def add_ieee34_feeder(
    net: pp.pandapowerNet,
    *,
    prefix: str = "",
    zone: str = NAME,
    xy: XYTransform = identity_xy,
    regulator_tap_pos: dict[str, int] | None = None,
) -> dict[str, int]:
    """Add the IEEE 34 feeder (no source) to ``net``; return IEEE node name -> bus index.

    Names get ``prefix``, buses get ``zone``. ``regulator_tap_pos`` overrides
    :data:`REGULATOR_TAP_POS` per regulator ("reg1", "reg2").
    """
    taps = {**REGULATOR_TAP_POS, **(regulator_tap_pos or {})}
    b = Builder(net, prefix=prefix, zone=zone, xy=xy)
    register_line_std_types(net, IEEE34_CONFIGS)
    b.buses_from(BUSES_KV, BUS_XY)
    b.regulator(
        *REGULATOR_BUSES["reg1"],
        vn_kv=FEEDER_KV,
        sn_mva=REGULATOR_SN_MVA,
        impedance=REGULATOR_IMPEDANCE,
        min_x_percent=REGULATOR_MIN_X_PERCENT,
        tap_pos=taps["reg1"],
        local_name="reg1",
    )
    b.regulator(
        *REGULATOR_BUSES["reg2"],
        vn_kv=FEEDER_KV,
        sn_mva=REGULATOR_SN_MVA,
        impedance=REGULATOR_IMPEDANCE,
        min_x_percent=REGULATOR_MIN_X_PERCENT,
        tap_pos=taps["reg2"],
        local_name="reg2",
    )
    b.lines(
        (f, t, length_ft, std_type_name(IEEE34_CONFIGS[config]))
        for f, t, length_ft, config in LINES
    )
    b.transformer(
        b.buses[XFM1_BUSES[0]],
        XFM1_BUSES[1],
        vn_hv_kv=FEEDER_KV,
        vn_lv_kv=LV_KV,
        vector_group=XFM1_VECTOR_GROUP,
        local_name="xfm1",
        **XFM1,
    )
    b.published_loads(SPOT_LOADS, DISTRIBUTED_LOADS)
    b.capacitors(CAPACITORS, vn_kv=FEEDER_KV)
    return b.buses


def ieee34(regulator_tap_pos: dict[str, int] | None = None) -> pp.pandapowerNet:
    """IEEE 34 Node Test Feeder, balanced, 60 Hz, not solved.

    36 buses (the 34 IEEE nodes, 814r, 852r), 32 lines, 3 transformers ("reg1",
    "reg2" OLTCs, "xfm1"), 44 loads (6 spot + 19 distributed split in halves;
    1.769 MW + 1.044 Mvar), 2 switched shunts ("cap 844" 3 x 0.1 Mvar, "cap 848"
    3 x 0.15 Mvar), ext_grid "source" at node 800, 1.05 pu.
    """
    net = pp.create_empty_network(name=NAME, f_hz=60.0)
    buses = add_ieee34_feeder(net, regulator_tap_pos=regulator_tap_pos)
    pp.create_ext_grid(net, buses["800"], vm_pu=SOURCE_VM_PU, va_degree=0.0, name="source")
    return net
