"""Small helpers shared by the network builders: named buses, loads, regulators, capacitors.

Published feeder data are in kW / kvar / feet; pandapower wants MW / Mvar / km. The
conversions happen here, once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import pandapower as pp

from powergrid.networks.line_configs import M_PER_FT

XY = tuple[float, float]
XYTransform = Callable[[XY], XY]

# Regulator series impedance: each builder passes its regulators' published
# impedance on the published per-phase rating (:class:`RegulatorImpedance`); it is
# converted to the model's three-phase ``sn_mva`` here. The IEEE reports give none;
# the values are those of OpenDSS' models of the same feeders (cited where used).
# The project's solvers start Newton-Raphson from a flat profile, from which a
# near-ideal off-nominal regulator behind a weak upstream diverges; each builder
# therefore also passes a measured floor for X (``min_x_percent``), documented there.

# IEEE standard step regulator: +/-16 steps of 5/8 % (+/-10 %), published in both reports.
REGULATOR_TAP_MAX = 16
REGULATOR_TAP_STEP_PERCENT = 0.625

# ANSI C84.1 range A service-voltage band, stored as bus limits for OPF / safety checks.
VM_MIN_PU = 0.95
VM_MAX_PU = 1.05


@dataclass(frozen=True)
class RegulatorImpedance:
    """Series impedance of one single-phase step regulator, R % and X % on its own
    per-phase rating ``kva_per_phase``.

    A bank of three on a three-phase line is one three-phase transformer of
    ``3 * kva_per_phase`` with the same percentages; :meth:`on_base` restates
    them on another three-phase rating (the ohms stay the same).
    """

    r_percent: float
    x_percent: float
    kva_per_phase: float

    def on_base(self, sn_mva: float, min_x_percent: float = 0.0) -> tuple[float, float]:
        """(vkr_percent, vk_percent) on a three-phase rating of ``sn_mva``; X is
        raised to ``min_x_percent`` (on ``sn_mva``) if below it, R kept in
        proportion (same X/R)."""
        scale = sn_mva / (3.0 * self.kva_per_phase / 1000.0)
        r, x = self.r_percent * scale, self.x_percent * scale
        if x < min_x_percent:
            r, x = r * min_x_percent / x, min_x_percent
        return r, (r**2 + x**2) ** 0.5


@dataclass(frozen=True)
class RegulatorControl:
    """Published control settings of a bank of single-phase step regulators, per
    phase a, b, c ("Regulator Data" of the IEEE test feeder reports).

    Voltages are on the 120 V base of the potential transformer: ``vreg_v`` the
    voltage level, ``band_v`` the bandwidth, ``r_v`` / ``x_v`` the line-drop
    compensator settings (V at the CT's rated primary current ``ct_primary_a``, A);
    ``pt_ratio`` line-to-neutral volts per PT volt.
    """

    vreg_v: tuple[float, float, float]
    band_v: float
    pt_ratio: float
    ct_primary_a: float
    r_v: tuple[float, float, float]
    x_v: tuple[float, float, float]


#: the potential transformer's secondary, the base of a tap changer's voltage settings (V)
PT_SECONDARY_V = 120.0


def pt_ratio(kv_ll: float) -> float:
    """The ratio of a potential transformer that puts ``kv_ll`` (line-to-line kV, its
    line-to-neutral voltage) at :data:`PT_SECONDARY_V`: 1 p.u. reads 120 V."""
    return kv_ll * 1000.0 / 3**0.5 / PT_SECONDARY_V


@dataclass(frozen=True)
class LoadTapChanger:
    """A substation transformer's on-load tap changer: ganged (one tap for all three
    phases, on the LV winding, steps of :data:`REGULATOR_TAP_STEP_PERCENT` from
    -:data:`REGULATOR_TAP_MAX` up to ``tap_max``, where it starts), controlled like a
    step regulator.

    Voltages on :data:`PT_SECONDARY_V`: ``vreg_v`` the level, ``band_v`` the bandwidth,
    ``r_v`` / ``x_v`` the line-drop compensator (V at ``ct_primary_a``, A);
    ``pt_ratio`` line-to-neutral volts per PT volt; ``pt_phase`` the phase monitored
    ("1" a, "2" b, "3" c, or "MIN" / "MAX": the lowest / highest of them).
    """

    vreg_v: float
    band_v: float
    pt_ratio: float
    ct_primary_a: float
    r_v: float
    x_v: float
    pt_phase: str
    tap_max: int


@dataclass(frozen=True)
class ShuntCapacitor:
    """A published shunt capacitor bank: bus and rated kvar per phase a, b, c (0 where
    the bank has no unit), wye-connected at the bus's phase-to-neutral voltage."""

    bus: str
    phase_kvar: tuple[float, float, float]

    @property
    def phases(self) -> str:
        """The phases with a unit, e.g. "abc" or "c"."""
        return "".join(ph for ph, q in zip(WYE_COLUMNS, self.phase_kvar, strict=True) if q)


