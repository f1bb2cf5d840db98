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
* the 632-671 distributed load by Kersting's "exact lumped load model" (Kersting,
  "Distribution System Modeling and Analysis", chapter 3, "The Exact Lumped Load
  Model": a load uniformly distributed along a segment of length l gives the same
  voltage drop *and* the same losses as 2/3 of it at l/4 and 1/3 at the far end):
  node "670"
  (:data:`DISTRIBUTED_LOAD_NODE`) at 500 ft from 632 takes 2/3, 671 1/3;
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

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import powergrid.networks.three_phase.dss as dss
from powergrid.networks._elements import (
    REGULATOR_TAP_MAX,
    REGULATOR_TAP_STEP_PERCENT,
    DistributedLoad,
    SpotLoad,
)
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
#: node on that segment 670 too) and where it sits: Kersting's exact lumped load
#: model, 2/3 of the load at a quarter of the segment, 1/3 at its far end.
DISTRIBUTED_LOAD_NODE = "670"
DISTRIBUTED_LOAD_POSITION = 0.25
DISTRIBUTED_LOAD_NODE_SHARE = 2.0 / 3.0

#: The regulator units, one per phase: (phase, OpenDSS transformer / regcontrol name).
REGULATOR_UNITS: tuple[tuple[str, str], ...] = (("a", "reg1a"), ("b", "reg1b"), ("c", "reg1c"))


@dataclass(frozen=True)
class Segment:
    """One line of the three-phase circuit: endpoints, length (ft), configuration."""

    from_bus: str
    to_bus: str
    length_ft: float
    config: str

    @property
    def name(self) -> str:
        return f"{self.from_bus}-{self.to_bus}"

    @property
    def phases(self) -> str:
        return IEEE13_CONFIGS[self.config].phases.lower()


def segments() -> list[Segment]:
    """The published line segments (:data:`powergrid.networks.ieee13.LINES`), the distributed-load
    segment cut at :data:`DISTRIBUTED_LOAD_NODE`."""
    cut = {(dl.from_bus, dl.to_bus) for dl in DISTRIBUTED_LOADS}
    out = []
    for f, t, length_ft, config in LINES:
        if (f, t) in cut:
            first = DISTRIBUTED_LOAD_POSITION * length_ft
            out.append(Segment(f, DISTRIBUTED_LOAD_NODE, first, config))
            out.append(Segment(DISTRIBUTED_LOAD_NODE, t, length_ft - first, config))
        else:
            out.append(Segment(f, t, length_ft, config))
    return out


def bus_kv() -> dict[str, float]:
    """Every bus of the circuit and its line-to-line base voltage (kV)."""
    kv = {"sourcebus": SOURCE_KV, **dict(FEEDER_BUSES_KV)}
    kv[DISTRIBUTED_LOAD_NODE] = FEEDER_KV
    return kv


def bus_phases() -> dict[str, str]:
    """The phases each bus has ("abc", "bc", "c", ...): those of the lines at it; the
    transformers, regulators and the switch are three-phase."""
    phases: dict[str, set[str]] = {bus: set() for bus in bus_kv()}
    three = [("sourcebus", "650"), REGULATOR_BUSES, XFM1_BUSES,
             SWITCH_BUSES]
    for f, t in three:
        phases[f].update(dss.PHASES)
        phases[t].update(dss.PHASES)
    for seg in segments():
        phases[seg.from_bus].update(seg.phases)
        phases[seg.to_bus].update(seg.phases)
    return {bus: "".join(sorted(ph)) for bus, ph in phases.items()}


def _load_columns(
    spot: Iterable[SpotLoad], distributed: Iterable[DistributedLoad], scale: float
) -> list[tuple[str, str, str, str, float, float]]:
    """(name, bus, phases, model, kW, kvar) of every published load column that
    carries load; the distributed load split by the exact lumped load model."""
    rows = []
    for sl in spot:
        for ph, p, q in sl.columns():
            rows.append((f"{sl.bus}{ph}", sl.bus, ph, sl.model, scale * p, scale * q))
    share = {DISTRIBUTED_LOAD_NODE: DISTRIBUTED_LOAD_NODE_SHARE}
    for dl in distributed:
        share[dl.to_bus] = 1.0 - DISTRIBUTED_LOAD_NODE_SHARE
        for bus in (DISTRIBUTED_LOAD_NODE, dl.to_bus):
            for ph, p, q in dl.columns():
                name = f"{dl.from_bus}-{dl.to_bus}@{bus}{ph}"
                k = scale * share[bus]
                rows.append((name, bus, ph, dl.model, k * p, k * q))
    return rows


