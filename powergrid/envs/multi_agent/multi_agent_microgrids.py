"""``MultiAgentMicrogrids(config)``: the networked microgrids (classic import path)."""

from __future__ import annotations

from rl_bridge.microgrids_v0 import parallel_env


class MultiAgentMicrogrids(parallel_env):
    """:mod:`rl_bridge.microgrids_v0`'s parallel environment, configured by one dict.

    ``MultiAgentMicrogrids({"centralized": False, "max_episode_steps": 96, "train": True})``
    """