def balanced_capacitor_steps(banks: Iterable[ShuntCapacitor]) -> list[tuple[str, float, int]]:
    """The balanced models' switched shunts from the published per-phase banks: (bus,
    Mvar per step, steps), one step per phase unit (IEEE 13 675: 3 x 0.2 Mvar; 611:
    1 x 0.1 Mvar). The units of one bank must be equal (they are in the reports)."""
    rows = []
    for bank in banks:
        units = {q for q in bank.phase_kvar if q}
        if len(units) != 1:
            raise ValueError(f"capacitor at {bank.bus}: unequal phase units {bank.phase_kvar}")
        rows.append((bank.bus, units.pop() / 1000.0, len(bank.phases)))
    return rows


def identity_xy(xy: XY) -> XY:
    """Keep published coordinates as they are."""
    return xy


#: IEEE load-model codes: connection ("Y" wye phase-to-neutral, "D" delta phase-to-phase)
#: and kind ("PQ" constant power, "I" constant current, "Z" constant impedance), as in
#: the "Spot Loads" / "Distributed Load" tables of the IEEE test feeder reports.
LOAD_MODELS = ("Y-PQ", "Y-I", "Y-Z", "D-PQ", "D-I", "D-Z")
#: The phases (or phase pairs) of the three published load columns "Ph-1/2/3": a wye
#: load's column k is phase k to neutral; a delta load's is the phase pair a-b, b-c,
#: c-a (IEEE 13: 646 "D-Z" in column 2 is connected b-c, 692 "D-I" in column 3 c-a;
#: OpenDSS IEEE13Nodeckt.dss agrees: "Bus1=646.2.3", "Bus1=692.3.1").
WYE_COLUMNS = ("a", "b", "c")
DELTA_COLUMNS = ("ab", "bc", "ca")


class _PhaseTotals:
    """Three-phase totals of ``phase_kw_kvar`` ((kW, kvar) per published column
    "Ph-1/2/3": phases a, b, c for wye loads, phase pairs a-b, b-c, c-a for delta
    loads; see :data:`DELTA_COLUMNS`)."""

    model: str

    phase_kw_kvar: tuple[tuple[float, float], tuple[float, float], tuple[float, float]]

    @property
    def p_kw(self) -> float:
        return sum(p for p, _ in self.phase_kw_kvar)

    @property
    def q_kvar(self) -> float:
        return sum(q for _, q in self.phase_kw_kvar)

    @property
    def connection(self) -> str:
        """"Y" (wye, phase to neutral) or "D" (delta, phase to phase)."""
        return self.model.split("-")[0]

    @property
    def kind(self) -> str:
        """"PQ" constant power, "I" constant current, "Z" constant impedance."""
        return self.model.split("-")[1]

    def columns(self) -> list[tuple[str, float, float]]:
        """The published columns that carry load: (phases, kW, kvar), phases "a" / "b"
        / "c" for a wye load, "ab" / "bc" / "ca" for a delta load."""
        names = DELTA_COLUMNS if self.connection == "D" else WYE_COLUMNS
        return [(ph, p, q) for ph, (p, q) in zip(names, self.phase_kw_kvar, strict=True)
                if p or q]


