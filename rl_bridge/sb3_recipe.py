"""The training recipes' shared parts, for Stable-Baselines3 PPO on the environments
(``examples/train_ppo_ieee13.py``, ``examples/train_ppo_microgrids.py``): the policy's
start at the idle action, the saved whole-action model, the progress and learning curve,
and the files a trained model is kept in (what :class:`rl_bridge.policies.ModelPolicy`
loads).
"""

from __future__ import annotations

import json
import pickle
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3 import PPO
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import VecEnv, VecNormalize
from tqdm import tqdm

from powergrid.plots import plot_learning_curve
from rl_bridge.policies import save_env_options
from rl_bridge.sb3 import HeldControls

Row = tuple[int, float, float, float]


def held_env(inner: VecEnv, idle: np.ndarray, names: Sequence[str],
             wanted: Sequence[str] | None, norm_reward: bool, gamma: float, seed: int
             ) -> tuple[VecNormalize, list[int]]:
    """A recipe's training env: ``inner`` with every control but ``wanted`` (by relaxed
    name; None: all) held at its ``idle`` value (:class:`~rl_bridge.sb3.HeldControls`),
    observations (and with ``norm_reward`` rewards, discounted by ``gamma``) normalised,
    seeded; and the positions of the controls it explores."""
    keep = list(range(len(names))) if wanted is None else [list(names).index(n)
                                                            for n in wanted]
    held = inner if wanted is None else HeldControls(inner, keep, idle)
    env = VecNormalize(held, norm_obs=True, norm_reward=norm_reward, gamma=gamma)
    env.seed(seed)
    return env, keep


def recipe_ppo(env: VecNormalize, args: Any, idle: np.ndarray, ent_coef: float = 0.0) -> PPO:
    """The recipes' PPO on ``env``, its hyperparameters from the script's ``args``
    (``n_steps``, ``batch_size``, ``n_epochs``, ``learning_rate``, ``gamma``, ``net_arch``,
    ``seed``; GAE lambda 0.95), starting at ``idle`` with std ``exp(args.log_std_init)``
    (:func:`start_near_idle`). With ``args.lr_schedule == "linear"`` the learning rate
    falls linearly from ``learning_rate`` to 0 over the training."""
    rate = float(args.learning_rate)
    schedule: Any = rate
    if getattr(args, "lr_schedule", "constant") == "linear":
        schedule = lambda remaining: rate * remaining  # noqa: E731 (SB3 takes a callable)
    model = PPO("MlpPolicy", env, n_steps=args.n_steps, batch_size=args.batch_size,
                n_epochs=args.n_epochs, learning_rate=schedule, gamma=args.gamma,
                gae_lambda=0.95, ent_coef=ent_coef,
                policy_kwargs={"net_arch": list(args.net_arch)}, seed=args.seed, device="cpu")
    start_near_idle(model, idle, args.log_std_init)
    return model


def start_near_idle(model: PPO, idle: np.ndarray, log_std: float) -> None:
    """The policy's initial mean action is ``idle`` (the output layer's bias; its weights
    are near zero) and its initial standard deviation ``exp(log_std)``."""
    policy: Any = model.policy  # (torch's typing does not know the submodules)
    with torch.no_grad():
        policy.action_net.bias.copy_(torch.as_tensor(idle))
        policy.log_std.fill_(log_std)


def whole_action_model(model: PPO, full_space: spaces.Box, keep: list[int],
                       fixed: np.ndarray) -> PPO:
    """``model`` (trained on the dimensions ``keep``) as a PPO model over the whole
    relaxed action space: the held dimensions' mean action is ``fixed`` whatever the
    observation (zero weights, ``fixed`` as bias; a tiny standard deviation)."""
    policy: Any = model.policy  # (torch's typing does not know the submodules)
    full: Any = type(policy)(policy.observation_space, full_space,
                        lambda _: model.learning_rate if not callable(model.learning_rate)
                        else model.learning_rate(1.0), **model.policy_kwargs)
    state = {k: v for k, v in policy.state_dict().items()
             if not k.startswith(("action_net.", "log_std"))}
    full.load_state_dict(state, strict=False)
    with torch.no_grad():
        full.action_net.weight.zero_()
        full.action_net.bias.copy_(torch.as_tensor(fixed))
        full.log_std.fill_(-20.0)
        full.action_net.weight[keep] = policy.action_net.weight
        full.action_net.bias[keep] = policy.action_net.bias
        full.log_std[keep] = policy.log_std
    model.policy = full
    model.action_space = full_space
    return model