def load_names() -> list[str]:
    """The OpenDSS names of the loads, in circuit order ("634a", "646bc", ...)."""
    rows = _load_columns(SPOT_LOADS, DISTRIBUTED_LOADS, 1.0)
    return [name for name, *_ in rows]


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
    if len(regulator_taps) != len(REGULATOR_UNITS):
        raise ValueError(f"regulator_taps: one per phase a, b, c, got {list(regulator_taps)}")
    for tap in regulator_taps:
        if not -REGULATOR_TAP_MAX <= tap <= REGULATOR_TAP_MAX:
            raise ValueError(f"regulator tap {tap} outside -{REGULATOR_TAP_MAX}..+"
                             f"{REGULATOR_TAP_MAX}")
    kv = bus_kv()
    cmds = [
        "Clear",
        "Set DefaultBaseFrequency=60",
        f"New Circuit.{NAME} basekv={SOURCE_KV:g} pu=1.0 phases=3 bus1=sourcebus"
        f" angle={SOURCE_ANGLE_DEG:g} MVAsc3={SOURCE_MVASC3:g} MVAsc1={SOURCE_MVASC1:g}",
        dss.transformer(
            "sub", "sourcebus", "650", vector_group=SUBSTATION_VECTOR_GROUP,
            kv_hv=SOURCE_KV, kv_lv=FEEDER_KV, sn_mva=SUBSTATION_STIFF["sn_mva"],
            r_percent=SUBSTATION_STIFF["r_percent"], x_percent=SUBSTATION_STIFF["x_percent"],
        ),
    ]
    imp = REGULATOR_IMPEDANCE
    ctl = REGULATOR_CONTROL
    reg_from, reg_to = REGULATOR_BUSES
    for k, ((ph, name), tap) in enumerate(zip(REGULATOR_UNITS, regulator_taps, strict=True)):
        cmds.append(dss.regulator_unit(
            name, reg_from, reg_to, ph, kv_ln=FEEDER_KV / 3**0.5,
            kva=imp.kva_per_phase, r_percent=imp.r_percent, x_percent=imp.x_percent,
            tap_max=REGULATOR_TAP_MAX, tap_step_percent=REGULATOR_TAP_STEP_PERCENT, tap=tap,
        ))
        cmds.append(dss.regcontrol(
            name, name, vreg_v=ctl.vreg_v[k], band_v=ctl.band_v, pt_ratio=ctl.pt_ratio,
            ct_primary_a=ctl.ct_primary_a, r_v=ctl.r_v[k], x_v=ctl.x_v[k],
        ))
    cmds.extend(dss.linecode(config) for config in IEEE13_CONFIGS.values())
    cmds.extend(dss.line(s.name, s.from_bus, s.to_bus, IEEE13_CONFIGS[s.config], s.length_ft)
                for s in segments())
    cmds.append(dss.switch("-".join(SWITCH_BUSES), *SWITCH_BUSES))
    cmds.append(dss.transformer(
        "xfm1", XFM1_BUSES[0], XFM1_BUSES[1], vector_group=XFM1_VECTOR_GROUP,
        kv_hv=FEEDER_KV, kv_lv=LV_KV, sn_mva=XFM1["sn_mva"], r_percent=XFM1["r_percent"],
        x_percent=XFM1["x_percent"],
    ))
    for name, bus, ph, model, p, q in _load_columns(
        SPOT_LOADS, DISTRIBUTED_LOADS, load_scale
    ):
        connection, kind = model.split("-")
        cmds.append(dss.load(name, bus, ph, connection=connection, kind=kind, kv_ll=kv[bus],
                             kw=p, kvar=q))
    if capacitors_in:
        for bank in SHUNT_CAPACITORS:
            for ph, kvar in zip(dss.PHASES, bank.phase_kvar, strict=True):
                if kvar:
                    cmds.append(dss.capacitor(f"cap{bank.bus}{ph}", bank.bus, ph, kvar=kvar,
                                              kv_ll=kv[bank.bus]))
    bases = sorted(set(kv.values()), reverse=True)
    cmds.append("Set VoltageBases=[" + " ".join(f"{v:g}" for v in bases) + "]")
    cmds.append("CalcVoltageBases")
    return cmds


def ieee13_circuit(
    regulator_taps: Sequence[int] = PUBLISHED_REGULATOR_TAPS,
    *,
    load_scale: float = 1.0,
    capacitors_in: bool = True,
) -> OpenDSSCircuit:
    """The three-phase IEEE 13 (:func:`ieee13_dss`) loaded into its own OpenDSS
    engine, not yet solved. Its snapshots measure the feeder's input at 650 (the
    substation transformer's secondary), where the report's "System Input" is."""
    return OpenDSSCircuit(
        ieee13_dss(regulator_taps, load_scale=load_scale, capacitors_in=capacitors_in),
        bus_names=list(bus_kv()),
        regulators=[name for _, name in REGULATOR_UNITS],
        source_element="Transformer.sub",
        source_terminal=2,
        tap_step=REGULATOR_TAP_STEP_PERCENT / 100.0,
    )
