"""N copies of one switch state as dense per-copy Z-bus models (private to ``batched``).

Built from the base switch state's :class:`~powergrid.solvers._lsmodel.Topology`
(pandapower's ppc: fused buses, branch admittances, residual bus injections,
loading factors) and the tap table (pandapower's trafo model at every tap
position). Bus classes, all in ppc bus numbers:

* ``S`` -- slack buses (in-service ext_grids) at their fixed complex voltage;
* ``L`` -- energised PQ buses with a constant-power injection (load, sgen,
  storage, or a residual such as a ward) -- the only buses whose voltage
  feeds back into the iteration;
* ``O`` -- the other energised PQ buses (no injection: their voltage is an
  affine function of the ``L`` currents).

Per copy ``c`` the bus admittance matrix is ``Y_c = Y_fixed + sum_k T_k(tap_ck) +
sum_s step_cs * y_s``: ``Y_fixed`` holds every branch except the tap-changing
transformers plus the residual bus shunts, ``T_k(tap)`` is transformer ``k``'s
2x2 pi-model stamp at that tap position (precomputed for every position),
``y_s`` a switched shunt's admittance per step. With ``Z_c = inv(Y_c[P, P])``
(``P = L + O``) the load-flow equations are the fixed point

    V_L = w_L + Z_LL conj(S_L / V_L),     w = -Z_PP Y_PS V_S (no-load voltages)

iterated per copy ("implicit Z-bus Gauss"). Only ``Z[:, L]``, ``w`` and the
columns ``Z[:, T]`` of the buses ``T`` whose admittance a tap or a shunt step can change
are stored; they are recomputed for a copy only when its taps or shunt steps change: as
a low-rank update (Woodbury: a tap change alters ``Y`` at its transformer's two buses, a
shunt step at its bus, so ``Z' = Z - Z E (I + D E^T Z E)^-1 D E^T Z`` with ``E`` those
buses' columns and ``D`` the admittance change there), factored afresh after
:data:`_MAX_UPDATES` updates, at a copy's reset or when a changed element touches a
slack bus (a net with fewer than :data:`_UPDATE_MIN_BUSES` P buses is always factored
afresh: cheaper there). Fresh factors are kept by tap and step state (:attr:`ZbusModel.
factors`): a state seen before, by any copy, is not factored again. Copies
are updated in groups with the same changed elements, so a copy's arithmetic does not
depend on the others'. Every batched operation is per-row arithmetic (elementwise ufuncs,
``np.einsum``, ``np.matmul`` and LAPACK one matrix at a time), so a copy's numbers do
not depend on the other copies or on their count.

Units: voltages and currents in p.u., powers in MW/Mvar outside and p.u. of
``base_mva`` inside the iteration.
"""

from __future__ import annotations

from typing import cast

import numpy as np

from powergrid.solvers._lsmodel import Static, Topology, branch_vectors
from powergrid.solvers._ppc import TapTable

#: a copy whose L-bus voltages move by more than this (p.u., root mean square) in one
#: iteration is diverging
_DIVERGED_STEP_PU = 2.0
#: bytes of complex workspace one refresh chunk may use
_CHUNK_BYTES = 64 * 2**20
#: low-rank updates of a copy's factors before they are factored afresh (bounds the
#: rounding the updates accumulate; tests/test_batched_solver.py: within 1e-9 p.u. of
#: fresh factors over more solves than this)
_MAX_UPDATES = 32
#: fewer P buses than this: factoring afresh in one batched call is cheaper than grouped
#: updates (measured side by side, random actions: the batched IEEE 13 at N = 256, 13 P
#: buses, about 8 % slower with updates and BLAS products than without; the batched
#: microgrids at N = 64, 74 P buses, 2.3x faster with them)
_UPDATE_MIN_BUSES = 32
#: bytes of fresh factors kept by tap and step state (the IEEE 13's regulator and two
#: capacitor banks have 33 x 4 x 2 = 264 states, 1 MB)
_FACTOR_BYTES = 64 * 2**20

CONVERGED, NOT_CONVERGED, DIVERGED = 1, 0, -1


