"""N copies of a scenario in one running co-simulation world: the one stepping core of
the single environment (N = 1), the batched one (any N) and the batched multi-agent one
(:class:`rl_bridge.multi_vector.MultiAgentVectorEnv`: every agent of every copy acting
every step through one learner entity, each agent observing and rewarded through its own
view).

:class:`ScenarioCopies` owns the world (a :class:`BatchBridge`: one batch entity per
federate), every copy's episode (its random stream, start in the split, step count) and
the accounting of a step (cost, safety, reward of every copy as arrays).
:class:`rl_bridge.env.GridEnv` is one copy with explicit resets,
:class:`rl_bridge.vector.GridVectorEnv` N copies with Gymnasium's same-step autoreset;
neither steps anything itself.

A copy starts a new episode without a new world (:meth:`ScenarioCopies.restart`): its
first observation is built at once, and the world takes the restart in with the next
step (the devices of that copy reset with the episode's seed, the grid starts that copy
cold, the feeds jump to its start). A whole world is built only by :meth:`begin` (the
first reset, a reset after ``close()`` or after a failed world).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from powergrid.devices.batch import DeviceBatch, grid_layout
from powergrid.gridmodel import BatchGridModel
from powergrid.observation import time_features
from powergrid.phase_batch import ThreePhaseBatchGridModel
from powergrid.records import LearnerDecision, LearnerOffer
from powergrid.rewards import reward
from rl_bridge.bridge import ConcurrentUseError, CoSimBridge
from rl_bridge.core import BridgedScenario
from rl_bridge.spaces import CheckedAction
from scenarios.prepare import PreparedScenario
from scenarios.world import build_batch_world

#: "forever": a batched world runs until the environment is closed or reset
_FOREVER_STEPS = 10**7  # the scenario config allows at most 1e7 steps


class BatchBridge(CoSimBridge):
    """A :class:`CoSimBridge` over a world of N copies (batch entities).

    ``solver``: None solves the copies with the batched Z-bus solver; a backend name
    (``"lightsim2grid"``, ``"pandapower"``) serves one copy with that backend.
    """

    LEARNER = "batch"

    def __init__(self, prepared: PreparedScenario, n_copies: int,
                 features: list[tuple[str, Any]], solver: str | None = None,
                 groups: list[list[str]] | None = None) -> None:
        self.n_copies, self.features, self.solver_name = int(n_copies), features, solver
        self.groups = groups
        self.starts: list[int] = []
        self.seeds: list[int] = []
        super().__init__(prepared)

    def _grid_model(self, prepared: PreparedScenario
                    ) -> BatchGridModel | ThreePhaseBatchGridModel:
        injecting, positional = grid_layout(prepared.devices)
        cfg = prepared.config
        if cfg.physics == "three_phase":  # each copy its own OpenDSS circuit, in turn
            return ThreePhaseBatchGridModel(prepared.net, cfg.network, self.n_copies,
                                            prepared.series, prepared.load_profiles,
                                            prepared.pccs, injecting, positional,
                                            regulators=prepared.regulators)
        return BatchGridModel(prepared.net, self.n_copies, prepared.series,
                              prepared.load_profiles, prepared.pccs, injecting, positional,
                              regulators=prepared.regulators, solver=self.solver_name)

    async def _build(self, world: Any, prepared: PreparedScenario) -> None:
        await build_batch_world(world, prepared, self.n_copies, self, self.grid_model,
                                self.starts, self.seeds, self.features, self.groups)

    def start(self, starts: list[int], seeds: list[int]) -> LearnerOffer:
        """A fresh world whose copies begin at ``starts`` with device ``seeds``."""
        self.starts, self.seeds = [int(s) for s in starts], [int(s) for s in seeds]
        return cast(LearnerOffer, self.reset(0, 0, _FOREVER_STEPS)[1])


@dataclass
class CopiesStep:
    """One step of every copy, as arrays with a leading copy axis ``(N, ...)``; what
    each agent observes and answers for keyed by agent."""

    observations: dict[str, np.ndarray]             # agent -> (N, D)
    rewards: dict[str, np.ndarray]                  # agent -> (N,)
    truncated: np.ndarray
    cost: dict[str, np.ndarray]                     # agent -> (N,) $
    safety: dict[str, np.ndarray]
    cost_terms: dict[str, dict[str, np.ndarray]]    # agent -> term -> (N,) $
    safety_terms: dict[str, dict[str, np.ndarray]]
    converged: np.ndarray
    fallback: np.ndarray                  # solved by the single-copy backend
    baseline: dict[str, np.ndarray]       # agent -> (N,) $ (zeros without a baseline)
    step_s: np.ndarray                    # seconds from the episode start to the step solved
    k: np.ndarray                         # steps taken in the episode, this one included

    def info(self, agent: str, i: int, clipped: int, baseline: bool) -> dict[str, Any]:
        """Copy ``i``'s ``info`` of ``agent`` as the single-copy environments give it
        (plain numbers; ``clipped``: its setpoints clipped; ``baseline``: with the
        reward's baseline bill)."""
        info: dict[str, Any] = {
            "converged": bool(self.converged[i]), "cost": float(self.cost[agent][i]),
            "safety": float(self.safety[agent][i]),
            "cost_terms": {t: float(v[i]) for t, v in self.cost_terms[agent].items()},
            "safety_terms": {t: float(v[i]) for t, v in self.safety_terms[agent].items()},
            "time": int(self.step_s[i]), "step": int(self.k[i]),
            "clipped_setpoints": int(clipped)}
        if baseline:
            info["cost_baseline"] = float(self.baseline[agent][i])
        return info


def batch_refusal(config: Any) -> str | None:
    """Why the copies cannot host ``config`` (a scenario config), None if they can: they
    step agents that act on their own devices every step, with no coordinator, message
    protocol or agent periods (those need the agents federate's messages)."""
    coordinators = [a.name for a in config.agents if a.coordinator]
    if coordinators or config.protocol != "none":
        return (f"scenario {config.name!r}: batched copies take agents that act on"
                f" their own devices (protocol 'none'), not protocol {config.protocol!r}"
                + (f" with coordinator {coordinators[0]!r}" if coordinators else ""))
    periods = {a.name: a.period_steps for a in config.agents if a.period_steps != 1}
    if periods:
        return (f"batched copies step every agent every step; agent_periods {periods}"
                f" need the PettingZoo env")
    return None


def side_by_side(checked: list[CheckedAction]) -> CheckedAction:
    """The agents' checked actions as one (the learner's: in the scenario's agent order,
    along the last axis), their clipped setpoints summed."""
    return CheckedAction(np.concatenate([x.c for x in checked], axis=-1),
                         np.concatenate([x.d for x in checked], axis=-1),
                         sum((x.clipped for x in checked), 0))


class ScenarioCopies:
    """``n`` copies of ``scenario`` in one world (module docstring).

    Copy ``i``'s episodes come from its own random stream: ``seed(i, rng)`` sets it;
    a training episode starts at a random day of the split, a test episode ``e`` of copy
    ``i`` is the split's episode ``i + n * e`` (wrapping). With several agents, every
    agent acts every step (no coordinator, no message protocol): the learner entity's
    action is the agents' actions side by side, in the scenario's agent order.
    """

    def __init__(self, scenario: BridgedScenario, n: int, solver: str | None = None) -> None:
        cfg = scenario.config
        refusal = batch_refusal(cfg)
        if refusal is not None:
            raise ValueError(refusal)
        self.scenario, self.n = scenario, int(n)
        if self.n < 1:
            raise ValueError("num_envs must be at least 1")
        self.agents = list(scenario.agents)
        self.views = {a: scenario.views[a] for a in self.agents}
        self.specs = {a: scenario.specs[a] for a in self.agents}
        #: the first agent (the single-agent environments' one)
        self.agent = self.agents[0]
        self.view, self.spec = self.views[self.agent], self.specs[self.agent]
        prepared = scenario.prepared
        #: every view's device features side by side (one list: the batch caches its plan)
        self.features = [f for a in self.agents for f in self.views[a].features]
        widths = np.cumsum([0] + [len(self.views[a].features) for a in self.agents])
        self._feature_columns = {a: slice(int(widths[j]), int(widths[j + 1]))
                                 for j, a in enumerate(self.agents)}
        groups = ([[d.name for d in self.views[a].charged_devices or ()] for a in self.agents]
                  if len(self.agents) > 1 else None)
        self.bridge = BatchBridge(prepared, self.n, self.features, solver, groups)
        self.step_s = cfg.step_s
        self._calendar = time_features(scenario.hours, scenario.days)
        self._data = scenario.data
        series = list(self._data.names)
        self._view_series = {a: [series.index(s) for s in v.series]
                             for a, v in self.views.items()}
        self._table = self._data.table
        self.rngs = [np.random.default_rng(i) for i in range(self.n)]
        self.starts = np.zeros(self.n, dtype=np.int64)
        self.k = np.zeros(self.n, dtype=np.int64)
        self.episodes = np.zeros(self.n, dtype=np.int64)
        self._pending: dict[int, tuple[int, int]] = {}  # copy -> (start, seed) to send
        #: the device state of copies that start over, for their first observation
        controlled = [d for a in cfg.agents for d in a.devices]
        self._first = DeviceBatch(prepared.devices, self.n, controlled, series,
                                  dict(cfg.profiles))
        self.offered: LearnerOffer = {}
        self._busy = threading.Lock()

    @property
    def episode_length(self) -> int:
        return self.scenario.episode_length

    @property
    def running(self) -> bool:
        """A world is up (restarts of copies need no new one)."""
        return self.bridge.world is not None and not self.bridge.done

    @contextlib.contextmanager
    def _one_caller(self) -> Iterator[None]:
        if not self._busy.acquire(blocking=False):
            raise ConcurrentUseError(
                f"this environment is already being stepped by another thread (here:"
                f" {threading.current_thread().name}); an environment is not thread-safe:"
                " give each thread its own, or use the batched vector environment")
        try:
            yield
        finally:
            self._busy.release()

    # -- episodes ----------------------------------------------------------------
    def reseed(self, seed: int | list[int] | None) -> None:
        """Copy ``i``'s random stream from ``seed + i`` (or ``seed[i]`` of a list), its
        test episodes from the split's first again; None keeps the streams."""
        if seed is None:
            return
        seeds = list(seed) if isinstance(seed, list | tuple) else [seed + i
                                                                   for i in range(self.n)]
        self.rngs = [np.random.default_rng(s) for s in seeds]
        self.episodes[:] = 0

    def _new_episode(self, i: int) -> tuple[int, int]:
        """Copy ``i``'s next start (in scenario steps) and device seed."""
        rng = self.rngs[i]
        if self.scenario.options["train"]:
            start = self.scenario.starts.train(rng)
        else:
            start = self.scenario.starts.test(i + self.n * int(self.episodes[i]))
        self.episodes[i] += 1
        return start, int(rng.integers(2**31 - 1))

    def begin(self) -> dict[str, np.ndarray]:
        """A fresh world, every copy at the start of its next episode: each agent's first
        observations ``(N, D)``."""
        with self._one_caller():
            started = [self._new_episode(i) for i in range(self.n)]
            self.starts[:] = [s for s, _ in started]
            self.k[:] = 0
            self._pending = {}
            self.offered = self.bridge.start(self.starts.tolist(), [s for _, s in started])
            return self._observe(self.offered)

    def restart(self, copies: np.ndarray) -> dict[str, np.ndarray]:
        """Start the next episode of ``copies`` now, in the running world: each agent's
        first observations of them, as a fresh world would give them (the world takes
        the restart in with the next step)."""
        started = [self._new_episode(int(i)) for i in copies]
        for i, (start, seed) in zip(copies, started, strict=True):
            self._pending[int(i)] = (start, seed)
        starts = np.array([s for s, _ in started], dtype=np.int64)
        self.starts[copies], self.k[copies] = starts, 0
        self._first.reset(list(copies), [np.random.default_rng(s) for _, s in started])
        features = self._first.features(self.features, copies)
        rows = self._table[starts % len(self._table)]
        calendar = self._calendar[starts % len(self._calendar)]
        grid = self.bridge.grid_model.initial_state(len(copies))
        return self._vectors(features, grid, rows, calendar, starts)

    # -- steps ---------------------------------------------------------------------
    def step(self, checked: CheckedAction) -> CopiesStep:
        """Apply every copy's checked action (``c`` ``(N, dc)``, ``d`` ``(N, dd)``: the
        agents' actions side by side) and account for the step."""
        with self._one_caller():
            return self._step(checked)

    def _step(self, checked: CheckedAction) -> CopiesStep:
        decided = LearnerDecision(c=checked.c, d=checked.d, resets=[], feed_resets=[])
        if self._pending:  # copies whose new episode began with the last observation
            values = self.offered["values"].copy()
            for i, (start, seed) in self._pending.items():
                decided["resets"].append([i, seed])
                decided["feed_resets"].append([i, start + 1])
                values[i] = self._table[start % len(self._table)]
            decided["values"] = values
            self._pending = {}
        # the batch offers one record of arrays ("values", "grid", "report")
        self.offered = offered = cast(LearnerOffer, self.bridge.step(decided)[1])
        solved = self.starts + self.k  # the scenario steps just solved
        step_s = self.k * self.step_s
        self.k += 1
        report, grid = offered["report"], offered["grid"]
        cost_terms, safety_terms, cost, safety = {}, {}, {}, {}
        for j, a in enumerate(self.agents):
            if "group_cost_terms" in report:  # several agents: each its own devices
                own_cost = {t: v[:, j] for t, v in report["group_cost_terms"].items()}
                own_safety = {t: v[:, j] for t, v in report["group_safety_terms"].items()}
            else:
                own_cost, own_safety = report["cost_terms"], report["safety_terms"]
            cost_terms[a], safety_terms[a] = self.views[a].accounts(own_cost, own_safety, grid)
            cost[a] = sum(cost_terms[a].values(), np.zeros(self.n))
            safety[a] = sum(safety_terms[a].values(), np.zeros(self.n))
        baseline, rewards = self._rewards(solved, grid, cost_terms, safety)
        return CopiesStep(self._observe(offered), rewards, self.k >= self.episode_length,
                          cost, safety, cost_terms, safety_terms,
                          np.asarray(grid["converged"]), np.asarray(grid["fallback"]),
                          baseline, step_s, self.k.copy())

    def _rewards(self, solved: np.ndarray, grid: Any,
                 cost_terms: dict[str, dict[str, np.ndarray]], safety: dict[str, np.ndarray]
                 ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Each agent's reward baseline ($, zeros without one) and reward ``(N,)`` of the
        scenario steps ``solved``, by the scenario's reward scope
        (:meth:`rl_bridge.core.BridgedScenario.relative_costs_usd`)."""
        sc, o = self.scenario, self.scenario.options
        values = self._data.values(solved) if sc.baselines else {}
        baseline = {a: sc.baselines[a].bill_usd(values) if a in sc.baselines
                    else np.zeros(self.n) for a in self.agents}
        pcc_p_mw = np.asarray(grid["pcc_p_mw"], dtype=float)
        pcc_cost = np.asarray(grid["pcc_cost"], dtype=float)
        relative = sc.relative_costs_usd(solved, baseline, cost_terms,
                                         np.asarray(grid["energy_cost"], dtype=float),
                                         dict.fromkeys(self.agents, pcc_p_mw),
                                         dict.fromkeys(self.agents, pcc_cost))
        rewards = {a: np.asarray(reward(relative[a], safety[a], o["reward_scale"],
                                        o["safety_scale"], o["max_penalty"]), dtype=float)
                   for a in self.agents}
        return baseline, rewards

    def _observe(self, offered: LearnerOffer) -> dict[str, np.ndarray]:
        steps = self.starts + self.k
        return self._vectors(offered["report"]["features"], offered["grid"],
                             offered["values"], self._calendar[steps % len(self._calendar)],
                             steps)

    def _vectors(self, features: np.ndarray, grid: Any, rows: np.ndarray,
                 calendar: np.ndarray, steps: np.ndarray) -> dict[str, np.ndarray]:
        """Each agent's observation vectors of the copies whose device ``features``,
        ``grid`` state, series ``rows``, ``calendar`` and coming scenario ``steps`` are
        given."""
        return {a: view.vectors(features[:, self._feature_columns[a]], grid,
                                rows[:, self._view_series[a]], None, calendar,
                                self._prices_ahead(steps, view.forecast_steps))
                for a, view in self.views.items()}

    def _prices_ahead(self, steps: np.ndarray, n_ahead: int) -> np.ndarray | None:
        """The price ($/MWh) of the ``n_ahead`` steps after each copy's coming step
        ``steps`` ``(N,)`` (None without a forecast)."""
        return self._data.prices_ahead(steps, n_ahead) if n_ahead else None

    # -- what a frame shows ----------------------------------------------------------
    def frame_inputs(self, i: int) -> tuple[Any, dict[str, Any], int, int]:
        """``(vm_pu, devices, step, k)`` of copy ``i`` for
        :meth:`rl_bridge.render.GridRenderer.frame_of` (before any step: no voltages)."""
        grid, report = self.offered.get("grid"), self.offered.get("report")
        vm = None if grid is None else grid["vm_pu"]
        states = None if report is None else report.get("states")
        devices = ({} if states is None else
                   {name: {"state": state}
                    for name, state in self._first.device_states(i, states).items()})
        return (None if vm is None else vm[i], devices, int(self.starts[i] + self.k[i]),
                int(self.k[i]))

    def close(self) -> None:
        self.bridge.close()
        self.offered = {}
