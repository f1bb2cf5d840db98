"""The grid federate: one pandapower net per entity, one AC power flow per step.

Start it in-process (``{"python": "simulators.grid:GridSim"}``), as a
subprocess (``{"cmd": "%(python)s -m simulators.grid %(addr)s"}``) or as a
server (``python -m simulators.grid --remote 127.0.0.1:5678``).
"""

from __future__ import annotations

import sys
from typing import Any, cast

import mosaik_api_v3
import numpy as np
import pandas as pd
from mosaik_api_v3.types import CreateResult, InputData, Meta, OutputData, OutputRequest

from powergrid.devices import Grid, Transformer, device_from_config
from powergrid.gridmodel import BatchGridModel, GridModel, GridResult
from powergrid.phase_gridmodel import ThreePhaseGridModel
from powergrid.records import GridBatchState
from simulators import run_federate
from simulators.grid_entities import (
    Element,
    apply_inputs,
    element_entities,
    element_models,
    element_outputs,
    with_bus_injections,
)

META: Meta = {
    "api_version": "3.0",
    "type": "time-based",
    "models": {
        "Grid": {
            "public": True,
            "params": ["net", "net_json", "net_floats", "grid_model", "solver", "load_profiles",
                       "load_scale", "pccs", "price", "regulators", "physics", "feeder",
                       "elements"],
            "attrs": [
                # inputs (from device entities, keyed by the element name = source eid)
                "p_mw", "q_mvar", "position",
                # input from coordinating agents: {pcc name: price in $/MWh}
                "tariffs",
                # outputs
                "converged", "vm_pu", "va_degree", "line_loading_percent",
                "trafo_loading_percent", "pcc_p_mw", "pcc_q_mvar", "pcc_cost", "pcc_safety", "cost",
                "safety",
                "cost_terms", "safety_terms",
                # the automatic tap changers' taps, settled within this step's power flow
                # (list in the entity's extra_info "regulator_names" order)
                "regulator_tap_pos",
                # three-phase physics: every bus-phase's voltage (extra_info "phase_names"
                # order) and every regulator unit's tap ("regulator_unit_names"); empty
                # lists for the balanced physics
                "vm_phase_pu", "regulator_unit_tap_pos",
                # all of the above in one dict (one connection for a consumer of everything)
                "state",
            ],
            # load-profile and price series arrive under their own names ("load:H0-A"):
            # init's ``series`` declares them (every other input name is refused at
            # connect; before, any name was taken and a typo had no effect)
        },
        # N copies of one net in one entity, solved together (batched environments,
        # in-process): inputs "values" (N, S) series, "injections" (the device batch's),
        # "resets" [[copy, seed], ...] (those copies start cold); output "state": dict of
        # (N, ...) arrays
        "GridBatch": {
            "public": True,
            "params": ["grid_model", "series", "price", "load_scale"],
            "attrs": ["values", "injections", "resets", "state"],
        },
        # a Grid's child entities, one per element of its net (simulators.grid_entities)
        **element_models(),
    },
}

_OUTPUTS = {
    "converged": lambda r: r.converged,
    "vm_pu": lambda r: r.vm_pu.tolist(),
    "va_degree": lambda r: r.va_degree.tolist(),
    "line_loading_percent": lambda r: r.line_loading_percent.tolist(),
    "trafo_loading_percent": lambda r: r.trafo_loading_percent.tolist(),
    "pcc_p_mw": lambda r: r.pcc_p_mw.tolist(),
    "pcc_q_mvar": lambda r: r.pcc_q_mvar.tolist(),
    "pcc_cost": lambda r: r.pcc_cost.tolist(),
    "pcc_safety": lambda r: r.pcc_safety.tolist(),
    "cost": lambda r: r.cost,
    "safety": lambda r: r.safety,
    "cost_terms": lambda r: r.cost_terms,
    "safety_terms": lambda r: r.safety_terms,
    "regulator_tap_pos": lambda r: r.regulator_tap_pos.tolist(),
    "vm_phase_pu": lambda r: r.vm_phase_pu.tolist(),
    "regulator_unit_tap_pos": lambda r: r.regulator_unit_tap_pos.tolist(),
}


def _output(result: GridResult, attr: str) -> Any:
    if attr == "state":
        return {name: get(result) for name, get in _OUTPUTS.items()}
    return _OUTPUTS[attr](result)


def net_float_columns(net: Any) -> dict[str, dict[str, list[float]]]:
    """Every float64 column of a pandapower net's element tables, as exact values.

    pandapower's JSON keeps 15 significant digits, so a net sent as ``net_json``
    alone solves a few 1e-15 p.u. off the original; these lists travel as JSON
    numbers, which Python writes by ``repr`` and reads back bit-identical. Send
    them as the ``net_floats`` param next to ``net_json`` (result tables are left out).
    """
    out: dict[str, dict[str, list[float]]] = {}
    for key in net.keys():  # noqa: SIM118 (a pandapowerNet is a dict with attribute access)
        table = net[key]
        if key.startswith("res_") or not isinstance(table, pd.DataFrame) or table.empty:
            continue
        cols = {str(c): table[c].tolist() for c in table.columns
                if table[c].dtype == np.float64}
        if cols:
            out[str(key)] = cols
    return out


