"""The IEEE 13 Node Test Feeder as a three-phase OpenDSS circuit, generated from the
balanced builder's tables (:mod:`powergrid.networks.ieee13`,
:mod:`powergrid.networks.line_configs`): one source of numbers.

Source of the data: "IEEE 13 Node Test Feeder", IEEE PES Distribution System
Analysis Subcommittee (W. H. Kersting, "Radial distribution test feeders", 2001).
Everything the balanced model averages away is kept:

* lines on their configuration's phases with the published phase impedance and
  shunt susceptance matrices (601-607);
* every spot-load column on its own phase (wye) or phase pair (delta) with its
  published model (Y-PQ, Y-I, Y-Z, D-PQ, D-I, D-Z);
* the 632-671 distributed load by Kersting's "exact lumped load model"
  (:mod:`.feeder`): node "670" (:data:`DISTRIBUTED_LOAD_NODE`) at 500 ft from 632
  takes 2/3, 671 1/3;
* three single-phase regulators 650-RG60 with a tap each and their published
  line-drop compensator settings (as ``RegControl`` elements, active only when a
  solve asks for automatic control);
* the capacitors 675 (200 kvar on each phase) and 611 (100 kvar on phase c), a
  single-phase unit per phase;
* the substation transformer (D / Gr.Y, :data:`powergrid.networks.ieee13.SUBSTATION_STIFF`, as the
  balanced model) and XFM-1 (Gr.Y / Gr.Y, 633-634);
* the closed 671-692 switch.

Not from the IEEE report (it has none of them), taken from OpenDSS'
IEEE13Nodeckt.dss as the balanced builder takes them: the regulator impedance
(:data:`powergrid.networks.ieee13.REGULATOR_IMPEDANCE`), the source short-circuit levels
(:data:`SOURCE_MVASC3`, :data:`SOURCE_MVASC1`) and the source angle 30 degrees
(so that 650, behind the delta-wye substation, sits at 0 degrees).
"""

from __future__ import annotations

from collections.abc import Sequence

from powergrid.networks.ieee13 import (
    DISTRIBUTED_LOADS,
    FEEDER_BUSES_KV,
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
    SUBSTATION_STIFF,
    SUBSTATION_VECTOR_GROUP,
    SWITCH_BUSES,
    XFM1,
    XFM1_BUSES,
    XFM1_VECTOR_GROUP,
)
from powergrid.networks.line_configs import IEEE13_CONFIGS
from powergrid.networks.three_phase.feeder import (
    SUBSTATION_NAME,
    Feeder,
    RegulatorBank,
    Segment,
    Source,
    transformer,
)
from powergrid.networks.three_phase.opendss import OpenDSSCircuit

NAME = "ieee13"
#: Source short-circuit levels, MVA (OpenDSS IEEE13Nodeckt.dss "MVAsc3=20000
#: MVASC1=21000"): a stiff source, as the balanced model's ext_grid.
SOURCE_MVASC3 = 20000.0
SOURCE_MVASC1 = 21000.0
#: Source angle, degrees (OpenDSS IEEE13Nodeckt.dss "Angle=30"): the delta-wye
#: substation shifts by -30 degrees, so 650 phase a sits at 0 as published.
SOURCE_ANGLE_DEG = 30.0
#: The node that carries the distributed load's lumped share (OpenDSS names its
#: node on that segment 670 too).
DISTRIBUTED_LOAD_NODE = "670"

#: The IEEE 13 feeder's data, all from the balanced builder's tables.
IEEE13 = Feeder(
    name=NAME,
    source=Source("sourcebus", SOURCE_KV, 1.0, SOURCE_ANGLE_DEG, SOURCE_MVASC3, SOURCE_MVASC1),
    substation=transformer(SUBSTATION_NAME, ("sourcebus", "650"), SUBSTATION_VECTOR_GROUP,
                           (SOURCE_KV, FEEDER_KV), SUBSTATION_STIFF),
    buses_kv=tuple(FEEDER_BUSES_KV),
    lines=tuple(LINES),
    configs=IEEE13_CONFIGS,
    regulators=(RegulatorBank("reg1", *REGULATOR_BUSES, REGULATOR_IMPEDANCE, REGULATOR_CONTROL,
                              PUBLISHED_REGULATOR_TAPS),),
    spot_loads=tuple(SPOT_LOADS),
    distributed_loads=tuple(DISTRIBUTED_LOADS),
    capacitors=tuple(SHUNT_CAPACITORS),
    transformers=(transformer("xfm1", XFM1_BUSES, XFM1_VECTOR_GROUP, (FEEDER_KV, LV_KV), XFM1),),
    switches=(SWITCH_BUSES,),
    lumped_nodes={(dl.from_bus, dl.to_bus): DISTRIBUTED_LOAD_NODE for dl in DISTRIBUTED_LOADS},
)

#: The regulator units, one per phase: (phase, OpenDSS transformer / regcontrol name).
REGULATOR_UNITS: tuple[tuple[str, str], ...] = tuple(zip("abc", IEEE13.regulator_units,
                                                         strict=True))


def segments() -> list[Segment]:
    """The published line segments (:data:`powergrid.networks.ieee13.LINES`), the
    distributed-load segment cut at :data:`DISTRIBUTED_LOAD_NODE`."""
    return IEEE13.segments()


def bus_kv() -> dict[str, float]:
    """Every bus of the circuit and its line-to-line base voltage (kV)."""
    return IEEE13.bus_kv()


def bus_phases() -> dict[str, str]:
    """The phases each bus has ("abc", "bc", "c", ...)."""
    return IEEE13.bus_phases()


def load_names() -> list[str]:
    """The OpenDSS names of the loads, in circuit order ("634a", "646bc", ...)."""
    return IEEE13.load_names()


def ieee13_dss(
    regulator_taps: Sequence[int] = PUBLISHED_REGULATOR_TAPS,
    *,
    load_scale: float = 1.0,
    capacitors_in: bool = True,
) -> list[str]:
    """OpenDSS commands that build the three-phase IEEE 13 circuit, one element each.

    ``regulator_taps``: the tap of each regulator unit, phases a, b, c (-16..16,
    0.625 % each; default the published +10 / +8 / +11). ``load_scale`` multiplies
    every load's kW and kvar. ``capacitors_in``: the published case has every
    capacitor unit in. The commands end with the voltage bases (115 / 4.16 /
    0.48 kV); they do not solve.
    """
    return IEEE13.commands(regulator_taps, load_scale=load_scale, capacitors_in=capacitors_in)


def ieee13_circuit(
    regulator_taps: Sequence[int] = PUBLISHED_REGULATOR_TAPS,
    *,
    load_scale: float = 1.0,
    capacitors_in: bool = True,
) -> OpenDSSCircuit:
    """The three-phase IEEE 13 (:func:`ieee13_dss`) loaded into its own OpenDSS
    engine, not yet solved. Its snapshots measure the feeder's input at 650 (the
    substation transformer's secondary), where the report's "System Input" is."""
    return IEEE13.circuit(regulator_taps, load_scale=load_scale, capacitors_in=capacitors_in)