@dataclass(frozen=True)
class SpotLoad(_PhaseTotals):
    """A published spot load: bus, IEEE load-model code (:data:`LOAD_MODELS`), (kW,
    kvar) per published column (phases a, b, c; delta: a-b, b-c, c-a)."""

    bus: str
    model: str
    phase_kw_kvar: tuple[tuple[float, float], tuple[float, float], tuple[float, float]]


@dataclass(frozen=True)
class DistributedLoad(_PhaseTotals):
    """A published distributed load on segment ``from_bus``-``to_bus``, spread
    uniformly along it; columns as :class:`SpotLoad`."""

    from_bus: str
    to_bus: str
    model: str
    phase_kw_kvar: tuple[tuple[float, float], tuple[float, float], tuple[float, float]]


class Builder:
    """Adds elements to ``net`` with area-prefixed names, bus lookup by IEEE name.

    ``prefix`` is prepended to every element name ("" or e.g. "MG1."); ``zone``
    goes into ``net.bus.zone``; ``xy`` maps published coordinates to the net's.
    """

    def __init__(
        self, net: pp.pandapowerNet, *, prefix: str, zone: str, xy: XYTransform = identity_xy
    ) -> None:
        self.net = net
        self.prefix = prefix
        self.zone = zone
        self.xy = xy
        self.buses: dict[str, int] = {}

    def name(self, local_name: str) -> str:
        return f"{self.prefix}{local_name}"

    def bus(self, local_name: str, vn_kv: float, xy: XY) -> int:
        idx = pp.create_bus(
            self.net,
            vn_kv=vn_kv,
            name=self.name(local_name),
            zone=self.zone,
            geodata=self.xy(xy),
            min_vm_pu=VM_MIN_PU,
            max_vm_pu=VM_MAX_PU,
        )
        self.buses[local_name] = idx
        return idx

    def buses_from(self, names_kv: Iterable[tuple[str, float]], coords: dict[str, XY]) -> None:
        """Create many buses in one call (pandapower's per-element create is slow)."""
        names, vn_kv = zip(*names_kv, strict=True)
        indices = pp.create_buses(
            self.net,
            len(names),
            vn_kv=list(vn_kv),
            name=[self.name(n) for n in names],
            zone=self.zone,
            geodata=[self.xy(coords[n]) for n in names],
            min_vm_pu=VM_MIN_PU,
            max_vm_pu=VM_MAX_PU,
        )
        self.buses.update(zip(names, (int(i) for i in indices), strict=True))

    def lines(self, segments: Iterable[tuple[str, str, float, str]]) -> None:
        """Lines from (from bus, to bus, length ft, std type); named "<from>-<to>"."""
        rows = list(segments)
        pp.create_lines(
            self.net,
            [self.buses[f] for f, _, _, _ in rows],
            [self.buses[t] for _, t, _, _ in rows],
            length_km=[length_ft * M_PER_FT / 1000.0 for _, _, length_ft, _ in rows],
            std_type=[std_type for _, _, _, std_type in rows],
            name=[self.name(f"{f}-{t}") for f, t, _, _ in rows],
        )

    def loads(self, rows: Iterable[tuple[str, float, float, str]]) -> None:
        """Constant-PQ three-phase loads from (bus, kW, kvar, name); stored in MW, Mvar."""
        rows = list(rows)
        pp.create_loads(
            self.net,
            [self.buses[bus] for bus, _, _, _ in rows],
            p_mw=[p_kw / 1000.0 for _, p_kw, _, _ in rows],
            q_mvar=[q_kvar / 1000.0 for _, _, q_kvar, _ in rows],
            const_z_p_percent=0.0,
            const_i_p_percent=0.0,
            const_z_q_percent=0.0,
            const_i_q_percent=0.0,
            scaling=1.0,
            name=[self.name(name) for _, _, _, name in rows],
        )

    def published_loads(
        self,
        spot: Iterable[SpotLoad],
        distributed: Iterable[DistributedLoad],
        scale: float = 1.0,
    ) -> None:
        """Spot loads summed over phases ("load <bus>"), then distributed loads
        split half/half between the segment ends ("load <from>-<to> @<bus>");
        P and Q times ``scale``.
        """
        rows = [(sl.bus, scale * sl.p_kw, scale * sl.q_kvar, f"load {sl.bus}") for sl in spot]
        for dl in distributed:
            for end in (dl.from_bus, dl.to_bus):
                name = f"load {dl.from_bus}-{dl.to_bus} @{end}"
                rows.append((end, scale * dl.p_kw / 2.0, scale * dl.q_kvar / 2.0, name))
        self.loads(rows)

    def transformer(
        self,
        hv_bus: int,
        lv_bus: str,
        *,
        sn_mva: float,
        vn_hv_kv: float,
        vn_lv_kv: float,
        r_percent: float,
        x_percent: float,
        vector_group: str,
        local_name: str,
    ) -> int:
        """Two-winding transformer from published R% and X% (no-load losses neglected)."""
        return pp.create_transformer_from_parameters(
            self.net,
            hv_bus=hv_bus,
            lv_bus=self.buses[lv_bus],
            sn_mva=sn_mva,
            vn_hv_kv=vn_hv_kv,
            vn_lv_kv=vn_lv_kv,
            vkr_percent=r_percent,
            vk_percent=(r_percent**2 + x_percent**2) ** 0.5,
            pfe_kw=0.0,
            i0_percent=0.0,
            vector_group=vector_group,
            name=self.name(local_name),
        )

    def regulator(
        self,
        from_bus: str,
        to_bus: str,
        *,
        vn_kv: float,
        sn_mva: float,
        impedance: RegulatorImpedance,
        min_x_percent: float,
        tap_pos: float,
        local_name: str,
    ) -> int:
        """Three-phase step-voltage regulator as a 1:1 OLTC transformer.

        Taps on the output (lv) side, so a positive ``tap_pos`` raises the
        output voltage by ``tap_pos * 0.625 %``. ``tap_changer_type="Ratio"`` is
        needed: pandapower >= 3 ignores ``tap_pos`` without it. ``impedance``
        (published, per phase) is restated on ``sn_mva``, its X raised to at
        least ``min_x_percent`` (the builder's flat-start convergence floor).
        """
        vkr_percent, vk_percent = impedance.on_base(sn_mva, min_x_percent)
        return pp.create_transformer_from_parameters(
            self.net,
            hv_bus=self.buses[from_bus],
            lv_bus=self.buses[to_bus],
            sn_mva=sn_mva,
            vn_hv_kv=vn_kv,
            vn_lv_kv=vn_kv,
            vkr_percent=vkr_percent,
            vk_percent=vk_percent,
            pfe_kw=0.0,
            i0_percent=0.0,
            tap_side="lv",
            tap_neutral=0,
            tap_min=-REGULATOR_TAP_MAX,
            tap_max=REGULATOR_TAP_MAX,
            tap_step_percent=REGULATOR_TAP_STEP_PERCENT,
            tap_pos=tap_pos,
            tap_changer_type="Ratio",
            vector_group="YNyn",
            name=self.name(local_name),
        )

    def capacitors(self, banks: Iterable[tuple[str, float, int]], vn_kv: float) -> None:
        """Switched capacitor banks from (bus, Mvar per step, steps), all steps in
        (as published); named "cap <bus>".

        ``q_mvar`` is stored negative (pandapower's load sign: the bank consumes
        ``q_mvar * step * vm_pu**2``, i.e. it injects reactive power).
        """
        rows = list(banks)
        pp.create_shunts(
            self.net,
            [self.buses[bus] for bus, _, _ in rows],
            q_mvar=[-abs(q_mvar_per_step) for _, q_mvar_per_step, _ in rows],
            p_mw=0.0,
            vn_kv=vn_kv,
            step=[max_step for _, _, max_step in rows],
            max_step=[max_step for _, _, max_step in rows],
            name=[self.name(f"cap {bus}") for bus, _, _ in rows],
        )
