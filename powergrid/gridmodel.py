"""A network in operation: its power flow, its loads' profiles, its PCCs, its limits.

:class:`GridModel` is what the grid federate (and anything else that needs
the network's response) drives each step: set load profiles and device
injections and positions by element name, solve one AC power flow, read the
results, the network's safety terms and the energy bill at each point of
common coupling.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

import numpy as np
import pandapower as pp

from powergrid.devices.discrete import TapRegulation, Transformer
from powergrid.devices.grid import Grid, GridFleet
from powergrid.records import GridBatchState
from powergrid.safety import (
    NONCONVERGENCE_SAFETY,
    VM_MAX_PU,
    VM_MIN_PU,
    loading_violation,
    unsupplied_load,
    voltage_violation,
)
from powergrid.solvers.batch_interface import BatchSolver
from powergrid.solvers.one_copy import OneCopySolver
from powergrid.solvers.registry import make_solver

#: where each kind of PCC's exchange is read: (P, Q) result arrays of the solver
_PCC_SOURCES = {"ext_grid": ("ext_grid_p_mw", "ext_grid_q_mvar"),
                "trafo": ("trafo_p_hv_mw", "trafo_q_hv_mvar"),
                "line": ("line_p_from_mw", "line_q_from_mvar")}

_POSITION_TABLES = ("trafo", "shunt", "switch")
_INJECTION_TABLES = ("sgen", "storage")


def _element_index(net: pp.pandapowerNet) -> dict[str, dict[str, int]]:
    """``{table: {element name: row position}}`` of the tables devices act on."""
    return {table: {str(name): pos for pos, name in enumerate(net[table]["name"])}
            for table in _INJECTION_TABLES + _POSITION_TABLES if len(net[table])}


def _locate(elements: dict[str, dict[str, int]], name: str) -> tuple[str, int]:
    for table, names in elements.items():
        if name in names:
            return table, names[name]
    raise ValueError(f"no sgen, storage, trafo, shunt or switch named {name!r} in the network")


def _by_table(elements: dict[str, dict[str, int]], names: Sequence[str]
              ) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``names`` grouped by the table that holds them: ``(table, their columns in names,
    their rows in the table)``, one array write per table in a step."""
    grouped: dict[str, list[tuple[int, int]]] = {}
    for k, name in enumerate(names):
        table, row = _locate(elements, name)
        grouped.setdefault(table, []).append((k, row))
    return [(table, np.array([k for k, _ in members], dtype=np.intp),
             np.array([r for _, r in members], dtype=np.intp))
            for table, members in grouped.items()]


def _pcc_position(net: pp.pandapowerNet, pcc: Grid) -> int:
    """Row position of a PCC's element (ext_grid, trafo or line) in its table."""
    return list(net[pcc.element].index).index(pcc.write_to_net(net))


def _load_buses(net: pp.pandapowerNet) -> tuple[np.ndarray, np.ndarray]:
    """Each load's bus as a ``net.bus`` row position, and which loads are in service."""
    bus = net.bus.index.get_indexer(net.load["bus"].to_numpy()).astype(np.intp)
    return bus, net.load["in_service"].to_numpy(dtype=bool)


def _zero_nan(values: np.ndarray) -> np.ndarray:
    """A float copy of ``values`` with nan as 0 (cheaper than ``np.nan_to_num``)."""
    values = np.asarray(values, dtype=float)
    return np.where(np.isnan(values), 0.0, values)


@overload
def scaled_load(p_nominal_mw: np.ndarray, profile: np.ndarray | float,
                load_scale: float) -> np.ndarray: ...


@overload
def scaled_load(p_nominal_mw: float, profile: float, load_scale: float) -> float: ...


def scaled_load(p_nominal_mw: np.ndarray | float, profile: np.ndarray | float,
                load_scale: float) -> np.ndarray | float:
    """Load in MW (or Mvar) at a profile value: ``nominal * profile * load_scale``."""
    return p_nominal_mw * profile * load_scale


