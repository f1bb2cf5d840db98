"""Train Ray RLlib PPO with one shared policy on the three networked microgrids.

    python examples/train_mappo_microgrids.py --iterations 50 --num-workers 2 \\
        --checkpoint-freq 10 --no-cuda --out results/mappo_microgrids

The PettingZoo environment :mod:`rl_bridge.microgrids_v0` (each agent ``MG1..MG3``
controls its battery and generator; every step is a mosaik co-simulation step) is
wrapped by :class:`rl_bridge.wrappers.NormalizeParallelActions` (actions in
``Box(-1, 1)``, so the three agents' different generator sizes share one action scale),
:class:`rl_bridge.wrappers.SharedObservationSpace` (one observation space, the union of
the agents' bounds) and RLlib's ``ParallelPettingZooEnv``. All agents map to the policy ``shared``
(parameter sharing, the usual "MAPPO" set-up on the new API stack). Each iteration prints
the mean episode return, cost ($) and safety; every ``--checkpoint-freq`` iterations a
checkpoint is written to ``--out``; at the end ``learning_curve.csv`` and
``learning_curve.png``, and the shared policy alone (``model``, an RLlib ``RLModule``
directory of about 120 kB, with ``model.env.json``, the environment options), which
``powergrid evaluate microgrids --policy <out>/model`` plays for every agent
(:class:`rl_bridge.policies.RLlibModule`).

The environment options are the SB3 recipe's (``examples/train_ppo_microgrids.py``): each
agent observes its own zone, the prices of the next 24 hours and its one-hot; its reward
is computed relative to its zone's bill with no device acting, ``safety_scale=1``, and
``--reward-scope`` as there.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
from ray.rllib.algorithms.ppo import PPOConfig
from ray.rllib.callbacks.callbacks import RLlibCallback
from ray.rllib.env.wrappers.pettingzoo_env import ParallelPettingZooEnv
from ray.tune.registry import register_env

from powergrid.plots import plot_learning_curve
from rl_bridge import microgrids_v0
from rl_bridge.options import REWARD_SCOPES, shared_policy_options
from rl_bridge.policies import save_env_options
from rl_bridge.wrappers import NormalizeParallelActions, SharedObservationSpace

ENV_NAME = "powergrid_microgrids_v0"
POLICY = "shared"


def make_env(env_config: dict[str, Any]) -> ParallelPettingZooEnv:
    """The RLlib multi-agent environment (``env_config`` goes to ``parallel_env``)."""
    return ParallelPettingZooEnv(SharedObservationSpace(NormalizeParallelActions(
        microgrids_v0.parallel_env(dict(env_config)))))


class GridMetrics(RLlibCallback):
    """Sums each episode's cost ($, all agents) and safety (the agents' mean) and logs
    them, so that they appear in every iteration's results under ``env_runners``."""

    def on_episode_step(self, *, episode: Any, **kwargs: Any) -> None:
        infos = episode.get_infos(-1)
        cost = sum(i.get("cost", 0.0) for i in infos.values())
        safety = np.mean([i.get("safety", 0.0) for i in infos.values()]) if infos else 0.0
        totals = episode.custom_data.setdefault("totals", [0.0, 0.0])
        totals[0] += float(cost)
        totals[1] += float(safety)

    def on_episode_end(self, *, episode: Any, metrics_logger: Any, **kwargs: Any) -> None:
        cost, safety = episode.custom_data.get("totals", [0.0, 0.0])
        metrics_logger.log_value("episode_cost", cost, reduce="mean")
        metrics_logger.log_value("episode_safety", safety, reduce="mean")


def env_options(args: argparse.Namespace) -> dict[str, Any]:
    """The environment options of the recipe (the SB3 recipe's learnability options)."""
    return shared_policy_options(args.episode_length, args.price_forecast_steps,
                                 args.reward_scope, args.safety_scale)


