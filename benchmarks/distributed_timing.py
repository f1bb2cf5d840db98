"""Steps/s of the microgrids PettingZoo env in distributed mode, per broker.

    python benchmarks/distributed_timing.py [--steps 500] [--redis redis://127.0.0.1:6379/0]
"""

from __future__ import annotations

import argparse

from benchmarks.suite import run_multi
from rl_bridge import microgrids_v0


def steps_per_s(broker: str, protocol: str, steps: int) -> float:
    env = microgrids_v0.parallel_env(centralized=False, protocol=protocol,
                                     message_broker=broker, max_episode_steps=24)
    try:
        return run_multi(env, steps)
    finally:
        env.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    for protocol in ("price_signal", "p2p", "consensus"):
        for broker in ("in_memory", args.redis):
            rate = steps_per_s(broker, protocol, args.steps)
            label = "redis" if broker.startswith("redis") else broker
            print(f"microgrids distributed {protocol:12s} {label:9s} {rate:7.1f} steps/s")


if __name__ == "__main__":
    main()