def load_groups(net: pp.pandapowerNet, load_profiles: Mapping[str, str] | None
                ) -> dict[str, np.ndarray]:
    """``{series name: row positions of the loads that follow it}`` from ``{load name:
    series name}`` (a ValueError names a load that is not in the network)."""
    load_pos = {str(name): pos for pos, name in enumerate(net.load["name"])}
    groups: dict[str, list[int]] = {}
    for load, series in (load_profiles or {}).items():
        if load not in load_pos:
            raise ValueError(f"load {load!r} is not in the network")
        groups.setdefault(series, []).append(load_pos[load])
    return {s: np.array(p, dtype=np.intp) for s, p in groups.items()}


def load_demand_mw(load_p_mw: np.ndarray, groups: Mapping[str, np.ndarray],
                   values: Mapping[str, Any], load_scale: float = 1.0) -> np.ndarray:
    """All loads' consumption in MW: the loads of each group (:func:`load_groups`) at
    :func:`scaled_load` of their series' value in ``values`` (per unit; a scalar or one
    value per copy, ``(N,)``; a missing series counts as 1), the others at their nominal
    ``load_p_mw`` (MW, one per load). A 0-d array for scalar values."""
    total = np.asarray(float(load_p_mw.sum()))
    for series, pos in groups.items():
        nominal = np.asarray(float(load_p_mw[pos].sum()))
        profile = np.asarray(values.get(series, 1.0), dtype=float)
        total = total + (scaled_load(nominal, profile, load_scale) - nominal)
    return total


