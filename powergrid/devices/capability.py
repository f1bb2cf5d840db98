"""Reactive-power capability of a converter or a machine (P has priority)."""

from __future__ import annotations

import numpy as np

from powergrid.safety import setpoint_reduction


def clip(values: np.ndarray, low: np.ndarray | float, high: np.ndarray | float) -> np.ndarray:
    """``np.clip`` for the small arrays of a fleet, a few times faster (two ufuncs)."""
    return np.minimum(np.maximum(values, low), high)


class ReactiveCapability:
    """The reactive range of a fleet's units, fixed by their parameters (one array each,
    one entry per unit): a setpoint box ``[q_min_mvar, q_max_mvar]`` (Mvar), the
    capability circle ``|S| <= sn_mva`` (MVA) and the minimum power factor
    ``|P|/|S| >= min_pf``. A nan ``sn_mva`` or ``min_pf`` means that bound is absent.

    What does not depend on the operating point is worked out once here, so a step
    costs a few ufuncs whether the fleet has one unit or thousands.
    """

    def __init__(self, q_min_mvar: np.ndarray, q_max_mvar: np.ndarray, sn_mva: np.ndarray,
                 min_pf: np.ndarray | float) -> None:
        n = np.shape(q_min_mvar)
        self.q_min = np.asarray(q_min_mvar, dtype=float)
        self.q_max = np.asarray(q_max_mvar, dtype=float)
        sn = np.broadcast_to(np.asarray(sn_mva, dtype=float), n)
        pf = np.broadcast_to(np.asarray(min_pf, dtype=float), n)
        has_sn = np.isfinite(sn)
        #: sn_mva squared; inf without a rating (no circle: sqrt(inf - P^2) = inf)
        self._sn_squared = np.where(has_sn, sn * sn, np.inf)
        has_pf = np.isfinite(pf) & (pf > 0.0)
        self._has_pf = has_pf
        pf_ok = np.where(has_pf, pf, 1.0)
        self._pf = pf_ok
        self._pf_sine = np.sqrt(1.0 - pf_ok * pf_ok)
        #: what a reduction is measured against: the rating, or the larger box bound
        self.rating = np.where(has_sn, sn, np.maximum(np.abs(self.q_min), np.abs(self.q_max)))

    def limit_mvar(self, p_mw: np.ndarray) -> np.ndarray:
        """Largest |Q| in Mvar available at active power ``p_mw``: the circle
        ``sqrt(sn_mva^2 - P^2)`` and the power-factor bound ``|P| tan(acos(min_pf))``,
        the smaller of the two (inf without either)."""
        p = np.abs(p_mw)
        q_circle = np.sqrt(np.maximum(self._sn_squared - p * p, 0.0))
        q_pf = np.where(self._has_pf, p * self._pf_sine / self._pf, np.inf)
        return np.minimum(q_circle, q_pf)

    def limit(self, q_request_mvar: np.ndarray, p_mw: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
        """Reduce a reactive setpoint to what the units can deliver at ``p_mw``.

        Returns ``(q_mvar, safety)``: the feasible Q (within the box and
        :meth:`limit_mvar`) and the reduction below the box bounds, per unit of
        ``sn_mva`` (or of the larger Q bound without a rating).
        """
        q_box = clip(q_request_mvar, self.q_min, self.q_max)
        q_lim = self.limit_mvar(p_mw)
        q = clip(q_box, -q_lim, q_lim)
        return q, setpoint_reduction(q_box, q, self.rating)
