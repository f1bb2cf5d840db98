"""IEEE 13 Node Test Feeder as a balanced positive-sequence pandapower model.

Source: "IEEE 13 Node Test Feeder", IEEE PES Distribution System Analysis
Subcommittee (W. H. Kersting, "Radial distribution test feeders", 2001): line
segment data, configurations 601-607 (see :mod:`powergrid.networks.line_configs`),
transformer data, regulator data, spot and distributed loads, shunt capacitors.
Bus coordinates: OpenDSS ``IEEETestCases/13Bus/IEEE13Node_BusXY.csv``.

Modelling choices (balanced equivalent of an unbalanced feeder)
--------------------------------------------------------------
* Per-phase spot loads are summed into one three-phase constant-PQ load; the
  published load model (wye/delta, PQ/I/Z) is recorded in the data but not used.
* The 632-671 distributed load (200 kW + 116 kvar) is split half/half between
  the segment's end buses 632 and 671 (no extra bus).
* Source: 115 kV ext_grid at 1.0 pu behind the substation transformer "sub"
  with the published rating (5 MVA, 115 kV D / 4.16 kV Gr.Y) and the published
  R 1 % / X 8 % divided by 1000 (:data:`SUBSTATION_STIFF`), as OpenDSS'
  IEEE13Nodeckt.dss does ("XHL=(8 1000 /)", "%r=(.5 1000 /)" per winding): the
  published solution starts at 650 = 1.0000 pu on all phases, i.e. a
  substation bus held at 1.0 pu, as the substation's LTC / bus regulation
  does. (With the published impedance and the source at 1.0, 650 sat at 0.962
  pu and the regulator needed +14 of 16 steps.) The published 8 % is kept
  where the transformer is a real element of the network: the microgrids'
  PCC transformers (:data:`SUBSTATION`, :mod:`powergrid.networks.microgrids`).
* The three single-phase regulators 650-RG60 (+/-16 x 0.625 %) become one
  three-phase OLTC (tap on RG60's side). The published base-case taps are
  +10 / +8 / +11 (phases a / b / c); we use one tap, :data:`REGULATOR_TAP_POS`
  = +10, the rounded mean (9.67) of the three. Its impedance is OpenDSS'
  near-ideal 0.01 % on 1,666 kVA per phase (:data:`REGULATOR_IMPEDANCE`,
  0.0101 % on the model's 5.04 MVA). Behind the stiff substation, Newton-Raphson
  converges from a flat start at every tap -16..16 with it (measured, pandapower
  and lightsim2grid); behind the published 8 % it did not (24 of 33 taps fail),
  which is why microgrids raises it (``regulator_min_x_percent``).
* Lines: the two-phase (603, 604) and single-phase (605, 607) laterals are
  three-phase lines with the balanced equivalent of their impedance (3/n x R
  and X, n/3 x C; see :mod:`powergrid.networks.line_configs`).
* Capacitors: 675 (3 x 200 kvar, one per phase) is a switched shunt with three
  0.2 Mvar steps; 611 (100 kvar, phase c) one step of 0.1 Mvar. Both are in.
* The 671-692 switch is a closed bus-bus switch named "671-692".
"""

from __future__ import annotations

import pandapower as pp

from powergrid.networks._elements import (
    XY,
    Builder,
    DistributedLoad,
    RegulatorControl,
    RegulatorImpedance,
    ShuntCapacitor,
    SpotLoad,
    XYTransform,
    balanced_capacitor_steps,
    identity_xy,
)
from powergrid.networks.line_configs import (
    IEEE13_CONFIGS,
    register_line_std_types,
    std_type_name,
)

NAME = "ieee13"
SOURCE_KV = 115.0
FEEDER_KV = 4.16
LV_KV = 0.48

