"""Re-create the README's results: tables as JSON and Markdown, and the learning curves.

    python examples/reproduce_results.py              # the committed models in models/
    python examples/reproduce_results.py --train      # train every seed from scratch first

For each scenario of :data:`RESULTS` every policy (``idle``, ``rule``, ``oracle`` and the
trained models) is played through the same co-simulation over the same test days and
measured by the same code (:func:`scenarios.evaluate.evaluate`, as ``powergrid
evaluate``). Written to ``--out`` (default ``docs/results``): ``<scenario>.json`` (every
policy's figures, the learned policies' mean and spread over seeds, the commands and
the date), ``results.md`` (the tables) and ``ppo_<scenario>_learning_curves.png``
(mean episode cost over training, one line per seed, from each model's
``learning_curve.csv``). With ``--train`` each seed is trained by its recipe's script
(hyperparameters in the script) into ``--models`` first; that takes 20-30 minutes per
seed on a 2-core machine.
"""

from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from anywhere in a checkout

from powergrid.results import write_json_atomic  # noqa: E402
from scenarios.evaluate import evaluate, format_table  # noqa: E402

SEEDS = (0, 1, 2)
#: per scenario: test days, the recipe's training script and the models' folder prefix
RESULTS: dict[str, dict[str, Any]] = {
    "ieee13": {"days": 30, "script": "examples/train_ppo_ieee13.py",
               "models": "ppo_ieee13_seed"},
    "microgrids": {"days": 14, "script": "examples/train_ppo_microgrids.py",
                   "models": "ppo_microgrids_seed"},
}


def train(scenario: str, models: Path) -> None:
    """Train every seed of ``scenario``'s recipe into ``models/<prefix><seed>``."""
    spec = RESULTS[scenario]
    for seed in SEEDS:
        out = models / f"{spec['models']}{seed}"
        subprocess.run([sys.executable, str(ROOT / spec["script"]), "--seed", str(seed),
                        "--out", str(out)], check=True)


def model_paths(scenario: str, models: Path) -> list[Path]:
    """The trained models of ``scenario`` found in ``models`` (one per seed)."""
    prefix = RESULTS[scenario]["models"]
    if prefix is None:
        return []
    return [p / "model.zip" for seed in SEEDS
            if (p := models / f"{prefix}{seed}").joinpath("model.zip").exists()]


def load_model(path: str, prepared: Any) -> Any:
    from rl_bridge.policies import model_policies

    return model_policies(path, prepared)


def summarise_seeds(results: dict[str, dict[str, float]], learned: list[str]
                    ) -> dict[str, Any]:
    """Mean, minimum and maximum over the learned policies' rows."""
    if not learned:
        return {}
    out: dict[str, Any] = {}
    for key in ("total_cost", "recovered_share", "voltage_violations", "battery_cycles",
                "total_safety"):
        values = np.array([results[p][key] for p in learned if key in results[p]])
        if len(values):
            out[key] = {"mean": float(values.mean()), "min": float(values.min()),
                        "max": float(values.max())}
    return out


def plot_curves(paths: list[Path], png: Path, title: str) -> None:
    """Mean episode cost over training steps, one line per seed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    for path in paths:
        curve = pd.read_csv(path.parent / "learning_curve.csv")
        ax.plot(curve["timesteps"], curve["mean_episode_cost"], lw=1,
                label=path.parent.name)
    ax.set_xlabel("training steps (an agent's step each)")
    ax.set_ylabel("mean training-episode cost ($ per day and agent)")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)


def commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, check=True,
                              capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def baselines_first(rows: dict[str, Any]) -> dict[str, Any]:
    """``rows`` (policy -> figures) with idle, rule and oracle first, as the tables show
    them (a JSON file keeps its keys sorted)."""
    order = [p for p in ("idle", "rule", "oracle") if p in rows]
    return {p: rows[p] for p in order + sorted(set(rows) - set(order))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", action="store_true",
                        help="train every seed from scratch into --models first")
    parser.add_argument("--models", default=None,
                        help="the models' folder (default: models/, or results/models"
                             " with --train)")
    parser.add_argument("--scenario", action="append", choices=sorted(RESULTS),
                        help="only these scenarios (repeatable; default all)")
    parser.add_argument("--days", type=int, default=None,
                        help="test days (default: each scenario's, as in the README)")
    parser.add_argument("--out", default=str(ROOT / "docs" / "results"))
    args = parser.parse_args(argv)
    models = Path(args.models or (ROOT / "results" / "models" if args.train
                                  else ROOT / "models"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tables = []
    for scenario in args.scenario or sorted(RESULTS):
        spec = RESULTS[scenario]
        if args.train and spec["script"]:
            train(scenario, models)
        learned = model_paths(scenario, models)
        policies = ["idle", "rule", "oracle", *map(str, learned)]
        days = args.days or spec["days"]
        results = evaluate(scenario, policies, days=days, load_policy=load_model)
        rows = {(Path(p).parent.name if p in map(str, learned) else p): m
                for p, m in results.items()}
        names = [Path(p).parent.name for p in map(str, learned)]
        record = {"scenario": scenario, "days": days,
                  "date": datetime.date.today().isoformat(), "commit": commit(),
                  "command": "python examples/reproduce_results.py"
                             + (" --train" if args.train else ""),
                  "policies": rows, "learned_over_seeds": summarise_seeds(rows, names)}
        write_json_atomic(out / f"{scenario}.json", record)
        tables.append(format_table(rows, scenario, days))
        if learned:
            name = spec["models"].removesuffix("_seed")
            plot_curves(learned, out / f"{name}_learning_curves.png",
                        f"PPO on {scenario}, {len(learned)} training seeds")
        print(tables[-1], "\n")
    for scenario in sorted(set(RESULTS) - set(args.scenario or RESULTS)):
        kept = out / f"{scenario}.json"  # a scenario not re-run keeps its table
        if kept.exists():
            record = json.loads(kept.read_text())
            tables.append(format_table(baselines_first(record["policies"]), scenario,
                                       record["days"]))
    (out / "results.md").write_text("\n\n".join(sorted(tables)) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
