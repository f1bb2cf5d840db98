"""The reward: cost and safety turned into one number.

``reward = -reward_scale * cost - min(safety_scale * safety, max_penalty)``

with ``cost`` in $ over the step and ``safety`` the sum of the step's safety
terms (dimensionless; see :mod:`powergrid.safety`). A power flow that does not
converge adds a safety term ``nonconvergence`` of 1, i.e. a penalty of
``min(safety_scale, max_penalty)``.

The single-agent environments can pass ``cost - baseline`` instead of ``cost``, the
baseline being the bill of the step with no device acting
(:class:`powergrid.exogenous_bill.ExogenousBill`, option ``reward_baseline``): it
depends on the data only, so it moves every policy's return alike.

Defaults: one dollar costs 0.01 (a typical IEEE 13 hour of about 130 $ gives
about -1.3); a bus 0.01 p.u. outside the band costs 1; the penalty is capped at
100 so that one bad step cannot swamp a whole episode's return.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

DEFAULT_REWARD_SCALE = 0.01
DEFAULT_SAFETY_SCALE = 100.0
DEFAULT_MAX_PENALTY = 100.0


def reward(cost: ArrayLike, safety: ArrayLike, reward_scale: float = DEFAULT_REWARD_SCALE,
           safety_scale: float = DEFAULT_SAFETY_SCALE,
           max_penalty: float = DEFAULT_MAX_PENALTY) -> Any:
    """``-reward_scale * cost - min(safety_scale * safety, max_penalty)``; a float for
    floats, an array (one per copy) for arrays."""
    value = -reward_scale * np.asarray(cost, dtype=float) - np.minimum(
        safety_scale * np.asarray(safety, dtype=float), max_penalty)
    return float(value) if value.ndim == 0 else value
