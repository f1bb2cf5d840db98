"""``IEEE13Env(config)``: the ieee13 scenario as a Gymnasium environment (classic import path)."""

from __future__ import annotations

from typing import Any

from rl_bridge.env import GridEnv


class IEEE13Env(GridEnv):
    """:class:`~rl_bridge.env.GridEnv` on the ``ieee13`` scenario, configured by one dict.

    ``IEEE13Env({"episode_length": 24, "train": True})``
    """

    def __init__(self, config: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(config, scenario="ieee13", **kwargs)
