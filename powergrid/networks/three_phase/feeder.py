"""A radial test feeder's published data as one three-phase OpenDSS circuit.

A :class:`Feeder` holds what a feeder module (:mod:`.ieee13`, :mod:`.ieee34`) takes
from the balanced builder's tables, as they are: the source and substation, the
line segments with their configurations (phases and phase matrices), the regulator
banks (a single-phase unit per phase, with the published control settings), the
in-line transformers and switches, the spot and distributed loads per published
column, the capacitors per phase. :meth:`Feeder.commands` writes the circuit (one
OpenDSS element a line, :mod:`.dss`); :meth:`Feeder.circuit` loads it into an
engine (:class:`.opendss.OpenDSSCircuit`).

Distributed loads follow Kersting's "exact lumped load model" (Kersting,
"Distribution System Modeling and Analysis", chapter 3, "The Exact Lumped Load
Model": a load uniformly distributed along a segment of length l gives the same
voltage drop *and* the same losses as 2/3 of it at l/4 and 1/3 at the far end):
each such segment is cut at :data:`DISTRIBUTED_LOAD_POSITION` by a node of its own
(:attr:`Feeder.lumped_nodes`), which takes :data:`DISTRIBUTED_LOAD_NODE_SHARE`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import powergrid.networks.three_phase.dss as dss
from powergrid.devices.discrete import PHASES
from powergrid.networks._elements import (
    REGULATOR_TAP_MAX,
    REGULATOR_TAP_STEP_PERCENT,
    DistributedLoad,
    LoadTapChanger,
    RegulatorControl,
    RegulatorImpedance,
    ShuntCapacitor,
    SpotLoad,
)
from powergrid.networks.line_configs import LineConfig
from powergrid.networks.three_phase.opendss import OpenDSSCircuit

#: Kersting's exact lumped load model (module docstring): the node that stands for
#: a distributed load sits at a quarter of its segment and takes 2/3 of the load,
#: the segment's far end 1/3.
DISTRIBUTED_LOAD_POSITION = 0.25
DISTRIBUTED_LOAD_NODE_SHARE = 2.0 / 3.0
#: The name of a feeder's substation transformer; the feeder's input power is
#: measured at its secondary (where the IEEE reports' "System Input" is).
SUBSTATION_NAME = "sub"


@dataclass(frozen=True)
class Source:
    """The source: a three-phase ``Vsource`` at ``bus`` of ``kv`` (line-to-line) held
    at ``pu`` and ``angle_deg``, with short-circuit levels ``mvasc3`` / ``mvasc1``
    (MVA; ``None`` leaves OpenDSS' default)."""

    bus: str
    kv: float
    pu: float
    angle_deg: float
    mvasc3: float
    mvasc1: float | None = None


@dataclass(frozen=True)
class Transformer:
    """A three-phase two-winding transformer ``hv_bus``-``lv_bus`` from the published
    data: rating (MVA), line-to-line kV, total R % and X %, connections as a
    pandapower vector group (:data:`.dss.VECTOR_GROUP_CONNS`)."""

    name: str
    hv_bus: str
    lv_bus: str
    vector_group: str
    kv_hv: float
    kv_lv: float
    sn_mva: float
    r_percent: float
    x_percent: float


def transformer(
    name: str,
    buses: tuple[str, str],
    vector_group: str,
    kv: tuple[float, float],
    data: Mapping[str, float],
) -> Transformer:
    """A :class:`Transformer` on ``buses`` (HV, LV) of ``kv`` (HV, LV) from a builder's
    published transformer data ``{"sn_mva", "r_percent", "x_percent"}``."""
    return Transformer(name, buses[0], buses[1], vector_group, kv[0], kv[1],
                       sn_mva=data["sn_mva"], r_percent=data["r_percent"],
                       x_percent=data["x_percent"])


@dataclass(frozen=True)
class RegulatorBank:
    """Three single-phase step regulators ``from_bus`` -> ``to_bus`` (the output),
    one per phase a, b, c, each with its tap and its published control settings.
    ``impedance`` per unit on its own rating; ``published_taps`` those of the
    published power-flow results."""

    name: str
    from_bus: str
    to_bus: str
    impedance: RegulatorImpedance
    control: RegulatorControl
    published_taps: tuple[int, int, int]

    @property
    def units(self) -> tuple[str, str, str]:
        """The OpenDSS names of the units (and their RegControls), phases a, b, c."""
        a, b, c = (f"{self.name}{ph}" for ph in PHASES)
        return a, b, c


@dataclass(frozen=True)
class Segment:
    """One line of the circuit: endpoints, length (ft), configuration and its phases."""

    from_bus: str
    to_bus: str
    length_ft: float
    config: str
    phases: str

    @property
    def name(self) -> str:
        return area_join(self.from_bus, self.to_bus, "-")


def area_of(name: str) -> str:
    """The area prefix of a name, up to and including its last "." ("MG1." of
    "MG1.675"; "" of "675"): a composed feeder's buses and elements carry their area's
    prefix, as the balanced builders name them (:class:`powergrid.networks._elements.Builder`)."""
    return name[:name.rfind(".") + 1]


def local_name(name: str) -> str:
    """``name`` without its area prefix (:func:`area_of`)."""
    return name[len(area_of(name)):]


def area_join(first: str, second: str, sep: str) -> str:
    """Two names of one area joined as the builders join them: ``"MG1.632-671"`` from
    ``"MG1.632"``, ``"MG1.671"`` and "-" (``"632-671"`` without a prefix)."""
    return f"{first}{sep}{local_name(second)}"


def area_split(name: str, sep: str) -> tuple[str, str]:
    """The two names :func:`area_join` joined (``"MG1.632"``, ``"MG1.671"``)."""
    area = area_of(name)
    first, _, second = local_name(name).partition(sep)
    return area + first, area + second


def lumped_node_name(from_bus: str, to_bus: str) -> str:
    """The default name of a distributed load's node on ``from_bus``-``to_bus``."""
    return area_join(from_bus, to_bus, "_")


@dataclass(frozen=True)
class Feeder:
    """One radial feeder's published data (module docstring).

    ``buses_kv``: every feeder bus (not the source bus) and its line-to-line base
    kV. ``lines``: (from, to, length ft, configuration name in ``configs``).
    ``lumped_nodes``: names of the distributed loads' nodes by segment (others get
    :func:`lumped_node_name`). ``substation_ltc``: the substation's on-load tap
    changer, its ``RegControl`` (named as the substation) disabled in the circuit.
    """

    name: str
    source: Source
    substation: Transformer
    buses_kv: tuple[tuple[str, float], ...]
    lines: tuple[tuple[str, str, float, str], ...]
    configs: Mapping[str, LineConfig]
    regulators: tuple[RegulatorBank, ...]
    spot_loads: tuple[SpotLoad, ...]
    distributed_loads: tuple[DistributedLoad, ...]
    capacitors: tuple[ShuntCapacitor, ...]
    transformers: tuple[Transformer, ...] = ()
    switches: tuple[tuple[str, str], ...] = ()
    lumped_nodes: Mapping[tuple[str, str], str] = field(default_factory=dict)
    #: the substation's on-load tap changer (None: the substation has fixed taps)
    substation_ltc: LoadTapChanger | None = None

    # --- structure -----------------------------------------------------------------

    def lumped_node(self, load: DistributedLoad) -> str:
        """The node that carries 2/3 of ``load``."""
        key = (load.from_bus, load.to_bus)
        return self.lumped_nodes.get(key, lumped_node_name(*key))

    def segments(self) -> list[Segment]:
        """The published line segments, each one with a distributed load cut at a
        quarter of its length by the load's node."""
        cut = {(dl.from_bus, dl.to_bus): self.lumped_node(dl) for dl in self.distributed_loads}
        missing = set(cut) - {(f, t) for f, t, _, _ in self.lines}
        if missing:
            raise ValueError(f"{self.name}: distributed loads on no line segment: {missing}")
        out = []
        for f, t, length_ft, config in self.lines:
            phases = self.configs[config].phases.lower()
            if (f, t) in cut:
                node, first = cut[(f, t)], DISTRIBUTED_LOAD_POSITION * length_ft
                out.append(Segment(f, node, first, config, phases))
                out.append(Segment(node, t, length_ft - first, config, phases))
            else:
                out.append(Segment(f, t, length_ft, config, phases))
        return out

    def bus_kv(self) -> dict[str, float]:
        """Every bus of the circuit (source bus first, then the feeder's, then the
        distributed loads' nodes) and its line-to-line base voltage (kV)."""
        kv = {self.source.bus: self.source.kv, **dict(self.buses_kv)}
        for dl in self.distributed_loads:
            kv[self.lumped_node(dl)] = kv[dl.from_bus]
        return kv

    def bus_phases(self) -> dict[str, str]:
        """The phases each bus has ("abc", "bc", "c", ...): those of the lines at it;
        the substation, regulators, transformers and switches are three-phase."""
        phases: dict[str, set[str]] = {bus: set() for bus in self.bus_kv()}
        three = [(self.substation.hv_bus, self.substation.lv_bus), *self.switches]
        three += [(reg.from_bus, reg.to_bus) for reg in self.regulators]
        three += [(tr.hv_bus, tr.lv_bus) for tr in self.transformers]
        for f, t in three:
            phases[f].update(PHASES)
            phases[t].update(PHASES)
        for seg in self.segments():
            phases[seg.from_bus].update(seg.phases)
            phases[seg.to_bus].update(seg.phases)
        return {bus: "".join(sorted(ph)) for bus, ph in phases.items()}

    @property
    def regulator_units(self) -> tuple[str, ...]:
        """Every regulator unit, bank by bank, phases a, b, c ("reg1a", ...)."""
        return tuple(unit for reg in self.regulators for unit in reg.units)

    @property
    def published_taps(self) -> tuple[int, ...]:
        """The published taps, in :attr:`regulator_units` order."""
        return tuple(tap for reg in self.regulators for tap in reg.published_taps)

    def load_columns(self, scale: float = 1.0) -> list[tuple[str, str, str, str, float, float]]:
        """(name, bus, phases, model, kW, kvar) of every published load column that
        carries load, times ``scale``; a distributed load split by the exact lumped
        load model (2/3 at its node "<from>-<to>@<node><phases>", 1/3 at the far end)."""
        rows = []
        for sl in self.spot_loads:
            for ph, p, q in sl.columns():
                rows.append((f"{sl.bus}{ph}", sl.bus, ph, sl.model, scale * p, scale * q))
        for dl in self.distributed_loads:
            node = self.lumped_node(dl)
            shares = ((node, DISTRIBUTED_LOAD_NODE_SHARE),
                      (dl.to_bus, 1.0 - DISTRIBUTED_LOAD_NODE_SHARE))
            for bus, share in shares:
                for ph, p, q in dl.columns():
                    k = scale * share
                    name = f"{area_join(dl.from_bus, dl.to_bus, '-')}@{bus}{ph}"
                    rows.append((name, bus, ph, dl.model, k * p, k * q))
        return rows

    def load_names(self) -> list[str]:
        """The OpenDSS names of the loads, in circuit order ("634a", "646bc", ...)."""
        return [name for name, *_ in self.load_columns()]

    # --- the circuit -----------------------------------------------------------------

    def check_taps(self, taps: Sequence[int]) -> tuple[int, ...]:
        """``taps`` as integers, one per regulator unit (:attr:`regulator_units`),
        each within -16..16; else ValueError."""
        units = self.regulator_units
        if len(taps) != len(units):
            raise ValueError(f"regulator_taps: one per phase a, b, c of each regulator "
                             f"({', '.join(units)}), got {list(taps)}")
        return tuple(check_tap(t, "regulator") for t in taps)

    def commands(
        self,
        regulator_taps: Sequence[int] | None = None,
        *,
        load_scale: float = 1.0,
        capacitors_in: bool = True,
    ) -> list[str]:
        """OpenDSS commands that build the circuit, one element each.

        ``regulator_taps``: the tap of each regulator unit (:attr:`regulator_units`
        order, -16..16 steps of 0.625 %; default :attr:`published_taps`).
        ``load_scale`` multiplies every load's kW and kvar. ``capacitors_in``: the
        published cases have every capacitor unit in. The commands end with the
        voltage bases; they do not solve.
        """
        taps = self.check_taps(self.published_taps if regulator_taps is None
                               else regulator_taps)
        kv = self.bus_kv()
        src, sub = self.source, self.substation
        short_circuit = f" MVAsc3={src.mvasc3:g}"
        if src.mvasc1 is not None:
            short_circuit += f" MVAsc1={src.mvasc1:g}"
        cmds = [
            "Clear",
            "Set DefaultBaseFrequency=60",
            f"New Circuit.{self.name} basekv={src.kv:g} pu={src.pu:g} phases=3"
            f" bus1={dss.bus(src.bus)} angle={src.angle_deg:g}{short_circuit}",
            _transformer(sub),
        ]
        if self.substation_ltc is not None:
            ltc = self.substation_ltc
            step = REGULATOR_TAP_STEP_PERCENT / 100.0
            top = 1.0 + ltc.tap_max * step
            cmds += [  # the LTC's RegControl disabled: the published cases hold 800
                dss.tap_range(sub.name, 2, (1.0 - REGULATOR_TAP_MAX * step, top),
                              ltc.tap_max + REGULATOR_TAP_MAX, tap=top),
                dss.regcontrol(sub.name, sub.name, vreg_v=ltc.vreg_v, band_v=ltc.band_v,
                               pt_ratio=ltc.pt_ratio, ct_primary_a=ltc.ct_primary_a,
                               r_v=ltc.r_v, x_v=ltc.x_v, pt_phase=ltc.pt_phase,
                               enabled=False)]
        unit_taps = iter(taps)
        for reg in self.regulators:
            imp, ctl = reg.impedance, reg.control
            for k, (ph, unit) in enumerate(zip(PHASES, reg.units, strict=True)):
                cmds.append(dss.regulator_unit(
                    unit, reg.from_bus, reg.to_bus, ph, kv_ln=kv[reg.from_bus] / 3**0.5,
                    kva=imp.kva_per_phase, r_percent=imp.r_percent, x_percent=imp.x_percent,
                    tap_max=REGULATOR_TAP_MAX, tap_step_percent=REGULATOR_TAP_STEP_PERCENT,
                    tap=next(unit_taps),
                ))
                cmds.append(dss.regcontrol(
                    unit, unit, vreg_v=ctl.vreg_v[k], band_v=ctl.band_v,
                    pt_ratio=ctl.pt_ratio, ct_primary_a=ctl.ct_primary_a, r_v=ctl.r_v[k],
                    x_v=ctl.x_v[k],
                ))
        cmds.extend(dss.linecode(config) for config in self.configs.values())
        cmds.extend(dss.line(s.name, s.from_bus, s.to_bus, self.configs[s.config], s.length_ft)
                    for s in self.segments())
        cmds.extend(dss.switch(area_join(f, t, "-"), f, t) for f, t in self.switches)
        cmds.extend(_transformer(tr) for tr in self.transformers)
        for name, bus, ph, model, p, q in self.load_columns(load_scale):
            connection, kind = model.split("-")
            cmds.append(dss.load(name, bus, ph, connection=connection, kind=kind,
                                 kv_ll=kv[bus], kw=p, kvar=q))
        if capacitors_in:
            for bank in self.capacitors:
                for ph, kvar in zip(PHASES, bank.phase_kvar, strict=True):
                    if kvar:
                        cmds.append(dss.capacitor(f"cap{bank.bus}{ph}", bank.bus, ph,
                                                  kvar=kvar, kv_ll=kv[bank.bus]))
        bases = sorted(set(kv.values()), reverse=True)
        cmds.append("Set VoltageBases=[" + " ".join(f"{v:g}" for v in bases) + "]")
        cmds.append("CalcVoltageBases")
        return cmds

    def circuit(
        self,
        regulator_taps: Sequence[int] | None = None,
        *,
        load_scale: float = 1.0,
        capacitors_in: bool = True,
    ) -> OpenDSSCircuit:
        """The circuit (:meth:`commands`) loaded into its own OpenDSS engine, not yet
        solved. Its snapshots measure the feeder's input at the substation
        transformer's secondary, where the reports' "System Input" is."""
        return OpenDSSCircuit(
            self.commands(regulator_taps, load_scale=load_scale, capacitors_in=capacitors_in),
            bus_names=list(self.bus_kv()),
            regulators=self.regulator_units,
            source_element=f"Transformer.{self.substation.name}",
            source_terminal=2,
            tap_step=REGULATOR_TAP_STEP_PERCENT / 100.0,
        )


def check_tap(tap: int, what: str) -> int:
    """A tap changer's ``tap`` as an integer within -16..16; else a ValueError naming
    ``what`` ("regulator", "substation LTC")."""
    out = int(tap)
    if not -REGULATOR_TAP_MAX <= out <= REGULATOR_TAP_MAX:
        raise ValueError(f"{what} tap {out} outside -{REGULATOR_TAP_MAX}..+{REGULATOR_TAP_MAX}")
    return out


def _transformer(tr: Transformer) -> str:
    return dss.transformer(
        tr.name, tr.hv_bus, tr.lv_bus, vector_group=tr.vector_group, kv_hv=tr.kv_hv,
        kv_lv=tr.kv_lv, sn_mva=tr.sn_mva, r_percent=tr.r_percent, x_percent=tr.x_percent,
    )
