"""Turn a :class:`ScenarioConfig` into a mosaik world: federates, entities, connections.

Data flow of one step at time t (step length ``step_s``)::

    feeds --series(t)--> agents --setpoints(t)--> devices --P/Q, position(t)--> grid
      |                    ^                         |                            |
      +--series(t)---------|---- profile(t) ---------+                            |
      +--loads, price(t)---|------------------------------------------------------+
                           +-- grid outputs(t-1), device outputs(t-1) (time-shifted)
    grid, devices, feeds --(t)--> recorder

The time-shifted edges close the control loop: the action an agent sends at t
is applied and judged at t; the agent sees its effect at t + 1.
"""


from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandapower as pp

from powergrid.devices import Device, DeviceSet, device_to_config
from powergrid.devices.discrete import PositionFleet
from powergrid.records import DeviceBatchReport
from scenarios.federation import absolute_path
from scenarios.feeds_csv import FEEDS_CSV_START
from scenarios.prepare import PreparedScenario
from scenarios.zones import agent_zone_facts, visible_to


@dataclass
class WorldEntities:
    """The entities of a built world, by role."""

    feed: Any
    grid: Any
    devices: dict[str, Any]
    agents: dict[str, Any]
    recorder: Any | None


async def build_world(world: Any, prepared: PreparedScenario, out_dir: Path | None = None,
                      policies: dict[str, Any] | None = None,
                      bridge: Any = None, grid_model: Any = None) -> WorldEntities:
    """Start the federates in ``world`` (a mosaik AsyncWorld) and connect them.

    ``policies`` overrides agents' policies by agent name (callables or policy
    objects; in-process agents only). With ``out_dir`` a recorder writes
    ``out_dir/timeseries.csv``. With ``bridge`` the agents federate is a
    :class:`~simulators.agents.LearnerAgentsSim` (``sim_config(learner=True)``)
    that hands observations to ``bridge`` and takes its actions. A ready
    ``grid_model`` (:class:`~powergrid.gridmodel.GridModel` of this scenario) is reset
    and reused by an in-process grid federate instead of building a new one.
    """
    cfg = prepared.config
    step = cfg.step_s
    remote = {k for k, v in cfg.placement.items() if v != "python"}
    if cfg.feeds_csv is None:
        feeds = await world.start("feeds", step_size=step,
                                  dataset=absolute_path(cfg.dataset))
        feed = (await feeds.Feed.create(1, split=cfg.split, start_step=cfg.start_step))[0]
    else:
        feeds = await world.start("feeds", sim_start=FEEDS_CSV_START, datafile=cfg.feeds_csv)
        feed = (await feeds.Data.create(1))[0]
    agents_sim = await world.start(
        "agents", step_size=step, protocol=cfg.protocol,
        protocol_params={"profiles": dict(cfg.profiles), "load_scale": cfg.load_scale,
                         **cfg.protocol_params},
        broker=cfg.message_broker, broker_password=cfg.broker_password,
        **({"bridge": bridge} if bridge is not None else {}))
    devices_sim = await world.start("devices", step_size=step, seed=cfg.seed)
    grid_sim = await world.start("grid", step_size=step, series=list(prepared.series))

    if "grid" in remote:
        from simulators.grid import net_float_columns

        # pandapower's JSON keeps 15 digits: the exact floats travel next to it, so the
        # grid out of process solves bit-identically to the grid in process
        net_arg: dict[str, Any] = {"net_json": pp.to_json(prepared.net),
                                   "net_floats": net_float_columns(prepared.net)}
    elif grid_model is not None:  # an environment's: no element entities (they cost a
        # few ms at every episode's world and the environment reads the bundled state)
        net_arg = {"grid_model": grid_model, "elements": False}
    else:
        net_arg = {"net": prepared.net}
    grid = (await grid_sim.Grid.create(
        1, solver=cfg.solver, load_profiles=prepared.load_profiles, load_scale=cfg.load_scale,
        pccs=[device_to_config(p) for p in prepared.pccs], price=cfg.price,
        regulators=[device_to_config(r) for r in prepared.regulators], **net_arg,
        **({} if cfg.physics == "balanced" else {"physics": cfg.physics,
                                                 "feeder": cfg.network})))[0]
    device_entities: dict[str, Any] = {}
    for device in prepared.devices:
        config = device_to_config(device)
        kind = config.pop("type")
        device_entities[device.name] = (await getattr(devices_sim, kind).create(
            1, config=config))[0]
    by_name = {d.name: d for d in prepared.devices}
    agent_entities: dict[str, Any] = {}
    # three-phase physics: the bus-phases of the grid's vm_phase_pu (the rule's phase units)
    phases = {k: v for k, v in _phase_names(grid).items() if k == "phase_names"}
    for agent in cfg.agents:
        policy = (policies or {}).get(agent.name, cfg.policy or agent.policy)
        agent_entities[agent.name] = (await agents_sim.Agent.create(
            1, name=agent.name, devices=[device_to_config(by_name[d]) for d in agent.devices],
            policy=policy, seed=cfg.seed, price=cfg.price, steps_per_day=cfg.steps_per_day,
            period_steps=agent.period_steps, coordinator=agent.coordinator,
            **agent_zone_facts(prepared, agent), **phases))[0]

    load_series = sorted(set(prepared.load_profiles.values()))
    world.connect(feed, grid, *load_series, *([cfg.price] if cfg.price else []))
    for name, series in cfg.profiles.items():
        world.connect(feed, device_entities[name], (series, "profile"))
    for device in prepared.devices:
        attrs = (("position",) if issubclass(device.fleet_class(), PositionFleet)
                 else ("p_mw", "q_mvar"))
        world.connect(device_entities[device.name], grid, *attrs)

    # the grid settles the automatic tap changers within its power flow; each adopts its
    # settled tap at its next step (where it books the wear)
    for k, regulator in enumerate(prepared.regulators):
        world.connect(grid, device_entities[regulator.name],
                      ("regulator_tap_pos", "settled_tap_pos"), time_shifted=step,
                      initial_data={"regulator_tap_pos": float("nan")}, transform=_Pick(k))

    initial_grid = initial_grid_outputs(prepared,
                                        len(_phase_names(grid).get("phase_names", [])))
    initial_devices = initial_device_outputs(prepared.devices, cfg.seed)
    for agent in cfg.agents:
        ent = agent_entities[agent.name]
        world.connect(feed, ent, *prepared.series)
        for name in agent.devices:
            world.connect(ent, device_entities[name], "setpoints")
        # the grid's and each device's outputs travel as one bundle each ("state",
        # "report"): one connection instead of a dozen, which mosaik pays for every step
        seen = visible_to(prepared, agent)
        mask = seen.get("grid")
        world.connect(grid, ent, ("state", "grid.state"), time_shifted=step,
                      initial_data={"state": initial_grid if mask is None
                                    else mask(initial_grid)},
                      **({} if mask is None else {"transform": mask}))
        for name, dev_ent in device_entities.items():
            if seen.get("devices") is None or name in seen["devices"]:
                world.connect(dev_ent, ent, ("report", "device.report"), time_shifted=step,
                              initial_data={"report": initial_devices[name]})

    for agent in cfg.agents:
        world.connect(agent_entities[agent.name], grid, "tariffs")
    if cfg.protocol != "none":  # message routes between every two agents, with their delays
        for sender in cfg.agents:
            for receiver in cfg.agents:
                if sender.name != receiver.name:
                    delay = cfg.route_delays.get(f"{sender.name}->{receiver.name}",
                                                 cfg.message_delay_steps)
                    world.connect(agent_entities[sender.name], agent_entities[receiver.name],
                                  ("outbox", "inbox"), time_shifted=int(delay) * step,
                                  initial_data={"outbox": []})

    recorder = None
    if out_dir is not None:
        rec_sim = await world.start("recorder", step_size=step)
        recorder = (await rec_sim.Recorder.create(
            # absolute: a recorder out of process has a working folder of its own
            1, path=str(Path(out_dir).absolute() / "timeseries.csv"),
            bus_names=prepared.bus_names,
            pcc_names=[p.name for p in prepared.pccs], price=cfg.price,
            regulator_names=[r.name for r in prepared.regulators],
            **_phase_names(grid)))[0]
        world.connect(feed, recorder, *prepared.series)
        world.connect(grid, recorder, ("state", "grid.state"))
        for dev_ent in device_entities.values():
            world.connect(dev_ent, recorder, ("report", "device.report"))
        for ent in agent_entities.values():
            world.connect(ent, recorder, ("settlement", "agent.settlement"))
    return WorldEntities(feed, grid, device_entities, agent_entities, recorder)


