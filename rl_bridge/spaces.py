"""Gymnasium spaces of an agent, and checking actions from them before they become setpoints.

Every environment of :mod:`rl_bridge` checks an action here, before anything of it
enters the mosaik world (so a bad action never leaves the world half-stepped, and the
next ``step`` with a good action, or ``reset``, works as if it had not happened):

=====================================  ==================================================
input                                  behaviour
=====================================  ==================================================
not a dict / wrong keys (``Dict``       ``ValueError`` naming the agent and the keys
space), a dict for a ``Box`` space
wrong shape                            ``ValueError`` naming the agent, the part, the shape
                                       given and expected, and the controls in order
not numeric (str, None, object,        ``ValueError`` naming the agent, the part and the
complex), ragged lists                 dtype
nan, +inf, -inf in ``continuous``      ``ValueError``: ``agent 'operator': action
                                       'continuous'[2] (dg1.p_mw) is nan``
finite but outside the ``Box``         accepted; the device clips the setpoint to its
(even +-1e30)                          limits (the ``Box`` bounds are those limits,
                                       :func:`box_bounds`) and
                                       ``info["clipped_setpoints"]`` counts such values
discrete nan/inf, not an integer       ``ValueError`` naming agent, part, index, control
(0.5), outside ``0..n-1``              and the value
=====================================  ==================================================

bool and integer arrays are numbers (a continuous ``True`` is 1.0; a discrete ``2.0``
is category 2). Every message is one line that starts with ``agent '<name>'`` (and
``, copy <i>`` for a batched environment).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces

from powergrid.devices import ActionSpec
from powergrid.observation import AgentView

#: numpy dtype kinds accepted as numbers: bool, signed and unsigned integer, float
_NUMERIC_KINDS = "biuf"


class ActionError(ValueError):
    """An action that does not belong to its agent's action space (raised before the
    co-simulation sees it)."""


def observation_space(view: AgentView) -> spaces.Box:
    """``Box(low, high)`` of the agent's observation vector (float32)."""
    low, high = view.bounds()
    return spaces.Box(low=low, high=high, dtype=np.float32)


def box_bounds(spec: ActionSpec) -> tuple[np.ndarray, np.ndarray]:
    """float32 ``(low, high)`` of the continuous controls, rounded outwards so that the
    ``Box`` holds the devices' own (float64) limits: a setpoint at a limit is in the
    space, and one at a ``Box`` bound is at most one float32 step beyond the limit."""
    low, high = spec.low.astype(np.float32), spec.high.astype(np.float32)
    low = np.where(low.astype(np.float64) > spec.low, np.nextafter(low, np.float32(-np.inf)),
                   low)
    high = np.where(high.astype(np.float64) < spec.high, np.nextafter(high, np.float32(np.inf)),
                    high)
    return low.astype(np.float32), high.astype(np.float32)


#: :func:`box_bounds` of the specs checked so far, by id (with the spec: kept alive)
_BOUNDS: dict[int, tuple[ActionSpec, np.ndarray, np.ndarray]] = {}


def _bounds_of(spec: ActionSpec) -> tuple[np.ndarray, np.ndarray]:
    """:func:`box_bounds` of ``spec``, worked out once per spec (every action is checked
    against them)."""
    entry = _BOUNDS.get(id(spec))
    if entry is None or entry[0] is not spec:
        if len(_BOUNDS) >= 256:  # bounded: environments come and go
            _BOUNDS.clear()
        entry = _BOUNDS[id(spec)] = (spec, *box_bounds(spec))
    return entry[1], entry[2]


def action_space(spec: ActionSpec) -> spaces.Space[Any]:
    """``Box`` of physical setpoints (bounds: :func:`box_bounds`) when every control is
    continuous, else ``Dict({"continuous": Box, "discrete": MultiDiscrete})``."""
    low, high = box_bounds(spec)
    box = spaces.Box(low=low, high=high, dtype=np.float32)
    if spec.dim_d == 0:
        return box
    return spaces.Dict({"continuous": box, "discrete": spaces.MultiDiscrete(spec.nvec)})


