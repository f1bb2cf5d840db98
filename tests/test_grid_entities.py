"""Issue 17: the grid federate's entity per element (simulators.grid_entities).

An outside simulator (mosaik-csv here, a real ecosystem package) drives a grid element
by connecting to its entity, with no element named after the sender; the entities'
outputs are the grid's own results; mosaik-hdf5 records per-bus entities and reads them
back; the relations follow the topology.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import mosaik
import mosaik_api_v3
import numpy as np
import pandapower as pp
import pandas as pd
import pytest
from mosaik import AsyncWorld
from mosaik.exceptions import ScenarioError
from mosaik_api_v3.types import CreateResult, InputData, OutputData, OutputRequest

from powergrid.devices import device_to_config
from scenarios import get_config, scenario_net
from scenarios.federation import sim_config
from scenarios.prepare import prepare
from scenarios.run import run_scenario
from scenarios.world import build_world, load_feeds

STEP_S = 3600
#: what the outside "PV simulator" (a mosaik-csv file) sends, MW per hourly step
PV_P_MW = [0.0, 0.1, 0.25, 0.05]  # pv1 is rated 0.3 MVA


def _pv_csv(path: Path) -> Path:
    """A mosaik-csv data file: model ``PV``, one column ``P_MW``."""
    lines = ["PV", "Date,P_MW"]
    lines += [f"2020-01-01 {k:02d}:00:00,{p!r}" for k, p in enumerate(PV_P_MW)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _bus_of(net: Any, table: str, name: str) -> str:
    row = net[table].index[net[table]["name"] == name][0]
    return str(net.bus.at[net[table].at[row, "bus"], "name"])


class Collector(mosaik_api_v3.Simulator):
    """Keeps every value it receives, by source entity id and attribute (mosaik's
    tutorial collector: the test's eyes, not a part of the system under test)."""

    #: every instance mosaik made, the last one last
    instances: list[Collector] = []

    def __init__(self) -> None:
        super().__init__({"api_version": "3.0", "type": "time-based", "models": {
            "Monitor": {"public": True, "params": [], "attrs": [], "any_inputs": True}}})
        self.seen: dict[str, list[Any]] = {}
        Collector.instances.append(self)

    def create(self, num: int, model: str, **params: Any) -> list[CreateResult]:
        return [{"eid": "monitor", "type": model}]

    def step(self, time: int, inputs: InputData, max_advance: int) -> int:
        for attr, values in inputs["monitor"].items():
            for source, value in values.items():
                self.seen.setdefault(f"{source.split('.', 1)[1]}:{attr}", []).append(value)
        return time + STEP_S

    def get_data(self, outputs: OutputRequest) -> OutputData:
        return {}


def _run_grid_alone(tmp_path: Path, target: str | None, attr: str) -> dict[str, np.ndarray]:
    """The ieee13 net (loads at nominal, devices at their start) on the grid federate,
    the outside PV's P connected to the child entity ``target``'s ``attr``; every bus
    entity's ``vm_pu`` per step, and pv1's Sgen entity outputs, as a collector saw them."""
    sims: dict[str, Any] = {"grid": {"python": "simulators.grid:GridSim"},
            "pv": {"python": "mosaik_csv:CSV"},
            "collector": {"python": "test_grid_entities:Collector"}}
    world = mosaik.World(sims)
    try:
        grid = world.start("grid", step_size=STEP_S).Grid(net=scenario_net("ieee13"))
        children = {c.eid: c for c in grid.children}
        if target is not None:
            pv = world.start("pv", sim_start="2020-01-01 00:00:00",
                             datafile=str(_pv_csv(tmp_path / "pv.csv"))).PV()
            world.connect(pv, children[target], ("P_MW", attr))
        monitor = world.start("collector").Monitor()
        for bus in (c for c in grid.children if c.type == "Bus"):
            world.connect(bus, monitor, "vm_pu")
        world.connect(children["Grid-0.Sgen.pv1"], monitor, "p_mw")
        world.run(until=len(PV_P_MW) * STEP_S)
    finally:
        world.shutdown()
    return {k: np.array(v) for k, v in Collector.instances[-1].seen.items()}


def test_an_outside_pv_drives_the_sgen_entity_or_its_bus_alike(tmp_path: Path) -> None:
    """P sent to the Sgen entity PV1 and the same P sent to its bus as ``p_gen_mw`` give
    the same power flow; it is what pandapower gives with that P on PV1; the bus voltage
    rises with the injection. (Before, an outside simulator failed at its first step:
    no element of the net was named after its entity.)"""
    net = scenario_net("ieee13")
    bus = _bus_of(net, "sgen", "pv1")
    by_sgen = _run_grid_alone(tmp_path, "Grid-0.Sgen.pv1", "p_mw")
    by_bus = _run_grid_alone(tmp_path, f"Grid-0.Bus.{bus}", "p_gen_mw")
    alone = _run_grid_alone(tmp_path, None, "")
    np.testing.assert_array_equal(by_sgen["Grid-0.Sgen.pv1:p_mw"], PV_P_MW)
    for name in net.bus["name"]:
        key = f"Grid-0.Bus.{name}:vm_pu"
        np.testing.assert_allclose(by_bus[key], by_sgen[key], atol=1e-9, err_msg=key)
    vm = by_sgen[f"Grid-0.Bus.{bus}:vm_pu"]
    assert vm[2] > vm[1] > vm[0]  # 0.25 MW > 0.1 MW > none
    assert vm[0] == pytest.approx(alone[f"Grid-0.Bus.{bus}:vm_pu"][0], abs=1e-9)
    # pandapower's own power flow, pv1 at the step-2 injection
    row = net.sgen.index[net.sgen["name"] == "pv1"][0]
    net.sgen.at[row, "p_mw"] = PV_P_MW[2]
    pp.runpp(net, lightsim2grid=False, tolerance_mva=1e-10)
    for name, expected in zip(net.bus["name"], net.res_bus["vm_pu"], strict=True):
        assert by_sgen[f"Grid-0.Bus.{name}:vm_pu"][2] == pytest.approx(expected, abs=1e-6)


def test_the_entities_follow_the_topology() -> None:
    """Every element of the net is an entity of its model, related to its bus(es)."""
    net = scenario_net("ieee13")
    world = mosaik.World({"grid": {"python": "simulators.grid:GridSim"}})
    try:
        grid = world.start("grid", step_size=STEP_S).Grid(net=net)
        kinds: dict[str, int] = {}
        for child in grid.children:
            kinds[child.type] = kinds.get(child.type, 0) + 1
        assert kinds == {model: len(net[table]) for model, table in (
            ("Bus", "bus"), ("Line", "line"), ("Trafo", "trafo"), ("Load", "load"),
            ("Sgen", "sgen"), ("Storage", "storage"), ("Shunt", "shunt"),
            ("Switch", "switch"), ("ExtGrid", "ext_grid")) if len(net[table])}
        # no PCC was given to this Grid: no Pcc entity
        graph = world.entity_graph
        row = net.line.index[0]
        line = f"grid-0.Grid-0.Line.{net.line.at[row, 'name']}"
        ends = {f"grid-0.Grid-0.Bus.{net.bus.at[net.line.at[row, b], 'name']}"
                for b in ("from_bus", "to_bus")}
        assert ends <= set(graph.neighbors(line))
    finally:
        world.shutdown()


def test_a_misspelled_element_input_fails_at_connect_naming_it(tmp_path: Path) -> None:
    """The child models declare their inputs: ``P[MW]`` (mosaik-pandapower-2's name) to
    an Sgen fails at connect, naming the attribute."""
    world = mosaik.World({"grid": {"python": "simulators.grid:GridSim"},
                          "pv": {"python": "mosaik_csv:CSV"}})
    try:
        grid = world.start("grid", step_size=STEP_S).Grid(net=scenario_net("ieee13"))
        sgen = next(c for c in grid.children if c.eid == "Grid-0.Sgen.pv1")
        pv = world.start("pv", sim_start="2020-01-01 00:00:00",
                         datafile=str(_pv_csv(tmp_path / "pv.csv"))).PV()
        with pytest.raises(ScenarioError, match=r"Sgen\.pv1\.P\[MW\]"):
            world.connect(pv, sgen, ("P_MW", "P[MW]"))
    finally:
        world.shutdown()


def test_mosaik_hdf5_records_the_bus_entities(tmp_path: Path) -> None:
    """mosaik-hdf5 (the ecosystem's recorder) takes each Bus entity's scalar ``vm_pu``
    (it refused the grid's list outputs: no HDF5 type for a Python list); read back, the
    series are the voltages the project's recorder wrote, and the relations it stores are
    the lines' and trafos' ends."""
    h5py = pytest.importorskip("h5py", reason="h5py (extra 'ecosystem') is not installed")
    pytest.importorskip("mosaik_hdf5", reason="mosaik-hdf5 (extra 'ecosystem') is not"
                        " installed")
    config = get_config("ieee13", steps=6, policy="rule")
    prepared = prepare(config)
    db_path = tmp_path / "run.hdf5"

    async def main() -> None:
        sims = {**sim_config(config.placement), "hdf5": {"python": "mosaik_hdf5:MosaikHdf5"}}
        world = AsyncWorld(sims, cache=False)
        try:
            entities = await build_world(world, prepared, tmp_path)
            hdf5 = await world.start("hdf5", step_size=config.step_s,
                                     duration=config.steps * config.step_s)
            db = (await hdf5.Database.create(1, filename=str(db_path)))[0]
            for bus in (c for c in entities.grid.children if c.type == "Bus"):
                world.connect(bus, db, "vm_pu")
            await world.run(until=config.steps * config.step_s)
        finally:
            await world.shutdown()

    asyncio.run(main())
    recorded = pd.read_csv(tmp_path / "timeseries.csv", float_precision="round_trip")
    with h5py.File(db_path, "r") as f:
        series = f["Series"]
        names = [str(n) for n in prepared.net.bus["name"]]
        for name in names:
            got = series[f"grid-0.Grid-0.Bus.{name}"]["vm_pu"][:]
            np.testing.assert_array_equal(got, recorded[f"vm_pu:{name}"].to_numpy(), name)
        relations = f["Relations"]
        line = str(prepared.net.line["name"].iloc[0])
        related = {r[0].decode().rsplit("/", 1)[1]
                   for r in relations[f"grid-0.Grid-0.Line.{line}"][:]}
        assert any(r.startswith("grid-0.Grid-0.Bus.") for r in related)




def _first(net: Any, table: str, name: str) -> Any:
    """The bus (index) of the element ``name`` of ``table``."""
    return net[table].at[net[table].index[net[table]["name"] == name][0], "bus"]


def test_loads_in_mw_and_element_inputs_reproduce_the_scenarios_grid(tmp_path: Path) -> None:
    """ieee13 under the idle policy as ``powergrid run`` wires it, and in the same world a
    second grid of the project's driven only through its element entities: every
    ``Load`` from a ``LoadFeed`` entity of the feeds federate (its demand in MW), every
    ``Sgen`` and ``Storage`` from its device's P and Q, its regulator settled as in the
    scenario. The second grid's bus voltages are the scenario's, bit for bit."""
    steps = 24
    config = get_config("ieee13", steps=steps, policy="idle")
    prepared = prepare(config)
    net = scenario_net("ieee13")

    async def main() -> None:
        sims = {**sim_config(config.placement),
                "own": {"python": "simulators.grid:GridSim"},
                "loads": {"python": "simulators.feeds:FeedsSim"},
                "collector": {"python": "test_grid_entities:Collector"}}
        world = AsyncWorld(sims, cache=False)
        try:
            ents = await build_world(world, prepared, tmp_path)
            loads = await world.start("loads", step_size=config.step_s)
            monitor = (await (await world.start("collector")).Monitor.create(1))[0]
            own = (await (await world.start("own", step_size=config.step_s)).Grid.create(
                1, net=net, regulators=[device_to_config(r) for r in prepared.regulators])
            )[0]
            element = {c.eid: c for c in own.children}
            for name, params in load_feeds(prepared).items():
                feed = (await loads.LoadFeed.create(1, **params))[0]
                world.connect(feed, element[f"{own.eid}.Load.{name}"], "p_mw", "q_mvar")
            for table, model in (("sgen", "Sgen"), ("storage", "Storage")):
                for name in map(str, net[table]["name"]):
                    world.connect(ents.devices[name], element[f"{own.eid}.{model}.{name}"],
                                  "p_mw", "q_mvar")
            for child in own.children:
                if child.type == "Bus":
                    world.connect(child, monitor, "vm_pu")
            await world.run(until=steps * config.step_s)
        finally:
            await world.shutdown()

    asyncio.run(main())
    seen = Collector.instances[-1].seen
    recorded = pd.read_csv(tmp_path / "timeseries.csv", float_precision="round_trip")
    for name in map(str, net.bus["name"]):
        np.testing.assert_array_equal(seen[f"Grid-0.Bus.{name}:vm_pu"],
                                      recorded[f"vm_pu:{name}"], err_msg=name)


def test_the_pcc_and_trafo_entities_are_the_runs_bills_and_taps(tmp_path: Path) -> None:
    """On the microgrids as ``powergrid run`` wires them, each ``Pcc`` entity's
    ``p_mw`` and ``cost`` are the recorder's ``pcc_p_mw:<pcc>`` and ``pcc_cost:<pcc>``,
    each automatic regulator's ``Trafo`` entity's ``tap_pos`` the tap it settled on in
    the step (the recorder's ``tap_pos:<regulator>``); a Pcc entity is related to the
    element that measures it."""
    config = get_config("microgrids", steps=4)
    prepared = prepare(config)
    pccs = [p.name for p in prepared.pccs]

    async def main() -> None:
        sims = {**sim_config(config.placement),
                "collector": {"python": "test_grid_entities:Collector"}}
        world = AsyncWorld(sims, cache=False)
        try:
            ents = await build_world(world, prepared, tmp_path)
            monitor = (await (await world.start("collector")).Monitor.create(1))[0]
            child = {c.eid: c for c in ents.grid.children}
            for name in pccs:
                world.connect(child[f"Grid-0.Pcc.{name}"], monitor, "p_mw", "cost")
            for regulator in prepared.regulators:
                world.connect(child[f"Grid-0.Trafo.{regulator.name}"], monitor, "tap_pos")
            related = set(world.entity_graph.neighbors("grid-0.Grid-0.Pcc.MG1.pcc"))
            assert "grid-0.Grid-0.Trafo.MG1.sub" in related, related
            await world.run(until=config.steps * config.step_s)
        finally:
            await world.shutdown()

    asyncio.run(main())
    seen = Collector.instances[-1].seen
    recorded = pd.read_csv(tmp_path / "timeseries.csv", float_precision="round_trip")
    for name in pccs:
        np.testing.assert_array_equal(seen[f"Grid-0.Pcc.{name}:p_mw"],
                                      recorded[f"pcc_p_mw:{name}"], err_msg=name)
        np.testing.assert_array_equal(seen[f"Grid-0.Pcc.{name}:cost"],
                                      recorded[f"pcc_cost:{name}"], err_msg=name)
    for regulator in prepared.regulators:
        np.testing.assert_array_equal(seen[f"Grid-0.Trafo.{regulator.name}:tap_pos"],
                                      recorded[f"tap_pos:{regulator.name}"],
                                      err_msg=regulator.name)


def test_the_three_phase_grid_has_the_same_entities_and_one_per_phase() -> None:
    """On the OpenDSS physics each Bus entity's ``vm_pu`` is the grid's ``vm_pu`` list
    entry for that bus (its phase farthest from 1 p.u.); each ``BusPhase`` entity's the
    ``vm_phase_pu`` entry of its bus-phase, each ``RegulatorUnit``'s ``tap_pos`` the
    ``regulator_unit_tap_pos`` entry of its unit, related to their Bus and Trafo."""
    pytest.importorskip("opendssdirect", reason="the three-phase extra is not installed")
    sims: dict[str, Any] = {"grid": {"python": "simulators.grid:GridSim"},
                            "collector": {"python": "test_grid_entities:Collector"}}
    world = mosaik.World(sims)
    try:
        grid = world.start("grid", step_size=STEP_S).Grid(
            net=scenario_net("ieee13"), physics="three_phase", feeder="ieee13")
        monitor = world.start("collector").Monitor()
        world.connect(grid, monitor, "vm_pu", "vm_phase_pu", "regulator_unit_tap_pos")
        kinds: dict[str, list[Any]] = {}
        for child in grid.children:
            kinds.setdefault(child.type, []).append(child)
        for model, attr in (("Bus", "vm_pu"), ("BusPhase", "vm_pu"),
                            ("RegulatorUnit", "tap_pos")):
            for child in kinds[model]:
                world.connect(child, monitor, attr)
        related = set(world.entity_graph.neighbors("grid-0.Grid-0.BusPhase.675.a"))
        assert "grid-0.Grid-0.Bus.675" in related
        assert "grid-0.Grid-0.Trafo.reg1" in set(
            world.entity_graph.neighbors("grid-0.Grid-0.RegulatorUnit.reg1.a"))
        world.run(until=STEP_S)
        info = grid.extra_info
    finally:
        world.shutdown()
    seen = Collector.instances[-1].seen
    for names, listed, model, attr in (
            (info["bus_names"], "vm_pu", "Bus", "vm_pu"),
            (info["phase_names"], "vm_phase_pu", "BusPhase", "vm_pu"),
            (info["regulator_unit_names"], "regulator_unit_tap_pos", "RegulatorUnit",
             "tap_pos")):
        assert len(kinds[model]) == len(names) > 0
        for k, name in enumerate(names):
            assert seen[f"Grid-0.{model}.{name}:{attr}"] == [seen[f"Grid-0:{listed}"][0][k]]


def test_mosaik_pandapower_2_stands_in_for_the_grid(tmp_path: Path) -> None:
    """The grid swapped out, as docs/swap_a_federate.md tells: a world of the project's
    feeds and devices (no agent: every device at its idle setpoint) and OFFIS's
    mosaik-pandapower-2 as the grid, each load's MW from a ``LoadFeed`` and each device's
    P and Q sent to its element's bus; its voltages over a day are the idle run's
    (``powergrid run ieee13 --policy idle``) within 1e-6 p.u."""
    pytest.importorskip("mosaik_components.pandapower",
                        reason="mosaik-pandapower-2 (extra 'ecosystem') is not installed")
    steps = 24
    config = get_config("ieee13", steps=steps, policy="idle")
    run_scenario(config, tmp_path / "run", progress=False, plot=False)
    recorded = pd.read_csv(tmp_path / "run" / "timeseries.csv", float_precision="round_trip")
    prepared = prepare(config)
    net = scenario_net("ieee13")
    for table in ("load", "sgen", "storage"):  # they arrive by bus, in MW
        net[table][["p_mw", "q_mvar"]] = 0.0
    sims: dict[str, Any] = {"feeds": {"python": "simulators.feeds:FeedsSim"},
                            "devices": {"python": "simulators.devices:DevicesSim"},
                            "grid": {"python": "mosaik_components.pandapower:Simulator"},
                            "collector": {"python": "test_grid_entities:Collector"}}
    world = mosaik.World(sims)
    try:
        feeds = world.start("feeds", step_size=config.step_s)
        devices = world.start("devices", step_size=config.step_s, seed=config.seed)
        grid = world.start("grid", step_size=config.step_s).Grid(net=net)
        monitor = world.start("collector").Monitor()
        bus = {child.eid: child for child in grid.children if child.type == "Bus"}
        feed = feeds.Feed(split=config.split, start_step=config.start_step)
        for name, params in load_feeds(prepared).items():
            world.connect(feeds.LoadFeed(**params), bus[f"Bus-{_first(net, 'load', name)}"],
                          ("p_mw", "P_load[MW]"), ("q_mvar", "Q_load[MVar]"))
        for device in prepared.devices:
            config_ = device_to_config(device)
            entity = getattr(devices, config_.pop("type"))(config=config_)
            if device.name in config.profiles:
                world.connect(feed, entity, (config.profiles[device.name], "profile"))
            if device.ELEMENT in ("sgen", "storage"):
                kind = "gen" if device.ELEMENT == "sgen" else "load"  # storage charges > 0
                world.connect(entity, bus[f"Bus-{_first(net, device.ELEMENT, device.name)}"],
                              ("p_mw", f"P_{kind}[MW]"), ("q_mvar", f"Q_{kind}[MVar]"))
        for child in bus.values():
            world.connect(child, monitor, "Vm[pu]")
        world.run(until=steps * config.step_s)
    finally:
        world.shutdown()
    seen = Collector.instances[-1].seen
    assert len(recorded) == steps
    for index, name in zip(net.bus.index, net.bus["name"], strict=True):
        got = np.array(seen[f"Bus-{index}:Vm[pu]"])
        np.testing.assert_allclose(got, recorded[f"vm_pu:{name}"], atol=1e-6, rtol=0,
                                   err_msg=str(name))


def test_a_bus_injection_into_a_ready_grid_model_is_one_clear_line() -> None:
    """A Grid handed a ready GridModel (the environments' path) has no bus-injection
    sgens: a Bus input fails at the step with one line naming the entity."""
    from powergrid.gridmodel import GridModel
    from simulators.grid import GridSim

    sim = GridSim()
    sim.init("grid", step_size=STEP_S)
    (grid,) = sim.create(1, "Grid", grid_model=GridModel(scenario_net("ieee13")))
    with pytest.raises(ValueError, match=r"^Grid-0\.Bus\.675\.p_gen_mw: bus injections need"
                                         r" a balanced Grid made from 'net'"):
        sim.step(0, {"Grid-0.Bus.675": {"p_gen_mw": {"pv.PV_0": 0.1}}}, STEP_S)
    assert grid["eid"] == "Grid-0"