async def build_batch_world(world: Any, prepared: PreparedScenario, n_copies: int, bridge: Any,
                            grid_model: Any, starts: list[int], seeds: list[int],
                            features: list[tuple[str, Any]],
                            groups: list[list[str]] | None = None) -> None:
    """A world of ``n_copies`` copies of a scenario, one batch entity per federate
    (in-process; see :class:`simulators.agents.BatchLearnerSim`): one learner entity acts
    for every agent of every copy (the agents' devices in the scenario's agent order).

    ``grid_model`` is the scenario's :class:`~powergrid.gridmodel.BatchGridModel`;
    ``starts``/``seeds`` each copy's first step in the split and device seed;
    ``features`` the ``(device, Feature)`` the learner observes; ``groups`` the device
    names each agent answers for, whose terms the devices report per agent.
    """
    from powergrid.devices.batch import DeviceBatch

    cfg = prepared.config
    step = cfg.step_s
    controlled = [d for a in cfg.agents for d in a.devices]
    feeds = await world.start("feeds", step_size=step, dataset=absolute_path(cfg.dataset))
    learner_sim = await world.start("agents", step_size=step, bridge=bridge)
    devices_sim = await world.start("devices", step_size=step)
    grid_sim = await world.start("grid", step_size=step)
    series = list(prepared.series)
    feed = (await feeds.FeedBatch.create(1, split=cfg.split, series=series, starts=starts))[0]
    learner = (await learner_sim.AgentBatch.create(1))[0]
    regulated = [r.name for r in prepared.regulators]
    spec = [[name, f.key, f.scale, f.offset] for name, f in features]
    devices = (await devices_sim.DeviceBatch.create(
        1, devices=[device_to_config(d) for d in prepared.devices], controlled=controlled,
        n_copies=n_copies, series=series, profiles=dict(cfg.profiles), regulated=regulated,
        features=spec, seeds=seeds, groups=groups))[0]
    grid = (await grid_sim.GridBatch.create(1, grid_model=grid_model, series=series,
                                            price=cfg.price, load_scale=cfg.load_scale))[0]
    world.connect(feed, learner, "values")
    world.connect(learner, devices, "actions", "resets", ("step_values", "values"))
    world.connect(learner, grid, "resets", ("step_values", "values"))
    world.connect(learner, feed, ("feed_resets", "resets"), time_shifted=step,
                  initial_data={"feed_resets": []})
    world.connect(devices, grid, "injections")
    initial = DeviceBatch(prepared.devices, n_copies, controlled, series,
                          dict(cfg.profiles), regulated)
    initial.reset(list(range(n_copies)), [np.random.default_rng(s) for s in seeds])
    zero = np.zeros(n_copies)
    report = DeviceBatchReport(features=initial.features(features), cost=zero,
                               safety=zero.copy(), cost_terms={}, safety_terms={})
    world.connect(devices, learner, "report", time_shifted=step, initial_data={"report": report})
    fresh = grid_model.initial_state(n_copies)
    world.connect(grid, learner, ("state", "grid"), time_shifted=step,
                  initial_data={"state": fresh})
    if regulated:
        world.connect(grid, devices, ("state", "grid"), time_shifted=step,
                      initial_data={"state": {"regulator_tap_pos": fresh["regulator_tap_pos"]}})




