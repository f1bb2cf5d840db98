"""The IEEE 34 Node Test Feeder as a three-phase OpenDSS circuit, generated from the
balanced builder's tables (:mod:`powergrid.networks.ieee34`,
:mod:`powergrid.networks.line_configs`): one source of numbers.

Source of the data: "IEEE 34 Node Test Feeder", IEEE PES Distribution System
Analysis Subcommittee (W. H. Kersting, "Radial distribution test feeders", 2001).
Everything the balanced model averages away is kept:

* lines on their configuration's phases with the published phase impedance and
  shunt susceptance matrices (300-304): the single-phase laterals 816-818-820-822
  and 858-864 on phase a (302), 808-810, 824-826, 854-856 on phase b (303), 862-838
  on phase b (304);
* every spot-load column on its own phase (wye) or phase pair (delta) with its
  published model (Y-PQ, Y-I, Y-Z, D-PQ, D-I, D-Z);
* the 19 distributed loads by Kersting's "exact lumped load model" (:mod:`.feeder`):
  a node "<from>_<to>" at a quarter of each segment takes 2/3, the far end 1/3;
* the two banks of three single-phase regulators, 814-814r ("RG10", then the 10 ft
  segment to 850) and 852-852r ("RG11", then 832), with a tap each and their
  published line-drop compensator settings (``RegControl`` elements, active only
  when a solve asks for automatic control);
* the capacitors 844 (100 kvar a phase) and 848 (150 kvar a phase), a single-phase
  unit per phase;
* the substation transformer (D / Gr.Y, 69 / 24.9 kV,
  :data:`powergrid.networks.ieee34.SUBSTATION_STIFF`) and XFM-1 (Gr.Y / Gr.Y,
  24.9 / 4.16 kV, 832-888).

Not from the IEEE report (it has none of them), taken from OpenDSS'
ieee34Mod1.dss as the balanced builder takes them: the regulator impedance
(:data:`powergrid.networks.ieee34.REGULATOR_IMPEDANCE`, X 1 % on 20 MVA per phase:
the published one, not the balanced model's convergence floor), the source
short-circuit level (:data:`SOURCE_MVASC3`) and the source angle 30 degrees (so
that 800, behind the delta-wye substation, sits at 0 degrees).

Not in the report at all: the substation's on-load tap changer
(:data:`powergrid.networks.ieee34.SUBSTATION_LTC`, the project's settings, the reasons
there). The source holds its nominal 69 kV (1.0 pu) and the LTC starts at +5 %, so 800
sits at the published 1.05 pu; its ``RegControl`` is disabled in the circuit (the
published cases hold 800 there) and enabled by the scenarios' grid model
(:class:`powergrid.phase_gridmodel.ThreePhaseGridModel`), where it follows the load.
"""

from __future__ import annotations

from collections.abc import Sequence

from powergrid.networks.ieee34 import (
    BUSES_KV,
    DISTRIBUTED_LOADS,
    FEEDER_KV,
    LINES,
    LV_KV,
    PUBLISHED_REGULATOR_TAPS,
    REGULATOR_BUSES,
    REGULATOR_CONTROL,
    REGULATOR_IMPEDANCE,
    SHUNT_CAPACITORS,
    SOURCE_KV,
    SPOT_LOADS,
    SUBSTATION_LTC,
    SUBSTATION_SOURCE_PU,
    SUBSTATION_STIFF,
    SUBSTATION_VECTOR_GROUP,
    XFM1,
    XFM1_BUSES,
    XFM1_VECTOR_GROUP,
)
from powergrid.networks.line_configs import IEEE34_CONFIGS
from powergrid.networks.three_phase.feeder import (
    SUBSTATION_NAME,
    Feeder,
    RegulatorBank,
    Source,
    transformer,
)
from powergrid.networks.three_phase.opendss import OpenDSSCircuit

NAME = "ieee34"
#: Source short-circuit level, MVA (OpenDSS ieee34Mod1.dss "mvasc3=200000 !stiffen
#: up a bit over DSS default"): a stiff source, as the balanced model's ext_grid.
SOURCE_MVASC3 = 200000.0
#: Source angle, degrees (OpenDSS ieee34Mod1.dss "angle=30"): the delta-wye
#: substation shifts by -30 degrees, so 800 phase a sits at 0 as published.
SOURCE_ANGLE_DEG = 30.0
#: The substation's primary (not in the report; OpenDSS' name).
SOURCE_BUS = "sourcebus"

#: The IEEE 34 feeder's data, all from the balanced builder's tables.
IEEE34 = Feeder(
    name=NAME,
    source=Source(SOURCE_BUS, SOURCE_KV, SUBSTATION_SOURCE_PU, SOURCE_ANGLE_DEG,
                  SOURCE_MVASC3),
    substation=transformer(SUBSTATION_NAME, (SOURCE_BUS, "800"), SUBSTATION_VECTOR_GROUP,
                           (SOURCE_KV, FEEDER_KV), SUBSTATION_STIFF),
    buses_kv=tuple(BUSES_KV),
    lines=tuple(LINES),
    configs=IEEE34_CONFIGS,
    regulators=tuple(
        RegulatorBank(name, *REGULATOR_BUSES[name], REGULATOR_IMPEDANCE,
                      REGULATOR_CONTROL[name], taps)
        for name, taps in PUBLISHED_REGULATOR_TAPS.items()
    ),
    spot_loads=tuple(SPOT_LOADS),
    distributed_loads=tuple(DISTRIBUTED_LOADS),
    capacitors=tuple(SHUNT_CAPACITORS),
    transformers=(transformer("xfm1", XFM1_BUSES, XFM1_VECTOR_GROUP, (FEEDER_KV, LV_KV), XFM1),),
    substation_ltc=SUBSTATION_LTC,
)


def ieee34_dss(
    regulator_taps: Sequence[int] | None = None,
    *,
    load_scale: float = 1.0,
    capacitors_in: bool = True,
) -> list[str]:
    """OpenDSS commands that build the three-phase IEEE 34 circuit, one element each.

    ``regulator_taps``: six taps, regulator 1 phases a, b, c then regulator 2
    (-16..16, 0.625 % each; default the published +12 / +5 / +5, +13 / +11 / +12).
    ``load_scale`` multiplies every load's kW and kvar. ``capacitors_in``: the
    published case has every capacitor unit in. The commands end with the voltage
    bases (69 / 24.9 / 4.16 kV); they do not solve.
    """
    return IEEE34.commands(regulator_taps, load_scale=load_scale, capacitors_in=capacitors_in)


def ieee34_circuit(
    regulator_taps: Sequence[int] | None = None,
    *,
    load_scale: float = 1.0,
    capacitors_in: bool = True,
) -> OpenDSSCircuit:
    """The three-phase IEEE 34 (:func:`ieee34_dss`) loaded into its own OpenDSS
    engine, not yet solved. Its snapshots measure the feeder's input at 800 (the
    substation transformer's secondary), where the report's "System Input" is."""
    return IEEE34.circuit(regulator_taps, load_scale=load_scale, capacitors_in=capacitors_in)
