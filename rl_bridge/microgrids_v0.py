"""Three networked microgrids as a PettingZoo environment (the module convention).

    from rl_bridge import microgrids_v0
    penv = microgrids_v0.parallel_env(centralized=True, max_episode_steps=96)
    aec = microgrids_v0.env()
    venv = microgrids_v0.vector_env(num_envs=64)   # 64 copies in one world, batched

The IEEE 34-bus feeder of a distribution operator with three IEEE 13-bus microgrids
``MG1``, ``MG2``, ``MG3`` (each behind its own PCC and substation transformer). Each
microgrid agent runs its battery and its generator, one decision per hour, through the
mosaik co-simulation.

## Action space

Per agent ``Box(4,)`` in physical units (float32):

| index | control         | unit | range                                   |
|-------|-----------------|------|-----------------------------------------|
| 0     | ``ess1.p_mw``   | MW   | battery power, > 0 charges (+-rating)   |
| 1     | ``ess1.q_mvar`` | Mvar | battery reactive power                  |
| 2     | ``dg1.p_mw``    | MW   | generator output (p_min..p_max)         |
| 3     | ``dg1.q_mvar``  | Mvar | generator reactive power                |

Names: ``env.scenario.specs[agent].names_c``. Values outside the Box are clipped by the
devices (``info["clipped_setpoints"]``); nan/inf or a wrong shape raise ``ValueError``.
``rl_bridge.wrappers.NormalizeParallelActions`` gives ``[-1, 1]`` actions.

## Observation space

Per agent ``Box`` float32 with finite bounds; names ``env.scenario.views[agent].names``,
each saying its unit:

| name                              | holds                                                 |
|-----------------------------------|-------------------------------------------------------|
| ``MG1.ess1.soc``                  | state of charge, fraction of capacity (0-1)           |
| ``MG1.ess1.p_pu``, ``.q_pu``      | battery power per unit of its rating                  |
| ``MG1.dg1.p_pu``, ``.q_pu``       | generator power per unit of its maximum               |
| ``MG1.pv1.p_avail_pu``, ``.p_pu`` | PV/wind available and delivered power, pu of rating   |
| ``MG1.reg1.tap_pos_frac``         | tap position as a fraction of its range (0 first, 1   |
|                                   | last); ``cap 675.step_frac`` likewise                 |
| ``vm_pu:MG1.675``                 | bus voltage (p.u.; 0 = de-energised), by bus name     |
| ``line_loading_pu:<line>``        | line loading, 1 = 100 % of rated current              |
| ``trafo_loading_pu:<trafo>``      | transformer loading, 1 = 100 %                        |
| ``pcc_p_pu:MG1.pcc``              | PCC import per unit of the total nominal load         |
| ``load_pu:<profile>``             | load profile of the coming step, pu of peak           |
| ``solar_pu:PV1``, ``wind_pu:WP1`` | PV / wind of the coming step, pu of capacity          |
| ``price_usd_per_100mwh:synthetic``| energy price of the coming step in $/100 MWh          |
| ``message.<key>``                 | the coordination protocol's latest message (if any)   |
| ``hour_sin`` ... ``day_cos``      | sine/cosine of hour of day and day of year            |

``centralized=True`` (default): every agent sees the whole grid;
``centralized=False``: its own zone only (the same size for every microgrid).
``price_forecast_steps=N`` appends the prices of the N hours after the coming one
(``price_usd_per_100mwh:synthetic+1`` ...); ``agent_indicator=True`` appends the
agent's one-hot (``MG1`` first), so that one shared policy can tell the agents apart.

## Rewards

``-reward_scale * cost - min(safety_scale * safety, max_penalty)`` per agent over its
own zone: its devices' costs ($) and its PCC's energy bill, the voltage violations of
its buses (outside 0.95-1.05 p.u.), its lines' and transformers' overloads, and the
grid-wide terms (failed power flow, unsupplied load). ``share_reward=True``: every
agent gets the mean. ``reward_baseline="exogenous_bill"``: each agent's reward is
computed from its cost less the bill its zone's PCC would pay with no device acting
(its zone's loads less its PV and wind's available power, at the step's price;
:mod:`powergrid.exogenous_bill`), ``info["cost_baseline"]``; ``cost`` stays absolute.
``reward_scope="system"``: every agent's reward from a third of the system's cost (the
feeder's bill and every device's); ``"contribution"``: from its own devices' costs and its
zone's exchange at the price both ways (an export offsets the feeder's import at the full
price; its bill credits ``sell_discount`` of it): what its zone moves in the system's
cost, feeder losses aside, without the other agents' actions in it.

## Episode end

No termination; every agent is truncated after ``episode_length`` steps (alias
``max_episode_steps``, default 24 = one day of 1 h steps). Training episodes start
on random days of the train split; ``train=False`` walks the test days in order.

## info (per agent)

| key                   | type  | meaning                                                  |
|-----------------------|-------|----------------------------------------------------------|
| ``converged``         | bool  | the step's AC power flow converged                       |
| ``cost``              | float | $ of the step charged to the agent (sum of cost_terms)   |
| ``safety``            | float | sum of ``safety_terms`` (0 = no violation)               |
| ``cost_terms``        | dict  | $ by term: device terms (``fuel``, ``degradation``...),  |
|                       |       | ``energy`` (PCC bill), ``resale``, ``p2p``               |
| ``safety_terms``      | dict  | ``voltage``, ``line_loading``, ``trafo_loading``,        |
|                       |       | ``nonconvergence``, ``unsupplied_load``, device terms    |
| ``clipped_setpoints`` | int   | continuous values of the action outside its Box          |
| ``time``              | int   | simulation time of the step the info reports on, s from  |
|                       |       | the start of the split                                   |
| ``step``              | int   | steps taken in the episode (1 after the first ``step``)  |
| ``start_step``        | int   | at ``reset`` only (with ``time``): the episode's first   |
|                       |       | step in the split                                        |
| ``dropped_messages``  | int   | messages for the agent the broker dropped so far         |
| protocol keys         | float | ``retail_price`` (price_signal), ``p2p_energy_mwh``,     |
|                       |       | ``p2p_price`` (p2p), ... of the step                     |

## Arguments

As :class:`rl_bridge.parallel.MultiAgentGridEnv`: ``centralized``, ``share_reward``,
``agent_indicator``, ``price_forecast_steps``, ``reward_baseline`` (not with a
coordinator), ``protocol`` (``none``, ``price_signal``, ``setpoint``, ``p2p``, ``consensus``),
``message_broker``, ``render_mode`` (``None``, ``"rgb_array"``, ``"human"``) and the
options every environment takes (``episode_length``, ``train``, ``dataset_path``,
``solver``, ``physics``, ``reward_scale``, ``safety_scale``, ``max_penalty``,
``load_scale``; ``physics="three_phase"`` solves the composed OpenDSS circuit,
:mod:`powergrid.networks.three_phase.microgrids`, every bus-phase observed).

## Rendering

``render()`` in ``"rgb_array"`` mode: the single-line diagram of the whole network,
buses coloured by their voltage, device states and the date.
"""

