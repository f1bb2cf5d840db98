"""Trained models as policies of the co-simulation's agents federate.

``ModelPolicy(path, prepared)`` loads a Stable-Baselines3 model saved by
``examples/train_ppo_ieee13.py`` (``<path>.zip``, ``<path>.vecnormalize.pkl`` if the
observations were normalised, ``<path>.env.json`` the environment options it was trained
with), or an RLlib policy module saved by ``examples/train_mappo_microgrids.py`` (the
directory ``<path>``, and ``<path>.env.json``), and acts like any built-in policy: it
builds the same observation vector as the environments
(:class:`~powergrid.observation.AgentView`, with the prices ahead the options asked for),
asks the model (deterministically) and turns its relaxed ``Box(-1, 1)``
action into setpoints. A model without ``<path>.env.json`` was trained with the defaults.
"""

from __future__ import annotations

import dataclasses
import json
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from powergrid.data import step_calendar
from powergrid.policies import Observation
from rl_bridge.exogenous import ScenarioSeries
from rl_bridge.options import LEARNABILITY_DEFAULTS, env_options
from rl_bridge.spaces import action_space, split_action, with_agent_indicator
from rl_bridge.views import build_view, circuit_phase_names
from rl_bridge.wrappers import from_relaxed
from scenarios.prepare import PreparedScenario, collapse_units


def model_path(path: str | Path) -> Path:
    """The model of ``path``: a directory (an RLlib module) as it is, else the SB3 model
    file (``.zip`` added when missing)."""
    path = Path(path)
    return path if path.suffix == ".zip" or path.is_dir() else path.with_suffix(".zip")


def env_options_path(path: str | Path) -> Path:
    """Where the environment options of the model at ``path`` are kept:
    ``<model>.env.json`` (beside an RLlib module's directory ``<model>``)."""
    model = model_path(path)
    return model.with_name(model.stem + ".env.json")


#: the options a model keeps in its ``<model>.env.json`` (beyond the ones every
#: environment takes): how the environment it was trained in built its observations
MODEL_OPTION_DEFAULTS: dict[str, Any] = {**LEARNABILITY_DEFAULTS, "centralized": True,
                                         "agent_indicator": False}


def save_env_options(path: str | Path, options: Mapping[str, Any]) -> Path:
    """Write the environment options a model at ``path`` was trained with (JSON) next to
    it; a ValueError names a bad option before anything is written."""
    checked = env_options(dict(options), dict(MODEL_OPTION_DEFAULTS))
    out = env_options_path(path)
    out.write_text(json.dumps({k: checked[k] for k in sorted(options)}, indent=1) + "\n")
    return out


def load_env_options(path: str | Path) -> dict[str, Any]:
    """The environment options of the model at ``path`` over the defaults (only the
    defaults when it has no ``<model>.env.json``); a ValueError names the file and a bad
    or unknown option."""
    where = env_options_path(path)
    stored: Any = {}
    if where.exists():
        try:
            stored = json.loads(where.read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"{where}: not JSON ({exc})") from None
        if not isinstance(stored, dict):
            raise ValueError(f"{where}: not a JSON object of environment options")
    try:
        return env_options(stored, dict(MODEL_OPTION_DEFAULTS))
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


def sb3_algorithm(zip_path: Path) -> Any:
    """The SB3 algorithm class that saved the model ``zip_path``, told by the module of
    its policy class (``stable_baselines3.sac.policies`` -> SAC, ``.td3.`` -> TD3);
    PPO otherwise (its policies live in ``stable_baselines3.common.policies``)."""
    import zipfile

    import stable_baselines3

    with zipfile.ZipFile(zip_path) as z:
        data = json.loads(z.read("data"))
    module = str(data.get("policy_class", {}).get("__module__", ""))
    for name in ("SAC", "TD3"):
        if f"stable_baselines3.{name.lower()}." in module:
            return getattr(stable_baselines3, name)
    return stable_baselines3.PPO


class RLlibModule:
    """A policy saved by RLlib as an ``RLModule`` directory (``examples/
    train_mappo_microgrids.py`` writes ``<out>/model``), behind SB3's ``predict``: its
    deterministic action (the mean of its Gaussian) in ``Box(-1, 1)``."""

    def __init__(self, path: Path) -> None:
        from ray.rllib.core.rl_module.rl_module import RLModule

        self.module = RLModule.from_checkpoint(str(path))
        self.observation_space = self.module.observation_space
        self._distribution = self.module.get_inference_action_dist_cls()

    def predict(self, observation: np.ndarray, deterministic: bool = True
                ) -> tuple[np.ndarray, None]:
        import torch

        with torch.no_grad():
            out = self.module.forward_inference(
                {"obs": torch.as_tensor(observation[None], dtype=torch.float32)})
        distribution = self._distribution.from_logits(out["action_dist_inputs"])
        if deterministic:
            distribution = distribution.to_deterministic()
        return np.asarray(distribution.sample()[0]), None  # a CPU tensor: its values


