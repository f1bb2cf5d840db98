"""Train Stable-Baselines3 PPO, one policy shared by the three microgrid agents.

    python examples/train_ppo_microgrids.py --seed 0 --out results/ppo_microgrids
    powergrid evaluate microgrids --policy results/ppo_microgrids/model.zip --policy idle \\
        --policy rule --policy oracle --days 14

Each of ``--num-envs`` copies of the scenario in one batched world
(:func:`rl_bridge.microgrids_v0.vector_env`, every step a mosaik co-simulation step of
the IEEE 34 feeder with its three microgrids, every copy's power flow in one batch;
each copy plays the episodes a PettingZoo env seeded like it would) gives three slots of
one SB3 ``VecEnv`` (:class:`rl_bridge.sb3.BatchedSharedPolicyVecEnv`), one per agent:
one policy learns from all three agents' experience (parameter sharing) and each agent
plays it on its own observation, to which its one-hot is appended
(``agent_indicator``: the generators' fuel costs differ, so the same state may call for
different outputs). Observations and rewards are normalised by SB3's ``VecNormalize``.

The recipe is the defaults below; it carries over what made the IEEE 13 recipe learn
(``examples/train_ppo_ieee13.py``): each agent observes its own zone
(``centralized=False``) and the prices of the next 24 hours (``price_forecast_steps``);
its reward is computed from its devices' costs and its zone's exchange valued at the
price both ways (``--reward-scope contribution``: what its zone moves in the system's
cost) less that exchange with no device acting (``reward_baseline="exogenous_bill"``);
``safety_scale=1``; 16 copies in one world give 48 slots, 6,144 samples per update, the
learning rate falling linearly to 0 (with 4 copies, 3,072 samples and a constant rate the
three seeds recovered 78-86 % of the oracle's saving; with these 87-91 %, README); the policy
starts at idle and explores the active power of the battery and of the generator only
(``--controls``; reactive power held at 0), with a wide spread (``--log-std-init 0``:
std 1 in the normalised action; with e^-1 the generators, off at idle, at the edge of
their range, were rarely tried at full output: 63 % of the oracle's saving against 81 %,
README). The saved model is an ordinary PPO model over
each agent's whole action, so ``powergrid evaluate microgrids --policy <model.zip>``
plays it for every agent (:func:`rl_bridge.policies.model_policies`).

Writes ``model.zip``, ``model.vecnormalize.pkl``, ``model.env.json``, ``recipe.json``,
``learning_curve.csv`` and ``learning_curve.png`` to ``--out``
(:func:`rl_bridge.sb3_recipe.save_trained`); the curve's episode cost is per agent.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from rl_bridge import microgrids_v0
from rl_bridge.options import REWARD_SCOPES, shared_policy_options
from rl_bridge.sb3 import BatchedSharedPolicyVecEnv, idle_relaxed_action, relaxed_names
from rl_bridge.sb3_recipe import held_env, learn_and_save, recipe_ppo, whole_action_model

#: the controls the agents explore with ``--controls`` (by device and control, without
#: the microgrid's prefix); the others are held idle
CONTROLS: dict[str, tuple[str, ...] | None] = {
    "p": ("ess1.p_mw", "dg1.p_mw"),
    "battery": ("ess1.p_mw",),
    "all": None,
}


def main(argv: list[str] | None = None) -> list[tuple[int, float, float, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timesteps", type=int, default=3_600_000,
                        help="agent-steps (three per environment step)")
    parser.add_argument("--num-envs", type=int, default=16,
                        help="copies of the scenario in the batched world")
    parser.add_argument("--episode-length", type=int, default=24)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--price-forecast-steps", type=int, default=24)
    parser.add_argument("--safety-scale", type=float, default=1.0)
    parser.add_argument("--reward-scope", choices=REWARD_SCOPES, default="contribution",
                        help="each agent rewarded for its own zone's cost, for a third"
                             " of the system's (the feeder's bill and every device's cost),"
                             " or for its contribution to it (its own, its zone's exchange"
                             " at the price both ways)")
    parser.add_argument("--controls", choices=sorted(CONTROLS), default="p")
    parser.add_argument("--log-std-init", type=float, default=0.0)
    parser.add_argument("--gamma", type=float, default=0.99)
    parser.add_argument("--learning-rate", type=float, default=5e-4)
    parser.add_argument("--lr-schedule", choices=("constant", "linear"), default="linear",
                        help="linear: the learning rate falls to 0 over the training")
    parser.add_argument("--n-steps", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=2048)
    parser.add_argument("--n-epochs", type=int, default=10)
    parser.add_argument("--net-arch", type=int, nargs="+", default=[128, 128])
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--out", default="results/ppo_microgrids")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    options = shared_policy_options(args.episode_length, args.price_forecast_steps,
                                    args.reward_scope, args.safety_scale)
    envs = microgrids_v0.vector_env(args.num_envs, dict(options))
    inner = BatchedSharedPolicyVecEnv(envs)
    full_space = inner.action_space
    agents = inner.agents
    idle = idle_relaxed_action(envs, agents[0])
    for agent in agents[1:]:  # one policy: the agents' idle actions must agree
        np.testing.assert_allclose(idle_relaxed_action(envs, agent), idle)
    names = [n.split(".", 1)[1] for n in relaxed_names(envs, agents[0])]
    wanted = CONTROLS[args.controls]
    env, keep = held_env(inner, idle, names, wanted, True, args.gamma, args.seed)
    model = recipe_ppo(env, args, idle[keep])
    return learn_and_save(
        model, env, args.timesteps, out, options, vars(args),
        "PPO, one policy shared by the microgrids' agents",
        None if wanted is None else lambda: whole_action_model(model, full_space, keep, idle))

if __name__ == "__main__":
    main()
