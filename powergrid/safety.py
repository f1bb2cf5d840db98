"""Safety terms, one place each.

A safety term is a non-negative, dimensionless measure of how far an
operating point lies outside a limit, normalised by the limit so that terms of
different devices add up meaningfully (0 = inside the limit). All functions
work elementwise on numpy arrays and on floats.

Devices never realise a physically impossible setpoint: they reduce it to the
nearest feasible one and report the reduction with :func:`setpoint_reduction`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

#: safety charged for a step whose power flow did not converge
NONCONVERGENCE_SAFETY = 1.0

#: the bus voltage band used by default, p.u. (ANSI C84.1 range A)
VM_MIN_PU = 0.95
VM_MAX_PU = 1.05


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    den = np.asarray(den, dtype=float)
    ok = np.isfinite(den) & (den > 0.0)
    return np.where(ok, num / np.where(ok, den, 1.0), 0.0)


def over_rating(p_mw: ArrayLike, q_mvar: ArrayLike, sn_mva: ArrayLike) -> np.ndarray:
    """Apparent power above the rating, per unit of rating: ``max(0, (|S| - Sn) / Sn)``.

    P in MW, Q in Mvar, Sn in MVA; 0 where ``sn_mva`` is nan or not positive.
    """
    s = np.hypot(np.asarray(p_mw, dtype=float), np.asarray(q_mvar, dtype=float))
    sn = np.asarray(sn_mva, dtype=float)
    return np.maximum(_safe_div(s - sn, sn), 0.0)


def power_factor_violation(p_mw: ArrayLike, q_mvar: ArrayLike, min_pf: ArrayLike) -> np.ndarray:
    """Shortfall of the power factor below ``min_pf``: ``max(0, min_pf - |P|/|S|)``.

    0 where |S| is below 1e-9 MVA or ``min_pf`` is nan.
    """
    p = np.asarray(p_mw, dtype=float)
    s = np.hypot(p, np.asarray(q_mvar, dtype=float))
    pf = np.abs(_safe_div(p, s))
    short = np.asarray(min_pf, dtype=float) - pf
    return np.where((s > 1e-9) & np.isfinite(short), np.maximum(short, 0.0), 0.0)


def soc_window_violation(soc: ArrayLike, soc_min: ArrayLike, soc_max: ArrayLike) -> np.ndarray:
    """State of charge outside ``[soc_min, soc_max]`` (fractions of capacity)."""
    soc = np.asarray(soc, dtype=float)
    return np.maximum(np.asarray(soc_min) - soc, 0.0) + np.maximum(soc - np.asarray(soc_max), 0.0)


def voltage_violation(vm_pu: ArrayLike, vm_min_pu: ArrayLike = VM_MIN_PU,
                      vm_max_pu: ArrayLike = VM_MAX_PU) -> np.ndarray:
    """Bus voltage outside the band, in p.u.: ``max(0, vmin - V) + max(0, V - vmax)``.

    Buses that are not energised (``nan``) count 0 here; the load they lose is
    the grid's :func:`unsupplied_load` term.
    """
    v = np.asarray(vm_pu, dtype=float)
    # fmax: a nan difference (a bus not energised) counts 0
    return np.fmax(np.asarray(vm_min_pu) - v, 0.0) + np.fmax(v - np.asarray(vm_max_pu), 0.0)


def unsupplied_load(load_p_mw: ArrayLike, supplied: ArrayLike) -> np.ndarray:
    """Share of the active load demand that is not supplied (0..1), along the last axis.

    ``sum(P of loads whose bus is not energised) / sum(P of all loads)``: a switch
    that cuts part of the grid off its slack (an island without a supply) loses
    that part's load. ``load_p_mw`` in MW (consumption; negative values count 0),
    ``supplied`` (bool, same shape): the load's bus is energised. 0 when there is
    no demand.
    """
    p = np.fmax(np.asarray(load_p_mw, dtype=float), 0.0)  # fmax: nan -> 0
    lost = np.where(np.asarray(supplied, dtype=bool), 0.0, p).sum(axis=-1)
    return _safe_div(lost, p.sum(axis=-1))


def loading_violation(loading_percent: ArrayLike, limit_percent: ArrayLike = 100.0) -> np.ndarray:
    """Line or transformer loading above the limit, per unit of rating.

    ``max(0, (L - limit) / 100)`` with L and limit in percent; nan counts 0.
    """
    # fmax: nan -> 0
    return np.fmax((np.asarray(loading_percent, dtype=float) - np.asarray(limit_percent))
                   / 100.0, 0.0)


def rate_of_change_violation(delta: ArrayLike, limit: ArrayLike) -> np.ndarray:
    """Change beyond its limit, per unit of the limit: ``max(0, (|delta| - limit) / limit)``.

    ``delta`` and ``limit`` in the same unit (e.g. MW per step); 0 where the
    limit is nan or not positive.
    """
    lim = np.asarray(limit, dtype=float)
    return np.maximum(_safe_div(np.abs(np.asarray(delta, dtype=float)) - lim, lim), 0.0)


def setpoint_reduction(requested: ArrayLike, applied: ArrayLike, rating: ArrayLike) -> np.ndarray:
    """How much a setpoint had to be reduced to be feasible, per unit of rating.

    ``|requested - applied| / rating`` (same unit for all three, e.g. MW).
    """
    diff = np.abs(np.asarray(requested, dtype=float) - np.asarray(applied, dtype=float))
    return _safe_div(diff, np.asarray(rating, dtype=float))
