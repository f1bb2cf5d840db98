"""Gymnasium and PettingZoo environments over the powergrid co-simulation.

``GridEnv`` (single agent, :mod:`rl_bridge.env`), ``MultiAgentGridEnv``
(PettingZoo parallel, :mod:`rl_bridge.parallel`), ``microgrids_v0`` (the
PettingZoo module convention), wrappers in :mod:`rl_bridge.wrappers`.
"""

from rl_bridge import microgrids_v0

__all__ = ["microgrids_v0"]
