"""Where a scenario's balanced net sits in its three-phase feeder (issue 18).

A scenario is prepared on the balanced pandapower net (devices written into it by
name). The three-phase model (:class:`powergrid.phase_gridmodel.ThreePhaseGridModel`)
solves the same feeder's OpenDSS circuit (:mod:`powergrid.networks.three_phase`);
:func:`phase_mapping` says, once, what each of the net's elements is there. No engine
is needed for it.

* buses: every balanced bus is a circuit bus of the same name, with its phases;
* sgens and storage units: a balanced injection on every phase of their bus (sgen
  generation positive; a charging storage unit negative), devices at one bus summed;
* loads: each published load column follows the balanced load it is part of (a spot
  load's columns ``"load <bus>"``; a distributed load's ``"load <from>-<to> @<from>"``),
  scaled by that balanced load's nominal P (Q) over the published columns' total, so
  a builder's or a device's change of the balanced loads carries over;
* shunts: a balanced shunt of ``max_step`` steps on a bus with that many equal
  published phase units is the bank: step k switches the first k units in, in phase
  order a, b, c (a per-phase choice is left to a per-phase action, issue 18); a shunt
  on a bus without a published bank (a scenario's own) is a three-phase capacitor per
  step that the circuit adds (``added_capacitors``);
* transformers: a regulator bank is the balanced OLTC of its name, one tap per phase
  unit; any other transformer's off-load tap is a ratio on its tapped winding;
* switches: the bus-bus switch of the same name; lines: the segments of the balanced
  line (a distributed load's node cuts one in two).

Names carry a composed feeder's area prefix as the balanced builders write them
("MG1.675", "MG1.632-671", "MG1.load 671"; :func:`~powergrid.networks.three_phase.
feeder.area_join`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandapower as pp

from powergrid.devices.discrete import PHASES
from powergrid.networks._elements import REGULATOR_TAP_STEP_PERCENT
from powergrid.networks.three_phase.feeder import (
    Feeder,
    area_join,
    area_of,
    area_split,
    local_name,
)

#: a balanced shunt's Mvar per step must equal its phase unit's to this (Mvar)
_UNIT_MATCH_MVAR = 1e-9


@dataclass(frozen=True)
class LoadColumn:
    """One published load column (OpenDSS ``name``) and the balanced load it follows
    (``owner``, a row position in ``net.load``): its nominal kW, kvar at a profile of 1."""

    name: str
    owner: int
    kw: float
    kvar: float


@dataclass(frozen=True)
class TapWinding:
    """A tap of transformer ``name``: its ``winding`` (1 HV, 2 LV) at ratio ``1 + (tap -
    neutral) * step_percent / 100``, taps ``tap_min`` .. ``tap_max``."""

    name: str
    winding: int
    neutral: float
    step_percent: float
    tap_min: float
    tap_max: float

    def ratio(self, tap: float) -> float:
        return 1.0 + (float(tap) - self.neutral) * self.step_percent / 100.0

    def tap(self, ratio: float) -> int:
        """The tap at ``ratio`` (the inverse of :meth:`ratio`, rounded)."""
        return round(self.neutral + (float(ratio) - 1.0) * 100.0 / self.step_percent)


@dataclass(frozen=True)
class PhaseMapping:
    """The balanced net's elements in the feeder (module docstring); positions are rows
    of the balanced tables, names the circuit's."""

    feeder: Feeder
    bus_names: list[str]
    injection_buses: tuple[str, ...]
    #: {sgen / storage name: (its bus's position in injection_buses, +1 sgen / -1 storage)}
    injections: dict[str, tuple[int, float]]
    loads: tuple[LoadColumn, ...]
    load_bus: list[str]                    # each balanced load's bus
    #: {shunt name: the capacitor units its steps switch in, in order}
    shunts: dict[str, tuple[str, ...]]
    #: {capacitor unit the circuit adds: (bus, kvar)}: a three-phase unit per step of a
    #: shunt on a bus without a published bank
    added_capacitors: dict[str, tuple[str, float]]
    #: {OLTC name: positions of its bank's units in feeder.regulator_units}
    regulator_banks: dict[str, tuple[int, ...]]
    tap_windings: dict[str, TapWinding]
    switches: dict[str, str]               # {balanced switch name: circuit switch name}
    line_names: list[str]
    line_segments: list[tuple[str, ...]]   # per balanced line: "Line.<segment>" names
    line_rated_a: np.ndarray               # per balanced line, A
    trafo_names: list[str]
    trafo_elements: list[tuple[str, ...]]  # per balanced trafo: "Transformer.<unit>" names
    trafo_rated_a: list[tuple[float, float]]  # per balanced trafo: (HV, LV) rated A


def _buses(net: pp.pandapowerNet, feeder: Feeder) -> list[str]:
    names = [str(n) for n in net.bus["name"]]
    missing = sorted(set(names) - set(feeder.bus_kv()))
    if missing:
        raise ValueError(f"buses {missing} are not on the three-phase {feeder.name} feeder")
    return names


