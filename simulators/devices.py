"""The devices federate: any number of device models, one entity each.

Start it in-process (``{"python": "simulators.devices:DevicesSim"}``), as a
subprocess (``{"cmd": "%(python)s -m simulators.devices %(addr)s"}``) or as a
server (``python -m simulators.devices --remote 127.0.0.1:5679``).
"""

from __future__ import annotations

import sys
from typing import Any

import mosaik_api_v3
import numpy as np
from mosaik_api_v3.types import CreateResult, InputData, Meta, OutputData, OutputRequest

from powergrid.devices import DEVICE_TYPES, Device, DeviceReport, DeviceSet, device_from_config
from powergrid.devices.base import Feature
from powergrid.devices.batch import DeviceBatch
from powergrid.records import DeviceBatchReport, Injections
from simulators import run_federate

_DEVICE_ATTRS = [
    # inputs
    "setpoints",   # {device name: {control: value}} from agents (several sources merge)
    "profile",     # RES only: available power per unit of rating
    "settled_tap_pos",  # automatic Transformer only: the tap the grid settled on last step
    # outputs
    "p_mw", "q_mvar", "position", "cost", "safety", "cost_terms", "safety_terms", "state",
    "report",      # state, cost, safety and their terms in one dict (one connection)
]

META: Meta = {
    "api_version": "3.0",
    "type": "time-based",
    "models": {
        **{kind: {"public": True, "params": ["config"], "attrs": _DEVICE_ATTRS}
           for kind in ("ESS", "Generator", "RES", "Shunt", "Transformer", "Switch")},
        # N copies of a scenario's devices in one entity (batched environments,
        # in-process): inputs "actions" {"c": (N, dc), "d": (N, dd)}, "resets"
        # [[copy, seed], ...] (those copies start over before this step), "values"
        # (N, S) series, "grid" (the grid batch's state, last step); outputs
        # "injections" {"p_mw", "q_mvar": (N, I), "position": (N, P)} and "report"
        # {"features": (N, F), "cost", "safety": (N,), term dicts, "states": the fleets'
        # state arrays (DeviceBatch.device_states reads one copy's); with "groups" (lists
        # of device names, one per agent) each group's terms as (N, G) arrays too}
        "DeviceBatch": {"public": True,
                        "params": ["devices", "controlled", "n_copies", "series", "profiles",
                                   "regulated", "features", "seeds", "groups"],
                        "attrs": ["actions", "resets", "values", "grid", "injections",
                                  "report"]},
    },
}

_POSITION_KEY = {"Shunt": "step", "Transformer": "tap_pos", "Switch": "closed"}


class _BatchEntity:
    """A :class:`~powergrid.devices.batch.DeviceBatch` behind one mosaik entity."""

    def __init__(self, devices: list[dict[str, Any]], controlled: list[str], n_copies: int,
                 series: list[str], profiles: dict[str, str], regulated: list[str],
                 features: list[list[Any]], seeds: list[int],
                 groups: list[list[str]] | None = None) -> None:
        self.batch = DeviceBatch([device_from_config(c) for c in devices], n_copies,
                                 controlled, series, profiles, regulated, groups or ())
        self.batch.reset(list(range(n_copies)), [np.random.default_rng(s) for s in seeds])
        self.features = [(name, Feature(f"{name}.{key}", key, scale, offset))
                         for name, key, scale, offset in features]  # one list: a cached plan
        self.outputs: dict[str, Any] = {}

    def step(self, data: dict[str, dict[str, Any]], dt_h: float) -> None:
        b = self.batch
        resets = [r for v in data.get("resets", {}).values() for r in v or ()]
        if resets:  # copies that start over: a fresh state, then their first step
            b.reset([int(copy) for copy, _ in resets],
                    [np.random.default_rng(seed) for _, seed in resets])
        actions = _one(data.get("actions")) or {}
        c = actions.get("c", np.zeros((b.n, b.spec.dim_c)))
        d = actions.get("d", np.zeros((b.n, b.spec.dim_d), dtype=np.int64))
        grid = _one(data.get("grid")) or {}
        out = b.step(c, d, _one(data.get("values")), grid.get("regulator_tap_pos"), dt_h)
        report = DeviceBatchReport(
            features=b.features(self.features), cost=out.cost, safety=out.safety,
            cost_terms=out.cost_terms, safety_terms=out.safety_terms,
            # the fleets' state arrays (references: each step makes new ones)
            states=b.states)
        if out.group_cost_terms or out.group_safety_terms:
            report["group_cost_terms"] = out.group_cost_terms
            report["group_safety_terms"] = out.group_safety_terms
        self.outputs = {
            "injections": Injections(p_mw=out.p_mw, q_mvar=out.q_mvar, position=out.position),
            "report": report}


