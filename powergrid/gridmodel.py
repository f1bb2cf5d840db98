"""A network in operation: its power flow, its loads' profiles, its PCCs, its limits.

:class:`GridModel` is what the grid federate (and anything else that needs
the network's response) drives each step: set load profiles and device
injections and positions by element name, solve one AC power flow, read the
results, the network's safety terms and the energy bill at each point of
common coupling.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandapower as pp

from powergrid.devices.grid import Grid, GridFleet
from powergrid.safety import VM_MAX_PU, VM_MIN_PU, loading_violation, voltage_violation
from powergrid.solvers import make_solver

#: safety charged for a step whose power flow did not converge
NONCONVERGENCE_SAFETY = 1.0

_POSITION_TABLES = ("trafo", "shunt", "switch")
_INJECTION_TABLES = ("sgen", "storage")


def _zero_nan(values: np.ndarray) -> np.ndarray:
    """A float copy of ``values`` with nan as 0 (cheaper than ``np.nan_to_num``)."""
    out = np.array(values, dtype=float)
    out[np.isnan(out)] = 0.0
    return out


def scaled_load(p_nominal_mw: np.ndarray, profile: np.ndarray | float,
                load_scale: float) -> np.ndarray:
    """Load in MW (or Mvar) at a profile value: ``nominal * profile * load_scale``."""
    return p_nominal_mw * profile * load_scale


@dataclass(frozen=True)
class GridResult:
    """One solved step. Arrays follow the net's table order (see ``GridModel.*_names``).

    Voltages of buses that are not energised read 0.0. After a power flow
    that did not converge, the arrays hold the last converged solution and
    ``converged`` is False.
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

    @property
    def cost(self) -> float:
        return float(sum(self.cost_terms.values()))

    @property
    def safety(self) -> float:
        return float(sum(self.safety_terms.values()))


