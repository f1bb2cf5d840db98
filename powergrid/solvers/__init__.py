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

import pandapower as pp

from powergrid.solvers.base import PowerFlowSolver, positions
from powergrid.solvers.batched import BatchedSolver
from powergrid.solvers.lightsim_backend import LightsimSolver
from powergrid.solvers.pandapower_backend import PandapowerSolver

#: backend name -> class
SOLVERS: dict[str, type[PowerFlowSolver]] = {
    LightsimSolver.name: LightsimSolver,
    PandapowerSolver.name: PandapowerSolver,
}


def make_solver(net: pp.pandapowerNet, name: str = "lightsim2grid", **options) -> PowerFlowSolver:
    """Build the backend ``name`` on a private copy of ``net``.

    ``options`` go to the backend (``max_iteration``, ``tolerance_mva``; the
    lightsim2grid backend also takes ``max_topologies``). Raises
    ``ValueError`` for an unknown name.
    """
    try:
        cls = SOLVERS[name]
    except KeyError:
        valid = ", ".join(sorted(SOLVERS))
        raise ValueError(f"unknown solver {name!r}; valid: {valid}") from None
    return cls(net, **options)


__all__ = ["SOLVERS", "BatchedSolver", "LightsimSolver", "PandapowerSolver", "PowerFlowSolver",
           "make_solver", "positions"]
