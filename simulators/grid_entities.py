"""The grid federate's entity per grid element: the models, their scalar attributes and
their units, and how each attribute is read from or written to a grid model.

Every ``Grid`` entity has a child entity per element of its net, with mosaik ``rel``s
following the topology (an element to its bus or buses, a switch to what it connects):

===========  ==============================================  =============================
model        inputs                                          outputs
===========  ==============================================  =============================
``Bus``      ``p_gen_mw``, ``q_gen_mvar`` (into the bus),    ``vm_pu``, ``va_degree``
             ``p_load_mw``, ``q_load_mvar`` (out of it);
             balanced physics, a Grid made from a net
``Line``     --                                              ``loading_percent``
``Trafo``    ``tap_pos``                                     ``loading_percent``,
                                                             ``tap_pos``
``Load``     ``p_mw``, ``q_mvar`` (consumed; they replace    ``p_mw``, ``q_mvar``
             the profile's value; balanced physics)
``Sgen``     ``p_mw``, ``q_mvar`` (generated)                ``p_mw``, ``q_mvar``
``Storage``  ``p_mw``, ``q_mvar`` (charging positive)        ``p_mw``, ``q_mvar``
``Shunt``    ``step``                                        ``step``
``Switch``   ``closed`` (1 closed, 0 open)                   ``closed``
``ExtGrid``  --                                              ``p_mw``, ``q_mvar`` (import)
``Pcc``      --                                              ``p_mw``, ``q_mvar`` (import),
                                                             ``cost`` ($ in the step),
                                                             ``safety``
===========  ==============================================  =============================

The three-phase physics adds ``BusPhase`` entities (output ``vm_pu``, one per
bus-phase of the circuit, ``Grid-0.BusPhase.675.a``, related to their Bus) and
``RegulatorUnit`` entities (output ``tap_pos``, one per phase unit of a regulator bank,
``Grid-0.RegulatorUnit.reg1.a``, related to its Trafo): the grid's per-phase lists
``vm_phase_pu`` and ``regulator_unit_tap_pos`` per element.

Entity ids are ``<grid eid>.<model>.<element name>`` (``Grid-0.Bus.675``); several
senders to one numeric input are summed, a position takes one sender.

Units: MW, Mvar, p.u., degrees, percent of the rating; ``tap_pos``, ``step`` and
``closed`` are integer positions (``tap_min .. tap_max``, ``0 .. max_step``, 0/1).
Every value is the one of the step's power flow (``p_mw`` of an Sgen: what it was set
to; of an ExtGrid: the solved exchange). A ``Load``'s ``p_mw`` replaces the value its
profile would give for that step (send ``q_mvar`` too: an unsent one keeps the
profile's); an ``Sgen``'s or ``Storage``'s unsent ``q_mvar`` is 0, as when a device
sends only P. An input to an element that the grid's own wiring also drives (a device
named after it) wins. The three-phase physics has the same entities (a bus's ``vm_pu``
is its phase farthest from 1 p.u.); bus injections, Load inputs and the ExtGrid's
outputs are the balanced physics' only.

How these differ from mosaik-pandapower-2's (``Bus``, ``Load``, ``StaticGen``, ``Line``,
``ExternalGrid``): attribute names carry the unit the way the rest of this project does
(``vm_pu``, not ``Vm[pu]``); entity ids hold the element's *name*, not its table index
(a scenario's devices and configs speak names); and the elements a device acts on
(Sgen, Storage, Trafo, Shunt, Switch, Load) take inputs themselves, so an outside
simulator drives the scenario's own element, not an extra one at its bus.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandapower as pp
from mosaik_api_v3.types import CreateResult, ModelDescription

from powergrid.devices import Grid
from powergrid.gridmodel import GridModel, GridResult
from powergrid.phase_gridmodel import ThreePhaseGridModel

#: model -> (net table, bus columns for the rels, inputs, outputs)
ELEMENT_MODELS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "Bus": ("bus", (), ("p_gen_mw", "q_gen_mvar", "p_load_mw", "q_load_mvar"),
            ("vm_pu", "va_degree")),
    "Line": ("line", ("from_bus", "to_bus"), (), ("loading_percent",)),
    "Trafo": ("trafo", ("hv_bus", "lv_bus"), ("tap_pos",), ("loading_percent", "tap_pos")),
    "Load": ("load", ("bus",), ("p_mw", "q_mvar"), ("p_mw", "q_mvar")),
    "Sgen": ("sgen", ("bus",), ("p_mw", "q_mvar"), ("p_mw", "q_mvar")),
    "Storage": ("storage", ("bus",), ("p_mw", "q_mvar"), ("p_mw", "q_mvar")),
    "Shunt": ("shunt", ("bus",), ("step",), ("step",)),
    "Switch": ("switch", ("bus",), ("closed",), ("closed",)),
    "ExtGrid": ("ext_grid", ("bus",), (), ("p_mw", "q_mvar")),
}

#: a PCC (a :class:`~powergrid.devices.Grid` settled by the grid): its outputs
PCC_OUTPUTS = ("p_mw", "q_mvar", "cost", "safety")
#: the three-phase physics' per-phase entities: model -> (its output, the parent model)
PHASE_MODELS = {"BusPhase": ("vm_pu", "Bus"), "RegulatorUnit": ("tap_pos", "Trafo")}
_ELEMENT_MODEL = {"ext_grid": "ExtGrid", "trafo": "Trafo", "line": "Line"}

#: the name prefix of the zero sgen added at every bus for the Bus entities' injections
BUS_INJECTION_PREFIX = "bus-injection:"

#: the discrete inputs: attribute -> how a grid model calls that position
_POSITION_ATTRS = ("tap_pos", "step", "closed")


def element_models() -> dict[str, ModelDescription]:
    """The child models' META entries (not public: a Grid creates them)."""
    models: dict[str, ModelDescription] = {
        model: {"public": False, "params": [], "any_inputs": False,
                "attrs": list(dict.fromkeys(inputs + outputs))}
        for model, (_, _, inputs, outputs) in ELEMENT_MODELS.items()}
    models["Pcc"] = {"public": False, "params": [], "any_inputs": False,
                     "attrs": list(PCC_OUTPUTS)}
    for model, (attr, _) in PHASE_MODELS.items():
        models[model] = {"public": False, "params": [], "any_inputs": False,
                         "attrs": [attr]}
    return models