def _injections(net: pp.pandapowerNet, bus_names: list[str]
                ) -> tuple[tuple[str, ...], dict[str, tuple[int, float]]]:
    buses: dict[str, int] = {}
    out: dict[str, tuple[int, float]] = {}
    for table, sign in (("sgen", 1.0), ("storage", -1.0)):
        for name, bus in zip(net[table]["name"], net[table]["bus"], strict=True):
            bus_name = bus_names[net.bus.index.get_loc(bus)]
            out[str(name)] = (buses.setdefault(bus_name, len(buses)), sign)
    return tuple(buses), out


def _loads(net: pp.pandapowerNet, feeder: Feeder) -> tuple[LoadColumn, ...]:
    """Every published load column, following its balanced load (module docstring)."""
    row = {str(n): k for k, n in enumerate(net.load["name"])}
    p = (net.load.p_mw * net.load.scaling).to_numpy(float) * 1000.0
    q = (net.load.q_mvar * net.load.scaling).to_numpy(float) * 1000.0
    groups: dict[tuple[str, ...], list[tuple[str, float, float]]] = {}
    for name, bus, _ph, _model, kw, kvar in feeder.load_columns():
        if "@" in name:  # a distributed load's share: "<from>-<to>@<node><phases>"
            segment = name.partition("@")[0]
            area, ends = area_of(segment), area_split(segment, "-")
            owners = tuple(f"{area}load {local_name(segment)} @{local_name(end)}"
                           for end in ends)
        else:
            owners = (f"{area_of(bus)}load {local_name(bus)}",)
        groups.setdefault(owners, []).append((name, kw, kvar))
    covered: set[str] = set()
    columns = []
    for owners, rows in groups.items():
        missing = [o for o in owners if o not in row]
        if missing:
            raise ValueError(f"the three-phase {feeder.name} feeder's load {missing[0]!r} is"
                             " not in the network")
        covered.update(owners)
        k = [row[o] for o in owners]
        kw_total = sum(r[1] for r in rows)
        kvar_total = sum(r[2] for r in rows)
        p_scale = p[k].sum() / kw_total if kw_total else 0.0
        q_scale = q[k].sum() / kvar_total if kvar_total else 0.0
        columns += [LoadColumn(name, k[0], kw * p_scale, kvar * q_scale)
                    for name, kw, kvar in rows]
    extra = sorted(set(row) - covered)
    if extra:
        raise ValueError(f"loads {extra} have no counterpart on the three-phase {feeder.name}"
                         " feeder")
    return tuple(columns)


def _shunts(net: pp.pandapowerNet, feeder: Feeder, bus_names: list[str]
            ) -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, float]]]:
    """Each shunt's capacitor units in step order, and the units the circuit adds: a
    shunt on a bus without a published bank (a scenario's own, e.g. the microgrids'
    "DSO.cap 890") is a three-phase capacitor per step."""
    banks = {bank.bus: bank for bank in feeder.capacitors}
    out: dict[str, tuple[str, ...]] = {}
    added: dict[str, tuple[str, float]] = {}
    for name, bus, q_mvar, max_step in zip(net.shunt["name"], net.shunt["bus"],
                                           net.shunt["q_mvar"], net.shunt["max_step"],
                                           strict=True):
        bus_name = bus_names[net.bus.index.get_loc(bus)]
        bank = banks.get(bus_name)
        if bank is None:
            steps = [f"cap{bus_name}s{k + 1}" for k in range(int(max_step))]
            added.update(dict.fromkeys(steps, (bus_name, -float(q_mvar) * 1000.0)))
            out[str(name)] = tuple(steps)
            continue
        units = [(f"cap{bank.bus}{ph}", kvar) for ph, kvar
                 in zip(PHASES, bank.phase_kvar, strict=True) if kvar]
        if (len(units) != int(max_step)
                or any(abs(kvar / 1000.0 + float(q_mvar)) > _UNIT_MATCH_MVAR for _, kvar in units)):
            raise ValueError(f"shunt {name!r}: the published bank at its bus on the three-phase"
                             f" {feeder.name} feeder is not {int(max_step)} phase units of"
                             f" {-float(q_mvar) * 1000:g} kvar")
        out[str(name)] = tuple(unit for unit, _ in units)
    return out, added


