"""The point of common coupling (PCC): energy bought from and sold to the grid."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from powergrid.costs import energy_cost
from powergrid.devices.base import Device, Fleet, FleetOutput, State, require_element
from powergrid.safety import over_rating

PCC_ELEMENTS = ("ext_grid", "trafo", "line")


@dataclass(kw_only=True)
class Grid(Device):
    """Where a (micro)grid meets the upstream grid, and the energy bill there.

    =====================  =====  ========================================================
    parameter              unit   meaning
    =====================  =====  ========================================================
    ``element``            --     what measures the exchange: ``"ext_grid"`` (the slack),
                                  ``"trafo"`` (power into its HV side) or ``"line"``
                                  (power into its from end)
    ``element_name``       --     that element's name (default: the first ext_grid)
    ``sell_discount``      --     export is paid ``price * sell_discount``
    ``sn_mva``             MVA    exchange limit (safety term ``pcc_rating``)
    ``internal``           --     a bill between two parties of the simulated system (a
                                  microgrid paying its DSO): it is each party's cost, but
                                  not the system's, which pays only at its external PCCs
    =====================  =====  ========================================================

    Exogenous inputs: ``p_mw`` (import > 0), ``q_mvar`` (measured by the grid)
    and ``price`` ($/MWh). No controls. Cost term ``energy``: import at
    ``price``, export at ``price * sell_discount``.
    """

    element: str = "ext_grid"
    element_name: str | None = None
    sell_discount: float = 1.0
    sn_mva: float | None = None
    internal: bool = False

    def __post_init__(self) -> None:
        if self.element not in PCC_ELEMENTS:
            raise ValueError(f"grid {self.name!r}: element must be one of {PCC_ELEMENTS},"
                             f" not {self.element!r}")

    @property
    def ELEMENT(self) -> str:  # type: ignore[override]  # noqa: N802
        return self.element

    @classmethod
    def fleet_class(cls) -> type[Fleet]:
        return GridFleet

    def write_to_net(self, net: Any) -> int:
        """Index of the measuring element (nothing is created)."""
        if self.element_name is None:
            if self.element != "ext_grid" or len(net.ext_grid) == 0:
                raise ValueError(f"grid {self.name!r}: element_name is required for"
                                 f" {self.element!r}")
            return int(net.ext_grid.index[0])
        return require_element(net, self.element, self.element_name, self.name)


class GridFleet(Fleet):
    """PCCs settled together. State: ``p_mw``, ``q_mvar``, ``price``."""

    EXOGENOUS = ("p_mw", "q_mvar", "price")

    def __init__(self, devices: list[Grid]) -> None:
        super().__init__(devices)
        self.sell_discount = self.param("sell_discount")
        self.sn = self.param("sn_mva")
        self.internal = np.array([d.internal for d in devices], dtype=bool)
        self._tiles: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def _tiled(self, copies: int) -> tuple[np.ndarray, np.ndarray]:
        """``sell_discount`` and ``sn_mva`` for ``copies`` copies (rows copy-major)."""
        tiles = self._tiles.get(copies)
        if tiles is None:
            tiles = self._tiles[copies] = (np.tile(self.sell_discount, copies),
                                           np.tile(self.sn, copies))
        return tiles

    def initial_state(self, rng: np.random.Generator | None = None) -> State:
        z = np.zeros(self.n)
        return {"p_mw": z, "q_mvar": z.copy(), "price": z.copy()}

    def default_controls(self, state: State) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros((self.n, 0)), np.zeros((self.n, 0), np.int64)

    def step(self, state: State, c: np.ndarray, d: np.ndarray,
             exog: dict[str, np.ndarray], dt_h: float, copies: int = 1
             ) -> tuple[State, FleetOutput]:
        """Settle the exchange of ``copies`` copies of these PCCs (rows copy-major)."""
        p, q, price = (np.asarray(exog[k], dtype=float) for k in self.EXOGENOUS)
        discount, sn = self._tiled(copies)
        cost_terms = {"energy": energy_cost(p, price, discount, dt_h)}
        safety_terms = {"pcc_rating": over_rating(p, q, sn)}
        return {"p_mw": p, "q_mvar": q, "price": price}, FleetOutput(p, q, cost_terms,
                                                                      safety_terms)