class ModelPolicy:
    """A saved model acting for one agent (``agent``: by name; default the scenario's
    single agent), observing what the environment it was trained in showed it
    (:func:`load_env_options`: the prices ahead, the whole grid or the agent's zone with
    ``centralized``, the agent's one-hot with ``agent_indicator``): an SB3 ``.zip`` or an
    RLlib module directory (:class:`RLlibModule`)."""

    def __init__(self, path: str | Path, prepared: PreparedScenario,
                 agent: str | None = None) -> None:
        saved = model_path(path)
        if not saved.is_dir():
            import stable_baselines3  # noqa: F401 - without the rl extra, said first
        if not saved.exists():
            raise ValueError(f"no model at {saved}")
        self.options = load_env_options(saved)
        self.model = RLlibModule(saved) if saved.is_dir() else sb3_algorithm(
            saved).load(str(saved), device="cpu")
        stats = saved.with_suffix(".vecnormalize.pkl")
        self.obs_rms = None
        if stats.exists():
            with open(stats, "rb") as f:  # our own file, written by the training example
                self.obs_rms, self.clip_obs, self.epsilon = pickle.load(f)  # noqa: S301
        cfg = prepared.config
        names = [a.name for a in cfg.agents]
        if agent is None and len(names) != 1:
            raise ValueError(f"scenario {cfg.name!r} has agents {names}: name the one the"
                             " model acts for")
        if agent is not None and agent not in names:
            raise ValueError(f"no agent {agent!r} in scenario {cfg.name!r} (agents:"
                             f" {', '.join(names)})")
        self.agent = cfg.agents[names.index(agent) if agent is not None else 0]
        self.indicator = ((names.index(self.agent.name), len(names))
                          if self.options["agent_indicator"] else None)
        trained, playing = self.options["physics"], cfg.physics
        if trained == "three_phase" and playing != "three_phase":
            raise ValueError(f"model {saved} observes the voltage of every bus-phase"
                             f" (trained with physics 'three_phase'); this run's physics is"
                             f" {playing!r}")
        # a model trained on the balanced physics plays on three-phase physics as it
        # learned: each bus's voltage (there its phase farthest from 1 p.u.), no phases,
        # one tap per regulator bank (the run's agent may have a device per phase unit:
        # each unit gets its bank's tap, and the bank is observed as its first unit)
        banks = prepared.unit_banks if trained != "three_phase" else {}
        learned = collapse_units(prepared) if banks else prepared
        model_agent = next(a for a in learned.config.agents if a.name == self.agent.name)
        #: {bank: its first unit} (the units the model moves together)
        self._bank_units = {b: u for u, b in reversed(list(banks.items()))}
        self.view = build_view(learned, model_agent,
                               "all" if self.options["centralized"] else "zone",
                               int(self.options["price_forecast_steps"]),
                               circuit_phase_names(prepared) if trained == "three_phase"
                               else None)
        self._check_observation_size(saved)
        self.data = ScenarioSeries(prepared)
        from powergrid.devices import ActionSpec

        def spec_of(scenario: PreparedScenario, devices: list[str]) -> ActionSpec:
            by_name = {d.name: d for d in scenario.devices}
            return ActionSpec.concat([by_name[d].action_spec() for d in devices])

        self.spec = spec_of(prepared, self.agent.devices)
        self.model_spec = model_spec = spec_of(learned, model_agent.devices)

        def source(name: str) -> str:  # "reg1.a.position" -> "reg1.position"
            device, _, control = name.rpartition(".")
            return f"{banks.get(device, device)}.{control}"

        #: the run's controls' positions among the model's (None: the same controls)
        self._from_model: tuple[np.ndarray, np.ndarray] | None = None if not banks else (
            np.array([model_spec.names_c.index(source(n)) for n in self.spec.names_c],
                     dtype=np.intp),
            np.array([model_spec.names_d.index(source(n)) for n in self.spec.names_d],
                     dtype=np.intp))
        self.space = action_space(model_spec)
        self.hours, self.days = step_calendar(cfg.split, cfg.dt_h, cfg.dataset)
        self.start, self.step_s = cfg.start_step, cfg.step_s

    def _check_observation_size(self, saved: Path) -> None:
        """A ValueError when the model takes other observations than the view gives (a
        model trained with other options than its ``<model>.env.json`` says)."""
        expected = getattr(self.model.observation_space, "shape", None)
        size = self.view.size + (self.indicator[1] if self.indicator else 0)
        if expected == (size,):
            return
        where = env_options_path(saved)
        source = str(where) if where.exists() else f"the defaults (no {where.name})"
        raise ValueError(f"model {saved} takes observations of shape {expected}; the"
                         f" environment options of {source} give ({size},)")

    def act(self, obs: Observation) -> tuple[np.ndarray, np.ndarray]:
        k = (self.start + int(obs.time_s) // self.step_s) % len(self.hours)
        n_ahead = self.view.forecast_steps
        ahead = self.data.prices_ahead(k, n_ahead)[0] if n_ahead else None
        if self._bank_units:
            obs = dataclasses.replace(obs, devices={
                **obs.devices, **{bank: obs.devices.get(unit, {})
                                  for bank, unit in self._bank_units.items()}})
        vec = self.view.vector(obs, self.hours[k], self.days[k], ahead)
        if self.indicator is not None:
            vec = with_agent_indicator(vec, *self.indicator)
        if self.obs_rms is not None:
            vec = np.clip((vec - self.obs_rms.mean) / np.sqrt(self.obs_rms.var + self.epsilon),
                          -self.clip_obs, self.clip_obs).astype(np.float32)
        action, _ = self.model.predict(vec, deterministic=True)
        physical: Any = from_relaxed(self.space, np.asarray(action))
        c, d = split_action(self.agent.name, self.model_spec, physical)
        if self._from_model is not None:
            c, d = c[self._from_model[0]], d[self._from_model[1]]
        return c, d


def model_policies(path: str | Path, prepared: PreparedScenario) -> Any:
    """The model at ``path`` as the policy of the scenario's agent, or, with several
    agents, of every agent that owns devices (one policy shared: ``{agent: policy}``)."""
    agents = prepared.config.agents
    if len(agents) == 1:
        return ModelPolicy(path, prepared)
    return {a.name: ModelPolicy(path, prepared, a.name) for a in agents if not a.coordinator}