def _transformers(net: pp.pandapowerNet, feeder: Feeder
                  ) -> tuple[dict[str, tuple[int, ...]], dict[str, TapWinding],
                             list[tuple[str, ...]], list[tuple[float, float]]]:
    units = feeder.regulator_units
    banks = {bank.name: bank for bank in feeder.regulators}
    plain = {feeder.substation.name, *(tr.name for tr in feeder.transformers)}
    regulators: dict[str, tuple[int, ...]] = {}
    windings: dict[str, TapWinding] = {}
    elements: list[tuple[str, ...]] = []
    rated: list[tuple[float, float]] = []
    for _, tr in net.trafo.iterrows():
        name = str(tr["name"])
        has_tap = isinstance(tr["tap_changer_type"], str) and not np.isnan(tr["tap_pos"])
        if name in banks:
            if abs(float(tr["tap_step_percent"]) - REGULATOR_TAP_STEP_PERCENT) > 1e-12:
                raise ValueError(f"regulator {name!r}: taps of {tr['tap_step_percent']} %, the"
                                 f" three-phase units have {REGULATOR_TAP_STEP_PERCENT} %")
            regulators[name] = tuple(units.index(u) for u in banks[name].units)
            elements.append(tuple(f"Transformer.{u}" for u in banks[name].units))
        elif name in plain:
            if has_tap:
                windings[name] = TapWinding(name, 2 if tr["tap_side"] == "lv" else 1,
                                            float(tr["tap_neutral"]),
                                            float(tr["tap_step_percent"]),
                                            float(tr["tap_min"]), float(tr["tap_max"]))
            elements.append((f"Transformer.{name}",))
        else:
            raise ValueError(f"transformer {name!r} is not on the three-phase {feeder.name}"
                             " feeder")
        sn_kva = float(tr["sn_mva"]) * 1000.0
        rated.append((sn_kva / (3**0.5 * float(tr["vn_hv_kv"])),
                      sn_kva / (3**0.5 * float(tr["vn_lv_kv"]))))
    return regulators, windings, elements, rated


def _lines(net: pp.pandapowerNet, feeder: Feeder) -> tuple[list[tuple[str, ...]], np.ndarray]:
    segments: dict[str, list[str]] = {}
    cut = {(dl.from_bus, dl.to_bus): feeder.lumped_node(dl) for dl in feeder.distributed_loads}
    for f, t, _, _ in feeder.lines:
        node = cut.get((f, t))
        parts = ([area_join(f, t, "-")] if node is None else
                 [area_join(f, node, "-"), area_join(node, t, "-")])
        segments[area_join(f, t, "-")] = [f"Line.{p}" for p in parts]
    out = []
    for name in net.line["name"]:
        if str(name) not in segments:
            raise ValueError(f"line {name!r} is not on the three-phase {feeder.name} feeder")
        out.append(tuple(segments[str(name)]))
    rated = (net.line.max_i_ka * net.line.df * net.line.parallel).to_numpy(float) * 1000.0
    return out, rated


def phase_mapping(net: pp.pandapowerNet, feeder: Feeder) -> PhaseMapping:
    """The mapping of ``net`` (a scenario's balanced net, devices written in) onto
    ``feeder``; a ValueError names the first element that has no counterpart."""
    bus_names = _buses(net, feeder)
    injection_buses, injections = _injections(net, bus_names)
    switches = {area_join(f, t, "-") for f, t in feeder.switches}
    for name, et in zip(net.switch["name"], net.switch["et"], strict=True):
        if et != "b" or str(name) not in switches:
            raise ValueError(f"switch {name!r}: no bus-bus switch of that name on the"
                             f" three-phase {feeder.name} feeder")
    regulators, windings, trafo_elements, trafo_rated = _transformers(net, feeder)
    line_segments, line_rated = _lines(net, feeder)
    shunts, added = _shunts(net, feeder, bus_names)
    return PhaseMapping(
        feeder=feeder, bus_names=bus_names, injection_buses=injection_buses,
        injections=injections, loads=_loads(net, feeder),
        load_bus=[bus_names[net.bus.index.get_loc(b)] for b in net.load["bus"]],
        shunts=shunts, added_capacitors=added, regulator_banks=regulators,
        tap_windings=windings, switches={str(n): str(n) for n in net.switch["name"]},
        line_names=[str(n) for n in net.line["name"]], line_segments=line_segments,
        line_rated_a=line_rated, trafo_names=[str(n) for n in net.trafo["name"]],
        trafo_elements=trafo_elements, trafo_rated_a=trafo_rated)


def line_phases(net: pp.pandapowerNet, feeder: Feeder | str) -> list[str]:
    """Per ``net.line`` row, the phases of that line on the three-phase ``feeder`` (a
    :class:`Feeder` or its name): ``"abc"``, ``"ac"``, ``"c"``, ... -- those both of its
    ends have (:meth:`Feeder.bus_phases`); a ValueError names a line not on it."""
    from powergrid.networks.three_phase import FEEDERS

    feeder = FEEDERS[feeder] if isinstance(feeder, str) else feeder
    phases = feeder.bus_phases()
    out = []
    for name in net.line["name"]:
        f, t = area_split(str(name), "-")
        if f not in phases or t not in phases:
            raise ValueError(f"line {name!r} is not on the three-phase {feeder.name} feeder")
        out.append("".join(p for p in "abc" if p in phases[f] and p in phases[t]))
    return out