def build_config(args: argparse.Namespace) -> PPOConfig:
    """The PPO configuration: one shared policy, CPU-only with ``--no-cuda``."""
    episode = args.episode_length
    batch = args.train_batch_size or max(episode * 3, 4 * episode * max(args.num_workers, 1))
    config = (
        PPOConfig()
        .environment(ENV_NAME, env_config=env_options(args))
        .rl_module(model_config={"fcnet_hiddens": list(args.net_arch)})
        .env_runners(num_env_runners=args.num_workers, num_envs_per_env_runner=1,
                     rollout_fragment_length="auto", num_cpus_per_env_runner=1)
        .multi_agent(policies={POLICY},
                     policy_mapping_fn=lambda agent_id, episode, **kw: POLICY)
        .training(train_batch_size_per_learner=batch,
                  minibatch_size=args.minibatch_size or min(128, batch),
                  num_epochs=args.num_epochs, lr=args.learning_rate, gamma=0.99,
                  lambda_=0.95)
        .callbacks(GridMetrics)
        .debugging(seed=args.seed, log_level="ERROR")
    )
    if args.no_cuda:
        config = config.learners(num_gpus_per_learner=0)
    return config


def main(argv: list[str] | None = None) -> list[tuple[int, float, float, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=50)
    parser.add_argument("--num-workers", type=int, default=1,
                        help="RLlib env runners (0: sample in the driver)")
    parser.add_argument("--checkpoint-freq", type=int, default=10,
                        help="iterations between checkpoints (0: only the last)")
    parser.add_argument("--no-cuda", action="store_true", help="train on the CPU only")
    parser.add_argument("--episode-length", type=int, default=24, help="steps (hours)")
    parser.add_argument("--train-batch-size", type=int, default=0,
                        help="agent steps per iteration (0: from workers and length)")
    parser.add_argument("--minibatch-size", type=int, default=0)
    parser.add_argument("--num-epochs", type=int, default=10)
    parser.add_argument("--learning-rate", type=float, default=3e-4)
    parser.add_argument("--net-arch", type=int, nargs="+", default=[128, 128])
    parser.add_argument("--price-forecast-steps", type=int, default=24)
    parser.add_argument("--safety-scale", type=float, default=1.0)
    parser.add_argument("--reward-scope", choices=REWARD_SCOPES, default="agent")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="results/mappo_microgrids")
    args = parser.parse_args(argv)
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)

    import ray

    ray.init(num_cpus=max(2, args.num_workers + 1), include_dashboard=False,
             log_to_driver=False, ignore_reinit_error=True)
    register_env(ENV_NAME, make_env)
    algo = build_config(args).build_algo()
    rows: list[tuple[int, float, float, float]] = []
    t0 = time.perf_counter()
    try:
        for it in range(1, args.iterations + 1):
            runners = algo.train()["env_runners"]
            row = (it, _mean(runners.get("episode_return_mean")),
                   _mean(runners.get("episode_cost")), _mean(runners.get("episode_safety")))
            rows.append(row)
            print(f"iter {it:4d}  return {row[1]:10.2f}  cost {row[2]:10.1f} $"
                  f"  safety {row[3]:8.3f}  ({time.perf_counter() - t0:6.1f} s)", flush=True)
            if (args.checkpoint_freq and it % args.checkpoint_freq == 0) \
                    or it == args.iterations:
                path = algo.save_to_path(str(out / f"checkpoint_{it:05d}"))
                print(f"checkpoint {path}", flush=True)
        algo.get_module(POLICY).save_to_path(str(out / "model"))
        save_env_options(out / "model", env_options(args))
        print(f"policy in {out / 'model'}", flush=True)
    finally:
        algo.stop()
        ray.shutdown()
    with open(out / "learning_curve.csv", "w") as f:
        f.write("iteration,mean_return,mean_episode_cost,mean_episode_safety\n")
        for row in rows:
            f.write(",".join(f"{v:.6g}" for v in row) + "\n")
    plot_curve(rows, out / "learning_curve.png")
    print(f"learning curve in {out / 'learning_curve.png'}")
    return rows


def _mean(value: Any) -> float:
    """RLlib reports nan (or nothing) before the first episode ends."""
    return float("nan") if value is None else float(value)


def plot_curve(rows: list[tuple[int, float, float, float]], path: Path) -> None:
    its, returns, costs, _ = zip(*rows, strict=True) if rows else ((), (), (), ())
    plot_learning_curve(its, returns, costs, path, xlabel="iteration",
                        return_label="mean episode return (sum over agents)",
                        title="RLlib PPO, shared policy, on microgrids_v0")


if __name__ == "__main__":
    main()
