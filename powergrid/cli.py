"""The ``powergrid`` command: list, run and draw scenarios."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scenarios.config import ScenarioConfig


def _cmd_list(args: argparse.Namespace) -> int:
    from scenarios import SCENARIOS, get_config

    for name in SCENARIOS:
        print(f"{name:12s} {get_config(name).description}")
    return 0


class _NotedSignals:
    """Within the block, SIGINT and SIGTERM are noted in :attr:`noted`, not raised: a
    KeyboardInterrupt that lands inside a C extension's import (lightsim2grid,
    matplotlib) leaves it half-registered, and the import after fails with a garbled
    error. ``run_scenario`` takes a noted signal over (and stops the run at once); one
    noted after it is raised as KeyboardInterrupt when the block ends."""

    def __init__(self) -> None:
        self.noted: list[int] = []
        self._previous: dict[int, Any] = {}

    def __call__(self, signum: int, frame: Any) -> None:
        if not self.noted:
            self.noted.append(signum)

    def __enter__(self) -> _NotedSignals:
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self) for s in (signal.SIGINT,
                                                                   signal.SIGTERM)}
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        if self.noted and exc[0] is None:
            raise KeyboardInterrupt


def _lightsim2grid_without_grid2op() -> None:
    """Import lightsim2grid (which pandapower imports) with grid2op hidden. Installed
    (the ``bench`` extra), grid2op would be imported by lightsim2grid's own ``__init__``
    for its grid2op backend, while no command but ``bench`` uses it (`powergrid run
    ieee13` 5.93 s -> 5.53 s median, side by side: most of grid2op's own import is
    matplotlib and scipy, which the run needs anyway). grid2op stays importable afterwards
    (``lightsim2grid.lightSimBackend`` imports it when asked for)."""
    if "lightsim2grid" in sys.modules or "grid2op" in sys.modules:
        return
    sys.modules["grid2op"] = None  # type: ignore[assignment] # "import grid2op" fails fast
    try:
        import lightsim2grid  # noqa: F401
    except ImportError:
        pass  # the fast backend is optional; its absence is reported where it is used
    finally:
        del sys.modules["grid2op"]


def _without_numba() -> None:
    """Keep numba out of this process. pandapower imports it when installed, for its own
    power flows; a run on the fast backend or three-phase physics builds pandapower's
    model once and never solves with it, and numba's import and type registry cost that
    run time and memory (`powergrid run ieee13`, side by side, seven runs each,
    alternating: 4.47 s -> 4.12 s median, 344 -> 243 MiB peak; the same timeseries.csv
    byte for byte)."""
    if "numba" not in sys.modules:
        sys.modules["numba"] = None  # type: ignore[assignment] # "import numba" fails fast


def _cmd_run(args: argparse.Namespace) -> int:
    with _NotedSignals():  # before the imports: they load C extensions
        config = _run_config(args)  # scenarios.config only: no pandapower yet
        if config.solver != "pandapower":
            _without_numba()
        _lightsim2grid_without_grid2op()
        return _run(args, config)


def _run_config(args: argparse.Namespace) -> ScenarioConfig:
    """The scenario config ``powergrid run`` runs (its arguments checked)."""
    from scenarios import get_config
    from scenarios.config import ScenarioConfig

    _check_count("--steps", args.steps, "steps")
    if args.seed is not None and args.seed < 0:
        raise ValueError(f"--seed must be a non-negative integer, not {args.seed}")
    overrides = {k: v for k, v in (("seed", args.seed), ("solver", args.solver)) if v is not None}
    if args.steps is not None:
        overrides["steps"] = args.steps
    if args.policy is not None:
        overrides["policy"] = args.policy
    if args.physics is not None:
        overrides["physics"] = args.physics
    if args.dataset is not None:
        overrides["dataset"] = args.dataset
    if args.protocol is not None:
        overrides["protocol"] = args.protocol
    if args.distributed:
        overrides["centralized"] = False
    if args.message_broker is not None:
        overrides["message_broker"] = args.message_broker
        overrides["broker_password"] = os.environ.get("POWERGRID_BROKER_PASSWORD")
    if args.placement:
        overrides["placement"] = _placement(args.placement)
    if args.federate_timeout is not None:
        overrides["federate_timeout_s"] = args.federate_timeout
    if args.config is not None and args.scenario is not None:
        raise ValueError(f"give a scenario name or --config, not both ({args.scenario!r},"
                         f" {args.config!r})")
    if args.config is not None:
        config = ScenarioConfig.from_json(args.config).with_(**overrides)
    elif args.scenario is None:
        raise ValueError("give a scenario name (see 'powergrid list') or --config FILE.json")
    else:
        config = get_config(args.scenario, **{"seed": 0, "solver": "lightsim2grid", **overrides})
    where = f" in {args.config}" if args.config is not None else ""
    if config.steps < 1:  # from a config file (the options were checked above)
        raise ValueError(f"'steps'{where} must be a positive number of steps,"
                         f" not {config.steps}")
    if config.seed < 0:
        raise ValueError(f"'seed'{where} must be a non-negative integer, not {config.seed}")
    return config


def _run(args: argparse.Namespace, config: ScenarioConfig) -> int:
    from mosaik.exceptions import SimulationError

    from scenarios.federation import FederateError
    from scenarios.run import InterruptedRunError, run_scenario

    out = Path(args.out or f"results/{config.name}")
    try:
        summary = run_scenario(config, out, progress=not args.quiet)
    except (FederateError, SimulationError) as exc:  # a federate failed mid-run (a dead
        # broker too); summary.json of the steps done is written. A broker unreachable at
        # the start is an OSError: bad input or environment, exit 2
        print(f"powergrid: error: {exc}", file=sys.stderr)
        return 1
    except InterruptedRunError as exc:  # SIGTERM/SIGINT: federates stopped, files complete
        print(f"powergrid: {config.name} {exc}; results so far in {out}", file=sys.stderr)
        return exc.exit_code
    print(f"{config.name}: {summary['steps']} steps in {summary['wall_s']:.2f} s"
          f" ({summary['steps_per_s']:.0f} steps/s); total cost {summary['total_cost']:.2f} $,"
          f" total safety {summary['total_safety']:.4f}, voltage {summary['min_vm_pu']:.4f}"
          f"-{summary['max_vm_pu']:.4f} p.u., {summary['voltage_violations']} bus-steps"
          f" outside 0.95-1.05")
    print(f"results: {out}/timeseries.csv, {out}/summary.json, {out}/overview.png")
    return 0


def _check_count(option: str, value: int | None, unit: str) -> None:
    """``ValueError`` (one line naming ``option``) unless ``value`` is None or >= 1."""
    if value is not None and value < 1:
        raise ValueError(f"{option} must be a positive number of {unit}, not {value}")


def _placement(items: Sequence[str]) -> dict[str, str]:
    """``["devices=cmd", "grid=127.0.0.1:5678"]`` as ``{federate: where}``."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, where = item.partition("=")
        if not sep or not name.strip() or not where.strip():
            raise ValueError(f"--placement {item!r}: expected FEDERATE=WHERE (e.g. devices=cmd)")
        out[name.strip()] = where.strip()
    return out