# Published base-case regulator taps per phase a, b, c: +10 / +8 / +11 (report,
# "Power-Flow Results", regulator taps; OpenDSS IEEE13Nodeckt.dss "Taps=[1.0 1.0625]"
# / "[1.0 1.0500]" / "[1.0 1.06875]"). The three-phase model uses them as they are.
PUBLISHED_REGULATOR_TAPS: tuple[int, int, int] = (10, 8, 11)
# Balanced base-case tap: their rounded mean 9.67 -> +10 (RG60 at 1.0625 pu at
# 650 = 1.0), 6 steps of headroom.
REGULATOR_TAP_POS = round(sum(PUBLISHED_REGULATOR_TAPS) / len(PUBLISHED_REGULATOR_TAPS))
# Regulator ID 1 (report, "Regulator Data"): on segment 650-632 at 650, phases A-B-C,
# three single-phase units wye-connected ("3-Ph,LG"), each monitoring its own phase;
# bandwidth 2.0 V, PT ratio 20, primary CT rating 700 A, compensator R 3 / 3 / 3 V,
# X 9 / 9 / 9 V, voltage level 122 / 122 / 122 V (120 V base). OpenDSS
# IEEE13Nodeckt.dss: "vreg=122 band=2 ptratio=20 ctprim=700 R=3 X=9".
REGULATOR_CONTROL = RegulatorControl(
    vreg_v=(122.0, 122.0, 122.0),
    band_v=2.0,
    pt_ratio=20.0,
    ct_primary_a=700.0,
    r_v=(3.0, 3.0, 3.0),
    x_v=(9.0, 9.0, 9.0),
)
# The regulator sits between 650 and its output node RG60 (the report's "RG60" row).
REGULATOR_BUSES = ("650", "RG60")
# Regulator rating from its primary CT (700 A) at 4.16 kV: sqrt(3) * 4.16 * 0.7.
REGULATOR_SN_MVA = 3**0.5 * FEEDER_KV * REGULATOR_CONTROL.ct_primary_a / 1000.0
# Regulator impedance: X 0.01 %, R 0.01 % on 1,666 kVA per phase, OpenDSS
# IEEE13Nodeckt.dss ("Transformer.Reg1 phases=1 XHL=0.01 kVAs=[1666 1666] ...
# %LoadLoss=0.01"; the IEEE report gives none). Near-ideal, as the published
# solution treats the regulator: X 0.0101 % on the model's 5.04 MVA.
# Floor for X on 5.04 MVA (see :meth:`RegulatorImpedance.on_base`): none needed here.
REGULATOR_MIN_X_PERCENT = 0.0
REGULATOR_IMPEDANCE = RegulatorImpedance(r_percent=0.01, x_percent=0.01, kva_per_phase=1666.0)

# OpenDSS IEEE13Node_BusXY.csv (650 at y = 350, between SourceBus and RG60).
BUS_XY: dict[str, XY] = {
    "sourcebus": (200.0, 400.0),
    "650": (200.0, 350.0),
    "RG60": (200.0, 300.0),
    "646": (0.0, 250.0),
    "645": (100.0, 250.0),
    "632": (200.0, 250.0),
    "633": (350.0, 250.0),
    "634": (400.0, 250.0),
    "611": (0.0, 100.0),
    "684": (100.0, 100.0),
    "671": (200.0, 100.0),
    "692": (250.0, 100.0),
    "675": (400.0, 100.0),
    "652": (100.0, 0.0),
    "680": (200.0, 0.0),
}

FEEDER_BUSES_KV: list[tuple[str, float]] = [
    ("650", FEEDER_KV),
    ("RG60", FEEDER_KV),
    ("632", FEEDER_KV),
    ("633", FEEDER_KV),
    ("634", LV_KV),
    ("645", FEEDER_KV),
    ("646", FEEDER_KV),
    ("671", FEEDER_KV),
    ("692", FEEDER_KV),
    ("675", FEEDER_KV),
    ("684", FEEDER_KV),
    ("611", FEEDER_KV),
    ("652", FEEDER_KV),
    ("680", FEEDER_KV),
]

