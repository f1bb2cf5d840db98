"""The recorder federate: writes every step to ``timeseries.csv`` as it comes.

Inputs are accepted under any name and sorted by prefix as for the agents
(``"grid.<attr>"``, ``"device.<attr>"``, ``"<kind>:<name>"``); each step
becomes one row (:func:`powergrid.results.step_record`), appended as one complete
line in one unbuffered write (:class:`powergrid.results.CsvAppender`), so a run that
dies, even by SIGKILL, keeps every completed step and no half line.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

import mosaik_api_v3
from mosaik_api_v3.types import CreateResult, InputData, Meta, OutputData, OutputRequest

from powergrid.results import CsvAppender, step_record
from simulators import pop_path_options, run_federate
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

    ``allowed_out``: the folders this federate may write into (None: any, as for a
    federate in the process that configures it). A recorder started as its own process
    (``python -m simulators.recorder [--out FOLDER ...] ...``) writes only files directly
    in the folders its command line names: whoever reaches its port cannot make it
    create or overwrite another file.
    """

    def __init__(self, allowed_out: Sequence[str] | None = None) -> None:
        super().__init__(META)
        self.allowed = (None if allowed_out is None
                        else {os.path.realpath(p) for p in allowed_out})
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
        if self.allowed is not None \
                and os.path.dirname(os.path.realpath(path)) not in self.allowed:
            raise ValueError(f"recorder federate: {path!r} is not in a folder named on its"
                             " command line (start it with --out FOLDER to write there)")
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
    argv, out_folders = pop_path_options(sys.argv[1:], "--out", "recorder")
    sys.exit(run_federate(RecorderSim(allowed_out=out_folders), "powergrid recorder federate",
                          "recorder", argv))
