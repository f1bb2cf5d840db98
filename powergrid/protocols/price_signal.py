"""Price signal: a coordinator (DSO) sets the energy price its microgrids pay at their PCC.

The retail price is derived from the wholesale (market) price in one fixed order::

    price = clip(multiplier * market_price + adder, floor, cap)        [$/MWh]

A coordinator's action in ``[-1, 1]`` moves the adder within a symmetric band:
``adder = clip(action, -1, 1) * band_per_mwh``. Action 0 passes the market price
through unchanged. The price then enters each microgrid's PCC bill
(:func:`powergrid.costs.energy_cost`, i.e. the ``Grid`` device's ``price``
input): import is paid at ``price``, export earns ``price * sell_discount``.

All functions accept floats or arrays (one entry per microgrid) and broadcast;
they return a ``float`` when every input is a scalar, otherwise an array.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike


def _out(x: np.ndarray) -> float | np.ndarray:
    return float(x) if np.ndim(x) == 0 else x


def _check_bounds(floor: float | None, cap: float | None) -> None:
    if floor is not None and cap is not None and floor > cap:
        raise ValueError(f"price floor {floor} $/MWh is above the cap {cap} $/MWh")


def retail_price(market_price_per_mwh: ArrayLike, adder_per_mwh: ArrayLike = 0.0,
                 multiplier: ArrayLike = 1.0, floor: float | None = None,
                 cap: float | None = None) -> float | np.ndarray:
    """Retail price in $/MWh: ``clip(multiplier * market + adder, floor, cap)``.

    ``market_price_per_mwh`` and ``adder_per_mwh`` in $/MWh, ``multiplier``
    dimensionless; ``floor`` and ``cap`` in $/MWh (None = no bound). Market
    prices can be negative; the multiplier scales them as they are.
    """
    _check_bounds(floor, cap)
    price = np.asarray(multiplier, dtype=float) * np.asarray(market_price_per_mwh, dtype=float)
    price = price + np.asarray(adder_per_mwh, dtype=float)
    if floor is not None or cap is not None:
        price = np.clip(price, -np.inf if floor is None else floor,
                        np.inf if cap is None else cap)
    return _out(price)


@dataclass(frozen=True)
class Tariff:
    """How a coordinator turns the market price into its microgrids' retail price.

    ==================  ======  ==================================================
    field               unit    meaning
    ==================  ======  ==================================================
    ``adder_per_mwh``   $/MWh   added after scaling (network charge, incentive)
    ``multiplier``      --      scales the market price
    ``floor_per_mwh``   $/MWh   lowest retail price (None = unbounded)
    ``cap_per_mwh``     $/MWh   highest retail price (None = unbounded)
    ==================  ======  ==================================================
    """

    adder_per_mwh: float = 0.0
    multiplier: float = 1.0
    floor_per_mwh: float | None = None
    cap_per_mwh: float | None = None

    def __post_init__(self) -> None:
        _check_bounds(self.floor_per_mwh, self.cap_per_mwh)

    def price(self, market_price_per_mwh: ArrayLike) -> float | np.ndarray:
        """Retail price in $/MWh for ``market_price_per_mwh`` (see :func:`retail_price`)."""
        return retail_price(market_price_per_mwh, self.adder_per_mwh, self.multiplier,
                            self.floor_per_mwh, self.cap_per_mwh)


def _action(action: ArrayLike) -> np.ndarray:
    a = np.asarray(action, dtype=float)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"price action must be finite, got {action!r}")
    return np.clip(a, -1.0, 1.0)


def adder_from_action(action: ArrayLike, band_per_mwh: float) -> float | np.ndarray:
    """Adder in $/MWh: ``clip(action, -1, 1) * band_per_mwh`` (``band_per_mwh >= 0``)."""
    if band_per_mwh < 0:
        raise ValueError(f"band_per_mwh must be >= 0, got {band_per_mwh}")
    return _out(_action(action) * band_per_mwh)


def tariff_from_action(action: float, band_per_mwh: float, multiplier: float = 1.0,
                       floor_per_mwh: float | None = None,
                       cap_per_mwh: float | None = None) -> Tariff:
    """The :class:`Tariff` a scalar action in ``[-1, 1]`` selects (adder within the band)."""
    return Tariff(float(adder_from_action(action, band_per_mwh)), multiplier, floor_per_mwh,
                  cap_per_mwh)


def price_from_action(action: ArrayLike, market_price_per_mwh: ArrayLike, band_per_mwh: float,
                      multiplier: ArrayLike = 1.0, floor: float | None = None,
                      cap: float | None = None) -> float | np.ndarray:
    """Retail price in $/MWh set by a coordinator action in ``[-1, 1]``.

    ``price = clip(multiplier * market + clip(action, -1, 1) * band_per_mwh, floor, cap)``.
    Actions outside ``[-1, 1]`` are clipped; a non-finite action raises ``ValueError``.
    An array of actions gives one price per microgrid.
    """
    return retail_price(market_price_per_mwh, adder_from_action(action, band_per_mwh),
                        multiplier, floor, cap)
