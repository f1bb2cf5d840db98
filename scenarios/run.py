"""Run a scenario's co-simulation and write its results.

``run_scenario(config, out_dir)`` writes ``timeseries.csv`` (row by row, as
the run goes), ``summary.json`` (atomically, at the end, also of a run that failed
or was stopped by SIGTERM) and ``overview.png``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from mosaik import AsyncWorld

from powergrid.results import RunFolder, summarize, write_json_atomic
from scenarios import check_data_span
from scenarios.config import ScenarioConfig
from scenarios.federation import FederateError, end_federate_processes, mosaik_config, sim_config
from scenarios.prepare import PreparedScenario, prepare
from scenarios.world import build_world


async def _follow(csv_path: Path, total: int, period_s: float = 0.2) -> None:
    """Show a progress bar in steps by counting the rows the recorder has flushed
    (at the end too, so a run that fails shows where it stopped)."""
    from tqdm import tqdm

    offset = 0
    header = True

    def count_new_rows() -> int:
        nonlocal offset, header
        if not csv_path.exists():
            return 0
        with open(csv_path, "rb") as f:
            f.seek(offset)
            chunk = f.read()
        offset += len(chunk)
        rows = chunk.count(b"\n") - (1 if header and chunk else 0)
        header = header and not chunk
        return max(rows, 0)

    with tqdm(total=total, unit="step", desc="co-simulation") as bar:
        try:
            while True:
                await asyncio.sleep(period_s)
                bar.update(count_new_rows())
        except asyncio.CancelledError:
            bar.update(count_new_rows())
            raise


class InterruptedRunError(Exception):
    """The run was stopped by a signal (SIGTERM, SIGINT) and shut down cleanly: the rows
    of every completed step are in ``timeseries.csv`` and ``summary.json`` says so.
    ``exit_code`` is the shell's convention, 128 + the signal number."""

    def __init__(self, signum: int, summary: dict[str, Any]) -> None:
        self.signum = signum
        self.summary = summary
        self.exit_code = 128 + signum
        super().__init__(f"interrupted by {signal.Signals(signum).name} after"
                         f" {summary.get('steps', 0)} steps")


