"""Train Stable-Baselines3 PPO on the IEEE 13 feeder, through the co-simulation.

    python examples/train_ppo_ieee13.py --timesteps 2000000 --out results/ppo_ieee13 \\
        --price-forecast-steps 24 --reward-baseline exogenous_bill
    powergrid evaluate ieee13 --policy results/ppo_ieee13/model.zip --policy idle \\
        --policy rule --policy oracle --days 30

Many copies of the feeder run in one batched co-simulation world
(``gymnasium.make_vec(..., vectorization_mode="vector_entry_point")``), handed to SB3 by
:class:`rl_bridge.sb3.SB3VecEnv`, which normalises the actions to ``Box(-1, 1)`` (the
discrete controls -- tap, capacitor steps, unit commitment -- as one more dimension
each); observations and rewards are normalised by SB3's ``VecNormalize``.
``--price-forecast-steps N`` shows the agent the price of the next N steps (day-ahead
prices); ``--reward-baseline exogenous_bill`` rewards it for its cost less the bill of
the step with no device acting (both off by default; see :class:`rl_bridge.env.GridEnv`).
Writes ``model.zip``, ``model.vecnormalize.pkl`` (the observation statistics the policy
needs), ``model.env.json`` (the environment options, so that ``powergrid evaluate``
builds the same observation), ``learning_curve.csv`` and ``learning_curve.png`` to
``--out``.
"""

from __future__ import annotations

import argparse
import pickle
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import VecNormalize
from tqdm import tqdm

import powergrid  # noqa: F401 - registers the environment ids
from powergrid.plots import plot_learning_curve
from rl_bridge.options import REWARD_BASELINES
from rl_bridge.policies import save_env_options
from rl_bridge.sb3 import SB3VecEnv


class Progress(BaseCallback):
    """A progress bar, and the mean return and cost of the episodes of each rollout."""

    def __init__(self, total: int) -> None:
        super().__init__()
        self.total = total
        self.rows: list[tuple[int, float, float, float]] = []
        self._returns: list[float] = []
        self._costs: list[float] = []
        self._running: np.ndarray | None = None
        self._cost: np.ndarray | None = None

    def _on_training_start(self) -> None:
        self.bar = tqdm(total=self.total, unit="step", desc="PPO ieee13")
        n = self.training_env.num_envs
        self._running, self._cost = np.zeros(n), np.zeros(n)
        self.t0 = time.perf_counter()

    def _on_step(self) -> bool:
        rewards = self.training_env.get_original_reward()
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
            self.bar.set_postfix(ret=f"{self.rows[-1][1]:.1f}",
                                 cost=f"{self.rows[-1][2]:.0f}$")
            self._returns, self._costs = [], []

    def _on_training_end(self) -> None:
        self.bar.close()


def main(argv: list[str] | None = None) -> list[tuple[int, float, float, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timesteps", type=int, default=2_000_000)
    parser.add_argument("--num-envs", type=int, default=32)
    parser.add_argument("--episode-length", type=int, default=24)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--price-forecast-steps", type=int, default=0,
                        help="prices of the next N steps in the observation (default 0)")
    parser.add_argument("--reward-baseline", choices=REWARD_BASELINES, default="none",
                        help="reward from the cost less this baseline (default none)")
    parser.add_argument("--out", default="results/ppo_ieee13")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    options = {"episode_length": args.episode_length, "train": True,
               "price_forecast_steps": args.price_forecast_steps,
               "reward_baseline": args.reward_baseline}
    vec = gym.make_vec("powergrid/IEEE13-v0", num_envs=args.num_envs,
                       vectorization_mode="vector_entry_point", **options)
    env = VecNormalize(SB3VecEnv(vec), norm_obs=True, norm_reward=True, gamma=0.99)
    env.seed(args.seed)
    model = PPO("MlpPolicy", env, n_steps=256, batch_size=2048, n_epochs=5,
                learning_rate=3e-4, gamma=0.99, gae_lambda=0.95, ent_coef=0.0,
                policy_kwargs={"net_arch": [128, 128]}, seed=args.seed, device="cpu")
    progress = Progress(args.timesteps)
    model.learn(total_timesteps=args.timesteps, callback=progress)
    model.save(out / "model.zip")
    with open(out / "model.vecnormalize.pkl", "wb") as f:
        pickle.dump((env.obs_rms, env.clip_obs, env.epsilon), f)
    save_env_options(out / "model.zip", options)
    with open(out / "learning_curve.csv", "w") as f:
        f.write("timesteps,mean_return,mean_episode_cost,wall_s\n")
        for row in progress.rows:
            f.write(",".join(f"{v:.6g}" for v in row) + "\n")
    plot_curve(progress.rows, out / "learning_curve.png")
    env.close()
    print(f"saved {out / 'model.zip'}; learning curve in {out / 'learning_curve.png'}")
    return progress.rows


def plot_curve(rows: list[tuple[int, float, float, float]], path: Path) -> None:
    steps, returns, costs, _ = zip(*rows, strict=True) if rows else ((), (), (), ())
    plot_learning_curve(steps, returns, costs, path, xlabel="environment steps",
                        return_label="mean episode return (24 h)",
                        title="PPO on powergrid/IEEE13-v0 (batched co-simulation)")


if __name__ == "__main__":
    main()