def restore_float_columns(net: Any, floats: dict[str, dict[str, list[float]]]) -> None:
    """Overwrite ``net``'s float columns with the exact values of
    :func:`net_float_columns` (a table or column that does not fit is an error naming it)."""
    for key, cols in floats.items():
        table = net.get(key)
        if not isinstance(table, pd.DataFrame):
            raise ValueError(f"net_floats: the net has no table {key!r}")
        for col, values in cols.items():
            if col not in table.columns or len(values) != len(table):
                raise ValueError(f"net_floats: {key}.{col} does not fit the net's table")
            table[col] = np.asarray([np.nan if v is None else v for v in values],
                                    dtype=np.float64)


def _source_eid(full_id: str) -> str:
    """The entity id part of a mosaik full id ``"<sid>.<eid>"`` (eids may hold dots)."""
    return full_id.split(".", 1)[1]


def with_series_inputs(meta: Meta, series: list[str]) -> Meta:
    """``meta`` whose ``Grid`` model also takes the series ``series`` (load profiles, the
    price) as inputs, by name; a name that is already an attribute is an error."""
    grid = meta["models"]["Grid"]
    clash = sorted(set(series) & set(grid["attrs"]))
    if clash:
        raise ValueError(f"grid series {clash} clash with the Grid's own attributes")
    models = {**meta["models"], "Grid": {**grid, "attrs": [*grid["attrs"], *series]}}
    return cast(Meta, {**meta, "models": models})


