"""What the single- and the multi-agent environment share: a scenario run through the
co-simulation, per-agent views, spaces, rewards and infos."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from powergrid.costs import energy_cost
from powergrid.data import step_calendar
from powergrid.devices import ActionSpec
from powergrid.exogenous_bill import ExogenousBill
from powergrid.protocols.coordination import make_coordination
from powergrid.rewards import reward
from rl_bridge.bridge import CoSimBridge
from rl_bridge.episodes import EpisodeStarts
from rl_bridge.exogenous import ScenarioSeries, exogenous_bill
from rl_bridge.spaces import action_space, check_joint_action, observation_space
from rl_bridge.views import build_view, circuit_phase_names
from scenarios import get_config
from scenarios.prepare import prepare
from scenarios.zones import agent_roles

#: cost terms that move money between agents (or to a coordinator), not out of the system
_TRANSFERS = ("energy", "resale", "p2p")


def device_costs_usd(cost_terms: dict[str, np.ndarray], n: int) -> np.ndarray:
    """An agent's cost terms ``{term: (n,)}`` of ``n`` copies but the money it moves to or
    from other agents (bills between zones, resale, peer-to-peer settlements): what its
    devices cost the system, ``(n,)`` $."""
    return sum((v for term, v in cost_terms.items() if term not in _TRANSFERS), np.zeros(n))


def contribution_usd(view: Any, internal_pcc: np.ndarray, pcc_p_mw: np.ndarray,
                     pcc_cost: np.ndarray, price: np.ndarray, dt_h: float,
                     cost_terms: dict[str, np.ndarray]) -> np.ndarray:
    """What an agent's zone moved in the system's cost over a step, ``(N,)`` $ of N
    copies (feeder losses aside): its devices' costs (:func:`device_costs_usd`) plus its
    PCCs' exchange -- an external PCC at its own bill, an internal one at the energy
    price both ways (a MWh a microgrid exports saves the rest of the system a MWh it
    would import at the full price, where the microgrid's own bill credits it at ``price
    * sell_discount``). ``view`` the agent's :class:`~powergrid.observation.AgentView`
    (its billed PCCs); ``internal_pcc`` ``(P,)`` per PCC; ``pcc_p_mw`` / ``pcc_cost``
    ``(N, P)``; ``price`` ``(N,)`` $/MWh; ``cost_terms`` the agent's ``{term: (N,)}``."""
    positions = view.billed_pcc_positions
    exchange = np.where(internal_pcc[positions],
                        energy_cost(pcc_p_mw[:, positions], price[:, None], 1.0, dt_h),
                        pcc_cost[:, positions])
    return exchange.sum(axis=1) + device_costs_usd(cost_terms, len(price))


def system_share_usd(external_usd: np.ndarray, agent_cost_terms: list[dict[str, np.ndarray]],
                     baseline_usd: np.ndarray | None) -> np.ndarray:
    """Each agent's share of the system's cost of a step, ``(N,)`` $ of N copies: the
    external PCCs' bills ``external_usd`` (the grid's ``cost``, which no zone view masks)
    and every agent's devices' costs (:func:`device_costs_usd` of each of
    ``agent_cost_terms``), less the system's bill with no device acting
    (``baseline_usd``, when the reward is relative to it), over the number of agents."""
    n = len(external_usd)
    system = np.asarray(external_usd, dtype=float) + sum(
        (device_costs_usd(terms, n) for terms in agent_cost_terms), np.zeros(n))
    if baseline_usd is not None:
        system = system - baseline_usd
    return system / len(agent_cost_terms)


@dataclass
class StepResult:
    observations: dict[str, np.ndarray]
    rewards: dict[str, float]
    infos: dict[str, dict[str, Any]]
    done: bool


