"""The single-copy power-flow backends by name, and :func:`make_solver`."""

from __future__ import annotations

from typing import Any

import pandapower as pp

from powergrid.solvers.base import PowerFlowSolver
from powergrid.solvers.lightsim_backend import LightsimSolver
from powergrid.solvers.pandapower_backend import PandapowerSolver

SOLVERS: dict[str, type[PowerFlowSolver]] = {
    LightsimSolver.name: LightsimSolver,
    PandapowerSolver.name: PandapowerSolver,
}


def make_solver(net: pp.pandapowerNet, name: str = "lightsim2grid",
                **options: Any) -> PowerFlowSolver:
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
