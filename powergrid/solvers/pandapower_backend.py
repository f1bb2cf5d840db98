"""Reference backend: pandapower's own Newton-Raphson (``pp.runpp``).

Correctness over speed: every solve writes the current state into the private
net copy's tables and runs the full pandapower pipeline (about 20 ms a call).
``lightsim2grid=False`` is passed explicitly: pandapower 3 would otherwise use
lightsim2grid's solver silently whenever it is installed.
"""

from __future__ import annotations

import numpy as np
import pandapower as pp

from powergrid.solvers.base import (
    DEFAULT_MAX_ITERATION,
    DEFAULT_TOLERANCE_MVA,
    PowerFlowSolver,
)

try:  # numba makes pandapower's matrix building faster; optional
    import numba  # noqa: F401

    _NUMBA = True
except ImportError:  # pragma: no cover - numba is installed in the project venv
    _NUMBA = False


def _nan0(values: np.ndarray) -> np.ndarray:
    """``values`` with nan replaced by 0.0 (inf is kept)."""
    return np.where(np.isnan(values), 0.0, values)


class PandapowerSolver(PowerFlowSolver):
    """pandapower ``runpp`` on a private copy of the net (the reference backend)."""

    name = "pandapower"

    def __init__(
        self,
        net: pp.pandapowerNet,
        max_iteration: int = DEFAULT_MAX_ITERATION,
        tolerance_mva: float = DEFAULT_TOLERANCE_MVA,
    ) -> None:
        super().__init__(net, max_iteration, tolerance_mva)
        # warm start from the last results only while the topology is unchanged
        self._warm = False

    def reset(self) -> None:
        """Back to the construction state; the next solve starts from pandapower's init."""
        super().reset()
        self._warm = False

    def set_switch(self, positions: np.ndarray, closed: np.ndarray) -> None:
        """Open or close switches (the next solve starts from pandapower's DC init)."""
        super().set_switch(positions, closed)
        self._warm = False

    def solve(self) -> bool:
        """Run ``pp.runpp`` (numba, no lightsim2grid) and read the ``res_*`` tables."""
        self._write_state_to_net()
        net = self.net
        # warm start from the last results; if that fails (or there are none),
        # pandapower's default DC initialisation -- the fast backend does the same
        inits = ("results", "auto") if self._warm else ("auto",)
        for init in inits:
            try:
                pp.runpp(
                    net,
                    algorithm="nr",
                    init=init,
                    max_iteration=self.max_iteration,
                    tolerance_mva=self.tolerance_mva,
                    numba=_NUMBA,
                    lightsim2grid=False,
                )
                break
            except pp.LoadflowNotConverged:
                continue
        else:
            self.converged = False
            self._warm = False
            self._set_results_nan()
            return False
        self.converged = True
        self._warm = True
        self.vm_pu[:] = net.res_bus["vm_pu"].to_numpy()
        self.va_degree[:] = net.res_bus["va_degree"].to_numpy()
        # a branch without an energised end reads nan in pandapower: no current flows
        self.line_loading_percent[:] = _nan0(net.res_line["loading_percent"].to_numpy())
        self.line_p_from_mw[:] = _nan0(net.res_line["p_from_mw"].to_numpy())
        self.line_q_from_mvar[:] = _nan0(net.res_line["q_from_mvar"].to_numpy())
        self.trafo_loading_percent[:] = _nan0(net.res_trafo["loading_percent"].to_numpy())
        self.trafo_p_hv_mw[:] = _nan0(net.res_trafo["p_hv_mw"].to_numpy())
        self.trafo_q_hv_mvar[:] = _nan0(net.res_trafo["q_hv_mvar"].to_numpy())
        self.ext_grid_p_mw[:] = _nan0(net.res_ext_grid["p_mw"].to_numpy())
        self.ext_grid_q_mvar[:] = _nan0(net.res_ext_grid["q_mvar"].to_numpy())
        return True
