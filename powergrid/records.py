"""Typed records of what crosses federates and steps in a batched world.

Mosaik moves plain dicts between simulators (and JSON between processes), so the records
are ``TypedDict`` s: the same dicts at run time, checked by the type checker where they
are made and read. Every array has a leading copy axis ``N``; units are in the names.

| record                     | made by                                | read by          |
|----------------------------|----------------------------------------|------------------|
| :class:`GridBatchState`    | the grid federate (``BatchGridModel``) | learner, devices |
| :class:`DeviceBatchReport` | the devices federate (``DeviceBatch``) | learner          |
| :class:`Injections`        | the devices federate                   | grid             |
| :class:`LearnerOffer`      | the learner federate (what it received)| the environment  |
| :class:`LearnerDecision`   | the environment                        | learner          |

The one-entity-per-device world (``powergrid run``, the multi-agent env) passes the same
quantities per entity; :class:`powergrid.policies.Observation` is what an agent sees there.
"""

from __future__ import annotations

from typing import NotRequired, TypedDict

import numpy as np


class GridBatchState(TypedDict):
    """The grid of N copies after a step (``BatchGridModel.solve``, or
    ``initial_state`` before the first): the held solution of a copy whose power flow
    failed, 0 p.u. for a bus that is not energised."""

    converged: np.ndarray              # (N,) bool
    vm_pu: np.ndarray                  # (N, n_bus) p.u.
    va_degree: np.ndarray              # (N, n_bus) degrees
    line_loading_percent: np.ndarray   # (N, n_line) % of the rating
    trafo_loading_percent: np.ndarray  # (N, n_trafo) % of the rating
    pcc_p_mw: np.ndarray               # (N, n_pcc) MW drawn from the PCC's upstream side
    pcc_q_mvar: np.ndarray             # (N, n_pcc) Mvar
    pcc_cost: np.ndarray               # (N, n_pcc) $ billed at each PCC
    pcc_safety: np.ndarray             # (N, n_pcc) rating excess per unit
    energy_cost: np.ndarray            # (N,) $ at the external PCCs
    safety_terms: dict[str, np.ndarray]  # term -> (N,)
    fallback: np.ndarray               # (N,) bool: solved by the single-copy backend
    regulator_tap_pos: np.ndarray      # (N, n_regulator) settled taps (nan: none yet)
    #: three-phase physics only: every bus-phase's voltage, (N, n_phase) p.u.
    vm_phase_pu: NotRequired[np.ndarray]


class DeviceBatchReport(TypedDict):
    """The devices of N copies after a step, as the learner needs them."""

    features: np.ndarray               # (N, F) observation features, unscaled by the view
    cost: np.ndarray                   # (N,) $
    safety: np.ndarray                 # (N,)
    cost_terms: dict[str, np.ndarray]  # term -> (N,) $
    safety_terms: dict[str, np.ndarray]
    states: NotRequired[list[dict[str, np.ndarray]]]  # each fleet's state (render)
    #: with several agents: each agent's devices' terms, term -> (N, agents)
    group_cost_terms: NotRequired[dict[str, np.ndarray]]
    group_safety_terms: NotRequired[dict[str, np.ndarray]]


class Injections(TypedDict):
    """What the devices of N copies inject, in the grid model's column order."""

    p_mw: np.ndarray                   # (N, n_injecting) MW, > 0 into the grid
    q_mvar: np.ndarray                 # (N, n_injecting) Mvar
    position: np.ndarray               # (N, n_positional) taps, steps, switch states


class LearnerOffer(TypedDict, total=False):
    """What the learner federate received at a step: the feeds' values of the coming
    step and the grid's and devices' outputs of the last one."""

    values: np.ndarray                 # (N, S) series in the scenario's order
    grid: GridBatchState
    report: DeviceBatchReport


class LearnerDecision(TypedDict):
    """What the environment decides for a step: every copy's action and the copies that
    start a new episode with it."""

    c: np.ndarray                      # (N, dim_c) continuous setpoints, physical units
    d: np.ndarray                      # (N, dim_d) discrete categories
    resets: list[list[int]]            # [copy, device seed]: start over before this step
    feed_resets: list[list[int]]       # [copy, split step]: the feeds' next row
    values: NotRequired[np.ndarray]    # (N, S) this step's series (restarted copies' rows)
