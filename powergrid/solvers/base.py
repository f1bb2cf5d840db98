"""The power-flow backend interface.

A backend is bound to one pandapower net when it is built and keeps its own
numeric model of it. Between solves the caller changes what changes in a
co-simulation step -- injections, transformer taps, shunt steps, switch
states -- with the ``set_*`` methods, then calls :meth:`PowerFlowSolver.solve`.
The net's DataFrames are never read or written in the step loop.

Conventions
-----------
* Every ``positions`` argument holds *row positions* (0 .. n-1) into the
  corresponding pandapower table (``net.load``, ``net.sgen``, ...), not
  pandapower index labels. :func:`positions` maps labels to positions once.
* Powers follow pandapower's sign conventions: load and storage ``p_mw`` are
  consumption (storage ``p_mw > 0`` charges), sgen ``p_mw`` is generation.
  Values passed in are the effective injections (any ``scaling`` column of the
  net is applied once at construction to the initial values and then ignored).
* Result arrays are in table row order. Buses that are not energised (out of
  service, or in an island without a slack) read ``nan`` in ``vm_pu`` and
  ``va_degree``; lines and transformers that are out of service or open read
  ``0.0`` loading and flow.
* ``solve`` never raises because a power flow did not converge: it returns
  ``False``, sets ``converged`` and leaves the result arrays at ``nan``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np
import pandapower as pp


def positions(table, labels: Sequence[int] | np.ndarray) -> np.ndarray:
    """Row positions of pandapower index ``labels`` in ``table`` (a DataFrame).

    Raises ``KeyError`` naming the first label that is not in the table.
    """
    idx = table.index.get_indexer(np.asarray(labels))
    if (idx < 0).any():
        missing = np.asarray(labels)[idx < 0][0]
        raise KeyError(f"index {missing!r} not in table")
    return idx.astype(np.intp)


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
    """

    #: short name used in configs (``solver="lightsim2grid"``)
    name: str = ""

    def __init__(self, net: pp.pandapowerNet) -> None:
        self.net = net
        self.converged = False

    # -- updates ---------------------------------------------------------
    @abstractmethod
    def set_load(self, positions: np.ndarray, p_mw: np.ndarray, q_mvar: np.ndarray) -> None:
        """Set the consumption of the loads at ``positions`` (MW, Mvar)."""

    @abstractmethod
    def set_sgen(self, positions: np.ndarray, p_mw: np.ndarray, q_mvar: np.ndarray) -> None:
        """Set the generation of the static generators at ``positions`` (MW, Mvar)."""

    @abstractmethod
    def set_storage(self, positions: np.ndarray, p_mw: np.ndarray, q_mvar: np.ndarray) -> None:
        """Set the storage units at ``positions`` (MW, Mvar; ``p_mw > 0`` charges)."""

    @abstractmethod
    def set_trafo_tap(self, positions: np.ndarray, tap_pos: np.ndarray) -> None:
        """Set the tap positions (integers within the trafo's tap range)."""

    @abstractmethod
    def set_shunt_step(self, positions: np.ndarray, step: np.ndarray) -> None:
        """Set the switched steps of the shunts (0 .. ``max_step``)."""

    @abstractmethod
    def set_switch(self, positions: np.ndarray, closed: np.ndarray) -> None:
        """Open (``False``) or close (``True``) the switches at ``positions``."""

    # -- solve -------------------------------------------------------------
    @abstractmethod
    def solve(self) -> bool:
        """Run one AC power flow; return and store ``converged``."""
