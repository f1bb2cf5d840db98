"""Cost formulas, one place each.

Every function works on numpy arrays (one entry per device) and on plain
floats alike; arguments broadcast. Money is in dollars ($), power in MW,
energy in MWh, time in hours.

Rates (``$/h``) are turned into money for one step by multiplying by the step
length ``dt_h``; the per-event costs (ramping, switching, tap wear) are already
money per step.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def quadratic_cost(p_mw: ArrayLike, a: ArrayLike, b: ArrayLike, c: ArrayLike) -> np.ndarray:
    """Fuel cost rate ``a*P**2 + b*P + c`` in $/h.

    ``a`` in $/(MW**2 h), ``b`` in $/MWh, ``c`` in $/h (no-load cost).
    """
    p = np.asarray(p_mw, dtype=float)
    return (np.asarray(a) * p + np.asarray(b)) * p + np.asarray(c)


def polynomial_cost(p_mw: ArrayLike, coefs: ArrayLike) -> np.ndarray:
    """Cost rate ``sum_k coefs[..., k] * P**k`` in $/h (ascending coefficients).

    ``coefs`` has shape ``(..., K)``; coefficient ``k`` is in $/(MW**k h).
    """
    p = np.asarray(p_mw, dtype=float)
    coefs = np.asarray(coefs, dtype=float)
    out = np.zeros(np.broadcast_shapes(p.shape, coefs.shape[:-1]))
    for k in range(coefs.shape[-1] - 1, -1, -1):  # Horner
        out = out * p + coefs[..., k]
    return out


def piecewise_linear_cost(p_mw: ArrayLike, p_points_mw: ArrayLike,
                          cost_points: ArrayLike) -> np.ndarray:
    """Cost rate in $/h by linear interpolation between knots.

    ``p_points_mw`` (MW, increasing) and ``cost_points`` ($/h) have shape
    ``(..., K)`` with ``K >= 2``; below the first and above the last knot the
    end segments are extended.
    """
    p = np.asarray(p_mw, dtype=float)
    xs = np.asarray(p_points_mw, dtype=float)
    ys = np.asarray(cost_points, dtype=float)
    if xs.shape[-1] < 2 or xs.shape != ys.shape:
        raise ValueError("piecewise_linear_cost needs matching knot arrays with at least 2 knots")
    # segment index per entry: the last knot index k with xs[k] <= p, within [0, K-2]
    seg = np.clip((xs[..., 1:-1] <= p[..., None]).sum(axis=-1), 0, xs.shape[-1] - 2)
    x0 = np.take_along_axis(xs, seg[..., None], -1)[..., 0]
    x1 = np.take_along_axis(xs, seg[..., None] + 1, -1)[..., 0]
    y0 = np.take_along_axis(ys, seg[..., None], -1)[..., 0]
    y1 = np.take_along_axis(ys, seg[..., None] + 1, -1)[..., 0]
    return y0 + (y1 - y0) * (p - x0) / (x1 - x0)


def ramping_cost(delta_p_mw: ArrayLike, cost_up_per_mw: ArrayLike,
                 cost_down_per_mw: ArrayLike) -> np.ndarray:
    """Cost in $ of changing output by ``delta_p_mw`` (MW) in one step.

    ``cost_up_per_mw`` and ``cost_down_per_mw`` are in $/MW of change.
    """
    d = np.asarray(delta_p_mw, dtype=float)
    return np.asarray(cost_up_per_mw) * np.maximum(d, 0.0) + np.asarray(
        cost_down_per_mw) * np.maximum(-d, 0.0)


def switching_cost(changed: ArrayLike, cost_per_operation: ArrayLike) -> np.ndarray:
    """Cost in $ of switching operations: ``cost_per_operation`` ($) where ``changed``."""
    return np.where(np.asarray(changed, dtype=bool), np.asarray(cost_per_operation, float), 0.0)


def tap_change_cost(delta_steps: ArrayLike, cost_per_step: ArrayLike) -> np.ndarray:
    """Wear cost in $ of moving a tap changer or a capacitor bank by ``delta_steps`` steps.

    ``cost_per_step`` is in $ per step moved.
    """
    return np.abs(np.asarray(delta_steps, dtype=float)) * np.asarray(cost_per_step, dtype=float)


def energy_cost(p_import_mw: ArrayLike, price_per_mwh: ArrayLike, sell_discount: ArrayLike,
                dt_h: float) -> np.ndarray:
    """Energy settlement at a point of common coupling, in $ over ``dt_h`` hours.

    Import (``p_import_mw > 0``) is paid at ``price_per_mwh`` ($/MWh); export
    (``p_import_mw < 0``) earns ``price_per_mwh * sell_discount`` (the result is
    then negative).
    """
    p = np.asarray(p_import_mw, dtype=float)
    price = np.asarray(price_per_mwh, dtype=float)
    rate = np.where(p > 0.0, price, price * np.asarray(sell_discount, dtype=float))
    return p * rate * dt_h


def throughput_cost(p_mw: ArrayLike, cost_per_mwh: ArrayLike, dt_h: float) -> np.ndarray:
    """Degradation cost in $ of moving ``|p_mw|`` MW for ``dt_h`` hours at ``cost_per_mwh``."""
    return np.abs(np.asarray(p_mw, dtype=float)) * np.asarray(cost_per_mwh, dtype=float) * dt_h