# Line segment data: (node A, node B, length ft, config). "650-632" runs from the
# regulator output RG60; 633-634 is XFM-1 and 671-692 the switch (both below). A
# line's phases are its configuration's (:data:`IEEE13_CONFIGS`, "Phasing": 601
# B A C N, 602 C A B N, 603 C B N, 604 A C N, 605 C N, 606 A B C N, 607 A N); the
# three-phase model reads them from there.
LINES: list[tuple[str, str, float, str]] = [
    ("632", "645", 500.0, "603"),
    ("632", "633", 500.0, "602"),
    ("645", "646", 300.0, "603"),
    ("RG60", "632", 2000.0, "601"),
    ("684", "652", 800.0, "607"),
    ("632", "671", 2000.0, "601"),
    ("671", "684", 300.0, "604"),
    ("671", "680", 1000.0, "601"),
    ("684", "611", 300.0, "605"),
    ("692", "675", 500.0, "606"),
]

# Spot load data: (kW, kvar) per column Ph-1, Ph-2, Ph-3 (wye: phase a, b, c; delta:
# a-b, b-c, c-a, see :data:`powergrid.networks._elements.DELTA_COLUMNS`) and the load
# model. Total 3,266 kW + 1,986 kvar.
SPOT_LOADS: list[SpotLoad] = [
    SpotLoad("634", "Y-PQ", ((160.0, 110.0), (120.0, 90.0), (120.0, 90.0))),
    SpotLoad("645", "Y-PQ", ((0.0, 0.0), (170.0, 125.0), (0.0, 0.0))),
    SpotLoad("646", "D-Z", ((0.0, 0.0), (230.0, 132.0), (0.0, 0.0))),
    SpotLoad("652", "Y-Z", ((128.0, 86.0), (0.0, 0.0), (0.0, 0.0))),
    SpotLoad("671", "D-PQ", ((385.0, 220.0), (385.0, 220.0), (385.0, 220.0))),
    SpotLoad("675", "Y-PQ", ((485.0, 190.0), (68.0, 60.0), (290.0, 212.0))),
    SpotLoad("692", "D-I", ((0.0, 0.0), (0.0, 0.0), (170.0, 151.0))),
    SpotLoad("611", "Y-I", ((0.0, 0.0), (0.0, 0.0), (170.0, 80.0))),
]

# Distributed load data: 200 kW + 116 kvar on 632-671, Y-PQ, uniformly along the segment.
DISTRIBUTED_LOADS: list[DistributedLoad] = [
    DistributedLoad("632", "671", "Y-PQ", ((17.0, 10.0), (66.0, 38.0), (117.0, 68.0))),
]

# Shunt capacitor data (kvar per phase a, b, c): 675 200 / 200 / 200; 611 100 on phase c.
SHUNT_CAPACITORS: list[ShuntCapacitor] = [
    ShuntCapacitor("675", (200.0, 200.0, 200.0)),
    ShuntCapacitor("611", (0.0, 0.0, 100.0)),
]
# The balanced model's switched shunts: one step per phase unit, 675 3 x 0.2 Mvar,
# 611 1 x 0.1 Mvar.
CAPACITORS: list[tuple[str, float, int]] = balanced_capacitor_steps(SHUNT_CAPACITORS)

# Transformer data: substation 5,000 kVA 115 kV D / 4.16 kV Gr.Y, R 1 %, X 8 %;
# XFM-1 500 kVA 4.16 kV Gr.W / 0.48 kV Gr.W, R 1.1 %, X 2 % (connections as pandapower
# vector groups: the HV winding's letter first, "n" a grounded LV neutral).
SUBSTATION_VECTOR_GROUP = "Dyn"
XFM1_VECTOR_GROUP = "YNyn"
XFM1_BUSES = ("633", "634")
# The switch on segment 671-692 (closed in the published case).
SWITCH_BUSES = ("671", "692")
SUBSTATION = {"sn_mva": 5.0, "r_percent": 1.0, "x_percent": 8.0}
# The standalone feeder's substation: published impedance / 1000 (OpenDSS IEEE13Nodeckt.dss,
# module docstring), so that 650 sits at the published 1.0 pu.
SUBSTATION_STIFF = {"sn_mva": 5.0, "r_percent": 1.0 / 1000, "x_percent": 8.0 / 1000}
XFM1 = {"sn_mva": 0.5, "r_percent": 1.1, "x_percent": 2.0}


