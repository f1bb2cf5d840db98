"""Gymnasium spaces of an agent, and turning actions from them into setpoints."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from powergrid.devices import ActionSpec
from powergrid.observation import AgentView


def observation_space(view: AgentView) -> spaces.Box:
    """``Box(low, high)`` of the agent's observation vector (float32)."""
    low, high = view.bounds()
    return spaces.Box(low=low, high=high, dtype=np.float32)


def action_space(spec: ActionSpec) -> spaces.Space[Any]:
    """``Box`` of physical setpoints when every control is continuous, else
    ``Dict({"continuous": Box, "discrete": MultiDiscrete})``."""
    box = spaces.Box(low=spec.low.astype(np.float32), high=spec.high.astype(np.float32),
                     dtype=np.float32)
    if spec.dim_d == 0:
        return box
    return spaces.Dict({"continuous": box, "discrete": spaces.MultiDiscrete(spec.nvec)})


def split_action(agent: str, spec: ActionSpec, action: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(c, d)`` from an action of :func:`action_space`; a ValueError naming the agent and
    the part for a wrong shape, a non-number, nan/inf or a discrete value out of range.
    Continuous values outside the box are left to the devices, which clip them to their
    limits."""
    if spec.dim_d:
        if not isinstance(action, dict) or set(action) != {"continuous", "discrete"}:
            raise ValueError(f"agent {agent!r}: action must be a dict with 'continuous' and"
                             f" 'discrete', got {type(action).__name__}")
        cont, disc = action["continuous"], action["discrete"]
    else:
        cont, disc = action, np.zeros(0, dtype=np.int64)
    try:
        c = np.asarray(cont, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise ValueError(f"agent {agent!r}: continuous action is not numeric") from None
    if c.shape != (spec.dim_c,):
        raise ValueError(f"agent {agent!r}: continuous action has {c.size} values,"
                         f" expected {spec.dim_c} ({', '.join(spec.names_c)})")
    if not np.isfinite(c).all():
        bad = spec.names_c[int(np.flatnonzero(~np.isfinite(c))[0])]
        raise ValueError(f"agent {agent!r}: continuous action {bad!r} is not finite")
    try:
        raw = np.asarray(disc).reshape(-1)
        d = raw.astype(np.int64)
    except (TypeError, ValueError):
        raise ValueError(f"agent {agent!r}: discrete action is not integer") from None
    if d.shape != (spec.dim_d,):
        raise ValueError(f"agent {agent!r}: discrete action has {d.size} values,"
                         f" expected {spec.dim_d} ({', '.join(spec.names_d)})")
    if raw.dtype.kind == "f" and not np.array_equal(raw, d):
        raise ValueError(f"agent {agent!r}: discrete action is not integer")
    out = (d < 0) | (d >= spec.nvec)
    if out.any():
        k = int(np.flatnonzero(out)[0])
        raise ValueError(f"agent {agent!r}: discrete action {spec.names_d[k]!r} = {d[k]}"
                         f" outside 0..{spec.nvec[k] - 1}")
    return c, d
