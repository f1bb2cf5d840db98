"""One switch state of a net as lightsim2grid models, updated in place.

A :class:`Topology` is built from pandapower's ppc of the net in one switch
state (see :mod:`powergrid.solvers._ppc`): one lightsim2grid bus per ppc bus,
one lightsim2grid line per ppc line-like branch, one lightsim2grid transformer
per ppc transformer branch (ratio and phase shift as pandapower computed
them). Every load, sgen and storage unit becomes a lightsim2grid *load* (sgens
with the sign flipped), so all injections are updated with two vectorised
calls; each is split into a float32 head and a float32 tail element at the
same bus, because lightsim2grid's vectorised setters take float32 and the sum
of the two keeps float64 precision. Whatever else pandapower put into the ppc
bus table (wards, asymmetric loads, motors, ...) stays as fixed residual loads
and shunts.

lightsim2grid solves one connected grid with one slack, so a switch state that
leaves several supplied islands gets one model per island (the buses of the
other islands deactivated). Unsupplied islands are deactivated, as pandapower
marks them. Branch flows are computed here in numpy from the bus voltages with
pandapower's branch admittances, so they follow pandapower's definitions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from lightsim2grid.algorithm import AlgorithmType
from lightsim2grid.network import LSGrid
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from powergrid.solvers._ppc import Ppc, TapTable

_SQRT3 = np.sqrt(3.0)
_EPS = 1e-12


@dataclass
class Static:
    """Topology-independent data of the net, in table row order.

    Shunt powers are per step at the bus's rated voltage (pandapower's
    ``(vn_bus / vn_shunt) ** 2`` factor folded in).
    """

    load_bus: np.ndarray        # net.bus row of each load
    sgen_bus: np.ndarray
    storage_bus: np.ndarray
    shunt_bus: np.ndarray
    inj_on: np.ndarray          # in_service of loads, sgens, storage (concatenated)
    shunt_on: np.ndarray
    shunt_p_mw: np.ndarray      # MW per step at 1 p.u.
    shunt_q_mvar: np.ndarray    # Mvar per step at 1 p.u.
    slack_bus: np.ndarray       # net.bus rows of the slacks: ext_grids, then slack gens
    slack_vm_pu: np.ndarray
    slack_va_degree: np.ndarray
    slack_on: np.ndarray
    gen_bus: np.ndarray         # PV gens (net.gen rows with slack=False)
    gen_p_mw: np.ndarray
    gen_vm_pu: np.ndarray
    gen_on: np.ndarray
    line_imax_ka: np.ndarray    # max_i_ka * df * parallel
    trafo_vn_kv: np.ndarray     # (n_trafo, 2): vn_hv_kv, vn_lv_kv
    trafo_rating: np.ndarray    # sn_mva * parallel * df
    trafo_loading_power: bool   # pandapower option trafo_loading="power"
    init_vm_pu: float           # flat-start magnitude: mean of the slack and gen set points


def branch_vectors(
    r: np.ndarray, x: np.ndarray, g: np.ndarray, b: np.ndarray,
    g_asym: np.ndarray, b_asym: np.ndarray, ratio: np.ndarray, shift_degree: np.ndarray,
    active: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """pandapower's (PYPOWER's) branch admittances ``Yff, Yft, Ytf, Ytt`` in p.u."""
    ys = active / (r + 1j * x)
    bc_f = active * (g + 1j * b)
    bc_t = active * (g + g_asym + 1j * (b + b_asym))
    tap = ratio * np.exp(1j * np.deg2rad(shift_degree))
    yff = (ys + bc_f / 2) / (tap * np.conj(tap))
    yft = -ys / np.conj(tap)
    ytf = -ys / tap
    ytt = ys + bc_t / 2
    return yff, yft, ytf, ytt


def _use_klu(model: LSGrid) -> None:
    """Select the KLU linear solver where this lightsim2grid build has it."""
    available = model.available_default_algorithms()
    for algo in (AlgorithmType.NR_KLU, AlgorithmType.DC_KLU):
        if algo in available:
            model.change_algorithm(algo)


class _Island:
    """One lightsim2grid model solving one supplied island.

    An island that is only its slack bus has no model (lightsim2grid cannot
    solve a grid without a PQ or PV bus); its voltage is the slack's.
    """

    def __init__(self, model: LSGrid | None, buses: np.ndarray, inj_mask: np.ndarray,
                 shunt_on: np.ndarray, slack_here: np.ndarray, slack_v0: np.ndarray) -> None:
        self.model = model
        self.buses = buses              # bool (nb,)
        self.inj_mask = inj_mask        # bool over lightsim loads: updatable here
        self.shunt_on = shunt_on        # bool over net.shunt rows
        self.slack_v0 = slack_v0        # complex (nb,): pandapower's flat start
        self.slack_here = slack_here    # bool over the slacks (ext_grids, slack gens)
        self.warm: np.ndarray | None = None


class Topology:
    """lightsim2grid model(s) of one switch state, plus the numpy flow model.

    ``inj_p``/``inj_q`` are the consumptions of loads, sgens (negated) and
    storage concatenated (MW, Mvar); they, ``tap_pos`` and ``shunt_step`` must
    be the values the ppc was built with.
    """

    def __init__(self, ppc: Ppc, static: Static, taps: TapTable, inj_p: np.ndarray,
                 inj_q: np.ndarray, tap_pos: np.ndarray, shunt_step: np.ndarray) -> None:
        self.ppc = ppc
        self.static = static
        self.taps = taps
        self.nb = nb = len(ppc.bus_kv)
        energised = ppc.energised
        self.bus_of_row = ppc.bus_of_row
        self.active_branch = ppc.in_service & energised[ppc.f_bus] & energised[ppc.t_bus]
        lf, lt = ppc.ranges.get("line", (0, 0))
        tf, tt = ppc.ranges.get("trafo", (lt, lt))
        self.line_rows = np.arange(lf, lt)
        self.trafo_rows = np.arange(tf, tt)
        self.line_slice, self.trafo_slice = slice(lf, lt), slice(tf, tt)
        is_trafo = np.zeros(len(ppc.f_bus), dtype=bool)
        for key in ("trafo", "trafo3w"):
            start, stop = ppc.ranges.get(key, (0, 0))
            is_trafo[start:stop] = True
        self.ls_line_rows = np.nonzero(~is_trafo)[0]    # lightsim line id -> ppc row
        self.ls_trafo_rows = np.nonzero(is_trafo)[0]    # lightsim trafo id -> ppc row
        if not np.array_equal(self.ls_trafo_rows[: len(self.trafo_rows)], self.trafo_rows):
            raise NotImplementedError("unexpected ppc branch order for transformers")
        self._check_supported(is_trafo)
        # branch parameters; the net.trafo rows come from the tap table
        self.r, self.x = ppc.r.copy(), ppc.x.copy()
        self.g, self.b = ppc.g.copy(), ppc.b.copy()
        self.g_asym, self.b_asym = ppc.g_asym, ppc.b_asym
        self.ratio, self.shift = ppc.ratio.copy(), ppc.shift_degree.copy()
        self.applied_tap = np.array(tap_pos, dtype=np.int64)
        self._write_tap_params(np.arange(len(self.trafo_rows)))
        self._active_f = self.active_branch.astype(np.float64)
        self.yff, self.yft, self.ytf, self.ytt = self._branch_vectors(slice(None))
        self._tap_admittances()
        # branch rows with results (lines, then trafos) and their current bases (kA per p.u.)
        self.n_out = n_out = max(int(self.line_rows[-1]) + 1 if len(self.line_rows) else 0,
                                 int(self.trafo_rows[-1]) + 1 if len(self.trafo_rows) else 0)
        self._f_out, self._t_out = ppc.f_bus[:n_out], ppc.t_bus[:n_out]
        self._loading_factors(ppc, static, n_out)
        # elements in the ppc
        self.inj_bus = ppc.bus_of_row[
            np.concatenate([static.load_bus, static.sgen_bus, static.storage_bus])
        ]
        self.inj_on = static.inj_on & energised[self.inj_bus]
        self.shunt_bus = ppc.bus_of_row[static.shunt_bus]
        self.shunt_on = static.shunt_on & energised[self.shunt_bus]
        self.applied_step = np.array(shunt_step, dtype=np.int64)
        self.slack_bus = ppc.bus_of_row[static.slack_bus]
        self.slack_on = static.slack_on & energised[self.slack_bus]
        self.gen_bus = ppc.bus_of_row[static.gen_bus]
        self.gen_on = static.gen_on & energised[self.gen_bus]
        # lightsim models, one per supplied island
        n = len(inj_p)
        self._buf_p = np.zeros(2 * n, dtype=np.float32)
        self._buf_q = np.zeros(2 * n, dtype=np.float32)
        self._inj_p, self._inj_q = np.array(inj_p), np.array(inj_q)
        self.residuals = residuals = self._residuals(self._inj_p, self._inj_q)
        self.islands = [
            self._build_island(mask, inj_p, inj_q, residuals) for mask in self._find_islands()
        ]
        self.energised = np.zeros(nb, dtype=bool)
        for island in self.islands:
            self.energised |= island.buses
        self.row_energised = self.energised[self.bus_of_row]
        self.rows_off = np.nonzero(~self.row_energised)[0]   # net.bus rows reading nan
        self._v_zero = np.zeros(nb, dtype=np.complex128)

    # -- construction --------------------------------------------------------
    def _loading_factors(self, ppc: Ppc, static: Static, n_out: int) -> None:
        """Per branch row and side: % loading per p.u. of current magnitude.

        Lines: ``i_ka / (max_i_ka * df * parallel) * 100``; transformers
        (``trafo_loading="current"``): ``i_ka * vn_kv * sqrt(3) / (sn_mva * parallel
        * df) * 100`` on each side; ``i_ka = |I| * base_mva / (sqrt(3) * kV)``.
        """
        ibase_f = ppc.base_mva / (_SQRT3 * ppc.bus_kv[self._f_out])
        ibase_t = ppc.base_mva / (_SQRT3 * ppc.bus_kv[self._t_out])
        per_ka_f = np.zeros(n_out)
        per_ka_t = np.zeros(n_out)
        imax = static.line_imax_ka
        per_ka = np.divide(100.0, imax, out=np.full(len(imax), np.inf), where=imax != 0)
        per_ka_f[self.line_slice] = per_ka_t[self.line_slice] = per_ka
        rating = 100.0 * _SQRT3 / static.trafo_rating
        per_ka_f[self.trafo_slice] = static.trafo_vn_kv[:, 0] * rating
        per_ka_t[self.trafo_slice] = static.trafo_vn_kv[:, 1] * rating
        self._load_f = ibase_f * per_ka_f
        self._load_t = ibase_t * per_ka_t
        self._trafo_power_pct = 100.0 / static.trafo_rating

    def _check_supported(self, is_trafo: np.ndarray) -> None:
        ppc, act = self.ppc, self.active_branch
        if np.any(ppc.series_asym & act):
            raise NotImplementedError(
                "branches with direction-dependent impedance (asymmetric net.impedance)"
            )
        odd = act & ~is_trafo & ((np.abs(ppc.ratio - 1.0) > _EPS) | (ppc.shift_degree != 0.0))
        if np.any(odd):
            raise NotImplementedError("a non-transformer branch with a tap ratio or phase shift")
        asym = act & is_trafo & ((ppc.g_asym != 0.0) | (ppc.b_asym != 0.0))
        if np.any(asym) or np.any(self.taps.g_asym != 0.0) or np.any(self.taps.b_asym != 0.0):
            raise NotImplementedError("transformers with an asymmetric magnetising branch")

    def _write_tap_params(self, trafos: np.ndarray) -> None:
        """Copy the tap table's values of ``trafos`` (net.trafo rows) into the branch arrays."""
        if not len(trafos):
            return
        k = self.taps.rows(self.applied_tap[trafos], trafos)
        rows = self.trafo_rows[trafos]
        tab = self.taps
        self.r[rows] = tab.r[k, trafos]
        self.x[rows] = tab.x[k, trafos]
        self.g[rows] = tab.g[k, trafos]
        self.b[rows] = tab.b[k, trafos]
        self.ratio[rows] = tab.ratio[k, trafos]
        self.shift[rows] = tab.shift_degree[k, trafos]

    def _branch_vectors(self, rows) -> tuple[np.ndarray, ...]:
        return branch_vectors(
            self.r[rows], self.x[rows], self.g[rows], self.b[rows], self.g_asym[rows],
            self.b_asym[rows], self.ratio[rows], self.shift[rows], self._active_f[rows],
        )

    def _find_islands(self) -> list[np.ndarray]:
        """Bus masks of the supplied islands (each must hold exactly one slack)."""
        ppc, nb, act = self.ppc, self.nb, self.active_branch
        graph = coo_matrix(
            (np.ones(int(act.sum())), (ppc.f_bus[act], ppc.t_bus[act])), shape=(nb, nb)
        )
        _, label = connected_components(graph, directed=False)
        slack_label = label[self.slack_bus[self.slack_on]]
        islands = []
        for lab in np.unique(label[ppc.energised]):
            n_slack = int(np.count_nonzero(slack_label == lab))
            if n_slack > 1:
                raise NotImplementedError(
                    "an island with more than one slack (ext_grid / slack gen): "
                    "use solver='pandapower'"
                )
            if n_slack == 1:
                islands.append((label == lab) & ppc.energised)
        return islands

    def _residuals(self, inj_p: np.ndarray, inj_q: np.ndarray) -> tuple[np.ndarray, ...]:
        """What pandapower put into the ppc bus table beyond loads/sgens/storage/shunts."""
        ppc, st, nb = self.ppc, self.static, self.nb
        on = self.inj_on
        pd = ppc.bus_p_mw - np.bincount(self.inj_bus[on], inj_p[on], nb)
        qd = ppc.bus_q_mvar - np.bincount(self.inj_bus[on], inj_q[on], nb)
        son = self.shunt_on
        gs = ppc.bus_gs_mw - np.bincount(
            self.shunt_bus[son], (st.shunt_p_mw * self.applied_step)[son], nb
        )
        bs = ppc.bus_bs_mvar + np.bincount(
            self.shunt_bus[son], (st.shunt_q_mvar * self.applied_step)[son], nb
        )
        for arr in (pd, qd, gs, bs):
            arr[~ppc.energised | (np.abs(arr) < _EPS)] = 0.0
        return pd, qd, gs, bs

    def _build_island(self, island: np.ndarray, inj_p: np.ndarray, inj_q: np.ndarray,
                      residuals: tuple[np.ndarray, ...]) -> _Island:
        ppc, st, nb = self.ppc, self.static, self.nb
        here = self.slack_on & island[self.slack_bus]
        inj_here = self.inj_on & island[self.inj_bus]
        inj_mask = np.concatenate([inj_here, inj_here])
        shunt_here = self.shunt_on & island[self.shunt_bus]
        # pandapower's init="auto": set-point magnitudes at slack and PV buses,
        # the mean of all set points elsewhere (angles come from a DC power flow)
        v0 = np.where(island, st.init_vm_pu, 1.0).astype(np.complex128)
        pv_here = self.gen_on & island[self.gen_bus]
        v0[self.gen_bus[pv_here]] = st.gen_vm_pu[pv_here]
        v0[self.slack_bus[here]] = st.slack_vm_pu[here] * np.exp(
            1j * np.deg2rad(st.slack_va_degree[here])
        )
        if np.count_nonzero(island) == 1:
            return _Island(None, island, inj_mask, shunt_here, here, v0)
        i32 = np.int32
        m = LSGrid()
        m.set_sn_mva(ppc.base_mva)
        lines, trafos = self.ls_line_rows, self.ls_trafo_rows
        m.init_bus(nb, 1, ppc.bus_kv, len(lines), len(trafos))
        h_f = (self.g + 1j * self.b) / 2
        h_t = (self.g + self.g_asym + 1j * (self.b + self.b_asym)) / 2
        m.init_powerlines_full(self.r[lines], self.x[lines], h_f[lines], h_t[lines],
                               ppc.f_bus[lines].astype(i32), ppc.t_bus[lines].astype(i32))
        # ratio on the from (hv) side; the phase shift is given in degrees here
        m.init_trafo(self.r[trafos], self.x[trafos], self.g[trafos] + 1j * self.b[trafos],
                     self.ratio[trafos], self.shift[trafos], [True] * len(trafos),
                     ppc.f_bus[trafos].astype(i32), ppc.t_bus[trafos].astype(i32), True)
        # injections: head elements, tail elements, residual loads
        pd, qd, gs, bs = residuals
        res_bus = np.nonzero((pd != 0.0) | (qd != 0.0))[0]
        n = len(inj_p)
        m.init_loads(np.concatenate([inj_p, np.zeros(n), pd[res_bus]]),
                     np.concatenate([inj_q, np.zeros(n), qd[res_bus]]),
                     np.concatenate([self.inj_bus, self.inj_bus, res_bus]).astype(i32))
        sh_res = np.nonzero((gs != 0.0) | (bs != 0.0))[0]
        m.init_shunt(np.concatenate([st.shunt_p_mw * self.applied_step, gs[sh_res]]),
                     np.concatenate([st.shunt_q_mvar * self.applied_step, -bs[sh_res]]),
                     np.concatenate([self.shunt_bus, sh_res]).astype(i32))
        gen_bus = np.concatenate([self.slack_bus, self.gen_bus])
        big = np.full(len(gen_bus), 1e9)
        m.init_generators(np.concatenate([np.zeros(len(self.slack_bus)), st.gen_p_mw]),
                          np.concatenate([st.slack_vm_pu, st.gen_vm_pu]), -big, big,
                          gen_bus.astype(i32))
        # keep only what belongs to this island
        act = self.active_branch & island[ppc.f_bus] & island[ppc.t_bus]
        for lid in np.nonzero(~act[lines])[0]:
            m.deactivate_powerline(int(lid))
        for tid in np.nonzero(~act[trafos])[0]:
            m.deactivate_trafo(int(tid))
        for i in np.nonzero(np.concatenate([~inj_here, ~inj_here, ~island[res_bus]]))[0]:
            m.deactivate_load(int(i))
        for i in np.nonzero(np.concatenate([~shunt_here, ~island[sh_res]]))[0]:
            m.deactivate_shunt(int(i))
        gen_here = np.concatenate([self.slack_on, self.gen_on]) & island[gen_bus]
        for i in np.nonzero(~gen_here)[0]:
            m.deactivate_gen(int(i))
        for i in np.nonzero(gen_here[: len(self.slack_bus)])[0]:
            m.add_gen_slackbus(int(i), 1.0)
        for bus in np.nonzero(~island)[0]:
            m.deactivate_bus(int(bus))
        _use_klu(m)
        return _Island(m, island, inj_mask, shunt_here, here, v0)

    # -- updates (called by the solver when something changed) ---------------
    def push_injections(self, inj_p: np.ndarray, inj_q: np.ndarray) -> None:
        """Write the consumptions (MW, Mvar; load/sgen/storage order) into every model."""
        self._inj_p, self._inj_q = inj_p, inj_q
        n = len(inj_p)
        bp, bq = self._buf_p, self._buf_q
        bp[:n] = inj_p
        bp[n:] = inj_p - bp[:n]
        bq[:n] = inj_q
        bq[n:] = inj_q - bq[:n]
        for island in self.islands:
            if island.model is not None:
                island.model.update_loads_p(island.inj_mask, bp)
                island.model.update_loads_q(island.inj_mask, bq)

    def push_shunts(self, shunt_step: np.ndarray) -> None:
        """Apply changed shunt steps."""
        changed = np.nonzero(shunt_step != self.applied_step)[0]
        if not len(changed):
            return
        self.applied_step[changed] = shunt_step[changed]
        st = self.static
        for i in changed.tolist():
            p = float(st.shunt_p_mw[i] * shunt_step[i])
            q = float(st.shunt_q_mvar[i] * shunt_step[i])
            for island in self.islands:
                if island.model is not None and island.shunt_on[i]:
                    island.model.change_p_shunt(i, p)
                    island.model.change_q_shunt(i, q)

    def push_taps(self, tap_pos: np.ndarray) -> None:
        """Apply changed tap positions (ratio, phase shift and, if tap-dependent, impedance)."""
        changed = np.nonzero(tap_pos != self.applied_tap)[0]
        if not len(changed):
            return
        rows = self.trafo_rows[changed]
        self.applied_tap[changed] = tap_pos[changed]
        self._write_tap_params(changed)
        k = self.taps.rows(self.applied_tap[changed], changed)
        for y, table in zip((self.yff, self.yft, self.ytf, self.ytt), self._tap_y, strict=True):
            y[rows] = table[k, changed]
        impedance_changed = bool(self._tap_impedance[changed].any())
        trafos = self.ls_trafo_rows
        for island in self.islands:
            model = island.model
            if model is None:
                continue
            for tid in changed.tolist():
                row = self.trafo_rows[tid]
                model.change_ratio_trafo(tid, float(self.ratio[row]))
                model.change_shift_trafo_deg(tid, float(self.shift[row]))
            if impedance_changed:
                model.update_trafos_parameters(
                    self.r[trafos], self.x[trafos], self.g[trafos] + 1j * self.b[trafos]
                )

    def _tap_admittances(self) -> None:
        """Every transformer's branch admittances at every tap position (the tap table's
        rows, ``(span, n_trafo)`` each), and which transformers' impedance depends on the
        tap: a tap change then only looks its branch up."""
        tab, rows = self.taps, self.trafo_rows
        self._tap_y = branch_vectors(tab.r, tab.x, tab.g, tab.b, tab.g_asym, tab.b_asym,
                                     tab.ratio, tab.shift_degree, self._active_f[rows])
        self._tap_impedance = np.array([
            any(np.ptp(getattr(tab, key)[:, t]) > 0.0 for key in ("r", "x", "g", "b"))
            for t in range(len(rows))], dtype=bool)

    # -- solve ---------------------------------------------------------------
    def solve(self, max_iteration: int, tolerance: float) -> np.ndarray | None:
        """AC power flow of every island; complex bus voltages (p.u., ppc order) or None.

        Each island starts from its last converged voltages; without those, or
        if that fails, from a DC power flow (as pandapower's ``init="auto"``).
        Buses outside the supplied islands read 0 (see ``energised``).
        """
        v = self._v_zero.copy()
        for island in self.islands:
            if island.model is None:
                v[island.buses] = island.slack_v0[island.buses]
                continue
            result = None
            if island.warm is not None:
                result = _ac(island.model, island.warm, max_iteration, tolerance)
            if result is None:
                start = _dc(island.model, island.slack_v0, tolerance)
                if start is not None:
                    start = np.abs(island.slack_v0) * np.exp(1j * np.angle(start))
                    result = _ac(island.model, start, max_iteration, tolerance)
            if result is None:
                return None
            island.warm = result
            v[island.buses] = result[island.buses]
        return v

    def slack_power(self, p_out: np.ndarray, q_out: np.ndarray) -> None:
        """Write the active and reactive power (MW, Mvar) of the first ``len(p_out)``
        slacks (the ext_grids) after a converged solve; 0 where not energised."""
        n = len(p_out)
        p_out.fill(0.0)
        q_out.fill(0.0)
        for island in self.islands:
            here = island.slack_here[:n]
            if island.model is None:
                p, q = self._lone_slack_power(island)
                p_out[here], q_out[here] = p, q
                continue
            gp, gq, _ = island.model.get_gen_res()
            p_out[here] = gp[:n][here]
            q_out[here] = gq[:n][here]

    def _lone_slack_power(self, island: _Island) -> tuple[float, float]:
        """What a slack bus alone in its island supplies: its own loads and shunts."""
        bus = int(np.nonzero(island.buses)[0][0])
        n = len(self._inj_p)
        on = island.inj_mask[:n]
        pd, qd, gs, bs = self.residuals
        v2 = abs(island.slack_v0[bus]) ** 2
        son = island.shunt_on
        st = self.static
        p = self._inj_p[on].sum() + pd[bus] + v2 * (
            (st.shunt_p_mw * self.applied_step)[son].sum() + gs[bus]
        )
        q = self._inj_q[on].sum() + qd[bus] + v2 * (
            (st.shunt_q_mvar * self.applied_step)[son].sum() - bs[bus]
        )
        return p, q

    def flows(
        self, v: np.ndarray, y: tuple[np.ndarray, ...] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Power into each branch at its from (hv) bus (MVA) and pandapower's loading (%),
        for ppc rows ``0 .. n_out`` (the lines, then the transformers).

        ``v`` is 0 at buses that are not energised; inactive branches have zero
        admittances, so they carry nothing. ``v`` may carry leading batch axes
        (``(..., nb)``, results ``(..., n_out)``); ``y`` then optionally gives
        per-copy branch admittances ``(yff, yft, ytf, ytt)``, each broadcastable
        to ``(..., n_out)``, in place of this model's own.
        """
        n = self.n_out
        if y is None:
            y = (self.yff[:n], self.yft[:n], self.ytf[:n], self.ytt[:n])
        yff, yft, ytf, ytt = y
        vf = v[..., self._f_out]
        vt = v[..., self._t_out]
        i_f = yff * vf
        i_f += yft * vt
        i_t = ytf * vf
        i_t += ytt * vt
        s_f = vf * i_f.conj()
        s_f *= self.ppc.base_mva
        loading = np.maximum(np.abs(i_f) * self._load_f, np.abs(i_t) * self._load_t)
        if self.static.trafo_loading_power:
            tr = self.trafo_slice
            s_t = vt[..., tr] * i_t[..., tr].conj() * self.ppc.base_mva
            loading[..., tr] = np.maximum(np.abs(s_f[..., tr]), np.abs(s_t)) * self._trafo_power_pct
        return s_f, loading


def _ac(model: LSGrid, v0: np.ndarray, max_iteration: int, tolerance: float) -> np.ndarray | None:
    try:
        v = model.ac_pf(v0.copy(), max_iteration, tolerance)
    except RuntimeError:
        return None
    return v if v.shape[0] else None


def _dc(model: LSGrid, v0: np.ndarray, tolerance: float) -> np.ndarray | None:
    try:
        v = model.dc_pf(v0.copy(), 10, tolerance)
    except RuntimeError:
        return None
    return v if v.shape[0] else None