@dataclass(frozen=True)
class CheckedAction:
    """An action that passed :func:`check_action`.

    ``c``: continuous setpoints in physical units (float64, as given: the devices clip
    them); ``d``: discrete categories (int64); ``clipped``: number of continuous values
    outside the action space's ``Box`` (per copy for a batch).
    """

    c: np.ndarray
    d: np.ndarray
    clipped: int | np.ndarray


def _who(agent: str, copy: int | None) -> str:
    return f"agent {agent!r}" if copy is None else f"agent {agent!r}, copy {copy}"


def numeric_array(agent: str, label: str, value: Any, shape: tuple[int, ...],
                  names: Sequence[str] = ()) -> np.ndarray:
    """``value`` as a numeric (bool, integer or float) array of exactly ``shape``, else an
    :class:`ActionError` naming ``agent``, ``label`` (e.g. ``"action 'continuous'"``) and
    the control ``names``. nan and inf pass: the caller decides about them."""
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as exc:  # ragged nesting, objects numpy refuses
        raise ActionError(f"agent {agent!r}: {label} is not an array of numbers"
                          f" ({type(exc).__name__}: {exc})") from None
    if arr.dtype.kind not in _NUMERIC_KINDS:
        raise ActionError(f"agent {agent!r}: {label} is not numeric"
                          f" (got {type(value).__name__} of dtype {arr.dtype})")
    if arr.shape != shape:
        raise ActionError(f"agent {agent!r}: {label} has shape {arr.shape}, expected {shape}"
                          + (f" ({', '.join(names)})" if names else ""))
    return arr


def _first_bad(mask: np.ndarray) -> tuple[int | None, int]:
    """``(copy, index)`` of the first True of a 1-D or ``(copies, k)`` mask."""
    at = np.argwhere(mask)[0]
    return (None, int(at[0])) if mask.ndim == 1 else (int(at[0]), int(at[1]))


def _check(agent: str, spec: ActionSpec, action: Any, batch: int | None) -> CheckedAction:
    lead = () if batch is None else (batch,)
    if spec.dim_d:
        if not isinstance(action, Mapping):
            raise ActionError(f"agent {agent!r}: action must be a dict with keys 'continuous'"
                              f" and 'discrete', got {type(action).__name__}")
        keys = set(action)
        if keys != {"continuous", "discrete"}:
            missing = sorted({"continuous", "discrete"} - keys)
            extra = sorted(map(str, keys - {"continuous", "discrete"}))
            raise ActionError(f"agent {agent!r}: action must be a dict with keys 'continuous'"
                              f" and 'discrete'" + (f"; missing {missing}" if missing else "")
                              + (f"; unknown {extra}" if extra else ""))
        label_c, label_d = "action 'continuous'", "action 'discrete'"
        cont, disc = action["continuous"], action["discrete"]
    else:
        if isinstance(action, Mapping):
            raise ActionError(f"agent {agent!r}: action must be an array of {spec.dim_c}"
                              f" values ({', '.join(spec.names_c)}), got a dict")
        label_c, label_d = "action", "action 'discrete'"
        cont, disc = action, np.zeros((*lead, 0), dtype=np.int64)

    c = numeric_array(agent, label_c, cont, (*lead, spec.dim_c), spec.names_c).astype(np.float64)
    finite = np.isfinite(c)
    if not finite.all():
        copy, k = _first_bad(~finite)
        raise ActionError(f"{_who(agent, copy)}: {label_c}[{k}] ({spec.names_c[k]})"
                          f" is {c[(k,) if copy is None else (copy, k)]}")

    raw = numeric_array(agent, label_d, disc, (*lead, spec.dim_d), spec.names_d)
    as_float = raw.astype(np.float64)  # range checks without integer overflow
    fine = (as_float >= 0) & (as_float <= spec.nvec - 1) & (as_float == np.trunc(as_float))
    if not fine.all():  # nan fails every comparison: which problem, for the message
        for mask, problem in ((~np.isfinite(as_float), "is {v}"),
                              (as_float != np.trunc(as_float), "= {v} is not an integer"),
                              ((as_float < 0) | (as_float > spec.nvec - 1),
                               "= {v} is outside 0..{hi}")):
            if mask.any():
                copy, k = _first_bad(mask)
                value = raw[(k,) if copy is None else (copy, k)]
                raise ActionError(f"{_who(agent, copy)}: {label_d}[{k}] ({spec.names_d[k]}) "
                                  + problem.format(v=value, hi=int(spec.nvec[k]) - 1))
    d = as_float.astype(np.int64)

    low, high = _bounds_of(spec)
    outside = (c < low) | (c > high)  # against the Box itself (float32 bounds)
    clipped: int | np.ndarray = (int(outside.sum()) if batch is None
                                 else outside.sum(axis=-1).astype(np.int64))
    return CheckedAction(c, d, clipped)