def _state_keys(tap_pos: np.ndarray, step: np.ndarray) -> list[bytes]:
    """Each row's tap and step state ``(k, n_trafo)``, ``(k, n_shunt)`` as one bytes key
    (the row's int64 values: one void view, not a ``tobytes`` per row)."""
    state = np.ascontiguousarray(np.concatenate([tap_pos, step], axis=1), dtype=np.int64)
    if state.shape[1] == 0:  # nothing switchable: one state
        return [b""] * len(state)
    return cast(list[bytes], state.view(np.dtype((np.void, 8 * state.shape[1])))
                .ravel().tolist())
#: matrices with at least this many columns are multiplied by BLAS (``np.matmul``, one
#: matrix at a time: 4.4x ``np.einsum`` on the microgrids' 64 x 55 x 55), smaller ones by
#: ``np.einsum`` (no per-matrix call: the IEEE 13's are 10 x 10)
_BLAS_MIN_COLUMNS = 32


def _times(z: np.ndarray, i: np.ndarray) -> np.ndarray:
    """Each copy's matrix times its vector: ``(k, r, c) x (k, c) -> (k, r)``; the method
    depends on the shape only, so a copy's result does not depend on the others'."""
    if z.shape[-1] >= _BLAS_MIN_COLUMNS:
        return np.matmul(z, i[:, :, None])[:, :, 0]
    return np.einsum("bij,bj->bi", z, i)


