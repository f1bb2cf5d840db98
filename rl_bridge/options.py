"""The options of the environments: their defaults, and the checks of their values.

:func:`env_options` merges a classic config dict and keyword arguments over the
defaults, refusing unknown keys and bad values with a one-line ValueError naming the
option. Light on purpose (no co-simulation): :mod:`rl_bridge.policies` reads a model's
options with it too.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from powergrid.rewards import DEFAULT_MAX_PENALTY, DEFAULT_REWARD_SCALE, DEFAULT_SAFETY_SCALE

#: config keys every environment understands, with their defaults
ENV_DEFAULTS: dict[str, Any] = {
    "episode_length": 24,
    "train": True,
    "dataset_path": None,
    "solver": "lightsim2grid",
    "physics": "balanced",
    "reward_scale": DEFAULT_REWARD_SCALE,
    "safety_scale": DEFAULT_SAFETY_SCALE,
    "max_penalty": DEFAULT_MAX_PENALTY,
    "load_scale": 1.0,
}
#: options of every environment (GridEnv, its Box variant, GridVectorEnv, the
#: multi-agent MultiAgentGridEnv) and of the models trained on them
#: (:class:`rl_bridge.policies.ModelPolicy`): what makes the task learnable without
#: changing what it measures
LEARNABILITY_DEFAULTS: dict[str, Any] = {
    "price_forecast_steps": 0,
    "reward_baseline": "none",
    "reward_scope": "agent",
}
#: values of ``reward_baseline``: the reward is computed from ``cost - baseline``
REWARD_BASELINES = ("none", "exogenous_bill")
#: values of ``reward_scope``: whose cost an agent's reward is computed from (``"agent"``:
#: its own, over its zone; ``"system"``: the whole system's, each of n agents 1/n of it;
#: ``"contribution"``: its own, its zone's exchange valued as the system values it -- at
#: the price both ways -- instead of as its PCC bills it)
REWARD_SCOPES = ("agent", "system", "contribution")
#: most prices ahead an observation may hold (a week of hourly steps)
MAX_PRICE_FORECAST_STEPS = 168


def shared_policy_options(episode_length: int, price_forecast_steps: int, reward_scope: str,
                          safety_scale: float) -> dict[str, Any]:
    """The training environment's options of the multi-agent recipes (SB3's and RLlib's
    one policy shared by the microgrid agents): each agent observes its own zone, the
    prices ahead and its one-hot, and is rewarded relative to its zone's bill with no
    device acting."""
    return {"episode_length": episode_length, "train": True, "centralized": False,
            "agent_indicator": True, "price_forecast_steps": price_forecast_steps,
            "reward_baseline": "exogenous_bill", "reward_scope": reward_scope,
            "safety_scale": safety_scale}


def _check_price_forecast_steps(value: Any) -> None:
    ok = isinstance(value, int | np.integer) and not isinstance(value, bool) \
        and 0 <= value <= MAX_PRICE_FORECAST_STEPS
    if not ok:
        raise ValueError(f"price_forecast_steps must be a whole number of steps in"
                         f" [0, {MAX_PRICE_FORECAST_STEPS}], not {value!r}")


def _check_reward_baseline(value: Any) -> None:
    if not isinstance(value, str) or value not in REWARD_BASELINES:
        raise ValueError(f"reward_baseline must be one of"
                         f" {', '.join(map(repr, REWARD_BASELINES))}, not {value!r}")


def _check_reward_scope(value: Any) -> None:
    if not isinstance(value, str) or value not in REWARD_SCOPES:
        raise ValueError(f"reward_scope must be one of"
                         f" {', '.join(map(repr, REWARD_SCOPES))}, not {value!r}")


#: the options checked on merging (the others are checked where they are used)
_OPTION_CHECKS = {"price_forecast_steps": _check_price_forecast_steps,
                  "reward_baseline": _check_reward_baseline,
                  "reward_scope": _check_reward_scope}


def check_options(options: dict[str, Any]) -> None:
    """A one-line ValueError naming the first option of ``options`` with a bad value."""
    for key, check in _OPTION_CHECKS.items():
        if key in options:
            check(options[key])


def env_options(config: dict[str, Any] | None, extra: dict[str, Any],
                **kwargs: Any) -> dict[str, Any]:
    """Merge a classic config dict and keyword arguments over the defaults.

    ``max_episode_steps`` is an alias of ``episode_length``; unknown keys raise a
    ValueError naming them, and so do bad values of the options :func:`check_options`
    knows.
    """
    merged = {**(config or {}), **kwargs}
    if "max_episode_steps" in merged:
        merged.setdefault("episode_length", merged.pop("max_episode_steps"))
        merged.pop("max_episode_steps", None)
    allowed = set(ENV_DEFAULTS) | set(extra)
    unknown = sorted(set(merged) - allowed)
    if unknown:
        raise ValueError(f"unknown environment option(s) {unknown} (valid: {sorted(allowed)})")
    options = {**ENV_DEFAULTS, **extra, **merged}
    check_options(options)
    return options