def check_action(agent: str, spec: ActionSpec, action: Any) -> CheckedAction:
    """Check one agent's action of :func:`action_space` (see the module docstring for
    what is refused and what is clipped); :class:`ActionError` (a ValueError) otherwise."""
    return _check(agent, spec, action, None)


def check_batch(agent: str, spec: ActionSpec, actions: Any, n: int) -> CheckedAction:
    """:func:`check_action` for ``n`` copies at once: every array has a leading axis of
    ``n`` (``Box`` ``(n, dim)``, or ``{"continuous": (n, dim_c), "discrete": (n, dim_d)}``);
    a message names the first bad copy. ``clipped`` is ``(n,)``."""
    return _check(agent, spec, actions, int(n))


def check_joint_action(specs: Mapping[str, ActionSpec], due: Sequence[str],
                       actions: Any) -> dict[str, CheckedAction]:
    """Check ``{agent: action}`` for the agents ``due`` to act, every one before any is used.

    Not a dict, an agent name not in ``specs`` or a due agent without an action: a
    ValueError naming them. An action for a known agent that is not due this step
    (``agent_periods``) is ignored.
    """
    if not isinstance(actions, Mapping):
        raise ActionError(f"actions must be a dict {{agent: action}} for {list(due)},"
                          f" got {type(actions).__name__}")
    unknown = sorted(map(str, set(actions) - set(specs)))
    if unknown:
        raise ActionError(f"unknown agent(s) {unknown} (agents: {', '.join(specs)})")
    missing = [a for a in due if a not in actions]
    if missing:
        raise ActionError(f"no action for agent(s) {missing} (due to act: {', '.join(due)})")
    return {a: check_action(a, specs[a], actions[a]) for a in due}


def split_action(agent: str, spec: ActionSpec, action: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(c, d)`` of :func:`check_action` (continuous setpoints, discrete categories)."""
    checked = check_action(agent, spec, action)
    return checked.c, checked.d

def agent_indicated_space(space: spaces.Box, n_agents: int) -> spaces.Box:
    """``space`` with ``n_agents`` entries in [0, 1] appended (the agent's one-hot)."""
    return spaces.Box(np.concatenate([space.low, np.zeros(n_agents, np.float32)]),
                      np.concatenate([space.high, np.ones(n_agents, np.float32)]),
                      dtype=np.float32)


def with_agent_indicator(vector: np.ndarray, index: int, n_agents: int) -> np.ndarray:
    """``vector`` with the one-hot of agent ``index`` of ``n_agents`` appended: one
    policy shared by several agents tells them apart (agents whose devices differ --
    the microgrids' generators have different fuel costs -- need different actions in
    the same state). ``vector`` ``(..., D)``: rows of a batch each get it."""
    vector = np.asarray(vector, np.float32)
    one_hot = np.zeros(n_agents, np.float32)
    one_hot[index] = 1.0
    return np.concatenate([vector, np.broadcast_to(one_hot, vector.shape[:-1] + (n_agents,))],
                          axis=-1)