def add_ieee13_feeder(
    net: pp.pandapowerNet,
    hv_bus: int,
    *,
    hv_kv: float,
    prefix: str = "",
    zone: str = NAME,
    xy: XYTransform = identity_xy,
    load_scale: float = 1.0,
    regulator_tap_pos: int = REGULATOR_TAP_POS,
    regulator_min_x_percent: float | None = None,
    substation: dict[str, float] = SUBSTATION,
) -> dict[str, int]:
    """Add the IEEE 13 feeder below ``hv_bus`` (its substation's HV side, ``hv_kv`` kV).

    Adds buses 650 ... 680 (+RG60), the substation transformer ``hv_bus``->650,
    the regulator, lines, XFM-1, switch, loads (times ``load_scale``) and
    capacitors. Names get ``prefix``; buses get ``zone``.
    ``regulator_min_x_percent`` overrides :data:`REGULATOR_MIN_X_PERCENT` (a
    floor for the regulator's X, for flat-start convergence behind a weak
    source); ``substation`` is the transformer data (default the published
    :data:`SUBSTATION`). Returns IEEE bus name ->
    pandapower bus index.
    """
    b = Builder(net, prefix=prefix, zone=zone, xy=xy)
    register_line_std_types(net, IEEE13_CONFIGS)
    b.buses_from(FEEDER_BUSES_KV, BUS_XY)

    b.transformer(
        hv_bus,
        "650",
        vn_hv_kv=hv_kv,
        vn_lv_kv=FEEDER_KV,
        vector_group=SUBSTATION_VECTOR_GROUP,
        local_name="sub",
        **substation,
    )
    b.regulator(
        *REGULATOR_BUSES,
        vn_kv=FEEDER_KV,
        sn_mva=REGULATOR_SN_MVA,
        impedance=REGULATOR_IMPEDANCE,
        min_x_percent=(
            REGULATOR_MIN_X_PERCENT if regulator_min_x_percent is None else regulator_min_x_percent
        ),
        tap_pos=regulator_tap_pos,
        local_name="reg1",
    )
    b.lines(
        (f, t, length_ft, std_type_name(IEEE13_CONFIGS[config]))
        for f, t, length_ft, config in LINES
    )
    xfm1_hv = b.buses[XFM1_BUSES[0]]
    b.transformer(
        xfm1_hv,
        XFM1_BUSES[1],
        vn_hv_kv=FEEDER_KV,
        vn_lv_kv=LV_KV,
        vector_group=XFM1_VECTOR_GROUP,
        local_name="xfm1",
        **XFM1,
    )
    pp.create_switch(
        net,
        b.buses[SWITCH_BUSES[0]],
        b.buses[SWITCH_BUSES[1]],
        et="b",
        closed=True,
        type="LBS",
        name=b.name("-".join(SWITCH_BUSES)),
    )
    b.published_loads(SPOT_LOADS, DISTRIBUTED_LOADS, scale=load_scale)
    b.capacitors(CAPACITORS, vn_kv=FEEDER_KV)
    return b.buses


def ieee13(regulator_tap_pos: int = REGULATOR_TAP_POS) -> pp.pandapowerNet:
    """IEEE 13 Node Test Feeder, balanced, 60 Hz, not solved.

    15 buses (sourcebus 115 kV, RG60 and the 13 IEEE nodes), 10 lines, 3
    transformers ("sub", "reg1" OLTC, "xfm1"), 10 loads (3.466 MW + 2.102 Mvar),
    2 switched shunts ("cap 675" 3 x 0.2 Mvar, "cap 611" 0.1 Mvar), the
    bus-bus switch "671-692", ext_grid "source" at 1.0 pu; "sub" is
    :data:`SUBSTATION_STIFF`.
    """
    net = pp.create_empty_network(name=NAME, f_hz=60.0)
    b = Builder(net, prefix="", zone=NAME)
    source = b.bus("sourcebus", SOURCE_KV, BUS_XY["sourcebus"])
    pp.create_ext_grid(net, source, vm_pu=1.0, va_degree=0.0, name="source")
    add_ieee13_feeder(
        net,
        source,
        hv_kv=SOURCE_KV,
        regulator_tap_pos=regulator_tap_pos,
        substation=SUBSTATION_STIFF,
    )
    return net
