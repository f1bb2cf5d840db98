"""A network in operation on three-phase physics: the grid federate's model when a
scenario's ``physics`` is ``"three_phase"`` (issue 18).

:class:`ThreePhaseGridModel` has the interface the grid federate drives of
:class:`powergrid.gridmodel.GridModel` (load profiles by series, device injections
and positions by element name, ``solve(price, dt_h, tariffs)`` -> a
:class:`~powergrid.gridmodel.GridResult`), over the feeder's OpenDSS circuit
(:class:`powergrid.solvers.three_phase.ThreePhaseSolver`) with the scenario's balanced
net mapped onto it (:func:`powergrid.phase_mapping.phase_mapping`).

What differs from the balanced model, and how it is reported:

* voltages per bus-phase (``GridResult.vm_phase_pu``, :attr:`phase_names`); the
  per-bus ``vm_pu`` (the balanced net's bus order, what agents observe and
  ``vm_pu:<bus>`` records) is each bus's *worst* phase, the one farthest from 1 p.u.,
  so a violation on any phase shows in it; the ``voltage`` safety term sums
  :func:`powergrid.safety.voltage_violation` over every bus-phase (through
  :func:`powergrid.gridmodel.settle`, the same code as the balanced model's);
* regulators: one tap per phase unit. A bank whose OLTC device is *automatic* is
  moved by OpenDSS' ``RegControl`` within each step's power flow, from the taps it
  held: at the device's ``vm_set_pu`` (the scenario's level, the same number the
  balanced model regulates to) with the published band and line-drop compensator
  (R and X, PT and CT ratios); the device's deadband and ``max_tap_change`` are the
  balanced model's and are not used here. An automatic OLTC device on another
  transformer (the microgrids' XFM-1) gets a ``RegControl`` of its own: its ``vm_set_pu``
  +/- deadband at its regulated bus's highest phase, its tap range, no compensation;
* the source: a feeder with a substation on-load tap changer
  (:attr:`~powergrid.networks.three_phase.Feeder.substation_ltc`, IEEE 34) has it
  follow the load within each step's power flow, its highest step (where it starts)
  the one that puts the substation's secondary at the net's ``ext_grid`` voltage (the
  balanced model holds its source there), so it never raises it above; without one
  the circuit's source holds the ``ext_grid`` voltage;
  ``regulator_tap_pos`` reports each such bank's mean unit tap, rounded (what its
  device books the wear of); ``regulator_unit_tap_pos`` every unit's. A unit set by
  its own device (``<bank>.<phase>``, :func:`scenarios.prepare.per_phase_regulators`)
  holds the tap it is sent; any other bank (without a device, or a position sent to
  the bank) holds it on all three units;
* line loading: the largest phase current over the balanced line's rating
  (``max_i_ka``); transformer loading: the largest phase current at either winding over
  its rated current there (the balanced ``sn_mva``), in %;
* PCC: the ``ext_grid`` PCC is the source (power into the feeder at the 115 / 69 kV
  bus, as the balanced ext_grid); a ``trafo`` PCC the power into that transformer's
  HV winding (a microgrid's import at its substation); other PCC kinds are refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import cast

import numpy as np
import pandapower as pp

from powergrid.devices.discrete import Transformer, phase_unit_name
from powergrid.devices.grid import Grid, GridFleet
from powergrid.gridmodel import GridResult, regulated_bus_row, scaled_load, settle
from powergrid.networks._elements import REGULATOR_TAP_STEP_PERCENT
from powergrid.networks.three_phase import FEEDERS, Feeder
from powergrid.networks.three_phase.feeder import check_tap
from powergrid.phase_mapping import TapWinding, phase_mapping
from powergrid.safety import VM_MAX_PU, VM_MIN_PU
from powergrid.solvers.three_phase import ThreePhaseSolver

#: where the feeder's input is measured for an ``ext_grid`` PCC
SOURCE_ELEMENT = "Vsource.source"


def phase_table(bus_nodes: Sequence[np.ndarray]) -> np.ndarray:
    """``(n_bus, 3)`` positions of each bus's phases (``bus_nodes``), a bus with fewer
    phases padded with its first one (for :func:`worst_phase`)."""
    return np.array([[*nodes, *[nodes[0]] * (3 - len(nodes))] for nodes in bus_nodes],
                    dtype=np.intp).reshape(len(bus_nodes), 3)


def worst_phase(vm_phase: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Per bus, the position in ``vm_phase`` (p.u.) of its phase farthest from 1 p.u.
    (of a bus that is not energised, its first phase: 0 p.u.); ``table`` from
    :func:`phase_table`."""
    v = vm_phase[table]
    pick = np.argmax(np.where(v > 0.0, np.abs(v - 1.0), -1.0), axis=1)
    return table[np.arange(len(table)), pick]


