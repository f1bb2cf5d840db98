"""Three networked microgrids as a PettingZoo environment (the module convention).

    from rl_bridge import microgrids_v0
    penv = microgrids_v0.parallel_env(centralized=True, max_episode_steps=96)
    aec = microgrids_v0.env()

Agents ``MG1``, ``MG2``, ``MG3`` each control their battery and generator; see
:class:`rl_bridge.parallel.MultiAgentGridEnv` for spaces, rewards and options.
"""

from __future__ import annotations

from typing import Any

from pettingzoo.utils.conversions import parallel_to_aec

from rl_bridge.parallel import MultiAgentGridEnv


class raw_env(MultiAgentGridEnv):  # noqa: N801 - PettingZoo's module convention
    """The parallel environment of the ``microgrids`` scenario."""

    metadata = {**MultiAgentGridEnv.metadata, "name": "microgrids_v0"}

    def __init__(self, config: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(config, scenario="microgrids", **kwargs)


def parallel_env(config: dict[str, Any] | None = None, **kwargs: Any) -> raw_env:
    """The parallel (all agents act at once) environment."""
    return raw_env(config, **kwargs)


def env(config: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    """The AEC (agents act in turn) environment, through ``parallel_to_aec``."""
    return parallel_to_aec(parallel_env(config, **kwargs))
