"""The interface the grid model solves through, for one copy and for many.

:class:`~powergrid.solvers.batched.BatchedSolver` (N copies, Z-bus in numpy) and
:class:`~powergrid.solvers.one_copy.OneCopySolver` (lightsim2grid or pandapower as a
batch of one) both are a :class:`BatchSolver`: ``(N, n)`` input arrays the caller writes
in place, :meth:`~BatchSolver.solve` of some or all copies, ``(N, n)`` result arrays
(``nan`` for a copy that did not converge), per-copy ``converged`` and
``fallback_used``. Conventions (row positions, signs, units) as
:mod:`powergrid.solvers.base`.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class BatchSolver:
    """Declares the arrays and methods of a batch of power flows (no behaviour)."""

    n_copies: int
    net: Any
    # inputs, (N, n_table): STATE_ARRAYS
    load_p_mw: np.ndarray
    load_q_mvar: np.ndarray
    sgen_p_mw: np.ndarray
    sgen_q_mvar: np.ndarray
    storage_p_mw: np.ndarray
    storage_q_mvar: np.ndarray
    trafo_tap_pos: np.ndarray
    shunt_step: np.ndarray
    switch_closed: np.ndarray
    # results, (N, n_table): RESULT_ARRAYS
    vm_pu: np.ndarray
    va_degree: np.ndarray
    line_loading_percent: np.ndarray
    line_p_from_mw: np.ndarray
    line_q_from_mvar: np.ndarray
    trafo_loading_percent: np.ndarray
    trafo_p_hv_mw: np.ndarray
    trafo_q_hv_mvar: np.ndarray
    ext_grid_p_mw: np.ndarray
    ext_grid_q_mvar: np.ndarray
    converged: np.ndarray
    fallback_used: np.ndarray

    def solve(self, copies: Any = None) -> np.ndarray:
        """Solve ``copies`` (None: all); the converged flags ``(N,)``."""
        raise NotImplementedError

    def reset(self, copies: Any = None) -> None:
        """``copies`` back to the construction state (their next solve starts cold)."""
        raise NotImplementedError