from __future__ import annotations

from typing import Any

from pettingzoo.utils.conversions import parallel_to_aec

from rl_bridge.multi_vector import MultiAgentVectorEnv
from rl_bridge.parallel import MultiAgentGridEnv


class parallel_env(MultiAgentGridEnv):  # noqa: N801 - PettingZoo's module convention
    __doc__ = ("The parallel (all agents act at once) environment.\n\n" + (__doc__ or ""))

    metadata = {**MultiAgentGridEnv.metadata, "name": "microgrids_v0"}

    def __init__(self, config: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(config, scenario="microgrids", **kwargs)


def vector_env(num_envs: int = 1, config: dict[str, Any] | None = None,
               **kwargs: Any) -> MultiAgentVectorEnv:
    """``num_envs`` copies in one world, every agent's observations, actions and rewards
    as arrays with a leading copy axis (:class:`rl_bridge.multi_vector.
    MultiAgentVectorEnv`; the options of :class:`parallel_env` without a protocol)."""
    return MultiAgentVectorEnv(num_envs, scenario="microgrids", config=config, **kwargs)


def raw_env(config: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    return parallel_to_aec(parallel_env(config, **kwargs))


def env(config: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    # parallel_to_aec already enforces the call order (PettingZoo's OrderEnforcingWrapper)
    return raw_env(config, **kwargs)


raw_env.__doc__ = ("The AEC (agents act in turn) environment: ``parallel_to_aec`` of"
                   " :class:`parallel_env`, as PettingZoo's own parallel-first modules"
                   " define it.\n\n" + (__doc__ or ""))
env.__doc__ = ("The AEC environment, as :func:`raw_env` (PettingZoo's ``env``)."
               "\n\n" + (__doc__ or ""))
