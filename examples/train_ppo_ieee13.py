"""Train Stable-Baselines3 PPO on the IEEE 13 feeder, through the co-simulation.

    python examples/train_ppo_ieee13.py --seed 0 --out results/ppo_ieee13
    powergrid evaluate ieee13 --policy results/ppo_ieee13/model.zip --policy idle \\
        --policy rule --policy oracle --days 30

Many copies of the feeder run in one batched co-simulation world
(``gymnasium.make_vec(..., vectorization_mode="vector_entry_point")``), handed to SB3 by
:class:`rl_bridge.sb3.SB3VecEnv`, which normalises the actions to ``Box(-1, 1)`` (the
discrete controls -- tap, capacitor steps, unit commitment -- as one more dimension
each); observations and rewards are normalised by SB3's ``VecNormalize``; one torch
thread.

The recipe is the defaults below (issue 16's experiments): 500,000 steps, 32 copies,
24-hour episodes, PPO with ``n_steps=256, batch_size=2048, n_epochs=10, lr=5e-4,
gamma=0.99``, a [128, 128] MLP. Over the first 30 test days it recovered 69 %, 68 % and
67 % of the idle-to-oracle saving (seeds 0, 1, 2; against the oracle of 2026-12-02, whose
successive linearisation found 83 $ more than the first one's, against which the shares
were 72.5, 71.5, 70.7 %), with no voltage violation, about 30 battery cycles (the
oracle's 32), in 20-22 min of wall time each while the
2-core machine ran at a load of about 8 (an unloaded core does the 500,000 steps in
roughly 5 min). What makes it learn:

* ``--controls battery``: the agent explores and learns the battery's active power
  only; every other control is held at its no-intervention value (PV and wind
  uncurtailed, generator off, tap and capacitor steps where they start, no reactive
  power) -- the ``idle`` policy's actions in the relaxed ``Box(-1, 1)``
  (:func:`rl_bridge.sb3.idle_relaxed_action`, :class:`rl_bridge.sb3.HeldControls`).
  The saved model is an ordinary PPO model over the *whole* action space whose mean
  action for the held controls is that fixed value (zero weights, the idle value as
  bias), so ``powergrid evaluate`` plays it like any other. The policy starts at idle
  (the output layer's bias) with a standard deviation of ``exp(--log-std-init)``.
  ``--controls all`` explores every control from that idle start. Why: the middle of
  the relaxed range is not doing nothing (it commits the generator, curtails PV by
  half and moves the tap 6 steps), and Gaussian exploration over the tap and capacitor
  dimensions pays their wear costs every step; a random policy over every control
  costs ~650 $ a day more than idle, while the whole idle-to-oracle saving is ~52 $ a
  day, 85 % of it the battery's arbitrage.
* ``--safety-scale 1`` (the env's ``safety_scale``; its own default is 100): a
  battery setpoint the SOC window cuts is a safety term (``soc_limit``, |requested -
  applied| per unit of rating), and at 100 per unit a request of full power at a full
  battery costs as much reward as 10,000 $ (the penalty's cap), while the optimal
  schedule runs the battery to both ends of its window: with 100, 1 M steps of an
  otherwise equal recipe recovered 22 %, with 1, 70 %. Voltage violations are judged
  by ``powergrid evaluate`` either way (none in any run).
* ``--price-forecast-steps 24`` (the prices of the next 24 hours, day-ahead prices) and
  ``--reward-baseline exogenous_bill`` (the reward from the cost less the bill of the
  step with no device acting; see :class:`rl_bridge.env.GridEnv`).

Writes ``model.zip``, ``model.vecnormalize.pkl`` (the observation statistics the policy
needs), ``model.env.json`` (the environment options, so that ``powergrid evaluate``
builds the same observation), ``recipe.json`` (the arguments and the wall time),
``learning_curve.csv`` and ``learning_curve.png`` to ``--out``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import gymnasium as gym
import torch

import powergrid  # noqa: F401 - registers the environment ids
from rl_bridge.options import REWARD_BASELINES
from rl_bridge.sb3 import SB3VecEnv, idle_relaxed_action, relaxed_names
from rl_bridge.sb3_recipe import held_env, learn_and_save, recipe_ppo, whole_action_model

#: the controls the agent explores with ``--controls``; the others are held idle
CONTROLS: dict[str, tuple[str, ...] | None] = {
    "battery": ("ess1.p_mw",),
    "battery-pq": ("ess1.p_mw", "ess1.q_mvar"),
    "battery-dg": ("ess1.p_mw", "dg1.p_mw", "dg1.on"),
    "all": None,
}


def main(argv: list[str] | None = None) -> list[tuple[int, float, float, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timesteps", type=int, default=500_000)
    parser.add_argument("--num-envs", type=int, default=32)
    parser.add_argument("--episode-length", type=int, default=24)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--price-forecast-steps", type=int, default=24,
                        help="prices of the next N steps in the observation (default 24)")
    parser.add_argument("--reward-baseline", choices=REWARD_BASELINES,
                        default="exogenous_bill",
                        help="reward from the cost less this baseline (default exogenous_bill)")
    parser.add_argument("--safety-scale", type=float, default=1.0,
                        help="the env's safety_scale (default 1; the env's own default is"
                             " 100)")
    parser.add_argument("--controls", choices=sorted(CONTROLS), default="battery",
                        help="controls the agent learns; the others are held idle")
    parser.add_argument("--log-std-init", type=float, default=-1.0)
    parser.add_argument("--gamma", type=float, default=0.99)
    parser.add_argument("--learning-rate", type=float, default=5e-4)
    parser.add_argument("--n-steps", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=2048)
    parser.add_argument("--n-epochs", type=int, default=10)
    parser.add_argument("--ent-coef", type=float, default=0.0)
    parser.add_argument("--net-arch", type=int, nargs="+", default=[128, 128])
    parser.add_argument("--no-norm-reward", action="store_true")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--physics", choices=("balanced", "three_phase"), default="balanced",
                        help="three_phase: train on the feeder's OpenDSS circuit (observing"
                             " every bus-phase; the 'three-phase' extra)")
    parser.add_argument("--out", default="results/ppo_ieee13")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    options: dict[str, Any] = {"episode_length": args.episode_length, "train": True,
                               "price_forecast_steps": args.price_forecast_steps,
                               "reward_baseline": args.reward_baseline}
    if args.safety_scale != 100.0:
        options["safety_scale"] = args.safety_scale
    if args.physics != "balanced":
        options["physics"] = args.physics
    vec = gym.make_vec("powergrid/IEEE13-v0", num_envs=args.num_envs,
                       vectorization_mode="vector_entry_point", **options)
    inner = SB3VecEnv(vec)
    full_space = inner.action_space
    base = vec.unwrapped if hasattr(vec, "unwrapped") else vec
    idle, names = idle_relaxed_action(base), relaxed_names(base)
    wanted = CONTROLS[args.controls]
    env, keep = held_env(inner, idle, names, wanted, not args.no_norm_reward, args.gamma,
                         args.seed)
    model = recipe_ppo(env, args, idle[keep], ent_coef=args.ent_coef)
    return learn_and_save(
        model, env, args.timesteps, out, options, vars(args),
        "PPO on powergrid/IEEE13-v0 (batched co-simulation)",
        None if wanted is None else lambda: whole_action_model(model, full_space, keep, idle))

if __name__ == "__main__":
    main()
