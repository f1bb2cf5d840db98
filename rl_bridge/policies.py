"""Trained models as policies of the co-simulation's agents federate.

``ModelPolicy(path, prepared)`` loads a Stable-Baselines3 model saved by
``examples/train_ppo_ieee13.py`` (``<path>.zip``, and ``<path>.vecnormalize.pkl`` if the
observations were normalised) and acts like any built-in policy: it builds the same
observation vector as the environments (:class:`~powergrid.observation.AgentView`), asks
the model (deterministically) and turns its relaxed ``Box(-1, 1)`` action into setpoints.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np

from powergrid.data import step_calendar
from powergrid.policies import Observation
from rl_bridge.spaces import action_space, split_action
from rl_bridge.views import build_view
from rl_bridge.wrappers import from_relaxed
from scenarios.prepare import PreparedScenario


class ModelPolicy:
    """A saved SB3 model acting for the scenario's (single) agent."""

    def __init__(self, path: str | Path, prepared: PreparedScenario) -> None:
        from stable_baselines3 import PPO

        path = Path(path)
        zip_path = path if path.suffix == ".zip" else path.with_suffix(".zip")
        if not zip_path.exists():
            raise ValueError(f"no model at {zip_path}")
        self.model = PPO.load(str(zip_path), device="cpu")
        stats = zip_path.with_suffix(".vecnormalize.pkl")
        self.obs_rms = None
        if stats.exists():
            with open(stats, "rb") as f:  # our own file, written by the training example
                self.obs_rms, self.clip_obs, self.epsilon = pickle.load(f)  # noqa: S301
        cfg = prepared.config
        (self.agent,) = cfg.agents
        self.view = build_view(prepared, self.agent, "all")
        by_name = {d.name: d for d in prepared.devices}
        from powergrid.devices import ActionSpec

        self.spec = ActionSpec.concat([by_name[d].action_spec() for d in self.agent.devices])
        self.space = action_space(self.spec)
        self.hours, self.days = step_calendar(cfg.split, cfg.dt_h, cfg.dataset)
        self.start, self.step_s = cfg.start_step, cfg.step_s

    def act(self, obs: Observation) -> tuple[np.ndarray, np.ndarray]:
        k = (self.start + int(obs.time_s) // self.step_s) % len(self.hours)
        vec = self.view.vector(obs, self.hours[k], self.days[k])
        if self.obs_rms is not None:
            vec = np.clip((vec - self.obs_rms.mean) / np.sqrt(self.obs_rms.var + self.epsilon),
                          -self.clip_obs, self.clip_obs).astype(np.float32)
        action, _ = self.model.predict(vec, deterministic=True)
        physical: Any = from_relaxed(self.space, np.asarray(action))
        return split_action(self.agent.name, self.spec, physical)