class ZbusModel:
    """Per-copy Z-bus factors and the batched fixed-point iteration.

    ``n_ext_grid``: the first ``n_ext_grid`` slacks of ``topo`` are the
    ``net.ext_grid`` rows. Raises ``NotImplementedError`` for what the method
    does not model (voltage-controlled or slack gens, two slacks on one bus).
    """

    def __init__(self, topo: Topology, static: Static, taps: TapTable,
                 has_tap_range: np.ndarray, n_copies: int, n_ext_grid: int) -> None:
        ppc = topo.ppc
        self.topo = topo
        self.nb = nb = topo.nb
        self.base_mva = base = ppc.base_mva
        self.n_copies = n = int(n_copies)
        if np.any(topo.gen_on) or np.any(topo.slack_on[n_ext_grid:]):
            raise NotImplementedError("gens (PV or slack) are not modelled by the Z-bus method")
        # -- bus classes
        slack = topo.slack_bus[topo.slack_on]
        if len(np.unique(slack)) != len(slack):
            raise NotImplementedError("two slacks on one bus")
        slack_vm = static.slack_vm_pu[topo.slack_on]
        slack_va = np.deg2rad(static.slack_va_degree[topo.slack_on])
        self.v_slack = slack_vm * np.exp(1j * slack_va)                 # (ns,)
        is_slack = np.zeros(nb, dtype=bool)
        is_slack[slack] = True
        pq = np.nonzero(topo.energised & ~is_slack)[0]
        pd, qd, gs, bs = topo.residuals
        inj_on = topo.inj_on
        loaded = (pd != 0.0) | (qd != 0.0)
        loaded[topo.inj_bus[inj_on]] = True
        self.bus_l = pq[loaded[pq]]
        self.bus_o = pq[~loaded[pq]]
        self.bus_s = slack
        self.bus_p = np.concatenate([self.bus_l, self.bus_o])
        self.m = m = len(self.bus_l)
        # ppc bus -> column of [V_L, V_O, V_S, 0] (the last one for buses not energised)
        self._v_fixed = np.concatenate([self.v_slack, [0.0]])
        self._bus_order = np.full(nb, len(self.bus_p) + len(slack), dtype=np.intp)
        self._bus_order[np.concatenate([self.bus_p, slack])] = np.arange(len(self.bus_p)
                                                                         + len(slack))
        ns = len(slack)
        # ext_grid -> slack position (or -1 when out of service / not energised)
        slack_pos = np.full(len(topo.slack_bus), -1, dtype=np.intp)
        slack_pos[topo.slack_on] = np.arange(ns)
        self.ext_grid_slack = slack_pos[:n_ext_grid]
        self._eg_identity = np.array_equal(self.ext_grid_slack, np.arange(ns))
        # -- injections: consumptions summed per target bus (L, then S) in fixed layers
        targets = np.concatenate([self.bus_l, slack])
        target_of_bus = np.full(nb, -1, dtype=np.intp)
        target_of_bus[targets] = np.arange(len(targets))
        self.n_inj = n_inj = len(topo.inj_bus)
        elements = np.nonzero(inj_on)[0]
        tpos = target_of_bus[topo.inj_bus[elements]]
        elements, tpos = elements[tpos >= 0], tpos[tpos >= 0]
        count = np.bincount(tpos, minlength=len(targets))
        depth = int(count.max()) if len(count) else 0
        # layer k holds each target's k-th element; padding points at a zero column
        self.layers = np.full((depth, len(targets)), n_inj, dtype=np.intp)
        seen = np.zeros(len(targets), dtype=np.intp)
        for e, t in zip(elements.tolist(), tpos.tolist(), strict=True):
            self.layers[seen[t], t] = e
            seen[t] += 1
        self._layers_flat = self.layers.ravel()
        self.residual_s = (pd + 1j * qd)[targets]                        # MVA
        # -- fixed admittances: every branch but the tap-changing transformers
        trafo_rows = topo.trafo_rows
        var = np.nonzero(has_tap_range & topo.active_branch[trafo_rows])[0]
        self.var_trafo = var                               # net.trafo positions
        self.var_rows = trafo_rows[var]                    # their ppc branch rows
        self.var_f = ppc.f_bus[self.var_rows]
        self.var_t = ppc.t_bus[self.var_rows]
        keep = np.ones(len(ppc.f_bus))
        keep[self.var_rows] = 0.0
        y_fixed = np.zeros((nb, nb), dtype=np.complex128)
        f, t = ppc.f_bus, ppc.t_bus
        for yb, rows, cols in ((topo.yff, f, f), (topo.yft, f, t), (topo.ytf, t, f),
                               (topo.ytt, t, t)):
            np.add.at(y_fixed, (rows, cols), yb * keep)
        y_fixed[np.arange(nb), np.arange(nb)] += (gs + 1j * bs) / base
        self.y_fixed = y_fixed
        # -- transformer stamps (span, n_var, 4): yff, yft, ytf, ytt at tap_min + k
        tab = taps
        self.tap_min = tab.tap_min[var].astype(np.int64)
        stamp = branch_vectors(tab.r[:, var], tab.x[:, var], tab.g[:, var], tab.b[:, var],
                               tab.g_asym[:, var], tab.b_asym[:, var], tab.ratio[:, var],
                               tab.shift_degree[:, var], np.ones(len(var)))
        self.stamps = np.stack(stamp, axis=-1)
        # -- switched shunts (energised, in service): admittance per step
        self.shunt_idx = np.nonzero(topo.shunt_on)[0]
        self.shunt_bus = topo.shunt_bus[self.shunt_idx]
        self.shunt_y = (static.shunt_p_mw - 1j * static.shunt_q_mvar)[self.shunt_idx] / base
        # -- the buses T whose admittance a tap or a shunt step changes (P positions)
        p_of_bus = np.full(nb, -1, dtype=np.intp)
        p_of_bus[self.bus_p] = np.arange(len(self.bus_p))
        ends = np.stack([p_of_bus[self.var_f], p_of_bus[self.var_t]], axis=1)  # (nv, 2)
        shunt_p = p_of_bus[self.shunt_bus]
        #: per variable transformer / shunt: it touches a bus outside P (a change there
        #: moves Y[P, S]: factored afresh)
        self._var_outside = (ends < 0).any(axis=1)
        self._shunt_outside = shunt_p < 0
        #: factors updated in place (else factored afresh on every change)
        self.updates = len(self.bus_p) >= _UPDATE_MIN_BUSES
        self.t_pos = (np.unique(np.concatenate([ends[ends >= 0], shunt_p[shunt_p >= 0]]))
                      if self.updates else np.zeros(0, dtype=np.intp))
        t_of_p = {int(p): j for j, p in enumerate(self.t_pos.tolist())}
        self._var_t = np.array([[t_of_p.get(int(p), -1) for p in row] for row in ends],
                               dtype=np.intp).reshape(-1, 2)
        self._shunt_t = np.array([t_of_p.get(int(p), -1) for p in shunt_p], dtype=np.intp)
        nt = len(self.t_pos)
        # -- per-copy caches
        c = np.complex128
        #: per copy ``X = Z_PP [I_L | b | I_T]`` (rows P: L, then O), the views below
        self.x = np.zeros((n, len(self.bus_p), m + 1 + nt), dtype=c)
        self.z_ll = self.x[:, :m, :m]
        self.z_ol = self.x[:, m:, :m]
        self.w_l = self.x[:, :m, m]
        self.w_o = self.x[:, m:, m]
        self.z_pt = self.x[:, :, m + 1:]                                # Z[:, T]
        self.n_updates = np.zeros(n, dtype=np.int64)
        self.y_slack = np.zeros((n, ns, nb), dtype=c)                   # rows S of Y_c
        n_out = topo.n_out
        self.y_branch = tuple(np.broadcast_to(y[:n_out], (n, n_out)).copy()
                              for y in (topo.yff, topo.yft, topo.ytf, topo.ytt))
        self.valid = np.zeros(n, dtype=bool)
        self.applied_tap = np.zeros((n, len(topo.applied_tap)), dtype=np.int64)
        self.applied_step = np.zeros((n, len(topo.applied_step)), dtype=np.int64)
        self._chunk = max(1, _CHUNK_BYTES // (16 * nb * nb))
        #: fresh factors by tap and step state (``tap_pos`` and ``step`` rows as bytes):
        #: the same state gives the same numbers in every copy, so each is computed once;
        #: a state's slot in the store of ``X`` and ``Y[S, :]`` (a copy takes its state's
        #: with one gather)
        self.factors: dict[bytes, int] = {}
        self._max_factors = max(1, _FACTOR_BYTES // (16 * (self.x[0].size + ns * nb)))
        self._store_x = np.zeros((0, *self.x.shape[1:]), dtype=c)
        self._store_y = np.zeros((0, ns, nb), dtype=c)

    # -- factors --------------------------------------------------------------
    def stale(self, rows, tap_pos: np.ndarray, step: np.ndarray) -> np.ndarray:
        """Which of ``rows`` need new factors for the given taps/steps ``(k, n)``."""
        if (self.valid[rows].all() and np.array_equal(tap_pos, self.applied_tap[rows])
                and np.array_equal(step, self.applied_step[rows])):
            return np.zeros(len(tap_pos), dtype=bool)
        out = ~self.valid[rows]
        if tap_pos.shape[1]:
            out |= (tap_pos != self.applied_tap[rows]).any(axis=1)
        if step.shape[1]:
            out |= (step != self.applied_step[rows]).any(axis=1)
        return out

    def refresh(self, rows: np.ndarray, tap_pos: np.ndarray, step: np.ndarray) -> None:
        """Factor ``Y_c[P, P]`` of copies ``rows`` (index array) at their ``tap_pos``
        ``(k, n_trafo)`` and shunt ``step`` ``(k, n_shunt)``: a low-rank update of the
        factors a copy has (:meth:`_update`), or afresh."""
        if not self.updates:
            self._refresh_fresh(rows, tap_pos, step)
            return
        changed_tap = tap_pos[:, self.var_trafo] != self.applied_tap[rows][:, self.var_trafo]
        changed_step = step[:, self.shunt_idx] != self.applied_step[rows][:, self.shunt_idx]
        outside = ((changed_tap & self._var_outside).any(axis=1)
                   | (changed_step & self._shunt_outside).any(axis=1))
        update = self.valid[rows] & ~outside & (self.n_updates[rows] < _MAX_UPDATES)
        if update.any():
            changed = np.concatenate([changed_tap, changed_step], axis=1)[update]
            patterns, group = np.unique(changed, axis=0, return_inverse=True)
            for g, pattern in enumerate(patterns):
                members = np.flatnonzero(update)[group.reshape(-1) == g]
                self._update(rows[members], tap_pos[members], step[members], pattern)
        fresh = np.flatnonzero(~update)
        self._refresh_fresh(rows[fresh], tap_pos[fresh], step[fresh])

    def _refresh_fresh(self, rows: np.ndarray, tap_pos: np.ndarray, step: np.ndarray) -> None:
        """Factor copies ``rows`` afresh: each distinct tap and step state once (kept in
        :attr:`factors`, shared by every copy and every later solve), in chunks of
        bounded workspace."""
        if not len(rows):
            return
        keys = _state_keys(tap_pos, step)
        new: dict[bytes, int] = {}
        for j, key in enumerate(keys):
            if key not in self.factors and key not in new:
                new[key] = j
        self._make_room(len(new), set(keys))
        first = np.array(list(new.values()), dtype=np.intp)
        for start in range(0, len(first), self._chunk):
            part = first[start:start + self._chunk]
            x, y_slack = self._factor(tap_pos[part], step[part])
            slots = self._free_slots(len(part))
            self._store_x[slots] = x
            self._store_y[slots] = y_slack
            for slot, key in zip(slots.tolist(), (keys[i] for i in part.tolist()), strict=True):
                self.factors[key] = slot
        slots = np.fromiter((self.factors[key] for key in keys), dtype=np.intp,
                            count=len(keys))
        self.x[rows] = self._store_x[slots]
        self.y_slack[rows] = self._store_y[slots]
        self._set_branches(rows, tap_pos)
        self.applied_tap[rows] = tap_pos
        self.applied_step[rows] = step
        self.valid[rows] = True
        self.n_updates[rows] = 0

    def _make_room(self, k: int, keep: set[bytes]) -> None:
        """Make room for ``k`` new states: forget the oldest states beyond
        :attr:`_max_factors`, but none in ``keep`` (the ones copies are about to take:
        one call's states are kept whatever their number)."""
        excess = len(self.factors) + k - self._max_factors
        if excess <= 0:
            return
        old = [key for key in self.factors if key not in keep][:excess]
        for key in old:
            del self.factors[key]

    def _free_slots(self, k: int) -> np.ndarray:
        """``k`` slots of the store that no kept state uses (the store grows as needed,
        by doubling, up to the states it holds)."""
        used = np.zeros(len(self._store_x), dtype=bool)
        used[list(self.factors.values())] = True
        free = np.flatnonzero(~used)[:k]
        if len(free) < k:
            grow = max(k - len(free), len(self._store_x))
            grow = min(grow, max(k - len(free), self._max_factors - len(self._store_x)))
            start = len(self._store_x)
            self._store_x = np.concatenate(
                [self._store_x, np.zeros((grow, *self._store_x.shape[1:]), self.x.dtype)])
            self._store_y = np.concatenate(
                [self._store_y, np.zeros((grow, *self._store_y.shape[1:]), self.x.dtype)])
            free = np.concatenate([free, np.arange(start, start + k - len(free))])
        return free

    def _update(self, rows: np.ndarray, tap_pos: np.ndarray, step: np.ndarray,
                pattern: np.ndarray) -> None:
        """Woodbury update of the factors of copies ``rows`` whose changed transformers
        and shunts are ``pattern`` (one flag per variable transformer, then per shunt)."""
        nv = len(self.var_trafo)
        trafos = np.flatnonzero(pattern[:nv])
        shunts = np.flatnonzero(pattern[nv:])
        local = np.unique(np.concatenate([self._var_t[trafos].ravel(),
                                          self._shunt_t[shunts]]))     # T columns touched
        where = {int(t): j for j, t in enumerate(local.tolist())}
        k, ne, m = len(rows), len(local), self.m
        if ne == 0:  # no admittance changed (a transformer without a tap range)
            self.applied_tap[rows], self.applied_step[rows] = tap_pos, step
            return
        d = np.zeros((k, ne, ne), dtype=np.complex128)             # the admittance change
        var = self.var_trafo[trafos]
        new = self.stamps[tap_pos[:, var] - self.tap_min[trafos], trafos]   # (k, nt, 4)
        old = self.stamps[self.applied_tap[rows][:, var] - self.tap_min[trafos], trafos]
        delta = new - old
        for j, tr in enumerate(trafos.tolist()):
            f, t = where[int(self._var_t[tr, 0])], where[int(self._var_t[tr, 1])]
            d[:, f, f] += delta[:, j, 0]
            d[:, f, t] += delta[:, j, 1]
            d[:, t, f] += delta[:, j, 2]
            d[:, t, t] += delta[:, j, 3]
        for sh in shunts.tolist():
            b = where[int(self._shunt_t[sh])]
            idx = self.shunt_idx[sh]
            d[:, b, b] += (step[:, idx] - self.applied_step[rows][:, idx]) * self.shunt_y[sh]
        x = self.x[rows]
        z_e = x[:, :, m + 1 + local]                               # Z E (k, P, ne)
        rows_e = self.t_pos[local]
        ident = np.broadcast_to(np.eye(ne), (k, ne, ne))
        gain = np.linalg.solve(ident + np.matmul(d, z_e[:, rows_e, :]),
                               np.matmul(d, x[:, rows_e, :]))
        x -= np.matmul(z_e, gain)
        self.x[rows] = x
        self._set_branches(rows, tap_pos)
        self.applied_tap[rows] = tap_pos
        self.applied_step[rows] = step
        self.n_updates[rows] += 1

    def _set_branches(self, rows: np.ndarray, tap_pos: np.ndarray) -> None:
        """The variable transformers' branch admittances of copies ``rows`` at ``tap_pos``."""
        nv = len(self.var_trafo)
        st = self.stamps[tap_pos[:, self.var_trafo] - self.tap_min, np.arange(nv)]
        for yb, col in zip(self.y_branch, range(4), strict=True):
            yb[rows[:, None], self.var_rows[None, :]] = st[:, :, col]

    def _factor(self, tap_pos: np.ndarray, step: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(X, Y[S, :])`` of ``Y[P, P]`` at each row of ``tap_pos`` ``(k, n_trafo)`` and
        shunt ``step`` ``(k, n_shunt)``: ``X = Z_PP [I_L | b | I_T]`` (LAPACK one matrix
        at a time) and the slack rows of ``Y``."""
        k, m, nb = len(tap_pos), self.m, self.nb
        y = np.empty((k, nb, nb), dtype=np.complex128)
        y[:] = self.y_fixed
        nv = len(self.var_trafo)
        st = self.stamps[tap_pos[:, self.var_trafo] - self.tap_min, np.arange(nv)]  # (k, nv, 4)
        for j in range(nv):
            f, t = self.var_f[j], self.var_t[j]
            y[:, f, f] += st[:, j, 0]
            y[:, f, t] += st[:, j, 1]
            y[:, t, f] += st[:, j, 2]
            y[:, t, t] += st[:, j, 3]
        for j, b in enumerate(self.shunt_bus.tolist()):
            y[:, b, b] += step[:, self.shunt_idx[j]] * self.shunt_y[j]
        p, s = self.bus_p, self.bus_s
        nt = len(self.t_pos)
        y_pp = y[:, p[:, None], p[None, :]]
        rhs = np.zeros((k, len(p), m + 1 + nt), dtype=np.complex128)
        rhs[:, np.arange(m), np.arange(m)] = 1.0
        rhs[:, :, m] = -np.einsum("bps,s->bp", y[:, p[:, None], s[None, :]], self.v_slack)
        rhs[:, self.t_pos, m + 1 + np.arange(nt)] = 1.0
        return np.linalg.solve(y_pp, rhs), y[:, s, :]

    # -- injections -------------------------------------------------------------
    def consumption(self, cons: np.ndarray) -> np.ndarray:
        """Summed consumption (MVA) at the target buses (L, then S) per copy.

        ``cons`` is ``(k, n_inj + 1)`` complex: load, sgen (negated) and storage
        consumptions, then a zero column (the padding target).
        """
        k = len(cons)
        depth, n_t = self.layers.shape
        if depth == 0:
            return np.broadcast_to(self.residual_s, (k, n_t)).copy()
        acc = cons[:, self._layers_flat].reshape(k, depth, n_t).sum(axis=1)
        acc += self.residual_s
        return acc

    # -- fixed point --------------------------------------------------------------
    def iterate(self, sel, s_l: np.ndarray, v_l: np.ndarray, max_iteration: int,
                tolerance_pu: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Run the fixed point for copies ``sel`` (index array or ``slice(None)``).

        ``s_l`` (k, m): injection at the L buses in p.u. (generation > 0);
        ``v_l`` (k, m): start voltages. Each copy stops at its own convergence
        (Euclidean norm of ``V_new - V`` over the L buses ``<= tolerance_pu``) or
        divergence (non-finite, or a root-mean-square step above 2 p.u.) and is
        frozen while the others go on. Returns the final ``V_L``, the
        currents ``conj(S/V)`` that produced it, a status per copy
        (:data:`CONVERGED`, :data:`NOT_CONVERGED`, :data:`DIVERGED`) and the
        iteration count.
        """
        z, w = self.z_ll[sel], self.w_l[sel]
        k = len(v_l)
        v_out = v_l.copy()
        i_out = np.zeros_like(v_l)
        status = np.zeros(k, dtype=np.int8)
        iters = np.zeros(k, dtype=np.int64)
        if k == 0:
            return v_out, i_out, status, iters
        if self.m == 0:
            status[:] = CONVERGED
            return v_out, i_out, status, iters
        tol2 = float(tolerance_pu) ** 2
        big2 = _DIVERGED_STEP_PU**2 * self.m
        live = np.arange(k)                 # working-set row -> copy row in the batch
        alive = np.ones(k, dtype=bool)
        s, v = s_l, v_l
        i = v
        with np.errstate(all="ignore"):
            for it in range(1, int(max_iteration) + 1):
                i = np.divide(s, v)
                np.conjugate(i, out=i)
                v_new = _times(z, i)
                v_new += w
                d = (v_new - v).view(np.float64)
                v = v_new
                err = np.einsum("bi,bi->b", d, d)            # |V_new - V|^2 summed over L
                if err.min() > tol2 and err.max() <= big2:   # none finished (nan fails)
                    continue
                done = err <= tol2
                finished = (done | ~(err <= big2)) & alive
                if not finished.any():
                    continue
                rows = live[finished]
                v_out[rows] = v[finished]
                i_out[rows] = i[finished]
                status[rows] = np.where(done[finished], CONVERGED, DIVERGED)
                iters[rows] = it
                alive &= ~finished
                n_alive = int(np.count_nonzero(alive))
                if n_alive == 0:
                    break
                if 2 * n_alive <= len(alive):      # compact the working set
                    z, w, s, v, i = z[alive], w[alive], s[alive], v[alive], i[alive]
                    live = live[alive]
                    alive = np.ones(n_alive, dtype=bool)
            else:
                rows = live[alive]
                v_out[rows] = v[alive]
                i_out[rows] = i[alive]
                iters[rows] = int(max_iteration)
        return v_out, i_out, status, iters

    # -- results -------------------------------------------------------------------
    def voltages(self, sel, v_l: np.ndarray, i_l: np.ndarray) -> np.ndarray:
        """Complex bus voltages ``(k, nb)`` in ppc order (0 at buses not energised)."""
        k = len(v_l)
        v_o = _times(self.z_ol[sel], i_l)
        v_o += self.w_o[sel]
        parts = (v_l, v_o, np.broadcast_to(self._v_fixed, (k, len(self._v_fixed))))
        return np.concatenate(parts, axis=1)[:, self._bus_order]

    def slack_power(self, sel, v: np.ndarray, slack_cons: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
        """ext_grid P, Q (MW, Mvar) ``(k, n_ext_grid)``: ``V_s conj(Y_s V) + consumption``
        at the slack bus; 0 for ext_grids out of service."""
        i_s = np.einsum("bsk,bk->bs", self.y_slack[sel], v)
        s = self.v_slack * i_s.conj()
        s *= self.base_mva
        s += slack_cons
        if not self._eg_identity:
            on = self.ext_grid_slack >= 0
            out = np.zeros((len(v), len(self.ext_grid_slack)), dtype=np.complex128)
            out[:, on] = s[:, self.ext_grid_slack[on]]
            s = out
        return s.real, s.imag

    def flows(self, sel, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Branch power at the from bus (MVA) and loading (%), ``(k, n_out)``."""
        return self.topo.flows(v, tuple(y[sel] for y in self.y_branch))
