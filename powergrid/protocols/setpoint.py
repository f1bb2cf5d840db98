"""Setpoint: split a coordinator's single power command into device setpoints.

A coordinator's action is one total (e.g. active power in MW that its
subordinates' flexible devices should deliver). :func:`split_setpoint` turns it
into one setpoint per device, each within its ``[p_min, p_max]``.

Rule (exact, vectorised):

* **Outside the achievable range.** If ``total <= sum(p_min)`` every device is
  at ``p_min``; if ``total >= sum(p_max)`` every device is at ``p_max`` (each
  at the bound nearest to the total). The shortfall is
  ``total - result.sum()``.
* **Inside.** Start from a base point — ``p_min`` (default) or the devices'
  current outputs ``p_ref_mw`` clipped to their range — and move by
  ``delta = total - sum(base)``. Each device's *headroom* in that direction is
  ``p_max - base`` (delta > 0) or ``base - p_min`` (delta < 0).

  - Without ``weights`` the delta is split in proportion to headroom: every
    device moves the same fraction ``|delta| / sum(headroom)`` of its headroom
    (so, from ``p_min``, all devices sit at the same fraction of their range).
  - With ``weights`` (>= 0) the delta is split in proportion to the weights,
    water-filling: device ``i`` moves ``min(headroom_i, w_i * t)`` with the
    one ``t`` that makes the sum exact. Devices that reach their headroom stay
    there and the rest share the remainder, still in proportion to their
    weights. Zero-weight devices move only once every positive-weight device is
    saturated, then in proportion to their headroom.

The result sums to ``total`` up to floating-point rounding whenever
``sum(p_min) <= total <= sum(p_max)``. Negative powers are fine (an ESS's
``p_min`` is its charging limit); signs follow the device convention.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def achievable_range(p_min_mw: ArrayLike, p_max_mw: ArrayLike) -> tuple[float, float]:
    """``(sum(p_min_mw), sum(p_max_mw))`` in MW: the totals a split can deliver."""
    return float(np.sum(p_min_mw)), float(np.sum(p_max_mw))


def _water_fill(amount: float, caps: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Allocate ``amount >= 0`` as ``min(caps, weights * t)``; ``t`` solves ``sum = amount``.

    Only entries with ``weights > 0`` receive anything; if their caps sum to
    less than ``amount`` they are all saturated.

    The level ``t`` itself is never formed: weights may span more than the
    float range (a subnormal next to a normal one), where ``t = c / w``
    overflows to ``inf`` though the share ``w * t`` it stands for is finite.
    Instead, each pass shares what the saturated entries left among the rest in
    proportion to their weights, as ratios ``w_i / sum(w)`` in ``[0, 1]`` of
    weights rescaled (exactly, by a power of two) so that the largest is in
    ``[0.5, 1)``; every entry whose share exceeds its cap is saturated (it is
    saturated at the true level too, which is only higher), and the rest are
    shared again. At most one pass per entry.
    """
    out = np.zeros_like(caps)
    active = np.flatnonzero((weights > 0) & (caps > 0))
    if amount <= 0 or active.size == 0:
        return out
    c, w = caps[active], weights[active]
    if amount >= c.sum():
        out[active] = c
        return out
    share = np.zeros_like(c)
    filling = np.ones(c.size, dtype=bool)
    remaining = amount
    while remaining > 0 and filling.any():
        idx = np.flatnonzero(filling)
        w_f = np.ldexp(w[idx], -np.frexp(w[idx].max())[1])  # largest in [0.5, 1): no overflow
        level = remaining * (w_f / w_f.sum())
        over = level > c[idx]
        if not over.any():
            share[idx] = level
            break
        full = idx[over]
        share[full] = c[full]
        filling[full] = False
        remaining = amount - c[~filling].sum()
    out[active] = share
    return out


def split_setpoint(total_mw: float, p_min_mw: ArrayLike, p_max_mw: ArrayLike,
                   weights: ArrayLike | None = None,
                   p_ref_mw: ArrayLike | None = None) -> np.ndarray:
    """Split ``total_mw`` (MW) into per-device setpoints (MW) within ``[p_min_mw, p_max_mw]``.

    ``weights`` (>= 0, broadcast to the devices) replace the default split in
    proportion to headroom; ``p_ref_mw`` (MW, e.g. the current outputs) is the
    point the split moves from instead of ``p_min_mw``. See the module
    docstring for the rule. Raises ``ValueError`` on ``p_min > p_max``,
    negative or non-finite weights, or a non-finite total.
    """
    p_min = np.atleast_1d(np.asarray(p_min_mw, dtype=float))
    p_max = np.atleast_1d(np.asarray(p_max_mw, dtype=float))
    p_min, p_max = np.broadcast_arrays(p_min, p_max)
    p_min, p_max = p_min.astype(float), p_max.astype(float)
    total = float(total_mw)
    if p_min.ndim != 1:
        raise ValueError("split_setpoint expects 1-D bound arrays (one entry per device)")
    if not np.isfinite(total):
        raise ValueError(f"total_mw must be finite, got {total_mw!r}")
    if np.any(p_min > p_max):
        raise ValueError("split_setpoint: p_min_mw > p_max_mw for some device")
    if p_min.size == 0:
        return p_min.copy()
    lo, hi = p_min.sum(), p_max.sum()
    if total <= lo:
        return p_min.copy()
    if total >= hi:
        return p_max.copy()

    base = p_min.copy() if p_ref_mw is None else np.clip(
        np.broadcast_to(np.asarray(p_ref_mw, dtype=float), p_min.shape), p_min, p_max)
    delta = total - base.sum()
    if delta == 0:
        return base
    up = delta > 0
    headroom = (p_max - base) if up else (base - p_min)
    amount = abs(delta)
    if weights is None:
        move = headroom * (amount / headroom.sum())
    else:
        w = np.broadcast_to(np.asarray(weights, dtype=float), p_min.shape)
        if not np.all(np.isfinite(w)) or np.any(w < 0):
            raise ValueError("split_setpoint: weights must be finite and >= 0")
        move = _water_fill(amount, headroom, w)
        rest = amount - move.sum()
        if rest > 0:  # positive-weight devices saturated: zero-weight ones take the rest
            spare = np.where(w > 0, 0.0, headroom)
            if spare.sum() > 0:
                move = move + spare * min(1.0, rest / spare.sum())
    return np.clip(base + move if up else base - move, p_min, p_max)
