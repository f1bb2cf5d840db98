"""The feeds federate: load, PV, wind and price series from a data set.

Each ``Feed`` entity serves every series of the data set as an attribute
named ``"<kind>:<name>"`` (``"load:H0-A"``, ``"price:DA"``), one value per
step, like mosaik-csv does for the columns of a CSV file -- which is why
mosaik-csv can stand in for it. Series are resampled once to the scenario's
step and kept as numpy arrays; a step is an array lookup.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

import mosaik_api_v3
import numpy as np
from mosaik_api_v3.types import CreateResult, InputData, Meta, OutputData, OutputRequest

from powergrid.data import Dataset, load_dataset, series_at_step
from powergrid.gridmodel import scaled_load
from simulators import pop_path_options, run_federate

META: Meta = {
    "api_version": "3.0",
    "type": "time-based",
    "models": {
        # attrs are filled in by init() with the data set's series names
        "Feed": {"public": True, "params": ["split", "start_step"], "attrs": []},
        # one load's demand in MW/Mvar: its series (p.u. of its peak) times its peak
        # (params "p_mw", "q_mvar") times "load_scale", as the grid scales a profiled load
        "LoadFeed": {"public": True,
                     "params": ["series", "p_mw", "q_mvar", "load_scale", "split",
                                "start_step"],
                     "attrs": ["p_mw", "q_mvar"]},
        # N copies in one entity (batched environments, in-process): output "values" is an
        # (N, S) array of the series in "series" order; input "resets" [[copy, start], ...]
        "FeedBatch": {"public": True, "params": ["split", "series", "starts"],
                      "attrs": ["values", "resets"]},
    },
}


def series_columns(dataset: Dataset) -> list[str]:
    """The ``"<kind>:<name>"`` names of every series in ``dataset``."""
    return [f"{kind}:{name}" for kind in ("load", "solar", "wind", "price")
            for name in dataset.names(kind)]


class _Clock:
    """The episode clocks of N copies reading one table of series."""

    def __init__(self, table: np.ndarray, starts: np.ndarray) -> None:
        self.table, self.starts = table, starts.copy()
        self.k = np.zeros(len(starts), dtype=np.int64)

    def advance(self, tick: bool, resets: list[list[int]]) -> None:
        if tick:
            self.k += 1
        for copy, start in resets:  # a copy that starts over reads its new start now
            self.starts[copy], self.k[copy] = start, 0

    def values(self) -> np.ndarray:
        return self.table[(self.starts + self.k) % len(self.table)]


class FeedsSim(mosaik_api_v3.Simulator):
    """Serves a data set's series.

    ``init(sid, time_resolution, step_size=3600, dataset=None)``: ``dataset``
    is a file path (None: the shipped default).

    ``Feed`` params: ``split`` (``"train"``/``"test"``) and ``start_step``
    (index of the first value, in scenario steps); reading past the end of the
    split wraps around to its start.

    ``LoadFeed`` params: ``series`` (a load series name, ``"load:mv_urban"``), ``p_mw``
    and ``q_mvar`` (the load's peak, MW and Mvar), ``load_scale``, ``split``,
    ``start_step``; outputs ``p_mw`` and ``q_mvar``: the load's demand in the step
    (:func:`powergrid.gridmodel.scaled_load`), for a grid that takes loads in MW
    (:func:`scenarios.world.load_feeds` makes one per profiled load of a scenario).

    ``allowed_data``: the data-set paths this federate may open (None: any, as for a
    federate in the process that configures it). A federate started as its own process
    (``python -m simulators.feeds [--data PATH ...] ...``) opens only the data sets its
    command line names (and the shipped default): whoever reaches its port cannot make
    it read another file.
    """

    def __init__(self, allowed_data: Sequence[str] | None = None) -> None:
        super().__init__({**META, "models": {k: dict(v) for k, v in META["models"].items()}})
        self.allowed = (None if allowed_data is None
                        else {os.path.realpath(p) for p in allowed_data})
        self.series: dict[tuple[str, str], np.ndarray] = {}
        self.entities: dict[str, tuple[str, int]] = {}
        #: LoadFeed entities: (split, start step, series, peak P MW, peak Q Mvar, scale)
        self.load_feeds: dict[str, tuple[str, int, str, float, float, float]] = {}
        self.batches: dict[str, _Clock] = {}
        self.path: str | None = None
        self.step_size = 3600
        self.step_h = 1.0
        self.index = 0

    def init(self, sid: str, time_resolution: float = 1.0, step_size: int = 3600,
             dataset: str | None = None, **sim_params: Any) -> Meta:
        self.step_size = int(step_size)
        self.step_h = self.step_size * time_resolution / 3600.0
        self.path = None if dataset is None else str(dataset)
        if self.path is not None and self.allowed is not None \
                and os.path.realpath(self.path) not in self.allowed:
            raise ValueError(f"feeds federate: data set {self.path!r} is not named on its"
                             " command line (start it with --data PATH to serve it)")
        self.columns = series_columns(load_dataset(self.path))
        self.meta["models"]["Feed"]["attrs"] = list(self.columns)
        return self.meta

    # mosaik_api_v3 types create's model params as **model_params; a federate names its own
    def create(self, num: int, model: str, split: str = "train", start_step: int = 0,  # type: ignore[override]
               series: list[str] | str | None = None, starts: list[int] | None = None,
               p_mw: float = 0.0, q_mvar: float = 0.0, load_scale: float = 1.0
               ) -> list[CreateResult]:
        if model == "LoadFeed":
            if not isinstance(series, str) or not series.startswith("load:"):
                raise ValueError(f"LoadFeed: 'series' must name a load series"
                                 f" ('load:<name>'), not {series!r}")
            if series not in self.columns:
                raise ValueError(f"LoadFeed: no series {series!r} in the data set")
            created: list[CreateResult] = []
            for _ in range(num):
                eid = f"LoadFeed-{len(self.load_feeds)}"
                self.load_feeds[eid] = (split, int(start_step), series, float(p_mw),
                                        float(q_mvar), float(load_scale))
                created.append({"eid": eid, "type": model})
            return created
        if model == "FeedBatch":
            eid = f"FeedBatch-{len(self.batches)}"
            table = np.stack([series_at_step(c, split, self.step_h, self.path)
                              for c in list(series or [])], axis=1)
            self.batches[eid] = _Clock(table, np.asarray(starts, dtype=np.int64))
            return [{"eid": eid, "type": model}]
        out: list[CreateResult] = []
        for _ in range(num):
            eid = f"Feed-{len(self.entities)}"
            self.entities[eid] = (split, int(start_step))
            out.append({"eid": eid, "type": model})
        return out

    def step(self, time: int, inputs: InputData, max_advance: int) -> int:
        self.index = time // self.step_size
        for eid, clock in self.batches.items():
            resets = [r for v in inputs.get(eid, {}).get("resets", {}).values() for r in v or ()]
            clock.advance(time > 0, resets)
        return time + self.step_size

    def get_data(self, outputs: OutputRequest) -> OutputData:
        data: OutputData = {}
        for eid, attrs in outputs.items():
            if eid in self.batches:
                data[eid] = {"values": self.batches[eid].values()}
                continue
            if eid in self.load_feeds:
                split, start, name, peak_p, peak_q, scale = self.load_feeds[eid]
                value = self._value(split, start, name)
                data[eid] = {attr: scaled_load(peak_p if attr == "p_mw" else peak_q, value,
                                               scale) for attr in attrs}
                continue
            split, start = self.entities[eid]
            data[eid] = {attr: self._value(split, start, attr) for attr in attrs}
        return data

    def _value(self, split: str, start: int, name: str) -> float:
        """The series ``name``'s value in this step (resampled once per run: then a step is
        an array lookup)."""
        series = self.series.get((split, name))
        if series is None:
            series = series_at_step(name, split, self.step_h, self.path)
            self.series[(split, name)] = series
        return float(series[(start + self.index) % len(series)])


def pop_data_options(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """``argv`` without its ``--data PATH`` options, and the paths they name."""
    return pop_path_options(argv, "--data", "feeds")


if __name__ == "__main__":
    argv, data_paths = pop_data_options(sys.argv[1:])
    sys.exit(run_federate(FeedsSim(allowed_data=data_paths), "powergrid feeds federate",
                          "feeds", argv))
