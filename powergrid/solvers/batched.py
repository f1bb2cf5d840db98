"""N copies of one pandapower net solved together: a batched Z-bus fixed point in numpy.

For batched RL environments: one object holds the input state of ``n_copies``
copies of a feeder as ``(N, n)`` arrays (one row per copy, table row order as
in :mod:`powergrid.solvers.base`), and :meth:`BatchedSolver.solve` runs the AC
power flow of every copy at once.

Method (see :mod:`powergrid.solvers._zbus`): pandapower's ppc of the net in its
switch state at construction; slacks from the ext_grids, every other bus PQ;
constant-power loads, sgens and storage; shunts as constant admittances with
per-copy steps; per-copy transformer taps as precomputed pi-model stamps
(pandapower's own trafo formula at every tap position). Each copy's
``inv(Y_PP)`` columns are refactored only when its taps or shunt steps change;
each copy iterates ``V_L = w_L + Z_LL conj(S_L / V_L)`` from its previous
solution until its own convergence, then is frozen while the others go on. A
copy without a previous solution (new, reset, failed, or last solved by the
fallback) starts from its no-load voltages ``w`` (the Z-bus counterpart of a
flat start, tap ratios and phase shifts included) instead of pandapower's DC
initialisation. Flows, loadings and slack powers use the same formulas as the
lightsim2grid backend (pandapower's definitions).

The per-copy matrices are dense: ``16 * (m**2 + m * n_o)`` bytes per copy and
O(m**2) work per iteration (``m`` buses with injections). Built for feeders
of tens of buses: on IEEE 13 at N=256 a step costs a few microseconds per
copy; from ~50 injection buses on (the 78-bus microgrids) the single-copy
lightsim2grid backend is faster per copy (``benchmarks/batched_timing.py``).

A copy is solved by a single-copy backend instead (``fallback_used``) when its
switch state differs from the construction state, when the fixed point did not
converge, or for every copy when the net has something the method does not
model (gens, two slacks on one bus, or what the lightsim2grid backend rejects).

Per-copy independence: a copy's results depend only on its own inputs and
history, bit for bit -- never on the other copies or on ``n_copies`` (per-row
numpy arithmetic, ``einsum`` without BLAS, LAPACK one matrix at a time).
"""

from __future__ import annotations

import copy

import numpy as np
import pandapower as pp

from powergrid.solvers._zbus import CONVERGED, ZbusModel
from powergrid.solvers.base import PowerFlowSolver
from powergrid.solvers.batch_interface import BatchSolver
from powergrid.solvers.lightsim_backend import LightsimSolver
from powergrid.solvers.pandapower_backend import PandapowerSolver
from powergrid.solvers.registry import SOLVERS, make_solver

#: per-copy input arrays, (N, n_table) each
STATE_ARRAYS = ("load_p_mw", "load_q_mvar", "sgen_p_mw", "sgen_q_mvar", "storage_p_mw",
                "storage_q_mvar", "trafo_tap_pos", "shunt_step", "switch_closed")
#: per-copy result arrays, (N, n_table) each (same names as the single backends)
RESULT_ARRAYS = ("vm_pu", "va_degree", "line_loading_percent", "line_p_from_mw",
                 "line_q_from_mvar", "trafo_loading_percent", "trafo_p_hv_mw",
                 "trafo_q_hv_mvar", "ext_grid_p_mw", "ext_grid_q_mvar")

Copies = np.ndarray | slice | int | None


def _rows(copies: Copies) -> np.ndarray | slice | int:
    return slice(None) if copies is None else copies