class GridModel:
    """One pandapower net with a power-flow backend, operated step by step.

    ==================  ============================================================
    argument            meaning
    ==================  ============================================================
    ``net``             the pandapower net, devices already written into it
    ``solver``          backend name (``"lightsim2grid"`` or ``"pandapower"``)
    ``load_profiles``   ``{load name: series name}``: loads that follow a profile
                        (``p = p_nominal * profile * load_scale``); others stay
                        at their nominal values
    ``pccs``            :class:`~powergrid.devices.Grid` devices settled here
    ``vm_min_pu``,      the voltage band of the ``voltage`` safety term
    ``vm_max_pu``
    ==================  ============================================================
    """

    def __init__(self, net: pp.pandapowerNet, solver: str = "lightsim2grid",
                 load_profiles: Mapping[str, str] | None = None, pccs: Sequence[Grid] = (),
                 vm_min_pu: float = VM_MIN_PU, vm_max_pu: float = VM_MAX_PU) -> None:
        self.solver = make_solver(net, solver)
        self.bus_names = [str(n) for n in net.bus["name"]]
        self.line_names = [str(n) for n in net.line["name"]]
        self.trafo_names = [str(n) for n in net.trafo["name"]]
        self.vm_min_pu, self.vm_max_pu = vm_min_pu, vm_max_pu
        self._elements = {
            table: {str(name): pos for pos, name in enumerate(net[table]["name"])}
            for table in _INJECTION_TABLES + _POSITION_TABLES if len(net[table])
        }
        self._load_p = (net.load.p_mw * net.load.scaling).to_numpy(float)
        self._load_q = (net.load.q_mvar * net.load.scaling).to_numpy(float)
        load_pos = {str(name): pos for pos, name in enumerate(net.load["name"])}
        groups: dict[str, list[int]] = {}
        for load, series in (load_profiles or {}).items():
            if load not in load_pos:
                raise ValueError(f"load {load!r} is not in the network")
            groups.setdefault(series, []).append(load_pos[load])
        self.load_groups = {s: np.array(p, dtype=np.intp) for s, p in groups.items()}
        self.pcc_names = [g.name for g in pccs]
        self._pcc_fleet = GridFleet(list(pccs))
        self._pcc_where = [(g.element, self._pcc_position(net, g)) for g in pccs]
        self._plans: dict[tuple[str, ...], list[tuple[str, np.ndarray, np.ndarray]]] = {}
        self._last_positions: dict[tuple[str, ...], np.ndarray] = {}
        n_bus = len(net.bus)
        self._last = (np.ones(n_bus), np.zeros(n_bus), np.zeros(len(net.line)),
                      np.zeros(len(net.trafo)))

    def reset(self) -> None:
        """Back to the state at construction: the same results as a new GridModel of the
        same net would give, without rebuilding the power-flow model."""
        self.solver.reset()
        self._last_positions.clear()
        n_bus = len(self.bus_names)
        self._last = (np.ones(n_bus), np.zeros(n_bus), np.zeros(len(self.line_names)),
                      np.zeros(len(self.trafo_names)))
        if hasattr(self, "_last_pcc"):
            del self._last_pcc

    @staticmethod
    def _pcc_position(net: pp.pandapowerNet, pcc: Grid) -> int:
        return list(net[pcc.element].index).index(pcc.write_to_net(net))

    # -- inputs ------------------------------------------------------------------
    def set_load_profiles(self, values: Mapping[str, float], load_scale: float = 1.0) -> None:
        """Set every profiled load from its series' current value (per unit)."""
        for series, pos in self.load_groups.items():
            if series not in values:
                continue
            value = float(values[series])
            self.solver.set_load(pos, scaled_load(self._load_p[pos], value, load_scale),
                                 scaled_load(self._load_q[pos], value, load_scale))

    def locate(self, name: str) -> tuple[str, int]:
        """``(table, row position)`` of the sgen/storage/trafo/shunt/switch named ``name``."""
        for table, names in self._elements.items():
            if name in names:
                return table, names[name]
        raise ValueError(f"no sgen, storage, trafo, shunt or switch named {name!r} in the network")

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
            setter = self.solver.set_sgen if table == "sgen" else self.solver.set_storage
            setter(pos, p[k], q[k])

    def set_positions(self, positions: Mapping[str, float]) -> None:
        """Set tap positions, shunt steps and switch states (1 closed) by element name.

        Only positions that changed since the last call reach the solver (a tap
        change costs a model update; holding a tap costs nothing)."""
        names = tuple(positions)
        values = np.fromiter(positions.values(), dtype=float, count=len(names))
        last = self._last_positions.get(names)
        if last is not None and np.array_equal(last, values):
            return
        self._last_positions[names] = values
        for table, pos, k in self._plan(names, _POSITION_TABLES):
            v = values[k]
            if table == "trafo":
                self.solver.set_trafo_tap(pos, np.rint(v).astype(np.int64))
            elif table == "shunt":
                self.solver.set_shunt_step(pos, np.rint(v).astype(np.int64))
            else:
                self.solver.set_switch(pos, v > 0.5)

    # -- solve ----------------------------------------------------------------------
    def solve(self, price_per_mwh: float = 0.0, dt_h: float = 1.0,
              pcc_prices: Mapping[str, float] | None = None) -> GridResult:
        """Run one AC power flow; settle the PCCs at ``price_per_mwh`` ($/MWh) over ``dt_h``
        hours, or at their own price in ``pcc_prices`` (a tariff, by PCC name).

        The system's ``energy`` cost counts the external PCCs only; every PCC's bill
        (internal ones too) is in ``pcc_cost``.
        """
        s = self.solver
        converged = bool(s.solve())
        if converged:
            self._last = tuple(_zero_nan(a) for a in (s.vm_pu, s.va_degree,
                                                      s.line_loading_percent,
                                                      s.trafo_loading_percent))
        vm, va, line_loading, trafo_loading = self._last
        pcc_p, pcc_q = self._pcc_flows(converged)
        price = np.array([float((pcc_prices or {}).get(n, price_per_mwh))
                          for n in self.pcc_names])
        state = self._pcc_fleet.initial_state()
        _, pcc_out = self._pcc_fleet.step(state, np.zeros((len(price), 0)),
                                          np.zeros((len(price), 0), np.int64),
                                          {"p_mw": pcc_p, "q_mvar": pcc_q, "price": price}, dt_h)
        energised = vm > 0.0
        safety_terms = {
            "voltage": float(voltage_violation(vm[energised], self.vm_min_pu,
                                               self.vm_max_pu).sum()),
            "line_loading": float(loading_violation(line_loading).sum()),
            "trafo_loading": float(loading_violation(trafo_loading).sum()),
            "pcc_rating": float(pcc_out.safety.sum()),
            "nonconvergence": 0.0 if converged else NONCONVERGENCE_SAFETY,
        }
        pcc_cost = pcc_out.cost
        external = float(pcc_cost[~self._pcc_fleet.internal].sum())
        return GridResult(converged, vm, va, line_loading, trafo_loading, pcc_p, pcc_q,
                          pcc_cost, {"energy": external}, safety_terms)

    def _pcc_flows(self, converged: bool) -> tuple[np.ndarray, np.ndarray]:
        s = self.solver
        sources = {"ext_grid": ("ext_grid_p_mw", "ext_grid_q_mvar"),
                   "trafo": ("trafo_p_hv_mw", "trafo_q_hv_mvar"),
                   "line": ("line_p_from_mw", "line_q_from_mvar")}
        p = np.zeros(len(self._pcc_where))
        q = np.zeros(len(self._pcc_where))
        if converged:
            for k, (element, pos) in enumerate(self._pcc_where):
                p_attr, q_attr = sources[element]
                p[k] = float(getattr(s, p_attr)[pos])
                q[k] = float(getattr(s, q_attr)[pos])
            self._last_pcc = (p, q)
        elif hasattr(self, "_last_pcc"):
            p, q = self._last_pcc
        return _zero_nan(p), _zero_nan(q)
