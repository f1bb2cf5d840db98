"""The feeds federate: load, PV, wind and price series from a data set.

Each ``Feed`` entity serves every series of the data set as an attribute
named ``"<kind>:<name>"`` (``"load:H0-A"``, ``"price:DA"``), one value per
step, like mosaik-csv does for the columns of a CSV file -- which is why
mosaik-csv can stand in for it. Series are resampled once to the scenario's
step and kept as numpy arrays; a step is an array lookup.
"""

from __future__ import annotations

from typing import Any

import mosaik_api_v3
from mosaik_api_v3.types import CreateResult, InputData, Meta, OutputData, OutputRequest

from powergrid.data import Dataset, load_dataset, series_at_step

META: Meta = {
    "api_version": "3.0",
    "type": "time-based",
    "models": {
        # attrs are filled in by init() with the data set's series names
        "Feed": {"public": True, "params": ["split", "start_step"], "attrs": []},
    },
}


def series_columns(dataset: Dataset) -> list[str]:
    """The ``"<kind>:<name>"`` names of every series in ``dataset``."""
    return [f"{kind}:{name}" for kind in ("load", "solar", "wind", "price")
            for name in dataset.names(kind)]


class FeedsSim(mosaik_api_v3.Simulator):
    """Serves a data set's series.

    ``init(sid, time_resolution, step_size=3600, dataset=None)``: ``dataset``
    is a file path (None: the shipped default).

    ``Feed`` params: ``split`` (``"train"``/``"test"``) and ``start_step``
    (index of the first value, in scenario steps); reading past the end of the
    split wraps around to its start.
    """

    def __init__(self) -> None:
        super().__init__({**META, "models": {k: dict(v) for k, v in META["models"].items()}})
        self.entities: dict[str, tuple[str, int]] = {}
        self.path: str | None = None
        self.step_size = 3600
        self.step_h = 1.0
        self.index = 0

    def init(self, sid: str, time_resolution: float = 1.0, step_size: int = 3600,
             dataset: str | None = None, **sim_params: Any) -> Meta:
        self.step_size = int(step_size)
        self.step_h = self.step_size * time_resolution / 3600.0
        self.path = None if dataset is None else str(dataset)
        self.columns = series_columns(load_dataset(self.path))
        self.meta["models"]["Feed"]["attrs"] = list(self.columns)
        return self.meta

    def create(self, num: int, model: str, split: str = "train", start_step: int = 0
               ) -> list[CreateResult]:
        out: list[CreateResult] = []
        for _ in range(num):
            eid = f"Feed-{len(self.entities)}"
            self.entities[eid] = (split, int(start_step))
            out.append({"eid": eid, "type": model})
        return out

    def step(self, time: int, inputs: InputData, max_advance: int) -> int:
        self.index = time // self.step_size
        return time + self.step_size

    def get_data(self, outputs: OutputRequest) -> OutputData:
        data: OutputData = {}
        for eid, attrs in outputs.items():
            split, start = self.entities[eid]
            values = {}
            for attr in attrs:
                series = series_at_step(attr, split, self.step_h, self.path)
                values[attr] = float(series[(start + self.index) % len(series)])
            data[eid] = values
        return data


if __name__ == "__main__":
    mosaik_api_v3.start_simulation(FeedsSim(), "powergrid feeds federate")