def _phase_names(grid: Any) -> dict[str, list[str]]:
    """The names of a three-phase grid's per-phase lists (its extra_info), for the
    recorder; none for a balanced grid (or an outside grid federate without them)."""
    info = getattr(grid, "extra_info", None) or {}
    return {key: list(info[key]) for key in ("phase_names", "regulator_unit_names")
            if info.get(key)}


class _Pick:
    """A connection transform that picks one item out of the grid's list (one
    regulator's settled tap)."""

    def __init__(self, position: int) -> None:
        self.position = position

    def __call__(self, values: Any) -> Any:
        return values[self.position] if isinstance(values, list) else values


def load_feeds(prepared: PreparedScenario) -> dict[str, dict[str, Any]]:
    """``{load name: LoadFeed params}`` for every profiled load of the scenario: a feeds
    federate's ``LoadFeed`` entity made with them publishes that load's demand in MW and
    Mvar, the values the grid's own profile wiring sets (its peak from the net, with
    pandapower's ``scaling``; the scenario's ``load_scale``, split and start step)."""
    from powergrid.solvers.base import effective_column

    cfg, load = prepared.config, prepared.net.load
    peak_p, peak_q = effective_column(load, "p_mw"), effective_column(load, "q_mvar")
    row = {str(name): k for k, name in enumerate(load["name"])}
    return {name: {"series": series, "p_mw": float(peak_p[row[name]]),
                   "q_mvar": float(peak_q[row[name]]), "load_scale": cfg.load_scale,
                   "split": cfg.split, "start_step": cfg.start_step}
            for name, series in prepared.load_profiles.items()}


def initial_grid_outputs(prepared: PreparedScenario, n_phase: int = 0) -> dict[str, Any]:
    """The grid's ``state`` before its first step (every bus at 1 p.u., nothing flowing;
    with three-phase physics its ``n_phase`` bus-phases too): the initial data of the
    time-shifted grid -> agent connections."""
    net = prepared.net
    n_pcc = len(prepared.pccs)
    return {"converged": True, "vm_pu": [1.0] * len(net.bus), "va_degree": [0.0] * len(net.bus),
            "line_loading_percent": [0.0] * len(net.line),
            "trafo_loading_percent": [0.0] * len(net.trafo), "pcc_p_mw": [0.0] * n_pcc,
            "pcc_q_mvar": [0.0] * n_pcc, "pcc_cost": [0.0] * n_pcc,
            "pcc_safety": [0.0] * n_pcc, "cost": 0.0, "safety": 0.0,
            "cost_terms": {}, "safety_terms": {},
            **({"vm_phase_pu": [1.0] * n_phase} if n_phase else {})}


def initial_device_outputs(devices: list[Device], seed: int) -> dict[str, dict[str, Any]]:
    """Each device's ``report`` before its first step (the devices federate draws the
    same initial states from the same seed): the initial data of the time-shifted
    device -> agent connections."""
    initial = DeviceSet(devices)
    initial.reset(np.random.default_rng(seed))
    return {d.name: {"state": initial.state_of(d.name), "cost": 0.0, "safety": 0.0,
                     "cost_terms": {}, "safety_terms": {}} for d in devices}
