"""The recorder federate: writes every step to ``timeseries.csv`` as it comes.

Inputs are accepted under any name and sorted by prefix as for the agents
(``"grid.<attr>"``, ``"device.<attr>"``, ``"<kind>:<name>"``); each step
becomes one row (:func:`powergrid.results.step_record`), appended as one complete
line in one unbuffered write (:class:`powergrid.results.CsvAppender`), so a run that
dies, even by SIGKILL, keeps every completed step and no half line.
"""

from __future__ import annotations

import sys
from typing import Any

import mosaik_api_v3
from mosaik_api_v3.types import CreateResult, InputData, Meta, OutputData, OutputRequest

from powergrid.results import CsvAppender, step_record
from simulators import run_federate
from simulators.agents import observation_from_inputs

META: Meta = {
    "api_version": "3.0",
    "type": "time-based",
    "models": {
        "Recorder": {
            "public": True,
            "params": ["path", "bus_names", "pcc_names", "price", "regulator_names",
                       "phase_names", "regulator_unit_names"],
            "attrs": [],
            "any_inputs": True,
        },
    },
}


class RecorderSim(mosaik_api_v3.Simulator):
    """Writes one CSV per ``Recorder`` entity.

    ``init(sid, time_resolution, step_size=3600)``.

    ``Recorder`` params: ``path`` (the CSV file), ``bus_names``, ``pcc_names`` and
    ``regulator_names`` (to name the grid's list outputs), ``price`` (the price
    series name), and of a three-phase grid ``phase_names`` and ``regulator_unit_names``
    (the grid entity's extra_info).
    """

    def __init__(self) -> None:
        super().__init__(META)
        self.writers: dict[str, tuple[CsvAppender, dict[str, Any]]] = {}
        self.step_size = 3600

    def init(self, sid: str, time_resolution: float = 1.0, step_size: int = 3600,
             **sim_params: Any) -> Meta:
        self.step_size = int(step_size)
        return self.meta

    # mosaik_api_v3 types create's model params as **model_params; a federate names its own
    def create(self, num: int, model: str, path: str = "timeseries.csv",  # type: ignore[override]
               bus_names: list[str] | None = None, pcc_names: list[str] | None = None,
               price: str | None = None,
               regulator_names: list[str] | None = None, phase_names: list[str] | None = None,
               regulator_unit_names: list[str] | None = None) -> list[CreateResult]:
        if num != 1:
            raise ValueError("create recorders one at a time (each writes its own file)")
        eid = f"Recorder-{len(self.writers)}"
        names = {"bus_names": bus_names or [], "pcc_names": pcc_names or [],
                 "price_series": price, "regulator_names": regulator_names or [],
                 "phase_names": phase_names or [],
                 "regulator_unit_names": regulator_unit_names or []}
        self.writers[eid] = (CsvAppender(path), names)
        return [{"eid": eid, "type": model}]

    def step(self, time: int, inputs: InputData, max_advance: int) -> int:
        for eid, (writer, names) in self.writers.items():
            obs = observation_from_inputs(time, inputs.get(eid, {}))
            writer.write(step_record(time, obs.grid, obs.devices, obs.exogenous,
                                     agents=obs.agents, **names))
        return time + self.step_size

    def get_data(self, outputs: OutputRequest) -> OutputData:
        return {}

    def finalize(self) -> None:
        for writer, _ in self.writers.values():
            writer.close()


if __name__ == "__main__":
    sys.exit(run_federate(RecorderSim(), "powergrid recorder federate", "recorder"))