def _one(sources: dict[str, Any] | None) -> Any:
    """The value of a single-source input (or None)."""
    return next(iter(sources.values())) if sources else None


class DevicesSim(mosaik_api_v3.Simulator):
    """Hosts devices of :mod:`powergrid.devices`, one entity per device.

    ``init(sid, time_resolution, step_size=3600, seed=None)``.

    ``create(1, "<type>", config={...})`` with the device's parameters (as in
    :func:`powergrid.devices.device_from_config`). The entity id is the
    device's name, which is also the name of its element in the net, so the
    grid can tell whose injection it receives.
    """

    def __init__(self) -> None:
        super().__init__(META)
        self.devices: dict[str, Device] = {}
        self.kind: dict[str, str] = {}
        self.set: DeviceSet | None = None
        self.reports: dict[str, DeviceReport] = {}
        self.batches: dict[str, _BatchEntity] = {}
        self.step_size = 3600
        self.dt_h = 1.0
        self.seed: int | None = None

    def init(self, sid: str, time_resolution: float = 1.0, step_size: int = 3600,
             seed: int | None = None, **sim_params: Any) -> Meta:
        self.step_size = int(step_size)
        self.dt_h = self.step_size * time_resolution / 3600.0
        self.seed = seed
        return self.meta

    def create(self, num: int, model: str, config: dict[str, Any] | None = None,
               **batch: Any) -> list[CreateResult]:
        if model == "DeviceBatch":
            eid = f"DeviceBatch-{len(self.batches)}"
            self.batches[eid] = _BatchEntity(**batch)
            return [{"eid": eid, "type": model}]
        if num != 1:
            raise ValueError("create devices one at a time (each has its own config)")
        device = device_from_config({**(config or {}), "type": model})
        if DEVICE_TYPES[model] is not type(device):
            raise ValueError(f"device {device.name!r} is not a {model}")
        eid = device.name
        if eid in self.devices:
            raise ValueError(f"device {eid!r} already exists")
        self.devices[eid] = device
        self.kind[eid] = model
        return [{"eid": eid, "type": model}]

    def setup_done(self) -> None:
        self.set = DeviceSet(list(self.devices.values()))
        self.set.reset(np.random.default_rng(self.seed))

    def step(self, time: int, inputs: InputData, max_advance: int) -> int:
        for eid, batch in self.batches.items():
            batch.step(inputs.get(eid, {}), self.dt_h)
        if not self.devices:
            return time + self.step_size
        setpoints: dict[str, dict[str, float]] = {}
        exogenous: dict[str, dict[str, float]] = {}
        for eid, data in inputs.items():
            name = eid
            for source in data.get("setpoints", {}).values():
                if source and name in source:
                    setpoints.setdefault(name, {}).update(source[name])
            for key in ("profile", "settled_tap_pos"):
                if key in data:
                    value = next(iter(data[key].values()))
                    exogenous.setdefault(name, {})[key] = float(
                        "nan" if value is None else value)
        assert self.set is not None     # built in setup_done
        self.reports = self.set.step(setpoints, exogenous, self.dt_h)
        return time + self.step_size

    def get_data(self, outputs: OutputRequest) -> OutputData:
        data: OutputData = {}
        for eid, attrs in outputs.items():
            if eid in self.batches:
                data[eid] = {attr: self.batches[eid].outputs[attr] for attr in attrs}
                continue
            report = self.reports[eid]
            data[eid] = {attr: self._value(eid, report, attr) for attr in attrs}
        return data

    def _value(self, eid: str, report: DeviceReport, attr: str) -> Any:
        if attr == "position":
            return report.state[_POSITION_KEY[self.kind[eid]]]
        if attr == "report":
            return {"state": report.state, "cost": report.cost, "safety": report.safety,
                    "cost_terms": report.cost_terms, "safety_terms": report.safety_terms}
        return getattr(report, attr)


if __name__ == "__main__":
    sys.exit(run_federate(DevicesSim(), "powergrid devices federate", "devices"))