class _Stop:
    """The signal that stops a run (None while none came) and whether the run's shutdown
    has begun (from then on, no cancelling: every federate must finish)."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.shutting_down = False


@contextlib.contextmanager
def _signals_noted(stop: _Stop) -> Iterator[None]:
    """Within the block, SIGTERM and SIGINT are only noted in ``stop``: no
    KeyboardInterrupt lands in the middle of an import or a C extension (where it comes
    out garbled, e.g. as matplotlib's "ImportError: initialization failed"); the run acts
    on the note (:func:`_cancel_on_signal`). The previous handlers come back after it.
    Outside the main thread (no signals there) it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def note(signum: int, frame: object) -> None:
        if stop.signum is None:
            stop.signum = signum

    previous = {signum: signal.signal(signum, note)
                for signum in (signal.SIGTERM, signal.SIGINT)}
    for handler in previous.values():  # a caller's own noting handler (the CLI's): a
        pending = getattr(handler, "noted", None)  # signal it noted stops this run
        if pending:
            stop.signum = stop.signum or pending[0]
            pending.clear()
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


async def _cancel_on_signal(stop: _Stop, task: asyncio.Task[Any], period_s: float = 0.2,
                            recancel_s: float = 1.0) -> None:
    """Once a signal is noted, cancel ``task``, and again every ``recancel_s`` until its
    shutdown begins: a cancellation can be swallowed on the way (Python 3.11's
    ``asyncio.wait_for`` loses one that meets its inner future's completion, and
    mosaik's start-up awaits through it). A second signal does not cut the shutdown
    short."""
    while stop.signum is None:
        await asyncio.sleep(period_s)
    while not stop.shutting_down and not task.done():
        task.cancel()
        await asyncio.sleep(recancel_s)


async def _run_world(prepared: PreparedScenario, sims: dict[str, Any], out_dir: Path,
                     progress: bool, policies: dict[str, Any] | None = None,
                     stop: _Stop | None = None) -> None:
    config = prepared.config
    # cache=False: with mosaik 3.6's output cache the initial data of time-shifted
    # connections is lost (the agents would see None at the first step)
    world = AsyncWorld(sims, mosaik_config(config.federate_timeout_s),
                       time_resolution=1.0, cache=False)
    follower = None
    task = asyncio.current_task()
    assert task is not None
    watcher = asyncio.create_task(_cancel_on_signal(stop, task)) if stop is not None else None
    try:
        await build_world(world, prepared, out_dir, policies=policies)
        if progress:
            follower = asyncio.create_task(_follow(out_dir / "timeseries.csv", config.steps))
        await world.run(until=config.steps * config.step_s, print_progress=False)
    finally:
        if stop is not None:
            stop.shutting_down = True
        for helper in (follower, watcher):
            if helper is not None:
                helper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await helper
        # every federate's finalize runs and every subprocess ends, whatever happened
        try:
            await world.shutdown()
        finally:
            end_federate_processes(world)


def run_scenario(config: ScenarioConfig, out_dir: str | Path, progress: bool = True,
                 plot: bool = True, policies: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run ``config`` for ``config.steps`` steps; return the summary written to
    ``out_dir/summary.json``. ``policies`` overrides agents' policies by name
    (in-process objects with ``act(observation)``).

    ``timeseries.csv`` grows by one complete line per step as the run goes. A run that
    fails (e.g. :class:`~scenarios.federation.FederateError`) or is stopped by SIGTERM/SIGINT
    (:class:`InterruptedRunError`) shuts every federate down, then still writes
    ``summary.json`` of the steps done, with ``"completed": false`` and the ``error`` or
    the ``interrupted`` signal's name, before raising.
    """
    t0 = time.perf_counter()
    # a mistake in the config (or the placement) fails here, before any file is touched
    prepared = prepare(config)
    check_data_span(config)
    out = Path(out_dir)
    sims = sim_config(config.placement, config.feeds_csv, timeout_s=config.federate_timeout_s,
                      dataset=config.dataset, out_dir=str(out))
    csv_path = out / "timeseries.csv"
    stop = _Stop()
    # the folder is this run's alone until it ends: no other run's rows or summary in it
    with RunFolder(out, {"scenario": config.name, "steps_planned": config.steps}), \
            _signals_noted(stop):
        try:
            asyncio.run(_run_world(prepared, sims, out, progress, policies, stop))
            if plot and stop.signum is None:
                _plot(config, csv_path, out / "overview.png")
            if stop.signum is not None:  # also when the world swallowed the cancel
                raise asyncio.CancelledError
        except BaseException as exc:
            if stop.signum is not None and isinstance(exc, asyncio.CancelledError
                                                      | KeyboardInterrupt):
                name = signal.Signals(stop.signum).name
                summary = _write_summary(config, csv_path, time.perf_counter() - t0,
                                         completed=False, interrupted=name)
                raise InterruptedRunError(stop.signum, summary) from None
            # the failure is what the user must see: a summary that cannot be written
            # too (a full disk) leaves the provisional one, which says not completed
            with contextlib.suppress(OSError):
                _write_summary(config, csv_path, time.perf_counter() - t0, completed=False,
                               error=f"{type(exc).__name__}: {exc}".splitlines()[0])
            raise
        return _write_summary(config, csv_path, time.perf_counter() - t0, completed=True)


def _plot(config: ScenarioConfig, csv_path: Path, png: Path) -> None:
    """The overview figure; a failure to write it (a full disk) names the file and leaves
    no half-written PNG."""
    from powergrid.plots import plot_overview

    try:
        plot_overview(csv_path, png, title=config.name, scenario=config.name,
                      policy=config.policy or ", ".join(sorted({a.policy
                                                                for a in config.agents})),
                      seed=config.seed, split=config.split,
                      dataset=config.dataset)
    except OSError as exc:
        png.unlink(missing_ok=True)
        raise OSError(exc.errno, f"cannot write {png}: {exc.strerror}") from None


def _write_summary(config: ScenarioConfig, csv_path: Path, wall_s: float,
                   **status: Any) -> dict[str, Any]:
    """Summarize the rows written so far into ``summary.json`` (atomically)."""
    summary = {"scenario": config.name, "steps_planned": config.steps,
               **summarize(csv_path, wall_s), **status}
    write_json_atomic(csv_path.parent / "summary.json", summary)
    return summary


def scenario_main(make_config: Callable[..., ScenarioConfig],
                  argv: Sequence[str] | None = None) -> None:
    """The command line of a scenario script: ``python -m scenarios.<name> --until N``."""
    default = make_config()
    parser = argparse.ArgumentParser(prog=f"python -m scenarios.{default.name}",
                                     description=default.description)
    parser.add_argument("--until", type=int, default=default.steps,
                        help=f"steps to run (of {default.step_s} s; default {default.steps})")
    parser.add_argument("--policy", choices=["idle", "random", "rule"], default=None)
    parser.add_argument("--seed", type=int, default=default.seed)
    parser.add_argument("--out", default=f"results/{default.name}")
    args = parser.parse_args(argv)
    config = default.with_(steps=args.until, seed=args.seed, policy=args.policy)
    try:
        summary = run_scenario(config, args.out)
    except FederateError as exc:
        sys.exit(f"{parser.prog}: error: {exc}")
    except InterruptedRunError as exc:
        print(f"{parser.prog}: {exc}; results so far in {args.out}", file=sys.stderr)
        sys.exit(exc.exit_code)
    print(f"{summary['steps']} steps in {summary['wall_s']:.2f} s;"
          f" total cost {summary['total_cost']:.2f} $; results in {args.out}")