class GridSim(mosaik_api_v3.Simulator):
    """Hosts :class:`powergrid.gridmodel.GridModel` instances as ``Grid`` entities.

    ``init(sid, time_resolution, step_size=3600, series=[...])``: step size in mosaik
    time units; ``series``: the names of the series inputs (load profiles, the price).

    ``Grid`` params: ``net`` (a pandapowerNet, in-process only) or ``net_json``
    (the same as pandapower JSON, optionally with ``net_floats``, the exact values of
    its float columns: :func:`net_float_columns`) or ``grid_model`` (a ready
    :class:`~powergrid.gridmodel.GridModel`, in-process only: it is reset and
    reused, which saves rebuilding the power-flow model every episode); ``solver``;
    ``load_profiles`` ``{load name: series name}``; ``load_scale``; ``pccs``
    (Grid device configs settled here); ``price`` (the series name of the
    energy price); ``regulators`` (configs of the automatic Transformer devices, whose
    taps the grid settles within each power flow); ``physics`` (``"balanced"``, default,
    or ``"three_phase"``: the net is mapped onto ``feeder``'s OpenDSS circuit,
    :class:`~powergrid.phase_gridmodel.ThreePhaseGridModel`; ``solver`` is not used);
    ``elements`` (default True: a child entity per element of the net and per PCC,
    :mod:`simulators.grid_entities`; the environments, which build a world every
    episode and read the bundled ``state``, pass False).

    Inputs: ``p_mw``/``q_mvar`` from sgen and storage devices and ``position``
    from tap changers, shunts and switches -- each source entity's eid is the
    name of its element in the net -- plus the series named at ``init``. Any other
    input is refused when it is connected. Outputs: see docs/federates.md.
    """

    def __init__(self) -> None:
        super().__init__(META)
        self.models: dict[str, GridModel | ThreePhaseGridModel] = {}
        self.batches: dict[str, tuple[BatchGridModel, int, float]] = {}
        self.batch_state: dict[str, GridBatchState] = {}
        self.results: dict[str, GridResult] = {}
        self.elements: dict[str, Element] = {}
        self.load_scale: dict[str, float] = {}
        self.price_series: dict[str, str | None] = {}
        self.step_size = 3600
        self.dt_h = 1.0

    def init(self, sid: str, time_resolution: float = 1.0, step_size: int = 3600,
             series: list[str] | None = None, **sim_params: Any) -> Meta:
        self.step_size = int(step_size)
        self.dt_h = self.step_size * time_resolution / 3600.0
        self.meta = with_series_inputs(self.meta, series or [])
        return self.meta

    # mosaik_api_v3 types create's model params as **model_params; a federate names its own
    def create(self, num: int, model: str, net: Any = None, net_json: str | None = None,  # type: ignore[override]
               net_floats: dict[str, dict[str, list[float]]] | None = None,
               solver: str = "lightsim2grid", load_profiles: dict[str, str] | None = None,
               load_scale: float = 1.0, pccs: list[dict[str, Any]] | None = None,
               price: str | None = None, grid_model: Any = None,
               series: list[str] | None = None,
               regulators: list[dict[str, Any]] | None = None, physics: str = "balanced",
               feeder: str | None = None, elements: bool = True) -> list[CreateResult]:
        if model == "GridBatch":
            eid = f"GridBatch-{len(self.batches)}"
            grid_model.reset(np.arange(grid_model.n))
            self.batches[eid] = (grid_model, list(series or []).index(cast(str, price)),
                                 float(load_scale))
            return [{"eid": eid, "type": model}]
        ready = grid_model
        if sum(x is not None for x in (net, net_json, ready)) != 1:
            raise ValueError("Grid needs exactly one of 'net', 'net_json' and 'grid_model'")
        if ready is not None and num != 1:
            raise ValueError("a ready GridModel serves exactly one Grid entity")
        if net_json is not None:
            import pandapower as pp

            net = pp.from_json_string(net_json)
            restore_float_columns(net, net_floats or {})
        if net is not None and physics == "balanced":  # once: every copy gets the same net
            net = with_bus_injections(net)
        pcc_devices = cast("list[Grid]", [device_from_config(c) for c in (pccs or [])])
        entities: list[CreateResult] = []
        for _ in range(num):
            eid = f"Grid-{len(self.models)}"
            if ready is not None:
                ready.reset()
                self.models[eid] = ready
            else:
                regulator_devices = cast("list[Transformer]",
                                         [device_from_config(c) for c in (regulators or [])])
                if physics == "three_phase":
                    if feeder is None:
                        raise ValueError("Grid: physics 'three_phase' needs 'feeder' (a name"
                                         " such as 'ieee13')")
                    self.models[eid] = ThreePhaseGridModel(net, feeder, load_profiles,
                                                           pcc_devices,
                                                           regulators=regulator_devices)
                elif physics == "balanced":
                    self.models[eid] = GridModel(net, solver, load_profiles, pcc_devices,
                                                 regulators=regulator_devices)
                else:
                    raise ValueError(f"Grid: physics must be 'balanced' or 'three_phase',"
                                     f" not {physics!r}")
            self.load_scale[eid] = float(load_scale)
            self.price_series[eid] = price
            grid = self.models[eid]
            children: list[CreateResult] = []
            if elements:
                children, by_eid = element_entities(
                    eid, grid.solver.net if isinstance(grid, GridModel) else net,
                    pcc_devices,
                    {"BusPhase": getattr(grid, "phase_names", []),
                     "RegulatorUnit": getattr(grid, "regulator_unit_names", [])})
                self.elements.update(by_eid)
            entities.append({"eid": eid, "type": model, "children": children, "extra_info": {
                "bus_names": grid.bus_names, "line_names": grid.line_names,
                "trafo_names": grid.trafo_names, "pcc_names": grid.pcc_names,
                "regulator_names": grid.regulator_names,
                "phase_names": getattr(grid, "phase_names", []),
                "regulator_unit_names": getattr(grid, "regulator_unit_names", [])}})
        return entities

    def step(self, time: int, inputs: InputData, max_advance: int) -> int:
        for eid, (batch, price_column, load_scale) in self.batches.items():
            data = inputs.get(eid, {})
            copies = [int(c) for v in data.get("resets", {}).values() for c, _ in v or ()]
            if copies:  # they start over: a cold start
                batch.reset(np.array(copies, dtype=np.intp))
            values = next(iter(data["values"].values()))
            inj = next(iter(data["injections"].values()))
            result = batch.step(values, inj["p_mw"], inj["q_mvar"], inj["position"],
                                values[:, price_column], self.dt_h, load_scale)
            self.batch_state[eid] = result.record()
        for eid, grid in self.models.items():
            data = inputs.get(eid, {})
            series = {attr: next(iter(v.values())) for attr, v in data.items() if ":" in attr}
            grid.set_load_profiles(series, self.load_scale[eid])
            if "p_mw" in data:
                grid.set_injections(
                    {_source_eid(k): v for k, v in data["p_mw"].items()},
                    {_source_eid(k): v for k, v in data.get("q_mvar", {}).items()})
            if "position" in data:
                grid.set_positions({_source_eid(k): v for k, v in data["position"].items()})
            price = series.get(self.price_series[eid] or "", 0.0)
            tariffs: dict[str, float] = {}
            for value in data.get("tariffs", {}).values():
                tariffs.update(value or {})
            children = {child: v for child, v in inputs.items()
                        if child in self.elements and self.elements[child].grid == eid}
            if children:
                apply_inputs(grid, self.elements, children)
            self.results[eid] = grid.solve(price, self.dt_h, tariffs)
        return time + self.step_size

    def get_data(self, outputs: OutputRequest) -> OutputData:
        data: OutputData = {}
        for eid, attrs in outputs.items():
            element = self.elements.get(eid)
            if element is not None:
                data[eid] = element_outputs(self.models[element.grid], self.results[element.grid],
                                    element, attrs)
            elif eid in self.batches:
                data[eid] = dict.fromkeys(attrs, self.batch_state[eid])
            else:
                data[eid] = {attr: _output(self.results[eid], attr) for attr in attrs}
        return data


if __name__ == "__main__":
    sys.exit(run_federate(GridSim(), "powergrid grid federate", "grid"))
