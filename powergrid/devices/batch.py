"""N copies of one scenario's devices, stepped as one set of fleets.

A :class:`DeviceBatch` stacks the devices of every copy into one
:class:`~powergrid.devices.base.Fleet` per type, copy-major (rows ``c * k .. c * k
+ k - 1`` are copy ``c``'s ``k`` devices of that type). Actions, exogenous inputs
and outputs are arrays with one row per copy. Every fleet operation is elementwise,
so a copy's trajectory does not depend on the other copies or on their number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import cast

import numpy as np

from powergrid.devices.base import ActionSpec, Device, Feature, Fleet, FleetOutput, State
from powergrid.devices.discrete import PositionFleet

#: a feature spec's plan: groups ``(fleet, state key, columns, device rows within a copy,
#: rows of every copy (N, k))``, then every column's offset and scale
_FeaturePlan = tuple[list[tuple[int, str, np.ndarray, np.ndarray, np.ndarray]], np.ndarray,
                     np.ndarray]


@dataclass(frozen=True)
class BatchOutput:
    """One batched step: arrays with one row per copy."""

    p_mw: np.ndarray            # (N, n_injecting) in injection order
    q_mvar: np.ndarray          # (N, n_injecting)
    position: np.ndarray        # (N, n_positional) in position order
    cost: np.ndarray            # (N,) $ over the step
    safety: np.ndarray          # (N,)
    cost_terms: dict[str, np.ndarray]    # term -> (N,)
    safety_terms: dict[str, np.ndarray]  # term -> (N,)
    #: with ``groups``: each group's terms, term -> (N, G) (empty without)
    group_cost_terms: dict[str, np.ndarray] = field(default_factory=dict)
    group_safety_terms: dict[str, np.ndarray] = field(default_factory=dict)


def grid_layout(devices: Sequence[Device]) -> tuple[list[str], list[str]]:
    """Names of the devices whose P/Q (sgen, storage) and whose positions (shunt, tap,
    switch) a batch sends to the grid, in column order."""
    injecting = [d.name for d in devices if not issubclass(d.fleet_class(), PositionFleet)
                 and d.ELEMENT in ("sgen", "storage")]
    positional = [d.name for d in devices if issubclass(d.fleet_class(), PositionFleet)]
    return injecting, positional


class DeviceBatch:
    """The devices of one copy (``devices``), times ``n_copies``.

    ``controlled``: the devices an agent acts on, in action order (their
    :class:`ActionSpec` concatenated is the batch's action layout); ``series``:
    the names of the series in the values rows the batch receives (RES profiles
    are taken from them by ``profiles`` ``{device: series}``); ``regulators``: the
    automatic tap changers, in the order of the grid's settled taps; ``groups``: lists of
    device names (each agent's, with several agents) whose cost and safety terms a step
    also sums per group (:attr:`BatchOutput.group_cost_terms`).
    """

    def __init__(self, devices: Sequence[Device], n_copies: int, controlled: Sequence[str],
                 series: Sequence[str], profiles: dict[str, str],
                 regulators: Sequence[str] = (),
                 groups: Sequence[Sequence[str]] = ()) -> None:
        self.n = int(n_copies)
        self.devices = list(devices)
        by_type: dict[type[Fleet], list[Device]] = {}
        for d in self.devices:
            by_type.setdefault(d.fleet_class(), []).append(d)
        self.templates = [cls(devs) for cls, devs in by_type.items()]
        self.fleets = [cls(devs * self.n) for cls, devs in by_type.items()]
        where = {d.name: (f, i) for f, t in enumerate(self.templates)
                 for i, d in enumerate(t.devices)}
        self.where = where
        by_name = {d.name: d for d in self.devices}
        self.spec = ActionSpec.concat([by_name[d].action_spec() for d in controlled])
        copies = np.arange(self.n)
        self._action_c = self._action_map(self.spec.names_c, where, "CONTROLS_C", copies)
        self._action_d = self._action_map(self.spec.names_d, where, "CONTROLS_D", copies)
        self._profiles = [(where[d][0], self._rows(where[d], copies), list(series).index(s))
                          for d, s in profiles.items()]
        self._regulated = [(where[t][0], self._rows(where[t], copies), k)
                           for k, t in enumerate(regulators)]
        self.injecting, self.positional = grid_layout(self.devices)
        self._inj = self._gather_plan(self.injecting, copies)
        self._pos = self._gather_plan(self.positional, copies)
        self.states: list[State] = [f.initial_state() for f in self.fleets]
        #: per fleet, ``(devices of a copy, groups)``: 1 where the device is in the group
        self._membership = [np.array([[float(d.name in g) for g in groups]
                                      for d in t.devices]).reshape(t.n, len(groups))
                            for t in self.templates] if groups else []
        self._feature_plans: dict[int, _FeaturePlan] = {}
        self._feature_specs: list[Sequence[tuple[str, Feature]]] = []
        self._last_out: BatchOutput | None = None
        #: copies reset since their last step: the grid's settled taps of the step before
        #: belong to their previous episode, so their regulators hold their initial taps
        self._restarted: set[int] = set()

    def _rows(self, place: tuple[int, int], copies: np.ndarray) -> np.ndarray:
        """Rows of device ``place = (fleet, index in a copy)`` in every copy ``(N,)``."""
        f, i = place
        return self._rows_of(f, np.intp(i), copies)

    def _rows_of(self, f: int, within: np.ndarray | np.integer, copies: np.ndarray) -> np.ndarray:
        """Rows of fleet ``f``'s devices ``within`` a copy (indices ``(k,)``; a scalar
        for one) in each of ``copies``: ``(N, k)`` (``(N,)``), copy-major."""
        return (copies[:, None] if np.ndim(within) else copies) * self.templates[f].n + within

    def _gather_plan(self, names: Sequence[str], copies: np.ndarray
                     ) -> list[tuple[int, np.ndarray, np.ndarray]]:
        """Per fleet, the columns of ``names`` it holds and their rows ``(N, k)``: one
        gather per fleet builds the ``(N, len(names))`` array of a step."""
        grouped: dict[int, list[tuple[int, int]]] = {}
        for column, name in enumerate(names):
            f, i = self.where[name]
            grouped.setdefault(f, []).append((column, i))
        return [(f, np.array([c for c, _ in members], dtype=np.intp),
                 self._rows_of(f, np.array([i for _, i in members], dtype=np.intp), copies))
                for f, members in grouped.items()]

    def _gather(self, plan: list[tuple[int, np.ndarray, np.ndarray]],
                arrays: dict[int, np.ndarray]) -> np.ndarray:
        """``(N, columns)`` of ``plan`` from each of its fleets' array in ``arrays``."""
        out = np.empty((self.n, sum(len(columns) for _, columns, _ in plan)))
        for f, columns, rows in plan:
            out[:, columns] = arrays[f][rows]
        return out

    def _action_map(self, names: tuple[str, ...], where: dict[str, tuple[int, int]],
                    layout: str, copies: np.ndarray
                    ) -> list[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
        """Per fleet, where the actions ``names`` go: ``(fleet, rows (N, k), control
        columns (1, k), action columns (k,))``, one write per fleet in a step."""
        grouped: dict[int, list[tuple[int, int, int]]] = {}
        for j, full in enumerate(names):
            device, control = full.rsplit(".", 1)
            f, i = where[device]
            column = getattr(self.templates[f], layout).index(control)
            grouped.setdefault(f, []).append((i, column, j))
        return [(f, self._rows_of(f, np.array([i for i, _, _ in members], dtype=np.intp),
                                  copies),
                 np.array([[c for _, c, _ in members]], dtype=np.intp),
                 np.array([j for _, _, j in members], dtype=np.intp))
                for f, members in grouped.items()]

    # -- episodes ------------------------------------------------------------------
    def reset(self, copies: Sequence[int], rngs: Sequence[np.random.Generator | None]) -> None:
        """Put ``copies`` back to their initial state, each drawn from its own ``rng``."""
        for f, template in enumerate(self.templates):
            for c, rng in zip(copies, rngs, strict=True):
                init = template.initial_state(rng)
                rows = slice(c * template.n, (c + 1) * template.n)
                for key, value in init.items():
                    self.states[f][key][rows] = value
        self._restarted.update(int(c) for c in copies)

    # -- one step ------------------------------------------------------------------
    def defaults(self) -> tuple[list[tuple[np.ndarray, np.ndarray]], list[dict[str, np.ndarray]]]:
        """Every fleet's controls when nobody acts (each device's own behaviour) and its
        exogenous inputs at their defaults: what a step's caller fills in."""
        controls = [f.default_controls(s) for f, s in zip(self.fleets, self.states, strict=True)]
        return controls, [fleet.exogenous_inputs() for fleet in self.fleets]

    def advance(self, controls: Sequence[tuple[np.ndarray, np.ndarray]],
                exog: Sequence[dict[str, np.ndarray]], dt_h: float) -> list[FleetOutput]:
        """Step every fleet by ``dt_h`` hours at ``controls`` and ``exog`` (as from
        :meth:`defaults`); the states advance, the fleets' outputs are returned."""
        outs = []
        for f, fleet in enumerate(self.fleets):
            self.states[f], out = fleet.step(self.states[f], controls[f][0], controls[f][1],
                                             exog[f], dt_h)
            outs.append(out)
        return outs

    def step(self, action_c: np.ndarray, action_d: np.ndarray, values: np.ndarray,
             settled_tap_pos: np.ndarray | None, dt_h: float) -> BatchOutput:
        """Advance every copy one step of ``dt_h`` hours.

        ``action_c`` ``(N, dim_c)`` / ``action_d`` ``(N, dim_d)`` over :attr:`spec`;
        ``values`` ``(N, S)`` the series of the step; ``settled_tap_pos`` ``(N, R)``
        the taps the grid settled the regulators on in the last step (nan or None:
        none yet, they hold).
        """
        controls, exog = self.defaults()
        for f, rows, columns, js in self._action_c:
            controls[f][0][rows, columns] = action_c[:, js]
        for f, rows, columns, js in self._action_d:
            controls[f][1][rows, columns] = action_d[:, js]
        for f, rows, k in self._profiles:
            exog[f]["profile"][rows] = values[:, k]
        if settled_tap_pos is not None and self._restarted:
            settled_tap_pos = np.asarray(settled_tap_pos, dtype=float).copy()
            settled_tap_pos[sorted(self._restarted)] = np.nan
        self._restarted.clear()
        for f, rows, k in self._regulated:
            exog[f]["settled_tap_pos"][rows] = (np.nan if settled_tap_pos is None
                                                else settled_tap_pos[:, k])
        outs = self.advance(controls, exog, dt_h)
        cost_terms: dict[str, np.ndarray] = {}
        safety_terms: dict[str, np.ndarray] = {}
        for template, out in zip(self.templates, outs, strict=True):
            for terms, total in ((out.cost_terms, cost_terms), (out.safety_terms, safety_terms)):
                for term, value in terms.items():
                    per_copy = (value.reshape(self.n) if template.n == 1
                                else value.reshape(self.n, template.n).sum(axis=1))
                    total[term] = total[term] + per_copy if term in total else per_copy
        group_cost: dict[str, np.ndarray] = {}
        group_safety: dict[str, np.ndarray] = {}
        for member, out in zip(self._membership, outs if self._membership else [], strict=True):
            for terms, total in ((out.cost_terms, group_cost), (out.safety_terms, group_safety)):
                for term, value in terms.items():
                    per_group = value.reshape(self.n, len(member)) @ member
                    total[term] = total[term] + per_group if term in total else per_group
        p = self._gather(self._inj, {f: outs[f].p_mw for f, _, _ in self._inj})
        q = self._gather(self._inj, {f: outs[f].q_mvar for f, _, _ in self._inj})
        pos = self._gather(self._pos, {
            f: self.states[f][cast(PositionFleet, self.fleets[f]).POSITION]
            for f, _, _ in self._pos})
        zero = np.zeros(self.n)
        cost = sum(cost_terms.values(), zero.copy())
        safety = sum(safety_terms.values(), zero.copy())
        self._last_out = BatchOutput(p, q, pos, cost, safety, cost_terms, safety_terms,
                                     group_cost, group_safety)
        return self._last_out

    def device_states(self, copy: int, states: Sequence[State] | None = None
                      ) -> dict[str, dict[str, float]]:
        """Copy ``copy``'s state of every device, ``{name: {key: value}}``, from
        ``states`` (a batch of this layout's :attr:`states`; default this one's)."""
        states = self.states if states is None else states
        out: dict[str, dict[str, float]] = {}
        for name, (f, i) in self.where.items():
            row = copy * self.templates[f].n + i
            out[name] = {key: float(np.asarray(value)[row])
                         for key, value in states[f].items()}
        return out

    def features(self, spec: Sequence[tuple[str, Feature]],
                 copies: np.ndarray | None = None) -> np.ndarray:
        """``(N, F)`` observation features (unclipped) of ``spec`` = ``(device, Feature)``
        (only the rows of ``copies`` when given)."""
        plan = self._feature_plans.get(id(spec))
        if plan is None:
            plan = self._feature_plan(spec)
            self._feature_plans[id(spec)] = plan
            self._feature_specs.append(spec)  # keep it alive: its id is the key
        groups, offset, scale = plan
        every = copies is None
        copies = np.arange(self.n) if copies is None else np.asarray(copies, dtype=np.intp)
        out = np.empty((len(copies), len(offset)))
        for f, key, columns, within, rows in groups:
            state = self.states[f].get(key)
            if state is None:  # a state the fleet does not keep reads as the offset: 0
                out[:, columns] = offset[columns]
                continue
            if not every:
                rows = self._rows_of(f, within, copies)
            out[:, columns] = np.asarray(state, dtype=float)[rows]
        return (out - offset) / scale

    def _feature_plan(self, spec: Sequence[tuple[str, Feature]]) -> _FeaturePlan:
        """``spec``'s columns grouped by (fleet, state key): one gather per group, with the
        rows of every copy ``(N, k)``; the offsets and scales of all columns."""
        grouped: dict[tuple[int, str], list[tuple[int, int]]] = {}
        for column, (name, feature) in enumerate(spec):
            f, i = self.where[name]
            grouped.setdefault((f, feature.key), []).append((column, i))
        groups = []
        copies = np.arange(self.n)
        for (f, key), members in grouped.items():
            columns = np.array([c for c, _ in members], dtype=np.intp)
            within = np.array([i for _, i in members], dtype=np.intp)
            groups.append((f, key, columns, within, self._rows_of(f, within, copies)))
        offset = np.array([feature.offset for _, feature in spec], dtype=float)
        scale = np.array([feature.scale for _, feature in spec], dtype=float)
        return groups, offset, scale
