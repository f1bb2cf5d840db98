"""Drive a mosaik co-simulation from a learner's ``reset``/``step`` calls.

The learner wants to call ``step(action)``; mosaik's scheduler wants to call
each simulator's ``step``. :class:`CoSimBridge` inverts control without threads:

* it owns a private asyncio event loop and, per episode, a fresh ``AsyncWorld``
  (mosaik cannot rewind a world) whose ``run`` is a task in that loop (the copies'
  :class:`~rl_bridge.copies.BatchBridge` starts one world and restarts copies inside it);
* the agents federate (:class:`~simulators.agents.LearnerAgentsSim`) hands its
  observations to :meth:`CoSimBridge.offer` and awaits the returned future;
* :meth:`CoSimBridge.step` resolves that future with the learner's actions
  and runs the loop until the agents offer the next observations, or the
  run ends.

One thread, a fixed order of events, nothing that can deadlock. An exception
in any federate ends the run task and is raised from ``reset``/``step``.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any

from mosaik import AsyncWorld

from powergrid.gridmodel import GridModel
from powergrid.phase_gridmodel import ThreePhaseGridModel
from powergrid.policies import Observation
from scenarios.federation import mosaik_config, sim_config
from scenarios.prepare import PreparedScenario
from scenarios.world import build_world


class CoSimulationError(RuntimeError):
    """The co-simulation stopped with an error (the message names the cause)."""


class ConcurrentUseError(RuntimeError):
    """Two threads used one environment at once."""


@contextlib.contextmanager
def _one_caller(lock: threading.Lock) -> Iterator[None]:
    """Enter only if no other call is running: a second thread gets a clear error at
    once instead of waiting forever on an event loop that another thread is running."""
    if not lock.acquire(blocking=False):
        raise ConcurrentUseError(
            f"this environment is already being stepped by another thread (here:"
            f" {threading.current_thread().name}); an environment is not thread-safe: give"
            " each thread its own, or use the batched vector environment")
    try:
        yield
    finally:
        lock.release()


class CoSimBridge:
    """One co-simulation at a time, stepped by a learner.

    ``reset(start_step, seed, steps)`` builds and starts a world for an episode
    of ``steps`` steps and returns ``(time_s, {agent: Observation}, due)`` at the
    first step (``due``: the agents to act now); ``step(actions)`` applies
    ``{agent: action}`` and returns the next ``(time_s, observations, due)`` --
    after the last step, the observations of the step that judges it, with
    ``done`` True.
    """

    def __init__(self, prepared: PreparedScenario) -> None:
        self.prepared = prepared
        # one power-flow model for every episode (reset, not rebuilt, at each reset)
        self.grid_model = self._grid_model(prepared)
        self.loop = asyncio.new_event_loop()
        self.world: AsyncWorld | None = None
        self.run_task: asyncio.Task[Any] | None = None
        self._offer: asyncio.Future[Any] | None = None
        self._action: asyncio.Future[Any] | None = None
        self.steps = 0
        self.done = True
        self._busy = threading.Lock()

    def _grid_model(self, prepared: PreparedScenario) -> Any:
        cfg = prepared.config
        if cfg.physics == "three_phase":
            return ThreePhaseGridModel(prepared.net, cfg.network, prepared.load_profiles,
                                       prepared.pccs, regulators=prepared.regulators)
        return GridModel(prepared.net, cfg.solver, prepared.load_profiles, prepared.pccs,
                         regulators=prepared.regulators)

    # -- called by the agents federate, inside the loop ---------------------
    def offer(self, time: int, observations: dict[str, Observation],
              due: list[str] | None = None) -> asyncio.Future[Any]:
        """Publish the agents' observations and who is due to act; return the future of
        their actions."""
        self._action = self.loop.create_future()
        if self._offer is not None and not self._offer.done():
            self._offer.set_result((time, observations,
                                    list(observations) if due is None else list(due)))
        return self._action

    # -- called by the environment ---------------------------------------------
    def reset(self, start_step: int, seed: int, steps: int
              ) -> tuple[int, dict[str, Observation], list[str]]:
        """Start a new episode of ``steps`` decisions from ``start_step`` of the split
        (after :meth:`close` too: the bridge opens a new event loop)."""
        with _one_caller(self._busy):
            if self.loop.is_closed():
                self.loop = asyncio.new_event_loop()
            return self._reset(start_step, seed, steps)

    def _reset(self, start_step: int, seed: int, steps: int
               ) -> tuple[int, dict[str, Observation], list[str]]:
        self.close_world()
        config = self.prepared.config.with_(start_step=int(start_step), seed=int(seed),
                                            steps=int(steps))
        prepared = replace(self.prepared, config=config)  # shares the facts cache
        self.steps = int(steps)
        self._offer = self.loop.create_future()
        self.loop.run_until_complete(self._start(prepared))
        self.done = False
        return self._next()

    #: which agents federate the world uses (see :func:`scenarios.federation.sim_config`)
    LEARNER: bool | str = True

    async def _build(self, world: AsyncWorld, prepared: PreparedScenario) -> None:
        await build_world(world, prepared, out_dir=None, bridge=self,
                          grid_model=self.grid_model)

    async def _start(self, prepared: PreparedScenario) -> None:
        cfg = prepared.config
        world = AsyncWorld(sim_config(cfg.placement, cfg.feeds_csv, learner=self.LEARNER,
                                      timeout_s=cfg.federate_timeout_s,
                                      dataset=cfg.dataset),
                           mosaik_config(cfg.federate_timeout_s), cache=False)
        self.world = world
        await self._build(world, prepared)
        # one step past the last decision, so its outcome reaches the agents
        until = cfg.steps * cfg.step_s + 1
        self.run_task = self.loop.create_task(world.run(until=until, print_progress=False,
                                                        lazy_stepping=False))
        self.run_task.add_done_callback(self._run_ended)

    def _run_ended(self, task: asyncio.Task[Any]) -> None:
        """The run stopped: wake whoever waits for an observation (with None)."""
        if self._offer is not None and not self._offer.done():
            self._offer.set_result(None)

    def step(self, actions: Mapping[str, Any]) -> tuple[int, dict[str, Observation], list[str]]:
        """Apply ``actions`` and return the next ``(time_s, observations, due)``."""
        with _one_caller(self._busy):
            if self.done or self._action is None:
                raise RuntimeError("step() called before reset() or after the episode ended")
            self._offer = self.loop.create_future()
            self._action.set_result(actions)
            return self._next()

    def _next(self) -> tuple[int, dict[str, Observation], list[str]]:
        assert self._offer is not None and self.run_task is not None
        offered = self.loop.run_until_complete(self._offer)
        if offered is not None:
            time, observations, due = offered
            if time >= self.steps * self.prepared.config.step_s:
                self.done = True
            return time, observations, due
        self.done = True
        self.loop.run_until_complete(asyncio.wait({self.run_task}))
        exc = self.run_task.exception() if not self.run_task.cancelled() else None
        if exc is not None:
            raise CoSimulationError(f"the co-simulation failed: {type(exc).__name__}: {exc}"
                                    ) from exc
        raise CoSimulationError("the co-simulation ended before the episode did")

    def close_world(self) -> None:
        """Stop the current episode's world (its federates' ``finalize`` run)."""
        if self.run_task is not None and not self.run_task.done():
            self.run_task.cancel()
        # cancel and collect every task of the run (the scheduler's per-simulator tasks too)
        pending = [t for t in asyncio.all_tasks(self.loop) if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        if self.run_task is not None and self.run_task.done() and not self.run_task.cancelled():
            self.run_task.exception()  # retrieved: an error already reported by step()
        if self.world is not None:
            with contextlib.suppress(Exception):
                self.loop.run_until_complete(self.world.shutdown())
        self.world, self.run_task, self._action, self._offer = None, None, None, None
        self.done = True

    def close(self) -> None:
        """Stop the world and close the event loop."""
        if self.loop.is_closed():
            return
        self.close_world()
        self.loop.close()

    def __del__(self) -> None:  # an environment dropped without close()
        with contextlib.suppress(Exception):
            self.close()
