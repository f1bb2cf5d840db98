"""Fast backend: lightsim2grid's C++ Newton-Raphson on models built once.

The model of each switch state is built from pandapower's own bus/branch
conversion of the net (so switches, transformer models and islands mean
exactly what they mean in pandapower) and kept in a small cache keyed by the
switch-state vector; switch changes are rare, discrete actions. Injections,
tap positions and shunt steps are updated in place; each solve starts from
the previous solution. No pandas in :meth:`LightsimSolver.solve`.

Not supported (``NotImplementedError`` at construction; use the pandapower
backend): voltage-dependent loads, xwards, DC lines, FACTS devices, shunts with
step tables, asymmetric impedances, islands with more than one slack,
``enforce_q_lims`` / ``distributed_slack`` in the net's ``user_pf_options``.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pandapower as pp

from powergrid.solvers._lsmodel import Static, Topology
from powergrid.solvers._ppc import build_ppc, init_options, tap_table
from powergrid.solvers.base import (
    DEFAULT_MAX_ITERATION,
    DEFAULT_TOLERANCE_MVA,
    PowerFlowSolver,
    effective_column,
)

_UNSUPPORTED_TABLES = ("xward", "dcline", "svc", "tcsc", "ssc", "vsc", "vsc_stacked",
                       "vsc_bipolar", "line_dc")


def _check_supported(net: pp.pandapowerNet, options: dict) -> None:
    """Raise ``NotImplementedError`` for what the fast backend does not model."""
    hint = " is not supported by the lightsim2grid backend; use solver='pandapower'"
    if options.get("voltage_depend_loads"):
        raise NotImplementedError("voltage-dependent loads (const_z/const_i percent)" + hint)
    for opt in ("enforce_q_lims", "distributed_slack", "tdpf", "consider_line_temperature"):
        if options.get(opt):
            raise NotImplementedError(f"the power-flow option {opt}=True" + hint)
    for table in _UNSUPPORTED_TABLES:
        if table in net and len(net[table]) and net[table]["in_service"].any():
            raise NotImplementedError(f"net.{table}" + hint)
    if "step_dependency_table" in net.shunt and net.shunt["step_dependency_table"].fillna(
        False
    ).astype(bool).any():
        raise NotImplementedError("shunts with a step dependency table" + hint)


def _rows(net: pp.pandapowerNet, buses) -> np.ndarray:
    return net.bus.index.get_indexer(np.asarray(buses)).astype(np.intp)


def _static(net: pp.pandapowerNet, options: dict) -> Static:
    """Collect the topology-independent arrays of ``net`` (once, at construction)."""
    bus_vn = net.bus["vn_kv"].to_numpy(dtype=np.float64)
    shunt_bus = _rows(net, net.shunt["bus"])
    shunt_vn = net.shunt["vn_kv"].to_numpy(dtype=np.float64, copy=True)
    shunt_vn[~np.isfinite(shunt_vn)] = bus_vn[shunt_bus][~np.isfinite(shunt_vn)]
    v_ratio = (bus_vn[shunt_bus] / shunt_vn) ** 2
    slack_gen = net.gen["slack"].to_numpy(dtype=bool) if len(net.gen) else np.zeros(0, bool)
    eg, gen = net.ext_grid, net.gen
    gen_p = effective_column(gen, "p_mw") if len(gen) else np.zeros(0)
    line, trafo = net.line, net.trafo

    def col(table, name, rows=slice(None)):
        return table[name].to_numpy(dtype=np.float64)[rows]

    return Static(
        load_bus=_rows(net, net.load["bus"]),
        sgen_bus=_rows(net, net.sgen["bus"]),
        storage_bus=_rows(net, net.storage["bus"]),
        shunt_bus=shunt_bus,
        inj_on=np.concatenate([
            net.load["in_service"].to_numpy(dtype=bool),
            net.sgen["in_service"].to_numpy(dtype=bool),
            net.storage["in_service"].to_numpy(dtype=bool),
        ]),
        shunt_on=net.shunt["in_service"].to_numpy(dtype=bool),
        shunt_p_mw=col(net.shunt, "p_mw") * v_ratio,
        shunt_q_mvar=col(net.shunt, "q_mvar") * v_ratio,
        slack_bus=np.concatenate([_rows(net, eg["bus"]), _rows(net, gen["bus"][slack_gen])]),
        slack_vm_pu=np.concatenate([col(eg, "vm_pu"), col(gen, "vm_pu", slack_gen)]),
        slack_va_degree=np.concatenate([col(eg, "va_degree"), np.zeros(int(slack_gen.sum()))]),
        slack_on=np.concatenate([
            eg["in_service"].to_numpy(dtype=bool),
            gen["in_service"].to_numpy(dtype=bool)[slack_gen],
        ]),
        gen_bus=_rows(net, gen["bus"][~slack_gen]),
        gen_p_mw=gen_p[~slack_gen],
        gen_vm_pu=col(gen, "vm_pu", ~slack_gen),
        gen_on=gen["in_service"].to_numpy(dtype=bool)[~slack_gen],
        line_imax_ka=col(line, "max_i_ka") * col(line, "df") * col(line, "parallel"),
        trafo_vn_kv=np.stack([col(trafo, "vn_hv_kv"), col(trafo, "vn_lv_kv")], axis=1),
        trafo_rating=col(trafo, "sn_mva") * col(trafo, "parallel") * col(trafo, "df"),
        trafo_loading_power=options.get("trafo_loading") == "power",
        init_vm_pu=float(np.mean(np.concatenate([
            col(eg, "vm_pu")[eg["in_service"].to_numpy(dtype=bool)],
            col(gen, "vm_pu")[gen["in_service"].to_numpy(dtype=bool)],
        ]) if len(eg) + len(gen) else [1.0])),
    )


class LightsimSolver(PowerFlowSolver):
    """lightsim2grid models of the net, one per switch state seen (LRU cache).

    ``max_topologies`` bounds the cache; building a model for a new switch
    state costs about as much as one pandapower ``runpp``.
    """

    name = "lightsim2grid"

    def __init__(
        self,
        net: pp.pandapowerNet,
        max_iteration: int = DEFAULT_MAX_ITERATION,
        tolerance_mva: float = DEFAULT_TOLERANCE_MVA,
        max_topologies: int = 16,
    ) -> None:
        super().__init__(net, max_iteration, tolerance_mva)
        options = init_options(self.net, self.max_iteration, self.tolerance_mva)
        _check_supported(self.net, options)
        self._static = _static(self.net, options)
        self._taps = tap_table(self.net, self.trafo_tap_min, self.trafo_tap_max,
                               self.max_iteration, self.tolerance_mva, ~self._has_tap_range)
        nl, ns = len(self.load_p_mw), len(self.sgen_p_mw)
        n = nl + ns + len(self.storage_p_mw)
        self._inj_p = np.zeros(n)
        self._inj_q = np.zeros(n)
        self._sl_load = slice(0, nl)
        self._sl_sgen = slice(nl, nl + ns)
        self._sl_storage = slice(nl + ns, n)
        self._fill_injections()
        self._max_topologies = max(1, int(max_topologies))
        self._cache: OrderedDict[bytes, Topology] = OrderedDict()
        self._key = self.switch_closed.tobytes()
        self._topology = self._build(self._key)
        self._dirty_inj = self._dirty_tap = self._dirty_shunt = self._dirty_switch = False

    def reset(self) -> None:
        """Back to the construction state; every cached model starts cold again."""
        super().reset()
        for topology in self._cache.values():
            for island in topology.islands:
                island.warm = None
        self._dirty_inj = self._dirty_tap = self._dirty_shunt = self._dirty_switch = True
        self._key = b""  # re-activate the (cached) initial switch state

    # -- state -> models -----------------------------------------------------
    def _fill_injections(self) -> None:
        """Consumption vectors in lightsim's load order: loads, sgens (negated), storage."""
        self._inj_p[self._sl_load] = self.load_p_mw
        np.negative(self.sgen_p_mw, out=self._inj_p[self._sl_sgen])
        self._inj_p[self._sl_storage] = self.storage_p_mw
        self._inj_q[self._sl_load] = self.load_q_mvar
        np.negative(self.sgen_q_mvar, out=self._inj_q[self._sl_sgen])
        self._inj_q[self._sl_storage] = self.storage_q_mvar

    def _build(self, key: bytes) -> Topology:
        """Build (and cache) the models of the current switch state."""
        self._write_state_to_net()
        ppc = build_ppc(self.net, self.max_iteration, self.tolerance_mva)
        topology = Topology(ppc, self._static, self._taps, self._inj_p, self._inj_q,
                            self.trafo_tap_pos, self.shunt_step)
        self._cache[key] = topology
        while len(self._cache) > self._max_topologies:
            self._cache.popitem(last=False)
        return topology

    def _activate_switch_state(self) -> None:
        key = self.switch_closed.tobytes()
        if key == self._key:
            return
        self._key = key
        if key in self._cache:
            self._cache.move_to_end(key)
            self._topology = self._cache[key]
            self._dirty_inj = self._dirty_tap = self._dirty_shunt = True
        else:
            self._fill_injections()
            self._topology = self._build(key)
            self._dirty_inj = self._dirty_tap = self._dirty_shunt = False

    # -- updates ---------------------------------------------------------------
    def set_load(self, positions: np.ndarray, p_mw: np.ndarray, q_mvar: np.ndarray) -> None:
        super().set_load(positions, p_mw, q_mvar)
        self._dirty_inj = True

    def set_sgen(self, positions: np.ndarray, p_mw: np.ndarray, q_mvar: np.ndarray) -> None:
        super().set_sgen(positions, p_mw, q_mvar)
        self._dirty_inj = True

    def set_storage(self, positions: np.ndarray, p_mw: np.ndarray, q_mvar: np.ndarray) -> None:
        super().set_storage(positions, p_mw, q_mvar)
        self._dirty_inj = True

    def set_trafo_tap(self, positions: np.ndarray, tap_pos: np.ndarray) -> None:
        super().set_trafo_tap(positions, tap_pos)
        self._dirty_tap = True

    def set_shunt_step(self, positions: np.ndarray, step: np.ndarray) -> None:
        super().set_shunt_step(positions, step)
        self._dirty_shunt = True

    def set_switch(self, positions: np.ndarray, closed: np.ndarray) -> None:
        super().set_switch(positions, closed)
        self._dirty_switch = True

    # -- solve -------------------------------------------------------------------
    def solve(self) -> bool:
        """Push what changed into the model(s), run ``ac_pf``, read results into arrays."""
        if self._dirty_switch:
            self._activate_switch_state()
            self._dirty_switch = False
        topo = self._topology
        if self._dirty_inj:
            self._fill_injections()
            topo.push_injections(self._inj_p, self._inj_q)
            self._dirty_inj = False
        if self._dirty_tap:
            topo.push_taps(self.trafo_tap_pos)
            self._dirty_tap = False
        if self._dirty_shunt:
            topo.push_shunts(self.shunt_step)
            self._dirty_shunt = False
        v = topo.solve(self.max_iteration, self.tolerance_mva)
        if v is None:
            self.converged = False
            self._set_results_nan()
            return False
        self.converged = True
        vb = v[topo.bus_of_row]
        np.abs(vb, out=self.vm_pu)
        self.va_degree[:] = np.angle(vb, deg=True)
        if len(topo.rows_off):
            self.vm_pu[topo.rows_off] = np.nan
            self.va_degree[topo.rows_off] = np.nan
        s_from, loading = topo.flows(v)
        lines, trafos = topo.line_slice, topo.trafo_slice
        self.line_p_from_mw[:] = s_from.real[lines]
        self.line_q_from_mvar[:] = s_from.imag[lines]
        self.line_loading_percent[:] = loading[lines]
        self.trafo_p_hv_mw[:] = s_from.real[trafos]
        self.trafo_q_hv_mvar[:] = s_from.imag[trafos]
        self.trafo_loading_percent[:] = loading[trafos]
        topo.slack_power(self.ext_grid_p_mw, self.ext_grid_q_mvar)
        return True
