"""Power-flow backends: fast (lightsim2grid) and reference (pandapower ``runpp``).

>>> solver = make_solver(net)                      # lightsim2grid
>>> solver.set_load(positions(net.load, [3]), [0.2], [0.05])
>>> solver.solve()
True
>>> solver.vm_pu                                   # per net.bus row, p.u.

See :mod:`powergrid.solvers.base` for the interface and its conventions.
:class:`BatchedSolver` solves N copies of one net together (batched environments).
"""

from __future__ import annotations

from powergrid.solvers.base import PowerFlowSolver, positions
from powergrid.solvers.batched import BatchedSolver
from powergrid.solvers.lightsim_backend import LightsimSolver
from powergrid.solvers.pandapower_backend import PandapowerSolver
from powergrid.solvers.registry import SOLVERS, make_solver

__all__ = ["SOLVERS", "BatchedSolver", "LightsimSolver", "PandapowerSolver", "PowerFlowSolver",
           "make_solver", "positions"]