class Progress(BaseCallback):
    """A progress bar, and the mean return and cost of the episodes of each rollout."""

    def __init__(self, total: int) -> None:
        super().__init__()
        self.total = total
        self.rows: list[tuple[int, float, float, float]] = []
        self._returns: list[float] = []
        self._costs: list[float] = []
        self._running = np.zeros(0)
        self._cost = np.zeros(0)

    def _on_training_start(self) -> None:
        self.bar = tqdm(total=self.total, unit="step", mininterval=10,
                        desc=type(self.model).__name__)
        n = self.training_env.num_envs
        self._running, self._cost = np.zeros(n), np.zeros(n)
        self.t0 = time.perf_counter()

    def _on_step(self) -> bool:
        env: Any = self.training_env  # a VecNormalize: the rewards before normalising
        rewards = env.get_original_reward()
        infos, dones = self.locals["infos"], self.locals["dones"]
        self._running += rewards
        self._cost += [i.get("cost", 0.0) for i in infos]
        for k in np.flatnonzero(dones):
            self._returns.append(float(self._running[k]))
            self._costs.append(float(self._cost[k]))
            self._running[k] = self._cost[k] = 0.0
        self.bar.update(self.training_env.num_envs)
        return True

    def _on_rollout_end(self) -> None:
        if self._returns:
            self.rows.append((self.num_timesteps, float(np.mean(self._returns)),
                              float(np.mean(self._costs)), time.perf_counter() - self.t0))
            self.bar.set_postfix(ret=f"{self.rows[-1][1]:.2f}",
                                 cost=f"{self.rows[-1][2]:.0f}$")
            self._returns, self._costs = [], []

    def _on_training_end(self) -> None:
        self.bar.close()


def save_trained(out: Path, model: BaseAlgorithm, env: VecNormalize, options: Mapping[str, Any],
                 recipe: Mapping[str, Any], rows: Sequence[Row], title: str) -> None:
    """Keep a trained model in ``out``: ``model.zip``, ``model.vecnormalize.pkl`` (the
    observation statistics the policy needs), ``model.env.json`` (the environment
    options, so that ``powergrid evaluate`` builds the same observation),
    ``recipe.json`` (the arguments and the wall time), ``learning_curve.csv`` and
    ``learning_curve.png``."""
    out.mkdir(parents=True, exist_ok=True)
    model.save(out / "model.zip")
    with open(out / "model.vecnormalize.pkl", "wb") as f:
        pickle.dump((env.obs_rms, env.clip_obs, env.epsilon), f)
    save_env_options(out / "model.zip", options)
    (out / "recipe.json").write_text(json.dumps(dict(recipe), indent=1) + "\n")
    with open(out / "learning_curve.csv", "w") as f:
        f.write("timesteps,mean_return,mean_episode_cost,wall_s\n")
        for row in rows:
            f.write(",".join(f"{v:.6g}" for v in row) + "\n")
    steps, returns, costs, _ = zip(*rows, strict=True) if rows else ((), (), (), ())
    plot_learning_curve(steps, returns, costs, out / "learning_curve.png",
                        xlabel="environment steps", return_label="mean episode return",
                        title=title)


def learn_and_save(model: BaseAlgorithm, env: VecNormalize, timesteps: int, out: Path,
                   options: Mapping[str, Any], recipe: Mapping[str, Any], title: str,
                   whole_action: Callable[[], Any] | None = None) -> list[Row]:
    """Train ``model`` for ``timesteps`` with a :class:`Progress`, make it a whole-action
    model (``whole_action()``, when some controls were held), keep it in ``out``
    (:func:`save_trained`, the wall time added to ``recipe``), close ``env``; the
    learning curve's rows."""
    progress = Progress(timesteps)
    t0 = time.perf_counter()
    model.learn(total_timesteps=timesteps, callback=progress)
    wall = time.perf_counter() - t0
    if whole_action is not None:
        whole_action()
    save_trained(out, model, env, options, {**recipe, "wall_s": round(wall, 1)},
                 progress.rows, title)
    env.close()
    print(f"saved {out / 'model.zip'} ({timesteps} steps, {wall:.0f} s); learning curve in"
          f" {out / 'learning_curve.png'}")
    return progress.rows