def _cmd_draw(args: argparse.Namespace) -> int:
    _lightsim2grid_without_grid2op()
    from powergrid.plots import draw_network
    from scenarios import get_config
    from scenarios.prepare import prepare

    physics = {} if args.physics is None else {"physics": args.physics}
    prepared = prepare(get_config(args.scenario, **physics))
    line_phases = None
    title = prepared.config.description
    if prepared.config.physics == "three_phase":
        from powergrid.phase_mapping import line_phases as phases_of_lines

        line_phases = phases_of_lines(prepared.net, prepared.config.network)
        title += " (three-phase: line width by phases)"
    vm_min = None
    if args.results:
        from powergrid.results import read_timeseries

        df = read_timeseries(Path(args.results) / "timeseries.csv")
        vm = df[[c for c in df.columns if c.startswith("vm_pu:")]]  # (a bus's worst phase)
        vm = vm.where(vm > 0.0)
        vm_min = {c[len("vm_pu:"):]: float(v) for c, v in vm.min().items()}
    out = Path(args.out or f"{args.scenario}.png")
    draw_network(prepared.net, out, title=title, vm_min_pu=vm_min, line_phases=line_phases)
    print(f"wrote {out}")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    _lightsim2grid_without_grid2op()
    from powergrid.results import write_json_atomic
    from scenarios.evaluate import evaluate, format_table

    _check_count("--days", args.days, "days")

    def load_model(path: str, prepared: Any) -> Any:
        from rl_bridge.policies import model_policies

        return model_policies(path, prepared)

    results = evaluate(args.scenario, args.policy, days=args.days, out_dir=args.out,
                       load_policy=load_model,
                       **({} if args.physics is None else {"physics": args.physics}))
    print(format_table(results, args.scenario, args.days))
    if args.json:
        write_json_atomic(args.json, results)
        print(f"wrote {args.json}")
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from benchmarks.suite import main as bench

    bench(quick=args.quick, json_path=args.json)
    return 0