class BridgedScenario:
    """A scenario stepped through the co-simulation for RL: one view, spec and
    reward per agent.

    With ``options["price_forecast_steps"] = n`` every view observes the price of the
    ``n`` steps after the coming one; with ``options["reward_baseline"] =
    "exogenous_bill"`` the reward is computed from the cost less the bill of the step
    with no device acting (:mod:`powergrid.exogenous_bill`; with several agents, each
    agent's zone PCC's bill for the loads and RES units of its zone; ``infos`` keep the
    absolute cost and add it as ``cost_baseline``).
    """

    def __init__(self, scenario: str, options: dict[str, Any], scope: str = "all",
                 **scenario_overrides: Any) -> None:
        self.options = options
        split = "train" if options["train"] else "test"
        periods = scenario_overrides.pop("agent_periods", None) or {}
        config = get_config(scenario, split=split, dataset=options["dataset_path"],
                            solver=options["solver"],
                            physics=options.get("physics", "balanced"),
                            load_scale=float(options["load_scale"]),
                            **scenario_overrides)
        unknown = sorted(set(periods) - {a.name for a in config.agents})
        if unknown:
            raise ValueError(f"agent_periods: unknown agent(s) {unknown}")
        config = config.with_(agents=[replace(a, period_steps=int(periods.get(a.name,
                                                                            a.period_steps)))
                                      for a in config.agents])
        self.prepared = prepare(config)
        # the prepared config: with three-phase physics its regulators may be a device
        # per phase unit (scenarios.prepare.per_phase_regulators)
        config = self.config = self.prepared.config
        self._bridge: CoSimBridge | None = None
        #: with three-phase physics, the grid's bus-phases (observed per phase)
        phase_names = (circuit_phase_names(self.prepared)
                       if config.physics == "three_phase" else None)
        self.agents = [a.name for a in config.agents]
        by_name = {d.name: d for d in self.prepared.devices}
        coordination = make_coordination(config.protocol, agent_roles(self.prepared),
                                         config.price)
        self.specs: dict[str, ActionSpec] = {
            a.name: (coordination.coordinator_spec(a.name) if a.coordinator else
                     ActionSpec.concat([by_name[d].action_spec() for d in a.devices]))
            for a in config.agents}
        forecast_steps = int(options.get("price_forecast_steps", 0))
        self.views = {a.name: build_view(self.prepared, a, scope, forecast_steps,
                                         phase_names)
                      for a in config.agents}
        #: the split's series (rows wrapping), for the prices ahead
        self.data = ScenarioSeries(self.prepared)
        #: per agent, the bill of a step with no device acting, when the reward is
        #: relative to it (``baseline``: the single agent's)
        scope = options.get("reward_scope", "agent")
        #: ``reward_scope="contribution"``: an agent's reward is computed from what its
        #: zone moves in the system's cost: its devices' costs and its zone's exchange
        #: valued at the energy price both ways (:meth:`_contribution`)
        self.contribution_reward = scope == "contribution"
        #: per PCC (the grid's order): a bill inside the system, not at its border
        self.internal_pcc = np.array([g.internal for g in self.prepared.pccs], dtype=bool)
        self.baselines: dict[str, ExogenousBill] = {}
        if options.get("reward_baseline", "none") == "exogenous_bill":
            self.baselines = {a.name: exogenous_bill(self.prepared, a,
                                                     at_price=self.contribution_reward)
                              for a in config.agents}
        self.baseline = self.baselines.get(self.agents[0]) if len(self.agents) == 1 \
            else None
        #: ``reward_scope="system"``: every agent's reward is computed from the system's
        #: cost (the external PCCs' bills and every agent's devices), 1/n each, less (with
        #: the baseline) the system's bill with no device acting
        self.system_reward = scope == "system"
        self.system_baseline = exogenous_bill(self.prepared) \
            if self.system_reward and self.baselines else None
        self.observation_spaces = {a: observation_space(v) for a, v in self.views.items()}
        self.action_spaces = {a: action_space(s) for a, s in self.specs.items()}
        self.split = split
        self.set_episode_length(options["episode_length"])
        self.hours, self.days = step_calendar(split, config.dt_h, options["dataset_path"])
        self.test_episode = 0
        self.start = 0
        self.k = 0
        self.due: list[str] = list(self.agents)
        self.pending: dict[str, float] = dict.fromkeys(self.agents, 0.0)
        #: per agent: continuous values of its latest action outside its Box (clipped)
        self.clipped: dict[str, int] = dict.fromkeys(self.agents, 0)
        #: the agents' latest observations (``{agent: Observation}``), for render()
        self.last_observations: dict[str, Any] = {}
        self._renderer: Any = None

    def set_episode_length(self, length: Any) -> None:
        """Steps per episode (takes effect at the next reset)."""
        if isinstance(length, bool) or not isinstance(length, int | np.integer) or length < 1:
            raise ValueError(f"episode_length must be a whole number of steps >= 1, not"
                             f" {length!r}")
        starts = EpisodeStarts(self.split, self.config.dt_h, int(length),
                               self.options["dataset_path"])
        if int(length) > starts.n_steps:
            raise ValueError(f"episode_length {int(length)} is longer than the"
                             f" {self.split} split ({starts.n_steps} steps of"
                             f" {self.config.dt_h:g} h)")
        self.episode_length, self.starts = int(length), starts
        self.options["episode_length"] = int(length)

    def render_frame(self) -> np.ndarray:
        """The single-line diagram coloured by the latest bus voltages (``(H, W, 3)``
        uint8; before the first reset, every bus at 1 p.u.)."""
        return self.renderer().frame(self.last_observations, self.start + self.k, self.k,
                                    self.episode_length)

    def renderer(self) -> Any:
        """The scenario's :class:`~rl_bridge.render.GridRenderer` (made on first use)."""
        if self._renderer is None:
            from rl_bridge.render import GridRenderer

            self._renderer = GridRenderer(self.prepared, self.split, self.config.dt_h,
                                          self.options["dataset_path"])
        return self._renderer

    @property
    def bridge(self) -> CoSimBridge:
        """The co-simulation (built on first use: the batched env never needs it)."""
        if self._bridge is None:
            self._bridge = CoSimBridge(self.prepared)
        return self._bridge

    def _vectors(self, observations: dict[str, Any], agents: list[str]
                 ) -> dict[str, np.ndarray]:
        i = (self.start + self.k) % len(self.hours)
        return {a: self.views[a].vector(observations[a], self.hours[i], self.days[i],
                                        self._prices_ahead(self.views[a].forecast_steps))
                for a in agents}

    def _prices_ahead(self, n_ahead: int) -> np.ndarray | None:
        """The price ($/MWh) of the ``n_ahead`` steps after the coming one (None: 0)."""
        if not n_ahead:
            return None
        return self.data.prices_ahead(self.start + self.k, n_ahead)[0]

    def baseline_usd(self, step: int) -> dict[str, float]:
        """Each agent's reward baseline of the scenario step ``step`` in $: the bill with
        no device acting (none without a baseline)."""
        if not self.baselines:
            return {}
        values = self.data.values(step)
        return {a: float(bill.bill_usd(values)[0]) for a, bill in self.baselines.items()}

    def reset(self, rng: np.random.Generator, restart_test: bool
              ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
        if restart_test:
            self.test_episode = 0
        if self.options["train"]:
            self.start = self.starts.train(rng)
        else:
            self.start = self.starts.test(self.test_episode)
            self.test_episode += 1
        self.k = 0
        seed = int(rng.integers(2**31 - 1))
        time_s, observations, self.due = self.bridge.reset(self.start, seed,
                                                           self.episode_length)
        self.last_observations = observations
        self.pending = dict.fromkeys(self.agents, 0.0)
        self.clipped = dict.fromkeys(self.agents, 0)
        infos = {a: {"time": time_s, "start_step": self.start} for a in self.due}
        return self._vectors(observations, self.due), infos

    def step(self, actions: dict[str, Any]) -> StepResult:
        """Apply the due agents' actions; rewards accumulate per agent until it next acts."""
        # every action is checked before any of it enters the world (a ValueError leaves
        # the episode where it was: the next good action or reset() goes on from there)
        checked = check_joint_action(self.specs, self.due, actions)
        time_s, observations, due = self.bridge.step({a: (x.c, x.d)
                                                      for a, x in checked.items()})
        self.clipped.update({a: int(x.clipped) for a, x in checked.items()})
        self.last_observations = observations
        baseline = self.baseline_usd(self.start + self.k)  # the step just solved
        self.k += 1
        infos: dict[str, dict[str, Any]] = {}
        o = self.options
        accounts = {a: self.views[a].account(observations[a]) for a in self.agents}
        grids = {a: observations[a].grid for a in self.agents}  # a zone view masks others
        relative = self.relative_costs_usd(
            self.start + self.k - 1, {a: np.array([baseline.get(a, 0.0)]) for a in self.agents},
            {a: {t: np.array([v]) for t, v in accounts[a][0].items()} for a in self.agents},
            np.array([float(grids[self.agents[0]].get("cost") or 0.0)]),
            {a: np.asarray(g.get("pcc_p_mw") or [], dtype=float)[None] for a, g in grids.items()},
            {a: np.asarray(g.get("pcc_cost") or [], dtype=float)[None] for a, g in grids.items()})
        for a in self.agents:
            cost_terms, safety_terms = accounts[a]
            cost, safety = sum(cost_terms.values()), sum(safety_terms.values())
            self.pending[a] += reward(float(relative[a][0]), safety, o["reward_scale"],
                                      o["safety_scale"], o["max_penalty"])
            converged = bool(observations[a].grid.get("converged", True))
            infos[a] = {"converged": converged, "cost": float(cost), "safety": float(safety),
                        "cost_terms": cost_terms, "safety_terms": safety_terms,
                        "time": time_s - self.config.step_s, "step": self.k,
                        "clipped_setpoints": self.clipped[a],
                        **dict(observations[a].own.get("info") or {})}
            if a in baseline:
                infos[a]["cost_baseline"] = baseline[a]
        done = self.bridge.done
        self.due = list(self.agents) if done else due
        rewards = {a: self.pending[a] for a in self.due}
        for a in self.due:
            self.pending[a] = 0.0
        return StepResult(self._vectors(observations, self.due), rewards,
                          {a: infos[a] for a in self.due}, done)

    def relative_costs_usd(self, steps: Any, baseline: dict[str, np.ndarray],
                           cost_terms: dict[str, dict[str, np.ndarray]],
                           external_usd: np.ndarray, pcc_p_mw: dict[str, np.ndarray],
                           pcc_cost: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """What each agent's reward is computed from over the scenario steps ``steps``
        just solved (``(N,)``, one per copy), ``{agent: (N,)}`` $, by the reward scope:
        ``"agent"`` its cost less its ``baseline``; ``"contribution"``
        :func:`contribution_usd` less it; ``"system"`` :func:`system_share_usd`.
        ``cost_terms`` each agent's ``{term: (N,)}``; ``external_usd`` ``(N,)`` the
        external PCCs' bills (the grid's ``cost``); ``pcc_p_mw`` / ``pcc_cost`` ``(N,
        P)`` as each agent sees them (read by the contribution scope only). The one rule
        of the PettingZoo env (one row) and the batched ones."""
        n = len(external_usd)
        if self.system_reward:
            bill = None if self.system_baseline is None else \
                self.system_baseline.bill_usd(self.data.values(steps))
            shared = system_share_usd(external_usd, [cost_terms[a] for a in self.agents],
                                      bill)
            return dict.fromkeys(self.agents, shared)
        if not self.contribution_reward:
            return {a: sum(cost_terms[a].values(), np.zeros(n)) - baseline[a]
                    for a in self.agents}
        price = self.data.values(steps)[self.config.price]  # $/MWh
        return {a: contribution_usd(self.views[a], self.internal_pcc, pcc_p_mw[a], pcc_cost[a],
                                    price, self.config.dt_h, cost_terms[a]) - baseline[a]
                for a in self.agents}

    def close(self) -> None:
        if self._bridge is not None:
            self._bridge.close()