def _source_at(feeder: Feeder, vm_pu: float) -> Feeder:
    """``feeder`` with its substation's secondary at ``vm_pu`` (p.u.): the source held
    there, or, behind an on-load tap changer, the LTC's highest step (where it starts)
    the one nearest it from the source's own voltage."""
    ltc = feeder.substation_ltc
    if ltc is None:
        return replace(feeder, source=replace(feeder.source, pu=vm_pu))
    step = REGULATOR_TAP_STEP_PERCENT / 100.0
    tap = check_tap(round((vm_pu / feeder.source.pu - 1.0) / step), "substation LTC")
    return replace(feeder, substation_ltc=replace(ltc, tap_max=tap))


class ThreePhaseGridModel:
    """The scenario's balanced ``net`` (devices written in) solved on the three-phase
    ``feeder`` (a :class:`~powergrid.networks.three_phase.Feeder` or its name), step by
    step. Arguments as :class:`powergrid.gridmodel.GridModel`'s (``regulators``: the
    automatic OLTC devices, whose banks the published ``RegControl`` moves). The
    circuit's source holds the voltage of the net's ``ext_grid`` (``vm_pu``), as the
    balanced model's does."""

    def __init__(self, net: pp.pandapowerNet, feeder: Feeder | str,
                 load_profiles: Mapping[str, str] | None = None, pccs: Sequence[Grid] = (),
                 vm_min_pu: float = VM_MIN_PU, vm_max_pu: float = VM_MAX_PU,
                 regulators: Sequence[Transformer] = ()) -> None:
        if isinstance(feeder, str):
            if feeder not in FEEDERS:
                raise ValueError(f"no three-phase model of network {feeder!r} (available:"
                                 f" {', '.join(sorted(FEEDERS))})")
            feeder = FEEDERS[feeder]
        if len(net.ext_grid) == 1:  # the source voltage: one number for both physics
            feeder = _source_at(feeder, float(net.ext_grid["vm_pu"].iloc[0]))
        self.map = m = phase_mapping(net, feeder)
        #: per PCC, the circuit element whose power in at terminal 1 it imports, and
        #: the sign: the source (it delivers: -1) or a transformer's HV winding (+1)
        self._pcc_elements: list[tuple[str, float]] = []
        for pcc in pccs:
            if pcc.element == "ext_grid":
                self._pcc_elements.append((SOURCE_ELEMENT, -1.0))
            elif pcc.element == "trafo" and pcc.element_name in m.trafo_names:
                self._pcc_elements.append((f"Transformer.{pcc.element_name}", 1.0))
            else:
                raise ValueError(f"PCC {pcc.name!r}: three-phase physics measures a PCC at"
                                 " the source (ext_grid) or a transformer of the feeder, not"
                                 f" at {pcc.element} {pcc.element_name!r}")
        self._pcc_sign = np.array([sign for _, sign in self._pcc_elements])
        self.solver = ThreePhaseSolver(feeder, m.injection_buses, m.added_capacitors)
        s = self.solver
        self.bus_names, self.line_names, self.trafo_names = (m.bus_names, m.line_names,
                                                             m.trafo_names)
        self.pcc_names = [g.name for g in pccs]
        self._pcc_fleet = GridFleet(list(pccs))
        self.vm_min_pu, self.vm_max_pu = vm_min_pu, vm_max_pu
        #: every bus-phase of the circuit, "<bus>.<phase>" (the feeder's extra nodes too)
        self.phase_names = list(s.nodes)
        node = {name: k for k, name in enumerate(self.phase_names)}
        self._phases = phase_table([np.array([node[f"{b}.{ph}"] for ph in "abc"
                                              if f"{b}.{ph}" in node], dtype=np.intp)
                                    for b in m.bus_names])
        self._load_node = np.array([node[next(n for n in self.phase_names
                                              if n.rpartition(".")[0] == b)]
                                    for b in m.load_bus], dtype=np.intp)
        units = feeder.regulator_units
        self.regulator_unit_names = [phase_unit_name(u[:-1], u[-1]) for u in units]
        unknown = [r.name for r in regulators if r.name not in m.regulator_banks
                   and (r.name not in m.tap_windings or r.vm_set_pu is None)]
        if unknown:
            raise ValueError(f"regulators {unknown}: no regulator bank or tapped transformer"
                             f" of that name on the three-phase {feeder.name} feeder")
        self.regulator_names = [r.name for r in regulators]
        #: each regulator unit by its device name, ``<bank>.<phase>`` -> its position
        self._unit = {phase_unit_name(bank, phase): k
                      for bank, ks in m.regulator_banks.items()
                      for phase, k in zip("abc", ks, strict=True)}
        self._automatic = np.zeros(len(units), dtype=bool)
        kv = feeder.bus_kv()
        banks = {bank.name: bank for bank in feeder.regulators}
        #: the automatic tap changers of plain transformers (their OpenDSS RegControl)
        self._tap_changers: dict[str, TapWinding] = {}
        for r in regulators:
            if r.name not in m.regulator_banks:  # a transformer's own tap changer
                w = self._tap_changers[r.name] = m.tap_windings[r.name]
                bus = m.bus_names[regulated_bus_row(net, r)]
                self.solver.add_tap_changer(
                    r.name, w.winding, (w.ratio(w.tap_min), w.ratio(w.tap_max)),
                    round(w.tap_max - w.tap_min), bus, cast(float, r.vm_set_pu),  # (checked)
                    2.0 * r.vm_deadband_pu)
                continue
            self._automatic[list(m.regulator_banks[r.name])] = True
            if r.vm_set_pu is not None:  # the scenario's level, on the PT's secondary
                bank = banks[r.name]
                pt_v = kv[bank.to_bus] * 1000.0 / 3**0.5 / bank.control.pt_ratio
                for unit in bank.units:
                    self.solver.set_regulator_level(unit, r.vm_set_pu * pt_v)
        # the load columns in the engine's order, each with its balanced load
        position = {c.name.lower(): c for c in m.loads}
        columns = [position[name.lower()] for name in s.loads]
        self._load_owner = np.array([c.owner for c in columns], dtype=np.intp)
        self._load_kw = np.array([c.kw for c in columns])
        self._load_kvar = np.array([c.kvar for c in columns])
        self._owner_p_mw = (net.load.p_mw * net.load.scaling).to_numpy(float)
        self._owner_on = net.load["in_service"].to_numpy(dtype=bool)
        self.load_groups: dict[str, np.ndarray] = {}
        owner_row = {str(n): k for k, n in enumerate(net.load["name"])}
        for load, series in (load_profiles or {}).items():
            if load not in owner_row:
                raise ValueError(f"load {load!r} is not in the network")
            self.load_groups.setdefault(series, np.zeros(0, np.intp))
            self.load_groups[series] = np.append(self.load_groups[series], owner_row[load])
        pd = {name.lower(): k for k, name in enumerate(s.pd_elements)}
        # each balanced line's segments: their rows in pd_elements, flat, and where each
        # line's start (for one np.maximum.reduceat)
        self._line_rows = np.array([pd[seg.lower()] for segs in m.line_segments
                                    for seg in segs], dtype=np.intp)
        self._line_starts = np.cumsum([0] + [len(segs) for segs in m.line_segments[:-1]],
                                      dtype=np.intp)
        self._initial = self._net_state(net)
        self.reset()

    @staticmethod
    def _net_state(net: pp.pandapowerNet) -> dict[str, dict[str, float]]:
        """The positions the net was built with: taps, shunt steps, switch states."""
        return {"trafo": {str(n): float(t) for n, t in zip(net.trafo["name"], net.trafo["tap_pos"],
                                                           strict=True) if not np.isnan(t)},
                "shunt": {str(n): float(k) for n, k in zip(net.shunt["name"], net.shunt["step"],
                                                           strict=True)},
                "switch": {str(n): float(c) for n, c in zip(net.switch["name"],
                                                            net.switch["closed"], strict=True)}}

    # -- state ---------------------------------------------------------------------
    def reset(self) -> None:
        """Back to the state at construction: nominal loads, no injections, the net's
        positions (taps, capacitor steps, switches), the last results forgotten."""
        s = self.solver
        self._owner_scale = np.ones(len(self._owner_p_mw))
        self._loads_per_column = True  # the engine's loads are not at nominal
        self._inj_p: dict[str, float] = {}
        self._inj_q: dict[str, float] = {}
        self._positions: dict[str, float] = {}
        taps = np.array(s.published_taps, dtype=np.int64)
        for name, units in self.map.regulator_banks.items():
            taps[list(units)] = round(self._initial["trafo"].get(name, 0.0))
        s.set_regulator_taps(taps.tolist())
        ltc = s.feeder.substation_ltc
        if ltc is not None:
            s.set_ltc_tap(ltc.tap_max)
        s.set_automatic(self._automatic.tolist(), substation=ltc is not None)
        s.set_capacitors(dict.fromkeys(s.capacitors, True))
        self.set_positions({**self._initial["shunt"], **self._initial["switch"],
                            **{n: t for n, t in self._initial["trafo"].items()
                               if n in self.map.tap_windings}})
        for name, w in self._tap_changers.items():  # set_positions leaves them alone
            s.set_transformer_tap(name, w.winding, w.ratio(self._initial["trafo"][name]))
        self._last: GridResult | None = None
        self._last_va = np.zeros(len(self.phase_names))

    # -- inputs --------------------------------------------------------------------
    def set_load_profiles(self, values: Mapping[str, float], load_scale: float = 1.0) -> None:
        """Set every profiled load from its series' current value (per unit)."""
        for series, rows in self.load_groups.items():
            if series in values:
                self._owner_scale[rows] = scaled_load(1.0, float(values[series]), load_scale)

    def set_injections(self, p_mw: Mapping[str, float], q_mvar: Mapping[str, float]) -> None:
        """Set the P (MW) and Q (Mvar) of sgens and storage units by element name
        (storage: charging positive, as in the balanced net)."""
        for name, p in p_mw.items():
            if name not in self.map.injections:
                raise ValueError(f"element {name!r} is not an sgen or storage unit")
            self._inj_p[name] = float(p)
            self._inj_q[name] = float(q_mvar.get(name, 0.0))

    def set_positions(self, positions: Mapping[str, float]) -> None:
        """Set OLTC taps, off-load taps, capacitor steps and switch states (1 closed) by
        element name, a regulator unit's tap by ``<bank>.<phase>``; an automatic
        regulator bank's taps are the engine's, not set."""
        s, m = self.solver, self.map
        for name, value in positions.items():
            if self._positions.get(name) == value:
                continue
            if name in m.shunts:
                units = m.shunts[name]
                s.set_capacitors({unit: k < round(value) for k, unit in enumerate(units)})
            elif name in m.regulator_banks or name in self._unit:
                # a bank (all its units) or one phase unit of it (its own device)
                rows = list(m.regulator_banks.get(name, (self._unit.get(name, -1),)))
                if not self._automatic[rows[0]]:
                    taps = s.regulator_taps()
                    taps[rows] = round(value)
                    s.set_regulator_taps(taps.tolist())
            elif name in m.tap_windings:
                w = m.tap_windings[name]
                if name not in self._tap_changers:  # an automatic one's tap is the engine's
                    s.set_transformer_tap(name, w.winding, w.ratio(value))
            elif name in m.switches:
                s.set_switch(m.switches[name], value > 0.5)
            else:
                raise ValueError(f"element {name!r} is not a tap, capacitor step or switch of"
                                 " the three-phase model")
            self._positions[name] = value

    def injection(self, name: str) -> tuple[float, float]:
        """The P (MW) and Q (Mvar) now set on the sgen or storage unit ``name``."""
        if name not in self.map.injections:
            raise ValueError(f"element {name!r} is not an sgen or storage unit")
        return self._inj_p.get(name, 0.0), self._inj_q.get(name, 0.0)

    def position(self, name: str) -> float:
        """The tap, capacitor step or switch state (1 closed) now set on ``name``; an
        automatic regulator's: the tap of its last power flow."""
        if name in self.regulator_names and self._last is not None:
            return float(self._last.regulator_tap_pos[self.regulator_names.index(name)])
        if name in self._positions:
            return self._positions[name]
        if name in self._unit:
            return float(self.solver.regulator_taps()[self._unit[name]])
        for table in self._initial.values():
            if name in table:
                return table[name]
        raise ValueError(f"element {name!r} is not a tap, capacitor step or switch of the"
                         " three-phase model")

    def trafo_tap_pos(self) -> np.ndarray:
        """Every balanced trafo's tap position (``trafo_names`` order; 0 without one)."""
        return np.array([self.position(n) if n in self._initial["trafo"] else 0.0
                         for n in self.trafo_names])

    # -- solve ---------------------------------------------------------------------
    def solve(self, price_per_mwh: float = 0.0, dt_h: float = 1.0,
              pcc_prices: Mapping[str, float] | None = None) -> GridResult:
        """Run one three-phase power flow (the automatic regulators settled within it);
        settle the PCCs at ``price_per_mwh`` ($/MWh) over ``dt_h`` hours, or at their
        own price in ``pcc_prices``. After a failed power flow the results are the last
        converged ones and ``converged`` is False."""
        s, m = self.solver, self.map
        self._set_loads()
        p = np.zeros(len(s.injection_buses))
        q = np.zeros(len(s.injection_buses))
        for name, value in self._inj_p.items():
            k, sign = m.injections[name]
            p[k] += sign * value * 1000.0
            q[k] += sign * self._inj_q[name] * 1000.0
        snap = s.step(p, q)
        last = self._last
        if not snap.converged and last is not None:
            vm_phase, lines, trafos = last.vm_phase_pu, last.line_loading_percent, \
                last.trafo_loading_percent
            pcc_p, pcc_q, va_phase = last.pcc_p_mw, last.pcc_q_mvar, self._last_va
        else:
            vm_phase = np.where(np.isnan(snap.vm_pu), 0.0, snap.vm_pu)
            va_phase = np.where(np.isnan(snap.va_degree), 0.0, snap.va_degree)
            currents = s.max_currents_a()
            lines = (np.maximum.reduceat(currents[self._line_rows], self._line_starts)
                     if len(self._line_rows) else np.zeros(0))
            lines = 100.0 * lines / np.where(m.line_rated_a > 0, m.line_rated_a, np.inf)
            trafos = np.array([self._trafo_loading(k) for k in range(len(m.trafo_names))])
            flows = np.array([s.element_power_kw(element) for element, _ in self._pcc_elements]
                             ).reshape(-1, 2)
            pcc_p = self._pcc_sign * flows[:, 0] / 1000.0
            pcc_q = self._pcc_sign * flows[:, 1] / 1000.0
        worst = worst_phase(vm_phase, self._phases)
        price = np.array([[float((pcc_prices or {}).get(n, price_per_mwh))
                           for n in self.pcc_names]])
        demand = np.where(self._owner_on, self._owner_p_mw * self._owner_scale, 0.0)
        pcc_cost, energy, terms, pcc_safety = settle(
            self._pcc_fleet, vm_phase[None], lines[None], trafos[None], pcc_p[None],
            pcc_q[None], price, np.array([snap.converged]), dt_h, self.vm_min_pu,
            self.vm_max_pu, demand[None], self._load_node)
        unit_taps = np.array([snap.regulator_taps[u] for u in s.regulators], dtype=np.int64)
        taps = [round(float(unit_taps[list(m.regulator_banks[n])].mean()))
                if n in m.regulator_banks else
                self._tap_changers[n].tap(s.transformer_tap(n, self._tap_changers[n].winding))
                for n in self.regulator_names]
        result = GridResult(
            bool(snap.converged), vm_phase[worst], va_phase[worst], lines, trafos, pcc_p,
            pcc_q, pcc_cost[0],
            {"energy": float(energy[0])}, {k: float(v[0]) for k, v in terms.items()},
            np.array(taps, np.int64),
            pcc_safety[0], vm_phase, unit_taps)
        if snap.converged:
            self._last, self._last_va = result, va_phase
        return result

    def _set_loads(self) -> None:
        """The load columns at their balanced loads' profile: one load multiplier while
        every load follows the same scale (a feeder on one series), else column by
        column."""
        scale = np.where(self._owner_on, self._owner_scale, 0.0)[self._load_owner]
        if scale.size and (scale == scale[0]).all():
            if self._loads_per_column:
                self.solver.set_loads(self._load_kw, self._load_kvar)
                self._loads_per_column = False
            self.solver.set_load_multiplier(float(scale[0]))
        else:
            self.solver.set_load_multiplier(1.0)
            self.solver.set_loads(self._load_kw * scale, self._load_kvar * scale)
            self._loads_per_column = True

    def _trafo_loading(self, k: int) -> float:
        """Balanced trafo ``k``'s loading, %: its largest phase current at either winding
        over the rated current there."""
        rated = np.array(self.map.trafo_rated_a[k])
        worst = 0.0
        for element in self.map.trafo_elements[k]:
            currents = self.solver.terminal_currents_a(element)
            worst = max(worst, float((currents.max(axis=1) / rated[:len(currents)]).max()))
        return 100.0 * worst