def settle(pcc_fleet: GridFleet, vm_pu: np.ndarray, line_loading_percent: np.ndarray,
           trafo_loading_percent: np.ndarray, pcc_p_mw: np.ndarray, pcc_q_mvar: np.ndarray,
           price_per_mwh: np.ndarray, converged: np.ndarray, dt_h: float,
           vm_min_pu: float = VM_MIN_PU, vm_max_pu: float = VM_MAX_PU,
           load_p_mw: np.ndarray | None = None, load_bus: np.ndarray | None = None
           ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """The bills and the network's safety terms of solved steps, one row per copy.

    Arrays are ``(N, n)``; ``pcc_fleet`` holds one copy's PCCs. Returns each PCC's
    bill ``(N, P)`` in $, the system's energy cost ``(N,)`` (external PCCs only),
    the safety terms ``{term: (N,)}`` and each PCC's share of ``pcc_rating`` ``(N, P)``
    (what an agent billed at that PCC is charged): ``voltage`` (energised buses outside the band,
    p.u. summed), ``line_loading``, ``trafo_loading``, ``pcc_rating``,
    ``nonconvergence``, ``unsupplied_load`` (the share of the load demand whose bus
    is not energised, from ``load_p_mw`` ``(N, L)`` in MW and ``load_bus``, each
    load's bus position; 0 for a step that did not converge, which
    ``nonconvergence`` charges). Row by row: a copy's figures never depend on the
    others.
    """
    n, n_pcc = pcc_p_mw.shape
    if n_pcc:
        flat = pcc_fleet.step({}, np.zeros((n * n_pcc, 0)), np.zeros((n * n_pcc, 0), np.int64),
                              {"p_mw": pcc_p_mw.reshape(-1), "q_mvar": pcc_q_mvar.reshape(-1),
                               "price": price_per_mwh.reshape(-1)}, dt_h, copies=n)[1]
        pcc_cost = flat.cost.reshape(n, n_pcc)
        pcc_safety = flat.safety.reshape(n, n_pcc)
        energy = np.where(pcc_fleet.internal, 0.0, pcc_cost).sum(axis=1)
    else:
        pcc_cost, pcc_safety, energy = np.zeros((n, 0)), np.zeros((n, 0)), np.zeros(n)
    vm = np.where(vm_pu > 0.0, vm_pu, np.nan)  # not energised: no voltage term
    terms = {
        "voltage": voltage_violation(vm, vm_min_pu, vm_max_pu).sum(axis=1),
        "line_loading": loading_violation(line_loading_percent).sum(axis=1),
        "trafo_loading": loading_violation(trafo_loading_percent).sum(axis=1),
        "pcc_rating": pcc_safety.sum(axis=1),
        "nonconvergence": np.where(converged, 0.0, NONCONVERGENCE_SAFETY),
        "unsupplied_load": np.zeros(n),
    }
    if load_p_mw is not None and load_bus is not None and len(load_bus):
        lost = unsupplied_load(load_p_mw, vm_pu[:, load_bus] > 0.0)
        terms["unsupplied_load"] = np.where(converged, lost, 0.0)
    return pcc_cost, energy, terms, pcc_safety


def regulated_bus_row(net: pp.pandapowerNet, regulator: Transformer) -> int:
    """Row position in ``net.bus`` of the bus an automatic tap changer regulates (its
    ``regulated_bus`` by name, else its transformer's LV bus)."""
    if regulator.regulated_bus is None:
        trafo = net.trafo.index[net.trafo["name"] == regulator.name][0]
        return int(net.bus.index.get_loc(int(net.trafo.at[trafo, "lv_bus"])))
    names = [str(n) for n in net.bus["name"]]
    if regulator.regulated_bus not in names:
        raise ValueError(f"device {regulator.name!r}: regulated bus"
                         f" {regulator.regulated_bus!r} is not in the network")
    return names.index(regulator.regulated_bus)


def tap_regulation(net: pp.pandapowerNet, regulators: Sequence[Transformer]
                   ) -> TapRegulation | None:
    """The :class:`TapRegulation` of ``regulators`` (automatic tap changers) in ``net``
    (None without any)."""
    if not regulators:
        return None
    trafo = {str(name): pos for pos, name in enumerate(net.trafo["name"])}
    for r in regulators:
        if r.name not in trafo:
            raise ValueError(f"regulator {r.name!r}: no trafo of that name in the network")
    return TapRegulation(regulators, [trafo[r.name] for r in regulators],
                         [regulated_bus_row(net, r) for r in regulators])


def settle_taps(regulation: TapRegulation, converged: np.ndarray, taps: np.ndarray,
                vm_pu: Callable[[], np.ndarray],
                resolve: Callable[[np.ndarray, np.ndarray], np.ndarray]
                ) -> tuple[np.ndarray, np.ndarray]:
    """Settle the automatic tap changers of N copies within their step (the rule is
    :class:`~powergrid.devices.discrete.TapRegulation`'s; this is the loop).

    ``converged`` ``(N,)`` and ``taps`` ``(N, R)``: the step's first power flow and the
    taps it was solved at; ``vm_pu()`` the bus voltages ``(N, n_bus)`` of the latest
    solves; ``resolve(taps, rows)`` sets copies ``rows``' taps to ``taps[rows]``, solves
    them and returns every copy's converged flag. A copy whose first power flow failed
    holds its taps; one whose power flow fails after a move goes back to the last taps
    that solved and holds them. Returns the converged flags and the settled taps.
    """
    start = taps.copy()
    taps = taps.copy()
    active = converged.copy()
    for _ in range(regulation.MAX_ROUNDS):
        new = regulation.next_taps(taps, start, vm_pu())
        rows = np.flatnonzero(active & (new != taps).any(axis=1))
        if not len(rows):
            break
        converged = resolve(new, rows).copy()
        ok = rows[converged[rows]]
        failed = rows[~converged[rows]]
        taps[ok] = new[ok]
        if len(failed):
            converged = resolve(taps, failed).copy()
            active[failed] = False
    return converged, taps


@dataclass(frozen=True)
class GridResult:
    """One solved step. Arrays follow the net's table order (see ``GridModel.*_names``).

    Voltages of buses that are not energised (out of service, or in an island
    without a slack) read 0.0, and the load they lose is the safety term
    ``unsupplied_load``. After a power flow that did not converge, the arrays
    hold the last converged solution and ``converged`` is False.
    ``regulator_tap_pos``: the taps the automatic tap changers settled on in this
    step (``GridModel.regulator_names`` order).
    """

    converged: bool
    vm_pu: np.ndarray
    va_degree: np.ndarray
    line_loading_percent: np.ndarray
    trafo_loading_percent: np.ndarray
    pcc_p_mw: np.ndarray
    pcc_q_mvar: np.ndarray
    pcc_cost: np.ndarray
    cost_terms: dict[str, float]
    safety_terms: dict[str, float]
    regulator_tap_pos: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    #: each PCC's rating excess (its part of the ``pcc_rating`` safety term)
    pcc_safety: np.ndarray = field(default_factory=lambda: np.zeros(0))
    #: three-phase physics only (empty otherwise): the voltage of every bus-phase, p.u.
    #: (``phase_names`` order, "<bus>.<phase>"), and every regulator unit's tap
    #: (``regulator_unit_names`` order, "<regulator>.<phase>")
    vm_phase_pu: np.ndarray = field(default_factory=lambda: np.zeros(0))
    regulator_unit_tap_pos: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    @property
    def cost(self) -> float:
        return float(sum(self.cost_terms.values()))

    @property
    def safety(self) -> float:
        return float(sum(self.safety_terms.values()))


class GridModel:
    """One pandapower net with a power-flow backend, operated step by step: the
    name-keyed front of a :class:`BatchGridModel` of one copy (the same code solves,
    settles the regulators and the PCCs, for one copy and for many).

    ==================  ============================================================
    argument            meaning
    ==================  ============================================================
    ``net``             the pandapower net, devices already written into it
    ``solver``          backend name (``"lightsim2grid"`` or ``"pandapower"``)
    ``load_profiles``   ``{load name: series name}``: loads that follow a profile
                        (``p = p_nominal * profile * load_scale``); others stay
                        at their nominal values
    ``pccs``            :class:`~powergrid.devices.Grid` devices settled here
    ``regulators``      automatic :class:`~powergrid.devices.Transformer` tap
                        changers, settled within each step's power flow
                        (:func:`settle_taps`)
    ``vm_min_pu``,      the voltage band of the ``voltage`` safety term
    ``vm_max_pu``
    ==================  ============================================================

    ``solver`` (the attribute) is the backend itself (:class:`~powergrid.solvers.base.
    PowerFlowSolver`), holding the last state handed to it and its last results.
    """

    def __init__(self, net: pp.pandapowerNet, solver: str = "lightsim2grid",
                 load_profiles: Mapping[str, str] | None = None, pccs: Sequence[Grid] = (),
                 vm_min_pu: float = VM_MIN_PU, vm_max_pu: float = VM_MAX_PU,
                 regulators: Sequence[Transformer] = ()) -> None:
        self.load_groups = load_groups(net, load_profiles)
        self.model = BatchGridModel(net, 1, [], {}, pccs, (), (), vm_min_pu, vm_max_pu,
                                    regulators, solver=solver)
        rows = self.model.solver
        assert isinstance(rows, OneCopySolver)  # a named backend as a batch of one
        self._rows = rows
        self.solver = rows.backend
        self.regulation = self.model.regulation
        self.regulator_names = self.model.regulator_names
        self.bus_names = [str(n) for n in net.bus["name"]]
        self.line_names = [str(n) for n in net.line["name"]]
        self.trafo_names = [str(n) for n in net.trafo["name"]]
        self.pcc_names = [g.name for g in pccs]
        self.vm_min_pu, self.vm_max_pu = vm_min_pu, vm_max_pu
        self._elements = _element_index(net)
        #: the names of the sgens and storage units (what :meth:`set_injections` takes)
        self.injection_names = frozenset(n for t in _INJECTION_TABLES
                                         for n in self._elements.get(t, {}))
        self._load_rows = {str(name): k for k, name in enumerate(net.load["name"])}
        self._load_p, self._load_q = self.model.load_p_mw, self.model.load_q_mvar
        self._plans: dict[tuple[str, ...], list[tuple[str, np.ndarray, np.ndarray]]] = {}

    def reset(self) -> None:
        """Back to the state at construction: the same results as a new GridModel of the
        same net would give, without rebuilding the power-flow model."""
        self.model.reset(np.zeros(1, dtype=np.intp))

    # -- inputs ------------------------------------------------------------------
    def set_load_profiles(self, values: Mapping[str, float], load_scale: float = 1.0) -> None:
        """Set every profiled load from its series' current value (per unit)."""
        rows = self._rows
        for series, pos in self.load_groups.items():
            if series not in values:
                continue
            value = float(values[series])
            rows.load_p_mw[0, pos] = scaled_load(self._load_p[pos], value, load_scale)
            rows.load_q_mvar[0, pos] = scaled_load(self._load_q[pos], value, load_scale)

    def locate(self, name: str) -> tuple[str, int]:
        """``(table, row position)`` of the sgen/storage/trafo/shunt/switch named ``name``."""
        return _locate(self._elements, name)

    def _plan(self, names: tuple[str, ...], tables: tuple[str, ...]
              ) -> list[tuple[str, np.ndarray, np.ndarray]]:
        """``[(table, row positions, indices into names)]`` for ``names`` (cached: the
        same devices send in the same order every step)."""
        plan = self._plans.get(names)
        if plan is None:
            by_table: dict[str, tuple[list[int], list[int]]] = {}
            for k, name in enumerate(names):
                table, pos = self.locate(name)
                if table not in tables:
                    kind = "an injection" if tables == _INJECTION_TABLES else "a tap/step/switch"
                    raise ValueError(f"element {name!r} is a {table}, not {kind}")
                rows = by_table.setdefault(table, ([], []))
                rows[0].append(pos)
                rows[1].append(k)
            plan = [(t, np.array(p, dtype=np.intp), np.array(k, dtype=np.intp))
                    for t, (p, k) in by_table.items()]
            self._plans[names] = plan
        return plan

    def set_injections(self, p_mw: Mapping[str, float], q_mvar: Mapping[str, float]) -> None:
        """Set the P (MW) and Q (Mvar) of sgens and storage units by element name."""
        names = tuple(p_mw)
        p = np.fromiter(p_mw.values(), dtype=float, count=len(names))
        q = np.array([q_mvar.get(n, 0.0) for n in names], dtype=float)
        for table, pos, k in self._plan(names, _INJECTION_TABLES):
            getattr(self._rows, f"{table}_p_mw")[0, pos] = p[k]
            getattr(self._rows, f"{table}_q_mvar")[0, pos] = q[k]

    def set_positions(self, positions: Mapping[str, float]) -> None:
        """Set tap positions, shunt steps and switch states (1 closed) by element name
        (only positions that changed cost the backend a model update)."""
        names = tuple(positions)
        values = np.fromiter(positions.values(), dtype=float, count=len(names))
        for table, pos, k in self._plan(names, _POSITION_TABLES):
            self.model.set_positions(table, pos, values[k][None])

    def set_loads(self, p_mw: Mapping[str, float], q_mvar: Mapping[str, float]) -> None:
        """Set loads' P (MW) and Q (Mvar, consumed) by load name, replacing what their
        profiles gave for this step (a load left out of one mapping keeps that value)."""
        for values, column in ((p_mw, self._rows.load_p_mw), (q_mvar, self._rows.load_q_mvar)):
            for name, value in values.items():
                if name not in self._load_rows:
                    raise ValueError(f"no load named {name!r} in the network")
                column[0, self._load_rows[name]] = float(value)

    def element_values(self, table: str) -> tuple[np.ndarray, np.ndarray]:
        """P (MW) and Q (Mvar) now set on every element of ``table`` (``"load"``,
        ``"sgen"`` or ``"storage"``, net order; storage and loads consume), views."""
        return getattr(self._rows, f"{table}_p_mw")[0], getattr(self._rows, f"{table}_q_mvar")[0]

    def ext_grid_pq(self) -> tuple[np.ndarray, np.ndarray]:
        """Every external grid's P (MW) and Q (Mvar) drawn from it in the last power flow."""
        return self._rows.ext_grid_p_mw[0], self._rows.ext_grid_q_mvar[0]

    def positions(self, table: str) -> np.ndarray:
        """Every ``"shunt"``'s step or ``"switch"``'s state (1 closed) now set, net order."""
        return {"shunt": self._rows.shunt_step, "switch": self._rows.switch_closed}[table][0]

    @property
    def tap_pos(self) -> np.ndarray:
        """Every transformer's tap position (``net.trafo`` order), a copy; assign to set
        them all (the automatic regulators move on from here at the next solve)."""
        return self._rows.trafo_tap_pos[0].copy()

    @tap_pos.setter
    def tap_pos(self, taps: np.ndarray) -> None:
        self._rows.trafo_tap_pos[0] = taps

    # -- solve ----------------------------------------------------------------------
    def solve(self, price_per_mwh: float = 0.0, dt_h: float = 1.0,
              pcc_prices: Mapping[str, float] | None = None,
              settle_regulators: bool = True) -> GridResult:
        """Run one AC power flow (the automatic regulators settled within it, unless
        ``settle_regulators`` is False: then every tap stays where it is); settle the PCCs
        at ``price_per_mwh`` ($/MWh) over ``dt_h`` hours, or at their own price in
        ``pcc_prices`` (a tariff, by PCC name).

        The system's ``energy`` cost counts the external PCCs only; every PCC's bill
        (internal ones too) is in ``pcc_cost``.
        """
        price = np.array([[float((pcc_prices or {}).get(n, price_per_mwh))
                           for n in self.pcc_names]])
        r = self.model.solve(price, dt_h, settle_regulators)
        return GridResult(bool(r.converged[0]), r.vm_pu[0], r.va_degree[0],
                          r.line_loading_percent[0], r.trafo_loading_percent[0],
                          r.pcc_p_mw[0], r.pcc_q_mvar[0], r.pcc_cost[0],
                          {"energy": float(r.energy_cost[0])},
                          {k: float(v[0]) for k, v in r.safety_terms.items()},
                          r.regulator_tap_pos[0], r.pcc_safety[0])


@dataclass(frozen=True)
class BatchResult:
    """One batched step, one row per copy (see :class:`GridResult` for the columns)."""

    converged: np.ndarray             # (N,) bool
    vm_pu: np.ndarray                 # (N, n_bus), 0 = not energised
    va_degree: np.ndarray
    line_loading_percent: np.ndarray  # (N, n_line)
    trafo_loading_percent: np.ndarray
    pcc_p_mw: np.ndarray              # (N, n_pcc)
    pcc_q_mvar: np.ndarray
    pcc_cost: np.ndarray
    energy_cost: np.ndarray           # (N,) $ at the external PCCs
    safety_terms: dict[str, np.ndarray]
    fallback: np.ndarray              # (N,) bool: solved by the single-copy backend
    regulator_tap_pos: np.ndarray     # (N, R) the automatic tap changers' settled taps
    pcc_safety: np.ndarray            # (N, P) each PCC's rating excess

    def record(self) -> GridBatchState:
        """What the grid federate publishes of this step (:class:`~powergrid.records.
        GridBatchState`; the arrays themselves, not copies)."""
        return GridBatchState(converged=self.converged, vm_pu=self.vm_pu, va_degree=self.va_degree,
                         line_loading_percent=self.line_loading_percent,
                         trafo_loading_percent=self.trafo_loading_percent,
                         pcc_p_mw=self.pcc_p_mw, pcc_q_mvar=self.pcc_q_mvar,
                         pcc_cost=self.pcc_cost, pcc_safety=self.pcc_safety,
                         energy_cost=self.energy_cost, safety_terms=self.safety_terms,
                         fallback=self.fallback, regulator_tap_pos=self.regulator_tap_pos)


def initial_batch_state(n: int, n_bus: int, n_line: int, n_trafo: int, n_pcc: int,
                        n_regulator: int) -> GridBatchState:
    """What the agents see of ``n`` copies before their first solve (a fresh episode):
    every bus at 1 p.u., nothing loaded, flowing or billed, no settled tap yet (nan)."""
    return GridBatchState(
        converged=np.ones(n, dtype=bool), vm_pu=np.ones((n, n_bus)),
        va_degree=np.zeros((n, n_bus)), line_loading_percent=np.zeros((n, n_line)),
        trafo_loading_percent=np.zeros((n, n_trafo)),
        pcc_p_mw=np.zeros((n, n_pcc)), pcc_q_mvar=np.zeros((n, n_pcc)),
        pcc_cost=np.zeros((n, n_pcc)), pcc_safety=np.zeros((n, n_pcc)),
        energy_cost=np.zeros(n),
        safety_terms={t: np.zeros(n) for t in ("voltage", "line_loading", "trafo_loading",
                                               "pcc_rating", "nonconvergence",
                                               "unsupplied_load")},
        fallback=np.zeros(n, dtype=bool),
        regulator_tap_pos=np.full((n, n_regulator), np.nan))


class BatchGridModel:
    """N copies of one network, solved together by :class:`~powergrid.solvers.batched.
    BatchedSolver`, with the loads, injections and positions of every copy as arrays.

    ``series`` names the columns of the values rows (loads follow their series as in
    :class:`GridModel`); ``injecting`` and ``positional`` name the devices (elements)
    whose P/Q and positions arrive as columns.
    """

    def __init__(self, net: pp.pandapowerNet, n_copies: int, series: Sequence[str],
                 load_profiles: Mapping[str, str], pccs: Sequence[Grid],
                 injecting: Sequence[str], positional: Sequence[str],
                 vm_min_pu: float = VM_MIN_PU, vm_max_pu: float = VM_MAX_PU,
                 regulators: Sequence[Transformer] = (), solver: str | None = None) -> None:
        from powergrid.solvers.batched import BatchedSolver

        self.n = int(n_copies)
        if solver is None:
            self.solver: BatchSolver = BatchedSolver(net, self.n)
        elif self.n == 1:
            self.solver = OneCopySolver(make_solver(net, solver))
        else:
            raise ValueError("a named single-copy backend serves one copy (n_copies=1);"
                             " many copies are solved by the batched solver")
        self.regulation = tap_regulation(net, regulators)
        self.regulator_names = [r.name for r in regulators]
        self.vm_min_pu, self.vm_max_pu = vm_min_pu, vm_max_pu
        elements = _element_index(net)
        load_pos = {str(name): pos for pos, name in enumerate(net.load["name"])}
        #: every load's nominal consumption (MW, Mvar), the scaling folded in
        self.load_p_mw = (net.load.p_mw * net.load.scaling).to_numpy(float)
        self.load_q_mvar = (net.load.q_mvar * net.load.scaling).to_numpy(float)
        self._load_bus, self._load_on = _load_buses(net)
        groups: dict[str, list[int]] = {}
        for load, s in load_profiles.items():
            groups.setdefault(s, []).append(load_pos[load])
        self._loads = [(list(series).index(s), np.array(p, dtype=np.intp))
                       for s, p in groups.items()]
        self._inj = _by_table(elements, injecting)
        self._pos = _by_table(elements, positional)
        self._pcc_fleet = GridFleet(list(pccs))
        self._pcc_where = [(g.element, _pcc_position(net, g)) for g in pccs]
        #: {element kind: (PCC columns, rows in that kind's result arrays)}
        self._pcc_groups = {
            element: (np.array([j for j, (e, _) in enumerate(self._pcc_where) if e == element]),
                      np.array([r for e, r in self._pcc_where if e == element]))
            for element in dict.fromkeys(e for e, _ in self._pcc_where)}
        self.n_bus, self.n_line, self.n_trafo = len(net.bus), len(net.line), len(net.trafo)
        self._last = self._placeholder(self.n)

    def _placeholder(self, n: int) -> dict[str, np.ndarray]:
        """What the agents see of a copy that has not been solved yet (a fresh episode)."""
        return {"vm_pu": np.ones((n, self.n_bus)), "va_degree": np.zeros((n, self.n_bus)),
                "line_loading_percent": np.zeros((n, self.n_line)),
                "trafo_loading_percent": np.zeros((n, self.n_trafo)),
                "pcc_p_mw": np.zeros((n, len(self._pcc_where))),
                "pcc_q_mvar": np.zeros((n, len(self._pcc_where)))}

    def initial_state(self, n: int) -> GridBatchState:
        """The batch state of ``n`` copies before their first solve (a fresh episode)."""
        return initial_batch_state(n, self.n_bus, self.n_line, self.n_trafo,
                                   len(self._pcc_where), len(self.regulator_names))

    def reset(self, copies: np.ndarray) -> None:
        """Copies ``copies`` start over: the solver's state and the last results."""
        if len(copies) == 0:
            return
        self.solver.reset(np.asarray(copies, dtype=np.intp))
        fresh = self._placeholder(len(copies))
        for key, value in fresh.items():  # new arrays: earlier results keep theirs
            self._last[key] = self._last[key].copy()
            self._last[key][copies] = value

    def step(self, values: np.ndarray, p_mw: np.ndarray, q_mvar: np.ndarray,
             positions: np.ndarray, price_per_mwh: np.ndarray, dt_h: float,
             load_scale: float = 1.0) -> BatchResult:
        """Set every copy's loads (from ``values`` ``(N, S)``), injections ``(N, I)`` and
        positions ``(N, P)``, then :meth:`solve` at ``price_per_mwh`` ``(N,)``."""
        s = self.solver
        for k, pos in self._loads:
            v = values[:, k:k + 1] * load_scale
            s.load_p_mw[:, pos] = self.load_p_mw[pos] * v
            s.load_q_mvar[:, pos] = self.load_q_mvar[pos] * v
        for table, columns, rows in self._inj:
            getattr(s, table + "_p_mw")[:, rows] = p_mw[:, columns]
            getattr(s, table + "_q_mvar")[:, rows] = q_mvar[:, columns]
        for table, columns, rows in self._pos:
            self.set_positions(table, rows, positions[:, columns])
        return self.solve(price_per_mwh, dt_h)

    def set_positions(self, table: str, pos: np.ndarray, values: np.ndarray) -> None:
        """Positions ``values`` ``(N, len(pos))`` of the ``table`` (``"trafo"``,
        ``"shunt"``, ``"switch"``) rows ``pos``: taps and steps rounded, switches closed
        above 0.5."""
        s = self.solver
        if table == "trafo":
            s.trafo_tap_pos[:, pos] = np.rint(values).astype(np.int64)
        elif table == "shunt":
            s.shunt_step[:, pos] = np.rint(values).astype(np.int64)
        else:
            s.switch_closed[:, pos] = values > 0.5

    @staticmethod
    def _held(fresh: np.ndarray, last: np.ndarray, converged: np.ndarray,
              every: bool) -> np.ndarray:
        """``fresh`` (nan as 0: not energised) for the converged copies, ``last`` for the
        others (their last converged solution), as a new array."""
        clean = _zero_nan(fresh)
        return clean if every else np.where(converged[:, None], clean, last)

    def solve(self, price_per_mwh: np.ndarray, dt_h: float,
              settle_regulators: bool = True) -> BatchResult:
        """Solve every copy at the inputs its solver holds, settle the automatic
        regulators within it (:func:`settle_taps`; not with ``settle_regulators`` False:
        the taps stay, as the oracle's sensitivities need them), hold each copy's last converged
        solution over a failed one, and settle the PCCs at ``price_per_mwh`` ($/MWh,
        ``(N,)``, or ``(N, P)`` a price per PCC) over ``dt_h`` hours."""
        s = self.solver
        converged = np.asarray(s.solve(), dtype=bool).copy()
        taps = np.zeros((self.n, 0), np.int64)
        if self.regulation is not None and settle_regulators:
            reg = self.regulation

            def resolve(new: np.ndarray, copies: np.ndarray) -> np.ndarray:
                s.trafo_tap_pos[np.ix_(copies, reg.trafo_rows)] = new[copies]
                return np.asarray(s.solve(copies), dtype=bool)

            converged, taps = settle_taps(reg, converged, s.trafo_tap_pos[:, reg.trafo_rows],
                                          lambda: s.vm_pu, resolve)
        # each step makes new arrays (never written in place), so a result keeps its own
        last = self._last
        every = bool(converged.all())
        for key in ("vm_pu", "va_degree", "line_loading_percent", "trafo_loading_percent"):
            last[key] = self._held(getattr(s, key), last[key], converged, every)
        for key, column in (("pcc_p_mw", 0), ("pcc_q_mvar", 1)):
            fresh = np.empty_like(last[key])
            for element, (columns, rows) in self._pcc_groups.items():
                fresh[:, columns] = getattr(s, _PCC_SOURCES[element][column])[:, rows]
            last[key] = self._held(fresh, last[key], converged, every)
        price = np.asarray(price_per_mwh, dtype=float)
        if price.ndim == 1:  # one price for every PCC of a copy
            price = np.repeat(price[:, None], last["pcc_p_mw"].shape[1], axis=1)
        pcc_cost, energy, terms, pcc_safety = settle(self._pcc_fleet, last["vm_pu"],
                                                     last["line_loading_percent"],
                                                     last["trafo_loading_percent"],
                                                     last["pcc_p_mw"], last["pcc_q_mvar"],
                                                     price, converged, dt_h,
                                                     self.vm_min_pu, self.vm_max_pu,
                                                     np.where(self._load_on, s.load_p_mw, 0.0),
                                                     self._load_bus)
        return BatchResult(converged, last["vm_pu"], last["va_degree"],
                           last["line_loading_percent"], last["trafo_loading_percent"],
                           last["pcc_p_mw"], last["pcc_q_mvar"], pcc_cost, energy, terms,
                           np.asarray(s.fallback_used).copy(), taps, pcc_safety)