def _physics_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--physics", default=None, metavar="{balanced,three_phase}",
                   help="the grid's physics: the balanced model (default) or the feeder's"
                        " three-phase OpenDSS circuit (ieee13, ieee34; the 'three_phase'"
                        " extra)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="powergrid", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("list", help="the scenarios, one a line")
    p.set_defaults(func=_cmd_list)
    p = sub.add_parser("run", help="run a scenario's co-simulation")
    p.add_argument("scenario", nargs="?", default=None, help="a name of 'powergrid list'")
    p.add_argument("--config", default=None, metavar="FILE.json",
                   help="run the scenario config in this JSON file (ScenarioConfig.to_dict"
                        " layout) instead of a named scenario; the options below override it")
    p.add_argument("--steps", type=int, default=None, help="steps to run")
    p.add_argument("--policy", choices=["idle", "random", "rule"], default=None)
    p.add_argument("--seed", type=int, default=None, help="seed (default 0)")
    p.add_argument("--solver", choices=["lightsim2grid", "pandapower"], default=None,
                   help="power-flow backend (default lightsim2grid)")
    _physics_option(p)
    p.add_argument("--dataset", default=None, help="data set file (CSV or classic pickle)")
    p.add_argument("--out", default=None, help="output folder (default results/SCENARIO)")
    p.add_argument("--protocol", default=None,
                   choices=["none", "price_signal", "setpoint", "p2p", "consensus"],
                   help="coordination protocol between the agents")
    p.add_argument("--distributed", action="store_true",
                   help="agents see only their own zone and their messages")
    p.add_argument("--message-broker", default=None,
                   help="'in_memory' or a redis:// URL (password from"
                        " POWERGRID_BROKER_PASSWORD)")
    p.add_argument("--placement", action="append", default=[], metavar="FEDERATE=WHERE",
                   help="run a federate out of process: WHERE is 'cmd' (a subprocess),"
                        " 'cmd:<command line>' or HOST:PORT (a running federate); repeatable")
    p.add_argument("--federate-timeout", type=float, default=None, metavar="SECONDS",
                   help="how long to wait for a federate out of process (its start, each"
                        " reply) before the run fails naming it (default 60)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_run)
    p = sub.add_parser("draw", help="single-line diagram of a scenario's network (PNG)")
    p.add_argument("scenario")
    p.add_argument("--out", default=None, help="PNG file (default SCENARIO.png)")
    p.add_argument("--results", default=None, help="a run's folder: colour buses by min voltage")
    _physics_option(p)
    p.set_defaults(func=_cmd_draw)
    p = sub.add_parser("evaluate", help="policies over test-period days, one table")
    p.add_argument("scenario")
    p.add_argument("--policy", action="append", required=True,
                   help="idle, rule, oracle or a trained model's path (repeatable)")
    p.add_argument("--days", type=int, default=7, help="consecutive test days (default 7)")
    _physics_option(p)
    p.add_argument("--json", default=None, help="also write {policy: {...}} as JSON")
    p.add_argument("--out", default=None, help="keep each policy's run in this folder")
    p.set_defaults(func=_cmd_evaluate)
    p = sub.add_parser("bench", help="throughput table, side by side, in one run")
    p.add_argument("--quick", action="store_true", help="a smaller run (under a minute)")
    p.add_argument("--json", default=None, help="also write the results as JSON")
    p.set_defaults(func=_cmd_bench)
    return parser


#: optional packages by import name: (what needs it, its name on PyPI, the extra with it)
OPTIONAL_PACKAGES = {
    "redis": ("the Redis broker", "redis", "redis"),
    "stable_baselines3": ("a trained model policy (MODEL.zip)", "stable-baselines3", "rl"),
    "torch": ("a trained model policy (MODEL.zip)", "torch", "rl"),
    "ray": ("RLlib training or an RLlib policy (a module directory)", "ray[rllib]", "rllib"),
    "simbench": ("building the data set", "simbench", "build-data"),
    "opendssdirect": ("three-phase physics", "opendssdirect.py", "three-phase"),
}


def missing_optional_package(exc: BaseException) -> str | None:
    """One line naming the extra to install if ``exc`` (or an error it was raised from)
    is the import of an absent optional package; None for any other error."""
    seen: set[int] = set()
    error: BaseException | None = exc
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        name = error.name if isinstance(error, ModuleNotFoundError) else None
        top = (name or "").partition(".")[0]
        if top in OPTIONAL_PACKAGES:
            purpose, package, extra = OPTIONAL_PACKAGES[top]
            return f"{purpose} needs the '{package}' package: pip install \"powergrid[{extra}]\""
        error = error.__cause__ or error.__context__
    return None


def _one_line_warning(message: Warning | str, category: type[Warning], filename: str,
                      lineno: int, file: Any = None, line: str | None = None) -> None:
    print(f"powergrid: warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    warnings.showwarning = _one_line_warning
    try:
        return args.func(args)
    except KeyboardInterrupt:  # Ctrl-C before the run's own handler is in place
        print("powergrid: interrupted", file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        # exit now: a Ctrl-C that landed inside an import or a C extension's start-up can
        # leave the interpreter marked "interrupted", which would turn the exit code 130
        # into death by SIGINT (-2) at shutdown; the run's own files are closed already
        os._exit(130)
    except (ValueError, OSError) as exc:  # input and environment mistakes: one line
        print(f"powergrid: error: {exc}", file=sys.stderr)
        return 2
    except ImportError as exc:  # an optional package not installed: one line naming the extra
        message = missing_optional_package(exc)
        if message is None:
            raise
        print(f"powergrid: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
