"""Train Stable-Baselines3 SAC on the IEEE 13 feeder, through the co-simulation.

    python examples/train_sac_ieee13.py --timesteps 500000 --out results/sac_ieee13
    powergrid evaluate ieee13 --policy results/sac_ieee13/model.zip --policy idle \\
        --policy rule --policy oracle --days 30

The same environment and options as ``examples/train_ppo_ieee13.py`` (batched world,
prices ahead, reward relative to the bill with no device acting, the battery's active
power learned and every other control held at its no-intervention value), trained
off-policy. Observations are normalised by ``VecNormalize`` (rewards are not: SAC's
targets want the reward's own scale, multiplied by ``--reward-multiplier``). The saved
model acts over the whole relaxed action space like the PPO one: the held controls'
deterministic action is their idle value whatever the observation (the critics of the
saved model are fresh ones of the whole action space; acting does not use them).

Not yet a result: on the 2-core machine under load (issue 16's runs) this trained at
~36 environment steps/s (16 copies, 4 gradient steps per vector step), ten times slower
than the PPO recipe, and no SAC run has been evaluated over the 30 test days yet; the
PPO recipe (``examples/train_ppo_ieee13.py``) is the documented one.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import SAC

import powergrid  # noqa: F401 - registers the environment ids
from rl_bridge.options import REWARD_BASELINES
from rl_bridge.sb3 import SB3VecEnv, idle_relaxed_action, relaxed_names
from rl_bridge.sb3_recipe import held_env, learn_and_save

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_ppo_ieee13 import CONTROLS  # noqa: E402


def whole_action_model(model: SAC, full_space: Any, keep: list[int],
                       fixed: np.ndarray) -> SAC:
    """``model``'s actor over the whole relaxed action space: the held dimensions'
    deterministic action ``tanh(bias)`` is ``fixed`` (zero weights)."""
    policy = model.policy
    full = type(policy)(policy.observation_space, full_space, lambda _: 3e-4,
                        **model.policy_kwargs)
    actor_state = {k: v for k, v in policy.actor.state_dict().items()
                   if not k.startswith(("mu.", "log_std."))}
    full.actor.load_state_dict(actor_state, strict=False)
    bias = np.arctanh(np.clip(fixed, -0.999999, 0.999999)) + 10.0 * (np.abs(fixed) >= 1.0) \
        * np.sign(fixed)
    with torch.no_grad():
        for layer in (full.actor.mu, full.actor.log_std):
            layer.weight.zero_()
        full.actor.mu.bias.copy_(torch.as_tensor(bias, dtype=torch.float32))
        full.actor.log_std.bias.fill_(-20.0)
        full.actor.mu.weight[keep] = policy.actor.mu.weight
        full.actor.mu.bias[keep] = policy.actor.mu.bias
        full.actor.log_std.weight[keep] = policy.actor.log_std.weight
        full.actor.log_std.bias[keep] = policy.actor.log_std.bias
    model.policy = full
    model.actor, model.critic, model.critic_target = full.actor, full.critic, \
        full.critic_target
    model.action_space = full_space
    return model


def main(argv: list[str] | None = None) -> list[tuple[int, float, float, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timesteps", type=int, default=500_000)
    parser.add_argument("--num-envs", type=int, default=16)
    parser.add_argument("--episode-length", type=int, default=24)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--price-forecast-steps", type=int, default=24)
    parser.add_argument("--reward-baseline", choices=REWARD_BASELINES,
                        default="exogenous_bill")
    parser.add_argument("--safety-scale", type=float, default=1.0)
    parser.add_argument("--controls", choices=sorted(CONTROLS), default="battery")
    parser.add_argument("--gamma", type=float, default=0.99)
    parser.add_argument("--learning-rate", type=float, default=3e-4)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--buffer-size", type=int, default=300_000)
    parser.add_argument("--gradient-steps", type=int, default=2,
                        help="gradient steps per step of the vector env (num-envs steps)")
    parser.add_argument("--learning-starts", type=int, default=5_000)
    parser.add_argument("--reward-multiplier", type=float, default=1.0)
    parser.add_argument("--net-arch", type=int, nargs="+", default=[128, 128])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default="results/sac_ieee13")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    options: dict[str, Any] = {"episode_length": args.episode_length, "train": True,
                               "price_forecast_steps": args.price_forecast_steps,
                               "reward_baseline": args.reward_baseline}
    if args.safety_scale != 100.0:
        options["safety_scale"] = args.safety_scale
    if args.reward_multiplier != 1.0:
        options["reward_scale"] = 0.01 * args.reward_multiplier
    vec = gym.make_vec("powergrid/IEEE13-v0", num_envs=args.num_envs,
                       vectorization_mode="vector_entry_point", **options)
    base = vec.unwrapped if hasattr(vec, "unwrapped") else vec
    inner = SB3VecEnv(vec)
    full_space = inner.action_space
    idle, names = idle_relaxed_action(base), relaxed_names(base)
    wanted = CONTROLS[args.controls]
    env, keep = held_env(inner, idle, names, wanted, False, args.gamma, args.seed)
    model = SAC("MlpPolicy", env, learning_rate=args.learning_rate,
                buffer_size=args.buffer_size, batch_size=args.batch_size, gamma=args.gamma,
                train_freq=1, gradient_steps=args.gradient_steps,
                learning_starts=args.learning_starts,
                policy_kwargs={"net_arch": list(args.net_arch)}, seed=args.seed, device="cpu")
    return learn_and_save(
        model, env, args.timesteps, out, options, {**vars(args), "algo": "SAC"},
        "SAC on powergrid/IEEE13-v0 (batched co-simulation)",
        None if wanted is None else lambda: whole_action_model(model, full_space, keep, idle))


if __name__ == "__main__":
    main()
