"""One single-copy backend seen as a batch of one: :class:`OneCopySolver`.

The grid model (:class:`powergrid.gridmodel.BatchGridModel`) drives every power flow
through the batch interface of :class:`~powergrid.solvers.batched.BatchedSolver`:
``(N, n)`` input arrays written in place, :meth:`solve` of some or all copies, ``(N, n)``
result arrays. This adapter gives a :class:`~powergrid.solvers.base.PowerFlowSolver`
(lightsim2grid, pandapower) that interface with N = 1, so one copy and many run the
same code; only the backend differs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from powergrid.solvers.base import PowerFlowSolver
from powergrid.solvers.batch_interface import BatchSolver
from powergrid.solvers.batched import RESULT_ARRAYS, STATE_ARRAYS

#: the discrete inputs, pushed to the backend only when they changed (a new tap, step
#: or switch state costs the backend a model update; an unchanged one costs nothing)
_DISCRETE = (("trafo_tap_pos", "set_trafo_tap"), ("shunt_step", "set_shunt_step"),
             ("switch_closed", "set_switch"))


class OneCopySolver(BatchSolver):
    """``backend`` as a batch of one copy.

    Inputs: the ``(1, n)`` arrays of :data:`~powergrid.solvers.batched.STATE_ARRAYS`,
    written in place by the caller; :meth:`solve` hands them to the backend (injections
    every time, taps, steps and switches when they changed). Results: ``(1, n)`` views
    of the backend's result arrays; ``converged`` and ``fallback_used`` ``(1,)``.
    ``backend`` stays readable (its own arrays are the last state pushed).
    """

    n_copies = 1

    def __init__(self, backend: PowerFlowSolver) -> None:
        self.backend = backend
        self.net = backend.net
        for name in STATE_ARRAYS:
            setattr(self, name, getattr(backend, name).copy()[None])
        for name in RESULT_ARRAYS:  # views: a backend rewrites its results in place
            setattr(self, name, getattr(backend, name)[None])
        self.trafo_tap_min = backend.trafo_tap_min
        self.trafo_tap_max = backend.trafo_tap_max
        self.shunt_max_step = backend.shunt_max_step
        self.converged = np.zeros(1, dtype=bool)
        self.fallback_used = np.zeros(1, dtype=bool)
        self._positions = {name: np.arange(getattr(backend, name).shape[0])
                           for name in STATE_ARRAYS}

    def reset(self, copies: Any = None) -> None:
        """Back to the backend's construction state (the next solve starts cold)."""
        self.backend.reset()
        for name in STATE_ARRAYS:
            getattr(self, name)[0] = getattr(self.backend, name)
        self.converged[:] = False

    def solve(self, copies: Any = None) -> np.ndarray:
        """Push the inputs, run the backend's power flow; the converged flag ``(1,)``.
        ``copies`` (the batch interface's) may only be None or copy 0."""
        b = self.backend
        b.set_load(self._positions["load_p_mw"], self.load_p_mw[0], self.load_q_mvar[0])
        b.set_sgen(self._positions["sgen_p_mw"], self.sgen_p_mw[0], self.sgen_q_mvar[0])
        b.set_storage(self._positions["storage_p_mw"], self.storage_p_mw[0],
                      self.storage_q_mvar[0])
        for name, setter in _DISCRETE:
            wanted = getattr(self, name)[0]
            if (wanted != getattr(b, name)).any():
                getattr(b, setter)(self._positions[name], wanted)
        self.converged[0] = bool(b.solve())
        return self.converged