def with_bus_injections(net: pp.pandapowerNet) -> pp.pandapowerNet:
    """A copy of ``net`` with a zero sgen at every bus (named ``bus-injection:<bus>``),
    through which the ``Bus`` entities' injections enter the power flow."""
    net = copy.deepcopy(net)
    for bus, name in zip(net.bus.index, net.bus["name"], strict=True):
        pp.create_sgen(net, bus, p_mw=0.0, q_mvar=0.0, name=f"{BUS_INJECTION_PREFIX}{name}")
    return net


@dataclass(frozen=True)
class Element:
    """A child entity: its grid entity, model, element name and row position."""

    grid: str
    model: str
    name: str
    pos: int


def element_entities(grid_eid: str, net: pp.pandapowerNet, pccs: Iterable[Grid] = (),
                     phases: Mapping[str, Iterable[str]] | None = None
                     ) -> tuple[list[CreateResult], dict[str, Element]]:
    """The child entities of the grid ``grid_eid`` whose net is ``net`` (the bus-injection
    sgens are not entities), of its PCCs ``pccs`` (related to the element that measures
    each) and, three-phase, of ``phases`` (``{"BusPhase": phase names "<bus>.<phase>",
    "RegulatorUnit": unit names "<regulator>.<phase>"}``, in the grid's list order); and
    each one's :class:`Element` by entity id."""
    bus_name = dict(zip(net.bus.index, (str(n) for n in net.bus["name"]), strict=True))

    def eid(model: str, name: str) -> str:
        return f"{grid_eid}.{model}.{name}"

    children: list[CreateResult] = []
    elements: dict[str, Element] = {}
    for model, (table, bus_columns, _, _) in ELEMENT_MODELS.items():
        frame = net[table]
        names = _names(frame)
        ends = [[eid("Bus", bus_name[b]) for b in frame[c].to_numpy()] for c in bus_columns]
        if model == "Switch":
            kinds = frame["et"].to_numpy()
            line_names = dict(zip(net.line.index, _names(net.line), strict=True))
            trafo_names = dict(zip(net.trafo.index, _names(net.trafo), strict=True))
            ends.append([eid("Bus", bus_name[e]) if k == "b" else
                         eid("Line", line_names[e]) if k == "l" else eid("Trafo", trafo_names[e])
                         for k, e in zip(kinds, frame["element"].to_numpy(), strict=True)])
        for pos, name in enumerate(names):
            if model == "Sgen" and name.startswith(BUS_INJECTION_PREFIX):
                continue
            child = eid(model, name)
            if child in elements:
                raise ValueError(f"grid {grid_eid}: two {table} elements named {name!r}")
            elements[child] = Element(grid_eid, model, name, pos)
            children.append({"eid": child, "type": model, "rel": [e[pos] for e in ends]})
    for k, pcc in enumerate(pccs):
        table = net[pcc.element]
        row = pcc.write_to_net(net)  # the index of the measuring element (nothing written)
        child = eid("Pcc", pcc.name)
        elements[child] = Element(grid_eid, "Pcc", pcc.name, k)
        measured = dict(zip(table.index, _names(table), strict=True))[row]
        children.append({"eid": child, "type": "Pcc",
                         "rel": [eid(_ELEMENT_MODEL[pcc.element], measured)]})
    for model, phase_names in (phases or {}).items():
        parent_model = PHASE_MODELS[model][1]
        for k, name in enumerate(phase_names):
            child, parent = eid(model, name), eid(parent_model, name.rpartition(".")[0])
            elements[child] = Element(grid_eid, model, name, k)
            children.append({"eid": child, "type": model,
                             "rel": [parent] if parent in elements else []})
    return children, elements


