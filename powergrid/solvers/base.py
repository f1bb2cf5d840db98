"""The power-flow backend interface.

A backend is bound to one pandapower net when it is built and keeps its own
numeric model of it (built from a private deep copy: the caller's net is never
touched). Between solves the caller changes what changes in a co-simulation
step -- injections, transformer taps, shunt steps, switch states -- with the
``set_*`` methods, then calls :meth:`PowerFlowSolver.solve`. The caller's
DataFrames are never read or written in the step loop.

Conventions
-----------
* Every ``positions`` argument holds *row positions* (0 .. n-1) into the
  corresponding pandapower table (``net.load``, ``net.sgen``, ...), not
  pandapower index labels. :func:`positions` maps labels to positions once.
* Powers follow pandapower's sign conventions: load and storage ``p_mw`` are
  consumption (storage ``p_mw > 0`` charges), sgen ``p_mw`` is generation.
  Values passed in are the effective injections (any ``scaling`` column of the
  net is applied once at construction to the initial values and then ignored).
* Elements that are out of service in the net stay out of service: values set
  for them are stored but have no effect.
* Result arrays are in table row order. Buses that are not energised (out of
  service, or in an island without a slack) read ``nan`` in ``vm_pu`` and
  ``va_degree``. Lines and transformers that are out of service, or have no
  energised end, read ``0.0`` loading and flow. A branch opened at one end by a
  switch still carries its charging current from the other end (pandapower's
  model), so its loading is small but not zero.
* ``solve`` never raises because a power flow did not converge: it returns
  ``False``, sets ``converged`` and leaves the result arrays at ``nan``.
* The result arrays are made once and rewritten in place by every solve (a view of
  one stays current; :class:`~powergrid.solvers.one_copy.OneCopySolver` relies on it).
* The current state (what was last set, or the net's initial values) is
  readable in the ``load_p_mw``, ``load_q_mvar``, ``sgen_p_mw``,
  ``sgen_q_mvar``, ``storage_p_mw``, ``storage_q_mvar``, ``trafo_tap_pos``,
  ``shunt_step`` and ``switch_closed`` arrays (treat them as read-only).
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np
import pandapower as pp

#: the power-flow options shared by both backends (pandapower's ``runpp`` defaults)
DEFAULT_MAX_ITERATION = 10
DEFAULT_TOLERANCE_MVA = 1e-8


def positions(table, labels: Sequence[int] | np.ndarray) -> np.ndarray:
    """Row positions of pandapower index ``labels`` in ``table`` (a DataFrame).

    Raises ``KeyError`` naming the first label that is not in the table.
    """
    idx = table.index.get_indexer(np.asarray(labels))
    if (idx < 0).any():
        missing = np.asarray(labels)[idx < 0][0]
        raise KeyError(f"index {missing!r} not in table")
    return idx.astype(np.intp)


def effective_column(table, column: str) -> np.ndarray:
    """``table[column] * table.scaling`` as float64 (a missing or nan scaling counts as 1)."""
    values = table[column].to_numpy(dtype=np.float64, copy=True)
    if "scaling" in table:
        scaling = table["scaling"].to_numpy(dtype=np.float64, copy=True)
        scaling[~np.isfinite(scaling)] = 1.0
        values *= scaling
    return values


def _integers_within(values: np.ndarray, positions: np.ndarray, low: np.ndarray | int,
                     high: np.ndarray) -> np.ndarray | None:
    """``values`` as an array of the shape of ``positions`` if all are integers within
    ``low .. high``, else None (one check for a step's few taps or steps)."""
    v = np.asarray(values)
    if v.shape != np.shape(positions):
        v = np.broadcast_to(v, np.shape(positions))
    bad = (v < low) | (v > high)
    if v.dtype.kind == "f":
        bad |= v != np.round(v)
    return None if bad.any() else v


def _int_column(table, column: str, default: float) -> np.ndarray:
    """An integer-valued column as float64 with nan replaced by ``default``."""
    if column not in table or len(table) == 0:
        return np.full(len(table), default, dtype=np.float64)
    values = table[column].to_numpy(dtype=np.float64, copy=True, na_value=np.nan)
    values[~np.isfinite(values)] = default
    return values


#: the input state a backend holds between solves (restored by ``reset``)
_STATE_ARRAYS = ("load_p_mw", "load_q_mvar", "sgen_p_mw", "sgen_q_mvar", "storage_p_mw",
                 "storage_q_mvar", "trafo_tap_pos", "shunt_step", "switch_closed")


class PowerFlowSolver(ABC):
    """One AC power-flow backend bound to one pandapower net.

    Attributes after :meth:`solve` (numpy arrays, table row order):

    ============================  =======  ==========================================
    name                          unit     meaning
    ============================  =======  ==========================================
    ``converged``                 bool     the last solve converged
    ``vm_pu``                     p.u.     bus voltage magnitude, per ``net.bus`` row
    ``va_degree``                 degree   bus voltage angle, per ``net.bus`` row
    ``line_loading_percent``      %        pandapower's line loading, per ``net.line``
    ``line_p_from_mw``            MW       active power into the line at its from bus
    ``line_q_from_mvar``          Mvar     reactive power into the line at its from bus
    ``trafo_loading_percent``     %        pandapower's trafo loading, per ``net.trafo``
    ``trafo_p_hv_mw``             MW       active power into the trafo at its HV side
    ``trafo_q_hv_mvar``           Mvar     reactive power into the trafo at its HV side
    ``ext_grid_p_mw``             MW       slack active power (import > 0)
    ``ext_grid_q_mvar``           Mvar     slack reactive power
    ============================  =======  ==========================================

    Loadings follow pandapower exactly: a line's is ``max(i_from_ka, i_to_ka) /
    (max_i_ka * df * parallel) * 100``; a transformer's (``trafo_loading="current"``)
    is ``max(i_hv_ka * vn_hv_kv, i_lv_ka * vn_lv_kv) * sqrt(3) / sn_mva / parallel
    / df * 100``.

    Subclasses implement :meth:`solve`; they may extend the ``set_*`` methods
    (call ``super()`` first, which validates and stores the values).
    """

    #: short name used in configs (``solver="lightsim2grid"``)
    name: str = ""

    def __init__(
        self,
        net: pp.pandapowerNet,
        max_iteration: int = DEFAULT_MAX_ITERATION,
        tolerance_mva: float = DEFAULT_TOLERANCE_MVA,
    ) -> None:
        self.net = copy.deepcopy(net)
        self.max_iteration = int(max_iteration)
        self.tolerance_mva = float(tolerance_mva)
        self.converged = False
        net = self.net
        # -- state, with the scaling folded into the values once
        self.load_p_mw = effective_column(net.load, "p_mw")
        self.load_q_mvar = effective_column(net.load, "q_mvar")
        self.sgen_p_mw = effective_column(net.sgen, "p_mw")
        self.sgen_q_mvar = effective_column(net.sgen, "q_mvar")
        self.storage_p_mw = effective_column(net.storage, "p_mw")
        self.storage_q_mvar = effective_column(net.storage, "q_mvar")
        for table, p, q in (
            (net.load, self.load_p_mw, self.load_q_mvar),
            (net.sgen, self.sgen_p_mw, self.sgen_q_mvar),
            (net.storage, self.storage_p_mw, self.storage_q_mvar),
        ):
            table["p_mw"] = p.copy()
            table["q_mvar"] = q.copy()
            if "scaling" in table:
                table["scaling"] = 1.0
        tap_pos = _int_column(net.trafo, "tap_pos", 0.0)
        self._tap_pos_initial = _int_column(net.trafo, "tap_pos", np.nan)
        self.trafo_tap_min = _int_column(net.trafo, "tap_min", np.nan)
        self.trafo_tap_max = _int_column(net.trafo, "tap_max", np.nan)
        no_range = ~(np.isfinite(self.trafo_tap_min) & np.isfinite(self.trafo_tap_max))
        self._has_tap_range = ~no_range
        self.trafo_tap_min[no_range] = tap_pos[no_range]
        self.trafo_tap_max[no_range] = tap_pos[no_range]
        self.trafo_tap_pos = tap_pos.astype(np.int64)
        self.trafo_tap_min = self.trafo_tap_min.astype(np.int64)
        self.trafo_tap_max = self.trafo_tap_max.astype(np.int64)
        self.shunt_step = _int_column(net.shunt, "step", 1.0).astype(np.int64)
        self.shunt_max_step = _int_column(net.shunt, "max_step", 1.0).astype(np.int64)
        self.switch_closed = net.switch["closed"].to_numpy(dtype=bool, copy=True)
        self._initial_state = {name: getattr(self, name).copy() for name in _STATE_ARRAYS}
        # -- results
        nan = np.nan
        self.vm_pu = np.full(len(net.bus), nan)
        self.va_degree = np.full(len(net.bus), nan)
        self.line_loading_percent = np.full(len(net.line), nan)
        self.line_p_from_mw = np.full(len(net.line), nan)
        self.line_q_from_mvar = np.full(len(net.line), nan)
        self.trafo_loading_percent = np.full(len(net.trafo), nan)
        self.trafo_p_hv_mw = np.full(len(net.trafo), nan)
        self.trafo_q_hv_mvar = np.full(len(net.trafo), nan)
        self.ext_grid_p_mw = np.full(len(net.ext_grid), nan)
        self.ext_grid_q_mvar = np.full(len(net.ext_grid), nan)

    def reset(self) -> None:
        """Return to the state at construction (every injection, tap, step and switch)
        and forget the last solution, so the next solve starts as a fresh backend's
        would. Cheap: nothing is rebuilt."""
        for name, value in self._initial_state.items():
            getattr(self, name)[:] = value
        self.converged = False
        self._set_results_nan()

    def _write_state_to_net(self) -> None:
        """Copy the state arrays into the private net copy's tables."""
        net = self.net
        net.load["p_mw"] = self.load_p_mw
        net.load["q_mvar"] = self.load_q_mvar
        net.sgen["p_mw"] = self.sgen_p_mw
        net.sgen["q_mvar"] = self.sgen_q_mvar
        net.storage["p_mw"] = self.storage_p_mw
        net.storage["q_mvar"] = self.storage_q_mvar
        if len(net.trafo):   # trafos without a tap range keep their value (maybe nan)
            tap = np.where(self._has_tap_range, self.trafo_tap_pos, self._tap_pos_initial)
            net.trafo["tap_pos"] = tap.astype(net.trafo["tap_pos"].dtype)
        if len(net.shunt):
            net.shunt["step"] = self.shunt_step.astype(net.shunt["step"].dtype)
        net.switch["closed"] = self.switch_closed

    # -- results helpers ------------------------------------------------------
    def _result_arrays(self) -> tuple[np.ndarray, ...]:
        return (
            self.vm_pu, self.va_degree,
            self.line_loading_percent, self.line_p_from_mw, self.line_q_from_mvar,
            self.trafo_loading_percent, self.trafo_p_hv_mw, self.trafo_q_hv_mvar,
            self.ext_grid_p_mw, self.ext_grid_q_mvar,
        )

    def _set_results_nan(self) -> None:
        for array in self._result_arrays():
            array.fill(np.nan)

    # -- updates ---------------------------------------------------------
    def set_load(self, positions: np.ndarray, p_mw: np.ndarray, q_mvar: np.ndarray) -> None:
        """Set the consumption of the loads at ``positions`` (MW, Mvar)."""
        self.load_p_mw[positions] = p_mw
        self.load_q_mvar[positions] = q_mvar

    def set_sgen(self, positions: np.ndarray, p_mw: np.ndarray, q_mvar: np.ndarray) -> None:
        """Set the generation of the static generators at ``positions`` (MW, Mvar)."""
        self.sgen_p_mw[positions] = p_mw
        self.sgen_q_mvar[positions] = q_mvar

    def set_storage(self, positions: np.ndarray, p_mw: np.ndarray, q_mvar: np.ndarray) -> None:
        """Set the storage units at ``positions`` (MW, Mvar; ``p_mw > 0`` charges)."""
        self.storage_p_mw[positions] = p_mw
        self.storage_q_mvar[positions] = q_mvar

    def set_trafo_tap(self, positions: np.ndarray, tap_pos: np.ndarray) -> None:
        """Set the tap positions (integers within ``tap_min .. tap_max``).

        Raises ``ValueError`` for a position outside the range (a transformer
        without a tap range accepts only its initial position).
        """
        tap = _integers_within(tap_pos, positions, self.trafo_tap_min[positions],
                               self.trafo_tap_max[positions])
        if tap is None:
            raise ValueError(f"tap positions {tap_pos} outside the trafo tap range"
                             " (or not integers)")
        self.trafo_tap_pos[positions] = tap

    def set_shunt_step(self, positions: np.ndarray, step: np.ndarray) -> None:
        """Set the switched steps of the shunts (integers ``0 .. max_step``).

        Raises ``ValueError`` for a step outside the range.
        """
        st = _integers_within(step, positions, 0, self.shunt_max_step[positions])
        if st is None:
            raise ValueError(f"shunt steps {step} outside 0 .. max_step (or not integers)")
        self.shunt_step[positions] = st

    def set_switch(self, positions: np.ndarray, closed: np.ndarray) -> None:
        """Open (``False``) or close (``True``) the switches at ``positions``."""
        self.switch_closed[positions] = closed

    # -- solve -------------------------------------------------------------
    @abstractmethod
    def solve(self) -> bool:
        """Run one AC power flow; return and store ``converged``."""