class BatchedSolver(BatchSolver):
    """N copies of one pandapower net, solved together (Z-bus fixed point in numpy).

    Input state (write rows directly, or use the ``set_*`` helpers), shape
    ``(n_copies, n_table)``, pandapower sign conventions (load/storage
    consumption > 0, sgen generation > 0; MW, Mvar):
    ``load_p_mw, load_q_mvar, sgen_p_mw, sgen_q_mvar, storage_p_mw, storage_q_mvar``
    (float64), ``trafo_tap_pos``, ``shunt_step`` (int64), ``switch_closed`` (bool).

    Results after :meth:`solve`, ``(n_copies, n_table)``, as the single backends':
    ``vm_pu`` (p.u.), ``va_degree`` (degree; both nan at buses not energised),
    ``line_loading_percent``, ``line_p_from_mw``, ``line_q_from_mvar``,
    ``trafo_loading_percent``, ``trafo_p_hv_mw``, ``trafo_q_hv_mvar``,
    ``ext_grid_p_mw``, ``ext_grid_q_mvar``; per copy ``converged`` (bool),
    ``fallback_used`` (bool: solved by the single-copy backend) and
    ``n_iterations`` (fixed-point iterations in the last solve; 0 for a copy
    that went to the fallback because of its switch state). A copy that did not
    converge reads nan everywhere.

    ``tolerance_pu``: a copy has converged when the Euclidean norm of the last
    iteration's change of the complex voltages (p.u.) at the buses with
    injections is at most this; ``max_iteration`` bounds the iterations. ``fallback``: the
    single-copy backend (``make_solver`` name) for copies the batch cannot
    solve, built lazily (one per copy that needs it, cloned from one pristine
    instance) with its default options.
    """

    def __init__(self, net: pp.pandapowerNet, n_copies: int, max_iteration: int = 100,
                 tolerance_pu: float = 1e-10, fallback: str = "lightsim2grid") -> None:

        if fallback not in SOLVERS:
            raise ValueError(f"unknown fallback {fallback!r}; valid: {', '.join(sorted(SOLVERS))}")
        if n_copies < 1:
            raise ValueError("n_copies must be >= 1")
        self.n_copies = n = int(n_copies)
        self.max_iteration = int(max_iteration)
        self.tolerance_pu = float(tolerance_pu)
        self.fallback = fallback
        self.unsupported_reason = ""
        template: PowerFlowSolver
        try:
            template = LightsimSolver(net)
        except NotImplementedError as exc:
            if fallback == "lightsim2grid":
                raise
            template = PandapowerSolver(net)
            self.unsupported_reason = str(exc)
        self.net = template.net            # private copy, scaling folded in
        self._model: ZbusModel | None = None
        if isinstance(template, LightsimSolver):
            try:
                self._model = ZbusModel(template._topology, template._static, template._taps,
                                        template._has_tap_range, n, len(self.net.ext_grid))
            except NotImplementedError as exc:
                self.unsupported_reason = str(exc)
        #: False: every copy is solved by the fallback (see ``unsupported_reason``)
        self.batched = self._model is not None
        # -- state
        self._initial = {name: template._initial_state[name].copy() for name in STATE_ARRAYS}
        for name, value in self._initial.items():
            setattr(self, name, np.tile(value, (n, 1)))
        self.trafo_tap_min = template.trafo_tap_min.copy()
        self.trafo_tap_max = template.trafo_tap_max.copy()
        self.shunt_max_step = template.shunt_max_step.copy()
        self._base_switch = self._initial["switch_closed"]
        # -- results
        for name in RESULT_ARRAYS:
            table = next((t for t in ("line", "trafo", "ext_grid") if name.startswith(t)), "bus")
            setattr(self, name, np.full((n, len(self.net[table])), np.nan))
        self.converged = np.zeros(n, dtype=bool)
        self.fallback_used = np.zeros(n, dtype=bool)
        self.n_iterations = np.zeros(n, dtype=np.int64)
        # -- per-copy solver state
        self._warm = np.zeros(n, dtype=bool)
        self._fallbacks: dict[int, PowerFlowSolver] = {}
        self._pristine: PowerFlowSolver | None = None     # never solved; cloned per copy
        nl, ns, nst = (len(self._initial[k]) for k in ("load_p_mw", "sgen_p_mw", "storage_p_mw"))
        self._sl = (slice(0, nl), slice(nl, nl + ns), slice(nl + ns, nl + ns + nst))
        self._cons = np.zeros((n, nl + ns + nst + 1), dtype=np.complex128)
        m = self._model.m if self._model is not None else 0
        self._v_l = np.zeros((n, m), dtype=np.complex128)

    # -- state helpers --------------------------------------------------------------
    def set_load(self, p_mw, q_mvar, copies: Copies = None) -> None:
        """Set the consumption of every load (MW, Mvar) of ``copies`` (None = all)."""
        rows = _rows(copies)
        self.load_p_mw[rows] = p_mw
        self.load_q_mvar[rows] = q_mvar

    def set_sgen(self, p_mw, q_mvar, copies: Copies = None) -> None:
        """Set the generation of every sgen (MW, Mvar) of ``copies``."""
        rows = _rows(copies)
        self.sgen_p_mw[rows] = p_mw
        self.sgen_q_mvar[rows] = q_mvar

    def set_storage(self, p_mw, q_mvar, copies: Copies = None) -> None:
        """Set every storage unit (MW, Mvar; ``p_mw > 0`` charges) of ``copies``."""
        rows = _rows(copies)
        self.storage_p_mw[rows] = p_mw
        self.storage_q_mvar[rows] = q_mvar

    def set_trafo_tap(self, tap_pos, copies: Copies = None) -> None:
        """Set every trafo's tap position of ``copies`` (``ValueError`` outside the range)."""
        tap = np.asarray(tap_pos)
        if np.any(tap != np.round(tap)) or np.any((tap < self.trafo_tap_min)
                                                  | (tap > self.trafo_tap_max)):
            raise ValueError("tap positions outside the trafo tap range (or not integers)")
        self.trafo_tap_pos[_rows(copies)] = tap

    def set_shunt_step(self, step, copies: Copies = None) -> None:
        """Set every shunt's step of ``copies`` (``ValueError`` outside ``0 .. max_step``)."""
        st = np.asarray(step)
        if np.any(st != np.round(st)) or np.any((st < 0) | (st > self.shunt_max_step)):
            raise ValueError("shunt steps outside 0 .. max_step (or not integers)")
        self.shunt_step[_rows(copies)] = st

    def set_switch(self, closed, copies: Copies = None) -> None:
        """Set every switch of ``copies`` (True = closed)."""
        self.switch_closed[_rows(copies)] = closed

    def reset(self, copies: Copies = None) -> None:
        """Put ``copies`` (None = all) back to the construction state: inputs, start
        voltages (the next solve starts cold) and fallback solvers (dropped: a copy
        that needs one again gets a fresh clone, a few ms); their results read nan
        until the next solve. Their factors are factored afresh at the next solve (the
        low-rank updates made them depend on the copy's history of taps; a fresh world
        starts from fresh factors)."""
        rows = _rows(copies)
        if self._model is not None:
            self._model.valid[rows] = False
        for name, value in self._initial.items():
            getattr(self, name)[rows] = value
        self._warm[rows] = False
        self.converged[rows] = False
        self.fallback_used[rows] = False
        self.n_iterations[rows] = 0
        for name in RESULT_ARRAYS:
            getattr(self, name)[rows] = np.nan
        for i in np.arange(self.n_copies)[rows].ravel().tolist():
            self._fallbacks.pop(i, None)      # the next one is a fresh copy of the pristine one

    # -- solve -------------------------------------------------------------------------
    def _check_ranges(self, tap: np.ndarray, step: np.ndarray) -> None:
        """``ValueError`` unless every row of ``tap``/``step`` is within its range."""
        if np.any((tap < self.trafo_tap_min) | (tap > self.trafo_tap_max)):
            raise ValueError("trafo_tap_pos outside the trafo tap range")
        if np.any((step < 0) | (step > self.shunt_max_step)):
            raise ValueError("shunt_step outside 0 .. max_step")

    def solve(self, copies: Copies = None) -> np.ndarray:
        """Solve ``copies`` (None = every copy); return (and store) the converged flags
        ``(N,)`` (the other copies keep their results and flags).

        Never raises for non-convergence (those copies read nan); raises
        ``ValueError`` for tap positions or shunt steps out of range (checked
        when they change).
        """
        rows = np.arange(self.n_copies)[_rows(copies)].ravel()
        self.fallback_used[rows] = False
        self.n_iterations[rows] = 0
        if self._model is None:
            others = rows
        else:
            same = (self.switch_closed[rows] == self._base_switch).all(axis=1)
            if copies is None and same.all():
                batch: np.ndarray | slice = slice(None)
                others = np.zeros(0, dtype=np.intp)
            else:
                batch = rows[same]
                others = rows[~same]
            failed = self._solve_batch(batch)
            others = np.concatenate([others, failed])
        for i in np.sort(others).tolist():
            self._solve_fallback(i)
        return self.converged

    def _solve_batch(self, sel: np.ndarray | slice) -> np.ndarray:
        """Z-bus solve of copies ``sel``; returns the copies that did not converge."""
        model = self._model
        assert model is not None     # only called when the net is batched
        rows = np.arange(self.n_copies)[sel]
        if not len(rows):
            return rows
        tap, step = self.trafo_tap_pos[sel], self.shunt_step[sel]
        stale = model.stale(sel, tap, step)
        if stale.any():     # taps/steps differ from the factored ones: check, refactor
            self._check_ranges(tap[stale], step[stale])
            model.refresh(rows[stale], tap[stale], step[stale])
        # consumptions per copy: loads, -sgens, storage, then the zero padding column
        cons = self._cons[sel] if isinstance(sel, slice) else self._cons[: len(rows)]
        ld, sg, so = self._sl
        cons.real[:, ld] = self.load_p_mw[sel]
        cons.imag[:, ld] = self.load_q_mvar[sel]
        np.negative(self.sgen_p_mw[sel], out=cons.real[:, sg])
        np.negative(self.sgen_q_mvar[sel], out=cons.imag[:, sg])
        cons.real[:, so] = self.storage_p_mw[sel]
        cons.imag[:, so] = self.storage_q_mvar[sel]
        cons[:, -1] = 0.0
        target = model.consumption(cons)
        m = model.m
        s_l = target[:, :m] * (-1.0 / model.base_mva)
        warm = self._warm[sel]
        v0 = np.where(warm[:, None], self._v_l[sel], model.w_l[sel])
        v_l, i_l, status, iters = model.iterate(sel, s_l, v0, self.max_iteration,
                                                self.tolerance_pu)
        ok = status == CONVERGED
        self._v_l[sel] = v_l
        self._warm[sel] = ok
        self.converged[sel] = ok
        self.n_iterations[sel] = iters
        with np.errstate(all="ignore"):      # diverged copies: overwritten with nan
            v = model.voltages(sel, v_l, i_l)
            self._write_results(sel, v, target[:, m:], ok)
        return rows[~ok]

    def _write_results(self, sel, v: np.ndarray, slack_cons: np.ndarray,
                       ok: np.ndarray) -> None:
        assert self._model is not None
        model, topo = self._model, self._model.topo
        vb = v[:, topo.bus_of_row]
        vm = np.abs(vb)
        va = np.angle(vb, deg=True)
        if len(topo.rows_off):
            vm[:, topo.rows_off] = np.nan
            va[:, topo.rows_off] = np.nan
        s_f, loading = model.flows(sel, v)
        lines, trafos = topo.line_slice, topo.trafo_slice
        p_eg, q_eg = model.slack_power(sel, v, slack_cons)
        values = (vm, va, loading[:, lines], s_f.real[:, lines], s_f.imag[:, lines],
                  loading[:, trafos], s_f.real[:, trafos], s_f.imag[:, trafos], p_eg, q_eg)
        bad = ~ok
        for name, value in zip(RESULT_ARRAYS, values, strict=True):
            if bad.any():
                value[bad] = np.nan
            getattr(self, name)[sel] = value

    def _solve_fallback(self, i: int) -> None:
        """Solve copy ``i`` with its own single-copy backend."""
        solver = self._fallbacks.get(i)
        if solver is None:
            if self._pristine is None:
                self._pristine = make_solver(self.net, self.fallback)
            solver = self._fallbacks[i] = copy.deepcopy(self._pristine)
        every = np.arange
        solver.set_load(every(self.load_p_mw.shape[1]), self.load_p_mw[i], self.load_q_mvar[i])
        solver.set_sgen(every(self.sgen_p_mw.shape[1]), self.sgen_p_mw[i], self.sgen_q_mvar[i])
        solver.set_storage(every(self.storage_p_mw.shape[1]), self.storage_p_mw[i],
                           self.storage_q_mvar[i])
        solver.set_trafo_tap(every(self.trafo_tap_pos.shape[1]), self.trafo_tap_pos[i])
        solver.set_shunt_step(every(self.shunt_step.shape[1]), self.shunt_step[i])
        solver.set_switch(every(self.switch_closed.shape[1]), self.switch_closed[i])
        ok = solver.solve()
        self.fallback_used[i] = True
        self.converged[i] = ok
        self._warm[i] = False
        for name in RESULT_ARRAYS:
            getattr(self, name)[i] = getattr(solver, name) if ok else np.nan