def _names(frame: Any) -> list[str]:
    """Each row's name (its index where it has none), as text."""
    return [str(i) if n is None or n != n else str(n)
            for i, n in zip(frame.index, frame["name"].to_numpy(), strict=True)]


def apply_inputs(grid: GridModel | ThreePhaseGridModel, elements: Mapping[str, Element],
                 inputs: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> None:
    """Write the child entities' ``inputs`` (mosaik's ``{eid: {attr: {source: value}}}``,
    only this grid's children) into ``grid``: numeric values of several senders are
    summed; a position must have one sender."""
    p: dict[str, float] = {}
    q: dict[str, float] = {}
    positions: dict[str, float] = {}
    load_p: dict[str, float] = {}
    load_q: dict[str, float] = {}
    for child, data in inputs.items():
        element = elements[child]
        for attr, sources in data.items():
            if attr in _POSITION_ATTRS:
                if len(sources) != 1:
                    raise ValueError(f"{child}.{attr}: {len(sources)} senders"
                                     f" ({', '.join(sorted(sources))}); a position takes one")
                positions[element.name] = float(next(iter(sources.values())))
                continue
            value = _total(sources.values())
            if element.model == "Load":
                (load_p if attr == "p_mw" else load_q)[element.name] = value
            elif element.model == "Bus":
                name = f"{BUS_INJECTION_PREFIX}{element.name}"
                if not isinstance(grid, GridModel) or name not in grid.injection_names:
                    raise ValueError(f"{child}.{attr}: bus injections need a balanced Grid"
                                     " made from 'net' or 'net_json'")
                sign = 1.0 if "_gen_" in attr else -1.0
                into = p if attr.startswith("p_") else q
                into[name] = into.get(name, 0.0) + sign * value
            else:
                (p if attr == "p_mw" else q)[element.name] = value
    for name in q:
        p.setdefault(name, _injected(grid, name))
    if p:
        grid.set_injections(p, q)
    if positions:
        grid.set_positions(positions)
    if load_p or load_q:
        if not isinstance(grid, GridModel):
            raise ValueError("Load inputs need the balanced physics (the three-phase grid"
                             " follows its loads' profiles)")
        grid.set_loads(load_p, load_q)


def _total(values: Iterable[Any]) -> float:
    return float(sum(float(v) for v in values))


def _injected(grid: GridModel | ThreePhaseGridModel, name: str) -> float:
    """The P (MW) now set on the sgen or storage ``name`` (kept when only Q is sent)."""
    if isinstance(grid, GridModel):
        table, pos = grid.locate(name)
        return float(grid.element_values(table)[0][pos])
    return grid.injection(name)[0]


def element_outputs(grid: GridModel | ThreePhaseGridModel, result: GridResult, element: Element,
            attrs: Iterable[str]) -> dict[str, Any]:
    """The child entity ``element``'s values of ``attrs`` after the last step."""
    return {attr: _output(grid, result, element, attr) for attr in attrs}


def _output(grid: GridModel | ThreePhaseGridModel, result: GridResult, element: Element,
            attr: str) -> Any:
    model, pos = element.model, element.pos
    if model == "BusPhase":
        return float(result.vm_phase_pu[pos])
    if model == "RegulatorUnit":
        return int(result.regulator_unit_tap_pos[pos])
    if model == "Pcc":
        values = {"p_mw": result.pcc_p_mw, "q_mvar": result.pcc_q_mvar,
                  "cost": result.pcc_cost, "safety": result.pcc_safety}[attr]
        return float(values[pos])
    if model == "Bus":
        if attr not in ("vm_pu", "va_degree"):
            raise ValueError(f"{attr!r} is an input of Bus, not an output")
        k = pos if isinstance(grid, GridModel) else grid.bus_names.index(element.name)
        return float((result.vm_pu if attr == "vm_pu" else result.va_degree)[k])
    if attr == "loading_percent":
        values = result.line_loading_percent if model == "Line" else result.trafo_loading_percent
        return float(values[pos])
    if model == "Trafo":
        return int(_trafo_taps(grid)[pos])
    if model in ("Shunt", "Switch"):
        return _position(grid, element)
    if not isinstance(grid, GridModel):
        if model in ("Sgen", "Storage"):
            return grid.injection(element.name)[0 if attr == "p_mw" else 1]
        raise ValueError(f"{model} outputs need the balanced physics")
    if model == "ExtGrid":
        p_mw, q_mvar = grid.ext_grid_pq()
        return float((p_mw if attr == "p_mw" else q_mvar)[pos])
    p_mw, q_mvar = grid.element_values(model.lower())
    return float((p_mw if attr == "p_mw" else q_mvar)[pos])


def _trafo_taps(grid: GridModel | ThreePhaseGridModel) -> np.ndarray:
    if isinstance(grid, GridModel):
        return grid.tap_pos
    return grid.trafo_tap_pos()


def _position(grid: GridModel | ThreePhaseGridModel, element: Element) -> int:
    if isinstance(grid, GridModel):
        return round(float(grid.positions(element.model.lower())[element.pos]))
    return round(grid.position(element.name))
